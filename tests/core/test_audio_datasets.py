"""Speech dataset layouts, per-entry problems named by file and line, and audio reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from openbench_desktop.core.audio.datasets import (
    DEMO_DIR,
    AudioLoadError,
    load_audio,
    load_audio_dataset,
    load_text_items,
)
from openbench_desktop.core.errors import DatasetError
from tests.support.audio import tone, write_audio, write_tsv


def _clips(folder: Path, names: list[str]) -> None:
    for i, name in enumerate(names):
        write_audio(folder / name, tone(0.2 + 0.1 * i))


def test_bundled_demo_set() -> None:
    ds = load_audio_dataset(DEMO_DIR)
    assert ds.layout == "transcript"
    assert len(ds.utterances) == 10
    assert all(u.problem is None and u.reference for u in ds.utterances)
    assert [u.utt_id for u in ds.utterances][:2] == ["demo01", "demo02"]
    total = sum(p.stat().st_size for p in DEMO_DIR.glob("*.wav"))
    assert total < 1_000_000
    for u in ds.utterances:
        audio = load_audio(u.audio_path, None)  # type: ignore[arg-type]
        assert audio.source_rate == 16000 and audio.channels == 1
        assert 1.0 < audio.duration_s < 5.0
    assert len(ds.sha256()) == 64


def test_headerless_tsv_and_problems_named_by_line(tmp_path: Path) -> None:
    _clips(tmp_path, ["a.wav", "b.flac", "c.wav", "extra.wav"])
    (tmp_path / "transcripts.tsv").write_text(
        "a.wav\tHello there\n"
        "b\tno suffix given\n"  # found as b.flac
        "missing.wav\tnot on disk\n"
        "just-one-column\n"
        "c.wav\t\n",
        encoding="utf-8",
    )
    ds = load_audio_dataset(tmp_path)
    by_id = {u.utt_id: u for u in ds.utterances}
    assert by_id["a"].reference == "Hello there" and by_id["a"].problem is None
    assert by_id["b"].audio_path == (tmp_path / "b.flac").resolve()
    assert by_id["missing"].problem == (
        f"transcripts.tsv line 3: audio file missing.wav not found in {tmp_path.resolve()}"
    )
    bad = by_id["transcripts.tsv line 4"]
    assert bad.problem is not None and "line 4: expected FILE<TAB>TEXT" in bad.problem
    assert by_id["c"].reference == "" and by_id["c"].problem is None  # scored as empty later
    extra = by_id["extra.wav"]
    assert extra.problem == "extra.wav: no transcript entry for this file in transcripts.tsv"
    assert [u.index for u in ds.utterances] == list(range(6))


def test_tsv_with_header_csv_and_jsonl(tmp_path: Path) -> None:
    _clips(tmp_path / "clips", ["x.wav", "y.wav"])
    tsv = tmp_path / "test.tsv"
    tsv.write_text("client_id\tpath\tsentence\nc1\tclips/x.wav\tFirst one\n", encoding="utf-8")
    ds = load_audio_dataset(tsv)  # a file: only its entries, no folder scan
    assert [(u.utt_id, u.reference) for u in ds.utterances] == [("x", "First one")]

    csv_path = tmp_path / "set.csv"
    csv_path.write_text('id,file,text\nu1,clips/y.wav,"Yes, a comma"\n', encoding="utf-8")
    ds = load_audio_dataset(csv_path)
    assert [(u.utt_id, u.reference) for u in ds.utterances] == [("u1", "Yes, a comma")]

    jsonl = tmp_path / "manifest.jsonl"
    jsonl.write_text(
        json.dumps({"audio_filepath": "clips/x.wav", "text": "nemo style", "duration": 0.2})
        + "\n{not json\n",
        encoding="utf-8",
    )
    ds = load_audio_dataset(jsonl)
    assert ds.utterances[0].reference == "nemo style"
    assert ds.utterances[1].problem == "manifest.jsonl line 2: not valid JSON " \
        "(Expecting property name enclosed in double quotes)"


def test_header_without_text_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("file,words\na.wav,hi\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_audio_dataset(path)
    assert str(info.value).startswith(f"{path}, line 1: the header")
    assert "transcription" in str(info.value)


def test_hf_audiofolder_layout(tmp_path: Path) -> None:
    _clips(tmp_path / "data", ["one.wav", "two.wav", "stray.wav"])
    (tmp_path / "metadata.csv").write_text(
        "file_name,transcription\ndata/one.wav,One\ndata/two.wav,Two\n", encoding="utf-8"
    )
    ds = load_audio_dataset(tmp_path)
    assert ds.layout == "audiofolder"
    assert [u.reference for u in ds.utterances[:2]] == ["One", "Two"]
    assert ds.utterances[2].problem == (
        "data/stray.wav: no transcript entry for this file in metadata.csv"
    )


def test_librispeech_layout(tmp_path: Path) -> None:
    chapter = tmp_path / "test-clean" / "61" / "70968"
    _clips(chapter, ["61-70968-0000.flac", "61-70968-0001.flac", "61-70968-0002.flac"])
    (chapter / "61-70968.trans.txt").write_text(
        "61-70968-0000 HE BEGAN A CONFUSED COMPLAINT\n61-70968-0001 GIVE NOT SO EARNEST\n",
        encoding="utf-8",
    )
    ds = load_audio_dataset(tmp_path)
    assert ds.layout == "librispeech"
    assert ds.utterances[0].utt_id == "61-70968-0000"
    assert ds.utterances[1].reference == "GIVE NOT SO EARNEST"
    assert ds.utterances[2].problem is not None
    assert "no transcript entry" in ds.utterances[2].problem
    assert "61-70968.trans.txt" in ds.utterances[2].problem


def test_folder_without_transcript_says_what_to_add(tmp_path: Path) -> None:
    _clips(tmp_path, ["a.wav"])
    with pytest.raises(DatasetError, match=r"found 1 audio file.*no transcript.*metadata\.csv"):
        load_audio_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such file"):
        load_audio_dataset(tmp_path / "nope")
    (tmp_path / "a.tsv").write_text("a.wav\thi\n", encoding="utf-8")
    (tmp_path / "b.tsv").write_text("a.wav\thi\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"several transcript files here \(a.tsv, b.tsv\)"):
        load_audio_dataset(tmp_path)


def test_nothing_usable_is_an_error(tmp_path: Path) -> None:
    write_tsv(tmp_path / "t.tsv", {"gone.wav": "x"})
    with pytest.raises(DatasetError, match="none of the 1 entries is usable"):
        load_audio_dataset(tmp_path)


def test_load_audio_downmixes_and_resamples(tmp_path: Path) -> None:
    left, right = tone(1.5, 44100, 440.0), tone(1.5, 44100, 660.0)
    path = write_audio(tmp_path / "st.flac", np.stack([left, right], axis=1), 44100)
    audio = load_audio(path, 16000)
    assert audio.source_rate == 44100 and audio.channels == 2
    assert audio.sample_rate == 16000
    assert audio.duration_s == pytest.approx(1.5)
    assert len(audio.samples) == pytest.approx(24000, abs=2)
    assert audio.samples.dtype == np.float32
    # the downmix is the mean of the channels: a 440 + 660 Hz mix at half amplitude each
    assert float(np.max(np.abs(audio.samples))) < 0.31


def test_load_audio_errors_name_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100))
    with pytest.raises(AudioLoadError, match=r"^broken.wav: cannot read audio"):
        load_audio(corrupt, 16000)
    m4a = tmp_path / "talk.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A ")
    with pytest.raises(AudioLoadError, match=r"^talk.m4a: unsupported audio format .m4a"):
        load_audio(m4a, 16000)
    empty = write_audio(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioLoadError, match="holds no audio"):
        load_audio(empty, 16000)


def test_text_items_for_synthesis(tmp_path: Path) -> None:
    items, _, identity = load_text_items(None)
    assert len(items) == 10 and items[0].text.startswith("Please open the window")
    assert identity is not None and identity.name == "transcripts.tsv"
    txt = tmp_path / "lines.txt"
    txt.write_text("First line.\n\n  Second line.  \n", encoding="utf-8")
    items, _, _ = load_text_items(txt)
    assert [(i.index, i.item_id, i.text) for i in items] == [
        (0, "line1", "First line."), (1, "line3", "Second line."),
    ]
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no text lines"):
        load_text_items(tmp_path / "empty.txt")
