"""The editable pricing table (USD per million tokens) behind Settings.

Thin: it holds rows of plain values and validates edits; the view decides when to save.
A rejected edit leaves the cell unchanged and reports why through :attr:`invalid`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from openbench_desktop.core.config.settings import Price

COL_MODEL = 0
COL_INPUT = 1
COL_OUTPUT = 2
HEADERS = ("Model (or prefix)", "Input $/1M tokens", "Output $/1M tokens")

_Index = QModelIndex | QPersistentModelIndex


@dataclass
class _Row:
    model: str
    input_per_mtok: float
    output_per_mtok: float


def parse_price(value: object) -> float | None:
    """A non-negative finite number from a cell edit ("2.5", "$2.50", 3), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().lstrip("$").replace(",", "").strip()
        try:
            number = float(text)
        except ValueError:
            return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


class PricingModel(QAbstractTableModel):
    invalid = Signal(str)  # why an edit was refused, for the view to show

    def __init__(self, prices: Iterable[Price] = (), parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._rows: list[_Row] = []
        self.set_prices(prices)

    # -- data in and out -------------------------------------------------------------------

    def set_prices(self, prices: Iterable[Price]) -> None:
        self.beginResetModel()
        self._rows = [_Row(p.model, p.input_per_mtok, p.output_per_mtok) for p in prices]
        self.endResetModel()

    def prices(self) -> list[Price]:
        """The table as Price values (rows without a model name are skipped)."""
        return [
            Price(r.model, r.input_per_mtok, r.output_per_mtok)
            for r in self._rows
            if r.model.strip()
        ]

    def add_row(self, model: str | None = None) -> int:
        """Append a row with a unique placeholder name; returns its row number."""
        name = model or self._unique_name("new-model")
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(_Row(name, 0.0, 0.0))
        self.endInsertRows()
        return row

    def remove_rows(self, rows: Iterable[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self._rows):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()

    def _unique_name(self, base: str) -> str:
        names = {r.model for r in self._rows}
        if base not in names:
            return base
        n = 2
        while f"{base}-{n}" in names:
            n += 1
        return f"{base}-{n}"

    # -- Qt model interface ----------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_MODEL:
                return row.model
            value = row.input_per_mtok if col == COL_INPUT else row.output_per_mtok
            return f"{value:g}"
        if role == Qt.ItemDataRole.EditRole:
            if col == COL_MODEL:
                return row.model
            return str(row.input_per_mtok if col == COL_INPUT else row.output_per_mtok)
        if role == Qt.ItemDataRole.TextAlignmentRole and col != COL_MODEL:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_MODEL:
            return "Exact model id, or a prefix: 'gpt-4o' also prices 'gpt-4o-2024-08-06'."
        return None

    def setData(self, index: _Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row = self._rows[index.row()]
        col = index.column()
        if col == COL_MODEL:
            name = str(value).strip()
            if not name:
                self.invalid.emit("A price needs a model name.")
                return False
            if any(r.model == name for i, r in enumerate(self._rows) if i != index.row()):
                self.invalid.emit(f"'{name}' already has a price; edit that row instead.")
                return False
            if name == row.model:
                return False
            row.model = name
        else:
            number = parse_price(value)
            if number is None:
                self.invalid.emit(
                    f"'{value}' is not a price: enter a number of dollars ≥ 0 "
                    "per million tokens, e.g. 2.5."
                )
                return False
            current = row.input_per_mtok if col == COL_INPUT else row.output_per_mtok
            if number == current:
                return False
            if col == COL_INPUT:
                row.input_per_mtok = number
            else:
                row.output_per_mtok = number
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])
        return True
