"""whisper.cpp (pywhispercpp): a real tiny.en model on a real clip, and every error path.

The model comes from ``packaging/fetch_test_models.sh`` (run by ``setup.sh --dev``) into
``.cache/test-models``; tests that need it skip, naming the script, when it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.audio import MissingDependencyError
from openbench_desktop.core.audio.asr import (
    ASR_PROVIDERS,
    Clip,
    WhisperCppProvider,
    inspect_ggml_model,
    make_asr_provider,
)
from openbench_desktop.core.audio.datasets import load_audio
from openbench_desktop.core.audio.metrics import word_counts
from openbench_desktop.core.audio.normalize import whisper_normalize
from openbench_desktop.core.audio.runner import AudioOptions, prepare_audio_run
from openbench_desktop.core.domain import DatasetRef, RunSpec
from openbench_desktop.core.errors import ConfigError
from tests.support.audio import write_tsv

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("OPENBENCH_TEST_MODELS_DIR") or REPO_ROOT / ".cache" / "test-models")
GGML_TINY_EN = MODELS / "whisper" / "ggml-tiny.en.bin"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)

#: Tests that run the library itself; the others (wiring, "not installed") run without it.
needs_whispercpp = pytest.mark.skipif(
    importlib.util.find_spec("pywhispercpp") is None,
    reason="the 'whispercpp' extra is not installed",
)


@pytest.fixture(scope="module")
def ggml_model() -> Path:
    if not GGML_TINY_EN.is_file():
        pytest.skip(f"{GGML_TINY_EN} is missing: run bash packaging/fetch_test_models.sh")
    return GGML_TINY_EN


@pytest.fixture(scope="module")
def whisper(ggml_model: Path) -> Iterator[WhisperCppProvider]:
    provider = WhisperCppProvider(str(ggml_model), options={"n_threads": 2})
    provider.check()
    provider.load()
    yield provider
    provider.close()


# --- real inference -------------------------------------------------------------------------


@needs_whispercpp
@pytest.mark.slow
def test_tiny_en_transcribes_jfk(whisper: WhisperCppProvider, shared_datasets: Path) -> None:
    clip = Clip(None, load_audio(shared_datasets / "speech" / "jfk.flac", 16000))
    started = time.perf_counter()
    hypothesis = whisper.transcribe(clip)
    elapsed = time.perf_counter() - started
    counts = word_counts(whisper_normalize(JFK_TEXT), whisper_normalize(hypothesis))
    # Measured: WER 0 (the transcript word for word). tiny.en is the smallest English
    # Whisper; the bound allows a word or two on another CPU, a broken pipeline (wrong
    # rate, stereo samples, a bad conversion) gives ≥ 0.8.
    assert counts.ref_len == 22
    assert counts.rate is not None and counts.rate <= 0.1, hypothesis
    assert elapsed < 11.0  # faster than real time even on a slow CI core
    # Greedy decoding, no context between clips: the same clip gives the same words.
    assert whisper.transcribe(clip) == hypothesis
    assert whisper.versions()["pywhispercpp"]


@needs_whispercpp
@pytest.mark.slow
def test_asr_run_from_the_cli(
    ggml_model: Path,
    shared_datasets: Path,
    app_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "speech"
    data.mkdir()
    shutil.copy(shared_datasets / "speech" / "jfk.flac", data / "jfk.flac")
    write_tsv(data / "transcripts.tsv", {"jfk.flac": JFK_TEXT})
    code = main(
        ["run", "--benchmark", "asr", "--provider", "whispercpp", "--model", str(ggml_model),
         "--dataset", str(data), "--warmup", "1", "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "completed" and summary["n_ok"] == 1
    assert summary["model"] == str(ggml_model)
    assert summary["wer"] <= 0.1
    assert summary["rtfx"] > 1.0  # tiny.en runs several times faster than real time
    assert summary["resources"]["model_load_s"] > 0  # load timed apart from processing
    assert summary["resources"]["warmup_clips"] == 1
    assert summary["versions"]["pywhispercpp"]


# --- wiring ---------------------------------------------------------------------------------


def test_factory_names_and_options() -> None:
    assert "whispercpp" in ASR_PROVIDERS
    for name in ("whispercpp", "whisper.cpp", "WhisperCpp"):
        provider = make_asr_provider(name, "m.bin", language="de", options={"n_threads": 3})
        assert isinstance(provider, WhisperCppProvider)
        assert provider.n_threads == 3 and provider.language == "de"
    default = WhisperCppProvider("m.bin")
    assert default.n_threads == len(os.sched_getaffinity(0))  # every core by default
    spec = RunSpec(provider="whispercpp", base_url="", model="m.bin", benchmark="asr",
                   options={"n_threads": 2, "beam_size": 5, "voice": "x"})
    assert dict(AudioOptions.from_spec(spec).extra) == {"n_threads": 2, "beam_size": 5}


@needs_whispercpp
def test_cli_accepts_the_provider_and_names_a_missing_model(
    app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ggml-base.en.bin"
    code = main(["run", "--benchmark", "asr", "--provider", "whispercpp",
                 "--model", str(missing), "--json"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"whisper.cpp model {missing} does not exist" in err
    # the round trip's recogniser may be whisper.cpp too
    code = main(["run", "--benchmark", "tts", "--asr-provider", "whispercpp",
                 "--asr-model", str(missing), "--json"])
    assert code == 2 and str(missing) in capsys.readouterr().err


@needs_whispercpp
def test_prepare_checks_the_round_trip_recogniser(tmp_path: Path) -> None:
    spec = RunSpec(provider="espeak", base_url="", model="en-us", benchmark="tts",
                   dataset=DatasetRef(path=None),
                   options={"asr_provider": "whispercpp", "asr_model": str(tmp_path / "x.bin")})
    with pytest.raises(ConfigError, match=r"x\.bin does not exist"):
        prepare_audio_run(spec)


# --- errors ---------------------------------------------------------------------------------


def test_not_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pywhispercpp", None)  # import now raises ImportError
    monkeypatch.setitem(sys.modules, "pywhispercpp.model", None)
    with pytest.raises(MissingDependencyError) as info:
        WhisperCppProvider("base.en").check()
    assert str(info.value) == (
        "pywhispercpp (whisper.cpp) is not installed. Install the 'whispercpp' extra: "
        "pip install 'openbench-desktop[whispercpp]'"
    )


@needs_whispercpp
def test_model_errors_say_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model: a ggml model file"):
        WhisperCppProvider("").check()
    with pytest.raises(ConfigError, match=f"{tmp_path} is a folder, not a model file"):
        WhisperCppProvider(str(tmp_path)).check()
    with pytest.raises(ConfigError, match=r"nope\.bin does not exist"):
        WhisperCppProvider(str(tmp_path / "nope.bin")).check()
    with pytest.raises(ConfigError, match=r"no model named 'huge\.en'.*tiny\.en"):
        WhisperCppProvider("huge.en").check()
    with pytest.raises(ConfigError, match="n_threads must be a whole number"):
        WhisperCppProvider("tiny.en", options={"n_threads": "many"}).check()
    WhisperCppProvider("tiny.en").check()  # a known name passes; load() would download it


@needs_whispercpp
def test_files_that_are_not_whisper_models_are_refused_before_whisper_cpp(
    tmp_path: Path,
) -> None:
    # whisper.cpp returns a null context for these and the first transcription would crash
    # the process, so the file is checked first.
    text = tmp_path / "notes.bin"
    text.write_text("not a model")
    with pytest.raises(ConfigError, match=r"is not a whisper\.cpp model"):
        WhisperCppProvider(str(text)).check()
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ConfigError, match="is a GGUF file"):
        WhisperCppProvider(str(gguf)).load()
    header = tmp_path / "header-only.bin"
    header.write_bytes(struct.pack("<I11i", 0x67676D6C, 51864, 1500, 384, 6, 4,
                                   448, 384, 6, 4, 80, 1))
    with pytest.raises(ConfigError, match="is truncated or damaged"):
        WhisperCppProvider(str(header)).check()


@needs_whispercpp
def test_truncated_real_model_is_refused(ggml_model: Path, tmp_path: Path) -> None:
    hparams = inspect_ggml_model(ggml_model)
    assert (hparams["n_vocab"], hparams["n_audio_layer"], hparams["n_mels"]) == (51864, 4, 80)
    cut = tmp_path / "ggml-tiny.en.bin"
    with ggml_model.open("rb") as src:
        cut.write_bytes(src.read(5_000_000))
    with pytest.raises(ConfigError, match=r"truncated or damaged \(5,000,000 bytes\)"):
        WhisperCppProvider(str(cut)).check()


def test_transcribe_before_load_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="load"):
        WhisperCppProvider("tiny.en").transcribe(Clip(None, None))  # type: ignore[arg-type]
