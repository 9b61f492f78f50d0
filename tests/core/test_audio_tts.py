"""Speech synthesis: eSpeak NG for real, the HTTP provider against a fake, health checks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from openbench_desktop.core.audio import MissingDependencyError
from openbench_desktop.core.audio.tts import (
    EspeakProvider,
    OpenAISpeechProvider,
    check_health,
    make_tts_provider,
)
from openbench_desktop.core.domain import ErrorCategory
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.providers.base import ProviderError
from tests.support.audio import Reply, audio_server, json_reply, tone, wav_bytes

SENTENCE = "The quick brown fox jumps over the lazy dog."


def test_espeak_synthesizes_healthy_speech() -> None:
    provider = make_tts_provider("espeak", "en-us")
    provider.check()
    provider.load()
    out = provider.synthesize(SENTENCE)
    assert out.sample_rate == 22050 and out.samples.dtype == np.float32
    assert 1.5 < out.duration_s < 6.0
    health = check_health(out.samples, out.sample_rate, SENTENCE)
    assert health.issues == ()
    assert health.clipping_ratio == 0.0
    assert 0.0 < health.silence_ratio < 0.5
    assert health.words_per_s is not None and 1.0 < health.words_per_s < 6.0
    assert "espeak-ng" in provider.versions()


def test_espeak_reads_text_that_looks_like_an_option() -> None:
    out = EspeakProvider().synthesize("--help me")  # on stdin: never parsed as a flag
    assert out.duration_s > 0.3


def test_espeak_missing_or_misconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="80-450 words per minute"):
        EspeakProvider(speed=20).check()
    with pytest.raises(ConfigError, match="no voice 'no-such-voice-xx'"):
        EspeakProvider("no-such-voice-xx").check()
    with pytest.raises(ConfigError, match="no voice 'en-us\\+nope'"):
        EspeakProvider("en-us+nope").check()
    for voice in ("en-us", "en", "en-GB", "en-us+klatt2", "English_(America)"):
        EspeakProvider(voice).check()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="apt-get install espeak-ng"):
        EspeakProvider().check()


def test_health_flags_clipping_silence_and_duration() -> None:
    rate = 16000
    loud = np.clip(tone(3.0, rate, amp=1.5), -1.0, 1.0)
    h = check_health(loud, rate, "one two three four five six seven eight")
    assert "clipping" in h.issues and h.clipping_ratio > 0.1

    quiet = np.concatenate([tone(0.5, rate), np.zeros(rate * 3, dtype=np.float32)])
    h = check_health(quiet, rate, "one two three")
    assert "silence" in h.issues
    assert h.silence_ratio == pytest.approx(3.0 / 3.5, abs=0.01)

    # 20 words in 0.5 s (40 words/s) and 3 words in 30 s (0.1 words/s)
    assert "duration" in check_health(tone(0.5, rate), rate, " ".join(["word"] * 20)).issues
    assert "duration" in check_health(tone(30.0, rate), rate, "three short words").issues
    assert check_health(tone(0.6, rate), rate, "Hi").issues == ()  # short text, short clip
    empty = check_health(np.zeros(0, dtype=np.float32), rate, "something to say here")
    assert empty.issues == ("duration", "silence")


def test_openai_speech_streams_wav_and_times_first_audio() -> None:
    body = wav_bytes(tone(1.0, 24000), 24000)
    with audio_server(lambda req: Reply(200, body, "audio/wav")) as server:
        provider = OpenAISpeechProvider("tts-1", base_url=server.base_url, voice="nova")
        provider.check()
        provider.load()
        out = provider.synthesize("Hello there.")
        provider.close()
    assert server.requests[0].path == "/v1/audio/speech"
    assert server.requests[0].json == {
        "model": "tts-1", "input": "Hello there.", "voice": "nova", "response_format": "wav",
    }
    assert out.sample_rate == 24000 and out.duration_s == pytest.approx(1.0)
    assert out.first_audio_s is not None and out.first_audio_s > 0


def test_openai_speech_errors() -> None:
    with audio_server(lambda req: json_reply({"error": {"message": "no such model"}}, 404)) as s:
        provider = OpenAISpeechProvider("nope", base_url=s.base_url)
        provider.load()
        with pytest.raises(ProviderError) as info:
            provider.synthesize("x")
        provider.close()
    assert info.value.status_code == 404
    with audio_server(lambda req: Reply(200, b"not audio", "audio/wav")) as s:
        provider = OpenAISpeechProvider(base_url=s.base_url)
        provider.load()
        with pytest.raises(ProviderError, match="could not be decoded") as info:
            provider.synthesize("x")
        provider.close()
    assert info.value.category is ErrorCategory.PARSE
    with pytest.raises(ConfigError, match="espeak, openai-audio"):
        make_tts_provider("coqui")  # piper is a provider now
