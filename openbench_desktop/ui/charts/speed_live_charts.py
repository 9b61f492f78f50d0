"""Charts of a speed run in progress: requests/s and latency percentiles over time.

Both take a whole series at once (``set_series``) from the speed panel, which computes
one point per update (a few per second, never per sample), so the cost of a redraw does
not depend on how many requests finished. Sweep steps are marked with vertical lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from openbench_desktop.ui.charts.live_charts import _retheme, _style_plot, nice_ceil
from openbench_desktop.ui.theme import series_color

#: Beyond this many points a series is thinned by a stride (hours of updates).
MAX_POINTS: Final = 2000


def _thin(x: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    if len(x) <= MAX_POINTS:
        return (x, *ys)
    step = len(x) // MAX_POINTS + 1
    return (x[::step], *(y[::step] for y in ys))


class _StepMarks:
    """Vertical lines where each sweep step began."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self.lines: list[pg.InfiniteLine] = []

    def set(self, starts: Sequence[tuple[float, str]]) -> None:
        for line in self.lines[len(starts) :]:
            self._plot.removeItem(line)
        del self.lines[len(starts) :]
        for i, (x, label) in enumerate(starts):
            if i >= len(self.lines):
                line = pg.InfiniteLine(
                    angle=90,
                    movable=False,
                    pen=pg.mkPen("#808080", width=1, style=Qt.PenStyle.DotLine),
                    label=label,
                    labelOpts={"position": 0.95, "color": "#808080", "anchors": [(0, 0), (0, 0)]},
                )
                self._plot.addItem(line)
                self.lines.append(line)
            self.lines[i].setValue(x)
            self.lines[i].label.setFormat(label)


class SpeedThroughputChart(pg.PlotWidget):
    """Successful requests/s over the recent window (output tokens/s is in the tile above).

    One axis only: a second, right-hand ViewBox for tokens/s was drawn with a stale
    transform after the panel's layout changed (offscreen, pyqtgraph 0.14), so it is left out.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        plot = self.getPlotItem()
        _style_plot(plot, "Throughput", "seconds into the run", "requests/s")
        self.requests = pg.PlotDataItem(pen=pg.mkPen(series_color(0), width=2), name="requests/s")
        plot.addItem(self.requests)
        plot.disableAutoRange()
        self.marks = _StepMarks(plot)
        self._range: tuple[float, float] = (0.0, 0.0)
        self.n_draws = 0

    def set_series(self, t: np.ndarray, requests_per_s: np.ndarray) -> None:
        self.n_draws += 1
        t, rq = _thin(t, requests_per_s)
        finite = np.isfinite(rq)
        self.requests.setData(t[finite], rq[finite])
        if not len(t):
            return
        view = (
            nice_ceil(float(t[-1])),
            nice_ceil(float(rq[finite].max()) * 1.05) if finite.any() else 1.0,
        )
        if view != self._range:  # axes re-lay out their ticks only when the range moves
            self._range = view
            self.getPlotItem().setRange(xRange=(0, view[0]), yRange=(0, view[1]), padding=0.02)

    def retheme(self) -> None:
        _retheme(self)


class SpeedLatencyChart(pg.PlotWidget):
    """TTFT and end-to-end latency p50 (solid) and p99 (dashed) of recent requests."""

    SERIES: Final = (
        ("ttft_p50", "TTFT p50", 0, Qt.PenStyle.SolidLine),
        ("ttft_p99", "TTFT p99", 0, Qt.PenStyle.DashLine),
        ("e2e_p50", "E2E p50", 2, Qt.PenStyle.SolidLine),
        ("e2e_p99", "E2E p99", 2, Qt.PenStyle.DashLine),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        plot = self.getPlotItem()
        _style_plot(plot, "Latency of recent requests", "seconds into the run", "ms")
        plot.addLegend(offset=(8, 8))
        self.curves: dict[str, pg.PlotDataItem] = {}
        for key, name, color, style in self.SERIES:
            curve = pg.PlotDataItem(
                pen=pg.mkPen(series_color(color), width=2, style=style), name=name
            )
            plot.addItem(curve)
            self.curves[key] = curve
        plot.disableAutoRange()
        self.marks = _StepMarks(plot)
        self._range: tuple[float, float] = (0.0, 0.0)
        self.n_draws = 0

    def set_series(self, t: np.ndarray, series: dict[str, np.ndarray]) -> None:
        self.n_draws += 1
        keys = [k for k, *_ in self.SERIES]
        thinned = _thin(t, *(series[k] for k in keys))
        t = thinned[0]
        top = 0.0
        for key, y in zip(keys, thinned[1:], strict=True):
            finite = np.isfinite(y)
            self.curves[key].setData(t[finite], y[finite])
            if finite.any():
                top = max(top, float(y[finite].max()))
        if not len(t):
            return
        view = (nice_ceil(float(t[-1])), nice_ceil(top * 1.05))
        if view != self._range:
            self._range = view
            self.getPlotItem().setRange(xRange=(0, view[0]), yRange=(0, view[1]), padding=0.02)

    def retheme(self) -> None:
        _retheme(self)
