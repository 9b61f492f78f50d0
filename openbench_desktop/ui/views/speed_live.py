"""The live panel of a speed (load test) run: percentiles, throughput, steps, failures.

Shown by the "Runs in progress" tab of a speed run (``live_runs_view.RunPanel``) instead
of the accuracy figures, which mean nothing for a load test.

Taking data and showing it are apart, as in ``ui/charts/live_charts.py``:

* :meth:`SpeedLivePanel.add_results` turns each batch of finished requests into numbers
  (``timing_of`` / ``request_metrics`` of :mod:`openbench_desktop.core.speed.metrics`,
  under the run's own metric definitions) and appends them to numpy arrays: no widget is
  touched, whatever the number of batches;
* a timer (:data:`UPDATE_INTERVAL_MS`) computes percentiles, the sliding-window
  throughput and one chart point, and sets the labels, a few times per second at most.

While the run is going, percentiles over more than :data:`EXACT_LIMIT` values look at an
evenly strided subset (a chart-grade figure that stays cheap); once the run has ended
they are exact and equal the stored summary's. When the run ends the panel also shows
the summary's per-step table and, prominently, whether the client limited the results.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.domain import RunSpec, RunSummary, SampleResult
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.runner import SpeedOptions
from openbench_desktop.ui.charts.live_charts import GrowingArray
from openbench_desktop.ui.charts.speed_live_charts import SpeedLatencyChart, SpeedThroughputChart
from openbench_desktop.ui.views.stat import Stat

UPDATE_INTERVAL_MS: Final = 250
WINDOW_S: Final = 5.0  # throughput and the charts' latency follow the last few seconds
EXACT_LIMIT: Final = 200_000  # above this many values, running percentiles use a stride
SHOWN_PERCENTILES: Final = ("p50", "p90", "p99")
METRICS: Final = (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("e2e_ms", "E2E"))
_WARN_STYLE: Final = (
    "QLabel { background: #FBE3D0; color: #7A2E00; border: 1px solid #D55E00;"
    " border-radius: 4px; padding: 6px; }"
)
_FAILED_COLOR: Final = "#D55E00"
_Q: Final = np.array([50.0, 90.0, 99.0])


def format_ms(value: float | None) -> str:
    """Milliseconds as the panel and the steps table show them."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def format_per_s(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _pcts(values: np.ndarray, *, exact: bool) -> dict[str, float | None]:
    """p50/p90/p99 with numpy's linear interpolation, as the run summary computes them."""
    if not exact and len(values) > EXACT_LIMIT:
        # Thin before anything else touches the array: the pooled ITL gaps of a long
        # run at 2,000 requests/s pass a million values, too many to copy 4 times a second.
        values = values[:: len(values) // EXACT_LIMIT + 1]
    values = values[~np.isnan(values)]
    if not len(values):
        return dict.fromkeys(SHOWN_PERCENTILES)
    qs = np.percentile(values, _Q)
    return {k: float(q) for k, q in zip(SHOWN_PERCENTILES, qs, strict=True)}


class SpeedLiveStats:
    """Numbers of the requests finished so far, in growing numpy arrays (no Qt).

    Per successful request, aligned: the end time (s after ``origin_ns``), TTFT, E2E,
    output tokens (NaN where undefined). ITL gaps are pooled over requests, as the run
    summary pools them.
    """

    def __init__(self, definitions: str = "openbench") -> None:
        self.definitions = definitions if definitions in sm.DEFINITIONS else "openbench"
        self.origin_ns: int | None = None
        self.end_s = GrowingArray()
        self.ttft = GrowingArray()
        self.e2e = GrowingArray()
        self.out_tokens = GrowingArray()
        self.itl = GrowingArray()
        self.n_ok = 0
        self.n_failed = 0
        self.errors: Counter[str] = Counter()
        self.step_starts: dict[int, float] = {}  # step -> first seen end/send time (s)
        self.current_step = 0
        self.lock = threading.Lock()

    @property
    def n_done(self) -> int:
        return self.n_ok + self.n_failed

    def add(self, results: Iterable[SampleResult]) -> int:
        """Take a batch; how many results it held.

        Safe to call from one worker thread while the GUI thread reads: the per-request
        work runs without the lock, which guards only the appends (and the readers'
        snapshots), so a reader never waits for a batch to be parsed.
        """
        ends: list[float] = []
        ttft: list[float] = []
        e2e: list[float] = []
        tokens: list[float] = []
        gaps: list[float] = []
        errors: Counter[str] = Counter()
        starts: dict[int, float] = {}
        n = n_ok = 0
        top_step = self.current_step
        nan = math.nan
        for r in results:
            n += 1
            t = sm.timing_of(r)
            if self.origin_ns is None:
                self.origin_ns = t.scheduled_ns
            if t.step not in self.step_starts and t.step not in starts:
                starts[t.step] = (t.sent_ns - self.origin_ns) / 1e9
                top_step = max(top_step, t.step)
            if not t.ok:
                errors[t.error_category or "other"] += 1
                continue
            n_ok += 1
            m = sm.request_metrics(t, self.definitions)
            end = t.end_ns if t.end_ns is not None else t.sent_ns
            ends.append((end - self.origin_ns) / 1e9)
            ttft.append(nan if m.ttft_ms is None else m.ttft_ms)
            e2e.append(nan if m.e2e_ms is None else m.e2e_ms)
            tokens.append(nan if t.output_tokens is None else float(t.output_tokens))
            gaps.extend(m.itl_gaps_ms)
        with self.lock:
            if ends:
                self.end_s.extend(np.asarray(ends))
                self.ttft.extend(np.asarray(ttft))
                self.e2e.extend(np.asarray(e2e))
                self.out_tokens.extend(np.asarray(tokens))
            if gaps:
                self.itl.extend(np.asarray(gaps))
            self.step_starts.update(starts)
            self.current_step = top_step
            self.errors.update(errors)
            self.n_failed += sum(errors.values())
            self.n_ok += n_ok
        return n

    def snapshot(self) -> dict[str, np.ndarray]:
        """Views of the filled arrays, all of the same moment (appends go past them)."""
        with self.lock:
            return {
                "end_s": self.end_s.values,
                "ttft": self.ttft.values,
                "e2e": self.e2e.values,
                "out_tokens": self.out_tokens.values,
                "itl": self.itl.values,
            }

    def error_counts(self) -> list[tuple[str, int]]:
        with self.lock:
            return self.errors.most_common()

    def percentiles(self, *, exact: bool) -> dict[str, dict[str, float | None]]:
        out = {}
        snap = self.snapshot()
        for key, name in (("ttft_ms", "ttft"), ("itl_ms", "itl"), ("e2e_ms", "e2e")):
            out[key] = _pcts(snap[name], exact=exact)
        return out

    def window(self, now_s: float, window_s: float = WINDOW_S) -> dict[str, float | None]:
        """Throughput, Little's-law in-flight estimate and latency of recent requests."""
        span = min(window_s, now_s)
        snap = self.snapshot()
        ends = snap["end_s"]
        recent = ends >= now_s - window_s
        n = int(np.count_nonzero(recent))
        out: dict[str, float | None] = {"requests_per_s": None, "tokens_per_s": None}
        if span > 0:
            out["requests_per_s"] = n / span
            toks = snap["out_tokens"][recent]
            if n and not np.isnan(toks).any():
                out["tokens_per_s"] = float(toks.sum()) / span
        e2e = snap["e2e"][recent]
        e2e = e2e[~np.isnan(e2e)]
        ttft = snap["ttft"][recent]
        ttft = ttft[~np.isnan(ttft)]
        rps = out["requests_per_s"]
        out["in_flight"] = rps * float(e2e.mean()) / 1000.0 if rps and len(e2e) else None
        for name, values in (("ttft", ttft), ("e2e", e2e)):
            p = np.percentile(values, (50, 99)) if len(values) else (None, None)
            out[f"{name}_p50"] = None if p[0] is None else float(p[0])
            out[f"{name}_p99"] = None if p[1] is None else float(p[1])
        return out


# -- the summary's per-step table ------------------------------------------------------------


def _metric(step: Mapping[str, Any], key: str, pct: str) -> float | None:
    value = ((step.get("metrics") or {}).get(key) or {}).get(pct)
    return float(value) if isinstance(value, int | float) else None


STEP_COLUMNS: Final = (
    ("Step", "label"),
    ("OK", "n_ok"),
    ("Failed", "n_failed"),
    ("Req/s", "requests_per_s"),
    ("Out tok/s", "output_tokens_per_s"),
    ("TTFT p50", ("ttft_ms", "p50")),
    ("TTFT p99", ("ttft_ms", "p99")),
    ("ITL p50", ("itl_ms", "p50")),
    ("TPOT p50", ("tpot_ms", "p50")),
    ("E2E p50", ("e2e_ms", "p50")),
    ("E2E p99", ("e2e_ms", "p99")),
    ("Goodput/s", "goodput_requests_per_s"),
    ("Client-limited", "client_limited"),
)


class SpeedStepsModel(QAbstractTableModel):
    """One row per step of a finished speed run's summary (``summary.speed["steps"]``)."""

    COL_STEP, COL_CLIENT_LIMITED = 0, len(STEP_COLUMNS) - 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._steps: list[Mapping[str, Any]] = []

    def set_steps(self, steps: Sequence[Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self._steps = list(steps)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._steps)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(STEP_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return STEP_COLUMNS[section][0]
        return None

    def value(self, row: int, column: int) -> object:
        step = self._steps[row]
        key = STEP_COLUMNS[column][1]
        if isinstance(key, tuple):
            return _metric(step, *key)
        return step.get(key)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        value = self.value(row, column)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.COL_CLIENT_LIMITED:
                return "yes ⚠" if value else "no"
            if isinstance(value, bool) or value is None:
                return "—" if value is None else str(value)
            if isinstance(value, int):
                return f"{value:,}"
            if isinstance(value, float):
                key = STEP_COLUMNS[column][1]
                return format_ms(value) if isinstance(key, tuple) else format_per_s(value)
            return str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column != self.COL_STEP:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            step = self._steps[row]
            reasons = step.get("client_limited_reasons") or []
            parts = [str(step.get("label", ""))]
            if step.get("stopped"):
                parts.append(f"Stopped: {step['stopped']}")
            parts.extend(f"Client-limited: {r}" for r in reasons)
            return "\n".join(parts)
        return None


# -- the panel -------------------------------------------------------------------------------


class SpeedLivePanel(QWidget):
    """Live figures of one speed run (see the module docstring)."""

    def __init__(self, spec: RunSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speed_live_panel")
        self.spec = spec
        self.options = SpeedOptions.from_spec(spec)
        self.stats = SpeedLiveStats(self.options.definitions)
        self.ended = False
        self.summary: RunSummary | None = None
        self.n_updates = 0  # how many times the figures were recomputed and shown
        self.n_batches = 0
        self._dirty = False
        self._series: dict[str, GrowingArray] = {
            k: GrowingArray(256)
            for k in ("t", "rps", "tps", "ttft_p50", "ttft_p99", "e2e_p50", "e2e_p99")
        }
        self._failed_styled = False
        self.shown: dict[str, dict[str, float | None]] = {}  # the percentiles on screen

        # -- tiles
        self.step_tile = Stat("Step", "speed_step", "The step of the load profile running now")
        self.rps_tile = Stat(
            "Requests/s", "speed_rps",
            f"Successful requests finished per second over the last {WINDOW_S:g} s",
        )
        self.tps_tile = Stat(
            "Output tokens/s", "speed_tps",
            f"Output tokens (as the server counted them) per second over the last {WINDOW_S:g} s",
        )
        self.inflight_tile = Stat(
            "In flight", "speed_in_flight",
            "Requests in flight: exact for closed-loop steps (their concurrency); for "
            "rate steps ≈ requests/s × mean latency (Little's law)",
        )
        self.failed_tile = Stat("Failed", "speed_failed", "Failed requests, by category")
        self.failed_tile.detail.setWordWrap(True)
        tiles = QHBoxLayout()
        tiles.setSpacing(28)
        for tile in (
            self.step_tile, self.rps_tile, self.tps_tile, self.inflight_tile, self.failed_tile
        ):
            tiles.addWidget(tile)
        tiles.addStretch(1)

        # -- percentiles: rows TTFT / ITL / E2E, columns p50 / p90 / p99
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(2)
        self.pct_caption = QLabel(f"Latency, ms ({self.options.definitions} definitions)")
        self.pct_caption.setObjectName("speed_pct_caption")
        self.pct_caption.setStyleSheet("color: palette(placeholder-text);")
        grid.addWidget(self.pct_caption, 0, 0)
        for c, pct in enumerate(SHOWN_PERCENTILES, start=1):
            head = QLabel(pct)
            head.setStyleSheet("color: palette(placeholder-text);")
            head.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(head, 0, c)
        self.pct_labels: dict[tuple[str, str], QLabel] = {}
        bold = QFont(self.font())
        bold.setBold(True)
        for r, (key, title) in enumerate(METRICS, start=1):
            name = QLabel(title)
            name.setToolTip({
                "ttft_ms": "Time to first token",
                "itl_ms": "Inter-token latency: gaps between streamed tokens, pooled",
                "e2e_ms": "End-to-end latency: request sent to reply complete",
            }[key])
            grid.addWidget(name, r, 0)
            for c, pct in enumerate(SHOWN_PERCENTILES, start=1):
                label = QLabel("—")
                label.setObjectName(f"speed_{key.removesuffix('_ms')}_{pct}")
                label.setAccessibleName(f"{title} {pct}")
                label.setFont(bold)
                label.setAlignment(Qt.AlignmentFlag.AlignRight)
                label.setMinimumWidth(label.fontMetrics().horizontalAdvance("99,999.9"))
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                grid.addWidget(label, r, c)
                self.pct_labels[(key, pct)] = label
        figures = QHBoxLayout()
        figures.addLayout(grid)
        figures.addSpacing(24)
        self.n_label = QLabel("")
        self.n_label.setObjectName("speed_n")
        self.n_label.setStyleSheet("color: palette(placeholder-text);")
        self.n_label.setAlignment(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft)
        figures.addWidget(self.n_label, 1)

        # -- the end: client-limited flag, stop reason, per-step table
        self.client_limited_label = QLabel()
        self.client_limited_label.setObjectName("speed_client_limited")
        self.client_limited_label.setAccessibleName("Client-limited warning")
        self.client_limited_label.setWordWrap(True)
        self.client_limited_label.setStyleSheet(_WARN_STYLE)
        self.client_limited_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.client_limited_label.hide()
        self.end_notes = QLabel()
        self.end_notes.setObjectName("speed_end_notes")
        self.end_notes.setWordWrap(True)
        self.end_notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.end_notes.hide()
        self.steps_model = SpeedStepsModel(self)
        self.steps_table = QTableView()
        self.steps_table.setObjectName("speed_steps_table")
        self.steps_table.setAccessibleName("Results per step")
        self.steps_table.setModel(self.steps_model)
        self.steps_table.verticalHeader().hide()
        self.steps_table.setAlternatingRowColors(True)
        self.steps_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.steps_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.steps_table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.steps_table.hide()

        # -- charts
        self.throughput_chart = SpeedThroughputChart()
        self.throughput_chart.setObjectName("speed_throughput_chart")
        self.throughput_chart.setAccessibleName("Throughput over time")
        self.latency_chart = SpeedLatencyChart()
        self.latency_chart.setObjectName("speed_latency_chart")
        self.latency_chart.setAccessibleName("Latency percentiles over time")
        charts = QHBoxLayout()
        charts.setContentsMargins(0, 0, 0, 0)
        charts.addWidget(self.throughput_chart, 1)
        charts.addWidget(self.latency_chart, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.client_limited_label)
        layout.addLayout(tiles)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        layout.addLayout(figures)
        layout.addWidget(self.end_notes)
        layout.addWidget(self.steps_table)
        layout.addLayout(charts, 1)

        # One worker, so batches are counted in the order they came.
        self._ingest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speed-live")
        self._pending: Future[None] | None = None
        self.update_timer = QTimer(self)
        self.update_timer.setObjectName("speed_update_timer")
        self.update_timer.setInterval(UPDATE_INTERVAL_MS)
        self.update_timer.timeout.connect(self._on_tick)
        self.update_timer.start()
        self._show_step()

    # -- data in -----------------------------------------------------------------------------

    def add_results(self, results: Sequence[SampleResult]) -> None:
        """Take a batch of finished requests: numbers only, the timer shows them.

        The per-request work (parsing each request's details, its metrics under the run's
        definitions) runs on one worker thread: at 2,000 requests/s it took a third of
        the GUI thread (see docs/PERFORMANCE.md), while the GUI only needs the arrays.
        """
        if not results:
            return
        self.n_batches += 1
        if self.ended:  # a straggler after the end: nothing runs behind it any more
            self._ingest_batch(tuple(results))
            return
        self._pending = self._ingest.submit(self._ingest_batch, tuple(results))

    def _ingest_batch(self, results: tuple[SampleResult, ...]) -> None:
        if self.stats.add(results):
            self._dirty = True

    def drain(self) -> None:
        """Wait until every batch handed over so far is counted (end of run, tests)."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def finish(self, summary: RunSummary | None, *, status: str = "completed") -> None:
        """The run ended: exact figures, the per-step table and the client-limited flag."""
        self.ended = True
        self.summary = summary
        self.update_timer.stop()
        self.drain()
        self._ingest.shutdown(wait=True)
        self.flush(force=True)
        speed = summary.speed if summary is not None else None
        if not speed:
            return
        steps = speed.get("steps") or []
        self.steps_model.set_steps(steps)
        self.steps_table.setVisible(bool(steps))
        self._fit_steps_table()
        if speed.get("client_limited"):
            reasons = speed.get("client_limited_reasons") or []
            self.client_limited_label.setText(
                "<b>⚠ Client-limited:</b> these results may describe this machine, not the "
                "server." + "".join(f"<br>• {r}" for r in reasons)
            )
            self.client_limited_label.show()
        notes = []
        stopped = speed.get("stopped")
        if stopped:
            notes.append(f"<b>Stopped early:</b> {stopped.get('reason')}")
        notes.extend(str(n) for n in speed.get("notes") or [])
        if notes:
            self.end_notes.setText("<br>".join(notes))
            self.end_notes.show()
        self._show_step()

    def _fit_steps_table(self) -> None:
        rows = self.steps_model.rowCount()
        height = self.steps_table.horizontalHeader().height() + 4
        height += sum(self.steps_table.rowHeight(r) for r in range(rows))
        self.steps_table.setMaximumHeight(max(height, 40))
        self.steps_table.setMinimumHeight(min(max(height, 40), 220))

    # -- figures out -------------------------------------------------------------------------

    def _on_tick(self) -> None:
        if self.isVisible():  # a hidden tab keeps its data and catches up when shown
            self.flush()

    def flush(self, *, force: bool = False) -> bool:
        """Recompute and show the figures; False when there was nothing to show."""
        if not self.stats.n_done or not (self._dirty or force or not self.ended):
            return False
        self._dirty = False
        self.n_updates += 1
        stats = self.stats
        exact = self.ended
        pcts = stats.percentiles(exact=exact)
        self.shown = pcts
        for (key, pct), label in self.pct_labels.items():
            label.setText(format_ms(pcts[key][pct]))
        assert stats.origin_ns is not None
        if self.ended:
            ends = stats.end_s.values
            now_s = float(ends.max()) if len(ends) else 0.0
        else:
            now_s = (time.monotonic_ns() - stats.origin_ns) / 1e9
        w = stats.window(now_s)
        self.rps_tile.value.setText(format_per_s(w["requests_per_s"]))
        self.tps_tile.value.setText(format_per_s(w["tokens_per_s"]))
        self.tps_tile.detail.setText("" if w["tokens_per_s"] is not None or not stats.n_ok
                                     else "the server reports no usage")
        self._show_in_flight(w["in_flight"])
        self._show_failures()
        self._show_step()
        extra = " (approximate until the end)" if not exact and len(stats.itl) > EXACT_LIMIT else ""
        self.n_label.setText(
            f"over {stats.n_ok:,} successful of {stats.n_done:,} finished requests{extra}"
        )
        self._append_point(now_s, w)
        return True

    def _show_in_flight(self, estimate: float | None) -> None:
        kind = self._step_kind(self.stats.current_step)
        if self.ended:
            self.inflight_tile.value.setText("0")
            self.inflight_tile.detail.setText("")
        elif kind == "synchronous":
            self.inflight_tile.value.setText("1")
            self.inflight_tile.detail.setText("one at a time")
        elif kind in ("concurrency", "throughput"):
            c = self.spec.concurrency if kind == "concurrency" else self.options.max_concurrency
            self.inflight_tile.value.setText(f"{c:,}")
            self.inflight_tile.detail.setText("closed loop")
        else:
            text = "—" if estimate is None else f"≈ {estimate:,.1f}"
            self.inflight_tile.value.setText(text)
            self.inflight_tile.detail.setText(f"cap {self.options.max_concurrency:,}")

    def _show_failures(self) -> None:
        stats = self.stats
        self.failed_tile.value.setText(f"{stats.n_failed:,}")
        self.failed_tile.detail.setText(
            " · ".join(f"{cat} {n:,}" for cat, n in stats.error_counts())
        )
        if stats.n_failed and not self._failed_styled:
            self._failed_styled = True  # once: a style sheet change re-polishes the widget
            self.failed_tile.value.setStyleSheet(f"color: {_FAILED_COLOR};")

    def _step_kind(self, step: int) -> str:
        profile = self.options.profile
        if profile != "sweep":
            return {"rate": "rate", "poisson": "rate"}.get(profile, profile)
        return "synchronous" if step == 0 else "throughput" if step == 1 else "rate"

    def step_label(self, step: int) -> str:
        kind = self._step_kind(step)
        if kind == "synchronous":
            return "synchronous"
        if kind == "throughput":
            return f"throughput {self.options.max_concurrency}"
        if kind == "concurrency":
            return f"concurrency {self.spec.concurrency}"
        if self.options.profile == "sweep":
            return f"rate step {step - 1} of {self.options.steps - 2}"
        return f"{self.options.profile} {self.options.rate or 0:g}/s"

    def _show_step(self) -> None:
        step = self.stats.current_step
        if self.options.profile == "sweep":
            done = len(self.stats.step_starts)
            self.step_tile.value.setText(f"{min(done, self.options.steps) or 1} of "
                                         f"{self.options.steps}")
            self.step_tile.detail.setText("ended" if self.ended else self.step_label(step))
        else:
            self.step_tile.value.setText(self.step_label(step))
            self.step_tile.detail.setText("ended" if self.ended else "")

    def _append_point(self, now_s: float, w: Mapping[str, float | None]) -> None:
        s = self._series
        nan = math.nan

        def v(key: str) -> float:
            value = w.get(key)
            return nan if value is None else float(value)

        t = s["t"].values
        if len(t) and now_s <= t[-1]:
            # The end's figures are for the window up to the last reply, which the live
            # clock has passed already: the chart keeps its points, x never goes back.
            return
        for key, value in (
            ("t", now_s), ("rps", v("requests_per_s")), ("tps", v("tokens_per_s")),
            ("ttft_p50", v("ttft_p50")), ("ttft_p99", v("ttft_p99")),
            ("e2e_p50", v("e2e_p50")), ("e2e_p99", v("e2e_p99")),
        ):
            s[key].extend(np.asarray([value]))
        t = s["t"].values
        self.throughput_chart.set_series(t, s["rps"].values)
        self.latency_chart.set_series(
            t, {k: s[k].values for k in ("ttft_p50", "ttft_p99", "e2e_p50", "e2e_p99")}
        )
        if self.options.profile == "sweep":
            marks = [(x, self.step_label(i)) for i, x in sorted(self.stats.step_starts.items())]
            self.throughput_chart.marks.set(marks)
            self.latency_chart.marks.set(marks)

    def retheme(self) -> None:
        self.throughput_chart.retheme()
        self.latency_chart.retheme()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.flush()  # a tab that was hidden took data without showing it
