"""Run limits: wall-clock timeout, cost cap, client-side request and token rates.

All are read from a RunSpec's ``options`` (the CLI and the run setup fill them):

- ``max_duration_s``: stop the run (cancelled, with the reason) once it has run this long.
- ``cost_cap_usd`` with ``price_input_per_mtok`` / ``price_output_per_mtok``: before each
  request, the spend so far (from the server's usage of finished samples, or an estimate
  when it reports none) plus the worst case of every request in flight and of this one
  (prompt characters / 4 input tokens, ``max_tokens`` output tokens) must stay within the
  cap; otherwise the run stops *before* sending, so the cap is never passed.
- ``requests_per_minute`` / ``tokens_per_minute``: token buckets that a request waits on
  before it is sent. A bucket holds five seconds' worth, so requests are spread over the
  minute instead of sent in one burst that the server would answer with 429s. The wait
  happens before the request's clock starts, so it never counts as latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CostGuard", "RateLimiter", "RunLimits"]

CHARS_PER_TOKEN = 4  # rough and documented; only used for worst-case estimates


@dataclass(frozen=True, slots=True)
class RunLimits:
    max_duration_s: float | None = None
    cost_cap_usd: float | None = None
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RunLimits:
        def num(key: str) -> float | None:
            value = options.get(key)
            return None if value in (None, "") else float(value)

        return cls(
            max_duration_s=num("max_duration_s"),
            cost_cap_usd=num("cost_cap_usd"),
            price_input_per_mtok=num("price_input_per_mtok"),
            price_output_per_mtok=num("price_output_per_mtok"),
            requests_per_minute=num("requests_per_minute"),
            tokens_per_minute=num("tokens_per_minute"),
        )

    @property
    def priced(self) -> bool:
        return self.price_input_per_mtok is not None and self.price_output_per_mtok is not None


class _Bucket:
    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 12.0)  # five seconds' worth of burst
        self.level = self.capacity
        self.stamp = time.monotonic()

    def delay_for(self, amount: float) -> float:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        amount = min(amount, self.capacity)  # a request bigger than a minute still runs
        if self.level >= amount:
            self.level -= amount
            return 0.0
        wait = (amount - self.level) / self.rate
        self.level -= amount  # reserve: later callers queue behind this one
        return wait


class RateLimiter:
    """Requests-per-minute and tokens-per-minute buckets shared by a run's workers."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None):
        self._requests = _Bucket(requests_per_minute) if requests_per_minute else None
        self._tokens = _Bucket(tokens_per_minute) if tokens_per_minute else None
        self.waited_s = 0.0

    @property
    def active(self) -> bool:
        return self._requests is not None or self._tokens is not None

    async def acquire(self, tokens: float) -> None:
        delay = 0.0
        if self._requests is not None:
            delay = max(delay, self._requests.delay_for(1))
        if self._tokens is not None:
            delay = max(delay, self._tokens.delay_for(tokens))
        if delay > 0:
            self.waited_s += delay
            await asyncio.sleep(delay)


class CostGuard:
    """Refuses a request whose worst case would take the run past its cost cap."""

    def __init__(self, limits: RunLimits) -> None:
        self.limits = limits
        self.spent_usd = 0.0
        self.reserved_usd = 0.0

    @property
    def active(self) -> bool:
        return self.limits.cost_cap_usd is not None and self.limits.priced

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        price_in, price_out = self.limits.price_input_per_mtok, self.limits.price_output_per_mtok
        assert price_in is not None and price_out is not None
        return (input_tokens * price_in + output_tokens * price_out) / 1e6

    def worst_case(self, prompt_chars: int, max_tokens: int) -> float:
        return self.cost(prompt_chars / CHARS_PER_TOKEN, max_tokens)

    def reserve(self, worst_case_usd: float) -> bool:
        """True (and reserved) if the request may be sent without passing the cap."""
        cap = self.limits.cost_cap_usd
        assert cap is not None
        if self.spent_usd + self.reserved_usd + worst_case_usd > cap:
            return False
        self.reserved_usd += worst_case_usd
        return True

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        self.reserved_usd = max(0.0, self.reserved_usd - reserved_usd)
        self.spent_usd += actual_usd
