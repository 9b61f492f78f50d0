"""Run a speech benchmark (``asr`` or ``tts``) and store it like every other run.

:func:`execute_audio_run` mirrors :func:`openbench_desktop.core.engine.runner.execute_run`:
the same :class:`RunDeps`, events (``RunStarted``, ``SamplesFinished``, ``Progress``,
``RunFinished``/``RunFailed``/``RunCancelled``), cancel token, run row, one writer, and a
final status and summary that are always written. Utterances run one after another in the
calling thread: a local model uses the CPU fully, and sequential calls keep the per-clip
processing time clean for RTFx.

How a speech sample is stored in the existing ``SampleResult`` fields (no new column):

====================  ===================================================================
field                 ASR                              TTS (round trip)
====================  ===================================================================
``sample_id``         utterance id                     text id
``prompt``            the audio file path              the input text
``expected``          the reference, as written        the input text
``output``            the hypothesis, as returned      what the recogniser heard
``extracted``         the normalized hypothesis        the normalized transcript
``score``             max(0, 1 − utterance WER)        max(0, 1 − round-trip WER)
``e2e_ms``            processing time of the clip      synthesis time of the text
``ttft_ms``           —                                time to first audio (streamed)
``reasoning``         JSON: ``{"audio": {...}}`` with the per-utterance details
====================  ===================================================================

``score ≥ 1`` (so ``correct`` and the run's ``accuracy``) means the utterance was
recognised with no error after normalization: accuracy is the *sentence* accuracy.
The details object (:func:`audio_details`) holds ``reference_normalized``,
``hypothesis_normalized``, word and character counts (``hits``, ``substitutions``,
``deletions``, ``insertions``, ``ref_words``; ``char_*``, ``ref_chars``), the same counts on
the raw texts (``raw``), ``audio_s``, ``processing_s``, ``audio_path``, ``failure`` (a
failure kind) and, for TTS, the synthesis figures and health checks. The run summary's
``audio`` mapping holds the corpus figures (:func:`audio_summary`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openbench_desktop.core.audio import (
    ASR_BENCHMARK,
    AUDIO_BENCHMARKS,
    TTS_BENCHMARK,
    MissingDependencyError,
)
from openbench_desktop.core.audio.asr import (
    ASR_PROVIDERS,
    AsrProvider,
    Clip,
    make_asr_provider,
)
from openbench_desktop.core.audio.datasets import (
    AudioLoadError,
    LoadedAudio,
    TextItem,
    Utterance,
    load_audio,
    load_audio_dataset,
    load_text_items,
    resample,
)
from openbench_desktop.core.audio.metrics import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    EditCounts,
    bootstrap_ci,
    char_counts,
    rtfx,
    word_counts,
)
from openbench_desktop.core.audio.normalize import DEFAULT_NORMALIZER, get_normalizer
from openbench_desktop.core.audio.tts import (
    TTS_PROVIDERS,
    TtsProvider,
    check_health,
    make_tts_provider,
)
from openbench_desktop.core.domain import (
    EngineEvent,
    ErrorCategory,
    Progress,
    RunSpec,
    RunStatus,
    RunSummary,
    SampleResult,
    SamplesFinished,
    SampleStatus,
)
from openbench_desktop.core.engine.cancel import CancelToken
from openbench_desktop.core.engine.lifecycle import Outcome, open_run, run_to_end
from openbench_desktop.core.engine.metrics import summarize
from openbench_desktop.core.errors import ConfigError, OpenBenchError
from openbench_desktop.core.logs import register_secret
from openbench_desktop.core.providers.base import ProviderError

if TYPE_CHECKING:
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.engine.runner import RunDeps

__all__ = [
    "DETAILS_KEY",
    "PreparedAudioRun",
    "audio_details",
    "audio_summary",
    "execute_audio_run",
    "is_audio_benchmark",
    "prepare_audio_run",
    "speech_demo_spec",
]

log = logging.getLogger(__name__)

EventCallback = Callable[[EngineEvent], None]

DETAILS_KEY = "audio"
HTTP_PROVIDERS = frozenset({"openai-audio"})
#: Warm-up clips are cut to this length: enough to touch every code path of the model.
WARMUP_MAX_S = 5.0
_MB = 1024 * 1024


class Failure:
    """Kinds of failed sample (``details["failure"]``; counted in ``failure_counts``)."""

    DATASET = "dataset"  # the entry itself is unusable (missing file, malformed line …)
    AUDIO = "audio"  # the audio file cannot be read or its format is unsupported
    EMPTY_REFERENCE = "empty_reference"  # nothing left to score after normalization
    TRANSCRIPTION = "transcription"  # the recogniser raised or the endpoint failed
    SYNTHESIS = "synthesis"  # the synthesiser raised or the endpoint failed


def is_audio_benchmark(name: str | None) -> bool:
    return (name or "").strip().lower() in AUDIO_BENCHMARKS


def speech_demo_spec() -> RunSpec:
    """The offline first-launch speech demo: PocketSphinx over the bundled clips."""
    return RunSpec(
        provider="pocketsphinx",
        base_url="",
        model="en-us",
        benchmark=ASR_BENCHMARK,
        concurrency=1,
        name="Speech demo: PocketSphinx on the bundled clips",
        tags=("demo",),
    )


# --- options --------------------------------------------------------------------------------


#: Keys of ``RunSpec.options`` handed to the providers as they are.
_PROVIDER_OPTIONS = (
    "device", "compute_type", "beam_size",  # faster-whisper
    "n_threads",  # whisper.cpp
    "speaker_id", "length_scale",  # Piper
)


@dataclass(frozen=True, slots=True)
class AudioOptions:
    """The speech-specific part of a spec, read from ``RunSpec.options``."""

    normalizer: str = DEFAULT_NORMALIZER
    language: str | None = "en"
    warmup: int = 1
    # TTS: the recogniser of the round trip, the voice, eSpeak speed, keep the clips.
    asr_provider: str = "pocketsphinx"
    asr_model: str | None = None
    voice: str | None = None
    speed: int = 150
    save_audio: bool = True
    # Provider options: faster-whisper device, compute_type, beam_size; whisper.cpp
    # n_threads; Piper speaker_id, length_scale.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: RunSpec) -> AudioOptions:
        o = dict(spec.options)
        try:
            warmup = int(o.get("warmup", 1))
            speed = int(o.get("speed", 150))
        except (TypeError, ValueError):
            raise ConfigError("warmup and speed must be whole numbers.") from None
        if not 0 <= warmup <= 10:
            raise ConfigError(f"warmup must be between 0 and 10 clips, not {warmup}.")
        return cls(
            normalizer=str(o.get("normalizer") or DEFAULT_NORMALIZER),
            language=str(o.get("language", "en") or "") or None,
            warmup=warmup,
            asr_provider=str(o.get("asr_provider") or "pocketsphinx"),
            asr_model=str(o["asr_model"]) if o.get("asr_model") else None,
            voice=str(o["voice"]) if o.get("voice") else None,
            speed=speed,
            save_audio=bool(o.get("save_audio", True)),
            extra={k: o[k] for k in _PROVIDER_OPTIONS if k in o},
        )


# --- preparing ------------------------------------------------------------------------------


@dataclass
class PreparedAudioRun:
    spec: RunSpec
    kind: str  # "asr" | "tts"
    options: AudioOptions
    description: str
    sha256: str | None
    n_dataset: int
    utterances: list[Utterance] = field(default_factory=list)  # asr
    texts: list[TextItem] = field(default_factory=list)  # tts

    @property
    def n_total(self) -> int:
        return len(self.utterances) if self.kind == ASR_BENCHMARK else len(self.texts)


def _check_provider(kind: str, spec: RunSpec, options: AudioOptions) -> None:
    """Fail before anything is stored when a provider cannot run here."""
    if kind == ASR_BENCHMARK:
        if spec.provider not in ASR_PROVIDERS:
            raise ConfigError(
                f"Provider {spec.provider!r} cannot run a speech recognition benchmark; "
                f"choose one of: {', '.join(ASR_PROVIDERS)}."
            )
        _asr_for(spec.provider, spec.model, spec, options, api_key=None).check()
    else:
        if spec.provider not in TTS_PROVIDERS:
            raise ConfigError(
                f"Provider {spec.provider!r} cannot run a speech synthesis benchmark; "
                f"choose one of: {', '.join(TTS_PROVIDERS)}."
            )
        _tts_for(spec, options, api_key=None).check()
        if options.asr_provider in HTTP_PROVIDERS:
            raise ConfigError(
                "The round trip's recogniser must be local (pocketsphinx, faster-whisper "
                "or whispercpp)."
            )
        _asr_for(options.asr_provider, options.asr_model, spec, options, api_key=None).check()
    # Every speech run reads audio and scores with jiwer: say now if they are missing.
    from openbench_desktop.core.audio import require

    require("soundfile", "soundfile (reading audio)")
    require("soxr", "soxr (resampling audio)")
    require("jiwer", "jiwer (word error rate)")


def validate_audio_spec(spec: RunSpec) -> str:
    kind = spec.benchmark.strip().lower()
    if kind not in AUDIO_BENCHMARKS:
        raise ConfigError(f"{spec.benchmark!r} is not a speech benchmark (asr or tts).")
    if spec.provider in HTTP_PROVIDERS and not spec.base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"Provider {spec.provider} needs --base-url (e.g. https://api.openai.com/v1 or "
            "http://127.0.0.1:8000/v1)."
        )
    if spec.limit is not None and spec.limit < 1:
        raise ConfigError(f"Limit must be at least 1, not {spec.limit}.")
    get_normalizer(spec.options.get("normalizer"))
    return kind


def prepare_audio_run(spec: RunSpec, paths: AppPaths | None = None) -> PreparedAudioRun:
    """Validate the spec, check the providers' libraries, list the dataset's entries.

    Raises ConfigError (MissingDependencyError names the extra) or DatasetError; nothing is
    written and no audio is decoded, so this is cheap enough for a "validate" button.
    """
    del paths  # speech datasets are local files; kept for symmetry with prepare_run
    kind = validate_audio_spec(spec)
    options = AudioOptions.from_spec(spec)
    if not spec.model.strip():
        spec = replace(spec, model=_default_model(kind, spec.provider, options))
    _check_provider(kind, spec, options)
    if kind == ASR_BENCHMARK:
        from openbench_desktop.core.audio.datasets import demo_dataset_path

        source = spec.dataset.path or str(demo_dataset_path())
        dataset = load_audio_dataset(source)
        utterances = list(dataset.utterances)
        n_dataset = len(utterances)
        if spec.limit:
            utterances = utterances[: spec.limit]
        return PreparedAudioRun(
            spec, kind, options, dataset.description, dataset.sha256(), n_dataset,
            utterances=utterances,
        )
    texts, description, identity = load_text_items(spec.dataset.path)
    n_dataset = len(texts)
    if spec.limit:
        texts = texts[: spec.limit]
    sha = None
    if identity is not None:
        import hashlib

        sha = hashlib.sha256(identity.read_bytes()).hexdigest()
    return PreparedAudioRun(spec, kind, options, description, sha, n_dataset, texts=texts)


def _default_model(kind: str, provider: str, options: AudioOptions) -> str:
    """The model a spec without one runs (recorded in the run, shown in the history)."""
    if kind == ASR_BENCHMARK:
        return {"pocketsphinx": "en-us", "openai-audio": "whisper-1"}.get(provider, "")
    if provider == "espeak":
        return options.voice or "en-us"
    if provider == "piper":
        return options.voice or ""  # --voice PATH.onnx works as well as --model
    return {"openai-audio": "tts-1"}.get(provider, "")


def _asr_for(
    provider: str, model: str | None, spec: RunSpec, options: AudioOptions, api_key: str | None
) -> AsrProvider:
    return make_asr_provider(
        provider,
        model,
        base_url=spec.base_url,
        api_key=api_key,
        key_name=spec.api_key_name,
        language=options.language,
        timeout_s=spec.params.timeout_s,
        options=options.extra,
    )


def _tts_for(spec: RunSpec, options: AudioOptions, api_key: str | None) -> TtsProvider:
    return make_tts_provider(
        spec.provider,
        spec.model,
        base_url=spec.base_url,
        api_key=api_key,
        key_name=spec.api_key_name,
        timeout_s=spec.params.timeout_s,
        options={**options.extra, "voice": options.voice, "speed": options.speed},
    )


# --- resources ------------------------------------------------------------------------------


def _max_rss_mb() -> float | None:
    """The process's peak resident set size so far (a high-water mark), in MiB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / _MB if sys.platform == "darwin" else peak / 1024


@dataclass
class _Resources:
    wall0: float = field(default_factory=time.monotonic)
    cpu0: float = field(default_factory=time.process_time)
    thread0: float = field(default_factory=time.thread_time)
    rss0: float | None = field(default_factory=_max_rss_mb)
    model_load_s: float | None = None
    warmup_s: float | None = None
    warmup_clips: int = 0
    asr_load_s: float | None = None  # TTS: the round-trip recogniser's load

    def snapshot(self) -> dict[str, Any]:
        return {
            "wall_s": time.monotonic() - self.wall0,
            "cpu_s": time.process_time() - self.cpu0,
            "cpu_thread_s": time.thread_time() - self.thread0,
            "peak_rss_mb": _max_rss_mb(),
            "peak_rss_mb_at_start": self.rss0,
            "model_load_s": self.model_load_s,
            "warmup_s": self.warmup_s,
            "warmup_clips": self.warmup_clips,
            "gpu": None,  # no GPU probing yet (no GPU library is a dependency)
        }


# --- per-sample scoring ---------------------------------------------------------------------


def audio_details(result: SampleResult) -> dict[str, Any] | None:
    """The per-utterance details a speech sample carries (None for other samples)."""
    if not result.reasoning or not result.reasoning.startswith("{"):
        return None
    try:
        data = json.loads(result.reasoning)
    except ValueError:
        return None
    details = data.get(DETAILS_KEY) if isinstance(data, dict) else None
    return details if isinstance(details, dict) else None


def _details_json(details: Mapping[str, Any]) -> str:
    return json.dumps({DETAILS_KEY: details}, ensure_ascii=False, separators=(",", ":"))


def _counts_dict(words: EditCounts, chars: EditCounts) -> dict[str, Any]:
    return {
        "hits": words.hits,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "ref_words": words.ref_len,
        "wer": words.rate,
        "char_hits": chars.hits,
        "char_substitutions": chars.substitutions,
        "char_deletions": chars.deletions,
        "char_insertions": chars.insertions,
        "ref_chars": chars.ref_len,
        "cer": chars.rate,
    }


def _score(reference: str, hypothesis: str, normalizer: str) -> dict[str, Any]:
    """Everything measured on one (reference, hypothesis) pair; reference must normalize
    to something non-empty (checked by the caller)."""
    norm = get_normalizer(normalizer)
    ref_n, hyp_n = norm(reference), norm(hypothesis)
    words, chars = word_counts(ref_n, hyp_n), char_counts(ref_n, hyp_n)
    raw = get_normalizer("raw")
    ref_r, hyp_r = raw(reference), raw(hypothesis)
    raw_words, raw_chars = word_counts(ref_r, hyp_r), char_counts(ref_r, hyp_r)
    return {
        "normalizer": normalizer,
        "reference_normalized": ref_n,
        "hypothesis_normalized": hyp_n,
        **_counts_dict(words, chars),
        "raw": {
            "errors": raw_words.errors,
            "ref_words": raw_words.ref_len,
            "char_errors": raw_chars.errors,
            "ref_chars": raw_chars.ref_len,
        },
    }


def _failed(
    index: int,
    sample_id: str,
    *,
    prompt: str,
    expected: str,
    message: str,
    failure: str,
    category: ErrorCategory,
    details: Mapping[str, Any] | None = None,
    output: str = "",
) -> SampleResult:
    return SampleResult(
        index=index,
        sample_id=sample_id,
        status=SampleStatus.FAILED,
        prompt=prompt,
        expected=expected,
        output=output,
        streamed=False,
        error_category=category,
        error_message=message,
        reasoning=_details_json({**(details or {}), "failure": failure}),
    )


def _error_of(exc: BaseException, what: str) -> tuple[str, ErrorCategory]:
    if isinstance(exc, ProviderError):
        return str(exc), exc.category
    if isinstance(exc, OpenBenchError):
        return str(exc), ErrorCategory.OTHER
    return f"{what} failed: {type(exc).__name__}: {exc}", ErrorCategory.OTHER


# --- the run --------------------------------------------------------------------------------


class _AudioLoop:
    """State of one speech run: batches events like the chat engine's loop does."""

    def __init__(
        self,
        run_id: str,
        prepared: PreparedAudioRun,
        deps: RunDeps,
        emit: EventCallback,
        cancel: CancelToken,
        resources: _Resources,
    ) -> None:
        self.run_id = run_id
        self.prepared = prepared
        self.spec = prepared.spec
        self.options = prepared.options
        self.deps = deps
        self.emit = emit
        self.cancel = cancel
        self.resources = resources
        self.n_total = prepared.n_total
        self.n_ok = self.n_failed = self.n_correct = 0
        self.pending: list[SampleResult] = []
        self.started = time.monotonic()
        self.last_flush = 0.0
        self.api_key: str | None = None
        self.versions: dict[str, str] = {}
        self.clip_dir: Path | None = None

    def record(self, result: SampleResult) -> None:
        self.deps.writer.submit_results(self.run_id, [result])
        self.pending.append(result)
        if result.ok:
            self.n_ok += 1
            self.n_correct += int(result.correct)
        else:
            self.n_failed += 1
            log.info(
                "speech sample failed: %s",
                result.error_message,
                extra={"run_id": self.run_id, "sample_index": result.index},
            )
        now = time.monotonic()
        if now - self.last_flush >= self.deps.event_interval_s:
            self.flush_events()

    def flush_events(self) -> None:
        self.last_flush = time.monotonic()
        if self.pending:
            batch, self.pending = tuple(self.pending), []
            self.emit(SamplesFinished(self.run_id, batch))
        self.emit(
            Progress(
                run_id=self.run_id,
                n_done=self.n_ok + self.n_failed,
                n_total=self.n_total,
                n_ok=self.n_ok,
                n_failed=self.n_failed,
                n_correct=self.n_correct,
                elapsed_s=time.monotonic() - self.started,
            )
        )

    # -- ASR ---------------------------------------------------------------------------------

    def _load_clip(self, utt: Utterance, rate: int | None) -> LoadedAudio:
        assert utt.audio_path is not None
        return load_audio(utt.audio_path, rate)

    def _warm_up(self, provider: AsrProvider, utterances: Sequence[Utterance]) -> None:
        """Transcribe the first readable clip (cut to WARMUP_MAX_S) ``warmup`` times, untimed
        as far as RTFx is concerned: first calls pay for lazy allocations and caches."""
        if self.options.warmup <= 0:
            return
        for utt in utterances:
            if utt.problem is not None or utt.audio_path is None:
                continue
            try:
                audio = self._load_clip(utt, provider.sample_rate)
            except (AudioLoadError, OSError):
                continue
            keep = int(WARMUP_MAX_S * audio.sample_rate)
            short = replace(audio, samples=audio.samples[:keep])
            started = time.perf_counter()
            try:
                for _ in range(self.options.warmup):
                    provider.transcribe(Clip(utt.audio_path, short))
            except Exception as exc:  # the measured pass will record the failure
                log.info("warm-up transcription failed: %s", exc, extra={"run_id": self.run_id})
            self.resources.warmup_s = time.perf_counter() - started
            self.resources.warmup_clips = self.options.warmup
            return

    def run_asr(self) -> None:
        spec, options = self.spec, self.options
        provider = _asr_for(spec.provider, spec.model, spec, options, self.api_key)
        provider.check()
        started = time.perf_counter()
        provider.load()
        self.resources.model_load_s = time.perf_counter() - started
        self.versions = provider.versions()
        try:
            utterances = self.prepared.utterances
            self._warm_up(provider, utterances)
            for utt in utterances:
                if self.cancel.cancelled:
                    return
                self.record(self.asr_one(provider, utt))
        finally:
            provider.close()

    def asr_one(self, provider: AsrProvider, utt: Utterance) -> SampleResult:
        normalizer = self.options.normalizer
        prompt = str(utt.audio_path) if utt.audio_path else utt.source
        reference = utt.reference or ""
        base: dict[str, Any] = {
            "kind": ASR_BENCHMARK, "audio_path": prompt, "source": utt.source,
        }

        def failed(message: str, failure: str, category: ErrorCategory) -> SampleResult:
            return _failed(
                utt.index, utt.utt_id, prompt=prompt, expected=reference, message=message,
                failure=failure, category=category, details=base,
            )

        if utt.problem is not None:
            return failed(utt.problem, Failure.DATASET, ErrorCategory.BAD_REQUEST)
        if not get_normalizer(normalizer)(reference):
            return failed(
                f"{utt.source}: the reference for {utt.utt_id} is empty after the "
                f"'{normalizer}' normalizer ({reference!r}); nothing to score",
                Failure.EMPTY_REFERENCE,
                ErrorCategory.BAD_REQUEST,
            )
        try:
            audio = self._load_clip(utt, provider.sample_rate)
        except AudioLoadError as exc:
            return failed(f"{utt.source}: {exc}", Failure.AUDIO, ErrorCategory.BAD_REQUEST)
        base.update(audio_s=audio.duration_s, source_rate=audio.source_rate,
                    channels=audio.channels)
        clip = Clip(utt.audio_path, audio)
        started_ns = time.monotonic_ns()
        cpu_started = time.process_time()
        started = time.perf_counter()
        try:
            hypothesis = provider.transcribe(clip)
        except MissingDependencyError:
            raise  # nothing else would work either: stop the run with this message
        except Exception as exc:
            message, category = _error_of(exc, "transcription")
            return failed(f"{utt.source}: {message}", Failure.TRANSCRIPTION, category)
        processing_s = time.perf_counter() - started
        processing_cpu_s = time.process_time() - cpu_started
        # An HTTP provider that retried: count the successful attempt only.
        last = getattr(provider, "last_request_s", None)
        if isinstance(last, float) and 0 < last < processing_s:
            processing_s = last
        scored = _score(reference, hypothesis, normalizer)
        details = {
            **base,
            **scored,
            "processing_s": processing_s,
            "processing_cpu_s": processing_cpu_s,
            "rtfx": rtfx(audio.duration_s, processing_s),
        }
        wer = scored["wer"]
        return SampleResult(
            index=utt.index,
            sample_id=utt.utt_id,
            status=SampleStatus.OK,
            prompt=prompt,
            expected=reference,
            output=hypothesis,
            extracted=scored["hypothesis_normalized"],
            score=max(0.0, 1.0 - wer) if wer is not None else None,
            streamed=False,
            started_ns=started_ns,
            end_offset_ns=int(processing_s * 1e9),
            e2e_ms=processing_s * 1000.0,
            reasoning=_details_json(details),
        )

    # -- TTS ---------------------------------------------------------------------------------

    def run_tts(self) -> None:
        spec, options = self.spec, self.options
        tts = _tts_for(spec, options, self.api_key)
        asr = _asr_for(options.asr_provider, options.asr_model, spec, options, api_key=None)
        tts.check()
        asr.check()
        started = time.perf_counter()
        tts.load()
        self.resources.model_load_s = time.perf_counter() - started
        started = time.perf_counter()
        asr.load()
        self.resources.asr_load_s = time.perf_counter() - started
        self.versions = {**tts.versions(), **asr.versions()}
        if options.save_audio:
            self.clip_dir = self.deps.paths.data_dir / "audio" / self.run_id
            self.clip_dir.mkdir(parents=True, exist_ok=True)
        try:
            if options.warmup > 0 and self.prepared.texts:
                started = time.perf_counter()
                try:
                    for _ in range(options.warmup):
                        tts.synthesize(self.prepared.texts[0].text)
                except Exception as exc:
                    log.info("warm-up synthesis failed: %s", exc, extra={"run_id": self.run_id})
                self.resources.warmup_s = time.perf_counter() - started
                self.resources.warmup_clips = options.warmup
            for item in self.prepared.texts:
                if self.cancel.cancelled:
                    return
                self.record(self.tts_one(tts, asr, item))
        finally:
            tts.close()
            asr.close()

    def tts_one(self, tts: TtsProvider, asr: AsrProvider, item: TextItem) -> SampleResult:
        normalizer = self.options.normalizer
        text = item.text
        base: dict[str, Any] = {
            "kind": TTS_BENCHMARK, "source": item.source, "asr_provider": asr.describe(),
        }

        def failed(message: str, failure: str, category: ErrorCategory) -> SampleResult:
            return _failed(
                item.index, item.item_id, prompt=text, expected=text, message=message,
                failure=failure, category=category, details=base,
            )

        if not get_normalizer(normalizer)(text):
            return failed(
                f"{item.source}: the text is empty after the '{normalizer}' normalizer",
                Failure.EMPTY_REFERENCE,
                ErrorCategory.BAD_REQUEST,
            )
        started_ns = time.monotonic_ns()
        started = time.perf_counter()
        try:
            synth = tts.synthesize(text)
        except MissingDependencyError:
            raise
        except Exception as exc:
            message, category = _error_of(exc, "synthesis")
            return failed(f"{item.source}: {message}", Failure.SYNTHESIS, category)
        synthesis_s = time.perf_counter() - started
        health = check_health(synth.samples, synth.sample_rate, text)
        base.update(
            audio_s=synth.duration_s,
            synthesis_s=synthesis_s,
            rtf=synthesis_s / synth.duration_s if synth.duration_s > 0 else None,
            first_audio_s=synth.first_audio_s,
            sample_rate=synth.sample_rate,
            clipping_ratio=health.clipping_ratio,
            silence_ratio=health.silence_ratio,
            words_per_s=health.words_per_s,
            issues=list(health.issues),
        )
        if self.clip_dir is not None and len(synth.samples):
            from openbench_desktop.core.audio.asr import encode_wav

            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in item.item_id)[:40]
            path = self.clip_dir / f"{item.index:05d}-{safe}.wav"
            path.write_bytes(encode_wav(synth.samples, synth.sample_rate))
            base["audio_path"] = str(path)
        if not len(synth.samples):
            return failed(f"{item.source}: the synthesiser returned no audio",
                          Failure.SYNTHESIS, ErrorCategory.PARSE)
        try:
            rate = asr.sample_rate or synth.sample_rate
            samples = resample(synth.samples, synth.sample_rate, rate)
            audio = LoadedAudio(samples, rate, synth.sample_rate, 1, synth.duration_s)
            asr_started = time.perf_counter()
            heard = asr.transcribe(Clip(None, audio))
            base["asr_s"] = time.perf_counter() - asr_started
        except MissingDependencyError:
            raise
        except Exception as exc:
            message, category = _error_of(exc, "round-trip recognition")
            return failed(f"{item.source}: {message}", Failure.TRANSCRIPTION, category)
        scored = _score(text, heard, normalizer)
        wer = scored["wer"]
        first_ms = synth.first_audio_s * 1000.0 if synth.first_audio_s is not None else None
        return SampleResult(
            index=item.index,
            sample_id=item.item_id,
            status=SampleStatus.OK,
            prompt=text,
            expected=text,
            output=heard,
            extracted=scored["hypothesis_normalized"],
            score=max(0.0, 1.0 - wer) if wer is not None else None,
            streamed=synth.first_audio_s is not None,
            started_ns=started_ns,
            end_offset_ns=int(synthesis_s * 1e9),
            ttft_ms=first_ms,
            e2e_ms=synthesis_s * 1000.0,
            reasoning=_details_json({**base, **scored}),
        )


# --- summaries ------------------------------------------------------------------------------


def audio_summary(
    kind: str,
    results: Iterable[SampleResult],
    *,
    normalizer: str,
    resources: Mapping[str, Any] | None = None,
    provider: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Corpus figures of a speech run from its stored samples (formulas in METRICS.md).

    Only successful samples are scored; failures are counted by kind. The WER interval
    resamples the scored utterances in index order with the fixed seed, so the same stored
    run always gives the same interval.
    """
    scored: list[dict[str, Any]] = []
    failures: Counter[str] = Counter()
    for r in sorted(results, key=lambda r: r.index):
        details = audio_details(r) or {}
        if not r.ok:
            failures[str(details.get("failure") or "other")] += 1
            continue
        if "ref_words" in details:
            scored.append(details)
    words = [(d["substitutions"] + d["deletions"] + d["insertions"], d["ref_words"])
             for d in scored]
    chars = [(d["char_substitutions"] + d["char_deletions"] + d["char_insertions"],
              d["ref_chars"]) for d in scored]
    raw_words = [(d["raw"]["errors"], d["raw"]["ref_words"]) for d in scored]
    raw_chars = [(d["raw"]["char_errors"], d["raw"]["ref_chars"]) for d in scored]

    def rate(pairs: Sequence[tuple[int, int]]) -> float | None:
        total = sum(n for _, n in pairs)
        return sum(e for e, _ in pairs) / total if total else None

    audio_s = sum(float(d.get("audio_s") or 0.0) for d in scored)
    out: dict[str, Any] = {
        "kind": kind,
        "provider": provider,
        "normalizer": normalizer,
        "n_scored": len(scored),
        "wer": rate(words),
        "wer_ci": list(ci) if (ci := bootstrap_ci(*_columns(words))) else None,
        "wer_ci_method": f"percentile bootstrap over utterances, {BOOTSTRAP_RESAMPLES} "
        f"resamples, seed {BOOTSTRAP_SEED}, 95%",
        "cer": rate(chars),
        "wer_raw": rate(raw_words),
        "cer_raw": rate(raw_chars),
        "hits": sum(d["hits"] for d in scored),
        "substitutions": sum(d["substitutions"] for d in scored),
        "deletions": sum(d["deletions"] for d in scored),
        "insertions": sum(d["insertions"] for d in scored),
        "ref_words": sum(d["ref_words"] for d in scored),
        "audio_s": audio_s,
        "failure_counts": dict(failures),
    }
    if kind == ASR_BENCHMARK:
        processing_s = sum(float(d.get("processing_s") or 0.0) for d in scored)
        processing_cpu_s = sum(float(d.get("processing_cpu_s") or 0.0) for d in scored)
        speed = rtfx(audio_s, processing_s)
        out.update(
            processing_s=processing_s,
            rtfx=speed,
            rtf=1.0 / speed if speed else None,
            processing_cpu_s=processing_cpu_s,
            rtfx_cpu=rtfx(audio_s, processing_cpu_s),
        )
    else:
        synthesis_s = sum(float(d.get("synthesis_s") or 0.0) for d in scored)
        speed = rtfx(audio_s, synthesis_s)
        firsts = [d["first_audio_s"] for d in scored if d.get("first_audio_s") is not None]
        issues: Counter[str] = Counter(i for d in scored for i in d.get("issues") or ())
        out.update(
            synthesis_s=synthesis_s,
            rtf=synthesis_s / audio_s if audio_s > 0 else None,
            rtfx=speed,
            first_audio_s_p50=_median(firsts),
            health_issue_counts={k: issues.get(k, 0) for k in ("clipping", "silence", "duration")},
            n_healthy=sum(1 for d in scored if not d.get("issues")),
        )
    if resources:
        out["resources"] = dict(resources)
    if extra:
        out.update(extra)
    return out


def _columns(pairs: Sequence[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [e for e, _ in pairs], [n for _, n in pairs]


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# --- entry point ----------------------------------------------------------------------------


def execute_audio_run(
    spec: RunSpec,
    deps: RunDeps,
    *,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
    prepared: PreparedAudioRun | None = None,
) -> RunSummary:
    """Run a speech benchmark to the end and return its summary (see the module doc).

    Raises ConfigError / DatasetError / SecretStoreError *before* anything is stored when
    the spec, a provider's libraries, the dataset or the key is unusable. Once the run row
    exists every outcome is stored and reported through ``on_event``.
    """
    from openbench_desktop.core.secrets import resolve_api_key

    emit = on_event or (lambda _event: None)
    cancel = cancel or CancelToken()
    prepared = prepared or prepare_audio_run(spec, deps.paths)
    spec = prepared.spec  # with the provider's default model filled in
    api_key = None
    if spec.provider in HTTP_PROVIDERS:
        api_key = resolve_api_key("openai", spec.api_key_name, deps.secrets)
        register_secret(api_key)
    if prepared.n_total == 0:
        raise ConfigError(f"The dataset {prepared.description} has no entries.")

    run_id = open_run(
        spec, deps, emit, n_total=prepared.n_total, dataset_sha256=prepared.sha256,
        dataset_description=prepared.description, n_dataset_samples=prepared.n_dataset,
    )
    log.info(
        "speech run started: %s with %s %s, %d sample(s)",
        spec.benchmark, spec.provider, spec.model, prepared.n_total, extra={"run_id": run_id},
    )
    resources = _Resources()
    loop = _AudioLoop(run_id, prepared, deps, emit, cancel, resources)
    loop.api_key = api_key

    def body() -> Outcome:
        if prepared.kind == ASR_BENCHMARK:
            loop.run_asr()
        else:
            loop.run_tts()
        loop.flush_events()
        if cancel.cancelled:
            return RunStatus.CANCELLED, cancel.reason
        return RunStatus.COMPLETED, None

    return run_to_end(
        run_id,
        body,
        lambda status, message: _finalize(
            run_id, prepared, deps, status, message, resources, loop
        ),
        emit,
        label="speech run",
    )


def _finalize(
    run_id: str,
    prepared: PreparedAudioRun,
    deps: RunDeps,
    status: RunStatus,
    message: str | None,
    resources: _Resources,
    loop: _AudioLoop,
) -> RunSummary:
    """Flush results, summarise from what is stored, write the final status."""
    spec = prepared.spec
    deps.writer.flush()
    used = resources.snapshot()
    if resources.asr_load_s is not None:
        used["asr_model_load_s"] = resources.asr_load_s
    results = list(deps.store.iter_results(run_id))
    if status is RunStatus.COMPLETED and len(results) < prepared.n_total:
        status = RunStatus.INTERRUPTED
        message = f"{prepared.n_total - len(results)} sample(s) were not run."
    summary = summarize(
        run_id=run_id,
        status=status,
        benchmark=spec.benchmark,
        model=spec.model,
        n_samples=prepared.n_total,
        results=results,
        duration_s=used["wall_s"],
        message=message,
    )
    provider = (
        spec.provider if prepared.kind == ASR_BENCHMARK
        else f"{spec.provider} → {prepared.options.asr_provider}"
    )
    audio = audio_summary(
        prepared.kind,
        results,
        normalizer=prepared.options.normalizer,
        resources=used,
        provider=provider,
        extra={"versions": dict(loop.versions)} if loop.versions else None,
    )
    summary = replace(summary, audio=audio)
    deps.writer.call(
        deps.store.finish_run, run_id, status, summary=summary, message=message
    ).result()
    return summary
