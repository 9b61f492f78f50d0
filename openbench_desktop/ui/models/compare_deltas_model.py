"""The Compare view's table: each run against the baseline, one row per run.

Cells show formatted text; ``Qt.UserRole`` holds the raw number (for sorting and tests),
and :meth:`CompareDeltasModel.data_table` gives the unformatted numbers for CSV export.
"""

from __future__ import annotations

from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from openbench_desktop.core.stats import Comparison, Estimate, PairStats, RunStats

RUN: Final = 0
PAIRED: Final = 1
ACCURACY: Final = 2
P_VALUE: Final = 3
WON_LOST: Final = 4
E2E: Final = 5
TTFT: Final = 6
COST: Final = 7

HEADERS: Final = (
    "Run",
    "Paired",
    "Δ accuracy",
    "McNemar p",
    "Won / lost",
    "Δ median E2E",
    "Δ median TTFT",
    "Δ cost",
)
# The 95% interval goes on a second line under the difference: the table stays narrow
# enough for two charts side by side beside the run list.
CI_SEPARATOR: Final = "\n"

HEADER_TIPS: Final = (
    "The run compared with the baseline",
    "Paired samples: those both runs answered (matched by sample index)",
    "This run's accuracy minus the baseline's on the paired samples, in percentage points; "
    "95% paired bootstrap interval",
    "Exact McNemar test on the discordant pairs (two-sided): how surprising the won/lost "
    "split would be if the two runs were equally accurate",
    "Samples this run got right and the baseline wrong / the baseline right and this run wrong",
    "Median end-to-end latency minus the baseline's, on samples both answered, in "
    "milliseconds; 95% paired bootstrap interval",
    "Median time to first token minus the baseline's, in milliseconds; 95% paired bootstrap "
    "interval",
    "Run cost minus the baseline's, when both are known",
)

SIGNIFICANCE: Final = 0.05


def _signed(value: float, digits: int) -> str:
    # U+2212 minus: lines up with "+" in proportional fonts and reads as a number.
    text = f"{value:+.{digits}f}"
    return text.replace("-", "−")


def format_pp(est: Estimate, sep: str = " ") -> str:
    """An accuracy difference (a fraction) as percentage points with its interval."""
    if est.value is None:
        return "—"
    text = f"{_signed(est.value * 100, 1)} pp"
    if est.low is not None and est.high is not None:
        text += f"{sep}[{_signed(est.low * 100, 1)}, {_signed(est.high * 100, 1)}]"
    return text


def format_ms(est: Estimate, sep: str = " ") -> str:
    if est.value is None:
        return "—"
    digits = 1 if abs(est.value) < 100 else 0
    text = f"{_signed(est.value, digits)} ms"
    if est.low is not None and est.high is not None:
        text += f"{sep}[{_signed(est.low, digits)}, {_signed(est.high, digits)}]"
    return text


def format_p(p: float | None) -> str:
    if p is None:
        return "—"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3g}"


def format_usd(value: float | None) -> str:
    if value is None:
        return "—"
    sign = "−" if value < 0 else "+"
    return f"{sign}${abs(value):.4g}"


class CompareDeltasModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._comparison: Comparison | None = None
        self._rows: list[tuple[RunStats, PairStats]] = []

    # -- data in ---------------------------------------------------------------------------

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.beginResetModel()
        self._comparison = comparison
        self._rows = []
        if comparison is not None:
            base = comparison.baseline.run_id
            for run in comparison.runs[1:]:
                pair = comparison.pair(base, run.run_id)
                if pair is not None:
                    self._rows.append((run, pair))
        self.endResetModel()

    def baseline(self) -> RunStats | None:
        return self._comparison.baseline if self._comparison else None

    def run_id(self, row: int) -> str | None:
        return self._rows[row][0].run_id if 0 <= row < len(self._rows) else None

    # -- Qt model ----------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        run, pair = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(run, pair, col)
        if role == Qt.ItemDataRole.UserRole:
            return self._raw(run, pair, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, pair, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col != RUN:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        significant = pair.mcnemar_p is not None and pair.mcnemar_p < SIGNIFICANCE
        if role == Qt.ItemDataRole.FontRole and col in (ACCURACY, P_VALUE) and significant:
            font = QFont()
            font.setBold(True)
            return font
        return None

    @staticmethod
    def _text(run: RunStats, pair: PairStats, col: int) -> str:
        if col == RUN:
            return run.label
        if col == PAIRED:
            return str(pair.n_paired)
        if col == ACCURACY:
            return format_pp(pair.accuracy_diff, CI_SEPARATOR)
        if col == P_VALUE:
            return format_p(pair.mcnemar_p)
        if col == WON_LOST:
            return f"{pair.n_other_only} / {pair.n_baseline_only}"
        if col == E2E:
            return format_ms(pair.e2e_median_diff_ms, CI_SEPARATOR)
        if col == TTFT:
            return format_ms(pair.ttft_median_diff_ms, CI_SEPARATOR)
        if col == COST:
            return format_usd(pair.cost_diff_usd)
        return ""

    @staticmethod
    def _raw(run: RunStats, pair: PairStats, col: int) -> Any:
        return {
            RUN: run.run_id,
            PAIRED: pair.n_paired,
            ACCURACY: pair.accuracy_diff.value,
            P_VALUE: pair.mcnemar_p,
            WON_LOST: pair.n_other_only - pair.n_baseline_only,
            E2E: pair.e2e_median_diff_ms.value,
            TTFT: pair.ttft_median_diff_ms.value,
            COST: pair.cost_diff_usd,
        }.get(col)

    def _tooltip(self, run: RunStats, pair: PairStats, col: int) -> str | None:
        base = self.baseline()
        base_label = base.label if base else "baseline"
        if col == RUN:
            return f"{run.label} ({run.model}, {run.run_id})"
        if col == ACCURACY and pair.baseline_accuracy is not None:
            assert pair.other_accuracy is not None
            return (
                f"{run.label}: {pair.other_accuracy:.1%}, {base_label}: "
                f"{pair.baseline_accuracy:.1%} on {pair.n_paired} paired samples"
            )
        if col == WON_LOST:
            return (
                f"{pair.n_other_only} samples right here and wrong in {base_label}; "
                f"{pair.n_baseline_only} the other way round; {pair.n_both_correct} right in "
                f"both, {pair.n_both_wrong} wrong in both"
            )
        if col in (E2E, TTFT):
            n = pair.n_e2e_paired if col == E2E else pair.n_ttft_paired
            return f"over {n} samples both runs answered with a timing"
        return HEADER_TIPS[col]

    # -- export ------------------------------------------------------------------------------

    def data_table(self) -> tuple[list[str], list[list[object]]]:
        """The numbers behind the table (fractions and milliseconds, unformatted)."""
        header = [
            "baseline_run_id",
            "run_id",
            "label",
            "n_paired",
            "baseline_accuracy",
            "accuracy",
            "accuracy_diff",
            "accuracy_diff_ci_low",
            "accuracy_diff_ci_high",
            "mcnemar_p",
            "n_both_correct",
            "n_won",
            "n_lost",
            "n_both_wrong",
            "median_e2e_diff_ms",
            "median_e2e_diff_ci_low_ms",
            "median_e2e_diff_ci_high_ms",
            "median_ttft_diff_ms",
            "median_ttft_diff_ci_low_ms",
            "median_ttft_diff_ci_high_ms",
            "cost_diff_usd",
            "same_dataset",
        ]
        rows: list[list[object]] = []
        for run, p in self._rows:
            rows.append(
                [
                    p.baseline_id,
                    run.run_id,
                    run.label,
                    p.n_paired,
                    p.baseline_accuracy,
                    p.other_accuracy,
                    p.accuracy_diff.value,
                    p.accuracy_diff.low,
                    p.accuracy_diff.high,
                    p.mcnemar_p,
                    p.n_both_correct,
                    p.n_other_only,
                    p.n_baseline_only,
                    p.n_both_wrong,
                    p.e2e_median_diff_ms.value,
                    p.e2e_median_diff_ms.low,
                    p.e2e_median_diff_ms.high,
                    p.ttft_median_diff_ms.value,
                    p.ttft_median_diff_ms.low,
                    p.ttft_median_diff_ms.high,
                    p.cost_diff_usd,
                    p.same_dataset,
                ]
            )
        return header, rows
