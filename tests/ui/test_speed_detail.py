"""The speed Run detail panel over REAL speed runs against the loopback server.

The runs are made once per module (a 3-step sweep, a concurrency run, a genuinely
client-limited rate run, an overload stop, reasoning-first streams) by the real core
runner into a real AppContext; every test opens a fresh panel on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import EngineEvent, RunStatus, RunSummary, SamplesFinished
from openbench_desktop.core.engine.runner import RunDeps, execute_run
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.secrets import InMemorySecretStore
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.loopback_process import LoopbackProcess
from openbench_desktop.core.speed.runner import speed_spec
from openbench_desktop.ui.models.speed_models import RAW_ROLE, SpeedStepsModel
from openbench_desktop.ui.views.speed_detail import ALL_STEPS, SpeedDetailPanel

# The loopback server sends its role-only chunk at once, the first token after 50 ms, then
# one token every 2 ms: numbers a person can recognise in the tables.
TTFT_50 = ServerBehavior(ttft_s=0.05, itl_s=0.002)
FAST = ServerBehavior(ttft_s=0.004, itl_s=0.001)
#: Runs light enough that the client keeps up with them (see calm_run).
CALM = ("concurrency", "reasoning", "sweep", "calm")


def build_speed_runs(ctx: Any) -> dict[str, RunSummary]:
    """Real speed runs stored in ``ctx`` (shared with test_speed_compare.py).

    The loopback server runs in a child process (``core.speed.loopback_process``): in this
    process it would compete with the measuring client for the GIL, and the client's own
    event-loop lag check would then (rightly) flag runs as client-limited at random.
    """
    deps = RunDeps(ctx.store, ctx.writer, ctx.paths, secrets=ctx.secrets, event_interval_s=0.05)
    runs: dict[str, RunSummary] = {}
    with LoopbackProcess(TTFT_50) as server:

        def spec(name: str, **options: Any) -> Any:
            base: dict[str, Any] = {"input_tokens": 16, "output_tokens": 8, "concurrency": 4}
            base.update(options)
            return speed_spec(base_url=server.base_url, model="simulated-echo", name=name, **base)

        runs["sweep"] = execute_run(
            spec("sweep", profile="sweep", steps=3, requests=6, max_concurrency=4), deps
        )
        runs["concurrency"] = execute_run(spec("concurrency 4", requests=12), deps)
        # Genuinely client-limited: 400 requests/s offered with one request in flight at a
        # time; every request waits in the client for the previous one (queue p95 >> 5 ms).
        server.set_behavior(FAST)
        runs["limited"] = execute_run(
            spec("limited", profile="rate", rate=400.0, max_concurrency=1, requests=16), deps
        )
        server.set_behavior(
            ServerBehavior(ttft_s=0.03, itl_s=0.001, reasoning_prefix="Let me think about it.")
        )
        runs["reasoning"] = execute_run(spec("reasoning", requests=6), deps)
        server.set_behavior(FAST)
        failing = ServerBehavior(fail_with_status=503)

        def on_event(event: EngineEvent) -> None:
            # Once requests are succeeding, the server fails every one: an overload stop.
            if isinstance(event, SamplesFinished) and server.behavior is not failing:
                server.set_behavior(failing)

        runs["overload"] = execute_run(
            spec("overload", concurrency=2, requests=400, overload_error_rate=0.5),
            deps,
            on_event=on_event,
        )
        # The client-limited checks are honest: on a busy machine (2 cores shared with
        # other test processes) a light run can be flagged too. The tests need one that
        # was not: measure again (a few times at most) until the client kept up.
        server.set_behavior(TTFT_50)
        for _attempt in range(4):
            if any(not runs[n].speed["client_limited"] for n in CALM if n in runs):  # type: ignore[index]
                break
            runs["calm"] = execute_run(spec("calm", concurrency=1, requests=6), deps)
    for name, summary in runs.items():
        assert summary.status is RunStatus.COMPLETED, (name, summary.message)
    return runs


def calm_run(runs: dict[str, RunSummary]) -> RunSummary:
    """A run the client kept up with. The client's event-loop lag check is honest: a
    stall of the test process (2 cores, other test threads) can flag any one run, so take
    the first of the light runs that was not flagged."""
    return next(
        runs[name]
        for name in CALM
        if name in runs and not runs[name].speed["client_limited"]  # type: ignore[index]
    )


@pytest.fixture(scope="module")
def speed_ctx(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from openbench_desktop.ui.app import build_context, shutdown_context

    paths = AppPaths.under(tmp_path_factory.mktemp("speed_detail") / "home")
    context = build_context(paths, InMemorySecretStore())
    yield context
    shutdown_context(context)


@pytest.fixture(scope="module")
def runs(speed_ctx: Any) -> dict[str, RunSummary]:
    return build_speed_runs(speed_ctx)


@pytest.fixture
def panel(speed_ctx: Any, qtbot: Any) -> SpeedDetailPanel:
    widget = SpeedDetailPanel(speed_ctx)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    return widget


def open_run(qtbot: Any, panel: SpeedDetailPanel, run_id: str) -> None:
    panel.show_run(run_id)
    qtbot.waitUntil(
        lambda: panel.run is not None
        and not panel.is_busy()
        and panel.definitions_model.rowCount() > 0,
        timeout=10_000,
    )


def results_of(ctx: Any, run_id: str, step: int | None = None) -> list[Any]:
    results = ctx.store.get_results(run_id)
    if step is None:
        return results
    return [r for r in results if sm.speed_details(r)["step"] == step]  # type: ignore[index]


def test_profile_parameters_and_steps_equal_the_stored_summary(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    summary = runs["sweep"]
    open_run(qtbot, panel, summary.run_id)
    speed = summary.speed
    assert speed is not None
    assert panel.profile_label.text().lower().startswith("sweep in 3 steps")
    assert "output 8 tokens" in panel.params_label.text()
    assert "definitions: openbench" in panel.params_label.text()

    model = panel.steps_model
    steps = speed["steps"]
    assert model.rowCount() == 3
    labels = [model.index(r, model.COL_STEP).data(RAW_ROLE) for r in range(3)]
    assert labels == [s["label"] for s in steps]
    shown = [model.index(r, model.COL_STEP).data() for r in range(3)]
    assert shown[0] == "synchronous" and shown[-1] == "throughput 4"
    assert shown[1] == f"rate {steps[1]['target_rate']:.1f}/s"  # not every digit stored
    for row, step in enumerate(steps):
        def raw(col: int, row: int = row) -> Any:
            return model.index(row, col).data(RAW_ROLE)

        assert raw(model.COL_RPS) == step["requests_per_s"]
        assert raw(model.COL_TOKS) == step["output_tokens_per_s"]
        assert raw(model.COL_FAILED) == step["n_failed"] == 0
        for metric, pct in model.LATENCY_COLUMNS:
            col = model.latency_column(metric, pct)
            assert raw(col) == step["metrics"][metric][pct]
        # The text shows the value with its bootstrap interval.
        ttft = step["metrics"]["ttft_ms"]
        text = model.index(row, model.latency_column("ttft_ms", "p50")).data()
        assert text.startswith(f"{ttft['p50']:.1f} (") and "–" in text
        assert ttft["p50"] >= 50  # the server's injected 50 ms

    # The percentile chooser shows p50 columns by default, every one with "all".
    table = panel.steps_table
    p90 = model.latency_column("e2e_ms", "p90")
    assert table.isColumnHidden(p90)
    panel.percentile_combo.setCurrentIndex(panel.percentile_combo.findData("all"))
    assert not table.isColumnHidden(p90)
    assert not panel.client_banner.isVisible() or speed["client_limited"]
    assert panel.client_banner.isHidden() is not bool(speed["client_limited"])


def test_definitions_side_by_side_equal_core_recompute(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    summary = runs["concurrency"]
    open_run(qtbot, panel, summary.run_id)
    model = panel.definitions_model
    results = results_of(speed_ctx, summary.run_id)
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(4)]
    assert headers == ["OpenBench (chosen)", "vLLM", "GuideLLM", "LLMPerf"]
    assert panel.step_combo.isHidden()  # one step: nothing to choose

    def cell(key: str, definitions: str) -> Any:
        col = sm.DEFINITIONS.index(definitions)
        return model.index(model.row_of(key), col).data(RAW_ROLE)

    for definitions in sm.DEFINITIONS:
        core = sm.recompute(results, definitions)
        for metric in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
            for pct in ("p50", "p99"):
                expected = core["metrics"][metric][pct]
                got = cell(f"{metric}:{pct}", definitions)
                if expected is None:  # LLMPerf has no TPOT
                    assert got is None and (definitions, metric) == ("llmperf", "tpot_ms")
                else:
                    assert got == pytest.approx(expected, rel=1e-12), (definitions, metric)
        assert cell("output_tokens_per_s", definitions) == pytest.approx(
            core["output_tokens_per_s"]
        )
    # Where the definitions differ, the columns differ:
    # vLLM counts the role-only chunk the server sends at once as the first token.
    assert cell("ttft_ms:p50", "openbench") >= 50 > 15 > cell("ttft_ms:p50", "vllm")
    # LLMPerf's ITL includes the TTFT (last content chunk / chunks received).
    # With a 50 ms TTFT spread over at most 12 chunks (8 tokens, role, finish, usage)
    # that is at least 50/12 ms, whatever the gaps between tokens were on this machine.
    assert cell("itl_ms:p50", "llmperf") > cell("itl_ms:p50", "openbench")
    assert cell("itl_ms:p50", "llmperf") >= 50 / 12
    # vLLM's TPOT excludes the first token but measures it from its early TTFT.
    assert cell("tpot_ms:p50", "vllm") > cell("tpot_ms:p50", "openbench")
    # LLMPerf has no TPOT.
    llmperf_tpot = model.index(model.row_of("tpot_ms:p50"), 3)
    assert llmperf_tpot.data(RAW_ROLE) is None and llmperf_tpot.data() == "n/a"
    # Differing cells are bold; the chosen column never is.
    bold = model.index(model.row_of("ttft_ms:p50"), 1).data(Qt.ItemDataRole.FontRole)
    assert bold is not None and bold.bold()
    assert model.index(0, 0).data(Qt.ItemDataRole.FontRole) is None
    # A note per definition and the pointer to the formulas.
    notes = panel.notes_label.text()
    for name in ("OpenBench", "vLLM", "GuideLLM", "LLMPerf", "docs/METRICS.md"):
        assert name in notes
    assert "12 successful" in panel.definitions_status.text()


def test_the_step_chooser_recomputes_one_step_of_a_sweep(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    summary = runs["sweep"]
    open_run(qtbot, panel, summary.run_id)
    combo = panel.step_combo
    assert combo.isVisibleTo(panel) and combo.count() == 4  # all requests + 3 steps
    whole = panel.definitions_for(ALL_STEPS)
    assert whole is not None and whole.n_requests == 18
    top = summary.speed["steps"][-1]  # type: ignore[index]
    combo.setCurrentIndex(combo.findData(top["step"]))
    qtbot.waitUntil(lambda: panel.definitions_for(top["step"]) is not None, timeout=5000)
    model = panel.definitions_model
    core = sm.recompute(results_of(speed_ctx, summary.run_id, top["step"]), "llmperf")
    row = model.row_of("e2e_ms:p99")
    assert model.index(row, 3).data(RAW_ROLE) == pytest.approx(core["metrics"]["e2e_ms"]["p99"])
    # The stored side-by-side figures of that step agree with the recomputation.
    assert model.index(row, 0).data(RAW_ROLE) == pytest.approx(
        top["by_definition"]["openbench"]["e2e_ms"]["p99"]
    )


def test_client_limited_banner_for_a_really_client_limited_run(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    limited = runs["limited"].speed
    assert limited is not None and limited["client_limited"] is True
    assert any("waited in the client" in r for r in limited["client_limited_reasons"])
    open_run(qtbot, panel, runs["limited"].run_id)
    banner = panel.client_banner
    assert banner.isVisibleTo(panel)
    assert "Client-limited" in banner.text() and "waited in the client" in banner.text()
    model = panel.steps_model
    assert model.index(0, model.COL_CLIENT).data() == "⚠ limited"
    assert model.index(0, model.COL_QUEUE).data(RAW_ROLE) > 5.0
    assert model.index(0, model.COL_OFFERED).data() == "400 req/s"

    # The same panel on a run that was not client-limited hides it again.
    calm = calm_run(runs)
    open_run(qtbot, panel, calm.run_id)
    assert banner.isHidden()
    assert model.index(0, model.COL_CLIENT).data() == "ok"


def test_overload_stop_and_failures_by_category(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    summary = runs["overload"]
    open_run(qtbot, panel, summary.run_id)
    assert panel.stopped_banner.isVisibleTo(panel)
    assert "Stopped on overload" in panel.stopped_banner.text()
    assert "error rate" in panel.stopped_banner.text()
    text = panel.failed_label.text()
    assert f"{summary.n_failed} failed" in text
    assert f"server_error {summary.n_failed}" in text
    model = panel.steps_model
    assert model.index(0, model.COL_FAILED).data(RAW_ROLE) == summary.n_failed
    assert "server_error" in model.index(0, model.COL_FAILED).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, model.COL_STEP).data().endswith("⚠")
    # Failures never enter the latency figures.
    assert panel.definitions_for(ALL_STEPS).n_ok == summary.n_ok  # type: ignore[union-attr]


def test_reasoning_first_streams_show_both_ttfts(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    summary = runs["reasoning"]
    open_run(qtbot, panel, summary.run_id)
    assert panel.reasoning_banner.isVisibleTo(panel)
    assert "6 of 6 streams" in panel.reasoning_banner.text()
    model = panel.definitions_model
    content = model.index(model.row_of("ttft_ms:p50"), 0).data(RAW_ROLE)
    first = model.index(model.row_of("ttft_first_token:p50"), 0).data(RAW_ROLE)
    core = sm.recompute(results_of(speed_ctx, summary.run_id))
    assert first == pytest.approx(core["metrics"]["ttft_first_token_ms"]["p50"])
    assert content == pytest.approx(core["metrics"]["ttft_ms"]["p50"])
    # Reasoning is streamed first: the first token of any kind comes before the content.
    assert first < content
    # GuideLLM's TTFT counts reasoning, as the first-token TTFT does.
    assert model.index(model.row_of("ttft_ms:p50"), 2).data(RAW_ROLE) == pytest.approx(first)
    # Runs without reasoning have no such rows.
    open_run(qtbot, panel, runs["concurrency"].run_id)
    assert panel.reasoning_banner.isHidden()
    keys = [model.row_key(r) for r in range(model.rowCount())]
    assert not any(k.startswith("ttft_first_token") for k in keys)


def test_clear_and_a_stale_answer(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    panel.show_run(runs["sweep"].run_id)
    panel.show_run(runs["concurrency"].run_id)  # the first answer arrives for nobody
    qtbot.waitUntil(lambda: panel.run is not None and not panel.is_busy(), timeout=10_000)
    assert panel.run.run_id == runs["concurrency"].run_id  # type: ignore[union-attr]
    assert panel.steps_model.rowCount() == 1
    panel.clear()
    assert panel.steps_model.rowCount() == 0 and panel.definitions_model.rowCount() == 0
    assert "Open a speed run" in panel.status_label.text()
    panel.show_run("no-such-run")
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=5000)
    assert "Could not read the run" in panel.status_label.text()


def test_steps_model_without_a_view() -> None:
    model = SpeedStepsModel()
    step = {
        "step": 0, "label": "rate 5/s", "kind": "rate", "target_rate": 5.0,
        "offered_rate": 5.0, "requests_per_s": 4.8, "output_tokens_per_s": 38.4,
        "n_requests": 10, "n_failed": 1, "error_counts": {"timeout": 1},
        "metrics": {"ttft_ms": {"p50": 52.25, "n": 9, "ci": {"p50": [50.0, 55.5]}}},
        "queue_ms": {"p95": 0.2}, "client_limited": False, "slo_attainment": 0.9,
        "goodput_requests_per_s": 4.3,
    }
    model.set_steps([step])
    header, rows = model.data_table()
    assert header[:3] == ["step", "Step", "Offered load"] and len(rows[0]) == len(header)
    ttft = model.index(0, model.latency_column("ttft_ms", "p50"))
    assert ttft.data() == "52.2 (50.0–55.5)" or ttft.data() == "52.3 (50.0–55.5)"
    assert model.index(0, model.latency_column("itl_ms", "p99")).data() == "—"
    assert model.index(0, model.COL_GOODPUT).data() == "4.30 (90% good)"
    assert model.index(0, model.COL_FAILED).data() == "1 of 10"


def test_screenshot(
    panel: SpeedDetailPanel, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary],
    shots_dir: Path,
) -> None:
    open_run(qtbot, panel, runs["sweep"].run_id)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.wait(50)  # let the layout settle as a person would see it
    path = shots_dir / "speed_detail.png"
    assert panel.grab().save(str(path))
    open_run(qtbot, panel, runs["limited"].run_id)
    qtbot.wait(50)
    assert panel.grab().save(str(shots_dir / "speed_detail_limited.png"))
    open_run(qtbot, panel, runs["reasoning"].run_id)
    qtbot.wait(50)
    assert panel.grab().save(str(shots_dir / "speed_detail_reasoning.png"))
    assert path.stat().st_size > 10_000
