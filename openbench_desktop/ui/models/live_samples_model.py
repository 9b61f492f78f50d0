"""The latest samples of a run in progress, newest first, capped to a few hundred rows.

Samples arrive in batches (a few per second, up to thousands of samples each). A batch is
one ``beginInsertRows`` at the top plus, when the cap is exceeded, one ``beginRemoveRows``
at the bottom: the view relayouts twice per batch, never once per sample. A row's cells
are formatted once, the first time the view asks for it (``data()`` runs on every
repaint; most rows of a fast run scroll out unseen, so they are never formatted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from openbench_desktop.core.domain import SampleResult

MAX_ROWS: Final = 500
ELIDE_CHARS: Final = 120

# Okabe-Ito, as elsewhere in the app: readable by colour-blind users, on light and dark.
OUTCOME_COLORS: Final = {"correct": "#009E73", "wrong": "#D55E00", "failed": "#CC79A7"}

ModelIndex = QModelIndex | QPersistentModelIndex

_DISPLAY: Final = Qt.ItemDataRole.DisplayRole
_FOREGROUND: Final = Qt.ItemDataRole.ForegroundRole
_ALIGNMENT: Final = Qt.ItemDataRole.TextAlignmentRole
_TOOLTIP: Final = Qt.ItemDataRole.ToolTipRole
_RESULT: Final = Qt.ItemDataRole.UserRole + 1
_ROLES: Final = frozenset({_DISPLAY, _FOREGROUND, _ALIGNMENT, _TOOLTIP, _RESULT})
_RIGHT: Final = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def outcome(r: SampleResult) -> str:
    if not r.ok:
        return "failed"
    if r.score is None:
        return "unscored"
    return "correct" if r.correct else "wrong"


def _elide(text: str | None, limit: int = ELIDE_CHARS) -> str:
    if not text:
        return ""
    if len(text) <= limit and "\n" not in text:
        return text  # the common case, and this runs for every row that arrives
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


_COLORS: Final = {kind: QColor(color) for kind, color in OUTCOME_COLORS.items()}


class _Row:
    """One sample as the table shows it: display strings plus what tooltips need."""

    __slots__ = ("color", "result", "texts", "tooltip")

    def __init__(self, r: SampleResult) -> None:
        kind = outcome(r)
        self.result = r
        self.color: QColor | None = _COLORS.get(kind)
        error = ""
        if not r.ok:
            category = r.error_category.value if r.error_category else "error"
            error = f"{category}: {r.error_message or ''}".rstrip(": ")
        self.texts: tuple[str, ...] = (
            str(r.index),
            kind,
            _elide(r.expected, 40),
            _elide(r.extracted if r.extracted is not None else r.output),
            "" if r.score is None else f"{r.score:g}",
            _ms(r.ttft_ms),
            _ms(r.e2e_ms),
            "" if r.output_tokens is None else str(r.output_tokens),
            _elide(error),
        )
        # The full answer is only formatted on hover; keep the tail, where the answer is.
        self.tooltip = error or (r.output[-600:] if r.output else "")


class LiveSamplesModel(QAbstractTableModel):
    COL_INDEX, COL_STATUS, COL_EXPECTED, COL_ANSWER, COL_SCORE = range(5)
    COL_TTFT, COL_E2E, COL_TOKENS, COL_ERROR = range(5, 9)
    HEADERS: Final = (
        "#",
        "Status",
        "Expected",
        "Answer",
        "Score",
        "TTFT ms",
        "E2E ms",
        "Out tokens",
        "Error",
    )
    HEADER_TIPS: Final = (
        "Position of the sample in the dataset",
        "correct / wrong / failed (no usable answer)",
        "The reference answer",
        "The answer extracted from the model's reply (the raw reply if none was extracted)",
        "The scorer's score (1 = correct)",
        "Time to first token, milliseconds",
        "End-to-end latency of the request, milliseconds",
        "Output tokens reported by the server",
        "Why the request failed",
    )
    _NUMERIC: Final = frozenset({COL_INDEX, COL_SCORE, COL_TTFT, COL_E2E, COL_TOKENS})
    RESULT_ROLE: Final = _RESULT

    def __init__(self, max_rows: int = MAX_ROWS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._max_rows = max_rows
        self._results: list[SampleResult] = []  # newest first
        self._rows: list[_Row | None] = []  # formatted on first display
        self._total = 0

    @property
    def max_rows(self) -> int:
        return self._max_rows

    @property
    def total_seen(self) -> int:
        """Samples appended since the start, including those that scrolled out."""
        return self._total

    def result(self, row: int) -> SampleResult | None:
        return self._results[row] if 0 <= row < len(self._results) else None

    def append_batch(self, results: Sequence[SampleResult]) -> None:
        """Add a batch at the top (the last result of the batch becomes row 0)."""
        if not results:
            return
        self._total += len(results)
        fresh = list(reversed(results[-self._max_rows :]))
        overflow = len(self._results) + len(fresh) - self._max_rows
        if overflow > 0:
            # Remove the oldest rows first so the model never holds more than the cap.
            first = len(self._results) - overflow
            self.beginRemoveRows(QModelIndex(), first, len(self._results) - 1)
            del self._results[first:]
            del self._rows[first:]
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
        self._results[:0] = fresh
        self._rows[:0] = [None] * len(fresh)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._results = []
        self._rows = []
        self._total = 0
        self.endResetModel()

    def _row(self, i: int) -> _Row:
        row = self._rows[i]
        if row is None:
            row = self._rows[i] = _Row(self._results[i])
        return row

    # --- QAbstractTableModel ----------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._results)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # The hottest Python function of a live run: the view asks for every visible cell
        # and ~8 roles on each repaint. Unhandled roles return before any other work.
        if role not in _ROLES or not index.isValid():
            return None
        row = self._row(index.row())
        col = index.column()
        if role == _DISPLAY:
            return row.texts[col]
        if role == _FOREGROUND:
            return row.color if col == self.COL_STATUS else None
        if role == _ALIGNMENT:
            return _RIGHT if col in self._NUMERIC else None
        if role == _TOOLTIP:
            return (row.tooltip or None) if col in (self.COL_ANSWER, self.COL_ERROR) else None
        return row.result  # RESULT_ROLE

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.HEADER_TIPS[section]
        return None
