"""One run's per-sample results as a paged table model over ``Store.get_results``.

Paged like :mod:`~openbench_desktop.ui.models.history_model`: pages of a few hundred rows
are read on the database thread as the view scrolls. The "wrong only" and "failed only"
filters are applied on that thread too: a request keeps reading pages of the run until it
has a page of matching rows or reaches the end, so a run with a handful of failures among
thousands of samples still shows them without the view having to scroll through blanks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
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

from openbench_desktop.core.domain import SampleResult
from openbench_desktop.core.storage import Store
from openbench_desktop.ui.bridge.db_executor import DbExecutor
from openbench_desktop.ui.models.history_model import format_ms

PAGE_SIZE: Final = 200
ELIDE_CHARS: Final = 160  # table cells show one line; the detail pane shows everything

ModelIndex = QModelIndex | QPersistentModelIndex


class SampleFilter(StrEnum):
    ALL = "all"
    WRONG = "wrong"  # answered, scored incorrect
    FAILED = "failed"  # no usable answer (error)
    NOT_CORRECT = "not_correct"  # wrong or failed

    def accepts(self, r: SampleResult) -> bool:
        if self is SampleFilter.WRONG:
            return r.ok and not r.correct
        if self is SampleFilter.FAILED:
            return not r.ok
        if self is SampleFilter.NOT_CORRECT:
            return not r.correct
        return True


def outcome(r: SampleResult) -> str:
    """What a person wants to know first about a sample."""
    if not r.ok:
        return "failed"
    if r.score is None:
        return "unscored"
    return "correct" if r.correct else "wrong"


OUTCOME_COLORS: Final = {"correct": "#009E73", "wrong": "#D55E00", "failed": "#CC79A7"}


def elide(text: str | None, limit: int = ELIDE_CHARS) -> str:
    """One line of at most ``limit`` characters (newlines shown as ⏎)."""
    if not text:
        return ""
    flat = " ⏎ ".join(part.strip() for part in text.strip().splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class _Chunk:
    results: list[SampleResult]
    next_offset: int  # where the next scan starts in the run's unfiltered rows
    exhausted: bool


@dataclass(frozen=True, slots=True)
class _Request:
    generation: int
    start: int  # scan start (unfiltered offset)
    replace: bool


class SamplesModel(QAbstractTableModel):
    COL_INDEX, COL_STATUS, COL_PROMPT, COL_RESPONSE, COL_EXPECTED = range(5)
    COL_EXTRACTED, COL_SCORE, COL_TTFT, COL_TOKENS, COL_ERROR = range(5, 10)
    HEADERS: Final = (
        "#",
        "Status",
        "Prompt",
        "Response",
        "Expected",
        "Extracted",
        "Score",
        "TTFT",
        "Tokens",
        "Error",
    )
    RESULT_ROLE: Final = Qt.ItemDataRole.UserRole + 1

    page_loaded = Signal()
    load_failed = Signal(str)

    def __init__(
        self,
        store: Store,
        db: DbExecutor,
        *,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._db = db
        self._page_size = page_size
        self._run_id: str | None = None
        self._filter = SampleFilter.ALL
        self._rows: list[SampleResult] = []
        self._next_offset = 0
        self._exhausted = True
        self._loaded_once = False
        self._generation = 0
        self._pending: dict[int, _Request] = {}
        db.answered.connect(self._on_answered)

    # --- state and queries ----------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def sample_filter(self) -> SampleFilter:
        return self._filter

    @property
    def loaded_once(self) -> bool:
        return self._loaded_once

    @property
    def is_loading(self) -> bool:
        return any(r.generation == self._generation for r in self._pending.values())

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def result(self, row: int) -> SampleResult | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def set_run(self, run_id: str | None, sample_filter: SampleFilter | None = None) -> None:
        """Show ``run_id``'s samples (None: none) from the first row."""
        self._run_id = run_id
        if sample_filter is not None:
            self._filter = SampleFilter(sample_filter)  # a combo may hand back a plain str
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._next_offset = 0
        self._exhausted = run_id is None
        self._loaded_once = run_id is None
        self.endResetModel()
        if run_id is not None:
            self._submit(_Request(self._generation, 0, True))

    def set_filter(self, sample_filter: SampleFilter) -> None:
        if SampleFilter(sample_filter) is not self._filter:
            self.set_run(self._run_id, SampleFilter(sample_filter))

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._loaded_once and not self._exhausted

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent) or self.is_loading:
            return  # one page at a time: the next one starts where this one's scan ended
        self._submit(_Request(self._generation, self._next_offset, False))

    def _submit(self, request: _Request) -> None:
        store, run_id = self._store, self._run_id
        assert run_id is not None
        page, wanted = self._page_size, self._filter

        # Runs on the database thread.
        def query() -> _Chunk:
            found: list[SampleResult] = []
            offset = request.start
            while True:
                rows = store.get_results(run_id, offset=offset, limit=page)
                offset += len(rows)
                found.extend(r for r in rows if wanted.accepts(r))
                if len(rows) < page:
                    return _Chunk(found, offset, True)
                if len(found) >= page:
                    return _Chunk(found, offset, False)

        self._pending[self._db.submit(query)] = request

    @Slot(int, object, object)
    def _on_answered(self, ticket: int, result: object, error: object) -> None:
        request = self._pending.pop(ticket, None)
        if request is None or request.generation != self._generation:
            return
        if error is not None:
            self._exhausted = True
            self._loaded_once = True
            self.load_failed.emit(str(error))
            return
        assert isinstance(result, _Chunk)
        if result.results:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(result.results) - 1)
            self._rows.extend(result.results)
            self.endInsertRows()
        self._next_offset = result.next_offset
        self._exhausted = result.exhausted
        self._loaded_once = True
        self.page_loaded.emit()

    # --- Qt model interface ---------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return {
                self.COL_TTFT: "Time to first token (streamed replies)",
                self.COL_TOKENS: "Output tokens reported by the server",
                self.COL_EXTRACTED: "The answer the scorer extracted from the response",
            }.get(section)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (
            self.COL_PROMPT,
            self.COL_RESPONSE,
            self.COL_ERROR,
        ):
            text = {self.COL_PROMPT: r.prompt, self.COL_RESPONSE: r.output}.get(
                column, r.error_message
            )
            # Bounded: a tooltip with a 20 kB prompt would cover the screen.
            return elide(text, 600) or None
        if role == Qt.ItemDataRole.ForegroundRole and column == self.COL_STATUS:
            color = OUTCOME_COLORS.get(outcome(r))
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            self.COL_INDEX,
            self.COL_SCORE,
            self.COL_TTFT,
            self.COL_TOKENS,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.RESULT_ROLE:
            return r
        return None

    def _display(self, r: SampleResult, column: int) -> str:
        if column == self.COL_INDEX:
            return str(r.index)
        if column == self.COL_STATUS:
            return outcome(r)
        if column == self.COL_PROMPT:
            return elide(r.prompt)
        if column == self.COL_RESPONSE:
            return elide(r.output or r.reasoning)
        if column == self.COL_EXPECTED:
            return elide(r.expected, 60)
        if column == self.COL_EXTRACTED:
            return elide(r.extracted, 60)
        if column == self.COL_SCORE:
            return "" if r.score is None else f"{r.score:g}"
        if column == self.COL_TTFT:
            return "" if r.ttft_ms is None else format_ms(r.ttft_ms)
        if column == self.COL_TOKENS:
            return "" if r.output_tokens is None else f"{r.output_tokens:,}"
        if column == self.COL_ERROR:
            if r.error_category is None and not r.error_message:
                return ""
            category = r.error_category.value if r.error_category else "error"
            return elide(f"{category}: {r.error_message or ''}".rstrip(": "), 80)
        return ""
