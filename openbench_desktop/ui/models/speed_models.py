"""Table models of a speed run: its steps, and one step under every definition set.

Both are thin adapters over plain data: :class:`SpeedStepsModel` over the steps of the run
summary's ``speed`` mapping (figures exactly as stored, with their bootstrap intervals),
:class:`DefinitionsModel` over a :class:`~openbench_desktop.core.speed.views.DefinitionsTable`
recomputed from the stored timestamps. ``RAW_ROLE`` gives the unformatted number of a cell
(tests, copy) and :meth:`data_table` the rows a CSV export would hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.views import DEFINITION_ROWS, LATENCY_METRICS, DefinitionsTable

ModelIndex = QModelIndex | QPersistentModelIndex
Cell = str | int | float | None

RAW_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
CI_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2

_DISPLAY: Final = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP: Final = int(Qt.ItemDataRole.ToolTipRole)
_ALIGN: Final = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND: Final = int(Qt.ItemDataRole.ForegroundRole)
_FONT: Final = int(Qt.ItemDataRole.FontRole)
_RIGHT: Final = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_FLAGS: Final = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
# Okabe-Ito vermillion: the colour of warnings everywhere in the app.
WARN_COLOR: Final = QColor("#D55E00")

#: Percentiles the steps table offers (p95 is in the summary too; three keep it readable).
STEP_PERCENTILES: Final = ("p50", "p90", "p99")


def format_number(value: float | None, digits: int | None = None) -> str:
    """A figure with sensible precision: 1234, 52.1, 3.42, 0.087."""
    if value is None:
        return "—"
    if digits is not None:
        return f"{value:,.{digits}f}"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_ci(value: float | None, ci: Sequence[float] | None) -> str:
    """``52.1 (50.3–54.0)``: the value and its 95% interval in the same unit."""
    text = format_number(value)
    if value is not None and ci:
        text += f" ({format_number(ci[0])}–{format_number(ci[1])})"
    return text


class SpeedStepsModel(QAbstractTableModel):
    """One row per step, in order of offered load, as the run summary stored it."""

    COL_STEP, COL_OFFERED, COL_RPS, COL_TOKS = range(4)
    # Latency columns: metric-major, then percentile (TTFT p50, TTFT p90, TTFT p99, ITL…).
    LATENCY_COLUMNS: Final = tuple(
        (metric, pct) for metric in LATENCY_METRICS for pct in STEP_PERCENTILES
    )
    COL_FIRST_LATENCY: Final = 4
    COL_GOODPUT: Final = COL_FIRST_LATENCY + len(LATENCY_COLUMNS)
    COL_FAILED: Final = COL_GOODPUT + 1
    COL_QUEUE: Final = COL_GOODPUT + 2
    COL_CLIENT: Final = COL_GOODPUT + 3
    HEADERS: Final = (
        "Step",
        "Offered load",
        "Achieved req/s",
        "Output tok/s",
        *(f"{LATENCY_METRICS[m]} {p} (ms)" for m, p in LATENCY_COLUMNS),
        "Goodput req/s",
        "Failed",
        "Client queue p95 (ms)",
        "Client",
    )

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._steps: list[Mapping[str, Any]] = []

    def set_steps(self, steps: Sequence[Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self._steps = list(steps)
        self.endResetModel()

    def step(self, row: int) -> Mapping[str, Any] | None:
        return self._steps[row] if 0 <= row < len(self._steps) else None

    @classmethod
    def latency_column(cls, metric: str, pct: str) -> int:
        return cls.COL_FIRST_LATENCY + cls.LATENCY_COLUMNS.index((metric, pct))

    # -- Qt model API ------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._steps)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY:
            return self.HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == _TOOLTIP:
            if self.COL_FIRST_LATENCY <= section < self.COL_GOODPUT:
                return "Under the run's chosen definitions; in brackets the 95% bootstrap CI"
            if section == self.COL_QUEUE:
                return "How long requests waited inside this app before being sent"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _FLAGS

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        step = self._steps[index.row()]
        col = index.column()
        if role == RAW_ROLE:
            return self._raw(step, col)
        if role == CI_ROLE:
            if self.COL_FIRST_LATENCY <= col < self.COL_GOODPUT:
                metric, pct = self.LATENCY_COLUMNS[col - self.COL_FIRST_LATENCY]
                return _ci(step, metric, pct)
            return None
        if role == _DISPLAY:
            return self._text(step, col)
        if role == _TOOLTIP:
            return self._tooltip(step, col)
        if role == _ALIGN and col != self.COL_STEP and col != self.COL_CLIENT:
            return _RIGHT
        if role == _FOREGROUND:
            if col == self.COL_CLIENT and step.get("client_limited"):
                return WARN_COLOR
            if col == self.COL_FAILED and step.get("n_failed"):
                return WARN_COLOR
            if col == self.COL_STEP and step.get("stopped"):
                return WARN_COLOR
        return None

    # -- cells -------------------------------------------------------------------------

    def _raw(self, step: Mapping[str, Any], col: int) -> Cell:
        if col == self.COL_STEP:
            return str(step.get("label"))
        if col == self.COL_OFFERED:
            return step.get("offered_rate")
        if col == self.COL_RPS:
            return step.get("requests_per_s")
        if col == self.COL_TOKS:
            return step.get("output_tokens_per_s")
        if self.COL_FIRST_LATENCY <= col < self.COL_GOODPUT:
            metric, pct = self.LATENCY_COLUMNS[col - self.COL_FIRST_LATENCY]
            return _dist(step, metric).get(pct)
        if col == self.COL_GOODPUT:
            return step.get("goodput_requests_per_s")
        if col == self.COL_FAILED:
            return int(step.get("n_failed") or 0)
        if col == self.COL_QUEUE:
            return (step.get("queue_ms") or {}).get("p95")
        if col == self.COL_CLIENT:
            return "limited" if step.get("client_limited") else "ok"
        return None

    def _text(self, step: Mapping[str, Any], col: int) -> str:
        raw = self._raw(step, col)
        if col == self.COL_STEP:
            label = str(raw)
            if step.get("kind") in ("rate", "poisson") and step.get("target_rate"):
                # The stored label prints the rate in full (rate 29.5183/s).
                label = f"{step['kind']} {format_number(step['target_rate'])}/s"
            return f"{label} ⚠" if step.get("stopped") else label
        if col == self.COL_OFFERED:
            if step.get("kind") in ("rate", "poisson"):
                return f"{format_number(step.get('target_rate'))} req/s"
            return f"{step.get('concurrency')} in flight"
        if self.COL_FIRST_LATENCY <= col < self.COL_GOODPUT:
            metric, pct = self.LATENCY_COLUMNS[col - self.COL_FIRST_LATENCY]
            return format_ci(raw, _ci(step, metric, pct))  # type: ignore[arg-type]
        if col == self.COL_GOODPUT:
            if "goodput_requests_per_s" not in step:
                return "no SLO"
            attainment = step.get("slo_attainment")
            share = "" if attainment is None else f" ({attainment:.0%} good)"
            return format_number(raw) + share  # type: ignore[arg-type]
        if col == self.COL_FAILED:
            return f"{raw} of {step.get('n_requests', 0)}"
        if col == self.COL_CLIENT:
            return "⚠ limited" if step.get("client_limited") else "ok"
        return format_number(raw)  # type: ignore[arg-type]

    def _tooltip(self, step: Mapping[str, Any], col: int) -> str | None:
        if col == self.COL_STEP and step.get("stopped"):
            return f"Stopped: {step['stopped']}"
        if col == self.COL_OFFERED and step.get("kind") not in ("rate", "poisson"):
            return (
                f"Closed loop: {step.get('concurrency')} worker(s), each sending when its "
                "previous request ended"
            )
        if col == self.COL_FAILED:
            counts = step.get("error_counts") or {}
            if counts:
                return "\n".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        if col == self.COL_CLIENT:
            reasons = step.get("client_limited_reasons") or []
            client = step.get("client") or {}
            lines = [f"• {r}" for r in reasons] or ["The client kept up with this step."]
            if client:
                lines.append(
                    f"Event loop busy {client.get('loop_cpu_share', 0):.0%}, process CPU "
                    f"{client.get('process_cpu_share', 0):.0%} of {client.get('cores')} core(s)"
                )
            return "\n".join(lines)
        if self.COL_FIRST_LATENCY <= col < self.COL_GOODPUT:
            metric, _pct = self.LATENCY_COLUMNS[col - self.COL_FIRST_LATENCY]
            n = _dist(step, metric).get("n")
            return f"{n} value(s); 95% bootstrap interval over requests"
        return None

    def data_table(self) -> tuple[list[str], list[list[Cell]]]:
        header = ["step", *self.HEADERS]
        rows: list[list[Cell]] = [
            [s.get("step"), *(self._raw(s, c) for c in range(len(self.HEADERS)))]
            for s in self._steps
        ]
        return header, rows


def _dist(step: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    return (step.get("metrics") or {}).get(metric) or {}


def _ci(step: Mapping[str, Any], metric: str, pct: str) -> list[float] | None:
    ci = (_dist(step, metric).get("ci") or {}).get(pct)
    return list(ci) if ci else None


class DefinitionsModel(QAbstractTableModel):
    """One row per figure, one column per definition set (openbench, vllm, …).

    A cell that differs from the openbench figure by more than 1% is bold, so where the
    definitions disagree on this run is visible at a glance.
    """

    DIFF_TOLERANCE: Final = 0.01

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.table: DefinitionsTable | None = None
        self.chosen = "openbench"
        self._rows: list[tuple[str, str, str]] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def set_table(self, table: DefinitionsTable | None, chosen: str = "openbench") -> None:
        self.beginResetModel()
        self.table = table
        self.chosen = chosen
        rows = list(DEFINITION_ROWS)
        if table is not None and not table.has_slo:
            rows = [r for r in rows if r[0] != "goodput_requests_per_s"]
        if table is not None and table.reasoning_first:
            # Both TTFTs: to the first content token, and to the first token of any kind.
            at = next(i for i, r in enumerate(rows) if r[0] == "ttft_ms:p99") + 1
            rows[at:at] = [
                ("ttft_first_token:p50", "TTFT p50, first token of any kind", "ms"),
                ("ttft_first_token:p99", "TTFT p99, first token of any kind", "ms"),
            ]
        self._rows = rows if table is not None else []
        self.endResetModel()

    def row_key(self, row: int) -> str:
        return self._rows[row][0]

    def row_of(self, key: str) -> int:
        return next(i for i, r in enumerate(self._rows) if r[0] == key)

    def value(self, key: str, definitions: str) -> float | None:
        if self.table is None:
            return None
        if key.startswith("ttft_first_token:"):
            # Only openbench measures the first token of any kind separately.
            pct = key.split(":")[1]
            return self.table.ttft_first_token.get(pct) if definitions == "openbench" else None
        return self.table.values[key][definitions]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(sm.DEFINITIONS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY
    ) -> Any:
        if role == _DISPLAY:
            if orientation == Qt.Orientation.Horizontal:
                name = sm.DEFINITIONS[section]
                label = {"openbench": "OpenBench", "vllm": "vLLM", "guidellm": "GuideLLM",
                         "llmperf": "LLMPerf"}[name]
                return f"{label} (chosen)" if name == self.chosen else label
            _key, label, unit = self._rows[section]
            return f"{label} ({unit})"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _FLAGS

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid() or self.table is None:
            return None
        key = self._rows[index.row()][0]
        name = sm.DEFINITIONS[index.column()]
        value = self.value(key, name)
        if role == RAW_ROLE:
            return value
        if role == _DISPLAY:
            if value is None:
                return "n/a" if key.startswith("tpot") and name == "llmperf" else "—"
            return format_number(value)
        if role == _ALIGN:
            return _RIGHT
        if role == _FONT and self._differs(key, name):
            return self._bold
        if role == _TOOLTIP:
            if value is None and key.startswith("tpot") and name == "llmperf":
                return "LLMPerf does not define TPOT"
            if self._differs(key, name):
                base = self.value(key, "openbench")
                return f"Differs from OpenBench's {format_number(base)}"
        return None

    def _differs(self, key: str, name: str) -> bool:
        if name == "openbench" or key.startswith("ttft_first_token"):
            return False
        value, base = self.value(key, name), self.value(key, "openbench")
        if value is None or base is None:
            return value is not base
        return abs(value - base) > self.DIFF_TOLERANCE * max(abs(base), 1e-9)

    def data_table(self) -> tuple[list[str], list[list[Cell]]]:
        header = ["figure", "unit", *sm.DEFINITIONS]
        rows: list[list[Cell]] = [
            [label, unit, *(self.value(key, d) for d in sm.DEFINITIONS)]
            for key, label, unit in self._rows
        ]
        return header, rows


__all__ = [
    "CI_ROLE",
    "RAW_ROLE",
    "STEP_PERCENTILES",
    "DefinitionsModel",
    "SpeedStepsModel",
    "format_ci",
    "format_number",
]
