"""``openbench-desktop run --benchmark asr|tts`` end to end: offline, real models, real SQLite."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.audio.normalize import whisper_normalize
from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.export.samples import read_export
from openbench_desktop.core.storage import Store
from tests.support.audio import copy_demo_clips, write_tsv


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_asr_pocketsphinx_json_summary_and_export(
    app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "speech"
    texts = copy_demo_clips(data, ["demo08.wav", "demo03.wav"])  # the two shortest
    write_tsv(data / "transcripts.tsv", texts)
    code, out, err = _run(
        capsys,
        ["run", "--benchmark", "asr", "--provider", "pocketsphinx", "--dataset", str(data),
         "--warmup", "0", "--json"],
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "completed"
    assert summary["benchmark"] == "asr" and summary["model"] == "en-us"
    assert (summary["n_samples"], summary["n_ok"], summary["n_failed"]) == (2, 2, 0)
    assert 0.0 <= summary["wer"] <= 1.5 and 0.0 <= summary["cer"] <= 1.5
    lo, hi = summary["wer_ci"]
    assert lo <= summary["wer"] <= hi
    assert summary["rtfx"] > 0
    assert summary["normalizer"] == "whisper"
    assert summary["resources"]["model_load_s"] > 0
    assert "audio" not in summary  # flattened to the top level

    # runs show gives the same figures back from the database
    code, out, _ = _run(capsys, ["runs", "show", summary["run_id"][:8], "--json"])
    shown = json.loads(out)
    assert code == 0 and shown["wer"] == summary["wer"] and shown["rtfx"] == summary["rtfx"]

    # export: every utterance with its texts, normalized texts and edit counts
    out_csv = tmp_path / "asr.csv"
    assert main(["export", summary["run_id"], "--format", "csv", "--out", str(out_csv)]) == 0
    rows = read_export(out_csv)
    assert [r["reference"] for r in rows] == list(texts.values())
    for row in rows:
        assert row["reference_normalized"] == whisper_normalize(row["reference"])
        assert row["hypothesis_normalized"] == whisper_normalize(row["hypothesis"])
        assert row["audio_path"].endswith(".wav") and row["audio_s"] > 1.0
    errors = sum(r["substitutions"] + r["deletions"] + r["insertions"] for r in rows)
    assert errors / sum(r["ref_words"] for r in rows) == pytest.approx(summary["wer"])

    # the human-readable summary
    code, out, _ = _run(capsys, ["runs", "show", summary["run_id"]])
    assert "WER" in out and "RTFx" in out and "bootstrap" in out and "peak RSS" in out
    assert "accuracy" not in out and "tokens" not in out


def test_tts_round_trip_from_the_cli(
    app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("Thank you very much.\n", encoding="utf-8")
    code, out, err = _run(
        capsys,
        ["run", "--benchmark", "tts", "--dataset", str(texts), "--warmup", "0",
         "--voice", "en-us", "--asr-provider", "pocketsphinx"],
    )
    assert code == 0, err
    assert "tts on en-us" in out
    assert "WER" in out and "health    1 clip(s) healthy" in out
    with Store.open(AppPaths.resolve(str(app_home))) as store:
        (record,) = store.list_runs()
    assert record.provider == "espeak" and record.benchmark == "tts"
    assert record.summary is not None and record.summary.audio is not None
    assert record.summary.audio["provider"] == "espeak → pocketsphinx"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--benchmark", "asr", "--provider", "openai"], "--provider openai serves chat models"),
        (["--benchmark", "gsm8k", "--provider", "pocketsphinx"],
         "--provider pocketsphinx runs speech benchmarks only"),
        (["--benchmark", "gsm8k", "--model", "m"], "--base-url is required"),
        (["--benchmark", "gsm8k", "--base-url", "http://127.0.0.1:9/v1"], "--model is required"),
        (["--benchmark", "asr", "--hub-id", "x/y"], "use --dataset DIR, not --hub-id"),
        (["--benchmark", "asr", "--provider", "espeak"],
         "cannot run a speech recognition benchmark"),
        (["--benchmark", "asr", "--provider", "faster-whisper", "--model", "./no/such/dir"],
         "faster-whisper"),
    ],
)
def test_bad_speech_arguments_exit_2_with_one_message(
    app_home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = _run(capsys, ["run", *argv])
    assert code == 2
    assert needle in err and err.startswith("error: ")
    assert out == ""


def test_dataset_and_dependency_problems_are_reported_before_storing(
    app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(capsys, ["run", "--benchmark", "asr", "--dataset", str(empty)])
    assert code == 2 and f"error: {empty}: found 0 audio file(s) but no transcript" in err

    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    code, _, err = _run(capsys, ["run", "--benchmark", "asr"])
    assert code == 2
    assert "PocketSphinx (local speech recognition) is not installed" in err
    assert "pip install 'openbench-desktop[audio]'" in err
    with Store.open(AppPaths.resolve(str(app_home))) as store:
        assert store.list_runs() == []


def test_benchmarks_lists_the_speech_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["benchmarks"])
    assert code == 0
    assert "asr" in out and "Speech recognition" in out and "tts" in out


BLOCK_AUDIO_LIBS = """
import importlib, pkgutil, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pocketsphinx", "soundfile", "soxr", "jiwer", "faster_whisper"):
            raise ImportError(f"{name} is blocked")
        return None

sys.meta_path.insert(0, Block())
import openbench_desktop.core.audio as audio
for m in pkgutil.walk_packages(audio.__path__, "openbench_desktop.core.audio."):
    importlib.import_module(m.name)
from openbench_desktop.cli import main
sys.exit(main(["--home", sys.argv[1], "run", "--benchmark", "asr"]))
"""


def test_without_the_audio_extra_the_cli_starts_and_names_it(tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import REPO_ROOT

    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_AUDIO_LIBS, str(tmp_path / "home")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "error: PocketSphinx (local speech recognition) is not installed. Install the "
        "'audio' extra: pip install 'openbench-desktop[audio]'"
    )
