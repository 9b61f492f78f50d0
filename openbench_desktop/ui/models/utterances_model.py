"""A speech run's utterances as a sortable, filterable, paged table model.

Rows are read once on the database thread (:func:`load_utterances`) into compact
:class:`UtteranceRow` objects with the per-utterance details already parsed, so sorting and
filtering work on the whole run (not on the pages loaded so far) and take milliseconds even
for thousands of utterances. What the view lays out is paged the way ``samples_model`` pages
its rows: the first :data:`PAGE_SIZE` rows, then another page each time the view scrolls
to the end (``canFetchMore`` / ``fetchMore``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from openbench_desktop.core.audio.runner import audio_details
from openbench_desktop.core.domain import SampleResult
from openbench_desktop.core.storage import Store
from openbench_desktop.ui.models.samples_model import OUTCOME_COLORS, elide

PAGE_SIZE: Final = 200

ModelIndex = QModelIndex | QPersistentModelIndex


class UtteranceFilter(StrEnum):
    ALL = "all"
    ERRORS = "errors"  # scored with at least one word error
    FAILED = "failed"  # not scored: the clip, the dataset entry or the model failed

    def accepts(self, row: UtteranceRow) -> bool:
        if self is UtteranceFilter.ERRORS:
            return row.ok and (row.errors or 0) > 0
        if self is UtteranceFilter.FAILED:
            return not row.ok
        return True


@dataclass(frozen=True, slots=True)
class UtteranceRow:
    """One utterance (ASR) or text (TTS round trip) as the table and detail pane need it."""

    index: int
    utt_id: str
    ok: bool
    kind: str  # "asr" | "tts"
    reference: str  # as written (TTS: the input text)
    hypothesis: str  # as returned (TTS: what the recogniser heard)
    reference_normalized: str
    hypothesis_normalized: str
    audio_s: float | None
    wer: float | None
    substitutions: int | None
    deletions: int | None
    insertions: int | None
    ref_words: int | None
    processing_s: float | None
    audio_path: str | None
    failure: str | None
    error_message: str | None
    normalizer: str | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int | None:
        if self.substitutions is None or self.deletions is None or self.insertions is None:
            return None
        return self.substitutions + self.deletions + self.insertions

    @property
    def status(self) -> str:
        if not self.ok:
            return "failed"
        if self.wer is None:
            return "unscored"
        return "exact" if self.errors == 0 else "errors"

    @classmethod
    def from_result(cls, r: SampleResult) -> UtteranceRow:
        d = audio_details(r) or {}

        def num(key: str) -> float | None:
            v = d.get(key)
            return float(v) if isinstance(v, int | float) else None

        def count(key: str) -> int | None:
            v = d.get(key)
            return int(v) if isinstance(v, int) else None

        kind = str(d.get("kind") or "asr")
        return cls(
            index=r.index,
            utt_id=r.sample_id or str(r.index),
            ok=r.ok,
            kind=kind,
            reference=r.expected or "",
            hypothesis=r.output or "",
            reference_normalized=str(d.get("reference_normalized") or ""),
            hypothesis_normalized=str(d.get("hypothesis_normalized") or ""),
            audio_s=num("audio_s"),
            wer=num("wer"),
            substitutions=count("substitutions"),
            deletions=count("deletions"),
            insertions=count("insertions"),
            ref_words=count("ref_words"),
            processing_s=num("synthesis_s" if kind == "tts" else "processing_s"),
            audio_path=str(d["audio_path"]) if d.get("audio_path") else None,
            failure=str(d["failure"]) if d.get("failure") else None,
            error_message=r.error_message,
            normalizer=str(d["normalizer"]) if d.get("normalizer") else None,
            details=d,
        )


def load_utterances(store: Store, run_id: str) -> list[UtteranceRow]:
    """On the database thread: every utterance of the run, in index order."""
    return [UtteranceRow.from_result(r) for r in store.iter_results(run_id)]


STATUS_COLORS: Final = {
    "exact": OUTCOME_COLORS["correct"],
    "errors": OUTCOME_COLORS["wrong"],
    "failed": OUTCOME_COLORS["failed"],
}


def _none_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


class UtterancesModel(QAbstractTableModel):
    COL_ID, COL_DURATION, COL_WER, COL_SUB, COL_DEL, COL_INS = range(6)
    COL_REFERENCE, COL_HYPOTHESIS, COL_STATUS = range(6, 9)
    HEADERS: Final = ("ID", "Duration", "WER", "S", "D", "I", "Reference", "Hypothesis", "Status")
    TOOLTIPS: Final = {
        COL_DURATION: "Length of the clip (seconds)",
        COL_WER: "Word error rate of this utterance after normalization: (S + D + I) / N",
        COL_SUB: "Substituted words",
        COL_DEL: "Deleted words (in the reference, missing from the hypothesis)",
        COL_INS: "Inserted words (in the hypothesis, not in the reference)",
        COL_STATUS: "exact: no word error · errors: at least one · failed: not scored",
    }
    ROW_ROLE: Final = Qt.ItemDataRole.UserRole + 1
    _NUMERIC: Final = frozenset({COL_DURATION, COL_WER, COL_SUB, COL_DEL, COL_INS})

    def __init__(self, parent: QObject | None = None, *, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self._page_size = page_size
        self._all: list[UtteranceRow] = []
        self._rows: list[UtteranceRow] = []  # filtered and sorted
        self._shown = 0  # rows exposed to the view so far (paging)
        self._filter = UtteranceFilter.ALL
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self.kind = "asr"

    # --- state ------------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[UtteranceRow]) -> None:
        self.beginResetModel()
        self._all = list(rows)
        self.kind = next((r.kind for r in self._all), "asr")
        self._rebuild()
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    @property
    def utterance_filter(self) -> UtteranceFilter:
        return self._filter

    def set_filter(self, value: UtteranceFilter | str) -> None:
        value = UtteranceFilter(value)
        if value is self._filter:
            return
        self.beginResetModel()
        self._filter = value
        self._rebuild()
        self.endResetModel()

    def total(self) -> int:
        """Rows matching the filter (more than :meth:`rowCount` until all pages are shown)."""
        return len(self._rows)

    def counts(self) -> dict[str, int]:
        return {f.value: sum(1 for r in self._all if f.accepts(r)) for f in UtteranceFilter}

    def row(self, row: int) -> UtteranceRow | None:
        return self._rows[row] if 0 <= row < self._shown else None

    def find(self, utt_id: str) -> int | None:
        """The row of ``utt_id`` among those shown (fetching pages up to it)."""
        for i, r in enumerate(self._rows):
            if r.utt_id == utt_id:
                while self._shown <= i:
                    self.fetchMore()
                return i
        return None

    def _rebuild(self) -> None:
        self._rows = [r for r in self._all if self._filter.accepts(r)]
        if self._sort is not None:
            self._sort_rows(*self._sort)
        self._shown = min(len(self._rows), self._page_size)

    def _sort_key(self, column: int) -> Callable[[UtteranceRow], Any]:
        return {
            self.COL_ID: lambda r: r.index,
            self.COL_DURATION: lambda r: _none_last(r.audio_s),
            self.COL_WER: lambda r: _none_last(r.wer),
            self.COL_SUB: lambda r: _none_last(r.substitutions),
            self.COL_DEL: lambda r: _none_last(r.deletions),
            self.COL_INS: lambda r: _none_last(r.insertions),
            self.COL_REFERENCE: lambda r: r.reference.casefold(),
            self.COL_HYPOTHESIS: lambda r: r.hypothesis.casefold(),
            self.COL_STATUS: lambda r: (r.status, r.index),
        }.get(column, lambda r: r.index)

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        key = self._sort_key(column)
        descending = order == Qt.SortOrder.DescendingOrder
        self._rows.sort(key=key, reverse=descending)
        if descending:
            # Rows without a value (failed ones) stay at the end in both orders: sorting
            # by WER descending shows the worst *scored* utterances first. Stable sort.
            self._rows.sort(key=lambda r: key(r)[0] is True)

    # --- Qt model interface -----------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._rows.sort(key=lambda r: r.index)
        self._sort_rows(column, order)
        self.layoutChanged.emit()

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._shown < len(self._rows)

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        last = min(len(self._rows), self._shown + self._page_size)
        self.beginInsertRows(QModelIndex(), self._shown, last - 1)
        self._shown = last
        self.endInsertRows()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if self.kind == "tts" and section == self.COL_REFERENCE:
                return "Input text"
            if self.kind == "tts" and section == self.COL_HYPOTHESIS:
                return "Heard"
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.TOOLTIPS.get(section)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r = self.row(index.row()) if index.isValid() else None
        if r is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (self.COL_REFERENCE, self.COL_HYPOTHESIS):
                text = r.reference if column == self.COL_REFERENCE else r.hypothesis
                return elide(text, 600) or None
            if column == self.COL_STATUS and not r.ok:
                return elide(r.error_message, 600) or None
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column == self.COL_STATUS:
            color = STATUS_COLORS.get(r.status)
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.ROW_ROLE:
            return r
        return None

    def _display(self, r: UtteranceRow, column: int) -> str:
        if column == self.COL_ID:
            return r.utt_id
        if column == self.COL_DURATION:
            return "" if r.audio_s is None else f"{r.audio_s:.2f} s"
        if column == self.COL_WER:
            return "" if r.wer is None else f"{r.wer:.1%}"
        if column in (self.COL_SUB, self.COL_DEL, self.COL_INS):
            value = {
                self.COL_SUB: r.substitutions,
                self.COL_DEL: r.deletions,
                self.COL_INS: r.insertions,
            }[column]
            return "" if value is None else str(value)
        if column == self.COL_REFERENCE:
            return elide(r.reference, 120)
        if column == self.COL_HYPOTHESIS:
            return elide(r.hypothesis, 120)
        if column == self.COL_STATUS:
            if r.ok:
                return r.status
            return f"failed: {r.failure or 'error'}"
        return ""


__all__ = [
    "PAGE_SIZE",
    "UtteranceFilter",
    "UtteranceRow",
    "UtterancesModel",
    "load_utterances",
]
