"""Speech synthesis providers, clip health checks, and the round-trip intelligibility test.

Providers follow the ASR providers' life cycle (``check`` → ``load`` → ``synthesize`` per
text → ``close``):

- ``espeak``: eSpeak NG (the ``espeak-ng`` program, Debian package ``espeak-ng``), run once
  per text with the text on standard input and a WAV on standard output. ``model`` is the
  voice (``en-us``); option ``speed`` is words per minute (150).
- ``openai-audio``: any OpenAI-compatible ``POST {base_url}/audio/speech`` returning WAV;
  the reply is streamed, so the time to its first audio bytes is measured.
- ``piper``: Piper (the ``piper`` extra, ``piper-tts``) with a local voice file; ``model``
  is the voice's ``.onnx`` path. The time to the first sentence's audio is measured.

Health checks (:func:`check_health`), each defined in ``docs/METRICS.md``:

- **clipping ratio**: share of samples with ``|x| ≥ 0.999`` full scale; flagged above 0.1%;
- **silence ratio**: share of 20 ms frames whose RMS is below −50 dBFS; flagged above 50%;
- **implausible duration**: fewer than 1 or more than 6 words per second over the clip
  for texts of three words or more (shorter texts: a clip shorter than 0.2 s or longer than
  10 s), or no audio at all.

Round trip (:mod:`.runner`): synthesise → resample to the recogniser's rate → transcribe
with an ASR provider → WER against the input text, after the same normalizer.
"""

from __future__ import annotations

import abc
import io
import json
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from openbench_desktop.core.audio import MissingDependencyError, require
from openbench_desktop.core.audio.endpoint import check_base_url, open_client, status_error
from openbench_desktop.core.domain import ErrorCategory
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.providers.base import ProviderError

__all__ = [
    "CLIPPING_LEVEL",
    "TTS_PROVIDERS",
    "EspeakProvider",
    "Health",
    "OpenAISpeechProvider",
    "PiperProvider",
    "Synthesis",
    "TtsProvider",
    "check_health",
    "make_tts_provider",
]

CLIPPING_LEVEL = 0.999
CLIPPING_MAX_RATIO = 0.001
SILENCE_DBFS = -50.0
SILENCE_FRAME_S = 0.020
SILENCE_MAX_RATIO = 0.5
MIN_WORDS_PER_S = 1.0
MAX_WORDS_PER_S = 6.0


@dataclass(frozen=True, slots=True)
class Synthesis:
    samples: Any  # numpy float32 mono
    sample_rate: int
    first_audio_s: float | None = None  # streamed replies only

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate) if self.sample_rate else 0.0


@dataclass(frozen=True, slots=True)
class Health:
    duration_s: float
    clipping_ratio: float
    silence_ratio: float
    words_per_s: float | None
    issues: tuple[str, ...]  # "clipping", "silence", "duration"; empty when healthy


def check_health(samples: Any, sample_rate: int, text: str) -> Health:
    """The three health checks of one synthesised clip (thresholds in the module doc)."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float32)
    n_words = len(text.split())
    duration = len(x) / float(sample_rate) if sample_rate else 0.0
    if len(x) == 0:
        return Health(0.0, 0.0, 1.0, 0.0 if n_words else None, ("duration", "silence"))
    clipping = float(np.mean(np.abs(x) >= CLIPPING_LEVEL))
    frame = max(1, round(sample_rate * SILENCE_FRAME_S))
    n_frames = max(1, len(x) // frame)
    frames = x[: n_frames * frame].reshape(n_frames, -1) if len(x) >= frame else x[None, :]
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    dbfs = 20.0 * np.log10(np.maximum(rms, 1e-10))
    silence = float(np.mean(dbfs < SILENCE_DBFS))
    wps = n_words / duration if duration > 0 else None
    issues = []
    if clipping > CLIPPING_MAX_RATIO:
        issues.append("clipping")
    if silence > SILENCE_MAX_RATIO:
        issues.append("silence")
    if n_words >= 3:
        if wps is None or not MIN_WORDS_PER_S <= wps <= MAX_WORDS_PER_S:
            issues.append("duration")
    elif not 0.2 <= duration <= 10.0:
        issues.append("duration")
    return Health(duration, clipping, silence, wps, tuple(issues))


def decode_audio_bytes(data: bytes, *, what: str) -> tuple[Any, int]:
    """WAV/FLAC/OGG/MP3 bytes → (float32 mono, rate). ValueError naming ``what``."""
    import numpy as np

    sf = require("soundfile", "soundfile (reading audio)")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{what}: the audio could not be decoded ({exc})") from None
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1)
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


class TtsProvider(abc.ABC):
    kind: ClassVar[str]
    default_model: ClassVar[str] = ""

    def __init__(self, model: str | None = None) -> None:
        self.model = (model or "").strip() or self.default_model

    def describe(self) -> str:
        return f"{self.kind} {self.model}".strip()

    @abc.abstractmethod
    def check(self) -> None: ...

    def load(self) -> None:  # noqa: B027 - optional hook
        """Prepare (default: nothing to load)."""

    @abc.abstractmethod
    def synthesize(self, text: str) -> Synthesis: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free resources (default: none)."""

    def versions(self) -> dict[str, str]:
        return {}


# --- eSpeak NG ------------------------------------------------------------------------------


class EspeakProvider(TtsProvider):
    kind = "espeak"
    default_model = "en-us"
    INSTALL_HINT = (
        "apt-get install espeak-ng (Debian/Ubuntu), brew install espeak-ng (macOS), "
        "or the Windows installer from the espeak-ng project"
    )

    def __init__(self, model: str | None = None, *, speed: int = 150) -> None:
        super().__init__(model)
        self.speed = int(speed)
        self._exe: str | None = None

    def _find(self) -> str:
        exe = shutil.which("espeak-ng") or shutil.which("espeak")
        if exe is None:
            raise MissingDependencyError(
                "eSpeak NG (the espeak-ng program)", hint=self.INSTALL_HINT
            )
        return exe

    def check(self) -> None:
        exe = self._find()
        if not 80 <= self.speed <= 450:
            raise ConfigError(f"eSpeak NG speed must be 80-450 words per minute, not {self.speed}.")
        # espeak-ng silently falls back to its default voice for an unknown name: check it.
        base, _, variant = self.model.partition("+")
        if base.lower() not in _espeak_names(exe, "") or (
            variant and variant.lower() not in _espeak_names(exe, "variant")
        ):
            raise ConfigError(
                f"eSpeak NG has no voice {self.model!r}; list them with 'espeak-ng --voices' "
                "(a variant is added with '+', e.g. en-us+klatt2)."
            )

    def load(self) -> None:
        self._exe = self._find()

    def synthesize(self, text: str) -> Synthesis:
        exe = self._exe or self._find()
        # The text goes on stdin: never parsed as an option, whatever it starts with.
        proc = subprocess.run(
            [exe, "-v", self.model, "-s", str(self.speed), "--stdout"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0 or not proc.stdout:
            detail = proc.stderr.decode("utf-8", "replace").strip() or f"exit {proc.returncode}"
            raise RuntimeError(f"espeak-ng failed (voice {self.model!r}): {detail}")
        samples, rate = decode_audio_bytes(proc.stdout, what="espeak-ng output")
        return Synthesis(samples, rate)

    def versions(self) -> dict[str, str]:
        try:
            out = subprocess.run(
                [self._exe or self._find(), "--version"], capture_output=True, timeout=10
            ).stdout.decode("utf-8", "replace")
        except (OSError, subprocess.SubprocessError, MissingDependencyError):
            return {}
        return {"espeak-ng": " ".join(out.split()[:4])}


def _espeak_names(exe: str, kind: str) -> set[str]:
    """Voice (or, ``kind="variant"``, variant) names espeak-ng accepts, lower-cased."""
    flag = f"--voices={kind}" if kind else "--voices"
    try:
        out = subprocess.run([exe, flag], capture_output=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    names: set[str] = set()
    for line in out.decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split()
        if len(parts) < 5:
            continue
        # Pty Language Age/Gender VoiceName File (Other Languages)…
        language, name, file = parts[1], parts[3], parts[4]
        names.update({name.lower(), file.lower(), file.rsplit("/", 1)[-1].lower()})
        if kind != "variant":
            names.add(language.lower())
            names.update(p.strip("()").lower() for p in parts[5::2])
    return names


# --- OpenAI-compatible /audio/speech --------------------------------------------------------


class OpenAISpeechProvider(TtsProvider):
    """``POST {base_url}/audio/speech`` with ``{"model", "input", "voice",
    "response_format": "wav"}``; the streamed reply is decoded with soundfile."""

    kind = "openai-audio"
    default_model = "tts-1"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str,
        api_key: str | None = None,
        key_name: str | None = None,
        voice: str = "alloy",
        timeout_s: float = 120.0,
    ) -> None:
        super().__init__(model)
        self.base_url = base_url.rstrip("/")
        self.voice = voice
        self._api_key = api_key
        self._key_name = key_name
        self.timeout_s = timeout_s
        self._client: Any = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/audio/speech"

    def check(self) -> None:
        check_base_url(self.base_url)

    def load(self) -> None:
        self._client = open_client(self.base_url, self._api_key, self.timeout_s)

    def synthesize(self, text: str) -> Synthesis:
        import httpx

        from openbench_desktop.core.providers.http import error_from_transport

        if self._client is None:
            raise RuntimeError("load() was not called")
        body = {"model": self.model, "input": text, "voice": self.voice, "response_format": "wav"}
        started = time.perf_counter()
        first: float | None = None
        chunks: list[bytes] = []
        try:
            with self._client.stream("POST", self.url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise status_error(
                        response, url=self.url, model=self.model, api_key=self._api_key,
                        key_name=self._key_name, server_name="The speech server",
                    )
                for chunk in response.iter_bytes():
                    if chunk and first is None:
                        first = time.perf_counter() - started
                    chunks.append(chunk)
        except httpx.TransportError as exc:
            raise error_from_transport(
                exc, url=self.url, timeout_s=self.timeout_s, secret=self._api_key
            ) from None
        try:
            samples, rate = decode_audio_bytes(b"".join(chunks), what=self.url)
        except ValueError as exc:
            raise ProviderError(str(exc), category=ErrorCategory.PARSE) from None
        return Synthesis(samples, rate, first_audio_s=first)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


# --- Piper ----------------------------------------------------------------------------------


class PiperProvider(TtsProvider):
    """Piper (``piper-tts``): a local voice, ``model`` being its ``.onnx`` file with the
    ``.onnx.json`` config beside it (as Piper's voices are published).

    Piper speaks a text one sentence at a time; the time to the first sentence's audio is
    reported as *time to first audio*. Options: ``speaker_id`` (multi-speaker voices),
    ``length_scale`` (> 1 slower, < 1 faster; the voice's default otherwise). Piper brings
    its own eSpeak NG data for phonemes: the ``espeak-ng`` program is not needed.
    """

    kind = "piper"
    default_model = ""
    EXTRA = "piper"

    def __init__(
        self,
        model: str | None = None,
        *,
        speaker_id: int | None = None,
        length_scale: float | None = None,
    ) -> None:
        super().__init__(model)
        self.speaker_id = speaker_id
        self.length_scale = length_scale
        self._voice: Any = None

    @property
    def config_path(self) -> Path:
        return Path(f"{Path(self.model).expanduser()}.json")

    def _require(self) -> Any:
        module = require("piper", "Piper (piper-tts)", extra=self.EXTRA)
        # Another PyPI project is also imported as "piper" (a pipeline toolkit).
        if not hasattr(module, "PiperVoice"):
            raise MissingDependencyError(
                "Piper (piper-tts; the 'piper' module found here is another package)",
                extra=self.EXTRA,
            )
        return module

    def check(self) -> None:
        self._require()
        if not self.model:
            raise ConfigError(
                "Piper needs a voice: the path of its .onnx file (--model PATH, e.g. "
                "en_US-lessac-medium.onnx), with its .onnx.json beside it."
            )
        model = Path(self.model).expanduser()
        if not model.is_file():
            what = "is a folder" if model.is_dir() else "does not exist"
            raise ConfigError(
                f"Piper voice {model} {what}: give the path of a voice's .onnx file."
            )
        if not self.config_path.is_file():
            raise ConfigError(
                f"Piper voice {model} has no config beside it: expected {self.config_path} "
                "(each voice is published as a .onnx and a .onnx.json)."
            )
        try:
            config = json.loads(self.config_path.read_text(encoding="utf-8"))
            rate = int(config["audio"]["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"Piper voice config {self.config_path} is not a Piper voice config ({exc})."
            ) from None
        if rate <= 0:
            raise ConfigError(f"Piper voice config {self.config_path}: bad sample rate {rate}.")
        speakers = int(config.get("num_speakers") or 1)
        if self.speaker_id is not None and not 0 <= self.speaker_id < speakers:
            raise ConfigError(
                f"Piper voice {model.name} has {speakers} speaker(s); speaker_id "
                f"{self.speaker_id} is out of range."
            )
        if self.length_scale is not None and not 0.1 <= self.length_scale <= 10:
            raise ConfigError(f"Piper length_scale must be 0.1-10, not {self.length_scale}.")

    def load(self) -> None:
        piper = self._require()
        model = Path(self.model).expanduser()
        try:
            self._voice = piper.PiperVoice.load(str(model), config_path=str(self.config_path))
        except Exception as exc:  # onnxruntime raises its own types for a damaged file
            raise ConfigError(f"Piper could not load voice {model}: {exc}") from None

    def synthesize(self, text: str) -> Synthesis:
        import numpy as np

        if self._voice is None:
            raise RuntimeError("load() was not called")
        from piper import SynthesisConfig

        syn_config = SynthesisConfig(speaker_id=self.speaker_id, length_scale=self.length_scale)
        started = time.perf_counter()
        first: float | None = None
        parts: list[Any] = []
        for chunk in self._voice.synthesize(text, syn_config=syn_config):
            if first is None:
                first = time.perf_counter() - started
            parts.append(np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1))
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return Synthesis(samples, int(self._voice.config.sample_rate), first_audio_s=first)

    def close(self) -> None:
        self._voice = None

    def versions(self) -> dict[str, str]:
        from contextlib import suppress
        from importlib import metadata

        out: dict[str, str] = {}
        for dist in ("piper-tts", "onnxruntime"):
            with suppress(metadata.PackageNotFoundError):
                out[dist] = metadata.version(dist)
        return out


TTS_PROVIDERS: dict[str, str] = {
    "espeak": "eSpeak NG (the espeak-ng program; offline)",
    "openai-audio": "OpenAI-compatible /audio/speech endpoint",
    "piper": "Piper: a local voice .onnx file (the 'piper' extra; offline)",
}


def make_tts_provider(
    kind: str,
    model: str | None = None,
    *,
    base_url: str = "",
    api_key: str | None = None,
    key_name: str | None = None,
    timeout_s: float = 120.0,
    options: Mapping[str, Any] | None = None,
) -> TtsProvider:
    options = options or {}
    key = (kind or "").strip().lower()
    if key in ("espeak", "espeak-ng"):
        return EspeakProvider(model, speed=int(options.get("speed", 150)))
    if key in ("piper", "piper-tts"):
        return PiperProvider(
            model,
            speaker_id=_optional(options.get("speaker_id"), int, "speaker_id"),
            length_scale=_optional(options.get("length_scale"), float, "length_scale"),
        )
    if key in ("openai-audio", "openai"):
        return OpenAISpeechProvider(
            model,
            base_url=base_url,
            api_key=api_key,
            key_name=key_name,
            voice=str(options.get("voice") or "alloy"),
            timeout_s=timeout_s,
        )
    raise ConfigError(
        f"Unknown speech synthesis provider {kind!r}; choose one of: {', '.join(TTS_PROVIDERS)}."
    )


def _optional(value: Any, kind: type, name: str) -> Any:
    """``value`` converted to ``kind``; None for None/""; ConfigError naming the option."""
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, not {value!r}.") from None
