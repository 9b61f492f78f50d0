"""Speed runs end to end against the real loopback server, stored in a real SQLite file."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import (
    DatasetRef,
    EngineEvent,
    ErrorCategory,
    RunFinished,
    RunSpec,
    RunStarted,
    RunStatus,
    RunSummary,
    SamplesFinished,
)
from openbench_desktop.core.engine.cancel import CancelToken
from openbench_desktop.core.engine.runner import RunDeps
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.loopback import LoopbackServer, ServerBehavior
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.profiles import StepKind, arrival_offsets_s
from openbench_desktop.core.speed.runner import execute_speed_run, prepare_speed_run, speed_spec
from openbench_desktop.core.storage import ResultWriter, Store
from tests.support.loopback import MakeLoopbackServer

FAST = ServerBehavior(ttft_s=0.005, itl_s=0.001)


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


@pytest.fixture
def store_deps(tmp_path: Path) -> _Deps:
    d = _Deps(tmp_path / "home")
    yield d  # type: ignore[misc]
    d.close()


def _spec(server: LoopbackServer, **options: object) -> RunSpec:
    defaults: dict[str, object] = {"input_tokens": 16, "output_tokens": 8, "concurrency": 4}
    defaults.update(options)
    return speed_spec(base_url=server.base_url, model="simulated-echo", **defaults)


def _chat_requests(server: LoopbackServer) -> list:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_concurrency_run_is_stored_with_its_speed_summary(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.01, itl_s=0.001))
    events: list[EngineEvent] = []
    spec = _spec(server, requests=24, warmup=4)
    summary = execute_speed_run(spec, store_deps.deps(), on_event=events.append)

    assert summary.status is RunStatus.COMPLETED, summary.message
    assert (summary.n_samples, summary.n_ok, summary.n_failed) == (24, 24, 0)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert sum(len(e.results) for e in events if isinstance(e, SamplesFinished)) == 24
    # Warm-up requests reached the server but were neither stored nor measured.
    seen = _chat_requests(server)
    assert len(seen) == 28
    assert summary.speed is not None and summary.speed["warmup"]["requests"] == 4
    # Every prompt was exactly --input-tokens long as the server counted it.
    assert {r.prompt_tokens for r in seen} == {16}
    assert summary.input_tokens == 24 * 16 and summary.output_tokens == 24 * 8
    # Never more than 4 in flight at the server.
    spans = sorted((r.received_ns, r.event_sent_ns[-1]) for r in seen[4:])
    in_flight = max(sum(1 for a, b in spans if a <= start < b) for start, _ in spans)
    assert in_flight <= 4

    [step] = summary.speed["steps"]
    assert step["kind"] == "concurrency" and step["concurrency"] == 4
    assert step["n_ok"] == 24 and step["metrics"]["ttft_ms"]["ci"]["p50"] is not None
    assert set(step["by_definition"]) == set(sm.DEFINITIONS)
    assert summary.ttft_ms["p50"] == step["metrics"]["ttft_ms"]["p50"]
    assert summary.accuracy is None and summary.accuracy_ci is None

    record = store_deps.store.get_run(summary.run_id)
    assert record.benchmark == "speed" and record.n_total == 24
    assert record.summary is not None and record.summary.speed == json.loads(
        json.dumps(summary.speed)
    )
    assert RunSummary.from_dict(summary.to_dict()).speed == summary.speed
    stored = store_deps.store.get_results(summary.run_id)
    assert sorted(r.index for r in stored) == list(range(24))
    for result in stored:
        details = sm.speed_details(result)
        assert details is not None and details["step"] == 0
        assert details["scheduled_ns"] <= result.started_ns
        assert result.chunk_kinds.count("c") == 8 and result.ttft_ms is not None


def test_rate_and_poisson_schedules_are_kept(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(FAST)
    rate = execute_speed_run(
        _spec(server, profile="rate", rate=100.0, requests=15), store_deps.deps()
    )
    poisson = execute_speed_run(
        _spec(server, profile="poisson", rate=100.0, requests=15, seed=11), store_deps.deps()
    )
    for summary, offsets in (
        (rate, list(itertools.islice(arrival_offsets_s(StepKind.RATE, 100.0), 15))),
        (poisson, list(itertools.islice(arrival_offsets_s(StepKind.POISSON, 100.0, seed=11), 15))),
    ):
        assert summary.status is RunStatus.COMPLETED and summary.n_ok == 15
        results = store_deps.store.get_results(summary.run_id)
        scheduled = sorted(sm.speed_details(r)["scheduled_ns"] for r in results)  # type: ignore[index]
        got = [(t - scheduled[0]) / 1e9 for t in scheduled]
        assert got == pytest.approx(offsets, abs=2e-9)  # to the nanosecond rounding
        [step] = summary.speed["steps"]  # type: ignore[index]
        assert step["target_rate"] == 100.0 and step["queue_ms"]["p50"] is not None
        for r in results:  # latency is measured from the send, never from the schedule
            assert r.started_ns >= sm.speed_details(r)["scheduled_ns"]  # type: ignore[index]


def test_sweep_runs_n_steps_with_increasing_offered_load(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.02, itl_s=0.001))
    summary = execute_speed_run(
        _spec(server, profile="sweep", steps=4, requests=10, max_concurrency=8, output_tokens=4),
        store_deps.deps(),
    )
    assert summary.status is RunStatus.COMPLETED, summary.message
    steps = summary.speed["steps"]  # type: ignore[index]
    assert [s["kind"] for s in steps] == ["synchronous", "rate", "rate", "throughput"]
    offered = [s["offered_rate"] for s in steps]
    assert all(a < b for a, b in itertools.pairwise(offered)), offered
    assert all(s["n_ok"] == 10 for s in steps)
    assert summary.n_samples == 40
    # Execution order differs from the reported order: throughput ran second.
    assert [s["step"] for s in steps] == [0, 2, 3, 1]


def test_overload_stops_the_step_and_records_why(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(ServerBehavior())

    def on_event(event: EngineEvent) -> None:
        # Once requests are succeeding, the server starts failing every one of them.
        if isinstance(event, SamplesFinished):
            server.behavior = ServerBehavior(fail_with_status=503)

    summary = execute_speed_run(
        _spec(server, concurrency=2, requests=400, overload_error_rate=0.5),
        store_deps.deps(),
        on_event=on_event,
    )
    assert summary.status is RunStatus.COMPLETED
    stopped = summary.speed["stopped"]  # type: ignore[index]
    assert stopped is not None and "error rate" in stopped["reason"]
    assert summary.message is not None and "Stopped on overload" in summary.message
    assert summary.n_samples < 400
    assert summary.error_counts[ErrorCategory.SERVER_ERROR.value] == summary.n_failed
    assert summary.n_ok >= 1
    # Latencies are over the successful requests only.
    assert summary.speed["totals"]["metrics"]["ttft_ms"]["n"] == summary.n_ok  # type: ignore[index]


def test_cancel_keeps_the_finished_requests(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.01, itl_s=0.002))
    cancel = CancelToken()

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, SamplesFinished):
            cancel.cancel("stop now")

    summary = execute_speed_run(
        _spec(server, requests=500), store_deps.deps(), on_event=on_event, cancel=cancel
    )
    assert summary.status is RunStatus.CANCELLED and summary.message == "stop now"
    assert 0 < summary.n_samples < 500
    assert len(store_deps.store.get_results(summary.run_id)) == summary.n_samples
    assert store_deps.store.get_run(summary.run_id).status is RunStatus.CANCELLED


def test_an_unusable_endpoint_fails_the_run_with_the_servers_reason(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(ServerBehavior(require_api_key="fake-secret-000"))
    summary = execute_speed_run(_spec(server, requests=50), store_deps.deps())
    assert summary.status is RunStatus.FAILED
    assert summary.message is not None and "API key" in summary.message
    assert summary.error_counts == {"auth": summary.n_failed}


def test_dataset_prompts_are_cycled(
    tmp_path: Path, store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    data = tmp_path / "prompts.jsonl"
    lines = ["alpha beta", "gamma delta epsilon", "zeta"]
    data.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in lines), encoding="utf-8")
    server = make_loopback_server(FAST)
    spec = _spec(server, concurrency=1, requests=6, dataset=DatasetRef(path=str(data)))
    summary = execute_speed_run(spec, store_deps.deps())
    assert summary.status is RunStatus.COMPLETED
    sent = [r.body["messages"][-1]["content"] for r in _chat_requests(server)]
    assert sent == lines + lines
    assert "3 dataset prompt(s)" in summary.speed["profile"]["prompts"]  # type: ignore[index]
    record = store_deps.store.get_run(summary.run_id)
    assert record.manifest is not None and record.manifest.dataset_sha256


def test_the_definitions_option_changes_the_headline_figures(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    # The simulator sends its role-only chunk at once and the first token after 30 ms.
    server = make_loopback_server(ServerBehavior(ttft_s=0.03, itl_s=0.001))
    ours = execute_speed_run(_spec(server, requests=8), store_deps.deps())
    vllm = execute_speed_run(_spec(server, requests=8, definitions="vllm"), store_deps.deps())
    assert ours.ttft_ms["p50"] is not None and ours.ttft_ms["p50"] >= 30
    assert vllm.ttft_ms["p50"] is not None and vllm.ttft_ms["p50"] < 15
    side = vllm.speed["steps"][0]["by_definition"]  # type: ignore[index]
    assert side["openbench"]["ttft_ms"]["p50"] >= 30 and side["vllm"]["ttft_ms"]["p50"] < 15


def test_the_regular_provider_path_gives_the_same_kind_of_run(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(FAST)
    summary = execute_speed_run(_spec(server, requests=8, client="httpx"), store_deps.deps())
    assert summary.status is RunStatus.COMPLETED and summary.n_ok == 8
    assert summary.speed["profile"]["client"] == "provider:openai"  # type: ignore[index]
    assert summary.output_tokens == 8 * 8


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "rate"}, "needs a request rate"),
        ({"profile": "burst"}, "Unknown profile"),
        ({"definitions": "genai-perf"}, "Unknown definitions"),
        ({"input_tokens": 0}, "--input-tokens"),
    ],
)
def test_bad_options_fail_before_anything_is_stored(
    store_deps: _Deps, options: dict, message: str
) -> None:
    spec = speed_spec(base_url="http://127.0.0.1:9/v1", model="m", **options)
    with pytest.raises(ConfigError, match=message):
        prepare_speed_run(spec, store_deps.paths)
    assert store_deps.store.list_runs() == []


def test_execute_run_hands_speed_specs_to_the_speed_runner(
    store_deps: _Deps, make_loopback_server: MakeLoopbackServer
) -> None:
    from openbench_desktop.core.engine.runner import execute_run

    server = make_loopback_server(FAST)
    summary = execute_run(_spec(server, requests=5), store_deps.deps())
    assert summary.benchmark == "speed" and summary.n_ok == 5 and summary.speed is not None


def test_client_limit_reasons_and_the_selfcheck_ceiling() -> None:
    from openbench_desktop.core.speed.monitor import client_limit_reasons
    from openbench_desktop.core.speed.selfcheck import ceiling_reason

    calm = {"cores": 2, "loop_cpu_share": 0.3, "process_cpu_share": 0.2,
            "loop_lag_ms": {"p99": 1.5}}
    assert client_limit_reasons(calm, {"p95": 0.4}) == []
    busy = {"cores": 2, "loop_cpu_share": 0.97, "process_cpu_share": 0.95,
            "loop_lag_ms": {"p99": 25.0}}
    reasons = client_limit_reasons(busy, {"p95": 12.0})
    assert len(reasons) == 4
    assert "event loop was busy 97%" in reasons[0] and "p95 12.0 ms" in reasons[2]
    check = {"measured_at": "today", "ceiling": {"limited_by": "client",
                                                 "max_chunks_per_s": 10_000}}
    assert ceiling_reason(9_000, check) is not None
    assert ceiling_reason(5_000, check) is None
    server_bound = {"ceiling": {"limited_by": "server", "max_chunks_per_s": 10_000}}
    assert ceiling_reason(9_500, server_bound) is None
    assert ceiling_reason(9_500, None) is None
