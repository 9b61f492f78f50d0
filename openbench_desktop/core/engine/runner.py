"""The run loop: spec → samples → concurrent requests → scored results → the one writer.

``execute_run`` is a plain blocking function. It runs its own asyncio loop in the calling
thread (the CLI's main thread, or the GUI's worker ``QThread``), reports through a callback
and checks a :class:`CancelToken`; it knows nothing about windows. The run's final status
is always written, whatever happens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from openbench_desktop.core.benchmarks.base import Benchmark, LoadedDataset
from openbench_desktop.core.domain import (
    EngineEvent,
    ErrorCategory,
    Message,
    Progress,
    RunSpec,
    RunStarted,
    RunStatus,
    RunSummary,
    Sample,
    SampleResult,
    SamplesFinished,
    SampleStatus,
)
from openbench_desktop.core.engine.cancel import CancelToken
from openbench_desktop.core.engine.lifecycle import Outcome, open_run, run_to_end
from openbench_desktop.core.engine.limits import (
    CHARS_PER_TOKEN,
    CostGuard,
    RateLimiter,
    RunLimits,
)
from openbench_desktop.core.engine.metrics import sample_timings, summarize
from openbench_desktop.core.engine.retry import (
    AdaptiveLimiter,
    Attempts,
    RetryPolicy,
    call_with_retries,
    is_retryable,
)
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.logs import register_secret
from openbench_desktop.core.providers.base import ChatProvider, ChatRequest, ProviderError

if TYPE_CHECKING:
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.secrets import SecretStore
    from openbench_desktop.core.storage import ResultWriter, Store

log = logging.getLogger(__name__)

EventCallback = Callable[[EngineEvent], None]
ProviderFactory = Callable[..., ChatProvider]

# A failure of these kinds will repeat for every sample: stop the run at once.
FATAL_CATEGORIES = frozenset({ErrorCategory.AUTH, ErrorCategory.NOT_FOUND})
# If this many samples finished and none succeeded, the endpoint is unusable: stop.
NO_SUCCESS_LIMIT = 8
KNOWN_PROVIDERS = ("openai", "anthropic")


@dataclass
class RunDeps:
    """What a run needs from the application. The GUI and the CLI build one each."""

    store: Store
    writer: ResultWriter
    paths: AppPaths
    secrets: SecretStore | None = None
    provider_factory: ProviderFactory | None = None
    event_interval_s: float = 0.1


@dataclass
class PreparedRun:
    spec: RunSpec
    benchmark: Benchmark
    dataset: LoadedDataset
    samples: list[Sample] = field(default_factory=list)


def validate_spec(spec: RunSpec) -> None:
    if spec.provider not in KNOWN_PROVIDERS:
        raise ConfigError(
            f"Unknown provider {spec.provider!r}; choose one of: {', '.join(KNOWN_PROVIDERS)}."
        )
    if not spec.base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"Base URL {spec.base_url!r} must start with http:// or https:// "
            "(e.g. http://127.0.0.1:8000/v1)."
        )
    if not spec.model.strip():
        raise ConfigError("No model given: pass --model (see 'openbench-desktop models').")
    if spec.concurrency < 1 or spec.concurrency > 4096:
        raise ConfigError(f"Concurrency must be between 1 and 4096, not {spec.concurrency}.")
    if spec.limit is not None and spec.limit < 1:
        raise ConfigError(f"Limit must be at least 1, not {spec.limit}.")
    if spec.params.max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1, not {spec.params.max_tokens}.")
    if not 0.0 <= spec.params.temperature <= 2.0:
        raise ConfigError(f"Temperature must be between 0 and 2, not {spec.params.temperature}.")


def prepare_run(spec: RunSpec, paths: AppPaths) -> PreparedRun:
    """Validate the spec and load the dataset (raises ConfigError / DatasetError).

    Cheap enough for a "validate" button; nothing is written.
    """
    from openbench_desktop.core.benchmarks.registry import get_benchmark

    validate_spec(spec)
    benchmark = get_benchmark(
        spec.benchmark, scorer=spec.scorer, scorer_arg=spec.scorer_arg, hub_cache=paths.hub_cache
    )
    dataset = benchmark.load(spec.dataset)
    samples = dataset.samples[: spec.limit] if spec.limit else list(dataset.samples)
    if not samples:
        raise ConfigError(f"The dataset {dataset.description} has no samples.")
    return PreparedRun(spec=spec, benchmark=benchmark, dataset=dataset, samples=samples)


def build_messages(spec: RunSpec, sample: Sample) -> tuple[Message, ...]:
    system = spec.params.system_prompt
    if system and not any(m.role == "system" for m in sample.messages):
        return (Message("system", system), *sample.messages)
    return sample.messages


def _failed(sample: Sample, exc: ProviderError | Exception) -> SampleResult:
    if isinstance(exc, ProviderError):
        category, message = exc.category, str(exc)
    else:
        category, message = ErrorCategory.OTHER, f"{type(exc).__name__}: {exc}"
    return SampleResult(
        index=sample.index,
        sample_id=sample.sample_id,
        status=SampleStatus.FAILED,
        prompt=sample.prompt_text,
        expected=sample.expected,
        error_category=category,
        error_message=message,
    )


async def run_one(
    provider: ChatProvider,
    benchmark: Benchmark,
    spec: RunSpec,
    sample: Sample,
    *,
    policy: RetryPolicy | None = None,
    limiter: AdaptiveLimiter | None = None,
    run_id: str = "",
    retryable: Callable[[BaseException], bool] | None = None,
) -> SampleResult:
    """Send one sample (with retries), score the answer, derive its timings.

    Never raises ProviderError: a sample that fails after its retries is a failed result
    with its category. Timings are those of the final attempt; waits are counted apart.
    """
    request = ChatRequest(
        model=spec.model, messages=build_messages(spec, sample), params=spec.params, seed=spec.seed
    )
    tally = Attempts()
    try:
        completion = await call_with_retries(
            lambda: provider.complete(request),
            policy or RetryPolicy(attempts=1),
            limiter=limiter,
            describe=f"run {run_id[:8]} sample {sample.index}",
            attempts=tally,
            retryable=retryable or is_retryable,
            context={"run_id": run_id, "sample_index": sample.index},
        )
    except ProviderError as exc:
        return replace(
            _failed(sample, exc), attempts=tally.count, retry_wait_ms=tally.wait_s * 1000
        )
    scored = benchmark.score(sample, completion.text)
    timings = sample_timings(
        streamed=completion.streamed,
        end_offset_ns=completion.end_offset_ns,
        chunk_offsets_ns=completion.chunk_offsets_ns,
        chunk_chars=completion.chunk_chars,
        chunk_kinds=completion.chunk_kinds,
    )
    return SampleResult(
        index=sample.index,
        sample_id=sample.sample_id,
        status=SampleStatus.OK,
        prompt=sample.prompt_text,
        output=completion.text,
        reasoning=completion.reasoning,
        expected=sample.expected,
        extracted=scored.extracted,
        score=scored.score,
        finish_reason=completion.finish_reason,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        usage_reported=completion.usage_reported,
        streamed=completion.streamed,
        started_ns=completion.started_ns,
        end_offset_ns=completion.end_offset_ns,
        chunk_offsets_ns=completion.chunk_offsets_ns,
        chunk_chars=completion.chunk_chars,
        chunk_kinds=completion.chunk_kinds,
        ttft_ms=timings.ttft_ms,
        itl_ms=timings.itl_ms,
        e2e_ms=timings.e2e_ms,
        attempts=tally.count,
        retry_wait_ms=tally.wait_s * 1000,
    )


class _Loop:
    """State of one run inside its asyncio loop."""

    def __init__(
        self,
        run_id: str,
        prepared: PreparedRun,
        provider: ChatProvider,
        deps: RunDeps,
        emit: EventCallback,
        cancel: CancelToken,
        n_total: int,
        n_already: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        self.run_id = run_id
        self.prepared = prepared
        self.provider = provider
        self.deps = deps
        self.emit = emit
        self.cancel = cancel
        self.n_total = n_total
        self.n_ok, self.n_failed, self.n_correct = n_already
        self.n_done = self.n_ok + self.n_failed
        self.n_success_this_run = 0
        self.fatal: str | None = None
        self.stop_reason: str | None = None  # a limit (time, cost) ended the run
        self.pending: list[SampleResult] = []
        self.started = time.monotonic()

    def retryable(self, exc: BaseException) -> bool:
        # Until one request has succeeded, a refused connection or an unknown host means a
        # wrong URL or a server that is not running: say so at once instead of backing off
        # for minutes. Once the endpoint has answered, connection drops are transient.
        if (
            isinstance(exc, ProviderError)
            and exc.connect_failed
            and self.n_success_this_run == 0
        ):
            return False
        return is_retryable(exc)

    def record(self, result: SampleResult) -> None:
        self.deps.writer.submit_results(self.run_id, [result])
        self.pending.append(result)
        self.n_done += 1
        if result.ok:
            self.n_ok += 1
            self.n_success_this_run += 1
            self.n_correct += int(result.correct)
            return
        self.n_failed += 1
        log.info(
            "sample failed after %d attempt(s): %s",
            result.attempts,
            result.error_message,
            extra={
                "run_id": self.run_id,
                "sample_index": result.index,
                "category": str(result.error_category),
            },
        )
        if self.fatal is None:
            if result.error_category in FATAL_CATEGORIES:
                self.fatal = result.error_message
            elif self.n_success_this_run == 0 and self.n_failed >= min(
                NO_SUCCESS_LIMIT, self.n_total
            ):
                self.fatal = (
                    f"The first {self.n_failed} requests all failed; stopping. "
                    f"Last error: {result.error_message}"
                )

    def flush_events(self) -> None:
        if self.pending:
            batch, self.pending = tuple(self.pending), []
            self.emit(SamplesFinished(self.run_id, batch))
        self.emit(
            Progress(
                run_id=self.run_id,
                n_done=self.n_done,
                n_total=self.n_total,
                n_ok=self.n_ok,
                n_failed=self.n_failed,
                n_correct=self.n_correct,
                elapsed_s=time.monotonic() - self.started,
            )
        )

    async def run(self, samples: Iterable[Sample]) -> None:
        queue = iter(samples)
        spec = self.prepared.spec
        benchmark = self.prepared.benchmark
        policy = RetryPolicy.from_options(spec.options)
        limiter = AdaptiveLimiter(spec.concurrency)
        self.limiter = limiter
        limits = RunLimits.from_options(spec.options)
        rate = RateLimiter(limits.requests_per_minute, limits.tokens_per_minute)
        guard = CostGuard(limits)
        max_tokens = spec.params.max_tokens

        async def worker() -> None:
            for sample in queue:  # one shared iterator: each sample goes to one worker
                if self.cancel.cancelled or self.fatal or self.stop_reason:
                    return
                prompt_chars = len(sample.prompt_text)
                reserved = 0.0
                if guard.active:
                    reserved = guard.worst_case(prompt_chars, max_tokens)
                    if not guard.reserve(reserved):
                        # The sample stays unsent: a resume can pick it up with a new cap.
                        self.stop_reason = (
                            f"Stopped before passing the cost cap of "
                            f"${limits.cost_cap_usd:.4f}: ${guard.spent_usd:.4f} spent, and "
                            f"the next request could cost up to ${reserved:.4f}."
                        )
                        return
                if rate.active:
                    await rate.acquire(prompt_chars / CHARS_PER_TOKEN + max_tokens)
                result = await run_one(
                    self.provider,
                    benchmark,
                    spec,
                    sample,
                    policy=policy,
                    limiter=limiter,
                    run_id=self.run_id,
                    retryable=self.retryable,
                )
                if guard.active:
                    guard.settle(reserved, _actual_cost(guard, result, reserved))
                self.record(result)

        async def ticker() -> None:
            while True:
                await asyncio.sleep(self.deps.event_interval_s)
                self.flush_events()

        async def watch_cancel(workers: list[asyncio.Task[None]]) -> None:
            # In-flight requests may take a minute: cancel them instead of waiting.
            while not (self.cancel.cancelled or self.fatal or self.stop_reason):
                await asyncio.sleep(0.05)
                elapsed = time.monotonic() - self.started
                if limits.max_duration_s is not None and elapsed > limits.max_duration_s:
                    self.stop_reason = (
                        f"Stopped at the run's time limit of {limits.max_duration_s:g} s; "
                        "finished samples are kept (resume to run the rest)."
                    )
            for task in workers:
                task.cancel()

        workers = [asyncio.create_task(worker()) for _ in range(spec.concurrency)]
        side = [asyncio.create_task(ticker()), asyncio.create_task(watch_cancel(workers))]
        try:
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)
            for task in workers:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            self.flush_events()


def execute_run(
    spec: RunSpec,
    deps: RunDeps,
    *,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
    prepared: PreparedRun | None = None,
) -> RunSummary:
    """Run a benchmark to the end (completed, failed or cancelled) and return its summary.

    Raises ConfigError / DatasetError / SecretStoreError *before* anything is stored when
    the spec, dataset or key is unusable. Once the run row exists, every outcome is stored
    and reported through ``on_event``; the summary is returned rather than raised.
    """
    # Load tests and speech benchmarks have their own run loops; every caller (CLI, GUI)
    # goes through here so a spec of any kind runs the same way.
    from openbench_desktop.core.audio.runner import execute_audio_run, is_audio_benchmark
    from openbench_desktop.core.secrets import resolve_api_key
    from openbench_desktop.core.speed.runner import execute_speed_run, is_speed_benchmark

    if is_speed_benchmark(spec.benchmark):
        return execute_speed_run(spec, deps, on_event=on_event, cancel=cancel)
    if is_audio_benchmark(spec.benchmark):
        return execute_audio_run(spec, deps, on_event=on_event, cancel=cancel)
    emit = on_event or (lambda _event: None)
    cancel = cancel or CancelToken()
    prepared = prepared or prepare_run(spec, deps.paths)
    api_key = resolve_api_key(spec.provider, spec.api_key_name, deps.secrets)
    register_secret(api_key)
    factory = deps.provider_factory
    if factory is None:
        from openbench_desktop.core.providers.registry import make_provider

        factory = make_provider

    n_total = len(prepared.samples)
    run_id = open_run(
        spec, deps, emit, n_total=n_total, dataset_sha256=prepared.dataset.sha256,
        dataset_description=prepared.dataset.description,
        n_dataset_samples=len(prepared.dataset.samples),
    )
    return _drive(run_id, prepared, prepared.samples, n_total, deps, emit, cancel, api_key, factory)


def continue_run(
    run_id: str,
    deps: RunDeps,
    *,
    only_failed: bool = False,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
) -> RunSummary:
    """Resume a stored run (``only_failed=False``) or retry its failed samples, in place.

    Resume sends exactly the samples that have no stored row; retry-failed sends exactly
    the failed ones, whose rows are replaced. Either way every index ends up stored once,
    and the summary is recomputed from all stored rows. Raises ConfigError/DatasetError
    before touching the run if its dataset can no longer be loaded or has changed.
    """
    from openbench_desktop.core.secrets import resolve_api_key

    record = deps.store.get_run(run_id)
    from openbench_desktop.core.audio.runner import is_audio_benchmark
    from openbench_desktop.core.speed.runner import is_speed_benchmark

    if is_speed_benchmark(record.spec.benchmark) or is_audio_benchmark(record.spec.benchmark):
        # A load test's timings belong to one continuous session, and a speech run's RTFx
        # to one model load: adding samples later would mix conditions.
        raise ConfigError(
            f"Run {run_id[:8]} is a {record.spec.benchmark} run; those cannot be resumed "
            "in place. Duplicate it (Run detail → Duplicate) to run it again."
        )
    if record.status is RunStatus.RUNNING:
        raise ConfigError(
            f"Run {run_id[:8]} is running in another window or process; wait for it to end "
            "(or, if that process died, restart the app so it is marked interrupted)."
        )
    spec = record.spec
    prepared = prepare_run(spec, deps.paths)
    stored_sha = record.manifest.dataset_sha256 if record.manifest else None
    if stored_sha and stored_sha != prepared.dataset.sha256:
        raise ConfigError(
            f"The dataset of run {run_id[:8]} ({prepared.dataset.description}) has changed "
            "since the run started (its SHA-256 differs), so the missing samples would not "
            "belong to the same benchmark. Start a new run instead."
        )
    if only_failed:
        todo_indices = deps.store.existing_indices(run_id, status=SampleStatus.FAILED)
    else:
        done = deps.store.existing_indices(run_id)
        todo_indices = {s.index for s in prepared.samples} - done
    samples = [s for s in prepared.samples if s.index in todo_indices]
    kept = [r for r in deps.store.iter_results(run_id) if r.index not in todo_indices]
    n_already = (
        sum(r.ok for r in kept),
        sum(not r.ok for r in kept),
        sum(r.correct for r in kept),
    )
    emit = on_event or (lambda _event: None)
    cancel = cancel or CancelToken()
    api_key = resolve_api_key(spec.provider, spec.api_key_name, deps.secrets)
    register_secret(api_key)
    factory = deps.provider_factory
    if factory is None:
        from openbench_desktop.core.providers.registry import make_provider

        factory = make_provider
    deps.writer.call(deps.store.set_status, run_id, RunStatus.RUNNING, None).result()
    n_total = len(prepared.samples)
    emit(RunStarted(run_id, spec, n_total))
    return _drive(
        run_id, prepared, samples, n_total, deps, emit, cancel, api_key, factory, n_already
    )


def _drive(
    run_id: str,
    prepared: PreparedRun,
    samples: list[Sample],
    n_total: int,
    deps: RunDeps,
    emit: EventCallback,
    cancel: CancelToken,
    api_key: str | None,
    factory: ProviderFactory,
    n_already: tuple[int, int, int] = (0, 0, 0),
) -> RunSummary:
    spec = prepared.spec
    started = time.monotonic()
    log.info(
        "run started: %s on %s at %s, %d sample(s) to send",
        spec.benchmark,
        spec.model,
        spec.base_url,
        len(samples),
        extra={"run_id": run_id},
    )

    def body() -> Outcome:
        provider = factory(
            spec.provider,
            spec.base_url,
            api_key,
            concurrency=spec.concurrency,
            timeout_s=spec.params.timeout_s,
        )
        loop_state = _Loop(run_id, prepared, provider, deps, emit, cancel, n_total, n_already)

        async def main() -> None:
            try:
                await loop_state.run(samples)
            finally:
                await provider.aclose()

        asyncio.run(main())
        if loop_state.fatal:
            return RunStatus.FAILED, loop_state.fatal
        if loop_state.stop_reason:
            return RunStatus.CANCELLED, loop_state.stop_reason
        if cancel.cancelled:
            return RunStatus.CANCELLED, cancel.reason
        return RunStatus.COMPLETED, None

    return run_to_end(
        run_id,
        body,
        lambda status, message: _finalize(run_id, spec, n_total, deps, status, message, started),
        emit,
    )


def _finalize(
    run_id: str,
    spec: RunSpec,
    n_total: int,
    deps: RunDeps,
    status: RunStatus,
    message: str | None,
    started: float,
) -> RunSummary:
    """Flush results, summarise from what is stored, write the final status."""
    deps.writer.flush()
    duration = time.monotonic() - started
    if status is RunStatus.COMPLETED:
        missing = n_total - len(deps.store.existing_indices(run_id))
        if missing > 0:  # e.g. retry-failed on a run that had also stopped early
            status = RunStatus.INTERRUPTED
            message = (
                f"{missing} sample(s) have not been run yet; resume the run to finish it."
            )
    summary = summarize(
        run_id=run_id,
        status=status,
        benchmark=spec.benchmark,
        model=spec.model,
        n_samples=n_total,
        results=deps.store.iter_results(run_id),
        duration_s=duration,
        message=message,
    )
    deps.writer.call(
        deps.store.finish_run, run_id, status, summary=summary, message=message
    ).result()
    limits = RunLimits.from_options(spec.options)
    if limits.priced and summary.usage_complete and summary.input_tokens is not None:
        guard = CostGuard(limits)
        cost = guard.cost(summary.input_tokens, summary.output_tokens or 0)
        deps.writer.call(deps.store.set_cost, run_id, cost).result()
    return summary


def _actual_cost(guard: CostGuard, result: SampleResult, reserved: float) -> float:
    """What a finished request cost: from the server's usage, else assume the worst."""
    if result.usage_reported and result.input_tokens is not None:
        return guard.cost(result.input_tokens, result.output_tokens or 0)
    if not result.ok and not result.chunk_offsets_ns:
        return 0.0  # refused before generating anything
    return reserved
