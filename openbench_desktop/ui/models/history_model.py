"""The run history as a paged table model over ``Store.list_runs``.

Only the pages a person scrolls to are loaded: the model reports ``canFetchMore`` while
the database holds more rows than it has, and the view calls ``fetchMore`` when its last
row comes into sight. Every query (pages, the count, a re-sort, a re-filter) runs on the
:class:`~openbench_desktop.ui.bridge.db_executor.DbExecutor` thread; the answer comes back
on the GUI thread with its ticket, and answers to superseded requests are dropped. Sorting
is the store's ``ORDER BY``: a click on a header re-queries the first page instead of
sorting what happens to be loaded.

The formatting helpers at the bottom are shared with the run detail view so a figure reads
the same in both places.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor

from openbench_desktop.core.config.settings import Settings
from openbench_desktop.core.domain import RunRecord, RunStatus
from openbench_desktop.core.storage import Store
from openbench_desktop.ui.bridge.db_executor import DbExecutor

PAGE_SIZE: Final = 200
# The first query of a sort or filter reads fewer rows: enough to fill a tall window, and
# parsing a run row (its spec, manifest and summary JSON) is most of a page's cost, so the
# first rows show sooner. Scrolling then loads PAGE_SIZE rows at a time.
FIRST_PAGE_SIZE: Final = 60
# A refresh re-reads what was loaded (so the scroll position survives) up to this many rows.
MAX_REFRESH_ROWS: Final = 2000

ModelIndex = QModelIndex | QPersistentModelIndex

# Okabe-Ito colours (see ui/theme.py) for the status column: colour-blind safe.
STATUS_COLORS: Final = {
    RunStatus.COMPLETED: "#009E73",
    RunStatus.RUNNING: "#0072B2",
    RunStatus.PENDING: "#0072B2",
    RunStatus.FAILED: "#D55E00",
    RunStatus.CANCELLED: "#E69F00",
    RunStatus.INTERRUPTED: "#E69F00",
}


_DISPLAY: Final = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP: Final = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND: Final = int(Qt.ItemDataRole.ForegroundRole)
_ALIGNMENT: Final = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT: Final = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ITEM_FLAGS: Final = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_STATUS_QCOLORS: Final = {status: QColor(color) for status, color in STATUS_COLORS.items()}


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What the History view's filter bar asks for (all optional, combined with AND).

    ``since``/``until`` are local calendar days, both inclusive.
    """

    text: str = ""
    benchmark: str | None = None
    model: str | None = None
    status: RunStatus | None = None
    tag: str | None = None
    since: date | None = None
    until: date | None = None

    @property
    def active(self) -> bool:
        return self != RunFilter()

    def store_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Store.list_runs`` / ``count_runs``."""
        kwargs: dict[str, Any] = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        kwargs.pop("since", None)
        kwargs.pop("until", None)
        # Naive datetimes are local time to the store, which is what a person picked.
        if self.since is not None:
            kwargs["since"] = datetime.combine(self.since, time.min)
        if self.until is not None:
            kwargs["until"] = datetime.combine(self.until + timedelta(days=1), time.min)
        return kwargs


@dataclass(frozen=True, slots=True)
class _Page:
    records: list[RunRecord]
    total: int | None  # counted with the first page of a query only


@dataclass(frozen=True, slots=True)
class _Request:
    generation: int
    offset: int
    replace: bool  # the answer replaces the rows (a new query) or appends a page


class HistoryModel(QAbstractTableModel):
    """Runs, newest first by default; sortable and filterable in the database."""

    COL_CREATED, COL_NAME, COL_BENCHMARK, COL_MODEL, COL_STATUS = range(5)
    COL_SAMPLES, COL_ACCURACY, COL_DURATION, COL_COST, COL_TAGS = range(5, 10)
    HEADERS: Final = (
        "Created",
        "Run",
        "Benchmark",
        "Model",
        "Status",
        "Samples",
        "Accuracy (95% CI)",
        "Duration",
        "Cost",
        "Tags",
    )
    # The store column each header sorts by (tags cannot be sorted).
    SORT_KEYS: Final = {
        COL_CREATED: "created_at",
        COL_NAME: "name",
        COL_BENCHMARK: "benchmark",
        COL_MODEL: "model",
        COL_STATUS: "status",
        COL_SAMPLES: "n_total",
        COL_ACCURACY: "accuracy",
        COL_DURATION: "duration_s",
        COL_COST: "cost_usd",
    }
    NUMERIC_COLUMNS: Final = frozenset({COL_SAMPLES, COL_ACCURACY, COL_DURATION, COL_COST})
    RUN_ID_ROLE: Final = Qt.ItemDataRole.UserRole + 1
    RECORD_ROLE: Final = Qt.ItemDataRole.UserRole + 2

    page_loaded = Signal()  # rows arrived (a new query's first page, or one more page)
    load_failed = Signal(str)
    loading_changed = Signal(bool)

    def __init__(
        self,
        store: Store,
        db: DbExecutor,
        settings: Settings | None = None,
        *,
        page_size: int = PAGE_SIZE,
        first_page_size: int = FIRST_PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._db = db
        self._settings = settings
        self._page_size = page_size
        self._first_page_size = min(first_page_size, page_size)
        self._rows: list[RunRecord] = []
        self._cell_cache: dict[int, tuple[str, ...]] = {}  # row -> display strings
        self._total = 0
        self._filter = RunFilter()
        self._sort_column = self.COL_CREATED
        self._descending = True
        self._generation = 0
        self._pending: dict[int, _Request] = {}
        self._loaded_once = False
        db.answered.connect(self._on_answered)

    # --- state ----------------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Rows matching the current filter in the database (not only the loaded ones)."""
        return self._total

    @property
    def loaded_once(self) -> bool:
        return self._loaded_once

    @property
    def is_loading(self) -> bool:
        return bool(self._pending)

    @property
    def run_filter(self) -> RunFilter:
        return self._filter

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder

    def record(self, row: int) -> RunRecord | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, run_id: str) -> int:
        """The row holding ``run_id`` among the loaded rows, or -1."""
        return next((i for i, r in enumerate(self._rows) if r.run_id == run_id), -1)

    def is_sortable(self, column: int) -> bool:
        return column in self.SORT_KEYS

    # --- queries --------------------------------------------------------------------------

    def set_filter(self, run_filter: RunFilter) -> None:
        if run_filter != self._filter:
            self._filter = run_filter
            self.reload()

    def reload(self, *, keep_loaded: bool = False) -> None:
        """Query again from the first row; the current rows stay until the answer arrives.

        ``keep_loaded``: re-read as many rows as are loaded now (a refresh after a change,
        so the list does not jump back to one page under the user's scroll position).
        """
        self._generation += 1
        limit = self._first_page_size
        if keep_loaded:
            limit = min(max(limit, len(self._rows)), MAX_REFRESH_ROWS)
        self._submit(_Request(self._generation, 0, True), limit)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column not in self.SORT_KEYS:
            return  # the view puts the indicator back on the current sort column
        descending = order == Qt.SortOrder.DescendingOrder
        if (column, descending) == (self._sort_column, self._descending) and (
            self._loaded_once or self._pending
        ):
            return  # e.g. the view re-applying the current sort when sorting is enabled
        self._sort_column, self._descending = column, descending
        self.reload()

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or not self._loaded_once:
            return False
        return len(self._rows) < self._total

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or not self.canFetchMore(parent):
            return
        offset = len(self._rows)
        if any(
            r.generation == self._generation and (r.replace or r.offset == offset)
            for r in self._pending.values()
        ):
            return  # this page, or a new first page, is already on its way
        self._submit(_Request(self._generation, offset, False), self._page_size)

    def _submit(self, request: _Request, limit: int) -> None:
        store = self._store
        kwargs = self._filter.store_kwargs()
        order_by = self.SORT_KEYS[self._sort_column]
        descending = self._descending
        count = request.replace

        # Runs on the database thread: touch nothing but the store and these values.
        def query() -> _Page:
            records = store.list_runs(
                limit=limit,
                offset=request.offset,
                order_by=order_by,
                descending=descending,
                **kwargs,
            )
            total = store.count_runs(**kwargs) if count else None
            return _Page(records, total)

        was_loading = self.is_loading
        self._pending[self._db.submit(query)] = request
        if not was_loading:
            self.loading_changed.emit(True)

    @Slot(int, object, object)
    def _on_answered(self, ticket: int, result: object, error: object) -> None:
        request = self._pending.pop(ticket, None)
        if request is None:
            return  # someone else's query
        if not self._pending:
            self.loading_changed.emit(False)
        if request.generation != self._generation:
            return  # superseded by a newer sort, filter or refresh
        if error is not None:
            self.load_failed.emit(str(error))
            return
        assert isinstance(result, _Page)
        if request.replace:
            self.beginResetModel()
            self._cell_cache.clear()
            self._rows = list(result.records)
            self._total = result.total if result.total is not None else len(self._rows)
            self._loaded_once = True
            self.endResetModel()
        elif request.offset != len(self._rows):
            return  # a page for rows this model no longer has
        elif result.records:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(result.records) - 1)
            self._rows.extend(result.records)
            self.endInsertRows()
            # Someone added runs meanwhile: the count grows with what was actually read.
            self._total = max(self._total, len(self._rows))
        else:
            self._total = len(self._rows)  # runs were deleted since the count: no more rows
        self.page_loaded.emit()

    def update_record(self, record: RunRecord) -> None:
        """Replace one loaded run's row (e.g. its tags changed) without a re-query."""
        row = self.row_of(record.run_id)
        if row >= 0:
            self._rows[row] = record
            self._cell_cache.pop(row, None)
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))

    def set_tags_locally(self, run_id: str, tags: tuple[str, ...]) -> None:
        row = self.row_of(run_id)
        if row >= 0:
            self.update_record(replace(self._rows[row], tags=tags))

    # --- Qt model interface ---------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Click to sort" if section in self.SORT_KEYS else "Tags cannot be sorted"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _ITEM_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    # data() runs for every visible cell and role on each paint: it answers from a
    # per-row tuple of strings built once, and compares roles with precomputed values.
    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not 0 <= row < len(self._rows):
            return None
        column = index.column()
        if role == _DISPLAY:
            return self._cells(row)[column]
        if role == _ALIGNMENT:
            return _RIGHT if column in self.NUMERIC_COLUMNS else None
        if role == _FOREGROUND:
            if column == self.COL_STATUS:
                return _STATUS_QCOLORS.get(self._rows[row].status)
            return None
        if role == _TOOLTIP:
            return self._tooltip(self._rows[row], column)
        if role == self.RUN_ID_ROLE:
            return self._rows[row].run_id
        if role == self.RECORD_ROLE:
            return self._rows[row]
        return None

    def _cells(self, row: int) -> tuple[str, ...]:
        cells = self._cell_cache.get(row)
        if cells is None:
            cells = self._cell_cache[row] = self._display_row(self._rows[row])
        return cells

    def _display_row(self, r: RunRecord) -> tuple[str, ...]:
        return (
            format_created(r.created_at),
            run_label(r),
            r.benchmark,
            r.model,
            r.status.value,
            f"{r.n_ok + r.n_failed:,}/{r.n_total:,}",
            format_accuracy(r.accuracy, r.summary.accuracy_ci if r.summary else None),
            format_duration(r.duration_s),
            format_cost(*run_cost(r, self._settings)),
            ", ".join(r.tags),
        )

    def _tooltip(self, r: RunRecord, column: int) -> str | None:
        if column == self.COL_CREATED:
            return f"{r.created_at} (UTC)"
        if column == self.COL_NAME:
            return f"{r.name or '(no name)'}\nrun id {r.run_id}"
        if column == self.COL_STATUS:
            return r.message or r.status.value
        if column == self.COL_SAMPLES:
            return (
                f"{r.n_ok:,} answered, {r.n_failed:,} failed, "
                f"{max(r.n_total - r.n_ok - r.n_failed, 0):,} not done, of {r.n_total:,}"
            )
        if column == self.COL_ACCURACY and r.summary is not None:
            return (
                "Share of answered samples scored correct; 95% "
                f"{r.summary.accuracy_ci_method} interval. "
                f"{r.summary.n_correct:,} correct of {r.summary.n_ok:,} answered."
            )
        if column == self.COL_COST:
            value, estimated = run_cost(r, self._settings)
            if value is not None and estimated:
                return "Estimated from the token counts and the price table in Settings"
        return None


# --- formatting (shared with the run detail view) -----------------------------------------


def short_id(run_id: str) -> str:
    return run_id[:8]


def run_label(record: RunRecord) -> str:
    """The name a person gave the run with its short id, or the short id alone."""
    if record.name:
        return f"{record.name} · {short_id(record.run_id)}"
    return short_id(record.run_id)


def format_created(iso_utc: str) -> str:
    """A stored UTC timestamp as local time to the minute."""
    try:
        moment = datetime.fromisoformat(iso_utc)
    except ValueError:
        return iso_utc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def format_percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def format_accuracy(accuracy: float | None, ci: tuple[float, float] | None) -> str:
    """``72.0% (62.1–80.3)``: the interval in percent, without repeating the sign."""
    if accuracy is None:
        return "—"
    text = format_percent(accuracy)
    if ci is not None:
        text += f" ({ci[0] * 100:.1f}–{ci[1] * 100:.1f})"
    return text


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_cost(usd: float | None, estimated: bool = False) -> str:
    if usd is None:
        return "—"
    text = f"${usd:,.4f}" if usd < 1 else f"${usd:,.2f}"
    return f"≈{text}" if estimated else text


def format_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def run_cost(record: RunRecord, settings: Settings | None) -> tuple[float | None, bool]:
    """The run's cost in USD and whether it is an estimate.

    A stored cost wins. Otherwise, when the summary has complete token counts and
    Settings has a price for the model, the cost is estimated from them.
    """
    if record.cost_usd is not None:
        return record.cost_usd, False
    summary = record.summary
    if settings is None or summary is None or not summary.usage_complete:
        return None, False
    if summary.input_tokens is None or summary.output_tokens is None:
        return None, False
    price = settings.price_for(record.model)
    if price is None:
        return None, False
    usd = (
        summary.input_tokens * price.input_per_mtok + summary.output_tokens * price.output_per_mtok
    ) / 1e6
    return usd, True
