"""Compare, speed section: throughput-vs-latency curves across load, and latency CDFs.

Shown by the Compare view under its charts when the picked runs include speed runs (it
passes only those to :meth:`SpeedCompareSection.set_runs`). Data flow: the runs are read
through ``ctx.db`` (summary and every request's timestamps; finished runs are cached);
the curves come straight from the stored per-step summaries (no computation), and the
CDFs are computed from the timestamps on this section's own one-thread pool. Answers for
a selection or setting the user has since changed are dropped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.labels import distinct_labels
from openbench_desktop.core.speed.views import (
    CDF_METRICS,
    CURVE_X,
    LATENCY_METRICS,
    STEP_CHOICES,
    StoredSpeedRun,
    cdf,
    load_speed_run,
    pick_steps,
    timings_of_steps,
)
from openbench_desktop.ui.charts.chart_card import ChartCard
from openbench_desktop.ui.charts.compare_charts import CompareChart
from openbench_desktop.ui.charts.export import DEFAULT_DPI, export_chart, format_for
from openbench_desktop.ui.charts.speed_charts import (
    PERCENTILES,
    CdfSeries,
    SpeedCdfChart,
    SpeedSeries,
    ThroughputLatencyChart,
    export_json,
)
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.views.speed_detail import BackgroundCalls

log = logging.getLogger(__name__)

EXPORT_FILTERS = (
    "PNG image (*.png);;SVG vector image (*.svg);;CSV data (*.csv);;JSON data (*.json)"
)
_TERMINAL = {"completed", "failed", "cancelled", "interrupted"}


def _load_runs(store: object, run_ids: Sequence[str]) -> list[StoredSpeedRun]:
    """On the database thread: each run's summary and timings."""
    return [load_speed_run(store, run_id) for run_id in run_ids]


def _cdfs(
    runs: Sequence[tuple[int, StoredSpeedRun]], metric: str, which: str
) -> list[CdfSeries]:
    """Off the GUI thread: one CDF per run, over the steps ``which`` picks."""
    out = []
    for color, run in runs:
        steps = pick_steps(run.speed, which)
        timings = timings_of_steps(run.timings, steps)
        xs, ys = cdf(timings, metric, run.definitions)
        if steps is None:
            covers = "all steps"
        else:
            labels = [str(s.get("label")) for s in run.steps if int(s["step"]) in steps]
            covers = ", ".join(labels) or "all steps"
        out.append(CdfSeries(run.run_id, run.label, covers, xs, ys, color))
    return out


def _combo(name: str, accessible: str, items: dict[str, str]) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setAccessibleName(accessible)
    for key, text in items.items():
        combo.addItem(text, key)
    return combo


def _card(chart: CompareChart, hint: str, controls: list[QWidget]) -> ChartCard:
    return ChartCard(
        chart, chart.slug, hint, title=chart.title, controls=controls, controls_below=True,
        export_tip="Save this chart as PNG or SVG, or its numbers as CSV or JSON",
    )


class SpeedCompareSection(QWidget):
    """Speed runs side by side (the ``XCompareSection`` contract)."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("speed_compare")
        self._ids: list[str] = []
        self._runs: dict[str, StoredSpeedRun] = {}  # finished runs stay cached
        self._volatile: set[str] = set()
        self._load_ticket: int | None = None
        self._loading: tuple[str, ...] = ()
        self._cdf_ticket: int | None = None
        self._cdf_key: tuple[object, ...] | None = None
        self._shown_cdf_key: tuple[object, ...] | None = None
        self._export_dir = Path.home()
        self._calls = BackgroundCalls(self)
        self._calls.done.connect(self._on_cdfs)
        self._build()
        ctx.db.answered.connect(self._on_db_answer)
        ctx.signals.theme_changed.connect(self._on_theme_changed)

    # -- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel("Speed")
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        title.setFont(font)
        self.status_label = QLabel()
        self.status_label.setObjectName("speed_compare_status")
        self.status_label.setStyleSheet("color: palette(placeholder-text);")
        self.warning_label = QLabel()
        self.warning_label.setObjectName("speed_compare_warning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #D55E00;")
        self.warning_label.hide()

        self.throughput_chart = ThroughputLatencyChart()
        self.x_combo = _combo("speed_curve_x", "Throughput axis", CURVE_X)
        self.metric_combo = _combo("speed_curve_metric", "Latency metric", LATENCY_METRICS)
        self.pct_combo = _combo(
            "speed_curve_percentile", "Latency percentile", {p: p for p in PERCENTILES}
        )
        for combo in (self.x_combo, self.metric_combo, self.pct_combo):
            combo.currentIndexChanged.connect(self._on_curve_axes)
        self.throughput_card = _card(
            self.throughput_chart,
            "Each run's steps in order of offered load: achieved throughput against "
            "latency; whiskers: 95% bootstrap CI. A single-step run is one point; a red "
            "ring marks a client-limited step.",
            [QLabel("x:"), self.x_combo, QLabel("y:"), self.metric_combo, self.pct_combo],
        )

        self.cdf_chart = SpeedCdfChart()
        self.cdf_metric_combo = _combo("speed_cdf_metric", "CDF latency metric", CDF_METRICS)
        self.cdf_steps_combo = _combo("speed_cdf_steps", "Steps in the CDF", STEP_CHOICES)
        self.log_check = QCheckBox("Log x")
        self.log_check.setObjectName("speed_cdf_log")
        self.log_check.setAccessibleName("Logarithmic latency axis")
        self.cdf_metric_combo.currentIndexChanged.connect(self._request_cdfs)
        self.cdf_steps_combo.currentIndexChanged.connect(self._request_cdfs)
        self.log_check.toggled.connect(self.cdf_chart.set_log_x)
        self.cdf_card = _card(
            self.cdf_chart,
            "Share of successful requests at or below each latency, one curve per run "
            "(sweeps: the steps chosen). Each run under its own definitions.",
            [self.cdf_metric_combo, self.cdf_steps_combo, self.log_check],
        )
        for card in (self.throughput_card, self.cdf_card):
            assert card.export_button is not None
            card.export_button.clicked.connect(
                lambda _=False, c=card.chart: self._on_export(c)
            )

        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(self.status_label, 1)
        cards = QHBoxLayout()
        cards.addWidget(self.throughput_card, 1)
        cards.addWidget(self.cdf_card, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.warning_label)
        layout.addLayout(cards, 1)

    # -- contract ------------------------------------------------------------------------

    def set_runs(self, run_ids: Sequence[str]) -> None:
        """Show these speed runs (in this order: run *i* gets series colour *i*)."""
        self._ids = list(dict.fromkeys(str(i) for i in run_ids))
        for run_id in self._volatile:  # runs that were still going: read them afresh
            self._runs.pop(run_id, None)
        self._volatile.clear()
        self._advance()

    def charts(self) -> list[CompareChart]:
        """The charts that show something, for the Compare view's "Export all"."""
        return [c for c in (self.throughput_chart, self.cdf_chart) if c.has_data()]

    def is_busy(self) -> bool:
        return self._load_ticket is not None or self._cdf_ticket is not None

    def export_chart(self, chart: CompareChart, path: str | Path, fmt: str | None = None) -> Path:
        """One chart to ``path``: PNG/SVG/CSV as the other charts, or JSON of its numbers."""
        fmt = fmt or ("json" if Path(path).suffix.lower() == ".json" else format_for(path))
        if fmt == "json":
            return export_json(chart, path)
        return export_chart(chart, path, fmt, dpi=DEFAULT_DPI)

    # -- loading -------------------------------------------------------------------------

    def _advance(self) -> None:
        missing = [i for i in self._ids if i not in self._runs]
        if missing:
            if self._load_ticket is None:  # one read at a time; its answer calls us again
                store = self.ctx.store
                self._loading = tuple(missing)
                self._load_ticket = self.ctx.db.submit(lambda: _load_runs(store, missing))
            self._show_state()
            return
        self._render()

    @Slot(int, object, object)
    def _on_db_answer(self, ticket: int, result: object, error: object) -> None:
        if ticket != self._load_ticket:
            return
        self._load_ticket = None
        if error is not None:
            self.status_label.setText(f"Could not read the runs: {error}")
            return
        for run in result:  # type: ignore[attr-defined]
            self._runs[run.run_id] = run
            if run.status not in _TERMINAL:  # still going: read it afresh next time
                self._volatile.add(run.run_id)
        self._advance()

    def _shown_runs(self) -> list[tuple[int, StoredSpeedRun]]:
        shown = [(i, self._runs[r]) for i, r in enumerate(self._ids) if r in self._runs]
        labels = distinct_labels([r.label for _, r in shown], [r.run_id for _, r in shown])
        return [
            (i, run if run.label == label else dataclasses.replace(run, label=label))
            for (i, run), label in zip(shown, labels, strict=True)
        ]

    def _render(self) -> None:
        runs = self._shown_runs()
        self.throughput_chart.set_series(
            [SpeedSeries(r.run_id, r.label, r.speed, i) for i, r in runs]
        )
        used = sorted({r.definitions for _, r in runs})
        if len(used) > 1:
            self.warning_label.setText(
                "⚠ These runs use different definitions (" + ", ".join(used) + "): their "
                "latencies are not directly comparable. Run detail shows each run under "
                "every definition set."
            )
        limited = [r.label for _, r in runs if r.speed.get("client_limited")]
        if limited:
            text = self.warning_label.text() if len(used) > 1 else ""
            text += ("\n" if text else "") + (
                "⚠ Client-limited: " + ", ".join(limited) + " — the client could not keep "
                "up, so these figures may describe this computer, not the server."
            )
            self.warning_label.setText(text)
        self.warning_label.setVisible(len(used) > 1 or bool(limited))
        self._request_cdfs()

    def _request_cdfs(self, *_args: object) -> None:
        runs = self._shown_runs()
        metric = self.cdf_metric_combo.currentData()
        which = self.cdf_steps_combo.currentData()
        key = (tuple((r.run_id, len(r.timings)) for _, r in runs), metric, which)
        if key == self._cdf_key:  # already being computed
            return
        if key == self._shown_cdf_key:  # back to what is drawn: drop the pending answer
            self._cdf_ticket = self._cdf_key = None
            self._show_state()
            return
        self._cdf_key = key
        self._cdf_ticket = self._calls.submit(lambda: _cdfs(runs, metric, which))
        self._show_state()

    @Slot(int, object, object)
    def _on_cdfs(self, ticket: int, result: object, error: object) -> None:
        if ticket != self._cdf_ticket:
            return  # a selection or setting since changed
        self._cdf_ticket = None
        key, self._cdf_key = self._cdf_key, None
        if error is not None:
            self.status_label.setText(f"Could not compute the distributions: {error}")
            return
        _ids, metric, which = key  # type: ignore[misc]
        self.cdf_chart.set_series(result, metric=metric, step_choice=which)  # type: ignore[arg-type]
        self._shown_cdf_key = key
        self._show_state()

    def _show_state(self) -> None:
        if self._load_ticket is not None:
            self.status_label.setText("Reading runs…")
        elif self._cdf_ticket is not None:
            self.status_label.setText("Computing distributions…")
        else:
            n = len(self._shown_runs())
            requests = sum(len(r.timings) for _, r in self._shown_runs())
            self.status_label.setText(f"{n} speed run(s) · {requests} requests")
        for card in (self.throughput_card, self.cdf_card):
            card.export_button.setEnabled(card.chart.has_data())

    def _on_curve_axes(self, *_args: object) -> None:
        self.throughput_chart.set_axes(
            self.x_combo.currentData(), self.metric_combo.currentData(),
            self.pct_combo.currentData(),
        )
        self.throughput_card.export_button.setAccessibleName(
            f"Export {self.throughput_chart.title}"
        )

    @Slot(str)
    def _on_theme_changed(self, _theme: str) -> None:
        for chart in (self.throughput_chart, self.cdf_chart):
            chart.apply_theme()

    # -- export --------------------------------------------------------------------------

    def _ask_save_path(self, title: str, suggested: Path) -> tuple[str, str]:
        """The file dialog (tests override this to answer without one)."""
        return QFileDialog.getSaveFileName(self, title, str(suggested), EXPORT_FILTERS)

    def _show_error(self, title: str, message: str) -> None:
        """A warning box (tests override this)."""
        QMessageBox.warning(self, title, message)

    def _on_export(self, chart: CompareChart) -> None:
        path, chosen = self._ask_save_path(
            f"Export “{chart.title}”", self._export_dir / f"{chart.slug}.png"
        )
        if not path:
            return
        fmt = "json" if Path(path).suffix.lower() == ".json" else format_for(path)
        if fmt is None and not Path(path).suffix:  # no suffix: the chosen filter's
            fmt = next((f for f in ("png", "svg", "csv", "json") if f"*.{f}" in chosen), "png")
            path = f"{path}.{fmt}"
        try:
            written = self.export_chart(chart, path, fmt)
        except Exception as exc:
            log.exception("chart export failed")
            self._show_error("Export failed", f"Could not export {Path(path).name}: {exc}")
            return
        self._export_dir = written.parent
        self.status_label.setText(f"Saved {written}")


__all__ = ["SpeedCompareSection"]
