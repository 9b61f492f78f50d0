"""Piper (piper-tts): a real voice, round trips through real recognisers, every error path.

The voice comes from ``packaging/fetch_test_models.sh`` (run by ``setup.sh --dev``) into
``.cache/test-models``; tests that need it skip, naming the script, when it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.audio import MissingDependencyError
from openbench_desktop.core.audio.runner import prepare_audio_run
from openbench_desktop.core.audio.tts import (
    TTS_PROVIDERS,
    PiperProvider,
    check_health,
    make_tts_provider,
)
from openbench_desktop.core.domain import DatasetRef, RunSpec
from openbench_desktop.core.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("OPENBENCH_TEST_MODELS_DIR") or REPO_ROOT / ".cache" / "test-models")
VOICE = MODELS / "piper" / "en_US-joe-medium.onnx"
GGML_TINY_EN = MODELS / "whisper" / "ggml-tiny.en.bin"
SENTENCES = ("The quick brown fox jumps over the lazy dog.", "Thank you very much.")

#: Tests that run the library itself; the others (wiring, "not installed") run without it.
needs_piper = pytest.mark.skipif(
    importlib.util.find_spec("piper") is None, reason="the 'piper' extra is not installed"
)


@pytest.fixture(scope="module")
def voice_path() -> Path:
    if not (VOICE.is_file() and Path(f"{VOICE}.json").is_file()):
        pytest.skip(f"{VOICE} is missing: run bash packaging/fetch_test_models.sh")
    return VOICE


@pytest.fixture(scope="module")
def piper_voice(voice_path: Path) -> Iterator[PiperProvider]:
    provider = PiperProvider(str(voice_path))
    provider.check()
    provider.load()
    yield provider
    provider.close()


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


# --- real inference -------------------------------------------------------------------------


@needs_piper
def test_piper_speaks_at_the_voice_rate_and_passes_health_checks(
    piper_voice: PiperProvider,
) -> None:
    text = " ".join(SENTENCES)  # two sentences: Piper speaks them one after the other
    synth = piper_voice.synthesize(text)
    assert synth.sample_rate == 22050  # the voice's rate, from its .onnx.json
    assert synth.samples.dtype == np.float32 and synth.samples.ndim == 1
    assert 2.0 < synth.duration_s < 8.0  # 13 words
    assert synth.first_audio_s is not None and synth.first_audio_s > 0
    health = check_health(synth.samples, synth.sample_rate, text)
    assert health.issues == (), health
    # One sentence alone is shorter than both: the chunks were joined, not replaced.
    assert piper_voice.synthesize(SENTENCES[1]).duration_s < synth.duration_s / 2
    assert piper_voice.versions()["piper-tts"]


@needs_piper
def test_length_scale_slows_the_voice(voice_path: Path) -> None:
    slow = make_tts_provider("piper", str(voice_path), options={"length_scale": "1.5"})
    assert isinstance(slow, PiperProvider) and slow.length_scale == 1.5
    slow.check()
    slow.load()
    normal = PiperProvider(str(voice_path))
    normal.load()
    assert slow.synthesize(SENTENCES[1]).duration_s > 1.3 * normal.synthesize(
        SENTENCES[1]).duration_s


@needs_piper
@pytest.mark.slow
def test_round_trip_piper_to_pocketsphinx_from_the_cli(
    voice_path: Path, texts: Path, app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--benchmark", "tts", "--provider", "piper", "--model", str(voice_path),
                 "--dataset", str(texts), "--asr-provider", "pocketsphinx", "--warmup", "0",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "completed"
    assert (summary["n_ok"], summary["n_failed"]) == (2, 0)
    assert summary["provider"] == "piper → pocketsphinx"
    # Measured: WER 0.08 (1 of 13 words). PocketSphinx is the weak link (WER ~0.65 on
    # eSpeak NG); a broken pipeline (wrong rate, silence, noise) gives ≥ 0.9.
    assert summary["wer"] is not None and summary["wer"] < 0.5
    assert summary["health_issue_counts"] == {"clipping": 0, "silence": 0, "duration": 0}
    assert summary["first_audio_s_p50"] > 0
    assert 0 < summary["rtf"] < 1  # faster than real time
    assert summary["resources"]["model_load_s"] > 0
    assert summary["versions"]["piper-tts"] and summary["versions"]["pocketsphinx"]


@needs_piper
@pytest.mark.slow
def test_round_trip_piper_to_whisper_cpp(
    voice_path: Path, texts: Path, app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pywhispercpp", reason="the 'whispercpp' extra is not installed")
    if not GGML_TINY_EN.is_file():
        pytest.skip(f"{GGML_TINY_EN} is missing: run bash packaging/fetch_test_models.sh")
    # --voice takes the Piper voice as well as --model
    code = main(["run", "--benchmark", "tts", "--provider", "piper", "--voice", str(voice_path),
                 "--dataset", str(texts), "--asr-provider", "whispercpp",
                 "--asr-model", str(GGML_TINY_EN), "--warmup", "0", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["model"] == str(voice_path)
    # Measured: WER 0. Two good local models agree on clear speech.
    assert summary["wer"] is not None and summary["wer"] <= 0.16


# --- wiring ---------------------------------------------------------------------------------


def test_factory_and_registry() -> None:
    assert "piper" in TTS_PROVIDERS
    provider = make_tts_provider("Piper", "v.onnx", options={"speaker_id": "2", "speed": 150})
    assert isinstance(provider, PiperProvider)
    assert (provider.speaker_id, provider.length_scale) == (2, None)
    with pytest.raises(ConfigError, match="speaker_id must be a whole number, not 'two'"):
        make_tts_provider("piper", "v.onnx", options={"speaker_id": "two"})


@needs_piper
def test_cli_names_a_missing_voice(
    app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "en_US-amy-low.onnx"
    code = main(["run", "--benchmark", "tts", "--provider", "piper", "--model", str(missing)])
    assert code == 2
    assert f"Piper voice {missing} does not exist" in capsys.readouterr().err


@needs_piper
def test_prepare_passes_piper_options_through(voice_path: Path) -> None:
    spec = RunSpec(provider="piper", base_url="", model=str(voice_path), benchmark="tts",
                   dataset=DatasetRef(path=None), options={"speaker_id": 1})
    with pytest.raises(ConfigError, match="has 1 speaker"):
        prepare_audio_run(spec)  # the option reached the provider's check


# --- errors ---------------------------------------------------------------------------------


def test_not_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError) as info:
        PiperProvider("v.onnx").check()
    assert str(info.value) == (
        "Piper (piper-tts) is not installed. Install the 'piper' extra: "
        "pip install 'openbench-desktop[piper]'"
    )


def test_another_package_named_piper_is_not_mistaken_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "piper", types.ModuleType("piper"))  # no PiperVoice
    with pytest.raises(MissingDependencyError, match=r"another package.*\[piper\]"):
        PiperProvider("v.onnx").check()


@needs_piper
def test_voice_errors_say_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs a voice: the path of its \.onnx file"):
        PiperProvider("").check()
    with pytest.raises(ConfigError, match="is a folder"):
        PiperProvider(str(tmp_path)).check()
    onnx = tmp_path / "v.onnx"
    with pytest.raises(ConfigError, match=r"v\.onnx does not exist"):
        PiperProvider(str(onnx)).check()
    onnx.write_bytes(b"not onnx")
    with pytest.raises(ConfigError, match=rf"expected {tmp_path}/v\.onnx\.json"):
        PiperProvider(str(onnx)).check()
    config = tmp_path / "v.onnx.json"
    config.write_text("{ not json")
    with pytest.raises(ConfigError, match="is not a Piper voice config"):
        PiperProvider(str(onnx)).check()
    config.write_text(json.dumps({"audio": {"sample_rate": 22050}, "num_speakers": 1}))
    PiperProvider(str(onnx)).check()  # cheap checks pass; the file is only read by load()
    with pytest.raises(ConfigError, match=r"length_scale must be 0\.1-10"):
        PiperProvider(str(onnx), length_scale=0).check()


@needs_piper
def test_a_damaged_voice_fails_at_load_with_its_path(voice_path: Path, tmp_path: Path) -> None:
    onnx = tmp_path / "broken.onnx"
    onnx.write_bytes(b"\x00" * 1000)
    shutil.copy(f"{voice_path}.json", f"{onnx}.json")
    provider = PiperProvider(str(onnx))
    provider.check()
    with pytest.raises(ConfigError, match=f"Piper could not load voice {onnx}"):
        provider.load()
    with pytest.raises(RuntimeError, match="load"):
        provider.synthesize("hello")
