"""Speech recognition providers: PocketSphinx for real, the others against fakes."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openbench_desktop.core.audio import MissingDependencyError
from openbench_desktop.core.audio.asr import (
    Clip,
    FasterWhisperProvider,
    OpenAITranscriptionProvider,
    PocketSphinxProvider,
    make_asr_provider,
)
from openbench_desktop.core.audio.datasets import DEMO_DIR, load_audio
from openbench_desktop.core.audio.metrics import word_counts
from openbench_desktop.core.audio.normalize import whisper_normalize
from openbench_desktop.core.domain import ErrorCategory
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.providers.base import ProviderError
from tests.support.audio import Reply, SeenRequest, audio_server, json_reply, tone, write_audio

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def _clip(path: Path, rate: int | None = 16000) -> Clip:
    return Clip(path, load_audio(path, rate))


@pytest.fixture(scope="module")
def sphinx() -> PocketSphinxProvider:
    provider = PocketSphinxProvider()
    provider.check()
    provider.load()
    return provider


@pytest.mark.slow
def test_pocketsphinx_on_jfk_gives_a_plausible_wer(
    sphinx: PocketSphinxProvider, shared_datasets: Path
) -> None:
    # Measured here: WER 0.23 (5 substitutions over 22 words). The bound leaves room for
    # other CPUs and PocketSphinx builds while still catching a broken pipeline (a wrong
    # sample rate or byte order gives WER ≥ 0.9).
    clip = _clip(shared_datasets / "speech" / "jfk.flac")
    assert clip.audio.source_rate == 44100 and clip.audio.sample_rate == 16000
    assert clip.audio.duration_s == pytest.approx(11.0, abs=0.1)
    hypothesis = sphinx.transcribe(clip)
    counts = word_counts(whisper_normalize(JFK_TEXT), whisper_normalize(hypothesis))
    assert counts.ref_len == 22
    assert counts.rate is not None and counts.rate < 0.45, hypothesis


def test_pocketsphinx_result_does_not_depend_on_clip_order(sphinx: PocketSphinxProvider) -> None:
    # Without resetting the decoder's feature state between clips, the second pass over
    # this clip heard "a fresh bread" where the first heard "three and" (measured).
    clip = _clip(DEMO_DIR / "demo03.wav")
    first = sphinx.transcribe(clip)
    assert first  # it heard something
    assert sphinx.transcribe(clip) == first


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError) as info:
        PocketSphinxProvider().check()
    assert str(info.value) == (
        "PocketSphinx (local speech recognition) is not installed. Install the 'audio' "
        "extra: pip install 'openbench-desktop[audio]'"
    )
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(MissingDependencyError, match=r"openbench-desktop\[whisper\]"):
        FasterWhisperProvider("small.en").check()


def test_unknown_provider_and_model() -> None:
    with pytest.raises(ConfigError, match="pocketsphinx, faster-whisper, openai-audio"):
        make_asr_provider("vosk")
    with pytest.raises(ConfigError, match="bundled US English model"):
        PocketSphinxProvider("de-de").check()


class _FakeWhisperModel:
    created: list[tuple[str, dict[str, Any]]] = []  # noqa: RUF012 - a test recorder

    def __init__(self, source: str, **kwargs: Any) -> None:
        self.created.append((source, kwargs))

    def transcribe(self, samples: Any, **kwargs: Any) -> tuple[Any, Any]:
        assert samples.dtype == np.float32
        assert kwargs["language"] == "en" and kwargs["beam_size"] == 5
        segments = (types.SimpleNamespace(text=t) for t in (" Hello", " world. "))
        return segments, types.SimpleNamespace(language="en")


@pytest.fixture
def fake_faster_whisper(monkeypatch: pytest.MonkeyPatch) -> type[_FakeWhisperModel]:
    module = types.ModuleType("faster_whisper")
    module.WhisperModel = _FakeWhisperModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "faster_whisper", module)
    _FakeWhisperModel.created = []
    return _FakeWhisperModel


def test_faster_whisper_loads_a_local_folder_lazily(
    fake_faster_whisper: type[_FakeWhisperModel], tmp_path: Path
) -> None:
    folder = tmp_path / "whisper-tiny-ct2"
    folder.mkdir()
    provider = FasterWhisperProvider(str(folder))
    with pytest.raises(ConfigError, match=r"has no model\.bin"):
        provider.check()
    (folder / "model.bin").write_bytes(b"\0")
    provider.check()
    assert fake_faster_whisper.created == []  # check() never loads
    provider.load()
    assert fake_faster_whisper.created == [
        (str(folder), {"device": "auto", "compute_type": "default"})
    ]
    audio = load_audio(write_audio(tmp_path / "t.wav", tone(0.5)), 16000)
    assert provider.transcribe(Clip(None, audio)) == "Hello world."


def test_faster_whisper_model_errors(fake_faster_whisper: type[_FakeWhisperModel]) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        FasterWhisperProvider("").check()
    with pytest.raises(ConfigError, match=r"folder .*no-such-dir does not exist"):
        FasterWhisperProvider("./models/no-such-dir").check()
    named = FasterWhisperProvider("Systran/faster-whisper-small.en")
    named.check()  # a Hub id: faster-whisper downloads it on a machine with internet
    named.load()
    assert fake_faster_whisper.created[-1][0] == "Systran/faster-whisper-small.en"


def test_openai_transcriptions_sends_the_file_and_reads_text(tmp_path: Path) -> None:
    flac = write_audio(tmp_path / "clip.flac", tone(0.4, 22050), 22050)
    aiff = write_audio(tmp_path / "clip.aiff", tone(0.4, 22050), 22050)

    def respond(req: SeenRequest) -> Reply:
        return json_reply({"text": "Heard you."})

    with audio_server(respond) as server:
        provider = OpenAITranscriptionProvider(
            "whisper-large-v3", base_url=server.base_url, api_key="fake-local-123"
        )
        provider.check()
        provider.load()
        try:
            assert provider.transcribe(_clip(flac, None)) == "Heard you."
            assert provider.transcribe(_clip(aiff, None)) == "Heard you."
        finally:
            provider.close()
    first, second = server.requests
    assert first.path == "/v1/audio/transcriptions"
    assert first.headers["authorization"] == "Bearer fake-local-123"
    assert first.form == {
        "model": "whisper-large-v3", "response_format": "json", "temperature": "0",
        "language": "en",
    }
    assert first.files["file"] == ("clip.flac", flac.read_bytes())
    name, data = second.files["file"]  # AIFF is not an upload format: sent as WAV
    assert name == "clip.wav" and data[:4] == b"RIFF"


def test_openai_transcriptions_retries_then_reports(tmp_path: Path) -> None:
    wav = write_audio(tmp_path / "c.wav", tone(0.2))
    replies = [json_reply({"error": {"message": "busy"}}, 503), json_reply({"text": "ok"})]
    with audio_server(lambda req: replies.pop(0)) as server:
        provider = OpenAITranscriptionProvider(base_url=server.base_url, attempts=2)
        provider.load()
        assert provider.transcribe(_clip(wav, None)) == "ok"
        assert len(server.requests) == 2
        provider.close()

    with audio_server(lambda req: json_reply({"error": {"message": "bad key"}}, 401)) as server:
        provider = OpenAITranscriptionProvider(base_url=server.base_url, api_key="fake-secret-999")
        provider.load()
        with pytest.raises(ProviderError) as info:
            provider.transcribe(_clip(wav, None))
        provider.close()
    assert info.value.category is ErrorCategory.AUTH
    assert "fake-secret-999" not in str(info.value)
    assert len(server.requests) == 1  # an auth failure is final

    with audio_server(lambda req: json_reply({"transcript": "wrong field"})) as server:
        provider = OpenAITranscriptionProvider(base_url=server.base_url)
        provider.load()
        with pytest.raises(ProviderError, match="without a 'text' field") as info:
            provider.transcribe(_clip(wav, None))
        provider.close()
    assert info.value.category is ErrorCategory.PARSE


def test_openai_transcriptions_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="must start with http"):
        OpenAITranscriptionProvider(base_url="").check()
