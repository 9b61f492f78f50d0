"""A worker object that runs one benchmark in its own QThread.

It calls the core's blocking ``execute_run`` and turns engine events into a signal. Only
plain frozen data crosses the thread boundary; the worker never touches a widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from openbench_desktop.core.domain import EngineEvent, RunSpec
from openbench_desktop.core.engine.cancel import CancelToken
from openbench_desktop.core.engine.runner import RunDeps, execute_run
from openbench_desktop.core.errors import OpenBenchError

log = logging.getLogger(__name__)

# ``execute_run``'s shape; tests and benchmarks may pass another engine with the same one.
ExecuteRun = Callable[..., object]


class RunWorker(QObject):
    event = Signal(int, object)  # job id, an EngineEvent
    failed_to_start = Signal(int, str)  # the spec, dataset or key was unusable; nothing stored
    done = Signal(int)

    def __init__(
        self,
        job_id: int,
        spec: RunSpec,
        deps: RunDeps,
        cancel: CancelToken,
        execute: ExecuteRun = execute_run,
    ) -> None:
        super().__init__()
        self._job_id = job_id
        self._spec = spec
        self._deps = deps
        self._cancel = cancel
        self._execute = execute

    def _on_event(self, event: EngineEvent) -> None:
        self.event.emit(self._job_id, event)

    @Slot()
    def run(self) -> None:
        try:
            self._execute(self._spec, self._deps, on_event=self._on_event, cancel=self._cancel)
        except OpenBenchError as exc:
            self.failed_to_start.emit(self._job_id, str(exc))
        except Exception as exc:  # a bug must not kill the thread silently
            log.exception("run job %d crashed", self._job_id)
            self.failed_to_start.emit(self._job_id, f"Internal error: {type(exc).__name__}: {exc}")
        finally:
            self.done.emit(self._job_id)
