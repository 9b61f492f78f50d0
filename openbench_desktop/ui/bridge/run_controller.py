"""Starts, tracks and cancels runs for the GUI; the one place that owns run threads.

Each run gets a :class:`RunWorker` moved to its own ``QThread``. The engine already batches
sample events (``event_interval_s``); the controller re-emits them on the GUI thread as
typed signals keyed by a job id (the run id is only known once the run row exists).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from openbench_desktop.core.domain import (
    EngineEvent,
    Progress,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunSpec,
    RunStarted,
    SamplesFinished,
)
from openbench_desktop.core.engine.cancel import CancelToken
from openbench_desktop.core.engine.runner import RunDeps, execute_run
from openbench_desktop.ui.bridge.run_worker import ExecuteRun, RunWorker

# A few GUI updates per second per run: enough to feel live, far from flooding the loop.
GUI_EVENT_INTERVAL_S = 0.25


@dataclass
class Job:
    job_id: int
    spec: RunSpec
    cancel: CancelToken
    thread: QThread
    worker: RunWorker
    run_id: str | None = None
    ended: bool = False
    samples_seen: int = field(default=0)


class RunController(QObject):
    job_started = Signal(int, object)  # job id, RunStarted
    job_progress = Signal(int, object)  # job id, Progress
    job_samples = Signal(int, object)  # job id, tuple[SampleResult, ...]
    job_ended = Signal(int, object)  # job id, RunFinished | RunFailed | RunCancelled
    # job id, message: the run never started (bad spec, dataset or key), or crashed outside
    # the engine's own error handling (then after job_started, and without job_ended)
    job_rejected = Signal(int, str)
    jobs_changed = Signal()

    def __init__(
        self,
        deps: RunDeps,
        parent: QObject | None = None,
        *,
        execute: ExecuteRun | None = None,
        event_interval_s: float = GUI_EVENT_INTERVAL_S,
    ) -> None:
        """``execute`` replaces the engine's ``execute_run`` (benchmarks, tests)."""
        super().__init__(parent)
        self._deps = RunDeps(
            store=deps.store,
            writer=deps.writer,
            paths=deps.paths,
            secrets=deps.secrets,
            provider_factory=deps.provider_factory,
            event_interval_s=event_interval_s,
        )
        self._execute: ExecuteRun = execute or execute_run
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    def start(self, spec: RunSpec, *, execute: ExecuteRun | None = None) -> int:
        """Run ``spec`` in a new thread; the job id. ``execute`` replaces the engine call."""
        job_id = next(self._ids)
        cancel = CancelToken()
        thread = QThread(self)
        thread.setObjectName(f"run-{job_id}")
        worker = RunWorker(job_id, spec, self._deps, cancel, execute=execute or self._execute)
        worker.moveToThread(thread)
        job = Job(job_id, spec, cancel, thread, worker)
        self._jobs[job_id] = job
        thread.started.connect(worker.run)
        # Slots of this GUI-thread object: Qt queues the calls onto the GUI thread.
        worker.event.connect(self._on_event)
        worker.failed_to_start.connect(self._on_rejected)
        worker.done.connect(self._on_worker_done)
        # End the thread's event loop from the worker thread itself, as soon as the run
        # returns. Were quit() only called from the GUI thread (in _on_worker_done),
        # wait_all() on a blocked GUI thread (closing the window) would wait forever: the
        # queued "done" can't be delivered while the GUI thread waits.
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        # The worker lives in that thread: delete it there as the thread ends (a
        # deleteLater() posted to an already-finished thread is never processed).
        thread.finished.connect(worker.deleteLater)
        thread.start()
        self.jobs_changed.emit()
        return job_id

    def continue_run(self, run_id: str, *, only_failed: bool) -> int:
        """Resume a stored run, or retry its failed samples, as a new job (same run id)."""
        from openbench_desktop.core.engine.runner import continue_run

        spec = self._deps.store.get_run(run_id).spec  # one indexed row: cheap enough here

        def execute(_spec: RunSpec, deps: RunDeps, **kw: object) -> object:
            return continue_run(run_id, deps, only_failed=only_failed, **kw)  # type: ignore[arg-type]

        return self.start(spec, execute=execute)

    def job(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def active_jobs(self) -> list[Job]:
        return [j for j in self._jobs.values() if not j.ended]

    def cancel(self, job_id: int, reason: str = "Cancelled by the user.") -> None:
        job = self._jobs.get(job_id)
        if job and not job.ended:
            job.cancel.cancel(reason)

    def cancel_all(self, reason: str = "Cancelled: the app was closed.") -> None:
        for job in self.active_jobs():
            job.cancel.cancel(reason)

    def wait_all(self, timeout_ms: int = 30_000) -> bool:
        """Block until every run thread has ended (used when the window closes)."""
        ok = True
        for job in list(self._jobs.values()):
            if job.thread.isRunning():
                ok = job.thread.wait(timeout_ms) and ok
        return ok

    @Slot(int, object)
    def _on_event(self, job_id: int, event: EngineEvent) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if isinstance(event, RunStarted):
            job.run_id = event.run_id
            self.job_started.emit(job_id, event)
        elif isinstance(event, SamplesFinished):
            job.samples_seen += len(event.results)
            self.job_samples.emit(job_id, event.results)
        elif isinstance(event, Progress):
            self.job_progress.emit(job_id, event)
        elif isinstance(event, RunFinished | RunFailed | RunCancelled):
            job.ended = True
            self.job_ended.emit(job_id, event)
            self.jobs_changed.emit()

    @Slot(int, str)
    def _on_rejected(self, job_id: int, message: str) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.ended = True
        self.job_rejected.emit(job_id, message)
        self.jobs_changed.emit()

    @Slot(int)
    def _on_worker_done(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.ended = True
            job.thread.wait()  # already quitting (see start()): returns at once
            self.jobs_changed.emit()
