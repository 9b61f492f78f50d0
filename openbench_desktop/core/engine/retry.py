"""Retries (tenacity) and adaptive concurrency for one run's requests.

Policy: rate limits (429), server errors (5xx), timeouts and connection failures are
retried with exponential backoff and full jitter (``base * 2**n`` capped at ``cap``);
``Retry-After`` from the server wins over the computed wait (capped at ``max_retry_after_s``
so a bogus header cannot stall a run for hours). Every other failure (auth, bad request,
not found, parse) is final at once. Latency metrics come from the final attempt only; the
time spent waiting between attempts is returned separately as ``retry_wait_ms``.

Adaptive concurrency: each 429 halves the number of requests allowed in flight (never
below 1); after that many successes in a row it grows back by one, up to the configured
concurrency (AIMD, as TCP does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from openbench_desktop.core.domain import ErrorCategory
from openbench_desktop.core.providers.base import ProviderError

__all__ = [
    "RETRYABLE",
    "AdaptiveLimiter",
    "Attempts",
    "RetryPolicy",
    "call_with_retries",
    "is_retryable",
]

log = logging.getLogger(__name__)

RETRYABLE = frozenset(
    {
        ErrorCategory.RATE_LIMIT,
        ErrorCategory.SERVER_ERROR,
        ErrorCategory.TIMEOUT,
        ErrorCategory.CONNECTION,
    }
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # in all, including the first
    base_s: float = 1.0
    cap_s: float = 32.0
    max_retry_after_s: float = 120.0

    @classmethod
    def from_options(cls, options: object) -> RetryPolicy:
        """From a RunSpec's ``options`` mapping (keys ``retry_attempts``, ``retry_base_s``,
        ``retry_cap_s``); missing keys keep the defaults."""
        get = getattr(options, "get", None)
        if get is None:
            return cls()
        default = cls()
        return cls(
            attempts=int(get("retry_attempts", default.attempts)),
            base_s=float(get("retry_base_s", default.base_s)),
            cap_s=float(get("retry_cap_s", default.cap_s)),
        )


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.category in RETRYABLE


class AdaptiveLimiter:
    """How many requests may be in flight; lowered by 429s, recovered by successes."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self._in_flight = 0
        self._streak = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self.limit)
            self._in_flight += 1

    async def __aexit__(self, *_exc: object) -> None:
        async with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    async def rate_limited(self) -> None:
        async with self._changed:
            self.limit = max(1, self.limit // 2)
            self._streak = 0
            self._changed.notify_all()

    async def succeeded(self) -> None:
        if self.limit >= self.maximum:
            return
        async with self._changed:
            self._streak += 1
            if self._streak >= self.limit:
                self.limit += 1
                self._streak = 0
                self._changed.notify_all()


@dataclass(slots=True)
class Attempts:
    """What happened across the attempts of one call."""

    count: int = 0
    wait_s: float = 0.0


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    limiter: AdaptiveLimiter | None = None,
    describe: str = "request",
    attempts: Attempts | None = None,
    retryable: Callable[[BaseException], bool] = is_retryable,
    context: dict[str, object] | None = None,
) -> T:
    """``await fn()`` under the policy; raises the last ProviderError when attempts run out.

    ``attempts`` (if given) is filled in even when the call finally fails.
    """
    tally = attempts if attempts is not None else Attempts()
    backoff = wait_random_exponential(multiplier=policy.base_s, max=policy.cap_s)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        server_says = getattr(exc, "retry_after_s", None)
        if server_says is not None:
            return min(max(0.0, float(server_says)), policy.max_retry_after_s)
        return backoff(state)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        tally.wait_s += delay
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            describe,
            state.attempt_number,
            exc,
            delay,
            extra={
                **(context or {}),
                "attempt": state.attempt_number,
                "category": str(getattr(exc, "category", "")) or None,
            },
        )

    async def attempt() -> T:
        tally.count += 1
        if limiter is None:
            return await fn()
        async with limiter:
            try:
                result = await fn()
            except ProviderError as exc:
                if exc.category is ErrorCategory.RATE_LIMIT:
                    await limiter.rate_limited()
                raise
        await limiter.succeeded()
        return result

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=wait,
        retry=retry_if_exception(retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    return await retrying(attempt)
