"""Runs in progress: one tab per run with progress, rate, ETA, accuracy, charts and samples.

A speed (load test) run shows :class:`~openbench_desktop.ui.views.speed_live.SpeedLivePanel`
in place of the accuracy figures, charts and samples (they mean nothing for a load test).

Everything here is driven by :class:`~openbench_desktop.ui.bridge.run_controller.RunController`
signals, which arrive on the GUI thread already batched (a few per second per run). The
samples table takes each batch in one insert; the charts only append numbers on arrival
and redraw from :attr:`LiveRunsView.redraw_timer`, at most a few times per second and only
for the tab on screen. A run's tab stays after it ends, with its final status, until the
user closes it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTabBar,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.domain import (
    Progress,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunSpec,
    RunStarted,
    RunSummary,
    SampleResult,
)
from openbench_desktop.ui.charts.live_charts import LatencyHistogram, TtftTimeline
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.live_samples_model import LiveSamplesModel
from openbench_desktop.ui.views.run_kinds import KIND_SPEECH, KIND_SPEED, run_kind
from openbench_desktop.ui.views.stat import Stat

if TYPE_CHECKING:
    from openbench_desktop.ui.views.speed_live import SpeedLivePanel

# Each tick redraws one of the two charts: each chart at most 4 times per second.
REDRAW_INTERVAL_MS: Final = 125
RATE_WINDOW_S: Final = 10.0  # samples/s and ETA follow the last few seconds, not the mean
EMPTY_TEXT: Final = "No runs in progress — start one in Run setup"
_Z95: Final = 1.959963984540054  # the normal quantile of 0.975

STATUS_COLORS: Final = {
    "running": "#0072B2",
    "cancelling": "#E69F00",
    "completed": "#009E73",
    "cancelled": "#E69F00",
    "failed": "#D55E00",
}
_TAB_MARKS: Final = {
    "running": "● ",
    "cancelling": "● ",
    "completed": "✓ ",
    "cancelled": "■ ",
    "failed": "✕ ",
}


def wilson95(k: int, n: int) -> tuple[float, float] | None:
    """95% Wilson score interval, closed form.

    The same figures as :func:`openbench_desktop.core.engine.metrics.wilson_interval` (a
    test checks it), without importing ``scipy.stats``: that import takes ~2 s, which
    would freeze the window at a run's first accuracy update.
    """
    if n <= 0:
        return None
    p = k / n
    z2 = _Z95 * _Z95
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_rate(per_s: float | None) -> str:
    if per_s is None or not math.isfinite(per_s):
        return "—"
    return f"{per_s:,.0f}/s" if per_s >= 100 else f"{per_s:.1f}/s"


class RunPanel(QWidget):
    """One run: header and actions, figures, charts, latest samples."""

    def __init__(
        self,
        job_id: int,
        spec: RunSpec,
        run_id: str | None = None,
        n_total: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"run_panel_{job_id}")
        self.job_id = job_id
        self.spec = spec
        self.run_id = run_id
        self.status = "running"
        self.summary: RunSummary | None = None
        self._n_total = n_total
        self._rate_window: deque[tuple[float, int]] = deque()
        self._failures_shown = False
        self._turn = 0
        # A load test: its own panel replaces accuracy, charts and samples.
        # (imported here: most runs are not load tests, and startup stays lean)
        kind = run_kind(spec.benchmark)
        self.speed: SpeedLivePanel | None = None
        if kind == KIND_SPEED:
            from openbench_desktop.ui.views.speed_live import SpeedLivePanel

            self.speed = SpeedLivePanel(spec)
        # A speech run: corpus WER and RTFx so far replace accuracy (see on_samples).
        self.speech = kind == KIND_SPEECH
        self._speech_totals = [0, 0, 0.0, 0.0]  # word errors, reference words, audio s, busy s

        # -- header: what is running, its status, the actions
        self.title_label = QLabel(self.title())
        self.title_label.setObjectName("run_title")
        font = QFont(self.title_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title_label.setFont(font)
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.subtitle_label = QLabel(self._subtitle())
        self.subtitle_label.setObjectName("run_subtitle")
        self.subtitle_label.setStyleSheet("color: palette(placeholder-text);")
        self.subtitle_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label = QLabel()
        self.status_label.setObjectName("run_status")
        self.status_label.setAccessibleName("Run status")
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setObjectName("cancel_run")
        self.cancel_button.setAccessibleName("Cancel this run")
        self.cancel_button.setToolTip(
            "Stop sending requests. Finished samples are kept; the run is stored as cancelled."
        )
        self.open_button = QPushButton("Open details")
        self.open_button.setObjectName("open_details")
        self.open_button.setAccessibleName("Open the run's details")
        self.open_button.hide()
        self.message_label = QLabel()
        self.message_label.setObjectName("run_message")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.title_label)
        titles.addWidget(self.subtitle_label)
        header = QHBoxLayout()
        header.addLayout(titles, 1)
        header.addWidget(self.status_label)
        header.addSpacing(12)
        header.addWidget(self.cancel_button)
        header.addWidget(self.open_button)

        # -- figures
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("run_progress")
        self.progress_bar.setAccessibleName("Run progress")
        self.progress_bar.setRange(0, max(1, n_total or 1))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%v / %m samples (%p%)")
        self.rate = Stat("Samples/s", "run_rate", "Samples finished per second, recently")
        self.elapsed = Stat("Elapsed", "run_elapsed", "Time since the run started")
        self.eta = Stat("Time left", "run_eta", "Estimated from the recent rate")
        self.accuracy = Stat(
            "Accuracy",
            "run_accuracy",
            "Correct answers among the samples answered so far, with a 95% Wilson interval",
        )
        self.failures = Stat("Failed", "run_failures", "Requests without a usable answer")
        # Room for the longest detail line, so the interval is never cut while it changes.
        self.accuracy.setMinimumWidth(
            self.accuracy.detail.fontMetrics().horizontalAdvance(
                "99,999 of 99,999 answered · 95% CI 99.9%–100.0%"
            )
        )
        self.rtfx = Stat(
            "RTFx so far",
            "run_rtfx",
            "Seconds of audio per second of processing over the scored clips (higher is "
            "faster; model load and warm-up excluded)",
        )
        figures = QGridLayout()
        figures.setHorizontalSpacing(28)
        for column, stat in enumerate(
            (self.rate, self.elapsed, self.eta, self.accuracy, self.rtfx, self.failures)
        ):
            figures.addWidget(stat, 0, column)
        figures.setColumnStretch(6, 1)
        if self.speech:
            self.accuracy.caption.setText("WER so far")
            self.accuracy.setToolTip(
                "Corpus word error rate over the utterances scored so far, after "
                "normalization (errors ÷ reference words); the interval comes at the end"
            )
            self.accuracy.value.setAccessibleName("WER so far")
            self.accuracy.detail.setText("no utterance scored yet")
        else:
            self.rtfx.hide()

        # -- charts and samples
        self.histogram = LatencyHistogram()
        self.histogram.setObjectName("latency_histogram")
        self.histogram.setAccessibleName("End-to-end latency histogram")
        self.timeline = TtftTimeline(origin_ns=time.monotonic_ns())
        self.timeline.setObjectName("ttft_timeline")
        self.timeline.setAccessibleName("Time to first token over time")
        charts = QWidget()
        charts_layout = QHBoxLayout(charts)
        charts_layout.setContentsMargins(0, 0, 0, 0)
        charts_layout.addWidget(self.histogram, 1)
        charts_layout.addWidget(self.timeline, 1)

        self.model = LiveSamplesModel(parent=self)
        self.table = QTableView()
        self.table.setObjectName("live_samples_table")
        self.table.setAccessibleName("Latest samples")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        # Fixed row heights: Qt never measures rows, whatever the number of inserts.
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        columns = self.table.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        columns.setStretchLastSection(True)
        em = self.table.fontMetrics().horizontalAdvance("M")
        for column, width in enumerate((5, 6, 7, 16, 4, 6, 6, 7)):
            self.table.setColumnWidth(column, int(width * em))
        samples_box = QWidget()
        samples_layout = QVBoxLayout(samples_box)
        samples_layout.setContentsMargins(0, 0, 0, 0)
        samples_layout.setSpacing(2)
        self.samples_caption = QLabel(f"Latest samples (newest first, last {self.model.max_rows})")
        self.samples_caption.setObjectName("samples_caption")
        samples_layout.addWidget(self.samples_caption)
        samples_layout.addWidget(self.table)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("live_splitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(charts)
        splitter.addWidget(samples_box)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        self.splitter = splitter
        self._sized = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(8)
        layout.addLayout(header)
        layout.addWidget(self.message_label)
        layout.addWidget(self.progress_bar)
        layout.addLayout(figures)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        if self.speed is not None:
            splitter.hide()
            for stat in (self.rate, self.accuracy, self.failures):
                stat.hide()  # the speed panel shows requests/s and failures by category
            self.progress_bar.setFormat("%v / %m requests (%p%)")
            layout.addWidget(self.speed, 1)
        else:
            layout.addWidget(splitter, 1)
        if self.speech:
            # No tokens are streamed: the per-clip processing time is the one timing.
            self.timeline.hide()
            self.histogram.setAccessibleName("Processing time per clip histogram")
            self.histogram.getPlotItem().setTitle("Processing time per clip", size="10pt")
        self._set_status("running")

    # -- what the tab shows ----------------------------------------------------------------

    def title(self) -> str:
        spec = self.spec
        return spec.name or f"{spec.model} · {spec.benchmark}"

    def _subtitle(self) -> str:
        spec = self.spec
        parts = [f"{spec.provider} {spec.base_url}"]
        if self.speed is not None:
            o = self.speed.options
            parts.append(f"{o.profile} profile · {spec.params.max_tokens} output tokens")
        else:
            parts.append(f"concurrency {spec.concurrency}")
        if self.run_id:
            parts.append(f"run {self.run_id[:8]}")
        return " · ".join(parts)

    def tab_text(self) -> str:
        return _TAB_MARKS.get(self.status, "") + self.title()

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "cancelled", "failed")

    def _set_status(self, status: str, text: str | None = None) -> None:
        self.status = status
        color = STATUS_COLORS.get(status, "#808080")
        self.status_label.setText(text or status.capitalize())
        self.status_label.setStyleSheet(f"color: {color}; font-weight: bold;")
        self.cancel_button.setVisible(not self.ended)
        self.cancel_button.setEnabled(status == "running")
        self.open_button.setVisible(self.ended and self.run_id is not None)

    # -- engine events ---------------------------------------------------------------------

    def on_started(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        self._n_total = event.n_total
        self.progress_bar.setRange(0, max(1, event.n_total))
        self.subtitle_label.setText(self._subtitle())

    def on_progress(self, event: Progress) -> None:
        if event.n_total != self._n_total:
            self._n_total = event.n_total
            self.progress_bar.setRange(0, max(1, event.n_total))
        self.progress_bar.setValue(event.n_done)
        window = self._rate_window
        window.append((event.elapsed_s, event.n_done))
        while len(window) > 2 and event.elapsed_s - window[1][0] >= RATE_WINDOW_S:
            window.popleft()
        rate = self._recent_rate()
        self.rate.value.setText(format_rate(rate))
        self.elapsed.value.setText(format_duration(event.elapsed_s))
        left = event.n_total - event.n_done
        if self.ended:
            self.eta.value.setText("—")
        elif left <= 0:
            self.eta.value.setText("finishing")
        else:
            self.eta.value.setText(format_duration(left / rate) if rate else "—")
        if self.speed is None and not self.speech:
            self._show_accuracy(event.n_correct, event.n_ok, None)
        self.failures.value.setText(f"{event.n_failed:,}")
        self.failures.detail.setText(
            f"{event.n_failed / event.n_done:.1%} of finished" if event.n_done else ""
        )
        if event.n_failed and not self._failures_shown:
            # Once: a style sheet change re-polishes the widget, too costly per event.
            self._failures_shown = True
            self.failures.value.setStyleSheet(f"color: {STATUS_COLORS['failed']};")

    def _recent_rate(self) -> float | None:
        if not self._rate_window:
            return None
        t1, n1 = self._rate_window[-1]
        t0, n0 = self._rate_window[0]
        if t1 - t0 >= 1.0:
            return (n1 - n0) / (t1 - t0)
        return n1 / t1 if t1 > 0 and n1 else None  # the first second: the mean so far

    def _show_accuracy(
        self, n_correct: int, n_answered: int, ci: tuple[float, float] | None
    ) -> None:
        if n_answered <= 0:
            self.accuracy.value.setText("—")
            self.accuracy.detail.setText("no answers yet")
            return
        ci = ci or wilson95(n_correct, n_answered)
        self.accuracy.value.setText(f"{n_correct / n_answered:.1%}")
        detail = f"{n_correct:,} of {n_answered:,} answered"
        if ci is not None:
            detail += f" · 95% CI {ci[0]:.1%}–{ci[1]:.1%}"
        self.accuracy.detail.setText(detail)

    def _add_speech(self, results: tuple[SampleResult, ...]) -> None:
        """Running corpus WER and RTFx from each utterance's stored details."""
        from openbench_desktop.core.audio.runner import audio_details

        totals = self._speech_totals
        for r in results:
            details = audio_details(r)
            if not r.ok or details is None or "ref_words" not in details:
                continue
            totals[0] += details["substitutions"] + details["deletions"] + details["insertions"]
            totals[1] += details["ref_words"]
            totals[2] += float(details.get("audio_s") or 0.0)
            busy = details.get("processing_s", details.get("synthesis_s"))
            totals[3] += float(busy or 0.0)
        self._show_speech(None, None)

    def _show_speech(self, ci: list[float] | None, rtfx: float | None) -> None:
        errors, words, audio_s, busy_s = self._speech_totals
        if words:
            self.accuracy.value.setText(f"{errors / words:.1%}")
            detail = f"{errors:,} errors / {words:,} words"
            if ci:
                detail += f" · 95% CI {ci[0]:.1%}–{ci[1]:.1%}"
            self.accuracy.detail.setText(detail)
        speed = rtfx if rtfx is not None else (audio_s / busy_s if busy_s > 0 else None)
        self.rtfx.value.setText("—" if speed is None else f"{speed:,.1f}×")
        self.rtfx.detail.setText(f"{audio_s:,.1f} s of audio" if audio_s else "")

    def on_samples(self, results: tuple[SampleResult, ...]) -> None:
        if self.speed is not None:
            self.speed.add_results(results)
            return
        if self.speech:
            self._add_speech(results)
        bar = self.table.verticalScrollBar()
        at_top = bar.value() == 0
        self.model.append_batch(results)
        if not at_top:
            # Someone is reading older rows: keep them where they were under the cursor.
            shift = min(len(results), self.model.max_rows)
            bar.setValue(bar.value() + shift * self.table.verticalHeader().defaultSectionSize())
        self.histogram.add_results(results)
        self.timeline.add_results(results)

    def on_ended(self, event: RunFinished | RunFailed | RunCancelled) -> None:
        summary = event.summary
        self.summary = summary
        if isinstance(event, RunFinished):
            self._set_status("completed")
        elif isinstance(event, RunCancelled):
            self._set_status("cancelled")
            self._show_message(summary.message if summary else None)
        else:
            self._set_status("failed")
            self._show_message(event.message)
        if self.speed is not None:
            self.speed.finish(summary)
        elif self.speech and summary is not None:
            audio = summary.audio or {}
            self.accuracy.caption.setText("WER")
            self._show_speech(audio.get("wer_ci"), audio.get("rtfx"))
            if audio.get("rtfx") is not None:
                self.rtfx.caption.setText("RTFx")
        elif summary is not None:
            self._show_accuracy(summary.n_correct, summary.n_ok, summary.accuracy_ci)
            if summary.duration_s:
                done = summary.n_ok + summary.n_failed
                self.rate.value.setText(format_rate(done / summary.duration_s))
                self.rate.caption.setText("Samples/s (mean)")
        if summary is not None and summary.duration_s:
            self.elapsed.caption.setText("Took")
            self.elapsed.value.setText(format_duration(summary.duration_s))
        self.eta.value.setText("—")
        self.flush_charts()

    def on_rejected(self, message: str) -> None:
        self._set_status("failed")
        if self.speed is not None:
            self.speed.finish(None)
        self._show_message(message)

    def mark_cancelling(self) -> None:
        if self.status == "running":
            self._set_status("cancelling", "Cancelling…")

    def _show_message(self, message: str | None) -> None:
        if message:
            self.message_label.setText(message)
            self.message_label.show()

    def flush_charts(self) -> bool:
        if self.speed is not None:
            return self.speed.flush()
        drew = self.histogram.flush()
        return self.timeline.flush() or drew

    def flush_one_chart(self) -> bool:
        """Redraw one chart, taking turns: two smaller pauses instead of one bigger one."""
        if self.speed is not None:
            return False  # the speed panel updates from its own, slower timer
        charts = (self.histogram, self.timeline)
        self._turn = 1 - self._turn
        return charts[self._turn].flush() or charts[1 - self._turn].flush()

    def retheme(self) -> None:
        self.histogram.retheme()
        self.timeline.retheme()
        if self.speed is not None:
            self.speed.retheme()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:
            # Half charts, half samples: the plots' size hints would otherwise take most.
            self._sized = True
            half = max(1, self.splitter.height() // 2)
            self.splitter.setSizes([half, half])
        self.flush_charts()  # a tab that was hidden took data without drawing it


class LiveRunsView(QWidget):
    """The "Runs in progress" page."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._panels: dict[int, RunPanel] = {}

        # -- empty state
        empty = QWidget()
        empty.setObjectName("live_empty")
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("live_empty_text")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont(self.empty_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.empty_label.setFont(font)
        # Two fixed lines: a word-wrapped label in a centred layout gets clipped.
        hint = QLabel(
            "Runs you start appear here with their progress, accuracy, latency charts\n"
            "and the latest answers. You can run several at once."
        )
        hint.setObjectName("live_empty_hint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.setup_button = QPushButton("Go to Run setup")
        self.setup_button.setObjectName("go_to_setup")
        self.setup_button.setAccessibleName("Go to Run setup")
        self.setup_button.clicked.connect(self._on_go_to_setup)
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_label)
        empty_layout.addWidget(hint, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addSpacing(8)
        empty_layout.addWidget(self.setup_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(2)

        # -- tabs, with a notice above them once every run has ended
        self.idle_bar = QWidget()
        self.idle_bar.setObjectName("live_idle_bar")
        idle_label = QLabel(EMPTY_TEXT)
        idle_label.setObjectName("live_idle_text")
        idle_button = QPushButton("Run setup")
        idle_button.setObjectName("idle_go_to_setup")
        idle_button.setAccessibleName("Go to Run setup")
        idle_button.clicked.connect(self._on_go_to_setup)
        idle_layout = QHBoxLayout(self.idle_bar)
        idle_layout.setContentsMargins(12, 6, 12, 0)
        idle_layout.addWidget(idle_label, 1)
        idle_layout.addWidget(idle_button)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("live_tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self._on_tab_close_requested)
        self.tabs.currentChanged.connect(self._on_current_changed)
        runs = QWidget()
        runs_layout = QVBoxLayout(runs)
        runs_layout.setContentsMargins(0, 0, 0, 0)
        runs_layout.addWidget(self.idle_bar)
        runs_layout.addWidget(self.tabs, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(runs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        # Charts redraw from this timer only, so their cost doesn't grow with the event rate.
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setObjectName("live_redraw_timer")
        self.redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self.redraw_timer.timeout.connect(self._on_redraw)

        controller = ctx.controller
        controller.job_started.connect(self._on_job_started)
        controller.job_progress.connect(self._on_job_progress)
        controller.job_samples.connect(self._on_job_samples)
        controller.job_ended.connect(self._on_job_ended)
        controller.job_rejected.connect(self._on_job_rejected)
        ctx.signals.theme_changed.connect(self._on_theme_changed)
        for job in controller.active_jobs():  # runs started before this view existed
            self._panel(job.job_id)
        self._update_state()

    # -- queries ---------------------------------------------------------------------------

    def panels(self) -> list[RunPanel]:
        return [self._panels[j] for j in sorted(self._panels)]

    def panel(self, job_id: int) -> RunPanel | None:
        return self._panels.get(job_id)

    def current_panel(self) -> RunPanel | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, RunPanel) else None

    def selected_run_id(self) -> str | None:
        panel = self.current_panel()
        return panel.run_id if panel else None

    # -- controller signals ----------------------------------------------------------------

    def _panel(self, job_id: int) -> RunPanel | None:
        """The job's panel, created on first sight (None if the controller forgot the job)."""
        panel = self._panels.get(job_id)
        if panel is not None:
            return panel
        job = self.ctx.controller.job(job_id)
        if job is None:
            return None
        panel = RunPanel(job_id, job.spec, run_id=job.run_id)
        panel.cancel_button.clicked.connect(lambda: self._on_cancel_clicked(job_id))
        panel.open_button.clicked.connect(lambda: self._on_open_clicked(job_id))
        self._panels[job_id] = panel
        index = self.tabs.addTab(panel, panel.tab_text())
        self.tabs.setTabToolTip(index, panel.title())
        self._sync_tab(panel)
        self.tabs.setCurrentIndex(index)  # the newest run is the one the user just started
        self._update_state()
        return panel

    @Slot(int, object)
    def _on_job_started(self, job_id: int, event: RunStarted) -> None:
        panel = self._panel(job_id)
        if panel is not None:
            panel.on_started(event)

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, event: Progress) -> None:
        panel = self._panel(job_id)
        if panel is not None:
            panel.on_progress(event)

    @Slot(int, object)
    def _on_job_samples(self, job_id: int, results: tuple[SampleResult, ...]) -> None:
        panel = self._panel(job_id)
        if panel is not None:
            panel.on_samples(results)

    @Slot(int, object)
    def _on_job_ended(self, job_id: int, event: RunFinished | RunFailed | RunCancelled) -> None:
        panel = self._panel(job_id)
        if panel is not None:
            panel.on_ended(event)
            self._sync_tab(panel)
        self._update_state()

    @Slot(int, str)
    def _on_job_rejected(self, job_id: int, message: str) -> None:
        # A run that never started has no panel (the setup page reports it); one that
        # started and then crashed does: show why it stopped.
        panel = self._panels.get(job_id)
        if panel is not None and not panel.ended:
            panel.on_rejected(message)
            self._sync_tab(panel)
        self._update_state()

    # -- user actions ----------------------------------------------------------------------

    def _confirm_cancel(self) -> bool:
        """Ask before cancelling the current run (tests override this)."""
        panel = self.current_panel()
        name = panel.title() if panel else "this run"
        answer = QMessageBox.question(
            self,
            "Cancel run",
            f"Cancel {name}? Samples already finished are kept and the run is stored as cancelled.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _on_cancel_clicked(self, job_id: int) -> None:
        panel = self._panels.get(job_id)
        if panel is None or panel.ended:
            return
        if panel is not self.current_panel():
            self.tabs.setCurrentWidget(panel)  # the question names the current run
        if not self._confirm_cancel():
            return
        self.ctx.controller.cancel(job_id)
        panel.mark_cancelling()
        self._sync_tab(panel)

    def _on_open_clicked(self, job_id: int) -> None:
        panel = self._panels.get(job_id)
        if panel is not None and panel.run_id:
            self.ctx.signals.open_run.emit(panel.run_id)

    @Slot()
    def _on_go_to_setup(self) -> None:
        self.ctx.signals.navigate.emit("setup")

    @Slot(int)
    def _on_tab_close_requested(self, index: int) -> None:
        panel = self.tabs.widget(index)
        if not isinstance(panel, RunPanel) or not panel.ended:
            return  # a running run is cancelled with its button, not by closing its tab
        self.tabs.removeTab(index)
        del self._panels[panel.job_id]
        panel.deleteLater()
        self._update_state()

    @Slot(int)
    def _on_current_changed(self, _index: int) -> None:
        panel = self.current_panel()
        if panel is not None:
            panel.flush_charts()

    @Slot()
    def _on_redraw(self) -> None:
        panel = self.current_panel()
        if panel is not None and panel.isVisible():
            panel.flush_one_chart()

    @Slot(str)
    def _on_theme_changed(self, _theme: str) -> None:
        for panel in self._panels.values():
            panel.retheme()

    # -- state -----------------------------------------------------------------------------

    def _sync_tab(self, panel: RunPanel) -> None:
        index = self.tabs.indexOf(panel)
        if index < 0:
            return
        self.tabs.setTabText(index, panel.tab_text())
        bar = self.tabs.tabBar()
        for side in (QTabBar.ButtonPosition.RightSide, QTabBar.ButtonPosition.LeftSide):
            close = bar.tabButton(index, side)  # the side depends on the platform's style
            if close is not None:
                close.setVisible(panel.ended)
                close.setToolTip("Close this finished run's tab")

    def _update_state(self) -> None:
        any_active = any(not p.ended for p in self._panels.values())
        self.stack.setCurrentIndex(1 if self._panels else 0)
        self.idle_bar.setVisible(bool(self._panels) and not any_active)
        if any_active and not self.redraw_timer.isActive():
            self.redraw_timer.start()
        elif not any_active and self.redraw_timer.isActive():
            self.redraw_timer.stop()
