"""Speech recognition providers behind one small interface.

A provider is used from one thread, in this order: :meth:`AsrProvider.check` (cheap: are
the libraries there? raises :class:`MissingDependencyError` naming the extra), then
:meth:`~AsrProvider.load` (loads the model; the runner times it as *model load*), then
:meth:`~AsrProvider.transcribe` per clip (timed as *processing*), then
:meth:`~AsrProvider.close`. Libraries are imported inside these methods, never at module
import, so the app starts without them.

- ``pocketsphinx``: PocketSphinx 5 with its bundled US English model (offline, the default).
- ``faster-whisper``: a CTranslate2 Whisper model from a local folder (or, with internet,
  by name, e.g. ``small.en``); the ``whisper`` extra.
- ``openai-audio``: any OpenAI-compatible ``POST {base_url}/audio/transcriptions``
  (OpenAI, Groq, a local server).
- ``whispercpp``: whisper.cpp through ``pywhispercpp``, a ggml model file (or, with
  internet, a model name such as ``base.en``); the ``whispercpp`` extra.
"""

from __future__ import annotations

import abc
import io
import os
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from openbench_desktop.core.audio import require
from openbench_desktop.core.audio.datasets import LoadedAudio
from openbench_desktop.core.audio.endpoint import check_base_url, open_client, status_error
from openbench_desktop.core.domain import ErrorCategory
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.providers.base import ProviderError

__all__ = [
    "ASR_PROVIDERS",
    "AsrProvider",
    "Clip",
    "FasterWhisperProvider",
    "OpenAITranscriptionProvider",
    "PocketSphinxProvider",
    "WhisperCppProvider",
    "encode_wav",
    "make_asr_provider",
    "to_pcm16",
]


@dataclass(frozen=True, slots=True)
class Clip:
    """One clip to transcribe: its file and its samples at the provider's rate."""

    path: Path | None
    audio: LoadedAudio


class AsrProvider(abc.ABC):
    kind: ClassVar[str]
    default_model: ClassVar[str] = ""
    #: The rate ``transcribe`` expects; None: any (the provider sends the file as is).
    sample_rate: int | None = 16000

    def __init__(self, model: str | None = None, *, language: str | None = "en") -> None:
        self.model = (model or "").strip() or self.default_model
        self.language = language or None

    def describe(self) -> str:
        return f"{self.kind} {self.model}".strip()

    @abc.abstractmethod
    def check(self) -> None:
        """Raise MissingDependencyError / ConfigError if this provider cannot run here."""

    @abc.abstractmethod
    def load(self) -> None: ...

    @abc.abstractmethod
    def transcribe(self, clip: Clip) -> str: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model (default: nothing to do)."""

    def versions(self) -> dict[str, str]:
        """Versions of the libraries doing the work (recorded with the run)."""
        return {}


def _version(dist: str) -> dict[str, str]:
    from importlib import metadata

    try:
        return {dist: metadata.version(dist)}
    except metadata.PackageNotFoundError:
        return {}


def to_pcm16(samples: Any) -> bytes:
    """float32 in [-1, 1] → little-endian signed 16-bit PCM bytes (clipped)."""
    import numpy as np

    scaled = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.round(scaled).astype("<i2").tobytes()


# --- PocketSphinx ---------------------------------------------------------------------------


class PocketSphinxProvider(AsrProvider):
    """PocketSphinx with its bundled ``en-us`` acoustic model, language model and dictionary.

    Each clip is decoded as one whole utterance. The decoder's feature state (cepstral
    mean normalisation) is reset before every clip, so a clip's transcript does not depend
    on which clips came before it — a run gives the same result in any order.
    """

    kind = "pocketsphinx"
    default_model = "en-us"
    sample_rate = 16000

    def __init__(self, model: str | None = None, *, language: str | None = "en") -> None:
        super().__init__(model, language=language)
        self._decoder: Any = None

    def check(self) -> None:
        require("pocketsphinx", "PocketSphinx (local speech recognition)")
        if self.model != "en-us":
            raise ConfigError(
                f"PocketSphinx: unknown model {self.model!r}; this app uses the bundled "
                "US English model 'en-us'."
            )

    def load(self) -> None:
        ps = require("pocketsphinx", "PocketSphinx (local speech recognition)")
        # FATAL: PocketSphinx logs every decode at INFO to stderr otherwise.
        self._decoder = ps.Decoder(loglevel="FATAL", samprate=self.sample_rate)

    def transcribe(self, clip: Clip) -> str:
        decoder = self._decoder
        if decoder is None:
            raise RuntimeError("load() was not called")
        pcm = to_pcm16(clip.audio.samples)
        decoder.reinit_feat()  # forget the previous clip's CMN estimate (see class doc)
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def close(self) -> None:
        self._decoder = None

    def versions(self) -> dict[str, str]:
        return _version("pocketsphinx")


# --- faster-whisper -------------------------------------------------------------------------


class FasterWhisperProvider(AsrProvider):
    """faster-whisper (CTranslate2). ``model`` is a converted model folder or a model name.

    Options: ``device`` (``auto``/``cpu``/``cuda``), ``compute_type`` (``default``,
    ``int8`` …), ``beam_size`` (5). A name such as ``small.en`` is downloaded by
    faster-whisper on first use, which needs internet; a folder never does.
    """

    kind = "faster-whisper"
    default_model = ""
    sample_rate = 16000

    def __init__(
        self,
        model: str | None = None,
        *,
        language: str | None = "en",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, language=language)
        self.options = dict(options or {})
        self._model: Any = None

    def _looks_like_path(self) -> bool:
        """A folder, not a name: it exists, or is written like a path.

        ``org/name`` (one slash) is a Hub model id, which faster-whisper also accepts.
        """
        m = self.model.replace("\\", "/")
        return (
            Path(self.model).expanduser().exists()
            or m.startswith((".", "/", "~"))
            or (len(m) > 1 and m[1] == ":")
            or m.count("/") > 1
        )

    def check(self) -> None:
        require("faster_whisper", "faster-whisper", extra="whisper")
        if not self.model:
            raise ConfigError(
                "faster-whisper needs a model: a converted model folder (--model PATH) or, "
                "with internet access, a name such as small.en."
            )
        path = Path(self.model).expanduser()
        if self._looks_like_path() and not (path / "model.bin").is_file():
            what = "has no model.bin" if path.is_dir() else "does not exist"
            raise ConfigError(
                f"faster-whisper model folder {path} {what}: give a CTranslate2-converted "
                "Whisper model folder (e.g. made with ct2-transformers-converter)."
            )

    def load(self) -> None:
        fw = require("faster_whisper", "faster-whisper", extra="whisper")
        path = Path(self.model).expanduser()
        source = str(path) if path.is_dir() else self.model
        self._model = fw.WhisperModel(
            source,
            device=str(self.options.get("device", "auto")),
            compute_type=str(self.options.get("compute_type", "default")),
        )

    def transcribe(self, clip: Clip) -> str:
        if self._model is None:
            raise RuntimeError("load() was not called")
        segments, _info = self._model.transcribe(
            clip.audio.samples,
            language=self.language,
            beam_size=int(self.options.get("beam_size", 5)),
            condition_on_previous_text=False,
        )
        # segments is lazy: decoding happens while iterating, inside the timed call.
        return " ".join(s.text.strip() for s in segments).strip()

    def close(self) -> None:
        self._model = None

    def versions(self) -> dict[str, str]:
        return {**_version("faster-whisper"), **_version("ctranslate2")}


# --- whisper.cpp ----------------------------------------------------------------------------

#: ``whisper.cpp``'s legacy model file magic ("ggml" as a little-endian uint32).
GGML_MAGIC = 0x67676D6C
# ggml tensor types a whisper model file may hold: (bytes per block, values per block).
_GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (4, 1), 1: (2, 1),  # f32, f16
    2: (18, 32), 3: (20, 32), 6: (22, 32), 7: (24, 32), 8: (34, 32),  # q4_0 … q8_0
    10: (84, 256), 11: (110, 256), 12: (144, 256), 13: (176, 256), 14: (210, 256),  # k-quants
}


def inspect_ggml_model(path: Path) -> dict[str, int]:
    """Read a whisper.cpp model file's header and walk its tensor table without loading it.

    whisper.cpp reports a bad or truncated file only by returning a null context, which
    pywhispercpp wraps without a check — the first transcription then crashes the whole
    process. So the file is checked here first. Returns the hyper-parameters; raises
    ConfigError naming the file and what is wrong with it.
    """
    names = ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
             "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype")
    size = path.stat().st_size
    try:
        with path.open("rb") as f:

            def ints(n: int) -> tuple[int, ...]:
                raw = f.read(4 * n)
                if len(raw) < 4 * n:
                    raise EOFError
                return struct.unpack(f"<{n}i", raw)

            head = f.read(4)
            if len(head) < 4 or struct.unpack("<I", head)[0] != GGML_MAGIC:
                kind = "a GGUF file" if head == b"GGUF" else "not a whisper.cpp model"
                raise ConfigError(
                    f"whisper.cpp model {path} is {kind}: give a ggml Whisper model file "
                    "such as ggml-base.en.bin (whisper.cpp's models/download-ggml-model.sh)."
                )
            hparams = dict(zip(names, ints(len(names)), strict=True))
            if not (0 < hparams["n_mels"] <= 512 and 0 < hparams["n_audio_layer"] <= 64):
                raise ConfigError(f"whisper.cpp model {path} has an implausible header.")
            n_mel, n_fft = ints(2)
            f.seek(4 * n_mel * n_fft, os.SEEK_CUR)
            (n_tokens,) = ints(1)
            for _ in range(n_tokens):
                f.seek(ints(1)[0], os.SEEK_CUR)
            n_tensors = 0
            while f.tell() < size:
                n_dims, name_len, ttype = ints(3)
                if ttype not in _GGML_TYPE_SIZES:
                    break  # a type this check does not know: leave the rest to whisper.cpp
                dims = ints(n_dims)
                block_bytes, block_values = _GGML_TYPE_SIZES[ttype]
                count = 1
                for d in dims:
                    count *= d
                f.seek(name_len + count // block_values * block_bytes, os.SEEK_CUR)
                n_tensors += 1
            if f.tell() > size or n_tensors == 0:
                raise EOFError
    except EOFError:
        raise ConfigError(
            f"whisper.cpp model {path} is truncated or damaged ({size:,} bytes): "
            "download it again."
        ) from None
    except OSError as exc:
        raise ConfigError(f"whisper.cpp model {path} cannot be read: {exc}") from None
    return hparams


class WhisperCppProvider(AsrProvider):
    """whisper.cpp through pywhispercpp. ``model`` is a ggml model file or a model name.

    A name (``tiny.en``, ``base.en``, ``small`` …) is looked up in pywhispercpp's model
    folder and downloaded there on first use, which needs internet; a file never does.
    Options: ``n_threads`` (default: this machine's cores), ``language`` (the provider's).
    Greedy decoding, no context carried between clips, so each clip's transcript is
    independent of the others.
    """

    kind = "whispercpp"
    default_model = ""
    sample_rate = 16000
    EXTRA = "whispercpp"

    def __init__(
        self,
        model: str | None = None,
        *,
        language: str | None = "en",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, language=language)
        self.options = dict(options or {})
        self._model: Any = None

    @property
    def n_threads(self) -> int:
        value = self.options.get("n_threads")
        if value in (None, "", 0):
            try:
                return max(1, len(os.sched_getaffinity(0)))
            except AttributeError:  # macOS, Windows
                return max(1, os.cpu_count() or 1)
        return int(value)

    def _looks_like_path(self) -> bool:
        m = self.model.replace("\\", "/")
        return (
            "/" in m
            or m.startswith((".", "~"))
            or (len(m) > 1 and m[1] == ":")
            or m.lower().endswith((".bin", ".gguf"))
        )

    def _require(self) -> Any:
        return require("pywhispercpp.model", "pywhispercpp (whisper.cpp)", extra=self.EXTRA)

    def check(self) -> None:
        self._require()
        if not self.model:
            raise ConfigError(
                "whisper.cpp needs a model: a ggml model file (--model PATH, e.g. "
                "ggml-base.en.bin) or, with internet access, a name such as base.en."
            )
        try:
            n_threads = self.n_threads
        except (TypeError, ValueError):
            n_threads = 0
        if n_threads < 1:
            raise ConfigError(
                f"whisper.cpp n_threads must be a whole number ≥ 1, not "
                f"{self.options.get('n_threads')!r}."
            )
        path = Path(self.model).expanduser()
        if path.is_file():
            inspect_ggml_model(path)
            return
        if path.is_dir() or self._looks_like_path():
            what = "is a folder, not a model file" if path.is_dir() else "does not exist"
            raise ConfigError(
                f"whisper.cpp model {path} {what}: give a ggml model file such as "
                "ggml-base.en.bin."
            )
        from pywhispercpp import constants

        if self.model not in constants.AVAILABLE_MODELS and not self._cached(constants):
            raise ConfigError(
                f"whisper.cpp has no model named {self.model!r}; give a ggml model file or "
                "one of: " + ", ".join(constants.AVAILABLE_MODELS) + "."
            )

    def _cached(self, constants: Any) -> Path | None:
        folder = Path(constants.MODELS_DIR)
        for name in (self.model, f"{self.model}.bin", f"ggml-{self.model}.bin"):
            if (folder / name).is_file():
                return folder / name
        return None

    def load(self) -> None:
        pw = self._require()
        source = self.model
        path = Path(self.model).expanduser()
        if path.is_file():
            inspect_ggml_model(path)
            source = str(path)
        else:
            from pywhispercpp import constants

            cached = self._cached(constants)
            if cached is not None:
                inspect_ggml_model(cached)
                source = str(cached)
        params: dict[str, Any] = {
            "n_threads": self.n_threads,
            "print_progress": False,
            "print_realtime": False,
            "no_context": True,
        }
        if self.language:
            params["language"] = self.language
        try:
            # None: whisper.cpp's own load log goes to /dev/null, not the user's terminal.
            self._model = pw.Model(source, redirect_whispercpp_logs_to=None, **params)
        except Exception as exc:  # a download by name: network errors of any kind
            raise ConfigError(
                f"whisper.cpp could not get model {self.model!r} ({exc}); give a ggml model "
                "file instead of a name when offline."
            ) from None
        if not getattr(self._model, "model_path", None):  # pywhispercpp: unknown name
            self._model = None
            raise ConfigError(f"whisper.cpp could not find or download model {self.model!r}.")

    def transcribe(self, clip: Clip) -> str:
        import numpy as np

        if self._model is None:
            raise RuntimeError("load() was not called")
        samples = np.ascontiguousarray(clip.audio.samples, dtype=np.float32)
        segments = self._model.transcribe(samples)
        return " ".join(s.text.strip() for s in segments if s.text.strip()).strip()

    def close(self) -> None:
        self._model = None  # pywhispercpp frees the whisper.cpp context in __del__

    def versions(self) -> dict[str, str]:
        return _version("pywhispercpp")


# --- OpenAI-compatible /audio/transcriptions ------------------------------------------------

# Formats the OpenAI endpoint accepts as uploaded; anything else is sent as 16-bit WAV.
_UPLOAD_TYPES = {
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".webm": "audio/webm",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
}
_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


def encode_wav(samples: Any, sample_rate: int) -> bytes:
    sf = require("soundfile", "soundfile (reading audio)")
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class OpenAITranscriptionProvider(AsrProvider):
    """``POST {base_url}/audio/transcriptions`` (multipart: file, model, language,
    ``response_format=json``, ``temperature=0``); the reply's ``text`` is the transcript.

    The file goes as it is when the API takes its format (flac, mp3, ogg, wav, webm,
    m4a), otherwise as 16-bit WAV of the decoded samples. 429, 5xx, timeouts and dropped
    connections are retried (``attempts`` in all, ``Retry-After`` honoured up to 30 s);
    the time of the successful attempt alone is the processing time.
    """

    kind = "openai-audio"
    default_model = "whisper-1"
    sample_rate = None

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str,
        api_key: str | None = None,
        key_name: str | None = None,
        language: str | None = "en",
        timeout_s: float = 120.0,
        attempts: int = 3,
    ) -> None:
        super().__init__(model, language=language)
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._key_name = key_name
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self._client: Any = None
        #: Seconds of the last successful attempt (what the runner should count).
        self.last_request_s: float | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/audio/transcriptions"

    def check(self) -> None:
        check_base_url(self.base_url)

    def load(self) -> None:
        self._client = open_client(self.base_url, self._api_key, self.timeout_s)

    def _payload(self, clip: Clip) -> tuple[str, bytes, str]:
        path = clip.path
        if path is not None and path.suffix.lower() in _UPLOAD_TYPES:
            return path.name, path.read_bytes(), _UPLOAD_TYPES[path.suffix.lower()]
        name = (path.stem if path is not None else "clip") + ".wav"
        return name, encode_wav(clip.audio.samples, clip.audio.sample_rate), "audio/wav"

    def transcribe(self, clip: Clip) -> str:
        if self._client is None:
            raise RuntimeError("load() was not called")
        name, data, mime = self._payload(clip)
        form = {"model": self.model, "response_format": "json", "temperature": "0"}
        if self.language:
            form["language"] = self.language
        last_error: ProviderError | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                return self._post(name, data, mime, form)
            except ProviderError as exc:
                last_error = exc
                retryable = exc.category in (
                    ErrorCategory.RATE_LIMIT,
                    ErrorCategory.SERVER_ERROR,
                    ErrorCategory.TIMEOUT,
                    ErrorCategory.CONNECTION,
                ) and not exc.connect_failed
                if not retryable or attempt == self.attempts:
                    raise
                time.sleep(min(30.0, exc.retry_after_s or 0.5 * 2 ** (attempt - 1)))
        assert last_error is not None
        raise last_error

    def _post(self, name: str, data: bytes, mime: str, form: dict[str, str]) -> str:
        import httpx

        from openbench_desktop.core.providers.http import (
            error_from_transport,
            make_error,
            truncate,
        )

        started = time.perf_counter()
        try:
            response = self._client.post(self.url, data=form, files={"file": (name, data, mime)})
        except httpx.TransportError as exc:
            raise error_from_transport(
                exc, url=self.url, timeout_s=self.timeout_s, secret=self._api_key
            ) from None
        self.last_request_s = time.perf_counter() - started
        if response.status_code >= 400:
            raise status_error(
                response, url=self.url, model=self.model, api_key=self._api_key,
                key_name=self._key_name, server_name="The transcription server",
            )
        content_type = response.headers.get("content-type", "")
        if "json" in content_type:
            try:
                body = response.json()
            except ValueError:
                body = None
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(text, str):
                raise make_error(
                    f"The server at {self.url} answered without a 'text' field: "
                    f"{truncate(response.text, 200)}",
                    ErrorCategory.PARSE,
                    secret=self._api_key,
                )
            return text
        return response.text  # response_format=text servers

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


# --- the factory ----------------------------------------------------------------------------

ASR_PROVIDERS: dict[str, str] = {
    "pocketsphinx": "PocketSphinx, bundled US English model (offline)",
    "faster-whisper": "faster-whisper: a local Whisper model folder (the 'whisper' extra)",
    "openai-audio": "OpenAI-compatible /audio/transcriptions endpoint",
    "whispercpp": "whisper.cpp: a local ggml Whisper model file (the 'whispercpp' extra)",
}


def make_asr_provider(
    kind: str,
    model: str | None = None,
    *,
    base_url: str = "",
    api_key: str | None = None,
    key_name: str | None = None,
    language: str | None = "en",
    timeout_s: float = 120.0,
    options: Mapping[str, Any] | None = None,
) -> AsrProvider:
    key = (kind or "").strip().lower()
    if key == "pocketsphinx":
        return PocketSphinxProvider(model, language=language)
    if key in ("faster-whisper", "faster_whisper", "whisper"):
        return FasterWhisperProvider(model, language=language, options=options)
    if key in ("whispercpp", "whisper.cpp", "whisper-cpp", "pywhispercpp"):
        return WhisperCppProvider(model, language=language, options=options)
    if key in ("openai-audio", "openai"):
        return OpenAITranscriptionProvider(
            model,
            base_url=base_url,
            api_key=api_key,
            key_name=key_name,
            language=language,
            timeout_s=timeout_s,
        )
    raise ConfigError(
        f"Unknown speech recognition provider {kind!r}; choose one of: "
        f"{', '.join(ASR_PROVIDERS)}."
    )

