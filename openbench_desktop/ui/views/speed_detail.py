"""Run detail for a speed run: profile, warnings, per-step table, definitions side by side.

Data flow (nothing slow on the GUI thread): :meth:`SpeedDetailPanel.show_run` reads the
run (its summary's ``speed`` mapping and every request's timestamps) through ``ctx.db``;
the figures under all four definition sets are then recomputed from those timestamps on
this panel's own one-thread pool (:class:`BackgroundCalls`), once per step chosen, and
cached. Answers for a run or step the user has since left are dropped.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.speed.views import (
    DEFINITION_NOTES,
    DefinitionsTable,
    StoredSpeedRun,
    definitions_table,
    load_speed_run,
    timings_of_steps,
)
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.speed_models import (
    STEP_PERCENTILES,
    DefinitionsModel,
    SpeedStepsModel,
    format_number,
)

log = logging.getLogger(__name__)

METRICS_DOC = Path(__file__).resolve().parents[3] / "docs" / "METRICS.md"
ALL_STEPS = -1  # the step chooser's "whole run" entry

_BANNER_WARN = (
    "QLabel { background: #fbe3d6; color: #5a1d00; border: 1px solid #D55E00;"
    " border-radius: 4px; padding: 6px 8px; }"
)
_BANNER_INFO = (
    "QLabel { background: #dcecf7; color: #0b2f4a; border: 1px solid #0072B2;"
    " border-radius: 4px; padding: 6px 8px; }"
)


# --------------------------------------------------------------------------------------
# Plain functions off the GUI thread


class _Relay(QObject):
    """Lives on the GUI thread; a worker's emit is queued to it."""

    done = Signal(int, object, object)  # ticket, result, error (str | None)


class _Call(QRunnable):
    def __init__(self, ticket: int, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.ticket = ticket
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result, error = self.fn(), None
        except Exception as exc:  # shown by the panel
            log.exception("speed computation failed")
            result, error = None, str(exc)
        # RuntimeError: the panel was deleted meanwhile; nobody to tell.
        with contextlib.suppress(RuntimeError):
            self.relay.done.emit(self.ticket, result, error)


class BackgroundCalls:
    """Plain functions (no Qt, no store) on a one-thread pool owned by ``owner``.

    Answers arrive on the GUI thread through ``done(ticket, result, error)``. The pool is
    created before the relay so that, when the owner is destroyed, the pool (which waits
    for a running call) goes before the relay that call emits on.
    """

    def __init__(self, owner: QObject) -> None:
        self._pool = QThreadPool(owner)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(owner)
        self.done = self._relay.done
        self._calls: dict[int, _Call] = {}  # keep the Python wrappers alive while queued
        self._next = 0
        self.done.connect(self._forget)

    def submit(self, fn: Callable[[], Any]) -> int:
        self._next += 1
        call = _Call(self._next, fn, self._relay)
        call.setAutoDelete(False)
        self._calls[self._next] = call
        self._pool.start(call)
        return self._next

    def pending(self) -> bool:
        return bool(self._calls)

    def _forget(self, ticket: int, _result: object, _error: object) -> None:
        self._calls.pop(ticket, None)


# --------------------------------------------------------------------------------------
# Widgets


def _banner(name: str, style: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.1)
    label.setFont(font)
    return label


def _table(name: str, accessible: str) -> QTableView:
    table = QTableView()
    table.setObjectName(name)
    table.setAccessibleName(accessible)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    # The page scrolls; a table shows all its rows (a sweep has a handful).
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return table


def _fit_table(table: QTableView, width: bool = False) -> None:
    """Size a table to show every row (the page scrolls, not the table); ``width``: and
    every column, for a table that sits beside something else."""
    table.resizeColumnsToContents()
    frame = 2 * table.frameWidth()
    columns = sum(
        table.columnWidth(c)
        for c in range(table.model().columnCount())
        if not table.isColumnHidden(c)
    )
    vertical = table.verticalHeader()
    # isHidden, not isVisible: the panel may not be on screen yet.
    row_header = 0 if vertical.isHidden() else vertical.sizeHint().width()
    rows = sum(table.rowHeight(r) for r in range(table.model().rowCount()))
    height = table.horizontalHeader().sizeHint().height() + rows + frame
    if width:
        table.setFixedWidth(row_header + columns + frame)
    elif row_header + columns + frame > table.width():  # room for the scroll bar
        height += table.horizontalScrollBar().sizeHint().height()
    table.setFixedHeight(height)


class SpeedDetailPanel(QWidget):
    """A speed run in Run detail (the ``XDetailPanel`` contract: show_run / clear)."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("speed_detail")
        self.run: StoredSpeedRun | None = None
        self._run_id: str | None = None
        self._load_ticket: int | None = None
        self._calc_tickets: dict[int, tuple[str, int]] = {}  # ticket -> (run id, step key)
        self._tables: dict[int, DefinitionsTable] = {}
        self._error: str | None = None
        self._calls = BackgroundCalls(self)
        self._calls.done.connect(self._on_computed)
        self._build()
        ctx.db.answered.connect(self._on_db_answer)
        self.clear()

    # -- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        self.status_label = QLabel()
        self.status_label.setObjectName("speed_status")
        self.status_label.setWordWrap(True)

        self.profile_label = QLabel()
        self.profile_label.setObjectName("speed_profile")
        self.profile_label.setWordWrap(True)
        font = self.profile_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.profile_label.setFont(font)
        self.params_label = QLabel()
        self.params_label.setObjectName("speed_params")
        self.params_label.setWordWrap(True)
        self.params_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.client_banner = _banner("speed_client_limited_banner", _BANNER_WARN)
        self.client_banner.setAccessibleName("Client-limited warning")
        self.stopped_banner = _banner("speed_stopped_banner", _BANNER_WARN)
        self.stopped_banner.setAccessibleName("Stopped on overload")
        self.reasoning_banner = _banner("speed_reasoning_banner", _BANNER_INFO)
        self.reasoning_banner.setAccessibleName("Reasoning-first streams")
        self.notes_banner = _banner("speed_notes", _BANNER_INFO)
        self.notes_banner.setAccessibleName("Notes")

        self.failed_label = QLabel()
        self.failed_label.setObjectName("speed_failed")
        self.failed_label.setAccessibleName("Requests and failures")
        self.failed_label.setWordWrap(True)

        # Steps
        self.steps_model = SpeedStepsModel(self)
        self.steps_table = _table("speed_steps_table", "Results per step")
        self.steps_table.setModel(self.steps_model)
        self.steps_table.verticalHeader().hide()
        self.steps_table.horizontalHeader().setStretchLastSection(True)
        self.steps_table.installEventFilter(self)
        self.percentile_combo = QComboBox()
        self.percentile_combo.setObjectName("speed_percentile_combo")
        self.percentile_combo.setAccessibleName("Latency percentiles shown in the steps table")
        for pct in STEP_PERCENTILES:
            self.percentile_combo.addItem(pct, pct)
        self.percentile_combo.addItem("p50, p90 and p99", "all")
        self.percentile_combo.currentIndexChanged.connect(self._on_percentile_changed)
        steps_head = QHBoxLayout()
        steps_head.addWidget(_heading("Steps"))
        self.steps_hint = QLabel("latencies under the run's definitions, 95% CI in brackets")
        self.steps_hint.setStyleSheet("color: palette(placeholder-text);")
        steps_head.addWidget(self.steps_hint, 1)
        self.percentile_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        steps_head.addWidget(QLabel("Percentile:"))
        steps_head.addWidget(self.percentile_combo)

        # Definitions side by side
        self.definitions_model = DefinitionsModel(self)
        self.definitions_table = _table(
            "speed_definitions_table", "The same requests under each definition set"
        )
        self.definitions_table.setModel(self.definitions_model)
        self.definitions_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.definitions_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.step_combo = QComboBox()
        self.step_combo.setObjectName("speed_step_combo")
        self.step_combo.setAccessibleName("Step shown under every definition set")
        self.step_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.step_combo.currentIndexChanged.connect(self._on_step_changed)
        self.step_label = QLabel("Step:")
        self.definitions_status = QLabel()
        self.definitions_status.setObjectName("speed_definitions_status")
        self.definitions_status.setStyleSheet("color: palette(placeholder-text);")
        defs_head = QHBoxLayout()
        defs_head.addWidget(_heading("Definitions side by side"))
        defs_head.addWidget(self.definitions_status, 1)
        defs_head.addWidget(self.step_label)
        defs_head.addWidget(self.step_combo)

        self.notes_label = QLabel()
        self.notes_label.setObjectName("speed_definition_notes")
        self.notes_label.setAccessibleName("How the definitions differ")
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextFormat(Qt.TextFormat.RichText)
        self.notes_label.setOpenExternalLinks(True)
        self.notes_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.notes_label.setText(self._notes_html())
        self.notes_label.setMinimumWidth(320)

        defs_row = QHBoxLayout()
        # Not addWidget(..., AlignTop): an aligned item is laid out at its size hint, not
        # at the fixed width the table gets once filled, and the notes overlapped it.
        table_column = QVBoxLayout()
        table_column.addWidget(self.definitions_table)
        table_column.addStretch(1)
        defs_row.addLayout(table_column)
        defs_row.addWidget(self.notes_label, 1)

        content = QWidget()
        content.setObjectName("speed_detail_content")
        body = QVBoxLayout(content)
        body.setContentsMargins(8, 8, 8, 8)
        body.setSpacing(8)
        body.addWidget(self.status_label)
        body.addWidget(self.profile_label)
        body.addWidget(self.params_label)
        for banner in (
            self.client_banner,
            self.stopped_banner,
            self.reasoning_banner,
            self.notes_banner,
        ):
            body.addWidget(banner)
        body.addWidget(self.failed_label)
        body.addLayout(steps_head)
        body.addWidget(self.steps_table)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        body.addWidget(line)
        body.addLayout(defs_head)
        body.addLayout(defs_row)
        body.addStretch(1)
        self.content = content

        scroll = QScrollArea()
        scroll.setObjectName("speed_detail_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 0, 0)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @staticmethod
    def _notes_html() -> str:
        names = {"openbench": "OpenBench", "vllm": "vLLM", "guidellm": "GuideLLM",
                 "llmperf": "LLMPerf"}
        items = "".join(
            f"<li><b>{names[k]}</b>: {html.escape(v)}</li>" for k, v in DEFINITION_NOTES.items()
        )
        doc = (
            f'<a href="{METRICS_DOC.as_uri()}">docs/METRICS.md</a>'
            if METRICS_DOC.exists()
            else "docs/METRICS.md"
        )
        return (
            "Every column is recomputed from the same stored timestamps; bold: differs "
            f"from OpenBench by more than 1%.<ul style='margin-left:-20px'>{items}</ul>"
            f"Every formula: {doc}, “Speed”."
        )

    # -- contract ------------------------------------------------------------------------

    def show_run(self, run_id: str) -> None:
        """Load ``run_id`` through ``ctx.db``; the panel fills in when it answers."""
        self.clear()
        self._run_id = run_id
        store = self.ctx.store
        self._load_ticket = self.ctx.db.submit(lambda: load_speed_run(store, run_id))
        self.status_label.setText("Reading the run…")
        self.status_label.show()

    def clear(self) -> None:
        self.run = None
        self._run_id = None
        self._load_ticket = None
        self._calc_tickets.clear()
        self._tables = {}
        self._error = None
        self.steps_model.set_steps([])
        self.definitions_model.set_table(None)
        _fit_table(self.steps_table)
        _fit_table(self.definitions_table, width=True)
        self.step_combo.blockSignals(True)
        self.step_combo.clear()
        self.step_combo.blockSignals(False)
        for banner in (
            self.client_banner,
            self.stopped_banner,
            self.reasoning_banner,
            self.notes_banner,
        ):
            banner.hide()
        self.profile_label.setText("")
        self.params_label.setText("")
        self.failed_label.setText("")
        self.definitions_status.setText("")
        self.status_label.setText("Open a speed run to see its steps and definitions.")
        self.status_label.show()

    def is_busy(self) -> bool:
        return self._load_ticket is not None or bool(self._calc_tickets)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.steps_table and event.type() == QEvent.Type.Resize:
            # Whether the steps table needs a horizontal scroll bar depends on its width.
            _fit_table(self.steps_table)
        return super().eventFilter(watched, event)

    # -- answers -------------------------------------------------------------------------

    @Slot(int, object, object)
    def _on_db_answer(self, ticket: int, result: object, error: object) -> None:
        if ticket != self._load_ticket:
            return  # another view's request, or a run since left
        self._load_ticket = None
        if error is not None or not isinstance(result, StoredSpeedRun):
            self.status_label.setText(f"Could not read the run: {error}")
            return
        self._show(result)

    def _show(self, run: StoredSpeedRun) -> None:
        self.run = run
        speed = run.speed
        if not speed:
            self.status_label.setText(
                "This run has no speed summary yet (still running, or it stopped before "
                "finishing); the definitions below cover the requests stored so far."
            )
        else:
            self.status_label.hide()
        profile = speed.get("profile") or {}
        self.profile_label.setText(
            str(profile.get("description") or "Speed run").capitalize()
            + f" · {run.model}"
        )
        self.params_label.setText(self._params_text(run))
        self._show_banners(run)
        self._show_failures(run)
        self.steps_model.set_steps(run.steps)
        self._on_percentile_changed()
        self._fill_step_combo(run)
        self._request_definitions()

    @staticmethod
    def _params_text(run: StoredSpeedRun) -> str:
        speed = run.speed
        p = speed.get("profile") or {}
        parts = []
        if p:
            parts += [
                f"input ≈{p.get('input_tokens')} tokens",
                f"output {p.get('output_tokens')} tokens"
                + (" (EOS ignored)" if p.get("ignore_eos") else ""),
                f"warm-up {p.get('warmup')}",
                f"seed {p.get('seed')}",
                f"client {p.get('client')}",
            ]
            if p.get("prompts"):
                parts.append(str(p["prompts"]))
        parts.append(f"definitions: {run.definitions}")
        slo = speed.get("slo") or {}
        objectives = [
            f"{name} ≤ {format_number(slo[key])} ms"
            for key, name in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E"))
            if slo.get(key) is not None
        ]
        parts.append("SLO: " + (", ".join(objectives) if objectives else "none"))
        return " · ".join(parts)

    def _show_banners(self, run: StoredSpeedRun) -> None:
        speed = run.speed
        reasons = list(speed.get("client_limited_reasons") or [])
        if speed.get("client_limited") or reasons:
            items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
            self.client_banner.setText(
                "<b>⚠ Client-limited: these figures may describe this computer, not the "
                "server.</b> The measuring client could not keep up (CPU saturated or "
                "requests queued before being sent); treat throughput as a lower bound "
                "and latency as an upper bound. Run <code>openbench-desktop selfcheck</code> "
                f"to see this machine's ceiling.<ul style='margin-left:-20px'>{items}</ul>"
            )
            self.client_banner.show()
        stopped = speed.get("stopped")
        if stopped:
            self.stopped_banner.setText(
                "<b>⚠ Stopped on overload</b>: " + html.escape(str(stopped.get("reason")))
            )
            self.stopped_banner.show()
        first = sum(int(s.get("reasoning_first") or 0) for s in run.steps)
        if first:
            n_ok = sum(int(s.get("n_ok") or 0) for s in run.steps)
            self.reasoning_banner.setText(
                f"<b>Reasoning first</b>: {first} of {n_ok} streams sent reasoning before any "
                "content. TTFT is measured to the first <i>content</i> token; the "
                "definitions table also shows the TTFT to the first token of any kind."
            )
            self.reasoning_banner.show()
        notes = list(speed.get("notes") or [])
        if any(s.get("multi_token_chunks") for s in run.steps):
            notes.append(
                "The server sent several tokens per chunk: ITL is per chunk, not per token "
                "(TPOT is per token)."
            )
        if notes:
            self.notes_banner.setText("<br>".join(html.escape(n) for n in notes))
            self.notes_banner.show()

    def _show_failures(self, run: StoredSpeedRun) -> None:
        n = len(run.timings)
        failed = sum(1 for t in run.timings if not t.ok)
        text = f"{n} measured request(s) · {n - failed} succeeded · {failed} failed"
        if run.error_counts:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(run.error_counts.items()))
            text += f" ({parts})"
        abandoned = sum(int(s.get("abandoned") or 0) for s in run.steps)
        if abandoned:
            text += f" · {abandoned} abandoned in flight"
        warmup = (run.speed.get("warmup") or {}).get("requests")
        if warmup:
            text += f" · {warmup} warm-up request(s) not measured"
        self.failed_label.setText(text)

    def _fill_step_combo(self, run: StoredSpeedRun) -> None:
        steps = run.steps
        combo = self.step_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("All requests" if len(steps) > 1 else "The run", ALL_STEPS)
        if len(steps) > 1:
            for s in steps:
                combo.addItem(f"{s.get('label')} ({s.get('n_requests', 0)} requests)",
                              int(s["step"]))
        combo.setCurrentIndex(0)
        combo.blockSignals(False)
        # A step chooser only when there is more than one step to choose.
        combo.setVisible(len(steps) > 1)
        self.step_label.setVisible(len(steps) > 1)

    def _on_percentile_changed(self, *_args: object) -> None:
        choice = self.percentile_combo.currentData()
        model = SpeedStepsModel
        for metric, pct in model.LATENCY_COLUMNS:
            column = model.latency_column(metric, pct)
            self.steps_table.setColumnHidden(column, choice != "all" and pct != choice)
        _fit_table(self.steps_table)

    def selected_step(self) -> int:
        data = self.step_combo.currentData()
        return ALL_STEPS if data is None else int(data)

    def _on_step_changed(self, *_args: object) -> None:
        self._request_definitions()

    def _request_definitions(self) -> None:
        run = self.run
        if run is None:
            return
        key = self.selected_step()
        if key in self._tables:
            self._show_definitions(self._tables[key])
            return
        if any(k == (run.run_id, key) for k in self._calc_tickets.values()):
            return
        timings = timings_of_steps(run.timings, None if key == ALL_STEPS else [key])
        slo = run.slo
        ticket = self._calls.submit(lambda: definitions_table(timings, slo))
        self._calc_tickets[ticket] = (run.run_id, key)
        self.definitions_status.setText("computing…")

    @Slot(int, object, object)
    def _on_computed(self, ticket: int, result: object, error: object) -> None:
        wanted = self._calc_tickets.pop(ticket, None)
        if wanted is None or self.run is None or wanted[0] != self.run.run_id:
            return
        if error is not None or not isinstance(result, DefinitionsTable):
            self.definitions_status.setText(f"could not recompute: {error}")
            return
        self._tables[wanted[1]] = result
        if wanted[1] == self.selected_step():
            self._show_definitions(result)

    def _show_definitions(self, table: DefinitionsTable) -> None:
        chosen = self.run.definitions if self.run else "openbench"
        self.definitions_model.set_table(table, chosen)
        _fit_table(self.definitions_table, width=True)
        failed = table.n_requests - table.n_ok
        self.definitions_status.setText(
            f"{table.n_ok} successful request(s)"
            + (f", {failed} failed (not in the figures)" if failed else "")
        )

    def definitions_for(self, step: int = ALL_STEPS) -> DefinitionsTable | None:
        """The recomputed table of a step once it is ready (tests, export)."""
        return self._tables.get(step)


__all__ = ["ALL_STEPS", "BackgroundCalls", "SpeedDetailPanel"]
