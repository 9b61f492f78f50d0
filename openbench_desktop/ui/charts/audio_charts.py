"""Speech charts for Compare: corpus WER, RTFx, and the WER-vs-RTFx trade-off.

They reuse :class:`~openbench_desktop.ui.charts.compare_charts.CompareChart` (theme, export
scaling, legends, run colour *i* for run *i*) but draw an :class:`AudioComparison` built
from the runs' stored ``audio`` summaries, not the chat ``Comparison``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QResizeEvent

from openbench_desktop.core.audio.metrics import PairedDiff
from openbench_desktop.ui.charts.compare_charts import (
    CompareChart,
    DataTable,
    _fg,
    _span,
    _whisker_pen,
    elide,
)
from openbench_desktop.ui.theme import series_color

_LABEL_CHARS = 24


@dataclass(frozen=True, slots=True)
class AudioRunStats:
    """One speech run as Compare shows it (figures from the stored summary)."""

    run_id: str
    label: str
    kind: str  # "asr" | "tts"
    model: str
    normalizer: str | None
    n_scored: int
    n_failed: int
    wer: float | None
    wer_ci: tuple[float, float] | None
    cer: float | None
    rtfx: float | None


@dataclass(frozen=True, slots=True)
class WerDelta:
    """A run against the baseline on the utterances both scored (paired bootstrap)."""

    run_id: str
    label: str
    diff: PairedDiff | None
    note: str = ""  # why there is no paired figure


@dataclass(frozen=True, slots=True)
class AudioComparison:
    runs: tuple[AudioRunStats, ...]
    deltas: tuple[WerDelta, ...] = field(default_factory=tuple)

    @property
    def baseline(self) -> AudioRunStats | None:
        return self.runs[0] if self.runs else None


class _AudioChart(CompareChart):
    comparison: AudioComparison | None  # type: ignore[assignment]

    def set_comparison(self, comparison: AudioComparison | None) -> None:  # type: ignore[override]
        super().set_comparison(comparison)  # type: ignore[arg-type]

    def _runs(self) -> tuple[AudioRunStats, ...]:
        return self.comparison.runs if self.comparison else ()


class _RunBars(_AudioChart):
    """One bar per run with its name under it, value labels above."""

    def __init__(self) -> None:
        self.bars: pg.BarGraphItem | None = None
        self.value_labels: list[pg.TextItem] = []
        super().__init__()
        plot = self.getPlotItem()
        plot.setLabel("bottom", "Run")
        plot.setMouseEnabled(x=False, y=False)
        plot.showGrid(x=False, y=True, alpha=0.25)

    def _set_run_ticks(self) -> None:
        runs = self._runs()
        if not runs:
            return
        per_bar_px = max(self.width() - 80, 100) / len(runs)
        chars = max(8, int(per_bar_px / 7))
        self.getPlotItem().getAxis("bottom").setTicks(
            [[(float(i), elide(r.label, chars)) for i, r in enumerate(runs)]]
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._set_run_ticks()

    def _bars(self, heights: Sequence[float]) -> None:
        plot = self.getPlotItem()
        n = len(heights)
        self.bars = pg.BarGraphItem(
            x=np.arange(n, dtype=float),
            height=np.asarray(heights, dtype=float),
            width=0.6,
            brushes=[pg.mkBrush(series_color(i)) for i in range(n)],
            pens=[pg.mkPen(series_color(i), width=self.line_scale) for i in range(n)],
        )
        plot.addItem(self.bars)
        self._set_run_ticks()
        plot.setXRange(-0.6, n - 0.4, padding=0)

    def _label(self, i: int, y: float, text: str) -> None:
        label = pg.TextItem(text, color=_fg(), anchor=(0.5, 1.0))
        label.setPos(float(i), y)
        self.getPlotItem().addItem(label)
        self.value_labels.append(label)


class WerBarsChart(_RunBars):
    """Corpus WER per run; whiskers: the stored 95% bootstrap interval over utterances."""

    slug = "speech_wer"
    title = "Corpus WER (95% bootstrap CI)"

    def __init__(self) -> None:
        self.error_bars: pg.ErrorBarItem | None = None
        super().__init__()
        self.getPlotItem().setLabel("left", "Word error rate (%)")

    def _draw(self, comparison: AudioComparison) -> None:  # type: ignore[override]
        plot = self.getPlotItem()
        runs = comparison.runs
        wer = [(r.wer or 0.0) * 100 for r in runs]
        self._bars(wer)
        known = [i for i, r in enumerate(runs) if r.wer_ci is not None]
        lows = np.array([runs[i].wer_ci[0] * 100 for i in known])  # type: ignore[index]
        highs = np.array([runs[i].wer_ci[1] * 100 for i in known])  # type: ignore[index]
        y = np.array([wer[i] for i in known])
        self.error_bars = pg.ErrorBarItem(
            x=np.array(known, dtype=float), y=y, top=highs - y, bottom=y - lows,
            beam=0.18, pen=_whisker_pen(self.line_scale),
        )
        plot.addItem(self.error_bars)
        self.value_labels = []
        tops = [0.0]
        for i, r in enumerate(runs):
            top = r.wer_ci[1] * 100 if r.wer_ci else wer[i]
            tops.append(top)
        ymax = max(max(tops) * 1.15, 5.0)
        for i, r in enumerate(runs):
            self._label(i, tops[i + 1] + ymax * 0.01, "n/a" if r.wer is None else f"{r.wer:.1%}")
        plot.setYRange(-ymax * 0.01, ymax, padding=0)  # keeps the 0 tick

    def data_table(self) -> DataTable:
        header = ["run_id", "label", "normalizer", "n_scored", "wer", "ci_low", "ci_high"]
        rows = []
        for r in self._runs():
            low, high = r.wer_ci or (None, None)
            rows.append([r.run_id, r.label, r.normalizer, r.n_scored, r.wer, low, high])
        return header, rows  # type: ignore[return-value]


class RtfxBarsChart(_RunBars):
    slug = "speech_rtfx"
    title = "RTFx (audio s per compute s; higher is faster)"

    def __init__(self) -> None:
        super().__init__()
        self.getPlotItem().setLabel("left", "RTFx (×)")

    def _draw(self, comparison: AudioComparison) -> None:  # type: ignore[override]
        runs = comparison.runs
        values = [r.rtfx or 0.0 for r in runs]
        self._bars(values)
        self.value_labels = []
        ymax = max(max(values, default=0.0) * 1.15, 1.0)
        for i, r in enumerate(runs):
            self._label(i, values[i] + ymax * 0.01, "n/a" if r.rtfx is None else f"{r.rtfx:.1f}×")
        self.getPlotItem().setYRange(0, ymax, padding=0)

    def data_table(self) -> DataTable:
        header = ["run_id", "label", "kind", "rtfx"]
        return header, [[r.run_id, r.label, r.kind, r.rtfx] for r in self._runs()]


class WerRtfxChart(_AudioChart):
    """One point per run: x RTFx on a log scale, y WER with its interval, labelled."""

    slug = "speech_wer_vs_rtfx"
    title = "WER vs RTFx"

    def __init__(self) -> None:
        self.points: list[pg.ScatterPlotItem] = []
        self.point_labels: list[pg.TextItem] = []
        self.error_bars: pg.ErrorBarItem | None = None
        super().__init__()
        plot = self.getPlotItem()
        plot.setLabel("left", "Word error rate (%)")
        plot.setLabel("bottom", "RTFx (×, log scale; right is faster)")
        # Points are placed at log10(RTFx); the axis in log mode labels them as RTFx.
        plot.getAxis("bottom").setLogMode(True)
        plot.showGrid(x=True, y=True, alpha=0.2)
        self._legend_below()

    def plotted_runs(self) -> list[tuple[int, AudioRunStats]]:
        return [
            (i, r) for i, r in enumerate(self._runs())
            if r.wer is not None and r.rtfx is not None and r.rtfx > 0
        ]

    def has_data(self) -> bool:
        return bool(self.plotted_runs())

    def _draw(self, comparison: AudioComparison) -> None:  # type: ignore[override]
        plot = self.getPlotItem()
        self.points, self.point_labels = [], []
        runs = self.plotted_runs()
        self._legend_columns(len(runs))
        if not runs:
            return
        xs = [math.log10(r.rtfx) for _, r in runs]  # type: ignore[arg-type]
        ys = [r.wer * 100 for _, r in runs]  # type: ignore[operator]
        lows = [r.wer_ci[0] * 100 if r.wer_ci else y for (_, r), y in zip(runs, ys, strict=True)]
        highs = [r.wer_ci[1] * 100 if r.wer_ci else y for (_, r), y in zip(runs, ys, strict=True)]
        x_range = _span(xs, pad=0.25)
        if x_range[1] - x_range[0] < 0.6:  # at least a factor of four across
            mid = (x_range[0] + x_range[1]) / 2
            x_range = (mid - 0.3, mid + 0.3)
        y_range = _span([*lows, *highs], pad=0.2, floor=0.0)
        self.error_bars = pg.ErrorBarItem(
            x=np.array(xs), y=np.array(ys),
            top=np.array(highs) - np.array(ys), bottom=np.array(ys) - np.array(lows),
            beam=(x_range[1] - x_range[0]) * 0.02, pen=_whisker_pen(self.line_scale),
        )
        plot.addItem(self.error_bars)
        for (i, r), x, y in zip(runs, xs, ys, strict=True):
            point = pg.ScatterPlotItem(
                [x], [y], size=13, symbol="o",
                brush=pg.mkBrush(series_color(i)), pen=pg.mkPen(_fg(), width=self.line_scale),
                name=elide(r.label, 30),
            )
            plot.addItem(point)
            self.points.append(point)
            # Labels point inwards so a point near the right edge keeps its label in view.
            right_half = x > (x_range[0] + x_range[1]) / 2
            label = pg.TextItem(
                elide(r.label, _LABEL_CHARS), color=_fg(), anchor=(1.0 if right_half else 0.0, 1.0)
            )
            label.setPos(x, y)
            plot.addItem(label)
            self.point_labels.append(label)
        plot.setXRange(*x_range, padding=0)
        plot.setYRange(*y_range, padding=0)

    def data_table(self) -> DataTable:
        header = ["run_id", "label", "rtfx", "wer", "ci_low", "ci_high"]
        rows = []
        for _, r in self.plotted_runs():
            low, high = r.wer_ci or (None, None)
            rows.append([r.run_id, r.label, r.rtfx, r.wer, low, high])
        return header, rows  # type: ignore[return-value]


def audio_chart_classes() -> tuple[type[_AudioChart], ...]:
    return (WerBarsChart, RtfxBarsChart, WerRtfxChart)


__all__ = [
    "AudioComparison",
    "AudioRunStats",
    "RtfxBarsChart",
    "WerBarsChart",
    "WerDelta",
    "WerRtfxChart",
    "audio_chart_classes",
]
