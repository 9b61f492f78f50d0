"""Run a speed benchmark (``benchmark="speed"``) and store it like every other run.

:func:`execute_speed_run` mirrors :func:`openbench_desktop.core.engine.runner.execute_run`:
the same :class:`RunDeps`, events (``RunStarted``, ``SamplesFinished``, ``Progress``,
``RunFinished``/``RunFailed``/``RunCancelled``), cancel token, run row, one writer, and a
final status and summary that are always written. It is a plain blocking function running
its own asyncio loop in the calling thread.

What a run does: optional warm-up requests (never stored), then the profile's steps (see
:mod:`.profiles`). For every measured request it records when the request was
*scheduled* and when it was actually *sent*; latencies are measured from the send, and
the wait in between (client-side queueing) is reported apart. Requests go through the
measuring client (:mod:`.client`) for OpenAI-compatible servers, or through the regular
provider (Anthropic, an injected ``provider_factory``, or ``options["client"] ==
"httpx"``).

Results are handed to the one writer after each step (or every :data:`SAVE_BATCH`), not
one by one: the writer thread would otherwise compete with the measuring event loop for
the GIL while it takes timestamps. Events (``SamplesFinished``, ``Progress``) are still
emitted live, every ``event_interval_s``.

How a speed request is stored in the existing ``SampleResult`` fields (no new column):
``index`` is the request's ordinal among measured requests in the order they finished
(warm-up requests are not stored), ``sample_id`` is
``"<step>/<prompt index>"``, ``prompt`` the prompt (long ones shortened: they are
reproducible from the seed), ``output``/``reasoning`` the reply, ``started_ns`` the send
time and the chunk arrays as for every streamed sample, ``ttft_ms``/``itl_ms``/``e2e_ms``
under this app's definitions, ``score`` None; ``extracted`` holds JSON
``{"speed": {"step", "prompt_index", "scheduled_ns", "queue_ms", "connect_ms",
"no_choice_chunks"}}``
(:func:`~.metrics.speed_details`). The run summary's ``speed`` mapping holds the profile,
per-step results under the chosen definitions with bootstrap intervals, the same figures
under every definition set side by side, the client-limited flags and why the run stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from openbench_desktop.core.domain import (
    DatasetRef,
    EngineEvent,
    ErrorCategory,
    Message,
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
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.logs import register_secret
from openbench_desktop.core.providers.base import ChatProvider, ChatRequest, ProviderError
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.client import ParsedStream, SpeedClient
from openbench_desktop.core.speed.monitor import ClientMonitor, client_limit_reasons
from openbench_desktop.core.speed.profiles import (
    LoadProfile,
    OverloadDetector,
    OverloadPolicy,
    ProfileKind,
    StepKind,
    StepPlan,
    arrival_offsets_s,
)
from openbench_desktop.core.speed.prompts import PromptSource, shorten_for_storage
from openbench_desktop.core.speed.selfcheck import ceiling_reason, load_selfcheck

if TYPE_CHECKING:
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.engine.runner import RunDeps

__all__ = [
    "SPEED_BENCHMARK",
    "PreparedSpeedRun",
    "SpeedOptions",
    "execute_speed_run",
    "is_speed_benchmark",
    "prepare_speed_run",
    "speed_spec",
]

log = logging.getLogger(__name__)

EventCallback = Callable[[EngineEvent], None]

SPEED_BENCHMARK = "speed"
#: After an overload stop or the end of a duration, in-flight requests get this long.
DRAIN_S = 30.0
#: Starting a step's schedule slightly in the future lets every task be in place.
START_LEAD_NS = 5_000_000
NO_SUCCESS_LIMIT = 8
#: Results are handed to the writer after each step, or in batches of this many.
SAVE_BATCH = 5000
FATAL_CATEGORIES = frozenset({ErrorCategory.AUTH, ErrorCategory.NOT_FOUND})
_PROMPT_FIELDS = ("prompt", "input", "question", "text")


def is_speed_benchmark(name: str | None) -> bool:
    return (name or "").strip().lower() == SPEED_BENCHMARK


# --------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True, slots=True)
class SpeedOptions:
    """A speed run's settings, kept as plain values in ``RunSpec.options``."""

    profile: str = "concurrency"
    rate: float | None = None
    steps: int = 8
    requests: int | None = None
    duration_s: float | None = None
    warmup: int = 0
    input_tokens: int = 256
    ignore_eos: bool = True
    max_concurrency: int = 64
    definitions: str = "openbench"
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None
    slo_e2e_ms: float | None = None
    client: str = "auto"  # "auto" | "lean" | "httpx"
    overload_error_rate: float = 0.5
    overload_latency_factor: float = 10.0

    @classmethod
    def from_spec(cls, spec: RunSpec) -> SpeedOptions:
        o = dict(spec.options)
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in o.items() if k in known and v is not None}
        try:
            return cls(**values)
        except TypeError as exc:  # pragma: no cover - guarded by the key filter
            raise ConfigError(f"Bad speed options: {exc}") from None

    def to_options(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def slo(self) -> sm.Slo:
        return sm.Slo(self.slo_ttft_ms, self.slo_tpot_ms, self.slo_e2e_ms)


def speed_spec(
    *,
    base_url: str,
    model: str,
    provider: str = "openai",
    concurrency: int = 8,
    output_tokens: int = 64,
    seed: int | None = None,
    timeout_s: float = 120.0,
    api_key_name: str | None = None,
    name: str | None = None,
    tags: tuple[str, ...] = (),
    dataset: DatasetRef | None = None,
    **options: Any,
) -> RunSpec:
    """A RunSpec for a speed run (``options`` are :class:`SpeedOptions` fields)."""
    from types import MappingProxyType

    from openbench_desktop.core.domain import GenerationParams

    opts = SpeedOptions(**options)
    return RunSpec(
        provider=provider,
        base_url=base_url.rstrip("/"),
        model=model,
        benchmark=SPEED_BENCHMARK,
        dataset=dataset or DatasetRef(),
        params=GenerationParams(
            temperature=0.0, max_tokens=output_tokens, stream=True, timeout_s=timeout_s
        ),
        seed=seed,
        concurrency=concurrency,
        api_key_name=api_key_name,
        name=name,
        tags=tags,
        options=MappingProxyType(opts.to_options()),
    )


@dataclass(frozen=True, slots=True)
class PreparedSpeedRun:
    spec: RunSpec
    options: SpeedOptions
    profile: LoadProfile
    prompts: PromptSource
    description: str
    sha256: str | None = None
    n_dataset: int = 0

    @property
    def n_total_estimate(self) -> int:
        """Requests the run is expected to measure (for progress; exact when counted)."""
        per_step = self.profile.request_bound
        if per_step is None:  # duration only: rate x duration, or a rough guess
            rate = self.profile.rate or 10.0
            per_step = max(1, int(rate * (self.profile.duration_s or 1.0)))
        steps = self.profile.steps if self.profile.kind is ProfileKind.SWEEP else 1
        return per_step * steps


def prepare_speed_run(spec: RunSpec, paths: AppPaths | None = None) -> PreparedSpeedRun:
    """Validate the spec and build the profile and prompts (raises ConfigError/DatasetError).

    Nothing is stored or sent.
    """
    from openbench_desktop.core.engine.runner import validate_spec

    validate_spec(spec)
    if not spec.params.stream:
        raise ConfigError(
            "A speed run measures streamed replies (TTFT, inter-token latency); it cannot "
            "run with streaming off."
        )
    options = SpeedOptions.from_spec(spec)
    if options.definitions not in sm.DEFINITIONS:
        raise ConfigError(
            f"Unknown definitions {options.definitions!r}; choose one of: "
            f"{', '.join(sm.DEFINITIONS)}."
        )
    if options.client not in ("auto", "lean", "httpx"):
        raise ConfigError(f"Unknown client {options.client!r}; choose auto, lean or httpx.")
    if options.client == "lean" and spec.provider != "openai":
        raise ConfigError("The measuring client speaks only the OpenAI-compatible API.")
    try:
        kind = ProfileKind(options.profile)
    except ValueError:
        raise ConfigError(
            f"Unknown profile {options.profile!r}; choose one of: "
            f"{', '.join(k.value for k in ProfileKind)}."
        ) from None
    if options.input_tokens < 1:
        raise ConfigError(f"--input-tokens must be at least 1, not {options.input_tokens}.")
    profile = LoadProfile(
        kind=kind,
        concurrency=1 if kind is ProfileKind.SYNCHRONOUS else spec.concurrency,
        rate=options.rate,
        steps=options.steps,
        requests=options.requests,
        duration_s=options.duration_s,
        warmup=options.warmup,
        seed=spec.seed or 0,
        max_concurrency=options.max_concurrency,
        overload=OverloadPolicy(
            max_error_rate=options.overload_error_rate,
            latency_factor=options.overload_latency_factor,
        ),
    )
    ref = spec.dataset
    if ref.path or ref.hub_id:
        samples, sha, description = _dataset_prompts(ref, paths)
        prompts = PromptSource(input_tokens=options.input_tokens, seed=profile.seed,
                               samples=tuple(samples))
        return PreparedSpeedRun(spec, options, profile, prompts, description, sha, len(samples))
    prompts = PromptSource(input_tokens=options.input_tokens, seed=profile.seed)
    return PreparedSpeedRun(spec, options, profile, prompts, prompts.describe())


def _dataset_prompts(
    ref: DatasetRef, paths: AppPaths | None
) -> tuple[list[Any], str | None, str]:
    from openbench_desktop.core.benchmarks.readers import text_field
    from openbench_desktop.core.benchmarks.sources import resolve_source
    from openbench_desktop.core.domain import Sample
    from openbench_desktop.core.errors import DatasetError

    source = resolve_source(ref, hub_cache=paths.hub_cache if paths else None)
    samples = []
    for index, (path, line, record) in enumerate(source.records()):
        name = ref.prompt_field or next((f for f in _PROMPT_FIELDS if f in record), None)
        if name is None:
            raise DatasetError(
                f"no prompt field: expected one of {', '.join(_PROMPT_FIELDS)} or "
                "--prompt-field",
                path=path,
                line=line,
            )
        prompt = text_field(record, name, path=path, line=line)
        samples.append(Sample(index=index, messages=(Message("user", prompt),), expected=""))
    if not samples:
        raise ConfigError(f"The dataset {source.description} has no records.")
    return samples, source.sha256(), source.description


# --------------------------------------------------------------------------------------
# Transports: the measuring client, or any ChatProvider


@dataclass(slots=True)
class _Sent:
    sent_ns: int
    outcome: ParsedStream | ProviderError
    connect_ms: float | None = None


class _LeanTransport:
    def __init__(self, spec: RunSpec, options: SpeedOptions, api_key: str | None) -> None:
        self.spec = spec
        self.options = options
        self.client = SpeedClient(spec.base_url, api_key, timeout_s=spec.params.timeout_s)
        self.kind = "lean"

    @property
    def notes(self) -> list[str]:
        return self.client.notes

    async def warm(self, n: int) -> None:
        # A failure here is reported by the first request instead.
        with contextlib.suppress(ProviderError):
            await self.client.warm(n)

    async def send(self, messages: tuple[Message, ...], request_id: str) -> _Sent:
        spec = self.spec
        chat = [{"role": m.role, "content": m.content} for m in messages]
        if spec.params.system_prompt:
            chat.insert(0, {"role": "system", "content": spec.params.system_prompt})
        payload = self.client.payload(
            spec.model,
            chat,
            max_tokens=spec.params.max_tokens,
            temperature=spec.params.temperature,
            ignore_eos=self.options.ignore_eos,
            seed=spec.seed,
        )
        before = time.monotonic_ns()
        try:
            exchange, outcome, connect_ms = await self.client.chat(payload, request_id=request_id)
        except ProviderError as error:
            return _Sent(before, error)
        return _Sent(exchange.sent_ns, outcome, connect_ms)

    async def aclose(self) -> None:
        await self.client.aclose()


class _ProviderTransport:
    """Any ChatProvider (Anthropic, the httpx provider, a test's fake)."""

    def __init__(self, spec: RunSpec, provider: ChatProvider) -> None:
        self.spec = spec
        self.provider = provider
        self.kind = f"provider:{getattr(provider, 'kind', 'custom')}"
        self.notes: list[str] = []

    async def warm(self, n: int) -> None:
        return None

    async def send(self, messages: tuple[Message, ...], request_id: str) -> _Sent:
        spec = self.spec
        request = ChatRequest(
            model=spec.model, messages=messages, params=spec.params, seed=spec.seed
        )
        before = time.monotonic_ns()
        try:
            c = await self.provider.complete(request)
        except ProviderError as error:
            return _Sent(before, error)
        parsed = ParsedStream(
            text=c.text,
            reasoning=c.reasoning,
            finish_reason=c.finish_reason,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            usage_reported=c.usage_reported,
            chunk_offsets_ns=c.chunk_offsets_ns,
            chunk_chars=c.chunk_chars,
            chunk_kinds=c.chunk_kinds,
            no_choice_chunks=(),
            end_offset_ns=c.end_offset_ns,
            done_seen=True,
        )
        return _Sent(c.started_ns or before, parsed)

    async def aclose(self) -> None:
        await self.provider.aclose()


# --------------------------------------------------------------------------------------
# The run loop


@dataclass
class _Step:
    index: int  # execution order
    plan: StepPlan
    timings: list[sm.RequestTiming] = field(default_factory=list)
    stopped: str | None = None
    abandoned: int = 0
    client: dict[str, Any] = field(default_factory=dict)
    started_ns: int = 0
    ended_ns: int = 0


class _SpeedLoop:
    def __init__(
        self,
        run_id: str,
        prepared: PreparedSpeedRun,
        transport: _LeanTransport | _ProviderTransport,
        deps: RunDeps,
        emit: EventCallback,
        cancel: CancelToken,
    ) -> None:
        self.run_id = run_id
        self.prepared = prepared
        self.transport = transport
        self.deps = deps
        self.emit = emit
        self.cancel = cancel
        self.profile = prepared.profile
        self.n_total = prepared.n_total_estimate
        self.next_index = 0  # measured request ordinal
        self.next_prompt = 0
        self.n_ok = self.n_failed = 0
        self.n_success_any = 0
        self.fatal: str | None = None
        self.pending: list[SampleResult] = []
        self.unsaved: list[SampleResult] = []
        self.steps: list[_Step] = []
        self.warmup = {"requests": 0, "ok": 0, "failed": 0}
        self.stopped: dict[str, Any] | None = None
        self.baseline_ms: float | None = None
        self.last_e2e_s: float | None = None
        self.started = time.monotonic()
        self.selfcheck = load_selfcheck(deps.paths.data_dir if deps.paths else None)

    # -- events ------------------------------------------------------------------------

    def save(self) -> None:
        """Hand the buffered results to the writer."""
        if self.unsaved:
            batch, self.unsaved = self.unsaved, []
            self.deps.writer.submit_results(self.run_id, batch)

    def flush_events(self) -> None:
        if self.pending:
            batch, self.pending = tuple(self.pending), []
            self.emit(SamplesFinished(self.run_id, batch))
        self.emit(
            Progress(
                run_id=self.run_id,
                n_done=self.n_ok + self.n_failed,
                n_total=max(self.n_total, self.n_ok + self.n_failed),
                n_ok=self.n_ok,
                n_failed=self.n_failed,
                n_correct=0,
                elapsed_s=time.monotonic() - self.started,
            )
        )

    @property
    def halted(self) -> bool:
        return self.cancel.cancelled or self.fatal is not None

    # -- one request -------------------------------------------------------------------

    async def _request(self, step: _Step | None, scheduled_ns: int) -> SampleResult | None:
        prompt_index = self.next_prompt
        self.next_prompt += 1
        messages = self.prepared.prompts.messages(prompt_index)
        label = f"w{prompt_index}" if step is None else f"{step.index}-{prompt_index}"
        sent = await self.transport.send(messages, f"{self.run_id[:8]}-{label}")
        if step is None:
            self._count_warmup(sent)
            return None
        index = self.next_index
        self.next_index += 1
        result, timing = self._result(step, index, prompt_index, messages, scheduled_ns, sent)
        self._record(step, result, timing)
        return result

    def _count_warmup(self, sent: _Sent) -> None:
        self.warmup["requests"] += 1
        if isinstance(sent.outcome, ProviderError):
            self.warmup["failed"] += 1
            if sent.outcome.category in FATAL_CATEGORIES and self.fatal is None:
                self.fatal = str(sent.outcome)
        else:
            self.warmup["ok"] += 1
            self.n_success_any += 1

    def _result(
        self,
        step: _Step,
        index: int,
        prompt_index: int,
        messages: tuple[Message, ...],
        scheduled_ns: int,
        sent: _Sent,
    ) -> tuple[SampleResult, sm.RequestTiming]:
        prompt = shorten_for_storage("\n\n".join(m.content for m in messages))
        outcome = sent.outcome
        details: dict[str, Any] = {
            "step": step.index,
            "scheduled_ns": scheduled_ns,
            "queue_ms": max(0, sent.sent_ns - scheduled_ns) / 1e6,
            "connect_ms": sent.connect_ms,
            "prompt_index": prompt_index,
        }
        base = {
            "index": index,
            "sample_id": f"{step.index}/{prompt_index}",
            "prompt": prompt,
            "started_ns": sent.sent_ns,
        }
        if isinstance(outcome, ProviderError):
            failed = SampleResult(
                status=SampleStatus.FAILED,
                error_category=outcome.category,
                error_message=str(outcome),
                extracted=sm.details_json(details),
                **base,
            )
            return failed, sm.RequestTiming(
                ok=False,
                scheduled_ns=scheduled_ns,
                sent_ns=sent.sent_ns,
                error_category=str(outcome.category),
                step=step.index,
            )
        details["no_choice_chunks"] = list(outcome.no_choice_chunks)
        timing = sm.RequestTiming(
            ok=True,
            scheduled_ns=scheduled_ns,
            sent_ns=sent.sent_ns,
            chunk_offsets_ns=outcome.chunk_offsets_ns,
            chunk_chars=outcome.chunk_chars,
            chunk_kinds=outcome.chunk_kinds,
            no_choice_chunks=outcome.no_choice_chunks,
            end_offset_ns=outcome.end_offset_ns,
            output_tokens=outcome.output_tokens if outcome.usage_reported else None,
            input_tokens=outcome.input_tokens if outcome.usage_reported else None,
            step=step.index,
        )
        m = sm.openbench_request(timing)
        result = SampleResult(
            status=SampleStatus.OK,
            output=outcome.text,
            reasoning=outcome.reasoning,
            extracted=sm.details_json(details),
            finish_reason=outcome.finish_reason,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            usage_reported=outcome.usage_reported,
            streamed=True,
            end_offset_ns=outcome.end_offset_ns,
            chunk_offsets_ns=outcome.chunk_offsets_ns,
            chunk_chars=outcome.chunk_chars,
            chunk_kinds=outcome.chunk_kinds,
            ttft_ms=m.ttft_ms,
            itl_ms=m.itl_ms,
            e2e_ms=m.e2e_ms,
            **base,
        )
        return result, timing

    def _record(self, step: _Step, result: SampleResult, timing: sm.RequestTiming) -> None:
        # Stored after the step (or every SAVE_BATCH results), not now: the writer thread
        # would compete with this loop for the GIL while timestamps are being taken.
        self.unsaved.append(result)
        if len(self.unsaved) >= SAVE_BATCH:
            self.save()
        self.pending.append(result)
        step.timings.append(timing)
        if result.ok:
            self.n_ok += 1
            self.n_success_any += 1
            return
        self.n_failed += 1
        if self.fatal is None:
            if result.error_category in FATAL_CATEGORIES:
                self.fatal = result.error_message
            elif self.n_success_any == 0 and self.n_failed >= NO_SUCCESS_LIMIT:
                self.fatal = (
                    f"The first {self.n_failed} requests all failed; stopping. "
                    f"Last error: {result.error_message}"
                )

    # -- steps -------------------------------------------------------------------------

    def _bounds(self) -> tuple[int | None, int | None]:
        """(request count, deadline ns) of a step starting now."""
        count = self.profile.request_bound
        duration = self.profile.duration_s
        deadline = time.monotonic_ns() + int(duration * 1e9) if duration else None
        return count, deadline

    async def warm_up(self, concurrency: int) -> None:
        n = self.profile.warmup
        if n <= 0:
            return
        workers = max(1, min(n, concurrency))
        await self.transport.warm(workers)
        todo = iter(range(n))

        async def worker() -> None:
            for _ in todo:
                if self.halted:
                    return
                await self._request(None, time.monotonic_ns())

        await asyncio.gather(*(worker() for _ in range(workers)))

    async def run_step(self, plan: StepPlan, *, latency_factor: float | None = None) -> _Step:
        step = _Step(index=len(self.steps), plan=plan)
        self.steps.append(step)
        policy = self.profile.overload
        if latency_factor is not None:
            policy = replace(policy, latency_factor=latency_factor)
        detector = OverloadDetector(policy, self.baseline_ms)
        await self.transport.warm(self._connections_for(plan))
        monitor = ClientMonitor()
        monitor.start()
        step.started_ns = time.monotonic_ns()
        if plan.kind.open_loop:
            await self._open_loop(step, detector)
        else:
            await self._closed_loop(step, detector)
        step.ended_ns = time.monotonic_ns()
        step.client = await monitor.stop()
        self.save()
        if step.stopped is None and detector.reason is not None:
            step.stopped = detector.reason
        if self.baseline_ms is None:
            self.baseline_ms = detector.baseline_ms
        e2e = [t.end_offset_ns for t in step.timings if t.ok and t.end_offset_ns is not None]
        if e2e:
            self.last_e2e_s = sorted(e2e)[len(e2e) // 2] / 1e9
        return step

    def _connections_for(self, plan: StepPlan) -> int:
        """Connections to open before a step, so handshakes are not inside it."""
        if not plan.kind.open_loop or plan.rate is None:
            return plan.concurrency
        # Little's law: in flight = rate x latency (the last step's median, else 1 s).
        expected = self.last_e2e_s or 1.0
        return min(plan.concurrency, max(1, math.ceil(plan.rate * expected * 1.5)))

    def _observe(self, step: _Step, detector: OverloadDetector, result: SampleResult) -> None:
        latency = result.ttft_ms if result.ttft_ms is not None else result.e2e_ms
        reason = detector.observe(result.ok, latency)
        if reason is not None and step.stopped is None:
            step.stopped = reason

    async def _closed_loop(self, step: _Step, detector: OverloadDetector) -> None:
        count, deadline = self._bounds()
        launched = 0

        def more() -> bool:
            nonlocal launched
            if self.halted or step.stopped is not None:
                return False
            if count is not None and launched >= count:
                return False
            if deadline is not None and time.monotonic_ns() >= deadline:
                return False
            launched += 1
            return True

        async def worker() -> None:
            while more():
                result = await self._request(step, time.monotonic_ns())
                if result is not None:
                    self._observe(step, detector, result)

        workers = [asyncio.create_task(worker()) for _ in range(step.plan.concurrency)]
        await self._wait(step, workers, deadline)

    async def _open_loop(self, step: _Step, detector: OverloadDetector) -> None:
        plan = step.plan
        assert plan.rate is not None
        count, deadline = self._bounds()
        slots = asyncio.Semaphore(plan.concurrency)
        tasks: list[asyncio.Task[None]] = []
        start = time.monotonic_ns() + START_LEAD_NS
        duration_ns = (deadline - start) if deadline is not None else None

        async def one(scheduled: int) -> None:
            async with slots:  # waiting here is client-side queueing (sent - scheduled)
                if self.halted:
                    return
                result = await self._request(step, scheduled)
            if result is not None:
                self._observe(step, detector, result)

        for offset in arrival_offsets_s(plan.kind, plan.rate, seed=plan.seed):
            if self.halted or step.stopped is not None:
                break
            if count is not None and len(tasks) >= count:
                break
            offset_ns = int(offset * 1e9)
            if duration_ns is not None and offset_ns >= duration_ns:
                break
            due = start + offset_ns
            delay = (due - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await self._wait(step, tasks, None)

    async def _wait(
        self, step: _Step, tasks: list[asyncio.Task[None]], deadline: int | None
    ) -> None:
        """Wait for a step's tasks; on cancel, fatal or overload, give in-flight ones
        :data:`DRAIN_S` and abandon the rest (they are counted, not stored)."""
        pending = set(tasks)
        drain_until: float | None = None
        while pending:
            done, pending = await asyncio.wait(pending, timeout=0.05)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise task.exception()  # type: ignore[misc]
            if self.halted:
                break
            if step.stopped is not None and drain_until is None:
                drain_until = time.monotonic() + DRAIN_S
            if drain_until is not None and time.monotonic() > drain_until:
                break
        if pending:
            step.abandoned += len(pending)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- the profile -------------------------------------------------------------------

    async def run(self) -> None:
        async def ticker() -> None:
            while True:
                await asyncio.sleep(self.deps.event_interval_s)
                self.flush_events()

        tick = asyncio.create_task(ticker())
        try:
            await self._run_profile()
        finally:
            tick.cancel()
            await asyncio.gather(tick, return_exceptions=True)
            self.save()
            self.flush_events()

    async def _run_profile(self) -> None:
        profile = self.profile
        first = profile.initial_steps()
        await self.warm_up(first[0].concurrency if not first[0].kind.open_loop else 8)
        if self.halted:
            return
        if profile.kind is not ProfileKind.SWEEP:
            step = await self.run_step(first[0])
            if step.stopped:
                self.stopped = {"step": step.index, "reason": step.stopped}
            return
        sync = await self.run_step(first[0])
        if self._sweep_stops(sync):
            return
        top = await self.run_step(first[1], latency_factor=0.0)
        if self._sweep_stops(top):
            return
        sync_rate = _rate(sync) or 0.0
        max_rate = _rate(top) or sync_rate
        if sync_rate <= 0:
            self.stopped = {
                "step": sync.index,
                "reason": "the synchronous step had no successful request to set rates from",
            }
            return
        for plan in profile.sweep_steps(sync_rate, max_rate):
            step = await self.run_step(plan)
            if self._sweep_stops(step):
                return

    def _sweep_stops(self, step: _Step) -> bool:
        if self.halted:
            return True
        if step.stopped:
            self.stopped = {
                "step": step.index,
                "reason": f"{step.plan.label}: {step.stopped}; later steps were skipped",
            }
            return True
        return False


def _rate(step: _Step) -> float | None:
    ok = [t for t in step.timings if t.ok]
    window = sm.window_of(step.timings)
    if not ok or window is None or window[1] <= window[0]:
        return None
    return len(ok) / ((window[1] - window[0]) / 1e9)


# --------------------------------------------------------------------------------------
# Summaries


def step_summary(
    step: _Step, options: SpeedOptions, selfcheck: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One step's results: chosen definitions with intervals, all definitions side by side."""
    timings = step.timings
    slo = options.slo
    chosen = sm.aggregate(timings, options.definitions, slo=slo, with_ci=True)
    ours = chosen if options.definitions == "openbench" else sm.aggregate(timings, slo=slo)
    queue = ours["queue_ms"]
    reasons = client_limit_reasons(step.client, queue) if step.client else []
    near = ceiling_reason(ours["chunks_per_s"], selfcheck)
    if near:
        reasons.append(near)
    plan = step.plan
    return {
        "step": step.index,
        "kind": plan.kind.value,
        "label": plan.label,
        "concurrency": plan.concurrency,
        "target_rate": plan.rate,
        "offered_rate": plan.rate if plan.kind.open_loop else chosen["requests_per_s"],
        **{k: v for k, v in chosen.items() if k not in ("definitions",)},
        "reasoning_first": ours["reasoning_first"],
        "tokens_per_chunk": ours["tokens_per_chunk"],
        "multi_token_chunks": ours["multi_token_chunks"],
        "queue_ms": queue,
        "by_definition": sm.by_definition(timings, slo=slo),
        "client": step.client,
        "client_limited": bool(reasons),
        "client_limited_reasons": reasons,
        "stopped": step.stopped,
        "abandoned": step.abandoned,
    }


def _offered_order(step: dict[str, Any]) -> tuple[int, float]:
    kind = step["kind"]
    if kind == StepKind.SYNCHRONOUS.value:
        return (0, 0.0)
    if kind == StepKind.THROUGHPUT.value:
        return (2, 0.0)
    return (1, float(step.get("target_rate") or step.get("offered_rate") or 0.0))


def speed_summary(loop: _SpeedLoop, prepared: PreparedSpeedRun) -> dict[str, Any]:
    options = prepared.options
    steps = sorted(
        (step_summary(s, options, loop.selfcheck) for s in loop.steps),
        key=_offered_order,
    )
    all_timings = [t for s in loop.steps for t in s.timings]
    totals = sm.aggregate(all_timings, options.definitions, slo=options.slo)
    reasons = [f"{s['label']}: {r}" for s in steps for r in s["client_limited_reasons"]]
    profile = prepared.profile
    notes = list(dict.fromkeys(loop.transport.notes))
    if totals.get("mean_output_tokens") is not None and (
        totals["mean_output_tokens"] < 0.9 * prepared.spec.params.max_tokens
    ):
        notes.append(
            f"Replies averaged {totals['mean_output_tokens']:.1f} output tokens of the "
            f"{prepared.spec.params.max_tokens} asked for: the server stopped early "
            "(end of sequence), so per-token figures cover shorter replies."
        )
    return {
        "version": 1,
        "definitions": options.definitions,
        "profile": {
            "kind": profile.kind.value,
            "description": profile.describe(),
            "concurrency": profile.concurrency,
            "rate": profile.rate,
            "steps": profile.steps if profile.kind is ProfileKind.SWEEP else 1,
            "requests": profile.request_bound,
            "duration_s": profile.duration_s,
            "warmup": profile.warmup,
            "seed": profile.seed,
            "max_concurrency": profile.max_concurrency,
            "input_tokens": options.input_tokens,
            "output_tokens": prepared.spec.params.max_tokens,
            "ignore_eos": options.ignore_eos,
            "prompts": prepared.prompts.describe()
            + ("" if prepared.prompts.synthetic else f" from {prepared.description}"),
            "client": loop.transport.kind,
            "overload": {
                "max_error_rate": profile.overload.max_error_rate,
                "latency_factor": profile.overload.latency_factor,
                "window": profile.overload.window,
                "min_requests": profile.overload.min_requests,
            },
        },
        "slo": options.slo.to_dict(),
        "warmup": dict(loop.warmup),
        "steps": steps,
        "totals": totals,
        "stopped": loop.stopped,
        "client_limited": bool(reasons),
        "client_limited_reasons": reasons,
        "notes": notes,
    }


# --------------------------------------------------------------------------------------
# Entry point


def execute_speed_run(
    spec: RunSpec,
    deps: RunDeps,
    *,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
    prepared: PreparedSpeedRun | None = None,
) -> RunSummary:
    """Run a speed benchmark to the end and return its summary (see the module doc).

    Raises ConfigError / DatasetError / SecretStoreError *before* anything is stored when
    the spec, dataset or key is unusable. Once the run row exists, every outcome is stored
    and reported through ``on_event``; the summary is returned rather than raised.
    """
    from openbench_desktop.core.secrets import resolve_api_key

    emit = on_event or (lambda _event: None)
    cancel = cancel or CancelToken()
    prepared = prepared or prepare_speed_run(spec, deps.paths)
    api_key = resolve_api_key(spec.provider, spec.api_key_name, deps.secrets)
    register_secret(api_key)
    run_id = open_run(
        spec, deps, emit, n_total=prepared.n_total_estimate, dataset_sha256=prepared.sha256,
        dataset_description=prepared.description, n_dataset_samples=prepared.n_dataset,
    )
    log.info(
        "speed run started: %s on %s at %s",
        prepared.profile.describe(),
        spec.model,
        spec.base_url,
        extra={"run_id": run_id},
    )
    started = time.monotonic()
    loop_state: _SpeedLoop | None = None

    def body() -> Outcome:
        nonlocal loop_state
        transport = _make_transport(spec, prepared.options, deps, api_key)
        state = loop_state = _SpeedLoop(run_id, prepared, transport, deps, emit, cancel)

        async def main() -> None:
            watcher = asyncio.create_task(_watch_cancel(cancel))
            runner = asyncio.create_task(state.run())
            try:
                await asyncio.wait({runner, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if not runner.done():  # cancelled: stop in-flight requests now
                    runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                if not runner.cancelled() and runner.exception() is not None:
                    raise runner.exception()  # type: ignore[misc]
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
                await transport.aclose()

        asyncio.run(main())
        if state.fatal:
            return RunStatus.FAILED, state.fatal
        if cancel.cancelled:
            return RunStatus.CANCELLED, cancel.reason
        if state.stopped:
            return RunStatus.COMPLETED, f"Stopped on overload: {state.stopped['reason']}."
        return RunStatus.COMPLETED, None

    return run_to_end(
        run_id,
        body,
        lambda status, message: _finalize(
            run_id, prepared, deps, status, message, started, loop_state
        ),
        emit,
        label="speed run",
    )


async def _watch_cancel(cancel: CancelToken) -> None:
    while not cancel.cancelled:
        await asyncio.sleep(0.05)


def _make_transport(
    spec: RunSpec, options: SpeedOptions, deps: RunDeps, api_key: str | None
) -> _LeanTransport | _ProviderTransport:
    lean = options.client == "lean" or (
        options.client == "auto"
        and spec.provider == "openai"
        and deps.provider_factory is None
        and not _proxied(spec.base_url)
    )
    if lean:
        return _LeanTransport(spec, options, api_key)
    factory = deps.provider_factory
    if factory is None:
        from openbench_desktop.core.providers.registry import make_provider

        factory = make_provider
    concurrency = max(spec.concurrency, options.max_concurrency)
    provider = factory(
        spec.provider,
        spec.base_url,
        api_key,
        concurrency=concurrency,
        timeout_s=spec.params.timeout_s,
    )
    return _ProviderTransport(spec, provider)


def _proxied(url: str) -> bool:
    """Whether the environment routes ``url`` through a proxy (the lean client has none)."""
    import urllib.request
    from urllib.parse import urlsplit

    from openbench_desktop.core.providers.http import is_loopback_url

    if is_loopback_url(url):
        return False
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def _finalize(
    run_id: str,
    prepared: PreparedSpeedRun,
    deps: RunDeps,
    status: RunStatus,
    message: str | None,
    started: float,
    loop: _SpeedLoop | None,
) -> RunSummary:
    """Flush results, summarise from what is stored, write the final status."""
    spec = prepared.spec
    deps.writer.flush()
    duration = time.monotonic() - started
    results = list(deps.store.iter_results(run_id))
    deps.writer.call(deps.store.set_total, run_id, len(results)).result()
    speed: dict[str, Any] | None = None
    if loop is not None:
        try:
            speed = speed_summary(loop, prepared)
        except Exception:  # never lose the run's status over its summary
            log.exception("speed summary of run %s failed", run_id)
    totals = (
        speed["totals"]
        if speed is not None
        else sm.aggregate([sm.timing_of(r) for r in results], prepared.options.definitions)
    )
    m = totals["metrics"]
    usage = totals["usage_complete"]
    ok = [r for r in results if r.ok]
    summary = RunSummary(
        run_id=run_id,
        status=status,
        benchmark=spec.benchmark,
        model=spec.model,
        n_samples=len(results),
        n_ok=totals["n_ok"],
        n_failed=totals["n_failed"],
        n_correct=0,
        accuracy=None,
        accuracy_ci=None,
        accuracy_all=None,
        ttft_ms=_plain_pct(m["ttft_ms"]),
        itl_ms=_plain_pct(m["itl_ms"]),
        e2e_ms=_plain_pct(m["e2e_ms"]),
        output_tokens_per_s=totals["output_tokens_per_s"],
        input_tokens=sum(r.input_tokens or 0 for r in ok) if usage else None,
        output_tokens=sum(r.output_tokens or 0 for r in ok) if usage else None,
        usage_complete=usage,
        duration_s=duration,
        error_counts=dict(totals["error_counts"]),
        message=message,
        speed=speed,
    )
    deps.writer.call(
        deps.store.finish_run, run_id, status, summary=summary, message=message
    ).result()
    return summary


def _plain_pct(dist: dict[str, Any]) -> dict[str, float | None]:
    return {k: dist.get(k) for k in (*sm.PERCENTILE_KEYS, "mean")}

