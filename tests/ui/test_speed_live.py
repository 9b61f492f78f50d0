"""The live panel of speed runs in "Runs in progress": real runs on the loopback server."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from openbench_desktop.core.domain import ErrorCategory, SampleResult, SampleStatus
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.runner import speed_spec
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.theme import apply_theme
from openbench_desktop.ui.views.live_runs_view import LiveRunsView, RunPanel
from openbench_desktop.ui.views.speed_live import (
    SHOWN_PERCENTILES,
    UPDATE_INTERVAL_MS,
    SpeedLivePanel,
    format_ms,
)
from tests.support.loopback import MakeLoopbackServer


def _view(qtbot: QtBot, ctx: AppContext) -> LiveRunsView:
    apply_theme(QApplication.instance(), ctx.settings.theme)  # type: ignore[arg-type]
    view = LiveRunsView(ctx)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    return view


def _panel(view: LiveRunsView) -> RunPanel:
    panel = view.current_panel()
    assert panel is not None and panel.speed is not None
    return panel


def _visible_texts(widget: RunPanel) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel) if label.isVisibleTo(widget)]


def test_live_percentiles_equal_the_final_summary(
    qtbot: QtBot, ctx: AppContext, make_loopback_server: MakeLoopbackServer, shots_dir: Path
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.02, itl_s=0.004))
    view = _view(qtbot, ctx)
    spec = speed_spec(
        base_url=server.base_url, model="simulated-echo", concurrency=4, requests=80,
        input_tokens=32, output_tokens=16, name="Load test: concurrency 4",
    )
    ctx.controller.start(spec)
    qtbot.waitUntil(lambda: view.current_panel() is not None, timeout=5000)
    panel = _panel(view)
    speed = panel.speed
    assert speed is not None

    # Mid-run: figures appear from the timer, accuracy never does.
    qtbot.waitUntil(lambda: speed.stats.n_done >= 24 and speed.n_updates >= 1, timeout=10_000)
    if not panel.ended:
        qtbot.wait(UPDATE_INTERVAL_MS + 50)
        view.grab().save(str(shots_dir / "speed_live.png"))
    assert panel.findChild(QLabel, "speed_ttft_p50").text() != "—"
    assert panel.findChild(QLabel, "speed_rps").text() != "—"
    assert panel.findChild(QLabel, "speed_in_flight").text() in ("4", "0")
    assert not panel.accuracy.isVisibleTo(panel)
    assert not any("acc" in t.lower() for t in _visible_texts(panel))
    assert speed.throughput_chart.n_draws >= 1

    qtbot.waitUntil(lambda: panel.ended, timeout=20_000)
    assert panel.status == "completed", panel.message_label.text()
    summary = panel.summary
    assert summary is not None and summary.speed is not None
    assert speed.stats.n_ok == summary.n_ok == 80
    for key, name in (("ttft_ms", "ttft"), ("itl_ms", "itl"), ("e2e_ms", "e2e")):
        stored = getattr(summary, key)
        for pct in SHOWN_PERCENTILES:
            shown = panel.findChild(QLabel, f"speed_{name}_{pct}").text()
            assert shown == format_ms(stored[pct]), (key, pct)
            assert abs((speed.shown[key][pct] or 0) - stored[pct]) < 1e-6
    # The per-step table of the summary, and the flag where it applies.
    assert speed.steps_table.isVisibleTo(panel)
    assert speed.steps_model.rowCount() == 1
    assert speed.steps_model.value(0, 0) == "concurrency 4"
    limited = bool(summary.speed["client_limited"])
    assert speed.client_limited_label.isVisibleTo(panel) == limited
    assert not any("acc" in t.lower() for t in _visible_texts(panel))
    view.grab().save(str(shots_dir / "speed_live_end.png"))


def test_a_sweep_shows_its_steps(
    qtbot: QtBot, ctx: AppContext, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.01, itl_s=0.002))
    view = _view(qtbot, ctx)
    spec = speed_spec(
        base_url=server.base_url, model="simulated-echo", profile="sweep", steps=3,
        requests=8, max_concurrency=4, input_tokens=16, output_tokens=8,
    )
    ctx.controller.start(spec)
    qtbot.waitUntil(lambda: view.current_panel() is not None, timeout=5000)
    panel = _panel(view)
    speed = panel.speed
    assert speed is not None
    qtbot.waitUntil(lambda: panel.ended, timeout=20_000)
    assert panel.status == "completed", panel.message_label.text()
    assert sorted(speed.stats.step_starts) == [0, 1, 2]
    assert panel.findChild(QLabel, "speed_step").text() == "3 of 3"
    labels = [speed.steps_model.value(r, 0) for r in range(speed.steps_model.rowCount())]
    assert labels[0] == "synchronous" and labels[-1] == "throughput 4"
    assert labels[1].startswith("rate ")
    # Step boundaries are marked on both charts.
    assert len(speed.throughput_chart.marks.lines) == 3
    assert len(speed.latency_chart.marks.lines) == 3


def _synthetic(n: int, origin_ns: int) -> list[SampleResult]:
    """Speed results as the runner stores them: 8 content chunks, every 50th failed."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        sent = origin_ns + i * 100_000
        details = sm.details_json({"step": 0, "scheduled_ns": sent, "queue_ms": 0.0})
        if i % 50 == 49:
            out.append(SampleResult(
                index=i, sample_id=f"0/{i}", status=SampleStatus.FAILED,
                error_category=ErrorCategory.TIMEOUT, error_message="timed out",
                extracted=details, started_ns=sent,
            ))
            continue
        ttft = int(rng.uniform(5e6, 50e6))
        offsets = tuple(ttft + k * int(rng.uniform(1e6, 3e6)) for k in range(8))
        out.append(SampleResult(
            index=i, sample_id=f"0/{i}", status=SampleStatus.OK, output="x " * 8,
            extracted=details, started_ns=sent, streamed=True,
            chunk_offsets_ns=offsets, chunk_chars=(2,) * 8, chunk_kinds="c" * 8,
            end_offset_ns=offsets[-1] + 500_000, output_tokens=8, input_tokens=16,
            usage_reported=True, ttft_ms=ttft / 1e6, e2e_ms=(offsets[-1] + 500_000) / 1e6,
        ))
    return out


def test_twenty_thousand_results_cost_a_bounded_number_of_updates(qtbot: QtBot) -> None:
    spec = speed_spec(base_url="http://127.0.0.1:9/v1", model="m", concurrency=64)
    panel = SpeedLivePanel(spec)
    qtbot.addWidget(panel)
    panel.resize(1280, 600)
    panel.show()
    qtbot.waitExposed(panel)
    results = _synthetic(20_000, time.monotonic_ns() - 3_000_000_000)

    # 200 batches arrive before the event loop runs: numbers are taken, nothing is drawn.
    for start in range(0, len(results), 100):
        panel.add_results(results[start : start + 100])
    panel.drain()  # the per-request work runs on the panel's worker thread
    assert panel.n_batches == 200 and panel.stats.n_done == 20_000
    assert panel.n_updates == 0 and panel.throughput_chart.n_draws == 0

    # Updates come from the timer alone: a few per second, however many batches arrived.
    qtbot.wait(3 * UPDATE_INTERVAL_MS + 60)
    assert 1 <= panel.n_updates <= 4
    assert panel.throughput_chart.n_draws == panel.n_updates
    assert panel.findChild(QLabel, "speed_failed").text() == "400"
    assert "timeout 400" in panel.findChild(QLabel, "speed_failed_detail").text()

    panel.finish(None)
    ok = [r for r in results if r.ok]
    expected = sm.percentiles([sm.request_metrics(sm.timing_of(r)).ttft_ms for r in ok])
    for pct in SHOWN_PERCENTILES:
        assert panel.findChild(QLabel, f"speed_ttft_{pct}").text() == format_ms(expected[pct])
    n_after_end = panel.n_updates
    qtbot.wait(2 * UPDATE_INTERVAL_MS)
    assert panel.n_updates == n_after_end  # the timer stops with the run


def test_client_limited_runs_are_flagged(qtbot: QtBot) -> None:
    from openbench_desktop.core.domain import RunStatus, RunSummary

    spec = speed_spec(base_url="http://127.0.0.1:9/v1", model="m", profile="rate", rate=50.0)
    panel = SpeedLivePanel(spec)
    qtbot.addWidget(panel)
    panel.add_results(_synthetic(200, time.monotonic_ns() - 1_000_000_000))
    step = {
        "label": "rate 50/s", "n_ok": 196, "n_failed": 4, "requests_per_s": 49.5,
        "output_tokens_per_s": 396.0, "metrics": {"ttft_ms": {"p50": 27.5, "p99": 49.0}},
        "client_limited": True, "client_limited_reasons": ["the event loop lagged 80 ms"],
        "stopped": None,
    }
    summary = RunSummary(
        run_id="r1", status=RunStatus.COMPLETED, benchmark="speed", model="m",
        n_samples=200, n_ok=196, n_failed=4, n_correct=0, accuracy=None, accuracy_ci=None,
        accuracy_all=None, ttft_ms={}, itl_ms={}, e2e_ms={}, output_tokens_per_s=None,
        input_tokens=None, output_tokens=None, usage_complete=True, duration_s=2.0,
        speed={
            "steps": [step], "client_limited": True,
            "client_limited_reasons": ["rate 50/s: the event loop lagged 80 ms"],
            "stopped": {"step": 0, "reason": "error rate 60% exceeds 50%"}, "notes": [],
        },
    )
    panel.finish(dataclasses.replace(summary))
    assert panel.client_limited_label.isVisibleTo(panel)
    assert "Client-limited" in panel.client_limited_label.text()
    assert "event loop lagged" in panel.client_limited_label.text()
    assert "error rate 60%" in panel.end_notes.text()
    assert panel.steps_model.data(panel.steps_model.index(0, 12)) == "yes ⚠"
    assert panel.steps_model.data(panel.steps_model.index(0, 5)) == "27.5"
