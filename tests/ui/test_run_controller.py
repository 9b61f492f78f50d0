"""RunController + RunWorker against a real loopback server: batching, cancel, close, parallel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from openbench_desktop.core.domain import (
    DatasetRef,
    GenerationParams,
    Progress,
    RunCancelled,
    RunFinished,
    RunSpec,
    RunStarted,
    RunStatus,
)
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from openbench_desktop.ui.bridge.run_controller import GUI_EVENT_INTERVAL_S
from openbench_desktop.ui.context import AppContext
from tests.support.loopback import MakeLoopbackServer


def gsm8k_spec(base_url: str, dataset: Path, **kw: Any) -> RunSpec:
    args: dict[str, Any] = {
        "provider": "openai",
        "base_url": base_url,
        "model": "simulated-gsm8k",
        "benchmark": "gsm8k",
        "dataset": DatasetRef(path=str(dataset)),
        "params": GenerationParams(max_tokens=256),
        "limit": 50,
        "concurrency": 8,
    }
    args.update(kw)
    return RunSpec(**args)


class Recorder:
    """Every controller signal, in arrival order, per job (all on the GUI thread)."""

    def __init__(self, ctx: AppContext) -> None:
        self.started: dict[int, RunStarted] = {}
        self.samples: dict[int, list[int]] = {}  # job -> sizes of the batches
        self.indices: dict[int, list[int]] = {}
        self.progress: dict[int, list[Progress]] = {}
        self.ended: dict[int, object] = {}
        self.rejected: dict[int, str] = {}
        c = ctx.controller
        c.job_started.connect(lambda j, e: self.started.__setitem__(j, e))
        c.job_samples.connect(self._on_samples)
        c.job_progress.connect(lambda j, e: self.progress.setdefault(j, []).append(e))
        c.job_ended.connect(lambda j, e: self.ended.__setitem__(j, e))
        c.job_rejected.connect(lambda j, m: self.rejected.__setitem__(j, m))

    def _on_samples(self, job_id: int, results: tuple[Any, ...]) -> None:
        self.samples.setdefault(job_id, []).append(len(results))
        self.indices.setdefault(job_id, []).extend(r.index for r in results)

    def n_samples(self, job_id: int) -> int:
        return sum(self.samples.get(job_id, []))


def test_run_events_arrive_batched_and_the_run_is_stored(
    qtbot: QtBot, ctx: AppContext, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.01, itl_s=0.0005, tokens_per_chunk=4),
        responder=gsm8k_responder(gsm8k_path, wrong_every=5),
    )
    rec = Recorder(ctx)
    job_id = ctx.controller.start(gsm8k_spec(server.base_url, gsm8k_path))
    assert [j.job_id for j in ctx.controller.active_jobs()] == [job_id]
    qtbot.waitUntil(lambda: job_id in rec.ended, timeout=30_000)

    started, ended = rec.started[job_id], rec.ended[job_id]
    assert started.n_total == 50
    assert isinstance(ended, RunFinished)
    assert ended.summary.status is RunStatus.COMPLETED
    assert ended.summary.accuracy == 0.8
    # Every sample reached the GUI exactly once, in a handful of batches (not one each).
    assert sorted(rec.indices[job_id]) == list(range(50))
    assert len(rec.samples[job_id]) <= 10, rec.samples[job_id]
    assert rec.progress[job_id][-1].n_done == 50
    assert rec.progress[job_id][-1].n_correct == 40
    assert [p.n_done for p in rec.progress[job_id]] == sorted(
        p.n_done for p in rec.progress[job_id]
    )
    # The store agrees.
    record = ctx.store.get_run(started.run_id)
    assert record.status is RunStatus.COMPLETED
    assert record.accuracy == 0.8
    assert len(ctx.store.get_results(started.run_id)) == 50
    # The job is over and its thread gone.
    job = ctx.controller.job(job_id)
    assert job is not None and job.run_id == started.run_id and job.samples_seen == 50
    qtbot.waitUntil(lambda: job.thread.isFinished(), timeout=5_000)
    assert ctx.controller.active_jobs() == []


def test_progress_is_throttled_to_a_few_updates_per_second(
    qtbot: QtBot, ctx: AppContext, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.05), responder=gsm8k_responder(gsm8k_path)
    )
    rec = Recorder(ctx)
    started = time.monotonic()
    job_id = ctx.controller.start(gsm8k_spec(server.base_url, gsm8k_path, limit=60, concurrency=4))
    qtbot.waitUntil(lambda: job_id in rec.ended, timeout=30_000)
    elapsed = time.monotonic() - started
    # One Progress per GUI interval (plus the final one), whatever the number of samples.
    assert len(rec.progress[job_id]) <= elapsed / GUI_EVENT_INTERVAL_S + 3
    assert len(rec.samples[job_id]) <= elapsed / GUI_EVENT_INTERVAL_S + 3


def test_cancel_mid_run_stores_a_cancelled_run_with_the_finished_samples(
    qtbot: QtBot, ctx: AppContext, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.2), responder=gsm8k_responder(gsm8k_path)
    )
    rec = Recorder(ctx)
    job_id = ctx.controller.start(gsm8k_spec(server.base_url, gsm8k_path, limit=200, concurrency=4))
    qtbot.waitUntil(lambda: rec.n_samples(job_id) >= 4, timeout=20_000)
    t0 = time.monotonic()
    ctx.controller.cancel(job_id)
    qtbot.waitUntil(lambda: job_id in rec.ended, timeout=10_000)
    assert time.monotonic() - t0 < 5  # in-flight requests are abandoned, not awaited

    ended = rec.ended[job_id]
    assert isinstance(ended, RunCancelled)
    run_id = rec.started[job_id].run_id
    record = ctx.store.get_run(run_id)
    assert record.status is RunStatus.CANCELLED
    assert record.message == "Cancelled by the user."
    stored = ctx.store.get_results(run_id)
    assert 4 <= len(stored) < 200
    assert len(stored) == ended.summary.n_ok + ended.summary.n_failed
    assert ctx.controller.active_jobs() == []


def test_closing_during_a_run_cancels_cleanly_without_the_event_loop(
    qtbot: QtBot, ctx: AppContext, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    """What the main window does on close: cancel_all + wait_all, the GUI thread blocked.

    The worker's "done" signal is queued to the (blocked) GUI thread, so the thread must
    end without it; this used to wait for wait_all's whole timeout.
    """
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.2), responder=gsm8k_responder(gsm8k_path)
    )
    rec = Recorder(ctx)
    job_id = ctx.controller.start(gsm8k_spec(server.base_url, gsm8k_path, limit=200, concurrency=4))
    qtbot.waitUntil(lambda: rec.n_samples(job_id) >= 4, timeout=20_000)
    run_id = rec.started[job_id].run_id

    t0 = time.monotonic()
    ctx.controller.cancel_all()
    assert ctx.controller.wait_all(timeout_ms=10_000)
    assert time.monotonic() - t0 < 5
    job = ctx.controller.job(job_id)
    assert job is not None and job.thread.isFinished()

    record = ctx.store.get_run(run_id)
    assert record.status is RunStatus.CANCELLED
    assert record.message == "Cancelled: the app was closed."
    assert 4 <= len(ctx.store.get_results(run_id)) < 200
    # The queued events are still delivered once the loop runs again.
    qtbot.waitUntil(lambda: job_id in rec.ended, timeout=5_000)
    assert isinstance(rec.ended[job_id], RunCancelled)


def test_two_runs_at_once_keep_their_events_apart(
    qtbot: QtBot, ctx: AppContext, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    right = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.02), responder=gsm8k_responder(gsm8k_path)
    )
    mixed = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.02),
        responder=gsm8k_responder(gsm8k_path, wrong_every=5),
    )
    rec = Recorder(ctx)
    a = ctx.controller.start(gsm8k_spec(right.base_url, gsm8k_path, limit=30, concurrency=4))
    b = ctx.controller.start(gsm8k_spec(mixed.base_url, gsm8k_path, limit=40, concurrency=4))
    assert a != b
    qtbot.waitUntil(lambda: len(ctx.controller.active_jobs()) == 2 or len(rec.ended) > 0)
    qtbot.waitUntil(lambda: {a, b} <= set(rec.ended), timeout=30_000)

    run_a, run_b = rec.started[a].run_id, rec.started[b].run_id
    assert run_a != run_b
    assert sorted(rec.indices[a]) == list(range(30))
    assert sorted(rec.indices[b]) == list(range(40))
    assert rec.ended[a].summary.accuracy == 1.0  # type: ignore[attr-defined]
    assert rec.ended[b].summary.accuracy == 0.8  # type: ignore[attr-defined]
    assert len(ctx.store.get_results(run_a)) == 30
    assert len(ctx.store.get_results(run_b)) == 40
    # Each server saw only its own run's requests.
    assert len([r for r in right.requests if r.api == "openai"]) == 30
    assert len([r for r in mixed.requests if r.api == "openai"]) == 40


def test_an_unusable_spec_is_rejected_and_nothing_is_stored(
    qtbot: QtBot, ctx: AppContext, tmp_path: Path
) -> None:
    rec = Recorder(ctx)
    spec = gsm8k_spec("http://127.0.0.1:9/v1", tmp_path / "missing.jsonl")
    with qtbot.waitSignal(ctx.controller.job_rejected, timeout=10_000) as blocker:
        job_id = ctx.controller.start(spec)
    assert blocker.args is not None and blocker.args[0] == job_id
    assert "missing.jsonl" in blocker.args[1]
    assert job_id not in rec.started
    qtbot.waitUntil(lambda: ctx.controller.active_jobs() == [], timeout=5_000)
    assert ctx.store.count_runs() == 0
