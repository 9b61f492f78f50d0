"""Speed charts for Compare: throughput against latency across load, and latency CDFs.

Both are :class:`~openbench_desktop.ui.charts.compare_charts.CompareChart` subclasses, so
they share its theme, legends, scaled-line export and ``data_table`` contract; the
Compare view's "Export all" takes them as they are. The base class redraws from
``self.comparison`` (theme change, high-DPI export); here that attribute holds the
chart's own plain data (a list of :class:`SpeedSeries` or :class:`CdfSeries`) rather
than a core ``Comparison``. Run *i* keeps series colour *i*, as in the other charts.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from openbench_desktop.core.speed.views import (
    CDF_METRICS,
    CURVE_X,
    LATENCY_METRICS,
    STEP_CHOICES,
    CurvePoint,
    curve_points,
)
from openbench_desktop.ui.charts.compare_charts import CompareChart, DataTable, elide, step_xy
from openbench_desktop.ui.theme import series_color

_LEGEND_CHARS = 30
#: Okabe-Ito vermillion: a point whose step was client-limited gets a ring of it.
WARN_COLOR = "#D55E00"
PERCENTILES = ("p50", "p90", "p95", "p99")


def _fg() -> QColor:
    return pg.mkColor(pg.getConfigOption("foreground"))


@dataclass(frozen=True, slots=True)
class SpeedSeries:
    """A run on the throughput-vs-latency chart: its summary's ``speed`` mapping."""

    run_id: str
    label: str
    speed: Mapping[str, Any]
    color_index: int = 0


@dataclass(frozen=True, slots=True)
class CdfSeries:
    """A run's latency CDF (computed off the GUI thread by ``core.speed.views.cdf``)."""

    run_id: str
    label: str
    steps: str  # which steps it covers, in words
    xs: Sequence[float] = field(default_factory=list)
    ys: Sequence[float] = field(default_factory=list)
    color_index: int = 0


class ThroughputLatencyChart(CompareChart):
    """One curve per run through its steps: achieved throughput (x) against a latency
    percentile (y), whiskers = the percentile's 95% bootstrap interval. A single-step run
    is one point."""

    slug = "speed_throughput_latency"
    title = "Throughput vs TTFT p50"

    def __init__(self) -> None:
        self.x_key = "output_tokens_per_s"
        self.metric = "ttft_ms"
        self.pct = "p50"
        self.curves: list[pg.PlotDataItem] = []
        self.error_bars: list[pg.ErrorBarItem] = []
        self.rings: list[pg.ScatterPlotItem] = []
        super().__init__()
        plot = self.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.2)
        self._legend_below()
        self._update_labels()

    @property
    def series(self) -> list[SpeedSeries]:
        return list(self.comparison or [])  # type: ignore[call-overload]

    def set_series(self, series: Sequence[SpeedSeries] | None) -> None:
        self.set_comparison(list(series) if series is not None else None)  # type: ignore[arg-type]

    def set_axes(self, x_key: str | None = None, metric: str | None = None,
                 pct: str | None = None) -> None:
        if x_key is not None and x_key not in CURVE_X:
            raise ValueError(f"unknown throughput axis {x_key!r}")
        if metric is not None and metric not in LATENCY_METRICS:
            raise ValueError(f"unknown latency metric {metric!r}")
        if pct is not None and pct not in PERCENTILES:
            raise ValueError(f"unknown percentile {pct!r}")
        self.x_key = x_key or self.x_key
        self.metric = metric or self.metric
        self.pct = pct or self.pct
        self._update_labels()
        self.set_comparison(self.comparison)

    def _update_labels(self) -> None:
        name = f"{LATENCY_METRICS[self.metric]} {self.pct}"
        self.title = f"Throughput vs {name}"
        self.setAccessibleName(self.title)
        plot = self.getPlotItem()
        plot.setTitle(self.title, color=_fg().name(), size="10pt")
        plot.setLabel("bottom", f"Achieved {CURVE_X[self.x_key].lower()}")
        plot.setLabel("left", f"{name} (ms)")

    def points(self, series: SpeedSeries) -> list[CurvePoint]:
        return curve_points(series.speed, self.x_key, self.metric, self.pct)

    def has_data(self) -> bool:
        return any(self.points(s) for s in self.series)

    def _draw(self, comparison: object) -> None:
        plot = self.getPlotItem()
        self.curves, self.error_bars, self.rings = [], [], []
        drawn = [(s, self.points(s)) for s in self.series]
        drawn = [(s, p) for s, p in drawn if p]
        self._legend_columns(len(drawn))
        xs_all: list[float] = []
        ys_all: list[float] = []
        for s, points in drawn:
            color = series_color(s.color_index)
            x = np.array([p.x for p in points])
            y = np.array([p.y for p in points])
            curve = pg.PlotDataItem(
                x,
                y,
                pen=pg.mkPen(color, width=2 * self.line_scale),
                symbol="o",
                symbolSize=9,
                symbolBrush=pg.mkBrush(color),
                symbolPen=pg.mkPen(_fg(), width=self.line_scale),
                name=elide(s.label, _LEGEND_CHARS),
            )
            plot.addItem(curve)
            self.curves.append(curve)
            with_ci = [p for p in points if p.y_low is not None and p.y_high is not None]
            if with_ci:
                bars = pg.ErrorBarItem(
                    x=np.array([p.x for p in with_ci]),
                    y=np.array([p.y for p in with_ci]),
                    top=np.array([p.y_high - p.y for p in with_ci]),  # type: ignore[operator]
                    bottom=np.array([p.y - p.y_low for p in with_ci]),  # type: ignore[operator]
                    beam=0.0,
                    pen=pg.mkPen(color, width=1.5 * self.line_scale),
                )
                plot.addItem(bars)
                self.error_bars.append(bars)
            limited = [p for p in points if p.client_limited]
            if limited:
                ring = pg.ScatterPlotItem(
                    [p.x for p in limited],
                    [p.y for p in limited],
                    size=18,
                    brush=None,
                    pen=pg.mkPen(WARN_COLOR, width=2 * self.line_scale),
                    symbol="o",
                )
                plot.addItem(ring)
                self.rings.append(ring)
            xs_all += list(x)
            ys_all += [p.y_high if p.y_high is not None else p.y for p in points]
        if xs_all:
            # A hair below 0 so the axes still draw their "0" ticks.
            x_hi, y_hi = max(xs_all) * 1.1 or 1.0, max(ys_all) * 1.12 or 1.0
            plot.setXRange(-0.01 * x_hi, x_hi, padding=0)
            plot.setYRange(-0.01 * y_hi, y_hi, padding=0)

    def data_table(self) -> DataTable:
        header = [
            "run_id", "label", "step", "step_label", "offered_rate", self.x_key,
            "metric", "percentile", "value_ms", "ci_low_ms", "ci_high_ms", "client_limited",
        ]
        rows: list[list[Any]] = []
        for s in self.series:
            for p in self.points(s):
                rows.append([
                    s.run_id, s.label, p.step, p.label, p.offered_rate, p.x,
                    self.metric, self.pct, p.y, p.y_low, p.y_high, p.client_limited,
                ])
        return header, rows


class SpeedCdfChart(CompareChart):
    """The empirical CDF of a per-request latency: one step line per run; log x optional."""

    slug = "speed_latency_cdf"
    title = "TTFT distribution (CDF)"

    def __init__(self) -> None:
        self.metric = "ttft_ms"
        self.log_x = False
        self.step_choice = "highest"
        self.curves: list[pg.PlotDataItem] = []
        super().__init__()
        plot = self.getPlotItem()
        plot.setLabel("left", "Share of requests ≤ latency")
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMouseEnabled(x=True, y=False)
        self._legend_below()
        self._update_labels()

    @property
    def series(self) -> list[CdfSeries]:
        return list(self.comparison or [])  # type: ignore[call-overload]

    def set_series(self, series: Sequence[CdfSeries] | None, metric: str | None = None,
                   step_choice: str | None = None) -> None:
        """New curves (and what they show: the metric and steps they were computed for)."""
        if metric is not None:
            if metric not in CDF_METRICS:
                raise ValueError(f"unknown latency metric {metric!r}")
            self.metric = metric
        if step_choice is not None:
            self.step_choice = step_choice
        self._update_labels()
        self.set_comparison(list(series) if series is not None else None)  # type: ignore[arg-type]

    def set_log_x(self, on: bool) -> None:
        self.log_x = bool(on)
        self.set_comparison(self.comparison)

    def _update_labels(self) -> None:
        name = CDF_METRICS[self.metric]
        steps = STEP_CHOICES.get(self.step_choice, "")
        self.title = f"{name} distribution (CDF), {steps.lower()}"
        self.setAccessibleName(self.title)
        plot = self.getPlotItem()
        plot.setTitle(self.title, color=_fg().name(), size="10pt")
        per = " (per-request mean)" if self.metric == "itl_ms" else ""
        plot.setLabel("bottom", f"{name}{per} (ms)")

    def has_data(self) -> bool:
        return any(s.xs for s in self.series)

    def _draw(self, comparison: object) -> None:
        plot = self.getPlotItem()
        plot.setLogMode(x=self.log_x, y=False)
        drawn = [s for s in self.series if s.xs]
        self._legend_columns(len(drawn))
        self.curves = []
        lo, hi = math.inf, 0.0
        for s in drawn:
            x = np.asarray(s.xs, dtype=float)
            y = np.asarray(s.ys, dtype=float)
            if self.log_x:  # a log axis cannot show 0 ms (a TTFT that rounds to nothing)
                keep = x > 0
                x, y = x[keep], y[keep]
                if not len(x):
                    continue
            xs, ys = step_xy(x, y)
            curve = pg.PlotDataItem(
                xs,
                ys,
                pen=pg.mkPen(series_color(s.color_index), width=2 * self.line_scale),
                name=elide(s.label, _LEGEND_CHARS),
            )
            plot.addItem(curve)
            self.curves.append(curve)
            lo, hi = min(lo, float(x[0])), max(hi, float(x[-1]))
        plot.setYRange(-0.005, 1.02, padding=0)
        if not self.curves:
            return
        if self.log_x:
            # In log mode the view's coordinates are log10 of the data.
            a, b = math.log10(lo), math.log10(hi)
            pad = max(b - a, 0.2) * 0.05
            plot.setXRange(a - pad, b + pad, padding=0)
        else:
            x_hi = hi * 1.03 or 1.0
            plot.setXRange(-0.01 * x_hi, x_hi, padding=0)

    def data_table(self) -> DataTable:
        header = ["run_id", "label", "steps", "metric", "latency_ms", "cumulative_share"]
        rows: list[list[Any]] = []
        for s in self.series:
            for x, y in zip(s.xs, s.ys, strict=True):
                rows.append([s.run_id, s.label, s.steps, self.metric, x, y])
        return header, rows


def export_json(chart: CompareChart, path: str | os.PathLike[str]) -> Path:
    """The chart's numbers as JSON: its title and axes, and one object per row."""
    header, rows = chart.data_table()
    plot = chart.getPlotItem()
    doc = {
        "chart": chart.slug,
        "title": chart.title,
        "x_axis": plot.getAxis("bottom").labelText,
        "y_axis": plot.getAxis("left").labelText,
        "rows": [dict(zip(header, row, strict=True)) for row in rows],
    }
    data = json.dumps(doc, indent=2, allow_nan=False, default=str).encode("utf-8")
    # Written beside the target and renamed, as ui/charts/export.py does: a failed export
    # never leaves a truncated file under the chosen name.
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    try:
        part.write_bytes(data)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


__all__ = [
    "CdfSeries",
    "SpeedCdfChart",
    "SpeedSeries",
    "ThroughputLatencyChart",
    "export_json",
]
