"""Compare: pick two or more runs; see paired differences, latency and trade-off charts.

Data flow (nothing slow on the GUI thread):

1. the run list comes from ``store.list_runs`` through ``ctx.db`` (the serialized reader);
2. the picked runs' results are read through ``ctx.db`` into compact
   :class:`~openbench_desktop.core.stats.RunColumns` (cached per finished run);
3. the statistics (bootstraps: up to a second or two for big runs) are computed on this
   view's own one-thread pool, so they never hold up other views' database reads;
4. the answer comes back to the GUI thread through one queued signal, tagged with a
   generation number: answers for a selection the user has since changed are dropped.
"""

from __future__ import annotations

import contextlib
import html
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.domain import RunRecord, RunStatus
from openbench_desktop.core.labels import spec_label
from openbench_desktop.core.stats import Comparison, RunColumns, RunInput, compare_runs
from openbench_desktop.core.storage import Store
from openbench_desktop.ui.charts.chart_card import ChartCard
from openbench_desktop.ui.charts.compare_charts import (
    LATENCY_METRICS,
    AccuracyCostChart,
    AccuracyLatencyChart,
    CompareChart,
    LatencyCdfChart,
    LatencyPercentilesChart,
    ScoreBarsChart,
)
from openbench_desktop.ui.charts.export import (
    DEFAULT_DPI,
    export_chart,
    export_charts,
    export_csv,
    format_for,
)
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.compare_deltas_model import CompareDeltasModel
from openbench_desktop.ui.views.run_kinds import KIND_QUALITY, KIND_SPEECH, KIND_SPEED, run_kind

log = logging.getLogger(__name__)

RUN_LIST_LIMIT = 500
DEBOUNCE_MS = 250  # ticking several runs in a row computes once
EXPORT_FILTERS = "PNG image (*.png);;SVG vector image (*.svg);;CSV data (*.csv)"
DELTAS_CSV = "deltas.csv"


def _load_columns(store: Store, run_ids: Sequence[str]) -> list[tuple[RunRecord, RunColumns]]:
    """On the database thread: each run's record and its results as arrays."""
    out = []
    for run_id in run_ids:
        record = store.get_run(run_id)
        out.append(
            (record, RunColumns.collect(RunInput.from_record(record, store.iter_results(run_id))))
        )
    return out


class _Relay(QObject):
    """Lives on the GUI thread; a worker's emit is queued to it."""

    finished = Signal(int, object, object)  # generation, Comparison | None, error | None


class _StatsJob(QRunnable):
    def __init__(self, generation: int, columns: list[RunColumns], relay: _Relay) -> None:
        super().__init__()
        self.generation = generation
        self.columns = columns
        self.relay = relay

    def run(self) -> None:
        started = time.perf_counter()
        try:
            result: Comparison | None = compare_runs(self.columns)
            error = None
        except Exception as exc:  # shown in the view
            log.exception("comparison failed")
            result, error = None, str(exc)
        log.debug("comparison computed in %.2f s", time.perf_counter() - started)
        # RuntimeError: the view was deleted meanwhile; nobody to tell.
        with contextlib.suppress(RuntimeError):
            self.relay.finished.emit(self.generation, result, error)


def _run_label(record: RunRecord) -> str:
    return spec_label(record.spec)


def _run_item_text(record: RunRecord) -> str:
    acc = "—" if record.accuracy is None else f"{record.accuracy:.1%}"
    when = record.created_at[:16].replace("T", " ")  # UTC, as stored
    return (
        f"{_run_label(record)}\n{record.benchmark} · {acc} · {record.n_total} samples\n{when} UTC"
    )


class CompareView(QWidget):
    """Two or more runs side by side, with paired statistics against a baseline."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.comparison: Comparison | None = None
        self._records: dict[str, RunRecord] = {}
        self._picked: list[str] = []  # in the order they were ticked
        self._baseline: str | None = None
        self._columns: dict[str, RunColumns] = {}  # finished runs only stay cached
        self._volatile: set[str] = set()  # loaded runs still in progress: reload next time
        self._runs_ticket: int | None = None
        self._load_tickets: dict[int, tuple[str, ...]] = {}
        self._generation = 0
        self._computing: tuple[str, ...] | None = None
        self._shown: tuple[str, ...] | None = None
        self._export_dir = Path.home()
        self._error: str | None = None
        self._started_at = 0.0
        self._summary = ""

        # The pool is created before the relay so that, when the view is destroyed, the
        # pool (which waits for a running job) goes before the relay that job emits on.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_stats_ready)
        self._jobs: set[_StatsJob] = set()  # keep Python wrappers alive while queued
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._advance)

        self._build()
        ctx.db.answered.connect(self._on_db_answer)
        ctx.signals.compare_runs.connect(self.compare)
        ctx.signals.runs_changed.connect(self.reload_runs)
        ctx.signals.theme_changed.connect(self._on_theme_changed)
        self.reload_runs()
        self._show_state()

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        # left: the run picker
        picker = QWidget()
        picker.setObjectName("compare_picker")
        left = QVBoxLayout(picker)
        left.setContentsMargins(8, 8, 4, 8)
        title = QLabel("<b>Runs to compare</b>")
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("compare_filter")
        self.filter_edit.setPlaceholderText("Filter runs")
        self.filter_edit.setToolTip("Show runs whose model, name or benchmark contains this text")
        self.filter_edit.setAccessibleName("Filter runs")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.run_list = QListWidget()
        self.run_list.setObjectName("compare_run_list")
        self.run_list.setAccessibleName("Runs to compare")
        self.run_list.setAlternatingRowColors(True)
        self.run_list.setSpacing(1)
        self.run_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.run_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.run_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.run_list.itemChanged.connect(self._on_item_changed)
        self.run_list.itemActivated.connect(self._on_item_activated)
        hint = QLabel(
            "Completed runs, newest first. Tick two or more; the first ticked is the baseline."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.clear_button = QPushButton("Clear selection")
        self.clear_button.setObjectName("compare_clear")
        self.clear_button.clicked.connect(lambda: self.compare([]))
        left.addWidget(title)
        left.addWidget(self.filter_edit)
        left.addWidget(self.run_list, 1)
        left.addWidget(hint)
        left.addWidget(self.clear_button)

        # right: toolbar, warnings, then the empty state or the results
        self.baseline_combo = QComboBox()
        self.baseline_combo.setObjectName("compare_baseline")
        self.baseline_combo.setAccessibleName("Baseline run")
        self.baseline_combo.setToolTip("Differences in the table are against this run")
        self.baseline_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.baseline_combo.setMinimumContentsLength(16)
        self.baseline_combo.activated.connect(self._on_baseline_chosen)
        self.status_label = QLabel()
        self.status_label.setObjectName("compare_status")
        self.status_label.setStyleSheet("color: palette(placeholder-text);")
        self.dpi_spin = QSpinBox()
        self.dpi_spin.setObjectName("compare_dpi")
        self.dpi_spin.setAccessibleName("PNG export resolution")
        self.dpi_spin.setRange(72, 1200)
        self.dpi_spin.setSingleStep(50)
        self.dpi_spin.setValue(DEFAULT_DPI)
        self.dpi_spin.setSuffix(" dpi")
        self.dpi_spin.setToolTip(
            "Resolution of exported PNG images: 300 dpi for print, 96 for the screen. "
            "The printed size stays that of the chart on screen."
        )
        self.export_all_button = QPushButton("Export all…")
        self.export_all_button.setObjectName("compare_export_all")
        self.export_all_button.setAccessibleName("Export all charts")
        self.export_all_button.setToolTip(
            "Save every chart as PNG and SVG, their numbers and the table as CSV, in a folder"
        )
        self.export_all_button.clicked.connect(self._on_export_all)
        toolbar = QHBoxLayout()
        toolbar.addWidget(QLabel("Baseline:"))
        toolbar.addWidget(self.baseline_combo)
        toolbar.addSpacing(12)
        toolbar.addWidget(self.status_label, 1)
        toolbar.addWidget(QLabel("PNG resolution:"))
        toolbar.addWidget(self.dpi_spin)
        toolbar.addWidget(self.export_all_button)

        self.warning_label = QLabel()
        self.warning_label.setObjectName("compare_warnings")
        self.warning_label.setWordWrap(True)
        self.warning_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warning_label.setStyleSheet(
            "background: #fff4d6; color: #5a4300; border: 1px solid #e6c86e;"
            " border-radius: 3px; padding: 4px 6px;"
        )
        self.warning_label.hide()

        self.empty_label = QLabel()
        self.empty_label.setObjectName("compare_empty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); font-size: 13pt;")

        self.charts: dict[str, CompareChart] = {}
        self.scores_chart = ScoreBarsChart()
        self.latency_chart = LatencyPercentilesChart()
        self.cdf_chart = LatencyCdfChart()
        self.scatter_chart = AccuracyLatencyChart()
        self.cost_chart = AccuracyCostChart()
        self.latency_metric = QComboBox()
        self.latency_metric.setObjectName("compare_latency_metric")
        self.latency_metric.setAccessibleName("Latency measure")
        for key, label in LATENCY_METRICS.items():
            self.latency_metric.addItem(label, key)
        self.latency_metric.currentIndexChanged.connect(
            lambda _i: self.latency_chart.set_metric(self.latency_metric.currentData())
        )
        self.cards: dict[str, ChartCard] = {}
        for chart, hint, extra in (
            (
                self.scores_chart,
                "Correct ÷ answered. Whiskers: 95% Wilson interval.",
                None,
            ),
            (
                self.latency_chart,
                "Whiskers: 95% bootstrap interval.",
                self.latency_metric,
            ),
            (
                self.cdf_chart,
                "Share of samples done within a time: further left is faster.",
                None,
            ),
            (
                self.scatter_chart,
                "Up and to the left is better. Whiskers: 95% intervals.",
                None,
            ),
            (
                self.cost_chart,
                "Runs with a known cost. Up and to the left is better.",
                None,
            ),
        ):
            card = ChartCard(
                chart, chart.slug, hint, title=chart.title, controls=[extra] if extra else ()
            )
            assert card.export_button is not None
            card.export_button.clicked.connect(lambda _c=False, ch=chart: self._on_export_chart(ch))
            self.charts[chart.slug] = chart
            self.cards[chart.slug] = card

        self.deltas_model = CompareDeltasModel()
        self.deltas_table = QTableView()
        self.deltas_table.setObjectName("compare_deltas")
        self.deltas_table.setAccessibleName("Differences against the baseline")
        self.deltas_table.setModel(self.deltas_model)
        self.deltas_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.deltas_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.deltas_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.deltas_table.verticalHeader().hide()
        self.deltas_table.setWordWrap(False)
        self.deltas_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Height follows the rows (and the horizontal scroll bar when it shows).
        self.deltas_table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.deltas_table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        header = self.deltas_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.deltas_caption = QLabel()
        self.deltas_caption.setObjectName("compare_deltas_caption")
        self.deltas_caption.setWordWrap(True)

        results = QWidget()
        results.setObjectName("compare_results")
        grid = QGridLayout()
        grid.setSpacing(8)
        for k, slug in enumerate(self.cards):
            grid.addWidget(self.cards[slug], k // 2, k % 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        body = QVBoxLayout(results)
        body.setContentsMargins(0, 0, 4, 0)
        body.addWidget(self.deltas_caption)
        body.addWidget(self.deltas_table)
        body.addLayout(grid)
        # Speed and speech runs get their own section (built when first needed).
        self._sections: dict[str, QWidget] = {}
        self._sections_layout = QVBoxLayout()
        self._sections_layout.setSpacing(8)
        body.addLayout(self._sections_layout)
        body.addStretch(1)
        self.results_widget = results
        scroll = QScrollArea()
        scroll.setObjectName("compare_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(results)

        self.stack = QStackedWidget()
        self.stack.setObjectName("compare_stack")
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(scroll)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 8, 8, 8)
        right_layout.addLayout(toolbar)
        right_layout.addWidget(self.warning_label)
        right_layout.addWidget(self.stack, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("compare_splitter")
        splitter.addWidget(picker)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([230, 1000])
        splitter.setChildrenCollapsible(False)
        picker.setMinimumWidth(180)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- public API ------------------------------------------------------------------------

    @Slot(list)
    def compare(self, run_ids: Sequence[str]) -> None:
        """Show these runs; the first is the baseline (``ctx.signals.compare_runs``)."""
        ids = list(dict.fromkeys(str(i) for i in run_ids))
        self._picked = ids
        self._baseline = ids[0] if ids else None
        self._sync_checks()
        self._sync_baseline_combo()
        self._debounce.stop()
        self._advance()

    def picked_run_ids(self) -> list[str]:
        """Picked runs, the baseline first (the order of the comparison)."""
        if self._baseline in self._picked:
            return [self._baseline, *(i for i in self._picked if i != self._baseline)]
        return list(self._picked)

    def selected_run_id(self) -> str | None:
        """The run of the table's current row, else the baseline (Copy run id, Export run)."""
        row = self.deltas_table.currentIndex().row()
        return self.deltas_model.run_id(row) or (self.picked_run_ids() or [None])[0]

    def is_busy(self) -> bool:
        return (
            bool(self._load_tickets)
            or self._computing is not None
            or self._debounce.isActive()
            or any(
                s.isVisibleTo(self) and s.is_busy()  # type: ignore[attr-defined]
                for s in self._sections.values()
            )
        )

    def reload_runs(self) -> None:
        store = self.ctx.store
        self._runs_ticket = self.ctx.db.submit(
            lambda: store.list_runs(status=RunStatus.COMPLETED, limit=RUN_LIST_LIMIT)
        )

    def visible_charts(self) -> list[CompareChart]:
        """The charts that show something (the cost chart only when a cost is known)."""
        charts = [
            c for c in self.charts.values() if c.has_data() and self.cards[c.slug].isVisibleTo(self)
        ]
        for section in self._sections.values():
            if section.isVisibleTo(self):
                charts.extend(section.charts())  # type: ignore[attr-defined]
        return charts

    def section(self, kind: str) -> QWidget | None:
        """The section for speed or speech runs (built on first use); None for quality."""
        if kind == KIND_QUALITY:
            return None
        section = self._sections.get(kind)
        if section is None:
            if kind == KIND_SPEED:
                from openbench_desktop.ui.views.speed_compare import SpeedCompareSection

                section = SpeedCompareSection(self.ctx)
            else:
                from openbench_desktop.ui.views.audio_compare import AudioCompareSection

                section = AudioCompareSection(self.ctx)
            section.setObjectName(f"compare_{kind}_section")
            self._sections[kind] = section
            self._sections_layout.addWidget(section)
        return section

    def _kinds_of(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        kinds: dict[str, list[str]] = {}
        for run_id in run_ids:
            record = self._records.get(run_id)
            kind = run_kind(record.benchmark if record else None)
            kinds.setdefault(kind, []).append(run_id)
        return kinds

    def _show_sections(self, run_ids: Sequence[str]) -> None:
        """Quality charts for chat runs; each other kind its own section."""
        kinds = self._kinds_of(run_ids)
        quality = KIND_QUALITY in kinds
        for card in self.cards.values():
            shown = card.chart is not self.cost_chart or card.chart.has_data()
            card.setVisible(quality and shown)
        self.deltas_table.setVisible(quality)
        self.deltas_caption.setVisible(quality)
        for kind in (KIND_SPEED, KIND_SPEECH):
            ids = kinds.get(kind, [])
            section = self.section(kind) if ids else self._sections.get(kind)
            if section is None:
                continue
            section.setVisible(bool(ids))
            if ids:
                section.set_runs(ids)  # type: ignore[attr-defined]

    def export_chart(
        self, chart: CompareChart | str, path: str | Path, fmt: str | None = None
    ) -> Path:
        """Write one chart (or its data) to ``path``; PNG uses the DPI box's value."""
        target = self.charts[chart] if isinstance(chart, str) else chart
        return export_chart(target, path, fmt, dpi=self.dpi_spin.value())

    def export_all(self, folder: str | Path) -> list[Path]:
        """Every visible chart as PNG, SVG and CSV, and the deltas table as CSV."""
        folder = Path(folder)
        written = export_charts(self.visible_charts(), folder, dpi=self.dpi_spin.value())
        header, rows = self.deltas_model.data_table()
        written.append(export_csv(header, rows, folder / DELTAS_CSV))
        return written

    # -- picking -----------------------------------------------------------------------------

    def _populate_list(self, records: list[RunRecord]) -> None:
        for r in records:
            self._records[r.run_id] = r
        shown = [r.run_id for r in records]
        # picked runs that are not in the list (e.g. a cancelled run sent from History)
        extra = [i for i in self._picked if i not in shown and i in self._records]
        current = self.run_list.currentItem()
        current_id = current.data(Qt.ItemDataRole.UserRole) if current else None
        self.run_list.blockSignals(True)
        try:
            self.run_list.clear()
            for run_id in [*extra, *shown]:
                self._add_item(self._records[run_id])
        finally:
            self.run_list.blockSignals(False)
        for row in range(self.run_list.count()):
            if self.run_list.item(row).data(Qt.ItemDataRole.UserRole) == current_id:
                self.run_list.setCurrentRow(row)
        self._apply_filter(self.filter_edit.text())
        self._sync_baseline_combo()

    def _add_item(self, record: RunRecord) -> QListWidgetItem:
        item = QListWidgetItem(_run_item_text(record))
        item.setData(Qt.ItemDataRole.UserRole, record.run_id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        checked = record.run_id in self._picked
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setToolTip(
            f"{_run_label(record)}\nmodel {record.model} ({record.provider})\n"
            f"benchmark {record.benchmark}, status {record.status}\nrun id {record.run_id}"
        )
        self.run_list.addItem(item)
        return item

    def _sync_checks(self) -> None:
        self.run_list.blockSignals(True)
        try:
            for row in range(self.run_list.count()):
                item = self.run_list.item(row)
                on = item.data(Qt.ItemDataRole.UserRole) in self._picked
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self.run_list.blockSignals(False)
        self._apply_filter(self.filter_edit.text())

    def _sync_baseline_combo(self) -> None:
        if self._baseline not in self._picked:
            self._baseline = self._picked[0] if self._picked else None
        combo = self.baseline_combo
        combo.blockSignals(True)
        try:
            combo.clear()
            for run_id in self._picked:
                record = self._records.get(run_id)
                cached = self._columns.get(run_id)
                if record is not None:
                    label = _run_label(record)
                elif cached is not None:
                    label = cached.info.label or cached.info.model
                else:
                    label = run_id[:8]
                combo.addItem(label, run_id)
            if self._baseline is not None:
                combo.setCurrentIndex(combo.findData(self._baseline))
        finally:
            combo.blockSignals(False)
        combo.setEnabled(len(self._picked) >= 2)

    @Slot(str)
    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.run_list.count()):
            item = self.run_list.item(row)
            checked = item.checkState() == Qt.CheckState.Checked
            item.setHidden(bool(needle) and not checked and needle not in item.text().lower())

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        run_id = item.data(Qt.ItemDataRole.UserRole)
        checked = item.checkState() == Qt.CheckState.Checked
        if checked and run_id not in self._picked:
            self._picked.append(run_id)
        elif not checked and run_id in self._picked:
            self._picked.remove(run_id)
        else:
            return
        self._sync_baseline_combo()
        self._show_state()
        self._debounce.start()

    @Slot(QListWidgetItem)
    def _on_item_activated(self, item: QListWidgetItem) -> None:
        """Enter / double-click toggles the tick, like a click on the box."""
        checked = item.checkState() == Qt.CheckState.Checked
        item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)

    @Slot(int)
    def _on_baseline_chosen(self, index: int) -> None:
        run_id = self.baseline_combo.itemData(index)
        if run_id and run_id != self._baseline:
            self._baseline = run_id
            self._advance()

    # -- loading and computing ---------------------------------------------------------------

    def _advance(self) -> None:
        """Take the next step towards showing the picked runs: load, compute or nothing."""
        self._debounce.stop()
        self._error = None  # a new attempt; a failure shows again if it repeats
        ids = tuple(self.picked_run_ids())
        if len(ids) < 2:
            self._shown = None
            self._show_state()
            return
        if ids == self._shown or ids == self._computing:
            self._show_state()
            return
        missing = [i for i in ids if i not in self._columns]
        if missing:
            if not self._load_tickets:  # one read at a time; its answer calls us again
                store = self.ctx.store
                ticket = self.ctx.db.submit(lambda: _load_columns(store, missing))
                self._load_tickets[ticket] = tuple(missing)
            self._show_state()
            return
        self._generation += 1
        self._computing = ids
        columns = [self._columns[i] for i in ids]
        for run_id in ids:
            if run_id in self._volatile:  # still running: read it afresh next time
                self._columns.pop(run_id, None)
                self._volatile.discard(run_id)
        self._pool.clear()  # a queued, not yet started job is for an older selection
        job = _StatsJob(self._generation, columns, self._relay)
        job.setAutoDelete(False)
        self._jobs.add(job)
        self._started_at = time.perf_counter()
        self._pool.start(job)
        self._show_state()

    @Slot(int, object, object)
    def _on_db_answer(self, ticket: int, result: object, error: object) -> None:
        if ticket == self._runs_ticket:
            self._runs_ticket = None
            if error is None:
                self._populate_list(list(result))  # type: ignore[call-overload]
            else:
                self.status_label.setText(f"Could not list runs: {error}")
            return
        if ticket not in self._load_tickets:
            return  # another view's request
        self._load_tickets.pop(ticket)
        if error is not None:
            self._error = f"Could not read the runs: {error}"
            self._shown = None
            self._show_state()
            return
        for record, columns in result:  # type: ignore[attr-defined]
            self._records[record.run_id] = record
            self._columns[record.run_id] = columns
            if not record.status.terminal:
                self._volatile.add(record.run_id)
            if not self._list_has(record.run_id):
                self.run_list.blockSignals(True)
                self._add_item(record)
                self.run_list.blockSignals(False)
        self._sync_baseline_combo()
        self._advance()

    def _list_has(self, run_id: str) -> bool:
        return any(
            self.run_list.item(row).data(Qt.ItemDataRole.UserRole) == run_id
            for row in range(self.run_list.count())
        )

    @Slot(int, object, object)
    def _on_stats_ready(self, generation: int, comparison: object, error: object) -> None:
        self._jobs = {j for j in self._jobs if j.generation > generation}
        if generation != self._generation:
            return  # the selection changed while this was computed
        ids, self._computing = self._computing, None
        if error is not None or not isinstance(comparison, Comparison):
            self._error = f"Could not compare the runs: {error}"
            self._shown = None
            self._show_state()
            return
        self._shown = ids
        self._render(comparison, time.perf_counter() - self._started_at)
        if tuple(self.picked_run_ids()) != ids:
            self._advance()

    # -- showing -------------------------------------------------------------------------------

    def _render(self, comparison: Comparison, seconds: float) -> None:
        self.comparison = comparison
        for chart in self.charts.values():
            chart.set_comparison(comparison)
        self.deltas_model.set_comparison(comparison)
        self._show_sections(self._shown or ())
        self._fit_table_height()
        base = comparison.baseline
        about = ", ".join(
            x for x in (base.model if base.model != base.label else "", base.benchmark) if x
        )
        self.deltas_caption.setText(
            f"<b>Against the baseline, {html.escape(base.label)}</b>"
            + (f" ({html.escape(about)})" if about else "")
            + ": paired on the samples both runs answered. Bold: McNemar p &lt; 0.05."
        )
        if comparison.warnings:
            self.warning_label.setText("\n".join(f"⚠ {w}" for w in comparison.warnings))
        self.warning_label.setVisible(bool(comparison.warnings))
        self._summary = (
            f"{len(comparison.runs)} runs · {comparison.n_boot} bootstrap resamples · "
            f"{seconds:.1f} s"
        )
        self._show_state()

    def _fit_table_height(self) -> None:
        """Tall enough for every row: the page scrolls, the table itself never does."""
        self.deltas_table.resizeColumnsToContents()
        self.deltas_table.resizeRowsToContents()
        self.deltas_table.updateGeometry()

    def _show_state(self) -> None:
        n = len(self._picked)
        ready = self.comparison is not None and self._shown is not None
        if self._error:
            self.status_label.setText(self._error)
        elif self._load_tickets:
            self.status_label.setText("Reading runs…")
        elif self._computing is not None:
            self.status_label.setText("Computing statistics…")
        elif ready and n >= 2:
            self.status_label.setText(self._summary)
        else:
            self.status_label.setText("")
        if n < 2:
            self.comparison = None
            self.empty_label.setText(
                "Pick two or more runs to compare.\n\n"
                "Tick them in the list on the left, or select runs in History and choose "
                "Compare." + ("\n\nOne run is ticked; tick another." if n == 1 else "")
            )
            self.stack.setCurrentIndex(0)
            self.warning_label.hide()
        elif ready:
            self.stack.setCurrentIndex(1)
        elif self._error:
            self.empty_label.setText(self._error)
            self.stack.setCurrentIndex(0)
        elif self.comparison is None:
            self.empty_label.setText("Comparing…")
            self.stack.setCurrentIndex(0)
        self.export_all_button.setEnabled(n >= 2 and self.comparison is not None)
        for card in self.cards.values():
            if card.export_button is not None:
                card.export_button.setEnabled(self.comparison is not None)

    @Slot(str)
    def _on_theme_changed(self, _theme: str) -> None:
        for chart in self.charts.values():
            chart.apply_theme()

    # -- export --------------------------------------------------------------------------------

    def _ask_save_path(self, title: str, suggested: Path) -> tuple[str, str]:
        """The file dialog (tests override this to answer without one)."""
        return QFileDialog.getSaveFileName(self, title, str(suggested), EXPORT_FILTERS)

    def _ask_folder(self) -> str:
        """The folder dialog (tests override this)."""
        return QFileDialog.getExistingDirectory(
            self, "Export all charts to a folder", str(self._export_dir)
        )

    def _show_error(self, title: str, message: str) -> None:
        """A warning box (tests override this)."""
        QMessageBox.warning(self, title, message)

    def _on_export_chart(self, chart: CompareChart) -> None:
        path, chosen = self._ask_save_path(
            f"Export “{chart.title}”", self._export_dir / f"{chart.slug}.png"
        )
        if not path:
            return
        fmt = format_for(path)
        if fmt is None and not Path(path).suffix:  # no suffix: the chosen filter's
            fmt = next((f for f in ("png", "svg", "csv") if f"*.{f}" in chosen), "png")
            path = f"{path}.{fmt}"
        try:
            written = self.export_chart(chart, path, fmt)
        except Exception as exc:
            log.exception("chart export failed")
            self._show_error("Export failed", f"Could not export {Path(path).name}: {exc}")
            return
        self._export_dir = written.parent
        self.status_label.setText(f"Saved {written}")

    def _on_export_all(self) -> None:
        folder = self._ask_folder()
        if not folder:
            return
        try:
            written = self.export_all(folder)
        except Exception as exc:
            log.exception("export all failed")
            self._show_error("Export failed", f"Could not export to {folder}: {exc}")
            return
        self._export_dir = Path(folder)
        self.status_label.setText(f"Saved {len(written)} files to {folder}")


__all__ = ["CompareView"]
