"""The Compare view's charts: one pyqtgraph plot per question, fed a core ``Comparison``.

Each chart draws itself from a :class:`~openbench_desktop.core.stats.Comparison` and can
say which numbers it drew (:meth:`CompareChart.data_table`) so exports ship the data
behind every picture. Run *i* keeps series colour *i* (Okabe-Ito, ``ui/theme.py``) in every
chart, so a run is recognisable across them. Titles, axis labels and legends are inside
the plot item so an exported image is self-explanatory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QResizeEvent

from openbench_desktop.core.stats import Comparison, Estimate, RunStats
from openbench_desktop.core.stats.compare import PERCENTILE_KEYS
from openbench_desktop.ui.theme import series_color

Cell = str | int | float | None
DataTable = tuple[list[str], list[list[Cell]]]

_LEGEND_CHARS = 30


def elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _fg() -> QColor:
    return pg.mkColor(pg.getConfigOption("foreground"))


def _whisker_pen(scale: float = 1.0) -> object:
    color = _fg()
    color.setAlpha(200)
    return pg.mkPen(color, width=1.5 * scale)


def _span(
    values: Sequence[float], pad: float = 0.08, floor: float | None = None
) -> tuple[float, float]:
    """A range covering ``values`` with ``pad`` of its width on each side."""
    lo, hi = min(values), max(values)
    width = hi - lo or max(abs(hi), 1.0) * 0.2
    lo, hi = lo - width * pad, hi + width * pad
    if floor is not None:
        lo = max(lo, floor)
    return lo, hi


class CompareChart(pg.PlotWidget):
    """A plot that shows one aspect of a comparison; subclasses draw it."""

    slug = "chart"  # file name stem for exports
    title = "Chart"

    def __init__(self) -> None:
        # Before the base __init__: it already calls resizeEvent, which reads these.
        self.comparison: Comparison | None = None
        self._legend_in_layout = False
        self.line_scale = 1.0  # > 1 while exporting a high-DPI image (see scaled_lines)
        self.legend: pg.LegendItem | None = None
        super().__init__()
        self.setObjectName(f"chart_{self.slug}")
        self.setAccessibleName(self.title)
        self.setMinimumHeight(300)
        plot = self.getPlotItem()
        plot.hideButtons()
        # pyqtgraph's own context menu has an export dialog of its own; the view's
        # "Export…" (with DPI and CSV) is the one way to export.
        plot.setMenuEnabled(False)
        self.apply_theme()

    def sizeHint(self) -> QSize:
        # pyqtgraph asks for 640x480; two charts side by side and a table above them
        # should fit a 1280x800 window without the first row filling it.
        return QSize(480, 340)

    @contextlib.contextmanager
    def scaled_lines(self, factor: float) -> Iterator[None]:
        """Redraw with lines and markers ``factor`` times thicker, for a scaled export.

        Pens and scatter markers are cosmetic (sized in device pixels): an image rendered
        at 300 dpi would otherwise show them at a third of their on-screen weight.
        """
        self.line_scale = factor
        self.set_comparison(self.comparison)
        try:
            yield
        finally:
            self.line_scale = 1.0
            self.set_comparison(self.comparison)

    # -- theme -----------------------------------------------------------------------------

    def apply_theme(self) -> None:
        """Take the current pyqtgraph colours (set by ``ui.theme.apply_theme``) and redraw."""
        fg = _fg()
        self.setBackground(pg.getConfigOption("background"))
        plot = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(fg)
            axis.setTextPen(fg)
            # Units are in the axis labels; a "(x0.001)" scale suffix would contradict them.
            axis.enableAutoSIPrefix(False)
        # Short titles at 10pt: pyqtgraph will not shrink a plot below its title's width.
        plot.setTitle(self.title, color=fg.name(), size="10pt")
        if self.legend is not None:
            if self.legend.brush().style() != Qt.BrushStyle.NoBrush:
                self.legend.setBrush(self._legend_brush())
            self.legend.setLabelTextColor(fg)
        self.set_comparison(self.comparison)

    def _legend(self, offset: tuple[int, int]) -> pg.LegendItem:
        if self.legend is None:
            self.legend = self.getPlotItem().addLegend(
                offset=offset,
                brush=self._legend_brush(),
                labelTextColor=_fg(),
                labelTextSize="9pt",
            )
        return self.legend

    def _legend_below(self) -> pg.LegendItem:
        """A legend in a row under the x axis, where it can never hide a data point.

        For charts whose empty corner depends on the data (scatters, CDFs). Put in
        PlotItem's grid (row 4: under the bottom axis) and registered as the plot's
        legend so named items still add themselves to it.
        """
        if self.legend is None:
            plot = self.getPlotItem()
            legend = pg.LegendItem(
                brush=None, labelTextColor=_fg(), labelTextSize="9pt", horSpacing=14
            )
            plot.layout.addItem(legend, 4, 1)
            plot.legend = legend
            self.legend = legend
            self._legend_in_layout = True
        return self.legend

    def _legend_columns(self, n: int) -> None:
        if self.legend is not None:
            self.legend.setColumnCount(1 if n <= 1 else 2)

    @staticmethod
    def _legend_brush() -> object:
        bg = pg.mkColor(pg.getConfigOption("background"))
        bg.setAlpha(210)  # curves behind the legend stay faintly visible
        return pg.mkBrush(bg)

    # -- data ------------------------------------------------------------------------------

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.comparison = comparison
        self.getPlotItem().clear()
        if comparison is not None:
            self._draw(comparison)
        if self._legend_in_layout:
            # LegendItem.updateSize() moves the legend to (0, 0) of its parent; put it back
            # in its grid cell now, not at the next event loop pass (an export renders
            # right after a redraw).
            layout = self.getPlotItem().layout
            layout.invalidate()
            layout.activate()

    def _draw(self, comparison: Comparison) -> None:
        raise NotImplementedError

    def has_data(self) -> bool:
        return self.comparison is not None

    def data_table(self) -> DataTable:
        """Header and rows of the numbers this chart shows (what its CSV export holds)."""
        raise NotImplementedError


# --- accuracy bars ------------------------------------------------------------------------------


class ScoreBarsChart(CompareChart):
    """Accuracy per run (answered samples) with the 95% Wilson interval as whiskers."""

    slug = "accuracy"
    title = "Accuracy (95% Wilson CI)"

    def __init__(self) -> None:
        self.bars: pg.BarGraphItem | None = None
        self.error_bars: pg.ErrorBarItem | None = None
        self.value_labels: list[pg.TextItem] = []
        super().__init__()
        plot = self.getPlotItem()
        plot.setLabel("left", "Accuracy (%)")
        plot.setLabel("bottom", "Run")
        plot.setMouseEnabled(x=False, y=False)
        plot.showGrid(x=False, y=True, alpha=0.25)

    def _draw(self, comparison: Comparison) -> None:
        plot = self.getPlotItem()
        runs = comparison.runs
        x = np.arange(len(runs), dtype=float)
        acc = np.array([(r.accuracy or 0.0) * 100 for r in runs])
        self.bars = pg.BarGraphItem(
            x=x,
            height=acc,
            width=0.6,
            brushes=[pg.mkBrush(series_color(i)) for i in range(len(runs))],
            pens=[pg.mkPen(series_color(i), width=self.line_scale) for i in range(len(runs))],
        )
        plot.addItem(self.bars)
        known = [i for i, r in enumerate(runs) if r.accuracy_ci is not None]
        top = np.array([runs[i].accuracy_ci[1] * 100 - acc[i] for i in known])  # type: ignore[index]
        bottom = np.array([acc[i] - runs[i].accuracy_ci[0] * 100 for i in known])  # type: ignore[index]
        self.error_bars = pg.ErrorBarItem(
            x=x[known],
            y=acc[known],
            top=top,
            bottom=bottom,
            beam=0.18,
            pen=_whisker_pen(self.line_scale),
        )
        plot.addItem(self.error_bars)
        self.value_labels = []
        for i, r in enumerate(runs):
            text = "n/a" if r.accuracy is None else f"{r.accuracy * 100:.1f}%"
            label = pg.TextItem(text, color=_fg(), anchor=(0.5, 1.0))
            y = r.accuracy_ci[1] * 100 if r.accuracy_ci else acc[i]
            label.setPos(float(i), float(y) + 1.0)
            plot.addItem(label)
            self.value_labels.append(label)
        self._set_run_ticks()
        plot.setXRange(-0.6, len(runs) - 0.4, padding=0)
        # a hair below 0 so the axis still draws its "0" tick
        plot.setYRange(-0.01, 108, padding=0)

    def _set_run_ticks(self) -> None:
        """Run names under the bars, shortened to what fits the space each bar has."""
        runs = self.comparison.runs if self.comparison else ()
        if not runs:
            return
        per_bar_px = max(self.width() - 80, 100) / len(runs)
        chars = max(8, int(per_bar_px / 7))  # ~7 px per character at the default font
        self.getPlotItem().getAxis("bottom").setTicks(
            [[(float(i), elide(r.label, chars)) for i, r in enumerate(runs)]]
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._set_run_ticks()

    def data_table(self) -> DataTable:
        header = ["run_id", "label", "n_answered", "n_correct", "accuracy", "ci_low", "ci_high"]
        rows: list[list[Cell]] = []
        for r in self.comparison.runs if self.comparison else ():
            low, high = r.accuracy_ci or (None, None)
            rows.append([r.run_id, r.label, r.n_ok, r.n_correct, r.accuracy, low, high])
        return header, rows


# --- latency percentiles ----------------------------------------------------------------------

LATENCY_METRICS = {"e2e": "End-to-end latency", "ttft": "Time to first token"}


def _latency(run: RunStats, metric: str) -> dict[str, Estimate]:
    return run.e2e_ms if metric == "e2e" else run.ttft_ms


class LatencyPercentilesChart(CompareChart):
    """p50/p90/p95/p99 per run as grouped bars, whiskers = bootstrap 95% intervals."""

    slug = "latency_percentiles"
    title = "Latency percentiles (95% CI)"

    def __init__(self) -> None:
        self.metric = "e2e"
        self.bar_items: list[pg.BarGraphItem] = []
        self.error_bars: pg.ErrorBarItem | None = None
        super().__init__()
        plot = self.getPlotItem()
        plot.setLabel("bottom", "Percentile")
        plot.setMouseEnabled(x=False, y=False)
        plot.showGrid(x=False, y=True, alpha=0.25)
        plot.getAxis("bottom").setTicks([[(float(k), p) for k, p in enumerate(PERCENTILE_KEYS)]])
        self._legend(offset=(10, 10))
        self._update_axis_label()

    def set_metric(self, metric: str) -> None:
        if metric not in LATENCY_METRICS:
            raise ValueError(f"unknown latency metric {metric!r}")
        self.metric = metric
        self._update_axis_label()
        self.set_comparison(self.comparison)

    def _update_axis_label(self) -> None:
        self.getPlotItem().setLabel("left", f"{LATENCY_METRICS[self.metric]} (ms)")

    def _draw(self, comparison: Comparison) -> None:
        plot = self.getPlotItem()
        runs = comparison.runs
        n = len(runs)
        group = 0.8
        width = group / n
        self.bar_items = []
        ex: list[float] = []
        ey: list[float] = []
        etop: list[float] = []
        ebottom: list[float] = []
        highs: list[float] = [0.0]
        for i, run in enumerate(runs):
            est = _latency(run, self.metric)
            xs, hs = [], []
            for k, key in enumerate(PERCENTILE_KEYS):
                e = est[key]
                if e.value is None:
                    continue
                x = k - group / 2 + width * (i + 0.5)
                xs.append(x)
                hs.append(e.value)
                highs.append(e.high if e.high is not None else e.value)
                if e.low is not None and e.high is not None:
                    ex.append(x)
                    ey.append(e.value)
                    etop.append(e.high - e.value)
                    ebottom.append(e.value - e.low)
            item = pg.BarGraphItem(
                x=np.array(xs),
                height=np.array(hs),
                width=width * 0.9,
                brush=pg.mkBrush(series_color(i)),
                pen=pg.mkPen(series_color(i), width=self.line_scale),
                name=elide(run.label, _LEGEND_CHARS),
            )
            plot.addItem(item)
            self.bar_items.append(item)
        self.error_bars = pg.ErrorBarItem(
            x=np.array(ex),
            y=np.array(ey),
            top=np.array(etop),
            bottom=np.array(ebottom),
            beam=width * 0.4,
            pen=_whisker_pen(self.line_scale),
        )
        plot.addItem(self.error_bars)
        plot.setXRange(-0.5, len(PERCENTILE_KEYS) - 0.5, padding=0)
        # headroom above the tallest whisker for the legend in the top-left corner
        plot.setYRange(0, max(highs) * (1.18 + 0.06 * n) or 1.0, padding=0)

    def data_table(self) -> DataTable:
        header = [
            "run_id",
            "label",
            "metric",
            "percentile",
            "value_ms",
            "ci_low_ms",
            "ci_high_ms",
            "n",
        ]
        rows: list[list[Cell]] = []
        for r in self.comparison.runs if self.comparison else ():
            n = r.n_e2e if self.metric == "e2e" else r.n_ttft
            for key, e in _latency(r, self.metric).items():
                rows.append([r.run_id, r.label, self.metric, key, e.value, e.low, e.high, n])
        return header, rows


# --- latency CDF ------------------------------------------------------------------------------


def step_xy(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The staircase of a right-continuous empirical CDF: F jumps to y[i] at x[i]."""
    xs = np.repeat(np.asarray(x, dtype=float), 2)
    ys = np.concatenate([[0.0], np.repeat(np.asarray(y, dtype=float), 2)[:-1]])
    return xs, ys


class LatencyCdfChart(CompareChart):
    """The empirical CDF of end-to-end latency: one step line per run."""

    slug = "latency_cdf"
    title = "Latency distribution (CDF)"

    def __init__(self) -> None:
        self.curves: list[pg.PlotDataItem] = []
        super().__init__()
        plot = self.getPlotItem()
        plot.setLabel("bottom", "End-to-end latency (ms)")
        plot.setLabel("left", "Share of samples ≤ latency")
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMouseEnabled(x=True, y=False)
        self._legend_below()

    def _draw(self, comparison: Comparison) -> None:
        plot = self.getPlotItem()
        self._legend_columns(len(comparison.runs))
        self.curves = []
        xmax = 0.0
        for i, run in enumerate(comparison.runs):
            x, y = run.e2e_cdf
            if not x:
                continue
            xs, ys = step_xy(x, y)
            curve = pg.PlotDataItem(
                xs,
                ys,
                pen=pg.mkPen(series_color(i), width=2 * self.line_scale),
                name=elide(run.label, _LEGEND_CHARS),
            )
            plot.addItem(curve)
            self.curves.append(curve)
            xmax = max(xmax, float(xs[-1]))
        plot.setYRange(-0.005, 1.02, padding=0)
        plot.setXRange(0, xmax * 1.03 or 1.0, padding=0)

    def data_table(self) -> DataTable:
        header = ["run_id", "label", "latency_ms", "cumulative_share"]
        rows: list[list[Cell]] = []
        for r in self.comparison.runs if self.comparison else ():
            for x, y in zip(*r.e2e_cdf, strict=True):
                rows.append([r.run_id, r.label, x, y])
        return header, rows


# --- trade-off scatters --------------------------------------------------------------------


class _TradeoffScatter(CompareChart):
    """Accuracy (with Wilson whiskers) against a cost-like x value, one point per run."""

    x_label = ""

    def __init__(self) -> None:
        self.points: list[pg.ScatterPlotItem] = []
        self.error_bars: list[pg.ErrorBarItem] = []
        super().__init__()
        plot = self.getPlotItem()
        plot.setLabel("left", "Accuracy (%)")
        plot.setLabel("bottom", self.x_label)
        plot.showGrid(x=True, y=True, alpha=0.2)
        self._legend_below()

    def _x(self, run: RunStats) -> Estimate:
        raise NotImplementedError

    def plotted_runs(self) -> list[tuple[int, RunStats]]:
        if self.comparison is None:
            return []
        return [
            (i, r)
            for i, r in enumerate(self.comparison.runs)
            if r.accuracy is not None and self._x(r).value is not None
        ]

    def has_data(self) -> bool:
        return bool(self.plotted_runs())

    def _draw(self, comparison: Comparison) -> None:
        plot = self.getPlotItem()
        self.points = []
        self.error_bars = []
        runs = self.plotted_runs()
        self._legend_columns(len(runs))
        if not runs:
            return
        xs: list[float] = []
        ys: list[float] = []
        xlo: list[float] = []
        xhi: list[float] = []
        lows: list[float] = []
        highs: list[float] = []
        for _, r in runs:
            ex = self._x(r)
            x, y = float(ex.value), float(r.accuracy) * 100  # type: ignore[arg-type]
            xs.append(x)
            ys.append(y)
            xlo.append(x if ex.low is None else ex.low)
            xhi.append(x if ex.high is None else ex.high)
            lows.append(r.accuracy_ci[0] * 100 if r.accuracy_ci else y)
            highs.append(r.accuracy_ci[1] * 100 if r.accuracy_ci else y)
        x_range = _span([*xlo, *xhi], pad=0.15, floor=0.0)
        y_range = _span([*lows, *highs], pad=0.15, floor=0.0)
        y_range = (y_range[0], min(y_range[1], 105.0))
        pen = _whisker_pen(self.line_scale)
        vertical = pg.ErrorBarItem(
            x=np.array(xs),
            y=np.array(ys),
            top=np.array(highs) - np.array(ys),
            bottom=np.array(ys) - np.array(lows),
            beam=(x_range[1] - x_range[0]) * 0.02,
            pen=pen,
        )
        horizontal = pg.ErrorBarItem(
            x=np.array(xs),
            y=np.array(ys),
            left=np.array(xs) - np.array(xlo, dtype=float),
            right=np.array(xhi, dtype=float) - np.array(xs),
            beam=(y_range[1] - y_range[0]) * 0.03,
            pen=pen,
        )
        for bars in (vertical, horizontal):
            plot.addItem(bars)
            self.error_bars.append(bars)
        for (i, run), x, y in zip(runs, xs, ys, strict=True):
            point = pg.ScatterPlotItem(
                [x],
                [y],
                size=13,  # pixel-mode markers already scale with an export
                brush=pg.mkBrush(series_color(i)),
                pen=pg.mkPen(_fg(), width=self.line_scale),
                symbol="o",
                name=elide(run.label, _LEGEND_CHARS),
            )
            plot.addItem(point)
            self.points.append(point)
        plot.setXRange(*x_range, padding=0)
        plot.setYRange(*y_range, padding=0)


class AccuracyLatencyChart(_TradeoffScatter):
    slug = "accuracy_vs_latency"
    title = "Accuracy vs median latency"
    x_label = "Median end-to-end latency (ms)"

    def _x(self, run: RunStats) -> Estimate:
        return run.e2e_ms["p50"]

    def data_table(self) -> DataTable:
        header = [
            "run_id",
            "label",
            "median_e2e_ms",
            "median_ci_low_ms",
            "median_ci_high_ms",
            "accuracy",
            "ci_low",
            "ci_high",
        ]
        rows: list[list[Cell]] = []
        for _, r in self.plotted_runs():
            e = r.e2e_ms["p50"]
            low, high = r.accuracy_ci or (None, None)
            rows.append([r.run_id, r.label, e.value, e.low, e.high, r.accuracy, low, high])
        return header, rows


class AccuracyCostChart(_TradeoffScatter):
    """Only runs whose cost is known are drawn (the view hides the chart when none is)."""

    slug = "accuracy_vs_cost"
    title = "Accuracy vs cost"
    x_label = "Run cost (USD)"

    def _x(self, run: RunStats) -> Estimate:
        return Estimate(run.cost_usd)

    def data_table(self) -> DataTable:
        header = ["run_id", "label", "cost_usd", "accuracy", "ci_low", "ci_high"]
        rows: list[list[Cell]] = []
        for _, r in self.plotted_runs():
            low, high = r.accuracy_ci or (None, None)
            rows.append([r.run_id, r.label, r.cost_usd, r.accuracy, low, high])
        return header, rows


def all_chart_classes() -> tuple[type[CompareChart], ...]:
    return (
        ScoreBarsChart,
        LatencyPercentilesChart,
        LatencyCdfChart,
        AccuracyLatencyChart,
        AccuracyCostChart,
    )


__all__ = [
    "AccuracyCostChart",
    "AccuracyLatencyChart",
    "CompareChart",
    "DataTable",
    "LatencyCdfChart",
    "LatencyPercentilesChart",
    "ScoreBarsChart",
    "all_chart_classes",
    "step_xy",
]
