"""The speech Run detail panel over real PocketSphinx runs of the bundled demo clips.

Two runs are made once per test session through the real engine (``execute_run``): the demo as
shipped (whisper normalizer), and a copy of it with one clip corrupted, scored with the
basic normalizer (a failure, and different WERs). Each test gets a fresh AppContext over a
copy of that home folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jiwer
import pytest
from PySide6.QtCore import Qt

from openbench_desktop.core.audio.datasets import demo_dataset_path
from tests.ui.speech_data import BROKEN_LIMIT, CORRUPTED

pytest.importorskip("pocketsphinx", reason="needs the audio extra (pocketsphinx)")

NO_DEVICE_PROBE = "No audio output device"


@pytest.fixture
def panel(qtbot, speech_ctx, monkeypatch):  # type: ignore[no-untyped-def]
    from openbench_desktop.ui.views import audio_detail

    # In-process playback is checked against a fixed answer; real playback to an ALSA
    # null device is tested in a subprocess below (PortAudio reads the ALSA setup once).
    monkeypatch.setattr(
        audio_detail.AudioDetailPanel, "_playback_probe", staticmethod(lambda: lambda: None)
    )
    p = audio_detail.AudioDetailPanel(speech_ctx)
    qtbot.addWidget(p)
    p.resize(1280, 800)
    return p


def _show(qtbot, panel, run_id: str) -> None:  # type: ignore[no-untyped-def]
    panel.show_run(run_id)
    qtbot.waitUntil(lambda: not panel.is_loading() and panel.model.rowCount() > 0, timeout=5000)


def _cell(model, row: int, col: int) -> str:  # type: ignore[no-untyped-def]
    return model.data(model.index(row, col))


def test_tiles_and_rows_show_the_stored_run(qtbot, panel, speech_ctx, speech_runs) -> None:  # type: ignore[no-untyped-def]
    from openbench_desktop.ui.models.utterances_model import UtterancesModel as M

    _show(qtbot, panel, speech_runs.demo)
    record = speech_ctx.store.get_run(speech_runs.demo)
    audio = record.summary.audio
    assert panel.tiles["wer"].value.text() == f"{audio['wer']:.1%}"
    lo, hi = audio["wer_ci"]
    assert panel.tiles["wer"].note.text() == f"95% CI {lo:.1%} – {hi:.1%}"
    assert panel.tiles["cer"].value.text() == f"{audio['cer']:.1%}"
    assert panel.tiles["rtfx"].value.text() == f"{audio['rtfx']:.1f}×"
    assert panel.tiles["failed"].value.text() == "0"
    assert panel.tiles["rss"].value.text().endswith("MiB")
    assert panel.model.rowCount() == 10
    results = speech_ctx.store.get_results(speech_runs.demo)
    for row, r in enumerate(results):
        assert _cell(panel.model, row, M.COL_ID) == r.sample_id
        assert _cell(panel.model, row, M.COL_HYPOTHESIS) == r.output
    # The table's S/D/I add up to the corpus counts in the summary.
    rows = [panel.model.row(i) for i in range(10)]
    assert sum(r.substitutions for r in rows) == audio["substitutions"]
    assert sum(r.deletions for r in rows) == audio["deletions"]
    assert sum(r.insertions for r in rows) == audio["insertions"]


def test_selected_utterance_diff_marks_jiwer_alignment(qtbot, panel, speech_runs) -> None:  # type: ignore[no-untyped-def]
    from openbench_desktop.core.audio.diff import word_diff
    from openbench_desktop.ui.views.audio_detail import diff_html

    _show(qtbot, panel, speech_runs.demo)
    # Pick an utterance with errors of as many kinds as possible.
    rows = [panel.model.row(i) for i in range(panel.model.rowCount())]
    row = max(rows, key=lambda r: (bool(r.substitutions) + bool(r.deletions) + bool(r.insertions)))
    assert row.errors > 0
    assert panel.select_utterance(row.utt_id)
    assert panel.selected_row() == row
    out = jiwer.process_words(row.reference_normalized, row.hypothesis_normalized)
    want = {"substitute": [], "delete": [], "insert": []}
    for c in out.alignments[0]:
        ref = out.references[0][c.ref_start_idx : c.ref_end_idx]
        hyp = out.hypotheses[0][c.hyp_start_idx : c.hyp_end_idx]
        if c.type == "substitute":
            want["substitute"] += [" ".join(ref), " ".join(hyp)]
        elif c.type == "delete":
            want["delete"].append(" ".join(ref))
        elif c.type == "insert":
            want["insert"].append(" ".join(hyp))
    ref_html, hyp_html = diff_html(word_diff(row.reference_normalized, row.hypothesis_normalized))
    got = {k: re.findall(rf'<span class="{k}"[^>]*>([^<]*)</span>', ref_html + hyp_html)
           for k in want}
    # Substitutions: ref-line marks then hyp-line marks, so compare as multisets.
    assert sorted(got["substitute"]) == sorted(want["substitute"])
    assert got["delete"] == want["delete"] and got["insert"] == want["insert"]
    # What the user sees: the pane holds the utterance's texts and the WER line.
    shown = panel.diff_view.toPlainText()
    assert row.utt_id in shown and f"WER {row.wer:.1%}" in shown
    assert row.reference in shown and row.hypothesis in shown
    assert "substituted" in panel.legend.text() and "deleted" in panel.legend.text()


def test_failed_utterance_filter_and_message(qtbot, panel, speech_runs) -> None:  # type: ignore[no-untyped-def]
    _show(qtbot, panel, speech_runs.broken)
    assert panel.tiles["failed"].value.text() == "1"
    assert "audio 1" in panel.tiles["failed"].note.text()
    combo = panel.filter_combo
    assert combo.itemText(2) == "Failed (1)"
    combo.setCurrentIndex(2)
    assert panel.model.rowCount() == 1
    row = panel.model.row(0)
    assert row.utt_id == CORRUPTED and not row.ok
    qtbot.waitUntil(lambda: panel.selected_row() is not None, timeout=2000)
    shown = panel.diff_view.toPlainText()
    assert "Failed (audio)" in shown and f"{CORRUPTED}.wav" in shown
    combo.setCurrentIndex(1)  # with word errors
    n_errors = sum(1 for i in range(panel.model.rowCount()) if panel.model.row(i).errors)
    assert n_errors == panel.model.rowCount() > 0
    assert combo.itemText(0) == f"All utterances ({BROKEN_LIMIT})"


def test_sorting_by_wer_and_paging(qtbot, panel, speech_runs) -> None:  # type: ignore[no-untyped-def]
    from openbench_desktop.ui.models.utterances_model import UtterancesModel as M

    _show(qtbot, panel, speech_runs.broken)
    header = panel.table.horizontalHeader()
    panel.show()
    for _ in range(2):  # a click sorts ascending, the next one descending
        qtbot.mouseClick(
            header.viewport(), Qt.MouseButton.LeftButton, pos=_section_center(header, M.COL_WER)
        )
        wers = [panel.model.row(i).wer for i in range(panel.model.rowCount())]
        known = [w for w in wers if w is not None]
        assert known in (sorted(known), sorted(known, reverse=True))
        assert wers[-1] is None  # the failed one stays last
    assert header.sortIndicatorSection() == M.COL_WER
    # Paging: a small page size exposes rows as the view asks for more.
    small = M(page_size=4)
    every = [panel.model.row(i) for i in range(BROKEN_LIMIT)]
    small.set_rows(every)
    assert small.rowCount() == 4 and small.canFetchMore()
    small.sort(M.COL_WER, Qt.SortOrder.DescendingOrder)  # sorts all rows, not the 4 shown
    small.fetchMore()
    assert small.rowCount() == BROKEN_LIMIT and not small.canFetchMore()
    top = max(r.wer for r in every if r.wer is not None)
    assert small.row(0).wer == top


def _section_center(header, col: int):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPoint

    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    return QPoint(x, header.height() // 2)


def test_playback_disabled_says_what_is_missing(qtbot, speech_ctx, speech_runs) -> None:  # type: ignore[no-untyped-def]
    from openbench_desktop.ui.audio_player import INSTALL_EXTRA, NO_DEVICE
    from openbench_desktop.ui.views.audio_detail import AudioDetailPanel

    def probed(problem: str) -> AudioDetailPanel:
        class Probed(AudioDetailPanel):
            @staticmethod
            def _playback_probe():  # type: ignore[no-untyped-def]
                return lambda: problem

        return Probed(speech_ctx)

    for problem in (NO_DEVICE, INSTALL_EXTRA):
        panel = probed(problem)
        qtbot.addWidget(panel)
        _show(qtbot, panel, speech_runs.demo)
        qtbot.waitUntil(lambda p=panel: p.player.state == "unavailable", timeout=3000)
        assert not panel.play_button.isEnabled()
        assert panel.play_button.toolTip() == problem


def test_playback_of_a_moved_clip_names_the_path(qtbot, panel, speech_runs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _show(qtbot, panel, speech_runs.broken)
    qtbot.waitUntil(lambda: panel.player.state == "idle", timeout=3000)
    assert panel.select_utterance("demo01")
    clip = Path(panel.selected_row().audio_path)
    moved = tmp_path / "moved.wav"
    clip.rename(moved)  # the module's dataset copy: put back below
    try:
        assert panel.play_button.isEnabled()
        qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "missing" in panel.play_status.text(), timeout=3000)
        assert str(clip) in panel.play_status.text()
        assert panel.play_button.text() == "▶ Play clip"
    finally:
        moved.rename(clip)


def test_real_playback_to_an_alsa_null_device(tmp_path: Path) -> None:
    """Play a demo clip for real through PortAudio into ALSA's null sink (subprocess:
    PortAudio reads the ALSA configuration once per process)."""
    sd = pytest.importorskip("soundfile")
    del sd
    try:
        import sounddevice  # noqa: F401
    except OSError:
        pytest.skip("PortAudio (libportaudio2) is not installed")
    home = tmp_path / "alsa_home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default {\n  type null\n}\n")
    clip = demo_dataset_path() / "demo01.wav"
    script = textwrap.dedent(
        f"""
        import sys
        from PySide6.QtWidgets import QApplication
        from PySide6.QtCore import QTimer
        from openbench_desktop.ui.audio_player import ClipPlayer
        app = QApplication([])
        player = ClipPlayer()
        states = []
        player.state_changed.connect(states.append)
        player.failed.connect(lambda m: (print("FAILED", m), app.exit(3)))
        player.finished.connect(lambda: app.exit(0))
        def go(state):
            if state == "idle" and "playing" not in states:
                player.play({str(clip)!r})
            elif state == "unavailable":
                print("UNAVAILABLE", player.problem); app.exit(2)
        player.state_changed.connect(go)
        player.check()
        QTimer.singleShot(20000, lambda: app.exit(4))
        code = app.exec()
        print("STATES", states)
        player.shutdown()
        sys.exit(code)
        """
    )
    env = {**os.environ, "HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "'loading', 'playing', 'idle'" in done.stdout


def test_screenshot(qtbot, panel, speech_runs, shots_dir) -> None:  # type: ignore[no-untyped-def]
    _show(qtbot, panel, speech_runs.broken)
    rows = [panel.model.row(i) for i in range(panel.model.rowCount())]
    pick = max((r for r in rows if r.ok), key=lambda r: r.errors)
    panel.select_utterance(pick.utt_id)
    panel.show()
    qtbot.waitExposed(panel)
    panel.grab().save(str(shots_dir / "audio_detail.png"))
