"""History: every stored run in a sortable, filterable table, with the actions on runs.

The table is a paged :class:`~openbench_desktop.ui.models.history_model.HistoryModel`:
opening the view with ten thousand runs reads one page, and every query (filters, sort,
refresh, the filter menus) runs on the database thread. Writes (tags, delete) go through
the one :class:`~openbench_desktop.core.storage.ResultWriter` so they queue behind the
results of runs in progress instead of contending with them for the write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Final

from PySide6.QtCore import QDate, QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.domain import RunRecord, RunStatus
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.history_model import HistoryModel, RunFilter, run_label

FILTER_DEBOUNCE_MS: Final = 250
REFRESH_DEBOUNCE_MS: Final = 100
#: While runs are going, their rows (progress, accuracy so far) are re-read this often.
LIVE_ROWS_MS: Final = 2000
# The date filters show "Any" at their minimum date (Qt's special value text).
_NO_DATE: Final = QDate(2000, 1, 1)

_COLUMN_WIDTHS: Final = {
    HistoryModel.COL_CREATED: 128,
    HistoryModel.COL_NAME: 230,
    HistoryModel.COL_BENCHMARK: 90,
    HistoryModel.COL_MODEL: 150,
    HistoryModel.COL_STATUS: 86,
    HistoryModel.COL_SAMPLES: 82,
    HistoryModel.COL_ACCURACY: 136,
    HistoryModel.COL_DURATION: 88,
    HistoryModel.COL_COST: 76,
}


class _RunTable(QTableView):
    """The runs table: Enter opens the current run, Delete deletes the selection."""

    def __init__(self, on_open: Callable[[], None], on_delete: Callable[[], None]) -> None:
        super().__init__()
        self._on_open = on_open
        self._on_delete = on_delete

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._on_open()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Delete and self.selectionModel().hasSelection():
            self._on_delete()
            event.accept()
            return
        super().keyPressEvent(event)


class HistoryView(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.model = HistoryModel(ctx.store, ctx.db, ctx.settings, parent=self)
        self._write_tickets: dict[int, Callable[[object, str | None], None]] = {}
        self._facets_ticket: int | None = None
        self._restore_ids: list[str] = []
        self._restore_current: str | None = None

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DEBOUNCE_MS)
        self._filter_timer.timeout.connect(self._apply_filter)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DEBOUNCE_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._live_timer = QTimer(self)
        self._live_timer.setInterval(LIVE_ROWS_MS)
        self._live_timer.timeout.connect(self.refresh_running_rows)
        self._live_ticket: int | None = None

        self._build_filter_bar()
        self._build_actions()
        self._build_table()
        self._build_empty_states()

        self.count_label = QLabel("Loading runs…")
        self.count_label.setObjectName("history_count")
        self.message_label = QLabel()
        self.message_label.setObjectName("history_message")
        self.message_label.setWordWrap(True)
        self.message_label.hide()

        # Second row of the bar: the date range, then the actions on the selected runs.
        # Two rows keep the view narrow enough for a 1280-px window beside the navigation.
        for button in self._action_buttons:
            self._bar_second_row.addWidget(button)

        self.stack = QStackedWidget()
        self.stack.setObjectName("history_stack")
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_page)
        self.stack.addWidget(self.no_match_page)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        title = QLabel("History")
        title.setObjectName("history_title")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.count_label)

        self.model.page_loaded.connect(self._on_page_loaded)
        self.model.load_failed.connect(self._on_load_failed)
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)
        ctx.db.answered.connect(self._on_db_answered)
        ctx.signals.runs_changed.connect(self._refresh_timer.start)
        # Bound slots (not lambdas) so the connections end with this view.
        ctx.controller.job_started.connect(self._on_job_started)
        ctx.controller.jobs_changed.connect(self._on_jobs_changed)
        self._update_actions()
        # Setting the sort makes the view ask the model for that order: that is the first
        # query (newest first). The filter menus are read after it, so they never delay
        # the first rows.
        self.table.sortByColumn(HistoryModel.COL_CREATED, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        if not self.model.is_loading and not self.model.loaded_once:
            self.model.reload()
        self._load_facets()

    # --- construction ---------------------------------------------------------------------

    def _build_filter_bar(self) -> None:
        self.filter_bar = QWidget()
        self.filter_bar.setObjectName("history_filters")
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("history_search")
        self.search_edit.setPlaceholderText("Filter by name, model, benchmark or run id")
        self.search_edit.setAccessibleName("Filter runs by text")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(180)
        self.benchmark_combo = self._facet_combo("history_benchmark", "All benchmarks", "Benchmark")
        self.model_combo = self._facet_combo("history_model", "All models", "Model")
        self.tag_combo = self._facet_combo("history_tag", "All tags", "Tag")
        self.status_combo = self._facet_combo("history_status", "Any status", "Status")
        for status in RunStatus:
            self.status_combo.addItem(status.value, status)
        self.since_edit = self._date_edit("history_since", "Created from (inclusive)")
        self.until_edit = self._date_edit("history_until", "Created until (inclusive)")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("history_clear_filters")
        self.clear_button.setAccessibleName("Clear all filters")
        self.clear_button.clicked.connect(self.clear_filters)

        self.search_edit.textChanged.connect(self._filter_timer.start)
        for combo in (self.benchmark_combo, self.model_combo, self.tag_combo, self.status_combo):
            combo.currentIndexChanged.connect(self._filter_timer.start)
        for edit in (self.since_edit, self.until_edit):
            edit.dateChanged.connect(self._filter_timer.start)

        rows = QVBoxLayout(self.filter_bar)
        rows.setContentsMargins(0, 0, 0, 0)
        first = QHBoxLayout()
        first.addWidget(self.search_edit, 2)
        for widget in (self.benchmark_combo, self.model_combo, self.status_combo, self.tag_combo):
            first.addWidget(widget, 1)
        second = QHBoxLayout()
        second.addWidget(QLabel("Created from"))
        second.addWidget(self.since_edit)
        second.addWidget(QLabel("to"))
        second.addWidget(self.until_edit)
        second.addWidget(self.clear_button)
        second.addStretch(1)
        rows.addLayout(first)
        rows.addLayout(second)
        self._bar_second_row = second

    @staticmethod
    def _facet_combo(name: str, any_text: str, accessible: str) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.setAccessibleName(f"Filter by {accessible.lower()}")
        combo.addItem(any_text, None)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)
        return combo

    @staticmethod
    def _date_edit(name: str, accessible: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.setToolTip(f"{accessible}; 'Any' for no limit (clear with the Clear button)")
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(_NO_DATE)
        edit.setSpecialValueText("Any")
        edit.setDate(_NO_DATE)
        return edit

    def _build_actions(self) -> None:
        def action(text: str, name: str, slot: Callable[[], None], tip: str) -> QAction:
            act = QAction(text, self)
            act.setObjectName(name)
            act.setToolTip(tip)
            act.triggered.connect(lambda _checked=False: slot())
            return act

        self.open_action = action(
            "Open", "history_open", self.open_selected, "Show the run (Enter)"
        )
        self.compare_action = action(
            "Compare", "history_compare", self.compare_selected, "Compare the selected runs"
        )
        self.duplicate_action = action(
            "Duplicate…",
            "history_duplicate",
            self.duplicate_selected,
            "Set up a new run with the same settings",
        )
        self.tags_action = action(
            "Tags…", "history_tags", self.edit_tags_of_selected, "Edit the run's tags"
        )
        self.copy_id_action = action(
            "Copy run id", "history_copy_id", self.copy_selected_id, "Copy the full run id"
        )
        self.delete_action = action(
            "Delete…", "history_delete", self.delete_selected, "Delete the selected runs (Del)"
        )
        self._actions = (
            self.open_action,
            self.compare_action,
            self.duplicate_action,
            self.tags_action,
            self.copy_id_action,
            self.delete_action,
        )
        self._action_buttons: list[QToolButton] = []
        for act in self._actions:
            if act is self.copy_id_action:
                continue  # in the context menu and Edit menu; the toolbar stays short
            button = QToolButton()
            button.setDefaultAction(act)
            button.setObjectName(f"{act.objectName()}_button")
            button.setAccessibleName(act.text().rstrip("…"))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            if act is self.compare_action:
                # Room for "Compare (12)" so the count never elides the label.
                button.setMinimumWidth(button.fontMetrics().horizontalAdvance("Compare (999)") + 16)
            self._action_buttons.append(button)

    def _build_table(self) -> None:
        self.table = _RunTable(self.open_selected, self.delete_selected)
        self.table.setObjectName("history_table")
        self.table.setAccessibleName("Runs")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        # Fixed row heights: the view never measures rows, whatever the number loaded.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(True)
        for column, width in _COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        header.sortIndicatorChanged.connect(self._on_sort_indicator)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())

    def _build_empty_states(self) -> None:
        self.empty_page, self.empty_button = self._message_page(
            "history_empty",
            "No runs yet",
            "Runs you start appear here with their accuracy, speed and cost.",
            "Set up a run",
            lambda: self.ctx.signals.navigate.emit("setup"),
        )
        self.no_match_page, self.no_match_button = self._message_page(
            "history_no_match",
            "No runs match these filters",
            "Change or clear the filters to see more runs.",
            "Clear filters",
            self.clear_filters,
        )

    @staticmethod
    def _message_page(
        name: str, title: str, text: str, button_text: str, slot: Callable[[], None]
    ) -> tuple[QWidget, QPushButton]:
        page = QWidget()
        page.setObjectName(name)
        heading = QLabel(title)
        heading.setObjectName(f"{name}_title")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        heading.setFont(font)
        body = QLabel(text)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.setWordWrap(True)
        button = QPushButton(button_text)
        button.setObjectName(f"{name}_button")
        button.setAccessibleName(button_text)
        button.clicked.connect(slot)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(heading)
        layout.addWidget(body)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page, button

    # --- what MainWindow and tests use ----------------------------------------------------

    def selected_records(self) -> list[RunRecord]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [r for r in (self.model.record(row) for row in rows) if r is not None]

    def selected_run_id(self) -> str | None:
        """The current run (the one a keyboard action applies to), else the first selected."""
        current = self.table.currentIndex()
        if current.isValid() and self.table.selectionModel().isRowSelected(current.row()):
            record = self.model.record(current.row())
            if record is not None:
                return record.run_id
        records = self.selected_records()
        return records[0].run_id if records else None

    def select_run(self, run_id: str) -> bool:
        """Make ``run_id`` the current, only selected run (if loaded)."""
        row = self.model.row_of(run_id)
        if row < 0:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        return True

    def current_filter(self) -> RunFilter:
        status = self.status_combo.currentData()
        return RunFilter(
            text=self.search_edit.text().strip(),
            benchmark=self.benchmark_combo.currentData(),
            model=self.model_combo.currentData(),
            status=RunStatus(status) if status else None,  # the combo hands back a str
            tag=self.tag_combo.currentData(),
            since=self._date_of(self.since_edit),
            until=self._date_of(self.until_edit),
        )

    @staticmethod
    def _date_of(edit: QDateEdit) -> date | None:
        picked = edit.date()
        return None if picked == _NO_DATE else picked.toPython()  # type: ignore[return-value]

    @Slot()
    def refresh(self) -> None:
        """Re-read the loaded rows and the filter menus (after runs changed)."""
        self.model.reload(keep_loaded=True)
        self._load_facets()

    @Slot()
    def clear_filters(self) -> None:
        widgets: tuple[Any, ...] = (
            self.search_edit,
            self.benchmark_combo,
            self.model_combo,
            self.status_combo,
            self.tag_combo,
            self.since_edit,
            self.until_edit,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.search_edit.clear()
        for combo in (self.benchmark_combo, self.model_combo, self.status_combo, self.tag_combo):
            combo.setCurrentIndex(0)
        self.since_edit.setDate(_NO_DATE)
        self.until_edit.setDate(_NO_DATE)
        for widget in widgets:
            widget.blockSignals(False)
        self._filter_timer.stop()
        self._apply_filter()

    # --- actions on runs ------------------------------------------------------------------

    @Slot()
    def open_selected(self) -> None:
        run_id = self.selected_run_id()
        if run_id:
            self.ctx.signals.open_run.emit(run_id)

    @Slot()
    def compare_selected(self) -> None:
        ids = [r.run_id for r in self.selected_records()]
        if len(ids) >= 2:
            self.ctx.signals.compare_runs.emit(ids)

    @Slot()
    def duplicate_selected(self) -> None:
        record = self._current_record()
        if record is not None:
            self.ctx.signals.duplicate_run.emit(record.spec)

    @Slot()
    def copy_selected_id(self) -> None:
        from PySide6.QtWidgets import QApplication

        run_id = self.selected_run_id()
        if run_id:
            QApplication.clipboard().setText(run_id)
            self._show_message(f"Copied run id {run_id}")

    @Slot()
    def edit_tags_of_selected(self) -> None:
        record = self._current_record()
        if record is None:
            return
        tags = self._ask_tags(record)
        if tags is None:
            return
        store, writer, run_id = self.ctx.store, self.ctx.writer, record.run_id

        def write() -> tuple[str, ...]:
            writer.call(store.set_tags, run_id, tags).result()
            return store.get_run(run_id).tags

        def done(result: object, error: str | None) -> None:
            if error is not None:
                self._show_message(f"Could not change the tags: {error}", error=True)
                return
            assert isinstance(result, tuple)
            self.model.set_tags_locally(run_id, result)
            self.ctx.signals.runs_changed.emit()

        self._write(write, done)

    @Slot()
    def delete_selected(self) -> None:
        records = self.selected_records()
        if not records:
            return
        running = [r for r in records if not r.status.terminal]
        if running:
            self._show_message(
                f"{run_label(running[0])} is still running: cancel it in Runs in progress "
                "before deleting it.",
                error=True,
            )
            return
        if len(records) == 1:
            r = records[0]
            n = r.n_ok + r.n_failed
            text = (
                f"Delete the run {run_label(r)} ({r.model} on {r.benchmark}) and its "
                f"{n:,} stored samples? This cannot be undone."
            )
        else:
            text = (
                f"Delete {len(records)} runs and all their stored samples? This cannot be undone."
            )
        if not self._confirm(text):
            return
        store, writer = self.ctx.store, self.ctx.writer
        ids = [r.run_id for r in records]

        def write() -> int:
            for run_id in ids:
                writer.call(store.delete_run, run_id).result()
            return len(ids)

        def done(_result: object, error: str | None) -> None:
            if error is not None:
                self._show_message(f"Could not delete: {error}", error=True)
            else:
                self._show_message(f"Deleted {len(ids)} run{'s' if len(ids) > 1 else ''}.")
            self.ctx.signals.runs_changed.emit()

        self._write(write, done)

    # Overridable so tests (and future non-modal flows) answer without a dialog.
    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Delete runs",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _ask_tags(self, record: RunRecord) -> list[str] | None:
        """The new tags for ``record`` (None: cancelled). Overridable for tests."""
        text, ok = QInputDialog.getText(
            self,
            "Edit tags",
            f"Tags of {run_label(record)}, separated by commas:",
            QLineEdit.EchoMode.Normal,
            ", ".join(record.tags),
        )
        if not ok:
            return None
        return [t.strip() for t in text.split(",") if t.strip()]

    def _current_record(self) -> RunRecord | None:
        run_id = self.selected_run_id()
        row = self.model.row_of(run_id) if run_id else -1
        return self.model.record(row)

    def _write(self, fn: Callable[[], object], done: Callable[[object, str | None], None]) -> None:
        # On the database thread, which waits for the writer: the GUI never does.
        self._write_tickets[self.ctx.db.submit(fn)] = done

    # --- slots ----------------------------------------------------------------------------

    @Slot(int, object, object)
    def _on_db_answered(self, ticket: int, result: object, error: object) -> None:
        if ticket == self._live_ticket:
            self._live_ticket = None
            if error is None and isinstance(result, list):
                for record in result:
                    self.model.update_record(record)  # in place: no reset, no scroll jump
            return
        if ticket == self._facets_ticket:
            self._facets_ticket = None
            if error is None and isinstance(result, dict):
                self._fill_facets(result)
            return
        done = self._write_tickets.pop(ticket, None)
        if done is not None:
            done(result, None if error is None else str(error))

    def _load_facets(self) -> None:
        store = self.ctx.store
        self._facets_ticket = self.ctx.db.submit(store.run_facets)

    def _fill_facets(self, facets: dict[str, list[str]]) -> None:
        for combo, key in (
            (self.benchmark_combo, "benchmark"),
            (self.model_combo, "model"),
            (self.tag_combo, "tag"),
        ):
            chosen = combo.currentData()
            values = list(facets.get(key, []))
            if chosen is not None and chosen not in values:
                values.append(chosen)  # keep what the user picked even if it is gone
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for value in values:
                combo.addItem(value, value)
            combo.setCurrentIndex(max(combo.findData(chosen), 0) if chosen is not None else 0)
            combo.blockSignals(False)

    @Slot(int, object)
    def _on_job_started(self, _job_id: int, _event: object) -> None:
        self._refresh_timer.start()  # the new run is in the database now

    @Slot()
    def _on_jobs_changed(self) -> None:
        if self.ctx.controller.active_jobs():
            if not self._live_timer.isActive():
                self._live_timer.start()
        else:
            self._live_timer.stop()

    @Slot()
    def refresh_running_rows(self) -> None:
        """Re-read the rows of the runs in progress (one indexed read each, off the GUI)."""
        if self._live_ticket is not None or not self.isVisible():
            return
        ids = [j.run_id for j in self.ctx.controller.active_jobs() if j.run_id]
        ids = [i for i in ids if self.model.row_of(i) >= 0]
        if not ids:
            return
        store = self.ctx.store
        self._live_ticket = self.ctx.db.submit(lambda: [store.get_run(i) for i in ids])

    @Slot()
    def _apply_filter(self) -> None:
        self.model.set_filter(self.current_filter())

    @Slot(int, Qt.SortOrder)
    def _on_sort_indicator(self, column: int, _order: Qt.SortOrder) -> None:
        if not self.model.is_sortable(column):
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(self.model.sort_column, self.model.sort_order)
            header.blockSignals(False)

    @Slot()
    def _on_page_loaded(self) -> None:
        total, shown = self.model.total, self.model.rowCount()
        if total == 0:
            no_runs = not self.model.run_filter.active
            self.stack.setCurrentWidget(self.empty_page if no_runs else self.no_match_page)
            self.filter_bar.setVisible(not no_runs)
            self.count_label.setText("No runs" if no_runs else "No matching runs")
        else:
            self.stack.setCurrentWidget(self.table)
            self.filter_bar.setVisible(True)
            noun = "run" if total == 1 else "runs"
            matching = " matching" if self.model.run_filter.active else ""
            if shown < total:
                self.count_label.setText(
                    f"{total:,}{matching} {noun} · {shown:,} loaded (scroll for more)"
                )
            else:
                self.count_label.setText(f"{total:,}{matching} {noun}")
        self._update_actions()

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self._show_message(f"Could not read the history: {message}", error=True)

    def _remember_selection(self) -> None:
        self._restore_ids = [r.run_id for r in self.selected_records()]
        current = self.model.record(self.table.currentIndex().row())
        self._restore_current = current.run_id if current is not None else None

    def _restore_selection(self) -> None:
        selection = self.table.selectionModel()
        rows = [self.model.row_of(run_id) for run_id in self._restore_ids]
        for row in rows:
            if row >= 0:
                selection.select(
                    self.model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.Select
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
        if self._restore_current is not None:
            row = self.model.row_of(self._restore_current)
            if row >= 0:
                selection.setCurrentIndex(
                    self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
                )
        self._update_actions()

    def _update_actions(self) -> None:
        n = len(self.table.selectionModel().selectedRows())
        single = self._current_record() is not None and n >= 1
        self.open_action.setEnabled(single)
        self.duplicate_action.setEnabled(single)
        self.tags_action.setEnabled(single)
        self.copy_id_action.setEnabled(single)
        self.delete_action.setEnabled(n >= 1)
        self.compare_action.setEnabled(n >= 2)
        self.compare_action.setText(f"Compare ({n})" if n >= 2 else "Compare")

    @Slot(QPoint)
    def _on_context_menu(self, pos: QPoint) -> None:
        index: QModelIndex = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row()):
            self.select_run(self.model.record(index.row()).run_id)  # type: ignore[union-attr]
        menu = QMenu(self)
        for act in self._actions:
            if act is self.delete_action:
                menu.addSeparator()
            menu.addAction(act)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #D55E00;" if error else "")
        self.message_label.show()
