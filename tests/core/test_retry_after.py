"""Retry-After parsing (seconds, HTTP-date, retry-after-ms) and its use by the retry loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from openbench_desktop.core.domain import ErrorCategory
from openbench_desktop.core.engine.retry import Attempts, RetryPolicy, call_with_retries
from openbench_desktop.core.providers.base import ProviderError
from openbench_desktop.core.providers.http import parse_retry_after

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC).timestamp()
IN_30_S = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": IN_30_S}, 30.0),
        ({"retry-after": "Mon, 23 Nov 2026 11:59:00 GMT"}, 0.0),  # in the past
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


def test_server_delay_wins_over_backoff_and_is_counted_as_wait() -> None:
    calls: list[float] = []

    async def flaky() -> str:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 1:
            raise ProviderError("slow down", category=ErrorCategory.RATE_LIMIT, retry_after_s=0.2)
        return "ok"

    tally = Attempts()
    policy = RetryPolicy(attempts=3, base_s=5.0, cap_s=5.0)  # backoff alone would wait ~5 s
    assert asyncio.run(call_with_retries(flaky, policy, attempts=tally)) == "ok"
    assert tally.count == 2 and tally.wait_s == pytest.approx(0.2)
    assert 0.18 <= calls[1] - calls[0] < 1.0


def test_non_retryable_errors_are_raised_at_once() -> None:
    async def bad() -> str:
        raise ProviderError("bad request", category=ErrorCategory.BAD_REQUEST, status_code=400)

    tally = Attempts()
    with pytest.raises(ProviderError):
        asyncio.run(call_with_retries(bad, RetryPolicy(), attempts=tally))
    assert tally.count == 1 and tally.wait_s == 0
