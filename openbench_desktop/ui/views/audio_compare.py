"""The speech section of Compare: WER with intervals, RTFx, their trade-off, paired ΔWER.

Data flow, as in ``compare_view``: the runs' records and per-utterance error counts are read
through ``ctx.db``; the paired bootstraps (``core.audio.metrics.paired_wer_diff``) run on
this section's one-thread pool; answers for a selection that has since changed are dropped
by generation number. The first run is the baseline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGridLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.audio.metrics import PairedDiff, paired_wer_diff
from openbench_desktop.core.audio.runner import audio_details
from openbench_desktop.core.domain import RunRecord
from openbench_desktop.core.labels import distinct_labels, spec_label
from openbench_desktop.core.storage import Store
from openbench_desktop.ui.charts.audio_charts import (
    AudioComparison,
    AudioRunStats,
    RtfxBarsChart,
    WerBarsChart,
    WerDelta,
    WerRtfxChart,
    _AudioChart,
)
from openbench_desktop.ui.charts.chart_card import ChartCard
from openbench_desktop.ui.charts.compare_charts import CompareChart
from openbench_desktop.ui.charts.export import DEFAULT_DPI, export_chart, format_for
from openbench_desktop.ui.context import AppContext

log = logging.getLogger(__name__)

EXPORT_FILTERS: Final = "PNG image (*.png);;SVG vector image (*.svg);;CSV data (*.csv)"
ModelIndex = QModelIndex | QPersistentModelIndex
#: sample id → (word errors, reference words) of one run's scored utterances
Counts = dict[str, tuple[int, int]]


def load_speech_runs(store: Store, run_ids: Sequence[str]) -> list[tuple[RunRecord, Counts]]:
    """On the database thread: each run's record and its scored utterances' counts."""
    out = []
    for run_id in run_ids:
        record = store.get_run(run_id)
        counts: Counts = {}
        for r in store.iter_results(run_id):
            d = audio_details(r) if r.ok else None
            if d and isinstance(d.get("ref_words"), int) and d["ref_words"] > 0:
                errors = int(d["substitutions"]) + int(d["deletions"]) + int(d["insertions"])
                counts[r.sample_id or str(r.index)] = (errors, int(d["ref_words"]))
        out.append((record, counts))
    return out


def run_stats(record: RunRecord) -> AudioRunStats:
    audio: dict[str, Any] = dict(record.summary.audio or {}) if record.summary else {}
    ci = audio.get("wer_ci")
    failures = audio.get("failure_counts") or {}
    return AudioRunStats(
        run_id=record.run_id,
        label=spec_label(record.spec),
        kind=str(audio.get("kind") or record.benchmark),
        model=record.model,
        normalizer=audio.get("normalizer"),
        n_scored=int(audio.get("n_scored") or 0),
        n_failed=sum(int(v) for v in failures.values()),
        wer=audio.get("wer"),
        wer_ci=(float(ci[0]), float(ci[1])) if ci else None,
        cer=audio.get("cer"),
        rtfx=audio.get("rtfx"),
    )


def build_comparison(loaded: Sequence[tuple[RunRecord, Counts]]) -> AudioComparison:
    """Figures per run and each run's paired ΔWER against the first (off the GUI thread)."""
    stats = [run_stats(record) for record, _ in loaded]
    labels = distinct_labels([r.label for r in stats], [r.run_id for r in stats])
    runs = tuple(
        dataclasses.replace(r, label=label) for r, label in zip(stats, labels, strict=True)
    )
    deltas: list[WerDelta] = []
    if len(loaded) >= 2:
        base_stats, (_, base) = runs[0], loaded[0]
        for stats, (_, counts) in zip(runs[1:], loaded[1:], strict=True):
            if stats.kind != base_stats.kind:
                deltas.append(WerDelta(stats.run_id, stats.label, None,
                                       "not comparable (speech recognition vs synthesis)"))
                continue
            shared = [k for k in base if k in counts]
            diff = paired_wer_diff(
                [base[k][0] for k in shared], [base[k][1] for k in shared],
                [counts[k][0] for k in shared], [counts[k][1] for k in shared],
            )
            note = "" if diff is not None else "no utterance scored in both runs"
            deltas.append(WerDelta(stats.run_id, stats.label, diff, note))
    return AudioComparison(runs, tuple(deltas))


def _excludes_zero(d: PairedDiff | None) -> bool:
    if d is None or d.low is None or d.high is None:
        return False
    return d.low > 0 or d.high < 0


class WerDeltasModel(QAbstractTableModel):
    """Run vs baseline: ΔWER [95% CI] on the utterances both scored."""

    HEADERS: Final = ("Run", "Shared", "Baseline WER", "Run WER", "ΔWER", "95% CI")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[WerDelta] = []

    def set_deltas(self, deltas: Sequence[WerDelta]) -> None:
        self.beginResetModel()
        self._rows = list(deltas)
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col, d = index.column(), row.diff
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.label
            if d is None:
                return row.note if col == 1 else ""
            if col == 1:
                return str(d.n)
            if col == 2:
                return f"{d.wer_a:.1%}"
            if col == 3:
                return f"{d.wer_b:.1%}"
            if col == 4:
                return f"{d.diff * 100:+.1f} pts"
            if col == 5:
                if d.low is None or d.high is None:
                    return "n/a (< 2 shared)"
                return f"[{d.low * 100:+.1f}, {d.high * 100:+.1f}]"
        if role == Qt.ItemDataRole.FontRole and col == 4 and _excludes_zero(d):
            # Bold when the interval excludes zero: a difference the data supports.
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data_table(self) -> tuple[list[str], list[list[Any]]]:
        header = ["run_id", "label", "n_shared", "baseline_wer", "run_wer", "delta_wer",
                  "ci_low", "ci_high", "note"]
        rows = []
        for r in self._rows:
            d = r.diff
            rows.append([
                r.run_id, r.label, d.n if d else None, d.wer_a if d else None,
                d.wer_b if d else None, d.diff if d else None, d.low if d else None,
                d.high if d else None, r.note,
            ])
        return header, rows


class _Relay(QObject):
    finished = Signal(int, object, object)  # generation, AudioComparison | None, error


class _Job(QRunnable):
    def __init__(self, generation: int, loaded: list[tuple[RunRecord, Counts]],
                 relay: _Relay) -> None:
        super().__init__()
        self.generation, self.loaded, self.relay = generation, loaded, relay

    def run(self) -> None:
        try:
            result: AudioComparison | None = build_comparison(self.loaded)
            error = None
        except Exception as exc:
            log.exception("speech comparison failed")
            result, error = None, str(exc)
        with contextlib.suppress(RuntimeError):  # the section was deleted meanwhile
            self.relay.finished.emit(self.generation, result, error)


class AudioCompareSection(QWidget):
    """Shown under Compare's charts when the picked runs include speech runs."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("audio_compare")
        self.comparison: AudioComparison | None = None
        self.run_ids: list[str] = []
        self._ticket: int | None = None
        self._generation = 0
        self._computing = False
        self._export_dir = Path.home()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_computed)
        self._jobs: set[_Job] = set()
        self._build()
        ctx.db.answered.connect(self._on_db_answer)
        ctx.signals.theme_changed.connect(self._on_theme_changed)

    def _build(self) -> None:
        self.title = QLabel("<b>Speech</b>")
        self.title.setObjectName("audio_compare_title")
        self.status_label = QLabel("")
        self.status_label.setObjectName("audio_compare_status")
        self.status_label.setWordWrap(True)
        self.wer_chart = WerBarsChart()
        self.rtfx_chart = RtfxBarsChart()
        self.scatter = WerRtfxChart()
        self.deltas_model = WerDeltasModel(self)
        self.deltas_table = QTableView()
        self.deltas_table.setObjectName("speech_deltas")
        self.deltas_table.setAccessibleName("WER difference against the baseline")
        self.deltas_table.setModel(self.deltas_model)
        self.deltas_table.verticalHeader().setVisible(False)
        self.deltas_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.deltas_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The run name takes what the figures leave (elided), so the CI is never cut off.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.deltas_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.deltas_caption = QLabel("")
        self.deltas_caption.setObjectName("speech_deltas_caption")
        self.deltas_caption.setWordWrap(True)
        deltas = QWidget()
        deltas_layout = QVBoxLayout(deltas)
        deltas_layout.setContentsMargins(0, 0, 0, 0)
        deltas_layout.addWidget(self.deltas_caption)
        deltas_layout.addWidget(self.deltas_table, 1)
        deltas.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

        hints = {
            self.wer_chart.slug: "Word errors per reference word over all scored utterances; "
            "whiskers: 95% bootstrap interval over utterances.",
            self.rtfx_chart.slug: "Seconds of audio processed per second of compute "
            "(model load and warm-up excluded).",
            self.scatter.slug: "Lower is more accurate, further right is faster; "
            "whiskers: the WER interval.",
        }
        self.cards: dict[str, ChartCard] = {}
        grid = QGridLayout()
        grid.setSpacing(8)
        for n, chart in enumerate(self.charts_all()):
            card = ChartCard(chart, chart.slug, hints[chart.slug], title=chart.title)
            assert card.export_button is not None
            card.export_button.clicked.connect(
                lambda _c=False, ch=chart: self._on_export_chart(ch)
            )
            self.cards[chart.slug] = card
            grid.addWidget(card, n // 2, n % 2)
        self.deltas_card = ChartCard(
            deltas, "speech_deltas", "Paired comparison with the baseline on the utterances "
            "both runs scored: the same utterances are resampled for both runs.",
        )
        grid.addWidget(self.deltas_card, 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.status_label)
        layout.addLayout(grid)

    # -- contract ------------------------------------------------------------------------

    def charts_all(self) -> list[_AudioChart]:
        return [self.wer_chart, self.rtfx_chart, self.scatter]

    def charts(self) -> list[CompareChart]:
        """The charts that show something (what "Export all" writes)."""
        if self.comparison is None:
            return []
        return [c for c in self.charts_all() if c.has_data()]

    def is_busy(self) -> bool:
        return self._ticket is not None or self._computing

    def set_runs(self, run_ids: Sequence[str]) -> None:
        """Show these speech runs; the first is the baseline of the paired ΔWER."""
        self.run_ids = list(dict.fromkeys(run_ids))
        self._generation += 1
        if not self.run_ids:
            self._ticket = None
            self._render(AudioComparison(()))
            return
        store, ids = self.ctx.store, tuple(self.run_ids)
        self.status_label.setText("Reading speech runs…")
        self._ticket = self.ctx.db.submit(lambda: load_speech_runs(store, ids))
        self._ticket_generation = self._generation

    def deltas(self) -> tuple[list[str], list[list[Any]]]:
        return self.deltas_model.data_table()

    # -- answers -------------------------------------------------------------------------

    @Slot(int, object, object)
    def _on_db_answer(self, ticket: int, result: object, error: object) -> None:
        if ticket != self._ticket:
            return
        self._ticket = None
        if error is not None:
            self.status_label.setText(f"Could not read the speech runs: {error}")
            return
        self._computing = True
        self.status_label.setText("Computing paired intervals…")
        job = _Job(self._generation, list(result), self._relay)  # type: ignore[call-overload]
        self._jobs.add(job)
        self._pool.start(job)

    @Slot(int, object, object)
    def _on_computed(self, generation: int, comparison: object, error: object) -> None:
        self._jobs = {j for j in self._jobs if j.generation > generation}
        if generation != self._generation:
            return
        self._computing = False
        if error is not None or not isinstance(comparison, AudioComparison):
            self.status_label.setText(f"Could not compare the speech runs: {error}")
            return
        self._render(comparison)

    def _render(self, comparison: AudioComparison) -> None:
        self.comparison = comparison if comparison.runs else None
        for chart in self.charts_all():
            chart.set_comparison(self.comparison)
        self.deltas_model.set_deltas(comparison.deltas)
        base = comparison.baseline
        n = len(comparison.runs)
        self.title.setText(f"<b>Speech</b> · {n} run{'s' if n != 1 else ''}")
        if base is None:
            self.deltas_caption.setText("")
        elif n < 2:
            self.deltas_caption.setText("Pick a second speech run on the same clips for a "
                                        "paired ΔWER.")
        else:
            self.deltas_caption.setText(
                f"Against <b>{html.escape(base.label)}</b>: ΔWER = run − baseline, percentage "
                "points; bold when the interval excludes 0."
            )
        normalizers = {r.normalizer for r in comparison.runs if r.normalizer}
        warn = ""
        if len(normalizers) > 1:
            warn = (" ⚠ The runs use different normalizers "
                    f"({', '.join(sorted(normalizers))}): their WERs are not measured alike.")
        self.status_label.setText(warn.strip())
        for card in self.cards.values():
            if card.export_button is not None:
                card.export_button.setEnabled(self.comparison is not None)
        self.cards[self.scatter.slug].setVisible(self.scatter.has_data() or base is None)

    @Slot(str)
    def _on_theme_changed(self, _theme: str) -> None:
        for chart in self.charts_all():
            chart.apply_theme()

    # -- export --------------------------------------------------------------------------

    def _ask_save_path(self, title: str, suggested: Path) -> tuple[str, str]:
        """The file dialog (tests override this to answer without one)."""
        return QFileDialog.getSaveFileName(self, title, str(suggested), EXPORT_FILTERS)

    def _show_error(self, title: str, message: str) -> None:
        """A warning box (tests override this)."""
        QMessageBox.warning(self, title, message)

    def export_chart(self, chart: CompareChart, path: str | Path, fmt: str | None = None,
                     dpi: float = DEFAULT_DPI) -> Path:
        return export_chart(chart, path, fmt, dpi=dpi)

    def _on_export_chart(self, chart: CompareChart) -> None:
        path, chosen = self._ask_save_path(
            f"Export “{chart.title}”", self._export_dir / f"{chart.slug}.png"
        )
        if not path:
            return
        fmt = format_for(path)
        if fmt is None and not Path(path).suffix:
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


__all__ = ["AudioCompareSection", "WerDeltasModel", "build_comparison", "load_speech_runs"]
