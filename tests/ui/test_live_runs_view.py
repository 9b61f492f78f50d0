"""The "Runs in progress" view, its live charts and its samples model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabBar,
    QTableView,
    QWidget,
)
from pytestqt.qtbot import QtBot

from openbench_desktop.core.domain import ErrorCategory, SampleResult, SampleStatus
from openbench_desktop.core.engine.metrics import wilson_interval
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from openbench_desktop.ui.charts.live_charts import (
    LatencyHistogram,
    TtftTimeline,
    bucket_medians,
    decimate_points,
    nice_ceil,
)
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.live_samples_model import LiveSamplesModel
from openbench_desktop.ui.theme import apply_theme
from openbench_desktop.ui.views.live_runs_view import (
    EMPTY_TEXT,
    LiveRunsView,
    RunPanel,
    format_duration,
    wilson95,
)
from tests.support.loopback import MakeLoopbackServer
from tests.ui.test_run_controller import gsm8k_spec


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
    assert panel is not None
    return panel


def _text(panel: RunPanel, name: str) -> str:
    label = panel.findChild(QLabel, name)
    assert label is not None, name
    return label.text()


def _result(index: int, **kw: Any) -> SampleResult:
    args: dict[str, Any] = {
        "index": index,
        "status": SampleStatus.OK,
        "expected": "18",
        "extracted": "18",
        "output": "The answer is 18.",
        "score": 1.0,
        "ttft_ms": 50.0 + index,
        "e2e_ms": 200.0 + index,
        "output_tokens": 12,
        "started_ns": 1_000_000_000 + index * 10_000_000,
        "end_offset_ns": 200_000_000,
    }
    args.update(kw)
    return SampleResult(**args)


# -- the view against real runs ---------------------------------------------------------------


def test_empty_state_points_to_run_setup(qtbot: QtBot, ctx: AppContext, shots_dir: Path) -> None:
    view = _view(qtbot, ctx)
    view.grab().save(str(shots_dir / "live_runs_empty.png"))
    assert view.stack.currentIndex() == 0
    assert view.empty_label.text() == EMPTY_TEXT
    assert view.selected_run_id() is None
    button = view.findChild(QPushButton, "go_to_setup")
    assert button is not None and button.isVisible()
    with qtbot.waitSignal(ctx.signals.navigate, timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["setup"]


def test_a_run_fills_the_panel_and_ends_completed(
    qtbot: QtBot,
    ctx: AppContext,
    gsm8k_path: Path,
    make_loopback_server: MakeLoopbackServer,
    shots_dir: Path,
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.01, itl_s=0.0005, tokens_per_chunk=4),
        responder=gsm8k_responder(gsm8k_path, wrong_every=5),
    )
    view = _view(qtbot, ctx)
    job_id = ctx.controller.start(gsm8k_spec(server.base_url, gsm8k_path))
    qtbot.waitUntil(lambda: view.panel(job_id) is not None, timeout=10_000)
    panel = _panel(view)
    assert view.stack.currentIndex() == 1
    assert not view.idle_bar.isVisible()
    assert panel.findChild(QPushButton, "cancel_run").isVisible()  # type: ignore[union-attr]

    qtbot.waitUntil(lambda: panel.ended, timeout=30_000)
    run_id = ctx.controller.job(job_id).run_id  # type: ignore[union-attr]
    assert run_id and view.selected_run_id() == run_id

    table = panel.findChild(QTableView, "live_samples_table")
    assert table is not None and table.model().rowCount() == 50
    model = table.model()
    shown = sorted(int(model.index(r, LiveSamplesModel.COL_INDEX).data()) for r in range(50))
    assert shown == list(range(50))
    statuses = [model.index(r, LiveSamplesModel.COL_STATUS).data() for r in range(50)]
    assert statuses.count("wrong") == 10 and statuses.count("correct") == 40

    bar = panel.findChild(QProgressBar, "run_progress")
    assert bar is not None and bar.value() == bar.maximum() == 50
    assert "100%" in bar.text()
    assert _text(panel, "run_status") == "Completed"
    assert _text(panel, "run_accuracy") == "80.0%"
    lo, hi = wilson_interval(40, 50)  # type: ignore[misc]
    assert f"95% CI {lo:.1%}–{hi:.1%}" in _text(panel, "run_accuracy_detail")
    assert _text(panel, "run_failures") == "0"

    # The charts hold every sample, drawn.
    assert panel.histogram.n_values == 50
    _x, counts = panel.histogram.curve.getData()
    assert counts is not None and int(np.sum(counts)) == 50
    assert panel.timeline.n_values == 50
    xs, _ys = panel.timeline.points.getData()
    assert xs is not None and len(xs) == 50 and np.all(xs >= 0)

    view.grab().save(str(shots_dir / "live_runs_finished.png"))
    # Finished: cancel gives way to "Open details" and the idle notice shows.
    assert not panel.cancel_button.isVisible()
    assert view.idle_bar.isVisible()
    open_button = panel.findChild(QPushButton, "open_details")
    assert open_button is not None and open_button.isVisible()
    with qtbot.waitSignal(ctx.signals.open_run, timeout=1000) as blocker:
        qtbot.mouseClick(open_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [run_id]
    assert view.tabs.tabText(view.tabs.currentIndex()).startswith("✓")


def test_cancel_with_confirmation_mid_run(
    qtbot: QtBot,
    ctx: AppContext,
    gsm8k_path: Path,
    make_loopback_server: MakeLoopbackServer,
    shots_dir: Path,
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.03, itl_s=0.002, tokens_per_chunk=2),
        responder=gsm8k_responder(gsm8k_path, wrong_every=7),
    )
    view = _view(qtbot, ctx)
    asked: list[bool] = []
    answers = iter([False, True])

    def confirm() -> bool:
        asked.append(True)
        return next(answers)

    view._confirm_cancel = confirm  # type: ignore[method-assign]
    job_id = ctx.controller.start(
        gsm8k_spec(server.base_url, gsm8k_path, limit=1000, concurrency=16)
    )
    qtbot.waitUntil(lambda: view.panel(job_id) is not None, timeout=10_000)
    panel = _panel(view)
    qtbot.waitUntil(lambda: panel.histogram.n_values >= 120, timeout=30_000)
    qtbot.waitUntil(lambda: int(np.sum(panel.histogram.counts)) >= 120, timeout=5_000)
    view.grab().save(str(shots_dir / "live_runs.png"))

    # "No" keeps the run going.
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and _text(panel, "run_status") == "Running"
    # "Yes" cancels it.
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 2
    assert _text(panel, "run_status") in ("Cancelling…", "Cancelled")
    qtbot.waitUntil(lambda: _text(panel, "run_status") == "Cancelled", timeout=10_000)
    assert "Cancelled by the user." in _text(panel, "run_message")
    run_id = panel.run_id
    assert run_id is not None
    stored = len(ctx.store.get_results(run_id))
    assert 120 <= stored < 1000
    assert panel.progress_bar.value() == stored < panel.progress_bar.maximum()
    assert panel.open_button.isVisible()


def test_two_runs_get_two_tabs_and_finished_tabs_can_be_closed(
    qtbot: QtBot, ctx: AppContext, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    fast = make_loopback_server(responder=gsm8k_responder(gsm8k_path))
    slow = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.3), responder=gsm8k_responder(gsm8k_path)
    )
    view = _view(qtbot, ctx)
    view._confirm_cancel = lambda: True  # type: ignore[method-assign]
    a = ctx.controller.start(gsm8k_spec(fast.base_url, gsm8k_path, limit=20, name="fast run"))
    b = ctx.controller.start(
        gsm8k_spec(slow.base_url, gsm8k_path, limit=400, concurrency=2, name="slow run")
    )
    qtbot.waitUntil(lambda: view.tabs.count() == 2, timeout=10_000)
    panel_a, panel_b = view.panel(a), view.panel(b)
    assert panel_a is not None and panel_b is not None
    qtbot.waitUntil(lambda: panel_a.ended, timeout=30_000)
    assert not panel_b.ended and not view.idle_bar.isVisible()
    assert panel_a.model.rowCount() == 20

    # A running tab has no close button (and ignores a close request); a finished one has.
    assert not _close_button(view, panel_b).isVisible()
    view.tabs.tabCloseRequested.emit(view.tabs.indexOf(panel_b))
    assert view.tabs.count() == 2
    qtbot.mouseClick(_close_button(view, panel_a), Qt.MouseButton.LeftButton)
    assert view.tabs.count() == 1 and view.panel(a) is None

    view.tabs.setCurrentWidget(panel_b)
    qtbot.mouseClick(panel_b.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel_b.status == "cancelled", timeout=10_000)
    assert view.idle_bar.isVisible()
    assert view.tabs.tabText(0).startswith("■")
    qtbot.mouseClick(_close_button(view, panel_b), Qt.MouseButton.LeftButton)
    assert view.stack.currentIndex() == 0  # back to the empty state


def _close_button(view: LiveRunsView, panel: RunPanel) -> QWidget:
    bar = view.tabs.tabBar()
    index = view.tabs.indexOf(panel)
    button = bar.tabButton(index, QTabBar.ButtonPosition.RightSide) or bar.tabButton(
        index, QTabBar.ButtonPosition.LeftSide
    )
    assert button is not None
    return button


def test_a_view_created_during_a_run_picks_it_up(
    qtbot: QtBot, ctx: AppContext, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.05), responder=gsm8k_responder(gsm8k_path)
    )
    job_id = ctx.controller.start(gsm8k_spec(server.base_url, gsm8k_path, limit=40))
    qtbot.waitUntil(lambda: ctx.controller.job(job_id).run_id is not None)  # type: ignore[union-attr]
    view = _view(qtbot, ctx)
    panel = view.panel(job_id)
    assert panel is not None and panel.run_id == ctx.controller.job(job_id).run_id  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: panel.ended, timeout=30_000)
    assert panel.progress_bar.value() == 40 == panel.progress_bar.maximum()


# -- pieces without a run ----------------------------------------------------------------------


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (40, 50), (3, 7), (0, 200), (999, 1000)])
def test_wilson95_matches_the_core_interval(k: int, n: int) -> None:
    ours, core = wilson95(k, n), wilson_interval(k, n)
    assert ours is not None and core is not None
    assert ours == pytest.approx(core, abs=1e-12)
    assert wilson95(0, 0) is None


def test_format_duration() -> None:
    assert format_duration(None) == "—"
    assert format_duration(4.4) == "4 s"
    assert format_duration(83) == "1 min 23 s"
    assert format_duration(3 * 3600 + 120) == "3 h 02 min"


def test_model_keeps_the_newest_rows_first_and_caps_them(qtbot: QtBot) -> None:
    model = LiveSamplesModel(max_rows=5)
    inserted: list[tuple[int, int]] = []
    removed: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    model.rowsRemoved.connect(lambda _p, first, last: removed.append((first, last)))

    model.append_batch([_result(i) for i in range(3)])
    assert model.rowCount() == 3
    assert [model.index(r, model.COL_INDEX).data() for r in range(3)] == ["2", "1", "0"]
    model.append_batch([_result(i) for i in range(3, 7)])
    # One removal (the two oldest) and one insertion per batch, never one per row.
    assert inserted == [(0, 2), (0, 3)] and removed == [(1, 2)]
    assert [model.index(r, model.COL_INDEX).data() for r in range(5)] == list("65432")
    model.append_batch([_result(i) for i in range(7, 20)])  # bigger than the cap
    assert model.rowCount() == 5 and model.total_seen == 20
    assert [model.index(r, model.COL_INDEX).data() for r in range(5)] == [
        "19",
        "18",
        "17",
        "16",
        "15",
    ]


def test_model_cells(qtbot: QtBot) -> None:
    model = LiveSamplesModel()
    failed = _result(
        1,
        status=SampleStatus.FAILED,
        extracted=None,
        output="",
        score=None,
        ttft_ms=None,
        e2e_ms=None,
        output_tokens=None,
        error_category=ErrorCategory.TIMEOUT,
        error_message="no answer in 120 s",
    )
    model.append_batch([_result(0, extracted="17", score=0.0, ttft_ms=1234.5), failed])
    assert model.columnCount() == len(model.HEADERS) == 9
    row = [model.index(0, c).data() for c in range(9)]
    assert row == ["1", "failed", "18", "", "", "", "", "", "timeout: no answer in 120 s"]
    row = [model.index(1, c).data() for c in range(9)]
    assert row == ["0", "wrong", "18", "17", "0", "1,234", "200", "12", ""]
    assert model.index(1, model.COL_ANSWER).data(Qt.ItemDataRole.ToolTipRole) == (
        "The answer is 18."
    )
    assert model.index(1, model.COL_STATUS).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(1, model.COL_ANSWER).data(Qt.ItemDataRole.ForegroundRole) is None
    right = model.index(1, model.COL_TTFT).data(Qt.ItemDataRole.TextAlignmentRole)
    assert right & Qt.AlignmentFlag.AlignRight
    assert model.index(1, model.COL_ANSWER).data(Qt.ItemDataRole.TextAlignmentRole) is None
    assert model.index(1, model.COL_ANSWER).data(Qt.ItemDataRole.DecorationRole) is None
    assert model.index(1, 0).data(model.RESULT_ROLE).extracted == "17"
    assert model.result(0) is failed


def test_histogram_bins_incrementally_and_rebins_on_range_change(qtbot: QtBot) -> None:
    hist = LatencyHistogram()
    qtbot.addWidget(hist)
    assert not hist.flush()  # nothing new: no redraw
    hist.add_values(np.array([10.0, 20.0, 30.0, 95.0]))
    assert hist.flush()
    assert hist.edges[-1] == 100.0 and int(hist.counts.sum()) == 4
    hist.add_values(np.array([50.0, 60.0]))
    hist.flush()
    assert hist.edges[-1] == 100.0 and int(hist.counts.sum()) == 6
    hist.add_values(np.array([180.0]))  # out of range: rebin everything
    hist.flush()
    assert hist.edges[-1] == 200.0 and int(hist.counts.sum()) == 7
    _x, y = hist.curve.getData()
    assert y is not None and int(y.sum()) == 7
    assert hist.p50_line.isVisible()
    # One huge outlier doesn't squash the others into the first bin; it's counted last.
    hist.add_values(np.full(200, 100.0))
    hist.add_values(np.array([60_000.0]))
    hist.flush()
    assert hist.edges[-1] < 1000 and int(hist.counts.sum()) == 208
    assert hist.n_clamped == 1 and hist.counts[-1] >= 1


def test_ttft_timeline_sorts_points_and_draws_a_median(qtbot: QtBot) -> None:
    timeline = TtftTimeline(origin_ns=1_000_000_000)
    qtbot.addWidget(timeline)
    timeline.add_results([_result(i) for i in reversed(range(30))])
    timeline.add_results([_result(0, status=SampleStatus.FAILED, ttft_ms=None)])
    assert timeline.flush()
    xs, ys = timeline.points.getData()
    assert xs is not None and ys is not None and len(xs) == 30
    assert np.all(np.diff(xs) >= 0) and xs[0] == pytest.approx(0.2)
    mx, my = timeline.median.getData()
    assert mx is not None and len(mx) >= 2
    assert float(np.min(my)) >= 50.0 and float(np.max(my)) <= 79.0


def test_nice_ceil() -> None:
    assert [nice_ceil(v) for v in (0.0, 0.7, 1.0, 95.0, 101.0, 240.0, 2700.0, 4100.0)] == [
        1.0,
        0.8,
        1.0,
        100.0,
        120.0,
        250.0,
        3000.0,
        5000.0,
    ]


def test_charts_follow_a_theme_change(qtbot: QtBot, ctx: AppContext) -> None:
    import pyqtgraph as pg

    app = QApplication.instance()
    view = _view(qtbot, ctx)
    panel = RunPanel(1, gsm8k_spec("http://127.0.0.1:9/v1", Path("x.jsonl")))
    qtbot.addWidget(panel)
    view._panels[1] = panel
    try:
        apply_theme(app, "dark")  # type: ignore[arg-type]
        ctx.signals.theme_changed.emit("dark")
        axis = panel.histogram.getPlotItem().getAxis("left")
        assert axis.textPen().color().name() == pg.mkColor("#d0d0d0").name()
        assert panel.timeline.backgroundBrush().color().name() == "#1e1f22"
    finally:
        apply_theme(app, "light")  # type: ignore[arg-type]


def test_a_run_that_crashes_after_starting_shows_failed(qtbot: QtBot, ctx: AppContext) -> None:
    """The controller's ``execute`` hook stands in for an engine that breaks mid-run."""
    from openbench_desktop.core.domain import RunStarted
    from openbench_desktop.core.engine.runner import RunDeps
    from openbench_desktop.ui.bridge.run_controller import RunController

    def crashing(spec: Any, deps: RunDeps, *, on_event: Any, cancel: Any) -> None:
        on_event(RunStarted("feedface", spec, 10))
        raise RuntimeError("disk on fire")

    ctx.controller = RunController(
        RunDeps(ctx.store, ctx.writer, ctx.paths, ctx.secrets), execute=crashing
    )
    view = _view(qtbot, ctx)
    job_id = ctx.controller.start(gsm8k_spec("http://127.0.0.1:9/v1", Path("x.jsonl")))
    qtbot.waitUntil(lambda: view.panel(job_id) is not None and view.panel(job_id).ended)
    panel = _panel(view)
    assert _text(panel, "run_status") == "Failed"
    assert "RuntimeError: disk on fire" in _text(panel, "run_message")
    assert view.selected_run_id() == "feedface"
    assert view.tabs.tabText(0).startswith("✕")


def test_decimation_keeps_few_points_and_the_extremes() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 60, 50_000))
    y = rng.lognormal(4.6, 0.4, 50_000)
    y[12_345] = 9_999.0  # a spike must survive
    dx, dy = decimate_points(x, y, 1200, 300)
    assert len(dx) <= 1200 and np.all(np.diff(dx) >= 0)
    assert dy.max() == 9_999.0 and dy.min() == y.min()
    small_x, small_y = decimate_points(x[:500], y[:500], 1200, 300)
    assert len(small_x) == len(small_y) == 500  # few points: all of them
    cx, cy = bucket_medians(x, y, 10)
    assert len(cx) == 10 and np.all(np.abs(cy - np.median(y)) < 15)
