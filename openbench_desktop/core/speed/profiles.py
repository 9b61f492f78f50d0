"""Load profiles: how a speed run releases its requests, and when it stops.

A profile is one or more *steps*. Each step is either

* **closed-loop** (``synchronous``, ``concurrency``, ``throughput``): ``c`` workers each
  send a request as soon as their previous one ended, so exactly ``c`` are in flight; or
* **open-loop** (``rate``, ``poisson``): requests are *scheduled* at fixed times, at a
  constant rate or with exponential gaps (a Poisson process), whether or not earlier
  ones have finished. At most ``max_concurrency`` are in flight; a scheduled request that
  finds no free slot waits in the client, and that wait is recorded (``sent - scheduled``)
  and reported apart from the server's latency.

A ``sweep`` runs a synchronous step, a throughput step (``max_concurrency`` workers, to
find the highest sustainable request rate ``R``), then ``steps - 2`` constant-rate steps
evenly spaced between the synchronous rate and ``R`` (as GuideLLM's sweep does). Steps are
reported in order of offered load: synchronous, the rates ascending, throughput.

Every step is bounded by a request count, a duration, or both (whichever comes first).
Warm-up requests (before the first step) are sent and waited for but never measured.
An :class:`OverloadDetector` stops a step - and a sweep's later steps - when the error
rate or the latency blows up; the reason is recorded in the run's summary.

Everything here is plain computation (no I/O, no clock), so it is tested directly.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from openbench_desktop.core.errors import ConfigError


class ProfileKind(StrEnum):
    SYNCHRONOUS = "synchronous"
    CONCURRENCY = "concurrency"
    RATE = "rate"
    POISSON = "poisson"
    SWEEP = "sweep"


class StepKind(StrEnum):
    SYNCHRONOUS = "synchronous"
    CONCURRENCY = "concurrency"
    THROUGHPUT = "throughput"
    RATE = "rate"
    POISSON = "poisson"

    @property
    def open_loop(self) -> bool:
        return self in (StepKind.RATE, StepKind.POISSON)


#: Default bound of a step when neither a request count nor a duration is given.
DEFAULT_REQUESTS = 100
#: Hard ceiling on requests in flight (a sanity limit, not a recommendation).
MAX_CONCURRENCY_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One step: closed-loop with ``concurrency`` workers, or open-loop at ``rate``/s."""

    kind: StepKind
    concurrency: int  # closed loop: workers; open loop: the cap on requests in flight
    rate: float | None = None  # open loop: requests per second (the target)
    seed: int = 0  # Poisson arrivals

    @property
    def label(self) -> str:
        if self.kind is StepKind.SYNCHRONOUS:
            return "synchronous"
        if self.kind in (StepKind.CONCURRENCY, StepKind.THROUGHPUT):
            return f"{self.kind.value} {self.concurrency}"
        return f"{self.kind.value} {self.rate:g}/s"


@dataclass(frozen=True, slots=True)
class OverloadPolicy:
    """When a step counts as overloaded (and is stopped).

    Over the last ``window`` finished requests (once at least ``min_requests`` have
    finished): the share that failed exceeds ``max_error_rate``, or their median latency
    exceeds ``latency_factor`` times the *baseline* median. The baseline is the median of
    the first ``min_requests`` successful requests of the run's first measured step (for a
    sweep: the synchronous step, i.e. the unloaded server). Latency is TTFT when the
    server streams, else end-to-end latency. ``0`` disables a criterion.
    """

    max_error_rate: float = 0.5
    latency_factor: float = 10.0
    min_requests: int = 20
    window: int = 50


@dataclass(frozen=True, slots=True)
class LoadProfile:
    kind: ProfileKind
    concurrency: int = 1  # the concurrency profile's workers
    rate: float | None = None  # rate / poisson: requests per second
    steps: int = 8  # sweep
    requests: int | None = None  # per step
    duration_s: float | None = None  # per step
    warmup: int = 0  # requests before the first step, not measured
    seed: int = 0
    max_concurrency: int = 64  # open-loop cap; the sweep's throughput step
    overload: OverloadPolicy = field(default_factory=OverloadPolicy)

    def __post_init__(self) -> None:
        validate_profile(self)

    @property
    def request_bound(self) -> int | None:
        """Requests per step; the default applies when no duration is given either."""
        if self.requests is None and self.duration_s is None:
            return DEFAULT_REQUESTS
        return self.requests

    def initial_steps(self) -> list[StepPlan]:
        """The steps known before any has run (a sweep adds its rate steps later)."""
        if self.kind is ProfileKind.SYNCHRONOUS:
            return [StepPlan(StepKind.SYNCHRONOUS, 1)]
        if self.kind is ProfileKind.CONCURRENCY:
            return [StepPlan(StepKind.CONCURRENCY, self.concurrency)]
        if self.kind is ProfileKind.RATE:
            return [StepPlan(StepKind.RATE, self.max_concurrency, self.rate)]
        if self.kind is ProfileKind.POISSON:
            return [StepPlan(StepKind.POISSON, self.max_concurrency, self.rate, self.seed)]
        return [
            StepPlan(StepKind.SYNCHRONOUS, 1),
            StepPlan(StepKind.THROUGHPUT, self.max_concurrency),
        ]

    def sweep_steps(self, sync_rate: float, max_rate: float) -> list[StepPlan]:
        """The constant-rate steps between a sweep's synchronous and throughput steps."""
        return [
            StepPlan(StepKind.RATE, self.max_concurrency, rate)
            for rate in sweep_rates(sync_rate, max_rate, self.steps)
        ]

    def describe(self) -> str:
        bound = []
        if self.request_bound is not None:
            bound.append(f"{self.request_bound} requests")
        if self.duration_s is not None:
            bound.append(f"{self.duration_s:g} s")
        per = " per step" if self.kind is ProfileKind.SWEEP else ""
        what = {
            ProfileKind.SYNCHRONOUS: "synchronous",
            ProfileKind.CONCURRENCY: f"concurrency {self.concurrency}",
            ProfileKind.RATE: f"constant rate {self.rate:g}/s" if self.rate else "rate",
            ProfileKind.POISSON: f"Poisson {self.rate:g}/s (seed {self.seed})"
            if self.rate
            else "poisson",
            ProfileKind.SWEEP: f"sweep in {self.steps} steps (max concurrency "
            f"{self.max_concurrency})",
        }[self.kind]
        return f"{what}, {' or '.join(bound)}{per}"


def validate_profile(profile: LoadProfile) -> None:
    """Raise ConfigError with a message a person can act on."""
    open_loop = profile.kind in (ProfileKind.RATE, ProfileKind.POISSON)
    if open_loop and (
        profile.rate is None or not math.isfinite(profile.rate) or profile.rate <= 0
    ):
        raise ConfigError(
            f"The {profile.kind.value} profile needs a request rate above 0 (--rate), "
            f"not {profile.rate}."
        )
    if profile.kind is ProfileKind.SWEEP and profile.steps < 2:
        raise ConfigError(
            f"A sweep needs at least 2 steps (synchronous and throughput), not {profile.steps}."
        )
    if not 1 <= profile.concurrency <= MAX_CONCURRENCY_LIMIT:
        raise ConfigError(
            f"Concurrency must be between 1 and {MAX_CONCURRENCY_LIMIT}, not "
            f"{profile.concurrency}."
        )
    if not 1 <= profile.max_concurrency <= MAX_CONCURRENCY_LIMIT:
        raise ConfigError(
            f"Max concurrency must be between 1 and {MAX_CONCURRENCY_LIMIT}, not "
            f"{profile.max_concurrency}."
        )
    if profile.requests is not None and profile.requests < 1:
        raise ConfigError(f"--requests must be at least 1, not {profile.requests}.")
    if profile.duration_s is not None and not profile.duration_s > 0:
        raise ConfigError(f"--duration must be above 0 seconds, not {profile.duration_s}.")
    if profile.warmup < 0:
        raise ConfigError(f"--warmup must be 0 or more requests, not {profile.warmup}.")


def sweep_rates(sync_rate: float, max_rate: float, steps: int) -> list[float]:
    """``steps - 2`` rates evenly spaced strictly between ``sync_rate`` and ``max_rate``.

    If the throughput step was no faster than the synchronous one (a server that handles
    one request at a time), the rates are spaced between ``sync_rate`` and itself, i.e.
    repeated: the sweep still has ``steps`` steps, which makes the flat curve visible.
    """
    inner = steps - 2
    if inner <= 0:
        return []
    low, high = sync_rate, max(max_rate, sync_rate)
    gap = (high - low) / (inner + 1)
    return [low + gap * (i + 1) for i in range(inner)]


def arrival_offsets_s(kind: StepKind, rate: float, *, seed: int = 0) -> Iterator[float]:
    """Seconds after the step's start at which requests are scheduled (endless).

    ``rate``: request *i* at ``i / rate``. ``poisson``: the first at 0, then gaps drawn
    from an exponential distribution of mean ``1 / rate`` with ``numpy``'s generator
    seeded with ``seed`` (the same seed always gives the same schedule).
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    if kind is StepKind.RATE:
        i = 0
        while True:
            yield i / rate
            i += 1
    elif kind is StepKind.POISSON:
        import numpy as np

        rng = np.random.default_rng(seed)
        t = 0.0
        while True:
            yield t
            for gap in rng.exponential(1.0 / rate, size=256):
                t += float(gap)
                yield t
    else:
        raise ValueError(f"{kind} is not an open-loop step")


class OverloadDetector:
    """Watches finished requests of one step; :meth:`observe` returns why it is overloaded.

    ``baseline_ms`` is the unloaded median latency (see :class:`OverloadPolicy`); when it
    is None the first ``min_requests`` successful latencies of this step set it.
    """

    def __init__(self, policy: OverloadPolicy, baseline_ms: float | None = None) -> None:
        self.policy = policy
        self.baseline_ms = baseline_ms
        self._first: list[float] = []
        self._recent: deque[tuple[bool, float | None]] = deque(maxlen=max(1, policy.window))
        self.reason: str | None = None

    def observe(self, ok: bool, latency_ms: float | None) -> str | None:
        """Record one finished request; the reason once the step is overloaded, else None."""
        if self.reason is not None:
            return self.reason
        p = self.policy
        self._recent.append((ok, latency_ms))
        if ok and latency_ms is not None and self.baseline_ms is None:
            self._first.append(latency_ms)
            if len(self._first) >= p.min_requests:
                self.baseline_ms = statistics.median(self._first)
        if len(self._recent) < min(p.min_requests, p.window):
            return None
        n = len(self._recent)
        failed = sum(not ok for ok, _ in self._recent)
        if p.max_error_rate > 0 and failed / n > p.max_error_rate:
            self.reason = (
                f"error rate {failed / n:.0%} over the last {n} requests exceeds "
                f"{p.max_error_rate:.0%}"
            )
            return self.reason
        latencies = [lat for ok, lat in self._recent if ok and lat is not None]
        if p.latency_factor > 0 and self.baseline_ms and len(latencies) >= p.min_requests:
            median = statistics.median(latencies)
            if median > p.latency_factor * self.baseline_ms:
                self.reason = (
                    f"median latency {median:.1f} ms over the last {len(latencies)} "
                    f"successful requests exceeds {p.latency_factor:g}x the unloaded "
                    f"{self.baseline_ms:.1f} ms"
                )
                return self.reason
        return None
