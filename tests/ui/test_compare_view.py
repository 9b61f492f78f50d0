"""The Compare view driven like a user: pick runs, read the charts and table, export."""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from openbench_desktop.core.domain import (
    DatasetRef,
    RunManifest,
    RunSpec,
    RunStatus,
    SampleResult,
    SampleStatus,
)
from openbench_desktop.core.engine.metrics import summarize, wilson_interval
from openbench_desktop.core.loopback import gsm8k_responder
from openbench_desktop.core.stats.compare import mcnemar_exact_p
from openbench_desktop.ui.charts.export import METERS_PER_INCH
from openbench_desktop.ui.models import compare_deltas_model as cols
from openbench_desktop.ui.views.compare_view import CompareView

MS = 1_000_000
N = 60
# Paired correctness (sample index -> right?), chosen so the McNemar tables are known:
#   A right on 0..41                      -> 42/60 = 70%
#   B right on 0..39 and 42..49           -> 48/60 = 80%; vs A: won 8, lost 2
#   C right on 0..29                      -> 30/60 = 50%; vs A: won 0, lost 12
CORRECT = {
    "A": [i < 42 for i in range(N)],
    "B": [i < 40 or 42 <= i < 50 for i in range(N)],
    "C": [i < 30 for i in range(N)],
}
MEDIAN_MS = {"A": 900.0, "B": 600.0, "C": 300.0}
COST = {"A": 0.12, "B": 0.30, "C": None}
MODEL = {"A": "llama-3.1-8b-instruct", "B": "qwen2.5-7b-instruct", "C": "phi-3-mini-4k"}


def _result(index: int, correct: bool, e2e_ms: float, ttft_ms: float) -> SampleResult:
    """A realistic streamed result: 20 text chunks between TTFT and the end."""
    offsets = tuple(int(x) for x in np.linspace(ttft_ms * MS, (e2e_ms - 2) * MS, 20))
    answer = str(100 + index)
    return SampleResult(
        index=index,
        status=SampleStatus.OK,
        sample_id=f"gsm8k-test-{index}",
        prompt=f"Question {index}: what is 100 + {index}?",
        output=f"100 + {index} = {answer if correct else answer + '1'}. The answer is "
        f"{answer if correct else answer + '1'}.",
        expected=answer,
        extracted=answer if correct else answer + "1",
        score=1.0 if correct else 0.0,
        finish_reason="stop",
        input_tokens=80,
        output_tokens=40,
        usage_reported=True,
        streamed=True,
        started_ns=1_000_000_000 + index * 50 * MS,
        end_offset_ns=int(e2e_ms * MS),
        chunk_offsets_ns=offsets,
        chunk_chars=(3,) * len(offsets),
        chunk_kinds="c" * len(offsets),
        ttft_ms=offsets[0] / MS,
        itl_ms=(offsets[-1] - offsets[0]) / (len(offsets) - 1) / MS,
        e2e_ms=e2e_ms,
    )


def make_run(
    store: object,
    key: str,
    *,
    sha: str = "5a5e" * 16,
    correct: Sequence[bool] | None = None,
) -> str:
    correct = CORRECT[key] if correct is None else correct
    rng = np.random.default_rng(ord(key))
    e2e = rng.lognormal(np.log(MEDIAN_MS[key]), 0.25, len(correct))
    results = [
        _result(i, c, float(e), float(e) * 0.2)
        for i, (c, e) in enumerate(zip(correct, e2e, strict=True))
    ]
    spec = RunSpec(
        provider="openai",
        base_url="http://127.0.0.1:8000/v1",
        model=MODEL[key],
        benchmark="gsm8k",
        dataset=DatasetRef(path="/data/gsm8k/test.jsonl"),
        limit=len(correct),
    )
    manifest = RunManifest(
        app_version="0.1.0",
        python_version="3.11.2",
        platform="Linux",
        package_versions={"httpx": "0.27.0"},
        dataset_sha256=sha,
        dataset_description="/data/gsm8k/test.jsonl",
        n_dataset_samples=1319,
        config=spec.to_dict(),
        created_at="2024-06-01T12:00:00+00:00",
    )
    run_id = store.create_run(spec, n_total=len(correct), manifest=manifest)
    store.add_results(run_id, results)
    summary = summarize(
        run_id=run_id,
        status=RunStatus.COMPLETED,
        benchmark="gsm8k",
        model=MODEL[key],
        n_samples=len(correct),
        results=results,
        duration_s=12.5,
    )
    store.finish_run(run_id, RunStatus.COMPLETED, summary=summary)
    store.set_cost(run_id, COST[key])
    return run_id


@pytest.fixture
def three_runs(ctx: object) -> dict[str, str]:
    ids = {key: make_run(ctx.store, key) for key in ("A", "B", "C")}
    ctx.signals.runs_changed.emit()  # as the main window does when a run ends
    return ids


def wait_compared(qtbot: object, view: CompareView, n_runs: int) -> None:
    qtbot.waitUntil(
        lambda: (
            not view.is_busy()
            and view.comparison is not None
            and len(view.comparison.runs) == n_runs
        ),
        timeout=10_000,
    )


@pytest.fixture
def view(qtbot: object, ctx: object) -> CompareView:
    widget = CompareView(ctx)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    return widget


def cell(view: CompareView, row: int, col: int) -> str:
    return view.deltas_model.index(row, col).data()


# --- empty state and picking -----------------------------------------------------------------


def test_empty_state_until_two_runs_are_picked(
    qtbot: object, ctx: object, view: CompareView, three_runs: dict[str, str]
) -> None:
    assert view.stack.currentIndex() == 0
    assert "Pick two or more runs" in view.empty_label.text()
    assert not view.export_all_button.isEnabled()
    ctx.signals.compare_runs.emit([three_runs["A"]])
    qtbot.wait(50)
    assert view.stack.currentIndex() == 0
    assert "One run is ticked" in view.empty_label.text()
    assert view.comparison is None


def test_run_list_loads_off_thread_and_ticking_compares(
    qtbot: object, view: CompareView, three_runs: dict[str, str]
) -> None:
    qtbot.waitUntil(lambda: view.run_list.count() == 3, timeout=5000)
    # newest first: C, B, A
    ids = [view.run_list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(3)]
    assert ids == [three_runs["C"], three_runs["B"], three_runs["A"]]
    assert "phi-3-mini-4k" in view.run_list.item(0).text()
    assert "50.0%" in view.run_list.item(0).text()

    # tick B then A with the keyboard (Space toggles the tick)
    view.run_list.setFocus()
    for row in (1, 2):
        view.run_list.setCurrentRow(row)
        qtbot.keyClick(view.run_list.viewport(), Qt.Key.Key_Space)
    assert view.picked_run_ids() == [three_runs["B"], three_runs["A"]]
    wait_compared(qtbot, view, 2)
    assert view.stack.currentIndex() == 1
    assert view.baseline_combo.currentText() == MODEL["B"]
    # A against baseline B: 10 pp worse, won 2 / lost 8
    assert cell(view, 0, cols.ACCURACY).startswith("−10.0 pp\n[")
    assert cell(view, 0, cols.WON_LOST) == "2 / 8"

    # choose A as the baseline: the sign flips
    view.baseline_combo.setCurrentIndex(view.baseline_combo.findData(three_runs["A"]))
    view.baseline_combo.activated.emit(view.baseline_combo.currentIndex())
    qtbot.waitUntil(
        lambda: not view.is_busy() and view.comparison.baseline.run_id == three_runs["A"],
        timeout=10_000,
    )
    assert cell(view, 0, cols.ACCURACY).startswith("+10.0 pp\n[")

    # the filter hides unticked runs that do not match
    qtbot.keyClicks(view.filter_edit, "phi")
    assert not view.run_list.item(0).isHidden()  # phi (unticked, matches)
    assert not view.run_list.item(1).isHidden()  # ticked: always shown
    view.filter_edit.clear()

    # un-ticking one leaves one: the empty state again
    view.run_list.setCurrentRow(1)
    qtbot.keyClick(view.run_list.viewport(), Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: view.stack.currentIndex() == 0, timeout=5000)


def test_a_changed_selection_wins_over_one_still_computing(
    qtbot: object, ctx: object, view: CompareView, three_runs: dict[str, str]
) -> None:
    a, b, c = (three_runs[k] for k in "ABC")
    ctx.signals.compare_runs.emit([a, b])
    ctx.signals.compare_runs.emit([c, a])  # before the first answer arrives
    wait_compared(qtbot, view, 2)
    qtbot.wait(200)  # give a stale answer the chance to arrive (it must be dropped)
    assert [r.run_id for r in view.comparison.runs] == [c, a]
    assert view.baseline_combo.currentData() == c
    assert cell(view, 0, cols.RUN) == MODEL["A"]
    assert cell(view, 0, cols.ACCURACY).startswith("+20.0 pp")


def test_a_missing_run_shows_an_error(qtbot: object, ctx: object, view: CompareView) -> None:
    a = make_run(ctx.store, "A")
    ctx.signals.compare_runs.emit([a, "0" * 32])
    qtbot.waitUntil(lambda: not view.is_busy() and "Could not read" in view.status_label.text())
    assert view.stack.currentIndex() == 0
    assert "No run with id" in view.empty_label.text()
    assert view.comparison is None


# --- what the charts and the table show -----------------------------------------------------


def test_charts_and_deltas_for_three_runs(
    qtbot: object, ctx: object, view: CompareView, three_runs: dict[str, str]
) -> None:
    ctx.signals.compare_runs.emit([three_runs["A"], three_runs["B"], three_runs["C"]])
    wait_compared(qtbot, view, 3)
    comp = view.comparison
    expected_acc = [0.70, 0.80, 0.50]

    # accuracy bars: 3 bars, heights = accuracies (percent), Wilson whiskers
    bars = view.scores_chart.bars
    assert list(bars.opts["x"]) == [0, 1, 2]
    assert list(bars.opts["height"]) == pytest.approx([a * 100 for a in expected_acc])
    whiskers = view.scores_chart.error_bars
    assert whiskers.isVisible()
    for i, (k, a) in enumerate(zip((42, 48, 30), expected_acc, strict=True)):
        low, high = wilson_interval(k, N)
        assert whiskers.opts["top"][i] == pytest.approx(high * 100 - a * 100)
        assert whiskers.opts["bottom"][i] == pytest.approx(a * 100 - low * 100)
    assert [t.toPlainText() for t in view.scores_chart.value_labels] == [
        "70.0%",
        "80.0%",
        "50.0%",
    ]

    # latency percentiles: one bar series per run, four percentiles each
    assert len(view.latency_chart.bar_items) == 3
    for item, run in zip(view.latency_chart.bar_items, comp.runs, strict=True):
        assert list(item.opts["height"]) == pytest.approx(
            [run.e2e_ms[k].value for k in ("p50", "p90", "p95", "p99")]
        )
    assert len(view.latency_chart.error_bars.opts["x"]) == 12
    view.latency_metric.setCurrentIndex(view.latency_metric.findData("ttft"))
    assert view.latency_chart.bar_items[0].opts["height"][0] == pytest.approx(
        comp.runs[0].ttft_ms["p50"].value
    )
    assert "first token" in view.latency_chart.getPlotItem().getAxis("left").labelText

    # CDF: one curve per run, ending at 1
    assert len(view.cdf_chart.curves) == 3
    for curve in view.cdf_chart.curves:
        x, y = curve.getData()
        assert y[-1] == 1.0 and len(x) == 2 * N
    legend_names = [label.text for _sample, label in view.cdf_chart.legend.items]
    assert legend_names == [MODEL["A"], MODEL["B"], MODEL["C"]]

    # scatters: 3 points vs latency; 2 vs cost (C has no cost)
    assert len(view.scatter_chart.points) == 3
    x0 = view.scatter_chart.points[0].data["x"][0]
    assert x0 == pytest.approx(comp.runs[0].median_e2e_ms)
    assert len(view.cost_chart.points) == 2
    assert not view.cards["accuracy_vs_cost"].isHidden()

    # deltas against A
    assert view.deltas_model.rowCount() == 2
    assert cell(view, 0, cols.RUN) == MODEL["B"]
    assert cell(view, 0, cols.PAIRED) == "60"
    assert cell(view, 0, cols.ACCURACY).startswith("+10.0 pp\n[")
    assert cell(view, 0, cols.P_VALUE) == "0.109"  # 2·P(X≤2 | n=10, ½) = 112/1024
    assert cell(view, 0, cols.WON_LOST) == "8 / 2"
    assert cell(view, 0, cols.COST) == "+$0.18"
    assert cell(view, 1, cols.ACCURACY).startswith("−20.0 pp\n[")
    assert cell(view, 1, cols.P_VALUE) == "< 0.001"  # 2 / 2^12
    assert cell(view, 1, cols.WON_LOST) == "0 / 12"
    assert cell(view, 1, cols.COST) == "—"
    raw_p = view.deltas_model.index(0, cols.P_VALUE).data(Qt.ItemDataRole.UserRole)
    assert raw_p == pytest.approx(112 / 1024)
    e2e_text = cell(view, 0, cols.E2E)
    assert e2e_text.startswith("−") and e2e_text.endswith("]")  # B is faster than A
    assert "Against the baseline, " + MODEL["A"] in view.deltas_caption.text()
    assert view.warning_label.isHidden()  # same dataset hash everywhere
    assert view.selected_run_id() == three_runs["A"]


def test_different_datasets_are_flagged(qtbot: object, ctx: object, view: CompareView) -> None:
    a = make_run(ctx.store, "A", sha="a" * 64)
    b = make_run(ctx.store, "B", sha="b" * 64)
    ctx.signals.compare_runs.emit([a, b])
    wait_compared(qtbot, view, 2)
    assert view.warning_label.isVisible()
    assert "different dataset files" in view.warning_label.text()


# --- export ---------------------------------------------------------------------------------------


def test_export_png_dpi_svg_and_csv(
    qtbot: object, ctx: object, view: CompareView, three_runs: dict[str, str], tmp_path: Path
) -> None:
    ctx.signals.compare_runs.emit([three_runs["A"], three_runs["B"], three_runs["C"]])
    wait_compared(qtbot, view, 3)
    assert view.dpi_spin.value() == 300

    # PNG through the card's Export… button (the file dialog answered by the test)
    png = tmp_path / "accuracy.png"
    view._ask_save_path = lambda _title, _suggested: (str(png), "PNG image (*.png)")
    qtbot.mouseClick(view.cards["accuracy"].export_button, Qt.MouseButton.LeftButton)
    assert png.is_file()
    image = QImage(str(png))
    assert not image.isNull()
    assert image.dotsPerMeterX() == pytest.approx(300 / METERS_PER_INCH, abs=1)
    assert image.dotsPerMeterY() == pytest.approx(300 / METERS_PER_INCH, abs=1)
    assert f"Saved {png}" in view.status_label.text()

    view.dpi_spin.setValue(96)
    small = view.export_chart("accuracy", tmp_path / "accuracy96.png")
    small_image = QImage(str(small))
    assert small_image.width() < image.width()
    assert image.width() == pytest.approx(small_image.width() * 300 / 96, rel=0.02)
    view.dpi_spin.setValue(300)

    # SVG: chosen by the filter when the name has no suffix
    view._ask_save_path = lambda _t, _s: (str(tmp_path / "cdf"), "SVG vector image (*.svg)")
    qtbot.mouseClick(view.cards["latency_cdf"].export_button, Qt.MouseButton.LeftButton)
    svg = tmp_path / "cdf.svg"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "<svg" in svg.read_text(encoding="utf-8")

    # CSV: the numbers behind the accuracy chart
    path = view.export_chart("accuracy", tmp_path / "accuracy.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run_id"] for r in rows] == [three_runs[k] for k in "ABC"]
    for row, run in zip(rows, view.comparison.runs, strict=True):
        assert float(row["accuracy"]) == run.accuracy
        assert float(row["ci_low"]) == run.accuracy_ci[0]
        assert float(row["ci_high"]) == run.accuracy_ci[1]
        assert int(row["n_correct"]) == run.n_correct


def test_export_all_to_a_folder(
    qtbot: object, ctx: object, view: CompareView, three_runs: dict[str, str], tmp_path: Path
) -> None:
    ctx.signals.compare_runs.emit([three_runs["A"], three_runs["B"], three_runs["C"]])
    wait_compared(qtbot, view, 3)
    out = tmp_path / "figures"
    view._ask_folder = lambda: str(out)
    qtbot.mouseClick(view.export_all_button, Qt.MouseButton.LeftButton)
    slugs = ["accuracy", "latency_percentiles", "latency_cdf", "accuracy_vs_latency"]
    slugs.append("accuracy_vs_cost")
    for slug in slugs:
        for ext in ("png", "svg", "csv"):
            assert (out / f"{slug}.{ext}").stat().st_size > 0, f"{slug}.{ext}"
        assert not QImage(str(out / f"{slug}.png")).isNull()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{s}.{e}" for s in slugs for e in ("png", "svg", "csv")] + ["deltas.csv"]
    )
    assert "16 files" in view.status_label.text()

    with (out / "deltas.csv").open(newline="", encoding="utf-8") as fh:
        deltas = list(csv.DictReader(fh))
    assert [d["run_id"] for d in deltas] == [three_runs["B"], three_runs["C"]]
    assert float(deltas[0]["accuracy_diff"]) == pytest.approx(0.10)
    assert float(deltas[0]["mcnemar_p"]) == pytest.approx(112 / 1024)
    assert float(deltas[1]["mcnemar_p"]) == pytest.approx(mcnemar_exact_p(12, 0))
    pair = view.comparison.pairs[0]
    assert float(deltas[0]["accuracy_diff_ci_low"]) == pair.accuracy_diff.low
    assert float(deltas[0]["median_e2e_diff_ms"]) == pair.e2e_median_diff_ms.value

    with (out / "latency_cdf.csv").open(newline="", encoding="utf-8") as fh:
        cdf = list(csv.DictReader(fh))
    assert len(cdf) == 3 * N
    assert math.isclose(float(cdf[N - 1]["cumulative_share"]), 1.0)


def test_export_failure_is_reported(
    qtbot: object, ctx: object, view: CompareView, three_runs: dict[str, str], tmp_path: Path
) -> None:
    ctx.signals.compare_runs.emit([three_runs["A"], three_runs["B"]])
    wait_compared(qtbot, view, 2)
    errors: list[str] = []
    view._show_error = lambda _title, message: errors.append(message)
    view._ask_save_path = lambda _t, _s: (str(tmp_path / "chart.pdf"), "All files (*)")
    view._on_export_chart(view.scores_chart)
    assert errors and "choose a .png, .svg or .csv" in errors[0]
    assert not (tmp_path / "chart.pdf").exists()


# --- a real run end to end ---------------------------------------------------------------------


def test_compare_two_real_loopback_runs(
    qtbot: object,
    ctx: object,
    view: CompareView,
    make_loopback_server: object,
    gsm8k_path: Path,
) -> None:
    from openbench_desktop.core.engine.runner import RunDeps, execute_run

    deps = RunDeps(store=ctx.store, writer=ctx.writer, paths=ctx.paths, secrets=ctx.secrets)
    run_ids = []
    for wrong_every in (4, 5):
        server = make_loopback_server(responder=gsm8k_responder(gsm8k_path, wrong_every))
        spec = RunSpec(
            provider="openai",
            base_url=server.base_url,
            model="simulated-gsm8k",
            benchmark="gsm8k",
            dataset=DatasetRef(path=str(gsm8k_path)),
            limit=40,
            concurrency=8,
            name=f"wrong every {wrong_every}",
        )
        summary = execute_run(spec, deps)
        assert summary.status is RunStatus.COMPLETED
        run_ids.append(summary.run_id)
    ctx.signals.compare_runs.emit(run_ids)
    wait_compared(qtbot, view, 2)
    # wrong every 4th: 3, 7, ..., 39 (10 wrong); every 5th: 4, 9, ..., 39 (8 wrong)
    assert [r.accuracy for r in view.comparison.runs] == [0.75, 0.80]
    pair = view.comparison.pairs[0]
    assert (pair.n_paired, pair.n_other_only, pair.n_baseline_only) == (40, 8, 6)
    assert pair.same_dataset is True
    assert cell(view, 0, cols.ACCURACY).startswith("+5.0 pp\n")
    assert cell(view, 0, cols.P_VALUE) == f"{mcnemar_exact_p(6, 8):.3g}"
    assert len(view.cdf_chart.curves) == 2


# --- look at it -----------------------------------------------------------------------------------


def test_screenshot_three_runs(
    qtbot: object, ctx: object, view: CompareView, three_runs: dict[str, str], shots_dir: Path
) -> None:
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from openbench_desktop.ui.theme import apply_theme

    app = QApplication.instance()
    palette, style = app.palette(), app.style().name()
    options = {k: pg.getConfigOption(k) for k in ("background", "foreground", "antialias")}
    # as the app starts: the user's theme, announced to the views
    apply_theme(app, ctx.settings.theme)
    ctx.signals.theme_changed.emit(ctx.settings.theme)
    try:
        qtbot.waitUntil(lambda: view.run_list.count() == 3, timeout=5000)
        ctx.signals.compare_runs.emit([three_runs["A"], three_runs["B"], three_runs["C"]])
        wait_compared(qtbot, view, 3)
        qtbot.wait(50)
        assert view.grab().save(str(shots_dir / "compare.png"))
        # the whole scrolled content too, to check the charts below the fold
        assert view.results_widget.grab().save(str(shots_dir / "compare_full.png"))
    finally:  # leave no global theme behind for other tests
        pg.setConfigOptions(**options)
        app.setStyle(style)
        app.setPalette(palette)
    assert QImage(str(shots_dir / "compare.png")).width() == 1280
