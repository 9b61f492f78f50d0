"""Run detail: one run's figures, how it was made (manifest) and every sample it answered.

Opened by ``ctx.signals.open_run(run_id)``. The record (and, for a run that never wrote a
summary, a summary computed from its stored samples) is read on the database thread; the
per-sample table is a paged :class:`~openbench_desktop.ui.models.samples_model.SamplesModel`.
Selecting a sample shows its full prompt, response, reasoning and error below the table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QItemSelection, Qt, Slot
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.domain import RunRecord, RunStatus, RunSummary, SampleResult
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.history_model import (
    STATUS_COLORS,
    format_cost,
    format_created,
    format_duration,
    format_ms,
    format_percent,
    run_cost,
    short_id,
)
from openbench_desktop.ui.models.samples_model import SampleFilter, SamplesModel, outcome
from openbench_desktop.ui.views.run_kinds import (
    KIND_QUALITY,
    KIND_SPEECH,
    KIND_SPEED,
    KIND_TAB_TITLES,
    run_kind,
)

PERCENTILE_KEYS: Final = ("p50", "p90", "p95", "p99", "mean")
LATENCIES: Final = (
    ("ttft_ms", "Time to first token"),
    ("itl_ms", "Inter-token latency"),
    ("e2e_ms", "End-to-end latency"),
)
SAMPLE_FILTERS: Final = (
    (SampleFilter.ALL, "All samples"),
    (SampleFilter.WRONG, "Wrong answers only"),
    (SampleFilter.FAILED, "Failed requests only"),
    (SampleFilter.NOT_CORRECT, "Wrong or failed"),
)
_SAMPLE_WIDTHS: Final = {
    SamplesModel.COL_INDEX: 52,
    SamplesModel.COL_STATUS: 70,
    SamplesModel.COL_PROMPT: 260,
    SamplesModel.COL_RESPONSE: 240,
    SamplesModel.COL_EXPECTED: 80,
    SamplesModel.COL_EXTRACTED: 80,
    SamplesModel.COL_SCORE: 50,
    SamplesModel.COL_TTFT: 72,
    SamplesModel.COL_TOKENS: 60,
}


@dataclass(frozen=True, slots=True)
class _Loaded:
    record: RunRecord
    summary: RunSummary | None
    computed: bool  # the summary was computed now from the samples (no stored one)


def _load_run(ctx: AppContext, run_id: str) -> _Loaded:
    """The record and its summary (runs on the database thread)."""
    record = ctx.store.get_run(run_id)
    if record.summary is not None:
        return _Loaded(record, record.summary, False)
    if record.n_ok + record.n_failed == 0:
        return _Loaded(record, None, False)
    # A run still going, interrupted or failed early has no stored summary: compute one
    # from what it stored so far (never on the GUI thread; it reads every sample).
    from openbench_desktop.core.engine.metrics import summarize

    summary = summarize(
        run_id=run_id,
        status=record.status,
        benchmark=record.benchmark,
        model=record.model,
        n_samples=record.n_total,
        results=ctx.store.iter_results(run_id),
        duration_s=record.duration_s,
        message=record.message,
    )
    return _Loaded(record, summary, True)


def _monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


class _Tile(QFrame):
    """A figure with its caption above and a detail line below."""

    def __init__(self, name: str, caption: str) -> None:
        super().__init__()
        self.setObjectName(f"{name}_tile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.caption = QLabel(caption)
        self.caption.setObjectName(f"{name}_caption")
        self.value = QLabel("—")
        self.value.setObjectName(name)
        self.value.setAccessibleName(caption)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setBold(True)
        self.value.setFont(font)
        self.detail = QLabel("")
        self.detail.setObjectName(f"{name}_detail")
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addStretch(1)

    def set(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)

    def set_caption(self, caption: str) -> None:
        self.caption.setText(caption)
        self.value.setAccessibleName(caption)


def _text_box(name: str, title: str) -> tuple[QWidget, QPlainTextEdit]:
    box = QWidget()
    label = QLabel(title)
    label.setObjectName(f"{name}_title")
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    edit = QPlainTextEdit()
    edit.setObjectName(name)
    edit.setAccessibleName(title)
    edit.setReadOnly(True)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(label)
    layout.addWidget(edit, 1)
    return box, edit


def _read_only_table(name: str, headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    # Figures to read (and select as text in the labels), not items to act on.
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    vertical = table.verticalHeader()
    vertical.setVisible(False)
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(table.fontMetrics().height() + 10)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class RunDetailView(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.run_id: str | None = None
        self.record: RunRecord | None = None
        self.summary: RunSummary | None = None
        self._ticket: int | None = None
        self.samples_model = SamplesModel(ctx.store, ctx.db, parent=self)

        self.stack = QStackedWidget()
        self.stack.setObjectName("detail_stack")
        self._build_empty_page()
        self._build_content()
        self.stack.addWidget(self.empty_page)
        self.stack.addWidget(self.content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.stack)

        ctx.db.answered.connect(self._on_db_answered)
        ctx.signals.open_run.connect(self.load)
        ctx.signals.runs_changed.connect(self._on_runs_changed)
        self.samples_model.page_loaded.connect(self._update_sample_count)
        self.samples_model.load_failed.connect(
            lambda message: self.samples_count.setText(f"Could not read the samples: {message}")
        )

    # --- construction ---------------------------------------------------------------------

    def _build_empty_page(self) -> None:
        self.empty_page = QWidget()
        self.empty_page.setObjectName("detail_empty")
        self.empty_label = QLabel("No run selected")
        self.empty_label.setObjectName("detail_empty_title")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.empty_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.empty_label.setFont(font)
        hint = QLabel("Open a run from History (double-click it or press Enter).")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton("Go to History")
        button.setObjectName("detail_to_history")
        button.clicked.connect(lambda: self.ctx.signals.navigate.emit("history"))
        layout = QVBoxLayout(self.empty_page)
        layout.addStretch(1)
        layout.addWidget(self.empty_label)
        layout.addWidget(hint)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def _build_content(self) -> None:
        self.content = QWidget()
        self.content.setObjectName("detail_content")

        self.title_label = QLabel()
        self.title_label.setObjectName("detail_title")
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title_label.setFont(font)
        self.status_label = QLabel()
        self.status_label.setObjectName("detail_status")
        self.run_id_label = QLabel()
        self.run_id_label.setObjectName("detail_run_id")
        self.run_id_label.setFont(_monospace())
        self.run_id_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy run id")
        self.copy_button.setObjectName("detail_copy_id")
        self.copy_button.setAccessibleName("Copy run id")
        self.copy_button.clicked.connect(self.copy_run_id)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("detail_resume")
        self.resume_button.setToolTip("Send exactly the samples this run has not run yet")
        self.resume_button.clicked.connect(lambda: self._continue(only_failed=False))
        self.retry_button = QPushButton("Retry failed")
        self.retry_button.setObjectName("detail_retry_failed")
        self.retry_button.setToolTip("Send only the failed samples again, into this run")
        self.retry_button.clicked.connect(lambda: self._continue(only_failed=True))
        header = QHBoxLayout()
        header.addWidget(self.title_label)
        header.addWidget(self.status_label)
        header.addStretch(1)
        header.addWidget(self.resume_button)
        header.addWidget(self.retry_button)
        header.addWidget(self.run_id_label)
        header.addWidget(self.copy_button)

        self.subtitle_label = QLabel()
        self.subtitle_label.setObjectName("detail_subtitle")
        self.subtitle_label.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setObjectName("detail_message")
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #D55E00;")
        self.message_label.hide()

        self.accuracy_tile = _Tile("detail_accuracy", "Accuracy")
        self.samples_tile = _Tile("detail_samples", "Samples")
        self.latency_tile = _Tile("detail_latency", "Latency p50 (TTFT / E2E)")
        self.throughput_tile = _Tile("detail_throughput", "Output tokens/s")
        self.duration_tile = _Tile("detail_duration", "Duration")
        self.cost_tile = _Tile("detail_cost", "Cost")
        tiles = QHBoxLayout()
        for tile in (
            self.accuracy_tile,
            self.samples_tile,
            self.latency_tile,
            self.throughput_tile,
            self.duration_tile,
            self.cost_tile,
        ):
            tiles.addWidget(tile, 1)

        # The tab of a speed or speech run (built when such a run is first shown).
        self._kind_panels: dict[str, QWidget] = {}
        self._kind_panel_run: tuple[str, str, int] | None = None
        self.tabs = QTabWidget()
        self.tabs.setObjectName("detail_tabs")
        self.tabs.addTab(self._build_samples_tab(), "Samples")
        self.tabs.addTab(self._build_metrics_tab(), "Metrics")
        self.tabs.addTab(self._build_manifest_tab(), "Manifest")

        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.subtitle_label)
        layout.addWidget(self.message_label)
        layout.addLayout(tiles)
        layout.addWidget(self.tabs, 1)

    def _build_samples_tab(self) -> QWidget:
        self.sample_filter_combo = QComboBox()
        self.sample_filter_combo.setObjectName("detail_sample_filter")
        self.sample_filter_combo.setAccessibleName("Show samples")
        for value, text in SAMPLE_FILTERS:
            self.sample_filter_combo.addItem(text, value)
        self.sample_filter_combo.currentIndexChanged.connect(self._on_sample_filter)
        self.samples_count = QLabel()
        self.samples_count.setObjectName("detail_samples_count")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.sample_filter_combo)
        bar.addWidget(self.samples_count, 1)

        self.samples_table = QTableView()
        self.samples_table.setObjectName("detail_samples_table")
        self.samples_table.setAccessibleName("Samples")
        self.samples_table.setModel(self.samples_model)
        self.samples_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.samples_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.samples_table.setAlternatingRowColors(True)
        self.samples_table.setWordWrap(False)
        vertical = self.samples_table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.samples_table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        for column, width in _SAMPLE_WIDTHS.items():
            header.resizeSection(column, width)
        self.samples_table.selectionModel().selectionChanged.connect(self._on_sample_selected)

        self.sample_header = QLabel("Select a sample to see its full prompt and response.")
        self.sample_header.setObjectName("detail_sample_header")
        self.sample_header.setWordWrap(True)
        self.sample_header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        prompt_box, self.prompt_edit = _text_box("detail_prompt", "Prompt")
        response_box, self.response_edit = _text_box("detail_response", "Response")
        self.reasoning_box, self.reasoning_edit = _text_box("detail_reasoning", "Reasoning")
        self.error_box, self.error_edit = _text_box("detail_error", "Error")
        self.error_edit.setMaximumHeight(self.fontMetrics().height() * 4)
        texts = QSplitter(Qt.Orientation.Horizontal)
        texts.setObjectName("detail_texts_splitter")
        texts.setChildrenCollapsible(False)
        for box in (prompt_box, response_box, self.reasoning_box):
            texts.addWidget(box)
        pane = QWidget()
        pane.setObjectName("detail_sample_pane")
        pane_layout = QVBoxLayout(pane)
        pane_layout.setContentsMargins(0, 4, 0, 0)
        pane_layout.addWidget(self.sample_header)
        pane_layout.addWidget(texts, 1)
        pane_layout.addWidget(self.error_box)
        self.reasoning_box.hide()
        self.error_box.hide()

        self.samples_splitter = QSplitter(Qt.Orientation.Vertical)
        self.samples_splitter.setObjectName("detail_samples_splitter")
        self.samples_splitter.setChildrenCollapsible(False)
        self.samples_splitter.addWidget(self.samples_table)
        self.samples_splitter.addWidget(pane)
        self.samples_splitter.setStretchFactor(0, 3)
        self.samples_splitter.setStretchFactor(1, 2)

        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(bar)
        layout.addWidget(self.samples_splitter, 1)
        return tab

    def _build_metrics_tab(self) -> QWidget:
        self.latency_table = _read_only_table(
            "detail_latency_table",
            ["Metric", *(k.upper() if k != "mean" else "Mean" for k in PERCENTILE_KEYS)],
        )
        self.latency_table.setRowCount(len(LATENCIES))
        for row, (_key, label) in enumerate(LATENCIES):
            self.latency_table.setItem(row, 0, QTableWidgetItem(label))
        self.latency_table.setColumnWidth(0, 170)
        self.latency_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.latency_table.setFixedHeight(
            self.latency_table.horizontalHeader().sizeHint().height()
            + len(LATENCIES) * self.latency_table.verticalHeader().defaultSectionSize()
            + 2 * self.latency_table.frameWidth()
        )
        self.figures_form = QFormLayout()
        self.figure_labels: dict[str, QLabel] = {}
        for key, caption in (
            ("accuracy", "Accuracy (answered samples)"),
            ("accuracy_ci", "95% interval"),
            ("accuracy_all", "Accuracy (failures count as wrong)"),
            ("correct", "Correct / answered / failed"),
            ("input_tokens", "Input tokens"),
            ("output_tokens", "Output tokens"),
            ("throughput", "Output tokens per second"),
            ("duration", "Duration"),
            ("cost", "Cost"),
            ("finished", "Created / finished"),
        ):
            label = QLabel("—")
            label.setObjectName(f"detail_figure_{key}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.figure_labels[key] = label
            self.figures_form.addRow(caption, label)
        self.errors_table = _read_only_table("detail_errors_table", ["Error category", "Samples"])
        self.errors_table.setColumnWidth(0, 200)
        self.errors_empty = QLabel("No failed requests.")
        self.errors_empty.setObjectName("detail_errors_empty")

        left = QVBoxLayout()
        heading = QLabel("Latency (successful samples)")
        heading.setFont(self._bold())
        left.addWidget(heading)
        left.addWidget(self.latency_table)
        figures_heading = QLabel("Figures")
        figures_heading.setFont(self._bold())
        left.addWidget(figures_heading)
        left.addLayout(self.figures_form)
        left.addStretch(1)
        right = QVBoxLayout()
        errors_heading = QLabel("Errors by category")
        errors_heading.setFont(self._bold())
        right.addWidget(errors_heading)
        right.addWidget(self.errors_empty)
        right.addWidget(self.errors_table, 1)
        tab = QWidget()
        layout = QHBoxLayout(tab)
        layout.addLayout(left, 3)
        layout.addLayout(right, 2)
        return tab

    def _build_manifest_tab(self) -> QWidget:
        self.manifest_form = QFormLayout()
        self.manifest_labels: dict[str, QLabel] = {}
        for key, caption in (
            ("app_version", "App version"),
            ("python_version", "Python"),
            ("platform", "Platform"),
            ("dataset_description", "Dataset"),
            ("dataset_sha256", "Dataset SHA-256"),
            ("n_dataset_samples", "Samples in dataset"),
            ("created_at", "Manifest written"),
        ):
            label = QLabel("—")
            label.setObjectName(f"detail_manifest_{key}")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if key == "dataset_sha256":
                label.setFont(_monospace())
            self.manifest_labels[key] = label
            self.manifest_form.addRow(caption, label)
        self.manifest_note = QLabel()
        self.manifest_note.setObjectName("detail_manifest_note")
        self.manifest_note.setWordWrap(True)
        self.packages_table = _read_only_table("detail_packages_table", ["Package", "Version"])
        self.packages_table.setColumnWidth(0, 200)
        self.config_edit = QPlainTextEdit()
        self.config_edit.setObjectName("detail_config_json")
        self.config_edit.setAccessibleName("Run configuration (JSON)")
        self.config_edit.setReadOnly(True)
        self.config_edit.setFont(_monospace())

        left = QVBoxLayout()
        left.addWidget(self.manifest_note)
        left.addLayout(self.manifest_form)
        packages_heading = QLabel("Package versions")
        packages_heading.setFont(self._bold())
        left.addWidget(packages_heading)
        left.addWidget(self.packages_table, 1)
        right = QVBoxLayout()
        config_heading = QLabel("Configuration (no secrets: keys are stored by name only)")
        config_heading.setFont(self._bold())
        right.addWidget(config_heading)
        right.addWidget(self.config_edit, 1)
        tab = QWidget()
        layout = QHBoxLayout(tab)
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)
        return tab

    def _bold(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        return font

    # --- public ---------------------------------------------------------------------------

    @Slot(str)
    def load(self, run_id: str) -> None:
        """Show ``run_id``: the figures arrive from the database thread, then the samples."""
        changed = run_id != self.run_id
        self.run_id = run_id
        ctx = self.ctx
        self._ticket = ctx.db.submit(lambda: _load_run(ctx, run_id))
        if changed:
            self.record = None
            self.summary = None
            self.title_label.setText(f"Run {short_id(run_id)}")
            self.subtitle_label.setText("Loading…")
            self.run_id_label.setText(run_id)
            self.status_label.clear()
            self.message_label.hide()
            self._show_sample(None)
            self.samples_model.set_run(run_id, self.sample_filter_combo.currentData())
            self.stack.setCurrentWidget(self.content)

    def _continue(self, *, only_failed: bool) -> None:
        """Resume the run or retry its failed samples; the live view shows the progress."""
        if self.run_id is None:
            return
        self.resume_button.hide()
        self.retry_button.hide()
        self.ctx.controller.continue_run(self.run_id, only_failed=only_failed)

    def selected_run_id(self) -> str | None:
        return self.run_id

    @Slot()
    def copy_run_id(self) -> None:
        if self.run_id:
            QApplication.clipboard().setText(self.run_id)
            self.copy_button.setText("Copied")
            self.copy_button.setToolTip(f"Copied {self.run_id}")

    def selected_sample(self) -> SampleResult | None:
        rows = self.samples_table.selectionModel().selectedRows()
        return self.samples_model.result(rows[0].row()) if rows else None

    # --- slots ----------------------------------------------------------------------------

    @Slot(int, object, object)
    def _on_db_answered(self, ticket: int, result: object, error: object) -> None:
        if ticket != self._ticket:
            return
        self._ticket = None
        if error is not None:
            self._show_missing(str(error))
            return
        assert isinstance(result, _Loaded)
        if result.record.run_id != self.run_id:
            return
        previous = self.record
        self._show(result)
        # A run that was still writing samples: re-read them now that there are more.
        if previous is not None and (previous.n_ok + previous.n_failed) != (
            result.record.n_ok + result.record.n_failed
        ):
            self.samples_model.set_run(self.run_id, self.sample_filter_combo.currentData())

    @Slot()
    def _on_runs_changed(self) -> None:
        if self.run_id is not None:
            self.load(self.run_id)

    @Slot(int)
    def _on_sample_filter(self, _index: int) -> None:
        self._show_sample(None)
        self.samples_model.set_filter(self.sample_filter_combo.currentData())

    @Slot(QItemSelection, QItemSelection)
    def _on_sample_selected(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_sample(self.selected_sample())

    @Slot()
    def _update_sample_count(self) -> None:
        shown = self.samples_model.rowCount()
        record = self.record
        stored = record.n_ok + record.n_failed if record is not None else None
        filtered = self.samples_model.sample_filter is not SampleFilter.ALL
        more = "" if self.samples_model.exhausted else "+ (scroll for more)"
        if filtered:
            self.samples_count.setText(f"{shown:,}{more} matching samples")
        elif stored is not None:
            self.samples_count.setText(f"{shown:,}{more} of {stored:,} stored samples")
        else:
            self.samples_count.setText(f"{shown:,}{more} samples")

    # --- rendering ------------------------------------------------------------------------

    def _show_missing(self, error: str) -> None:
        gone = "No run with id" in error
        self.run_id = None
        self.record = None
        self.summary = None
        self.samples_model.set_run(None)
        self.empty_label.setText("This run was deleted." if gone else f"Could not load: {error}")
        self.stack.setCurrentWidget(self.empty_page)

    def _show(self, loaded: _Loaded) -> None:
        record, summary = loaded.record, loaded.summary
        self.record, self.summary = record, summary
        self.title_label.setText(record.name or f"Run {short_id(record.run_id)}")
        self.status_label.setText(record.status.value)
        color = STATUS_COLORS.get(record.status, "#000000")
        self.status_label.setStyleSheet(
            f"color: white; background: {color}; border-radius: 4px; padding: 2px 8px;"
        )
        self.run_id_label.setText(record.run_id)
        tags = f" · tags: {', '.join(record.tags)}" if record.tags else ""
        self.subtitle_label.setText(
            f"{record.model} on {record.benchmark} · {record.provider} {record.base_url} · "
            f"created {format_created(record.created_at)}{tags}"
        )
        message = record.message or (summary.message if summary else None)
        self.message_label.setText(message or "")
        self.message_label.setVisible(bool(message))
        running = record.status in (RunStatus.RUNNING, RunStatus.PENDING)
        missing = record.n_total - (record.n_ok + record.n_failed)
        kind = run_kind(record.benchmark)
        # Load tests and speech runs are not resumable (core.engine.runner.continue_run).
        resumable = kind == KIND_QUALITY and not running
        self.resume_button.setVisible(resumable and missing > 0)
        self.resume_button.setText(f"Resume ({missing} left)")
        self.retry_button.setVisible(resumable and record.n_failed > 0)
        self.retry_button.setText(f"Retry {record.n_failed} failed")
        self._reset_tile_captions()
        self._show_tiles(record, summary, loaded.computed)
        if kind != KIND_QUALITY:
            self._show_kind_tiles(kind, summary)
        self._show_kind_panel(kind, record)
        self._show_metrics(record, summary)
        self._show_manifest(record)
        self._update_sample_count()

    def _show_tiles(self, record: RunRecord, s: RunSummary | None, computed: bool) -> None:
        accuracy = s.accuracy if s is not None else record.accuracy
        ci = s.accuracy_ci if s is not None else None
        ci_text = ""
        if ci is not None and s is not None:
            ci_text = f"95% CI {ci[0] * 100:.1f}–{ci[1] * 100:.1f}%"
            self.accuracy_tile.setToolTip(
                f"Share of answered samples scored correct, with its 95% "
                f"{s.accuracy_ci_method} score interval"
            )
        if computed:
            ci_text = (ci_text + " · so far").lstrip(" ·")
        self.accuracy_tile.set(format_percent(accuracy), ci_text)
        done = record.n_ok + record.n_failed
        correct = f"{s.n_correct:,} correct, " if s is not None else ""
        self.samples_tile.set(
            f"{done:,} / {record.n_total:,}", f"{correct}{record.n_failed:,} failed"
        )
        if s is not None:
            self.latency_tile.set(
                f"{format_ms(s.ttft_ms.get('p50'))} / {format_ms(s.e2e_ms.get('p50'))}",
                f"p99 {format_ms(s.ttft_ms.get('p99'))} / {format_ms(s.e2e_ms.get('p99'))}",
            )
            tps = s.output_tokens_per_s
            self.throughput_tile.set(
                "—" if tps is None else f"{tps:,.1f}",
                "server-reported usage" if tps is not None else "usage not reported",
            )
        else:
            self.latency_tile.set("—")
            self.throughput_tile.set("—")
        self.duration_tile.set(
            format_duration(record.duration_s),
            f"finished {format_created(record.finished_at)}" if record.finished_at else "",
        )
        cost, estimated = run_cost(record, self.ctx.settings)
        self.cost_tile.set(
            format_cost(cost, estimated),
            "estimated from tokens × Settings prices"
            if estimated
            else ("" if cost is not None else "no price for this model"),
        )

    def _show_kind_tiles(self, kind: str, s: RunSummary | None) -> None:
        """Speech and load-test runs: the tiles show the figures that matter for them."""
        if kind == KIND_SPEECH:
            audio = (s.audio if s is not None else None) or {}
            wer, ci = audio.get("wer"), audio.get("wer_ci")
            self.accuracy_tile.set_caption("WER (normalized)")
            self.accuracy_tile.set(
                format_percent(wer),
                (f"95% CI {ci[0] * 100:.1f}–{ci[1] * 100:.1f}% · " if ci else "")
                + f"CER {format_percent(audio.get('cer'))}",
            )
            self.accuracy_tile.setToolTip(str(audio.get("wer_ci_method") or ""))
            if s is not None:
                self.samples_tile.set_caption("Utterances")
                self.samples_tile.set(
                    f"{s.n_ok + s.n_failed:,} / {s.n_samples:,}",
                    f"{s.n_correct:,} without error, {s.n_failed:,} failed",
                )
            speed = audio.get("rtfx")
            self.throughput_tile.set_caption("RTFx (audio s / processing s)")
            self.throughput_tile.set(
                "—" if speed is None else f"{speed:,.1f}×",
                f"{audio.get('audio_s') or 0:,.1f} s of audio",
            )
            self.latency_tile.set_caption("Time per clip p50 / p99")
            if s is not None:
                self.latency_tile.set(
                    format_ms(s.e2e_ms.get("p50")), f"p99 {format_ms(s.e2e_ms.get('p99'))}"
                )
        elif kind == KIND_SPEED:
            totals = ((s.speed if s is not None else None) or {}).get("totals") or {}
            rps = totals.get("requests_per_s")
            self.accuracy_tile.set_caption("Requests/s")
            self.accuracy_tile.setToolTip("Successful requests per second over the measured window")
            self.accuracy_tile.set("—" if rps is None else f"{rps:,.2f}", "all steps")
            if s is not None:
                self.samples_tile.set_caption("Requests")
                self.samples_tile.set(
                    f"{s.n_ok + s.n_failed:,} / {s.n_samples:,}", f"{s.n_failed:,} failed"
                )
            tps = totals.get("output_tokens_per_s")
            self.throughput_tile.set("—" if tps is None else f"{tps:,.1f}", "aggregate")

    def _reset_tile_captions(self) -> None:
        self.accuracy_tile.setToolTip("")
        self.samples_tile.set_caption("Samples")
        self.accuracy_tile.set_caption("Accuracy")
        self.throughput_tile.set_caption("Output tokens/s")
        self.latency_tile.set_caption("Latency p50 (TTFT / E2E)")

    def kind_panel(self, kind: str) -> QWidget | None:
        """The tab for a speed or speech run (built on first use); None for quality runs."""
        if kind == KIND_QUALITY:
            return None
        panel = self._kind_panels.get(kind)
        if panel is None:
            if kind == KIND_SPEED:
                from openbench_desktop.ui.views.speed_detail import SpeedDetailPanel

                panel = SpeedDetailPanel(self.ctx)
            else:
                from openbench_desktop.ui.views.audio_detail import AudioDetailPanel

                panel = AudioDetailPanel(self.ctx)
            panel.setObjectName(f"detail_{kind}_panel")
            self._kind_panels[kind] = panel
        return panel

    def _show_kind_panel(self, kind: str, record: RunRecord) -> None:
        """Put the run's own tab first (and show it) for speed and speech runs."""
        for other, panel in self._kind_panels.items():
            if other != kind and (index := self.tabs.indexOf(panel)) >= 0:
                self.tabs.removeTab(index)
                panel.clear()  # type: ignore[attr-defined]
        panel = self.kind_panel(kind)
        if panel is None:
            self._kind_panel_run = None
            return
        if self.tabs.indexOf(panel) < 0:
            self.tabs.insertTab(0, panel, KIND_TAB_TITLES[kind])
        # Reload the panel only when the run, or how much of it is stored, changed.
        key = (record.run_id, record.status.value, record.n_ok + record.n_failed)
        if key != self._kind_panel_run:
            if self._kind_panel_run is None or self._kind_panel_run[0] != record.run_id:
                self.tabs.setCurrentWidget(panel)
            self._kind_panel_run = key
            panel.show_run(record.run_id)  # type: ignore[attr-defined]

    def _show_metrics(self, record: RunRecord, s: RunSummary | None) -> None:
        for row, (key, _label) in enumerate(LATENCIES):
            values: Mapping[str, float | None] = getattr(s, key) if s is not None else {}
            for col, pct in enumerate(PERCENTILE_KEYS, start=1):
                item = QTableWidgetItem(format_ms(values.get(pct)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.latency_table.setItem(row, col, item)
        f = self.figure_labels
        if s is not None:
            f["accuracy"].setText(format_percent(s.accuracy))
            ci = s.accuracy_ci
            f["accuracy_ci"].setText(
                f"{format_percent(ci[0])} – {format_percent(ci[1])} "
                f"({s.accuracy_ci_method} score interval)"
                if ci
                else "—"
            )
            f["accuracy_all"].setText(format_percent(s.accuracy_all))
            f["correct"].setText(f"{s.n_correct:,} / {s.n_ok:,} / {s.n_failed:,}")
            f["input_tokens"].setText(self._tokens(s.input_tokens, s.usage_complete))
            f["output_tokens"].setText(self._tokens(s.output_tokens, s.usage_complete))
            tps = s.output_tokens_per_s
            f["throughput"].setText("—" if tps is None else f"{tps:,.1f}")
        else:
            for key in ("accuracy", "accuracy_ci", "accuracy_all", "correct"):
                f[key].setText("—")
            for key in ("input_tokens", "output_tokens", "throughput"):
                f[key].setText("—")
        f["duration"].setText(format_duration(record.duration_s))
        f["cost"].setText(format_cost(*run_cost(record, self.ctx.settings)))
        finished = format_created(record.finished_at) if record.finished_at else "not finished"
        f["finished"].setText(f"{format_created(record.created_at)} / {finished}")

        errors = dict(s.error_counts) if s is not None else {}
        self.errors_table.setRowCount(len(errors))
        for row, (category, count) in enumerate(sorted(errors.items(), key=lambda kv: -kv[1])):
            self.errors_table.setItem(row, 0, QTableWidgetItem(category))
            item = QTableWidgetItem(f"{count:,}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.errors_table.setItem(row, 1, item)
        self.errors_empty.setVisible(not errors)
        self.errors_table.setVisible(bool(errors))

    @staticmethod
    def _tokens(value: int | None, complete: bool) -> str:
        if value is None:
            return "— (the server did not report usage for every sample)"
        return f"{value:,}" if complete else f"{value:,} (incomplete)"

    def _show_manifest(self, record: RunRecord) -> None:
        manifest = record.manifest
        if manifest is None:
            self.manifest_note.setText(
                "No manifest was recorded: the run stopped before its dataset was loaded. "
                "The configuration below is the run's settings."
            )
            self.manifest_note.show()
            for label in self.manifest_labels.values():
                label.setText("—")
            self.packages_table.setRowCount(0)
            config: Mapping[str, object] = record.spec.to_dict()
        else:
            self.manifest_note.hide()
            m = self.manifest_labels
            m["app_version"].setText(manifest.app_version)
            m["python_version"].setText(manifest.python_version)
            m["platform"].setText(manifest.platform)
            m["dataset_description"].setText(manifest.dataset_description)
            m["dataset_sha256"].setText(manifest.dataset_sha256 or "— (not hashed)")
            m["n_dataset_samples"].setText(f"{manifest.n_dataset_samples:,}")
            m["created_at"].setText(manifest.created_at)
            packages = sorted(manifest.package_versions.items(), key=lambda kv: kv[0].lower())
            self.packages_table.setRowCount(len(packages))
            for row, (name, version) in enumerate(packages):
                self.packages_table.setItem(row, 0, QTableWidgetItem(name))
                self.packages_table.setItem(row, 1, QTableWidgetItem(version))
            config = manifest.config or record.spec.to_dict()
        self.config_edit.setPlainText(
            json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        )

    def _show_sample(self, r: SampleResult | None) -> None:
        if r is None:
            self.sample_header.setText("Select a sample to see its full prompt and response.")
            for edit in (self.prompt_edit, self.response_edit, self.reasoning_edit):
                edit.clear()
            self.error_edit.clear()
            self.reasoning_box.hide()
            self.error_box.hide()
            return
        parts = [f"<b>Sample {r.index}</b>", outcome(r)]
        if r.sample_id:
            parts.append(f"id {r.sample_id}")
        parts.append(f"expected <b>{_escape(r.expected) or '—'}</b>")
        parts.append(f"extracted <b>{_escape(r.extracted) if r.extracted is not None else '—'}</b>")
        if r.score is not None:
            parts.append(f"score {r.score:g}")
        timings = [
            f"{name} {format_ms(value)}"
            for name, value in (("TTFT", r.ttft_ms), ("ITL", r.itl_ms), ("E2E", r.e2e_ms))
            if value is not None
        ]
        parts.extend(timings)
        if r.input_tokens is not None or r.output_tokens is not None:
            parts.append(f"tokens {r.input_tokens or 0:,} in / {r.output_tokens or 0:,} out")
        if r.finish_reason:
            parts.append(f"finish {r.finish_reason}")
        if r.attempts > 1:
            parts.append(f"{r.attempts} attempts")
        self.sample_header.setText(" · ".join(parts))
        self.prompt_edit.setPlainText(r.prompt)
        self.response_edit.setPlainText(r.output)
        self.reasoning_edit.setPlainText(r.reasoning)
        self.reasoning_box.setVisible(bool(r.reasoning))
        error = ""
        if r.error_category is not None or r.error_message:
            category = r.error_category.value if r.error_category else "error"
            error = f"{category}: {r.error_message or ''}".rstrip(": ")
        self.error_edit.setPlainText(error)
        self.error_box.setVisible(bool(error))


def _escape(text: str | None) -> str:
    from html import escape

    return escape(text or "")
