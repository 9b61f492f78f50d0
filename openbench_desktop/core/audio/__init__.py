"""Speech benchmarks: recognition (ASR) and synthesis (TTS), Qt-free.

Modules:

- :mod:`.datasets` — audio folders with transcripts (TSV/CSV/JSONL, Hugging Face
  audiofolder ``metadata.csv``, LibriSpeech ``*.trans.txt``); reading and resampling audio.
- :mod:`.normalize` — text normalizers applied before scoring (``whisper``, ``basic``, ``raw``).
- :mod:`.metrics` — corpus WER/CER, per-utterance edit counts, bootstrap intervals, RTFx.
- :mod:`.asr` / :mod:`.tts` — providers (PocketSphinx, faster-whisper, whisper.cpp,
  OpenAI-compatible endpoints; eSpeak NG, Piper, OpenAI-compatible ``/audio/speech``) and
  TTS health checks.
- :mod:`.runner` — runs an ASR or TTS benchmark and stores it like any other run.

Heavy or optional libraries (numpy is a core dependency; soundfile, soxr, jiwer and
pocketsphinx come with the ``audio`` extra, faster-whisper with ``whisper``, pywhispercpp
with ``whispercpp``, piper-tts with ``piper``) are imported only when used, so importing
this package costs nothing and works without the extras.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from openbench_desktop.core.errors import ConfigError

__all__ = [
    "ASR_BENCHMARK",
    "AUDIO_BENCHMARKS",
    "AUDIO_EXTRA",
    "TTS_BENCHMARK",
    "MissingDependencyError",
    "require",
]

ASR_BENCHMARK = "asr"
TTS_BENCHMARK = "tts"
AUDIO_BENCHMARKS = frozenset({ASR_BENCHMARK, TTS_BENCHMARK})
AUDIO_EXTRA = "audio"


class MissingDependencyError(ConfigError):
    """An optional library or program is not installed; the message says how to get it."""

    def __init__(self, what: str, *, extra: str | None = None, hint: str | None = None) -> None:
        self.what = what
        self.extra = extra
        if hint is None:
            hint = f"pip install 'openbench-desktop[{extra}]'" if extra else "install it"
        install = f"the '{extra}' extra" if extra else "it"
        super().__init__(f"{what} is not installed. Install {install}: {hint}")


def require(module: str, what: str, *, extra: str = AUDIO_EXTRA) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(what, extra=extra) from exc
