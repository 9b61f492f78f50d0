"""Run detail for speech runs: corpus figures, the utterance table, a word diff, playback.

Everything shown comes from what the run stored: the summary's ``audio`` mapping for the
tiles (``core.audio.runner.audio_summary``) and each sample's details for the table
(``UtteranceRow``). The word diff is jiwer's alignment of the *normalized* strings
(``core.audio.diff.word_diff``), the same alignment the S/D/I counts come from, so the
highlighted words always add up to the numbers in the table.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.audio.diff import DiffOp, word_diff
from openbench_desktop.core.domain import RunRecord
from openbench_desktop.core.labels import spec_label
from openbench_desktop.ui.audio_player import ClipPlayer, playback_problem
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.utterances_model import (
    UtteranceFilter,
    UtteranceRow,
    UtterancesModel,
    load_utterances,
)

log = logging.getLogger(__name__)

# Okabe-Ito hues as translucent backgrounds: the text keeps the palette's colour, so the
# marks read on a light and a dark base alike. Each kind also has a typographic mark
# (bold / strike-through / underline) so they differ without colour.
DIFF_STYLES: Mapping[str, str] = {
    "substitute": "background-color: rgba(230, 159, 0, 0.38); font-weight: bold;",
    "delete": "background-color: rgba(213, 94, 0, 0.32); text-decoration: line-through;",
    "insert": "background-color: rgba(86, 180, 233, 0.38); text-decoration: underline;",
}
DIFF_NAMES: Mapping[str, str] = {
    "substitute": "substituted",
    "delete": "deleted",
    "insert": "inserted",
}
FILTER_LABELS: Mapping[UtteranceFilter, str] = {
    UtteranceFilter.ALL: "All utterances",
    UtteranceFilter.ERRORS: "With word errors",
    UtteranceFilter.FAILED: "Failed",
}


def _mark(kind: str, words: Sequence[str]) -> str:
    text = html.escape(" ".join(words))
    style = DIFF_STYLES[kind]
    return f'<span class="{kind}" title="{DIFF_NAMES[kind]}" style="{style}">{text}</span>'


def diff_html(ops: Sequence[DiffOp]) -> tuple[str, str]:
    """The reference and the hypothesis as HTML with their changed words marked.

    Substituted words are marked on both lines, deleted words on the reference line only,
    inserted words on the hypothesis line only. Each mark is a ``<span class="substitute |
    delete | insert">`` (tests read the classes; Qt renders the style).
    """
    ref: list[str] = []
    hyp: list[str] = []
    for op in ops:
        if op.kind == "equal":
            ref.append(html.escape(" ".join(op.ref)))
            hyp.append(html.escape(" ".join(op.hyp)))
        elif op.kind == "substitute":
            ref.append(_mark("substitute", op.ref))
            hyp.append(_mark("substitute", op.hyp))
        elif op.kind == "delete":
            ref.append(_mark("delete", op.ref))
        else:
            hyp.append(_mark("insert", op.hyp))
    empty = '<i style="color: palette(placeholder-text);">(nothing)</i>'
    return " ".join(ref) or empty, " ".join(hyp) or empty


def legend_html() -> str:
    return "Words: " + " &nbsp; ".join(
        _mark(kind, [DIFF_NAMES[kind]]) for kind in ("substitute", "delete", "insert")
    )


def _pct(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:.1%}"


def _secs(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _times(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:.1f}×"


class _Tile(QFrame):
    """One figure: a caption above a large value, a detail line below."""

    def __init__(self, key: str, caption: str) -> None:
        super().__init__()
        self.setObjectName(f"tile_{key}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.caption = QLabel(caption)
        self.caption.setStyleSheet("color: palette(placeholder-text);")
        self.value = QLabel("—")
        self.value.setObjectName(f"tile_{key}_value")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setBold(True)
        self.value.setFont(font)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel("")
        self.note.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 5, 8, 5)
        layout.setSpacing(1)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.note)

    def set(self, caption: str, value: str, note: str = "", tip: str = "") -> None:
        self.caption.setText(caption)
        self.value.setText(value)
        self.note.setText(note)
        self.setToolTip(tip)
        self.value.setAccessibleName(f"{caption}: {value}")


TILE_KEYS = ("wer", "cer", "rtfx", "audio", "load", "cpu", "rss", "failed")


def tile_values(audio: Mapping[str, Any], n_failed: int) -> dict[str, tuple[str, str, str, str]]:
    """(caption, value, note, tooltip) per tile from the summary's ``audio`` mapping."""
    res = audio.get("resources") or {}
    tts = audio.get("kind") == "tts"
    ci = audio.get("wer_ci")
    ci_note = f"95% CI {_pct(ci[0])} – {_pct(ci[1])}" if ci else "no interval (< 2 scored)"
    failures = audio.get("failure_counts") or {}
    failed = sum(int(v) for v in failures.values()) if failures else n_failed
    out = {
        "wer": (
            "WER (round trip)" if tts else "WER",
            _pct(audio.get("wer")),
            ci_note,
            f"Corpus word error rate over {audio.get('n_scored', 0)} scored utterances, "
            f"normalizer {audio.get('normalizer')!s}. Interval: "
            f"{audio.get('wer_ci_method', 'bootstrap')}.",
        ),
        "cer": (
            "CER",
            _pct(audio.get("cer")),
            f"raw WER {_pct(audio.get('wer_raw'))}",
            "Character error rate (spaces count); raw: on the texts before normalization",
        ),
        "rtfx": (
            "RTFx (synthesis)" if tts else "RTFx",
            _times(audio.get("rtfx")),
            "audio s per compute s",
            "Seconds of audio per second of processing; higher is faster",
        ),
        "audio": (
            "Audio",
            _secs(audio.get("audio_s")),
            f"{audio.get('n_scored', 0)} scored",
            "Total duration of the scored clips",
        ),
        "load": (
            "Model load",
            _secs(res.get("model_load_s")),
            f"warm-up {_secs(res.get('warmup_s'))}",
            "Loading the model, and the untimed warm-up, are excluded from RTFx",
        ),
        "cpu": (
            "CPU time",
            _secs(res.get("cpu_s")),
            f"wall {_secs(res.get('wall_s'))}",
            "Process CPU time during the run (all threads)",
        ),
        "rss": (
            "Peak memory",
            "—" if res.get("peak_rss_mb") is None else f"{res['peak_rss_mb']:.0f} MiB",
            "peak RSS",
            "The process's peak resident set size (a high-water mark for the whole app)",
        ),
        "failed": (
            "Failed",
            str(failed),
            ", ".join(f"{k} {v}" for k, v in sorted(failures.items())) or "none",
            "Utterances not scored, by kind of failure",
        ),
    }
    if tts:
        issues = audio.get("health_issue_counts") or {}
        out["cpu"] = (
            "First audio (p50)",
            _secs(audio.get("first_audio_s_p50")),
            f"CPU {_secs(res.get('cpu_s'))}",
            "Median time to the first audio of a streamed synthesis",
        )
        out["audio"] = (
            "Healthy clips",
            f"{audio.get('n_healthy', 0)} / {audio.get('n_scored', 0)}",
            ", ".join(f"{k} {v}" for k, v in issues.items() if v) or "no issues",
            "Clips without clipping, silence or duration issues; audio "
            f"{_secs(audio.get('audio_s'))}",
        )
    return out


class AudioDetailPanel(QWidget):
    """The "Speech" tab of Run detail: figures, utterances, the selected one's diff."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("audio_detail")
        self.run_id: str | None = None
        self.record: RunRecord | None = None
        self._ticket: int | None = None
        self.model = UtterancesModel(self)
        self.player = ClipPlayer(self, probe=self._playback_probe())
        self._build()
        self.player.state_changed.connect(self._on_player_state)
        self.player.failed.connect(self._on_player_failed)
        self.player.check()
        ctx.db.answered.connect(self._on_db_answer)
        self.destroyed.connect(self.player.stop)

    @staticmethod
    def _playback_probe() -> Any:
        """What finds out whether playback works (tests replace it)."""
        return playback_problem

    # -- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = QLabel("")
        self.title.setObjectName("audio_title")
        self.title.setWordWrap(True)
        self.status_label = QLabel("")
        self.status_label.setObjectName("audio_status")
        self.status_label.setWordWrap(True)
        self.status_label.hide()  # shown only with something to say (see _set_status)

        tiles = QGridLayout()
        tiles.setSpacing(6)
        self.tiles: dict[str, _Tile] = {}
        for i, key in enumerate(TILE_KEYS):
            tile = _Tile(key, key)
            self.tiles[key] = tile
            tiles.addWidget(tile, 0, i)

        self.filter_combo = QComboBox()
        self.filter_combo.setObjectName("utterance_filter")
        self.filter_combo.setAccessibleName("Show utterances")
        for f, label in FILTER_LABELS.items():
            self.filter_combo.addItem(label, f.value)
        self.filter_combo.currentIndexChanged.connect(self._on_filter)
        self.count_label = QLabel("")
        self.count_label.setObjectName("utterance_count")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.filter_combo)
        bar.addWidget(self.count_label, 1)

        self.table = QTableView()
        self.table.setObjectName("utterances_table")
        self.table.setAccessibleName("Utterances")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(UtterancesModel.COL_ID, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in (
            (UtterancesModel.COL_ID, 90),
            (UtterancesModel.COL_DURATION, 70),
            (UtterancesModel.COL_WER, 62),
            (UtterancesModel.COL_SUB, 34),
            (UtterancesModel.COL_DEL, 34),
            (UtterancesModel.COL_INS, 34),
            (UtterancesModel.COL_REFERENCE, 330),
            (UtterancesModel.COL_HYPOTHESIS, 330),
        ):
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        # The selected utterance.
        self.diff_view = QTextBrowser()
        self.diff_view.setObjectName("utterance_diff")
        self.diff_view.setAccessibleName("Reference and hypothesis")
        self.diff_view.setOpenLinks(False)
        self.legend = QLabel(legend_html())
        self.legend.setObjectName("diff_legend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.play_button = QPushButton("▶ Play clip")
        self.play_button.setObjectName("play_button")
        self.play_button.setAccessibleName("Play clip")
        self.play_button.clicked.connect(self._on_play)
        self.play_status = QLabel("")
        self.play_status.setObjectName("play_status")
        self.play_status.setWordWrap(True)
        self.play_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.play_status, 1)
        controls.addWidget(self.legend)
        pane = QWidget()
        pane_layout = QVBoxLayout(pane)
        pane_layout.setContentsMargins(0, 0, 0, 0)
        pane_layout.addLayout(controls)
        pane_layout.addWidget(self.diff_view, 1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("audio_split")
        split.addWidget(self.table)
        split.addWidget(pane)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addLayout(tiles)
        layout.addWidget(self.status_label)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self._show_selected(None)

    # -- contract ------------------------------------------------------------------------

    def show_run(self, run_id: str) -> None:
        """Load ``run_id`` on the database thread; the panel fills in when it answers."""
        self.player.stop()
        self.run_id = run_id
        store = self.ctx.store
        self._set_status("Loading utterances…")
        self._ticket = self.ctx.db.submit(
            lambda: (store.get_run(run_id), load_utterances(store, run_id))
        )

    def clear(self) -> None:
        self.player.stop()
        self.run_id = None
        self.record = None
        self._ticket = None
        self.model.clear()
        self.title.setText("")
        self._set_status("")
        for key, tile in self.tiles.items():
            tile.set(key, "—")
        self._update_counts()
        self._show_selected(None)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    def is_loading(self) -> bool:
        return self._ticket is not None

    def selected_row(self) -> UtteranceRow | None:
        index = self.table.currentIndex()
        return self.model.row(index.row()) if index.isValid() else None

    def select_utterance(self, utt_id: str) -> bool:
        row = self.model.find(utt_id)
        if row is None:
            return False
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    # -- answers -------------------------------------------------------------------------

    @Slot(int, object, object)
    def _on_db_answer(self, ticket: int, result: object, error: object) -> None:
        if ticket != self._ticket:
            return
        self._ticket = None
        if error is not None:
            self._set_status(f"Could not read the run: {error}")
            return
        record, rows = result  # type: ignore[misc]
        self.record = record
        self.model.set_rows(rows)
        self._fill_header(record)
        self._update_counts()
        self._set_status("" if rows else "This run has no stored utterances yet.")
        if rows:
            self.table.selectRow(0)
        else:
            self._show_selected(None)

    def _fill_header(self, record: RunRecord) -> None:
        audio = dict(record.summary.audio or {}) if record.summary else {}
        kind = audio.get("kind") or self.model.kind
        what = "Speech synthesis round trip" if kind == "tts" else "Speech recognition"
        provider = audio.get("provider") or record.provider
        self.title.setText(
            f"<b>{html.escape(spec_label(record.spec))}</b> · {what} · "
            f"{html.escape(str(provider))} {html.escape(record.model)} · normalizer "
            f"<i>{html.escape(str(audio.get('normalizer', '—')))}</i> · {record.status.value}"
        )
        for key, (caption, value, note, tip) in tile_values(audio, record.n_failed).items():
            self.tiles[key].set(caption, value, note, tip)

    def _update_counts(self) -> None:
        counts = self.model.counts()
        self.filter_combo.blockSignals(True)
        for i, f in enumerate(FILTER_LABELS):
            self.filter_combo.setItemText(i, f"{FILTER_LABELS[f]} ({counts[f.value]})")
        self.filter_combo.blockSignals(False)
        shown = self.model.total()
        self.count_label.setText(
            f"{shown} of {counts['all']} utterances" if counts["all"] else ""
        )

    # -- interaction ---------------------------------------------------------------------

    @Slot(int)
    def _on_filter(self, index: int) -> None:
        self.model.set_filter(self.filter_combo.itemData(index))
        self._update_counts()
        if self.model.rowCount():
            self.table.selectRow(0)
        else:
            self._show_selected(None)

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, *_: object) -> None:
        self._show_selected(self.selected_row())

    def _show_selected(self, row: UtteranceRow | None) -> None:
        if self.player.is_playing():
            self.player.stop()
        self.play_status.setText("")
        if row is None:
            self.diff_view.setHtml(
                '<p style="color: palette(placeholder-text);">Select an utterance to see its '
                "reference and hypothesis word by word.</p>"
            )
        else:
            self.diff_view.setHtml(self.utterance_html(row))
        self._sync_play_button()

    def utterance_html(self, row: UtteranceRow) -> str:
        tts = row.kind == "tts"
        ref_name, hyp_name = ("Input text", "Heard") if tts else ("Reference", "Hypothesis")
        parts = [f"<p><b>{html.escape(row.utt_id)}</b>"]
        if row.audio_s is not None:
            parts.append(f" · {row.audio_s:.2f} s of audio")
        if row.processing_s is not None:
            parts.append(f" · {'synthesised' if tts else 'processed'} in {row.processing_s:.2f} s")
        if row.ok and row.wer is not None:
            parts.append(
                f" · WER {row.wer:.1%} (S {row.substitutions}, D {row.deletions}, "
                f"I {row.insertions} of {row.ref_words} words)"
            )
        if row.normalizer:
            parts.append(f" · normalizer <i>{html.escape(row.normalizer)}</i>")
        parts.append("</p>")
        cell = 'style="padding: 2px 8px 2px 0; white-space: nowrap;"'
        if not row.ok:
            parts.append(
                '<p style="background-color: rgba(204, 121, 167, 0.25); padding: 4px;">'
                f"<b>Failed ({html.escape(row.failure or 'error')})</b>: "
                f"{html.escape(row.error_message or 'no message')}</p>"
            )
        else:
            ref_html, hyp_html = diff_html(
                word_diff(row.reference_normalized, row.hypothesis_normalized)
            )
            parts.append(
                "<table>"
                f'<tr><td {cell}><b>{ref_name}</b></td><td id="ref">{ref_html}</td></tr>'
                f'<tr><td {cell}><b>{hyp_name}</b></td><td id="hyp">{hyp_html}</td></tr>'
                "</table>"
            )
        dim = 'style="color: palette(placeholder-text);"'
        parts.append(f"<p {dim}>As written and as returned, before normalization:</p><table>")
        parts.append(
            f"<tr><td {cell}>{ref_name}</td><td>{html.escape(row.reference) or '—'}</td></tr>"
        )
        if row.ok or row.hypothesis:
            parts.append(
                f"<tr><td {cell}>{hyp_name}</td><td>{html.escape(row.hypothesis) or '—'}</td></tr>"
            )
        parts.append("</table>")
        if tts and row.ok:
            parts.append(self._health_html(row.details))
        if row.audio_path:
            parts.append(f"<p {dim}>Clip: {html.escape(row.audio_path)}</p>")
        return "".join(parts)

    @staticmethod
    def _health_html(d: Mapping[str, Any]) -> str:
        issues = d.get("issues") or []
        checks = [
            ("Clipping", _pct(d.get("clipping_ratio")), "clipping" in issues),
            ("Silence", _pct(d.get("silence_ratio")), "silence" in issues),
            (
                "Speaking rate",
                "—" if d.get("words_per_s") is None else f"{d['words_per_s']:.2f} words/s",
                "duration" in issues,
            ),
        ]
        cells = " &nbsp; ".join(
            f"{name}: {value}" + (" <b>⚠ issue</b>" if bad else " ✓") for name, value, bad in checks
        )
        return f"<p><b>Health checks</b> &nbsp; {cells}</p>"

    # -- playback ------------------------------------------------------------------------

    def _sync_play_button(self) -> None:
        row = self.selected_row()
        playing = self.player.is_playing()
        self.play_button.setText("■ Stop" if playing else "▶ Play clip")
        self.play_button.setAccessibleName("Stop playback" if playing else "Play clip")
        if self.player.problem is not None:
            self.play_button.setEnabled(False)
            self.play_button.setToolTip(self.player.problem)
        elif row is None or not row.audio_path:
            self.play_button.setEnabled(False)
            self.play_button.setToolTip(
                "Select an utterance" if row is None else "No clip was stored for this one"
            )
        else:
            self.play_button.setEnabled(True)
            self.play_button.setToolTip(f"Play {row.audio_path}")

    @Slot()
    def _on_play(self) -> None:
        if self.player.is_playing():
            self.player.stop()
            return
        row = self.selected_row()
        if row is None or not row.audio_path:
            return
        self.play_status.setText("")
        self.player.play(row.audio_path)

    @Slot(str)
    def _on_player_state(self, state: str) -> None:
        if state == "playing" and self.player.path is not None:
            self.play_status.setText(f"Playing {self.player.path.name}…")
        elif state == "idle" and self.play_status.text().startswith("Playing"):
            self.play_status.setText("")
        self._sync_play_button()

    @Slot(str)
    def _on_player_failed(self, message: str) -> None:
        self.play_status.setText(message)
        self._sync_play_button()


__all__ = ["AudioDetailPanel", "diff_html", "legend_html", "tile_values"]
