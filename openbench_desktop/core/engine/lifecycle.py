"""How every kind of run starts and ends: the run row, the outcome, the final write.

Chat, speed and speech runs differ in how they send requests and summarise, not in how
they begin (:func:`open_run`: manifest, run row, ``RunStarted``) or end: whatever happens
inside the body (a result, Ctrl+C, a known error, a bug), the run's final status is
written by ``finalize`` and announced once through ``emit``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from openbench_desktop.core.domain import (
    EngineEvent,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunSpec,
    RunStarted,
    RunStatus,
    RunSummary,
)
from openbench_desktop.core.errors import OpenBenchError

if TYPE_CHECKING:
    from openbench_desktop.core.engine.runner import RunDeps

__all__ = ["Outcome", "open_run", "run_to_end"]

log = logging.getLogger(__name__)

Outcome = tuple[RunStatus, str | None]


def open_run(
    spec: RunSpec,
    deps: RunDeps,
    emit: Callable[[EngineEvent], None],
    *,
    n_total: int,
    dataset_sha256: str | None,
    dataset_description: str,
    n_dataset_samples: int,
) -> str:
    """Write the run row (status running, with its manifest) and announce it; the run id."""
    from openbench_desktop.core.engine.manifest import build_manifest

    manifest = build_manifest(
        spec,
        dataset_sha256=dataset_sha256,
        dataset_description=dataset_description,
        n_dataset_samples=n_dataset_samples,
    )
    run_id: str = deps.writer.call(
        deps.store.create_run, spec, n_total=n_total, manifest=manifest
    ).result()
    emit(RunStarted(run_id, spec, n_total))
    return run_id


def run_to_end(
    run_id: str,
    body: Callable[[], Outcome],
    finalize: Callable[[RunStatus, str | None], RunSummary],
    emit: Callable[[EngineEvent], None],
    *,
    label: str = "run",
) -> RunSummary:
    """Run ``body``; always ``finalize`` with its outcome; log and emit the end event."""
    status: RunStatus = RunStatus.FAILED
    message: str | None = None
    try:
        status, message = body()
    except KeyboardInterrupt:
        status, message = RunStatus.CANCELLED, "Interrupted (Ctrl+C)."
    except OpenBenchError as exc:
        status, message = RunStatus.FAILED, str(exc)
    except Exception as exc:  # a bug: keep the run consistent, report, re-raise nothing
        log.exception("%s %s crashed", label, run_id)
        status, message = RunStatus.FAILED, f"Internal error: {type(exc).__name__}: {exc}"
    finally:
        summary = finalize(status, message)
    log.info(
        "%s ended: %s (%d ok, %d failed)%s",
        label,
        summary.status,
        summary.n_ok,
        summary.n_failed,
        f": {summary.message}" if summary.message else "",
        extra={"run_id": run_id},
    )
    if summary.status is RunStatus.COMPLETED:
        emit(RunFinished(run_id, summary))
    elif summary.status is RunStatus.CANCELLED:
        emit(RunCancelled(run_id, summary))
    else:
        emit(RunFailed(run_id, summary.message or "The run failed.", summary))
    return summary
