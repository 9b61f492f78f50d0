"""How every kind of run ends: one place for the outcome, the final write and the event.

Chat, speed and speech runs differ in how they send requests and summarise, not in how
they end: whatever happens inside the body (a result, Ctrl+C, a known error, a bug), the
run's final status is written by ``finalize`` and announced once through ``emit``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from openbench_desktop.core.domain import (
    EngineEvent,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStatus,
    RunSummary,
)
from openbench_desktop.core.errors import OpenBenchError

__all__ = ["Outcome", "run_to_end"]

log = logging.getLogger(__name__)

Outcome = tuple[RunStatus, str | None]


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
