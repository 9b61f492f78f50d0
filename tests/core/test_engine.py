"""The engine against a real loopback server: events, bounded concurrency, cancellation."""

from __future__ import annotations

import threading
from pathlib import Path

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import (
    DatasetRef,
    GenerationParams,
    Progress,
    RunCancelled,
    RunFinished,
    RunSpec,
    RunStarted,
    RunStatus,
    SamplesFinished,
)
from openbench_desktop.core.engine.cancel import CancelToken
from openbench_desktop.core.engine.runner import RunDeps, execute_run
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from openbench_desktop.core.storage import ResultWriter, Store
from tests.support.loopback import MakeLoopbackServer


def _spec(base_url: str, dataset: Path, **kw: object) -> RunSpec:
    args: dict[str, object] = {
        "provider": "openai",
        "base_url": base_url,
        "model": "simulated-gsm8k",
        "benchmark": "gsm8k",
        "dataset": DatasetRef(path=str(dataset)),
        "params": GenerationParams(max_tokens=256),
        "limit": 40,
        "concurrency": 4,
    }
    args.update(kw)
    return RunSpec(**args)  # type: ignore[arg-type]


class _Deps:
    def __init__(self, home: Path) -> None:
        self.paths = AppPaths.under(home).ensure()
        self.store = Store.open(self.paths)
        self.writer = ResultWriter(self.store)

    def deps(self) -> RunDeps:
        return RunDeps(self.store, self.writer, self.paths, event_interval_s=0.02)

    def close(self) -> None:
        self.writer.close()
        self.store.close()


def test_events_and_bounded_concurrency(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.02, itl_s=0.001, tokens_per_chunk=4),
        responder=gsm8k_responder(gsm8k_path),
    )
    d = _Deps(tmp_path)
    events: list[object] = []
    try:
        summary = execute_run(_spec(server.base_url, gsm8k_path), d.deps(), on_event=events.append)
        stored = d.store.get_results(summary.run_id)
    finally:
        d.close()
    assert summary.status is RunStatus.COMPLETED and summary.accuracy == 1.0
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    finished = [r for e in events if isinstance(e, SamplesFinished) for r in e.results]
    assert sorted(r.index for r in finished) == list(range(40))
    # batched: far fewer events than samples
    assert len([e for e in events if isinstance(e, SamplesFinished)]) < 40
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].n_done == 40
    assert [p.n_done for p in progress] == sorted(p.n_done for p in progress)
    assert len(stored) == 40

    # Never more than `concurrency` requests open at once, as the server saw them.
    spans = [(r.received_ns, r.event_sent_ns[-1]) for r in server.requests if r.event_sent_ns]
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    assert 2 <= peak <= 4


def test_cancel_stores_a_cancelled_run_with_what_finished(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.05, itl_s=0.002),
        responder=gsm8k_responder(gsm8k_path),
    )
    d = _Deps(tmp_path)
    cancel = CancelToken()
    events: list[object] = []

    def on_event(event: object) -> None:
        events.append(event)
        if isinstance(event, Progress) and event.n_done >= 5:
            cancel.cancel("stopped by the test")

    try:
        summary = execute_run(
            _spec(server.base_url, gsm8k_path, limit=200, concurrency=2),
            d.deps(),
            on_event=on_event,
            cancel=cancel,
        )
        record = d.store.get_run(summary.run_id)
        stored = d.store.get_results(summary.run_id)
    finally:
        d.close()
    assert summary.status is RunStatus.CANCELLED
    assert record.status is RunStatus.CANCELLED
    assert isinstance(events[-1], RunCancelled)
    assert 5 <= len(stored) < 200
    assert summary.n_ok + summary.n_failed == len(stored)
    assert len({r.index for r in stored}) == len(stored)


def test_cancel_from_another_thread_ends_in_flight_requests(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    # Each reply takes ~10 s: cancel must not wait for them.
    server = make_loopback_server(behavior=ServerBehavior(ttft_s=10.0))
    d = _Deps(tmp_path)
    cancel = CancelToken()
    timer = threading.Timer(0.5, cancel.cancel, args=("user cancelled",))
    timer.start()
    try:
        summary = execute_run(
            _spec(server.base_url, gsm8k_path, model="simulated-echo", limit=8),
            d.deps(),
            cancel=cancel,
        )
        record = d.store.get_run(summary.run_id)
    finally:
        timer.cancel()
        d.close()
    assert record.status is RunStatus.CANCELLED
    assert summary.duration_s is not None and summary.duration_s < 5
