"""The speech section of Compare over the same real PocketSphinx runs as the detail tests."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from openbench_desktop.core.audio.metrics import paired_wer_diff
from openbench_desktop.core.audio.runner import audio_details
from tests.ui.speech_data import BROKEN_LIMIT, CORRUPTED

pytest.importorskip("pocketsphinx", reason="needs the audio extra (pocketsphinx)")

@pytest.fixture
def section(qtbot, speech_ctx, speech_runs):  # type: ignore[no-untyped-def]
    from openbench_desktop.ui.views.audio_compare import AudioCompareSection

    s = AudioCompareSection(speech_ctx)
    qtbot.addWidget(s)
    s.resize(1280, 800)
    s.set_runs([speech_runs.demo, speech_runs.broken])
    qtbot.waitUntil(lambda: not s.is_busy() and s.comparison is not None, timeout=10000)
    return s


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_charts_show_the_stored_summaries(section, speech_ctx, speech_runs) -> None:  # type: ignore[no-untyped-def]
    audio = {
        rid: speech_ctx.store.get_run(rid).summary.audio
        for rid in (speech_runs.demo, speech_runs.broken)
    }
    header, rows = section.wer_chart.data_table()
    assert [r[0] for r in rows] == [speech_runs.demo, speech_runs.broken]
    for r in rows:
        a = audio[r[0]]
        assert r[header.index("wer")] == a["wer"]
        assert [r[header.index("ci_low")], r[header.index("ci_high")]] == a["wer_ci"]
        assert r[header.index("normalizer")] == a["normalizer"]
    _, rtfx_rows = section.rtfx_chart.data_table()
    assert [r[3] for r in rtfx_rows] == [audio[r[0]]["rtfx"] for r in rtfx_rows]
    _, scatter_rows = section.scatter.data_table()
    assert len(scatter_rows) == 2 and len(section.scatter.points) == 2
    assert {c.slug for c in section.charts()} == {
        "speech_wer", "speech_rtfx", "speech_wer_vs_rtfx"
    }
    # The bars: one per run, heights in percent.
    heights = list(section.wer_chart.bars.opts["height"])
    assert heights == pytest.approx([audio[r[0]]["wer"] * 100 for r in rows])
    # Different normalizers are called out.
    assert "different normalizers" in section.status_label.text()


def test_paired_delta_matches_core(section, speech_ctx, speech_runs) -> None:  # type: ignore[no-untyped-def]
    def counts(run_id: str) -> dict[str, tuple[int, int]]:
        out = {}
        for r in speech_ctx.store.get_results(run_id):
            d = audio_details(r)
            if r.ok and d:
                out[r.sample_id] = (
                    d["substitutions"] + d["deletions"] + d["insertions"], d["ref_words"]
                )
        return out

    a, b = counts(speech_runs.demo), counts(speech_runs.broken)
    shared = [k for k in a if k in b]
    assert len(shared) == BROKEN_LIMIT - 1 and CORRUPTED not in shared
    want = paired_wer_diff(
        [a[k][0] for k in shared], [a[k][1] for k in shared],
        [b[k][0] for k in shared], [b[k][1] for k in shared],
    )
    header, rows = section.deltas()
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["run_id"] == speech_runs.broken and row["n_shared"] == len(shared)
    assert (row["delta_wer"], row["ci_low"], row["ci_high"]) == (want.diff, want.low, want.high)
    model = section.deltas_model
    assert model.data(model.index(0, 4)) == f"{want.diff * 100:+.1f} pts"
    assert model.data(model.index(0, 1)) == str(len(shared))


def test_export_buttons_write_files_that_parse(qtbot, section, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    section.show()
    qtbot.waitExposed(section)
    answers = iter([
        (str(tmp_path / "wer.png"), ""),
        (str(tmp_path / "wer.svg"), ""),
        (str(tmp_path / "wer"), "CSV data (*.csv)"),  # no suffix: the chosen filter's
        (str(tmp_path / "scatter.csv"), ""),
    ])
    section._ask_save_path = lambda *_: next(answers)
    errors: list[str] = []
    section._show_error = lambda _t, m: errors.append(m)
    button = section.cards["speech_wer"].export_button
    for _ in range(3):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(section.cards["speech_wer_vs_rtfx"].export_button,
                     Qt.MouseButton.LeftButton)
    assert errors == []
    assert (tmp_path / "wer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "wer.svg").read_bytes()
    rows = _csv(tmp_path / "wer.csv")
    assert len(rows) == 2 and float(rows[0]["wer"]) == section.wer_chart.data_table()[1][0][4]
    scatter = _csv(tmp_path / "scatter.csv")
    assert {r["label"] for r in scatter} == {r.label for r in section.comparison.runs}
    assert "Saved" in section.status_label.text()


def test_stale_answers_are_dropped(qtbot, section, speech_runs) -> None:  # type: ignore[no-untyped-def]
    section.set_runs([speech_runs.broken])
    section.set_runs([speech_runs.demo, speech_runs.broken])
    section.set_runs([speech_runs.broken])
    qtbot.waitUntil(lambda: not section.is_busy(), timeout=10000)
    assert [r.run_id for r in section.comparison.runs] == [speech_runs.broken]
    assert section.deltas_model.rowCount() == 0
    assert "second speech run" in section.deltas_caption.text()
    section.set_runs([])
    assert section.charts() == [] and not section.is_busy()


def test_screenshot(qtbot, section, shots_dir, speech_ctx) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    from openbench_desktop.ui.theme import apply_theme

    apply_theme(QApplication.instance(), speech_ctx.settings.theme)
    section._on_theme_changed("")
    section.show()
    qtbot.waitExposed(section)
    section.grab().save(str(shots_dir / "audio_compare.png"))
