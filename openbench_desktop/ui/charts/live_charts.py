"""Charts of a run in progress: an end-to-end latency histogram and TTFT over time.

Both charts separate *taking* data from *drawing* it. ``add_results`` only appends numbers
to numpy arrays that grow in chunks (amortised O(1), no Python lists of floats); ``flush``
does the binning and the ``setData`` calls and is driven by the view's timer a few times
per second, so a run finishing thousands of samples per second costs a few redraws per
second, not one per sample. Failed samples have no latency and are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from openbench_desktop.core.domain import SampleResult
from openbench_desktop.ui.theme import series_color

N_BINS: Final = 40
# Percentiles and range choices look at most this many values (a uniform stride): exact
# enough for a chart, and a flush stays cheap on a run of a million samples.
_MAX_STATS_VALUES: Final = 100_000
_MEDIAN_BUCKETS: Final = 40
_NICE_STEPS: Final = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


class GrowingArray:
    """A float64 array that grows by doubling; ``values`` is a view of the filled part."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def values(self) -> np.ndarray:
        return self._data[: self._n]

    def extend(self, values: np.ndarray) -> None:
        need = self._n + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), dtype=np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = values
        self._n = need


def nice_ceil(value: float) -> float:
    """The smallest round bound ≥ ``value``: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = math.floor(math.log10(value))
    for step in _NICE_STEPS:
        bound = step * 10.0**exp
        if bound >= value * (1 - 1e-12):
            return bound
    return 10.0 ** (exp + 1)


def _stats_sample(values: np.ndarray) -> np.ndarray:
    if len(values) <= _MAX_STATS_VALUES:
        return values
    return values[:: len(values) // _MAX_STATS_VALUES + 1]


def _retheme(widget: pg.PlotWidget) -> None:
    """Follow the theme's pyqtgraph colours (``theme.apply_theme`` sets them)."""
    widget.setBackground(pg.getConfigOption("background"))
    plot = widget.getPlotItem()
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen()  # no argument: the configured foreground
        axis.setTextPen()
    plot.setTitle(plot.titleLabel.text, size="10pt", color=pg.getConfigOption("foreground"))


def _style_plot(plot: pg.PlotItem, title: str, x_label: str, y_label: str) -> None:
    plot.setTitle(title, size="10pt")
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    # No grid: its lines are redrawn with every repaint and cost more than the data.
    plot.setMenuEnabled(False)  # its export/transform menu is noise in a live panel
    plot.hideButtons()


class LatencyHistogram(pg.PlotWidget):
    """Histogram of end-to-end latency (ms), with p50 and p95 markers.

    Bins are fixed between rebinnings: new values are binned and added to the counts.
    The range is ``[0, nice_ceil(x)]`` with ``x`` the maximum, or three times p99 when
    a few outliers would squeeze everything else into the first bins; slower samples are
    then counted in the last bin (its tooltip says how many).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        self._values = GrowingArray()
        self._binned = 0  # values[: _binned] are in _counts
        self._hi = 0.0
        self._edges = np.zeros(N_BINS + 1)
        self._counts = np.zeros(N_BINS, dtype=np.int64)
        self._dirty = False
        self.n_clamped = 0
        plot = self.getPlotItem()
        _style_plot(plot, "End-to-end latency", "ms", "samples")
        color = QColor(series_color(0))
        fill = QColor(color)
        fill.setAlpha(110)
        self.curve = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            pen=pg.mkPen(color, width=1),
            brush=fill,
            antialias=False,  # axis-aligned steps gain nothing from it; painting costs less
        )
        plot.addItem(self.curve)
        self.p50_line = self._marker("p50", series_color(2))
        self.p95_line = self._marker("p95", series_color(5))
        self._range = (0.0, 0.0)
        plot.disableAutoRange()
        plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)

    def _marker(self, name: str, color: str) -> pg.InfiniteLine:
        line = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine),
            label=name,
            labelOpts={"position": 0.92, "color": color, "anchors": [(0, 0), (0, 0)]},
        )
        line.hide()
        self.getPlotItem().addItem(line)
        return line

    @property
    def n_values(self) -> int:
        return len(self._values)

    @property
    def counts(self) -> np.ndarray:
        return self._counts

    @property
    def edges(self) -> np.ndarray:
        return self._edges

    def add_results(self, results: Iterable[SampleResult]) -> None:
        e2e = np.fromiter(
            (r.e2e_ms for r in results if r.ok and r.e2e_ms is not None), dtype=np.float64
        )
        self.add_values(e2e)

    def add_values(self, values: np.ndarray) -> None:
        if len(values):
            self._values.extend(values)
            self._dirty = True

    def clear(self) -> None:
        self._values = GrowingArray()
        self._binned = 0
        self._hi = 0.0
        self._counts[:] = 0
        self._range = (0.0, 0.0)
        self.n_clamped = 0
        self._dirty = True
        self.flush()

    def flush(self) -> bool:
        """Bin what arrived since the last flush and redraw. False when nothing changed."""
        if not self._dirty:
            return False
        self._dirty = False
        values = self._values.values
        if len(values) == 0:
            self.curve.setData([], [])
            self.p50_line.hide()
            self.p95_line.hide()
            return True
        stats = _stats_sample(values)
        p50, p95, p99 = np.percentile(stats, (50, 95, 99))
        top = float(values.max())
        wanted = nice_ceil(min(top, 3.0 * p99) if p99 > 0 else top)
        # Rebin everything only when the range must change: grow at once, shrink lazily.
        if wanted > self._hi or wanted < self._hi / 4:
            self._hi = wanted
            self._edges = np.linspace(0.0, self._hi, N_BINS + 1)
            self._counts = self._bin(values)
            self.n_clamped = int(np.count_nonzero(values > self._hi))
        else:
            fresh = values[self._binned :]
            self._counts += self._bin(fresh)
            self.n_clamped += int(np.count_nonzero(fresh > self._hi))
        self._binned = len(values)
        self.curve.setData(self._edges, self._counts)
        view = (self._hi, nice_ceil(float(self._counts.max()) * 1.05))
        if view != self._range:  # only then do the axes re-lay out their ticks
            self._range = view
            self.getPlotItem().setRange(xRange=(0, view[0]), yRange=(0, view[1]), padding=0.02)
        for name, line, value in (("p50", self.p50_line, p50), ("p95", self.p95_line, p95)):
            line.setValue(float(value))
            line.label.setFormat(f"{name} {value:,.0f}")
            line.show()
        self.setToolTip(
            f"{len(values):,} samples · p50 {p50:,.0f} ms · p95 {p95:,.0f} ms · "
            f"max {top:,.0f} ms"
            + (
                f"\nThe last bin also counts {self.n_clamped:,} slower samples."
                if self.n_clamped
                else ""
            )
        )
        return True

    def _bin(self, values: np.ndarray) -> np.ndarray:
        # Clamp into [0, hi]: the slowest outliers land in the last bin instead of vanishing.
        counts, _ = np.histogram(np.clip(values, 0.0, self._hi), bins=self._edges)
        return counts.astype(np.int64)

    def retheme(self) -> None:
        _retheme(self)


def _columns(x: np.ndarray, n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end indices of the non-empty equal-width x columns (x sorted)."""
    lo, hi = float(x[0]), float(x[-1])
    inner = np.linspace(lo, hi, n_columns + 1)[1:-1]
    bounds = np.concatenate(([0], np.searchsorted(x, inner, side="left"), [len(x)]))
    starts, ends = bounds[:-1], bounds[1:]
    keep = ends > starts
    return starts[keep], ends[keep]


def decimate_points(
    x: np.ndarray, y: np.ndarray, max_points: int, columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points that look like the cloud of ``(x, y)`` (x sorted).

    Every point is kept when there are few. Otherwise: the lowest and the highest value
    of each of ``columns`` equal-width x columns, drawn at the column's centre (the
    envelope, outliers included), plus an evenly spaced subset of all points (the density).
    A scatter costs ~3 µs per point to set: drawing 100,000 of them would stall the window.
    O(n), no sorting: columns are contiguous because x is sorted.
    """
    n = len(x)
    if n <= max_points:
        return x, y
    if float(x[-1]) <= float(x[0]):
        step = n // max_points + 1
        return x[::step], y[::step]
    columns = max(1, min(columns, (max_points - 1) // 3))
    starts, ends = _columns(x, columns)
    centers = (x[starts] + x[ends - 1]) / 2.0
    lows = np.minimum.reduceat(y, starts)
    highs = np.maximum.reduceat(y, starts)
    budget = max_points - 2 * len(starts)
    picks = np.linspace(0, n - 1, budget).astype(np.int64)
    out_x = np.concatenate((centers, centers, x[picks]))
    out_y = np.concatenate((lows, highs, y[picks]))
    order = np.argsort(out_x, kind="stable")
    return out_x[order], out_y[order]


def bucket_medians(x: np.ndarray, y: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Median of y in ``n_buckets`` equal-width x buckets (x sorted), at bucket centres."""
    if len(x) == 0 or float(x[-1]) <= float(x[0]):
        return np.empty(0), np.empty(0)
    starts, ends = _columns(x, n_buckets)
    centers = (x[starts] + x[ends - 1]) / 2.0
    medians = np.fromiter(
        (np.median(y[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)),
        dtype=np.float64,
        count=len(starts),
    )
    return centers, medians


class TtftTimeline(pg.PlotWidget):
    """Time to first token (ms) of each sample against when it finished (s into the run).

    Points, plus the median over time buckets. Beyond ``MAX_POINTS`` the points are
    decimated (:func:`decimate_points`), so a long run costs what a short one does. The
    axes move in round steps (:func:`nice_ceil`) rather than on every flush: an axis whose
    range changes re-lays out its ticks and labels, which is most of a repaint's cost.
    """

    MAX_POINTS: Final = 1200

    def __init__(self, origin_ns: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        self._origin_ns = origin_ns  # time.monotonic_ns() of the run's start, if known
        self._origin_fixed = False
        self._x = GrowingArray()
        self._y = GrowingArray()
        self._dirty = False
        self._range = (0.0, 0.0)
        plot = self.getPlotItem()
        _style_plot(plot, "Time to first token", "seconds into the run", "ms")
        color = QColor(series_color(0))
        color.setAlpha(150)
        self.points = pg.ScatterPlotItem(pen=None, size=4, brush=color)
        self.median = pg.PlotDataItem(pen=pg.mkPen(series_color(1), width=2), name="median")
        plot.addItem(self.points)
        plot.addItem(self.median)
        plot.disableAutoRange()
        plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)

    @property
    def n_values(self) -> int:
        return len(self._y)

    def add_results(self, results: Iterable[SampleResult]) -> None:
        rows = [
            (r.started_ns, r.end_offset_ns or 0, r.ttft_ms)
            for r in results
            if r.ok and r.ttft_ms is not None
        ]
        if not rows:
            return
        started = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        ends = started + np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        ttft = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
        if not self._origin_fixed:
            # The run started no later than its first requests did (the panel may have been
            # created a little after the run began). Fixed from then on: x must not shift.
            first = int(started.min())
            self._origin_ns = first if self._origin_ns is None else min(self._origin_ns, first)
            self._origin_fixed = True
        assert self._origin_ns is not None
        self.add_points((ends - self._origin_ns) / 1e9, ttft)

    def add_points(self, seconds: np.ndarray, ttft_ms: np.ndarray) -> None:
        if len(seconds) == 0:
            return
        # Decimation and the median line assume x increases. Batches arrive in time order;
        # sorting each batch is enough.
        order = np.argsort(seconds, kind="stable")
        self._x.extend(np.maximum(seconds[order], 0.0))
        self._y.extend(ttft_ms[order])
        self._dirty = True

    def flush(self) -> bool:
        if not self._dirty:
            return False
        self._dirty = False
        x, y = self._x.values, self._y.values
        px, py = decimate_points(x, y, self.MAX_POINTS, self.MAX_POINTS // 4)
        self.points.setData(x=px, y=py)
        if len(x) >= 20:
            step = len(x) // _MAX_STATS_VALUES + 1
            n_buckets = min(_MEDIAN_BUCKETS, max(2, len(x) // (10 * step)))
            self.median.setData(*bucket_medians(x[::step], y[::step], n_buckets))
        else:
            self.median.setData([], [])
        view = (nice_ceil(float(x[-1])), nice_ceil(float(y.max())))
        if view != self._range:  # only then do the axes re-lay out their ticks
            self._range = view
            self.getPlotItem().setRange(xRange=(0, view[0]), yRange=(0, view[1]), padding=0.02)
        return True

    def retheme(self) -> None:
        _retheme(self)
