"""The speed section of Compare over REAL speed runs against the loopback server."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import RunSummary
from openbench_desktop.core.secrets import InMemorySecretStore
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.ui.charts.export import export_charts
from openbench_desktop.ui.views.speed_compare import SpeedCompareSection
from tests.ui.test_speed_detail import build_speed_runs, calm_run


@pytest.fixture(scope="module")
def speed_ctx(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from openbench_desktop.ui.app import build_context, shutdown_context

    paths = AppPaths.under(tmp_path_factory.mktemp("speed_compare") / "home")
    context = build_context(paths, InMemorySecretStore())
    yield context
    shutdown_context(context)


@pytest.fixture(scope="module")
def runs(speed_ctx: Any) -> dict[str, RunSummary]:
    return build_speed_runs(speed_ctx)


@pytest.fixture
def section(speed_ctx: Any, qtbot: Any) -> SpeedCompareSection:
    widget = SpeedCompareSection(speed_ctx)
    qtbot.addWidget(widget)
    widget.resize(1000, 520)
    return widget


def show(qtbot: Any, section: SpeedCompareSection, *run_ids: str) -> None:
    section.set_runs(run_ids)
    qtbot.waitUntil(
        lambda: not section.is_busy() and section.cdf_chart.has_data(), timeout=10_000
    )


def test_curve_points_are_the_steps_achieved_throughput_and_latency(
    section: SpeedCompareSection, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    sweep, conc = runs["sweep"], runs["concurrency"]
    show(qtbot, section, sweep.run_id, conc.run_id)
    chart = section.throughput_chart
    assert len(chart.curves) == 2
    for curve, summary in zip(chart.curves, (sweep, conc), strict=True):
        steps = summary.speed["steps"]  # type: ignore[index]
        x, y = curve.getData()
        assert list(x) == [s["output_tokens_per_s"] for s in steps]
        assert list(y) == [s["metrics"]["ttft_ms"]["p50"] for s in steps]
    assert len(chart.curves[0].getData()[0]) == 3  # a sweep: one point per step
    assert len(chart.curves[1].getData()[0]) == 1  # a single-step run: one point
    # Whiskers are the stored bootstrap intervals.
    bars = chart.error_bars[0].opts
    top = sweep.speed["steps"][0]["metrics"]["ttft_ms"]  # type: ignore[index]
    assert bars["top"][0] == pytest.approx(top["ci"]["p50"][1] - top["p50"])
    # Switching axes: requests/s against E2E p99.
    section.x_combo.setCurrentIndex(section.x_combo.findData("requests_per_s"))
    section.metric_combo.setCurrentIndex(section.metric_combo.findData("e2e_ms"))
    section.pct_combo.setCurrentIndex(section.pct_combo.findData("p99"))
    x, y = chart.curves[0].getData()
    steps = sweep.speed["steps"]  # type: ignore[index]
    assert list(x) == [s["requests_per_s"] for s in steps]
    assert list(y) == [s["metrics"]["e2e_ms"]["p99"] for s in steps]
    plot = chart.getPlotItem()
    assert plot.titleLabel.text == "Throughput vs E2E p99"
    assert plot.getAxis("left").labelText == "E2E p99 (ms)"
    assert plot.getAxis("bottom").labelText == "Achieved requests/s"
    header, rows = chart.data_table()
    assert len(rows) == 4 and rows[0][header.index("value_ms")] == steps[0]["metrics"][
        "e2e_ms"]["p99"]


def test_cdfs_end_at_one_with_a_point_per_successful_request(
    section: SpeedCompareSection, speed_ctx: Any, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    sweep, conc = runs["sweep"], runs["concurrency"]
    show(qtbot, section, sweep.run_id, conc.run_id)
    chart = section.cdf_chart
    # Default: TTFT at each run's highest-load step (the sweep's throughput step).
    top = sweep.speed["steps"][-1]  # type: ignore[index]
    sweep_series, conc_series = chart.series
    assert len(sweep_series.xs) == top["n_ok"] == 6
    assert len(conc_series.xs) == conc.n_ok == 12
    for s in chart.series:
        assert s.ys[-1] == 1.0 and list(s.xs) == sorted(s.xs)
    # The values are the stored requests' TTFTs under the run's definitions.
    stored = sorted(
        r.ttft_ms for r in speed_ctx.store.get_results(conc.run_id) if r.ttft_ms is not None
    )
    assert conc_series.xs == pytest.approx(stored)
    _x, y = chart.curves[0].getData()
    assert y[-1] == 1.0 and y[0] == 0.0

    # All steps of the sweep, E2E.
    section.cdf_steps_combo.setCurrentIndex(section.cdf_steps_combo.findData("all"))
    section.cdf_metric_combo.setCurrentIndex(section.cdf_metric_combo.findData("e2e_ms"))
    qtbot.waitUntil(lambda: not section.is_busy() and chart.metric == "e2e_ms", timeout=5000)
    assert len(chart.series[0].xs) == sweep.n_ok == 18
    assert chart.series[0].steps == "all steps"
    assert "E2E distribution" in chart.title and "all steps" in chart.title
    _header, rows = chart.data_table()
    assert len(rows) == sweep.n_ok + conc.n_ok

    # Log x: the view range is in log10 of the milliseconds.
    section.log_check.setChecked(True)
    assert chart.getPlotItem().ctrl.logXCheck.isChecked()
    low, high = chart.getPlotItem().viewRange()[0]
    xs = np.concatenate([np.asarray(s.xs) for s in chart.series])
    assert low < np.log10(xs.min()) < np.log10(xs.max()) < high


def test_runs_failing_some_requests_count_only_the_successful_ones(
    section: SpeedCompareSection, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    overload = runs["overload"]
    assert overload.n_failed > 0
    show(qtbot, section, overload.run_id)
    [series] = section.cdf_chart.series
    assert len(series.xs) == overload.n_ok
    assert series.ys[-1] == 1.0


def test_client_limited_and_mixed_definitions_are_flagged(
    section: SpeedCompareSection, qtbot: Any, runs: dict[str, RunSummary]
) -> None:
    show(qtbot, section, runs["concurrency"].run_id, runs["limited"].run_id)
    warning = section.warning_label
    assert warning.isVisibleTo(section)
    assert "Client-limited:" in warning.text() and "limited —" in warning.text()
    # The limited run's step is ringed (and the other run's, only if it was flagged too).
    rings = section.throughput_chart.rings
    assert len(rings) == 1 + bool(runs["concurrency"].speed["client_limited"])  # type: ignore[index]
    show(qtbot, section, calm_run(runs).run_id)
    assert warning.isHidden() and not section.throughput_chart.rings


def test_exports_parse(
    section: SpeedCompareSection, qtbot: Any, runs: dict[str, RunSummary], tmp_path: Path
) -> None:
    show(qtbot, section, runs["sweep"].run_id, runs["concurrency"].run_id)
    section.show()
    qtbot.waitExposed(section)
    answers: list[str] = []
    section._ask_save_path = lambda _title, _suggested: (answers.pop(0), "")  # type: ignore[method-assign]
    errors: list[str] = []
    section._show_error = lambda _t, message: errors.append(message)  # type: ignore[method-assign]
    for chart, card in (
        (section.throughput_chart, section.throughput_card),
        (section.cdf_chart, section.cdf_card),
    ):
        for suffix in ("png", "svg", "csv", "json"):
            answers.append(str(tmp_path / f"{chart.slug}.{suffix}"))
            qtbot.mouseClick(card.export_button, qtbot_left())
    assert errors == []
    curve_csv = list(csv.DictReader((tmp_path / "speed_throughput_latency.csv").open()))
    steps = runs["sweep"].speed["steps"]  # type: ignore[index]
    assert len(curve_csv) == 4
    assert float(curve_csv[0]["value_ms"]) == steps[0]["metrics"]["ttft_ms"]["p50"]
    doc = json.loads((tmp_path / "speed_latency_cdf.json").read_text())
    assert doc["chart"] == "speed_latency_cdf" and doc["x_axis"] == "TTFT (ms)"
    assert len(doc["rows"]) == 6 + 12 and doc["rows"][5]["cumulative_share"] == 1.0
    for slug in ("speed_throughput_latency", "speed_latency_cdf"):
        assert (tmp_path / f"{slug}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (tmp_path / f"{slug}.svg").read_bytes()[:2000]
    assert str(tmp_path) in section.status_label.text()
    # The Compare view's "Export all" takes the section's charts as they are.
    written = export_charts(section.charts(), tmp_path / "all", dpi=96)
    assert len(written) == 6 and all(p.stat().st_size > 0 for p in written)


def qtbot_left() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_definitions_of_the_curve_are_each_runs_own(runs: dict[str, RunSummary]) -> None:
    # The stored step figures the curves draw are those of the run's chosen definitions.
    step = runs["concurrency"].speed["steps"][0]  # type: ignore[index]
    assert step["metrics"]["ttft_ms"]["p50"] == step["by_definition"]["openbench"]["ttft_ms"][
        "p50"]
    assert runs["concurrency"].speed["definitions"] == "openbench"  # type: ignore[index]
    assert set(step["by_definition"]) == set(sm.DEFINITIONS)


def test_screenshot(
    section: SpeedCompareSection,
    speed_ctx: Any,
    qtbot: Any,
    runs: dict[str, RunSummary],
    shots_dir: Path,
) -> None:
    from PySide6.QtWidgets import QApplication

    from openbench_desktop.ui.theme import apply_theme

    apply_theme(QApplication.instance(), speed_ctx.settings.theme)  # as the app does
    for chart in (section.throughput_chart, section.cdf_chart):
        chart.apply_theme()
    section.resize(1280, 800)
    show(qtbot, section, runs["sweep"].run_id, runs["concurrency"].run_id,
         runs["limited"].run_id)
    section.show()
    qtbot.waitExposed(section)
    qtbot.wait(50)
    path = shots_dir / "speed_compare.png"
    assert section.grab().save(str(path))
    section.log_check.setChecked(True)
    section.cdf_steps_combo.setCurrentIndex(section.cdf_steps_combo.findData("all"))
    qtbot.waitUntil(lambda: not section.is_busy(), timeout=5000)
    qtbot.wait(50)
    assert section.grab().save(str(shots_dir / "speed_compare_log.png"))
    assert path.stat().st_size > 10_000
