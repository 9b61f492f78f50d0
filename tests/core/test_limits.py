"""Run limits against the loopback server: time limit, cost cap, client-side rates, AIMD."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.engine.retry import AdaptiveLimiter
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from tests.support.loopback import MakeLoopbackServer


def _run(home: Path, server_url: str, dataset: Path, *extra: str) -> tuple[int, dict]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--home", str(home), "run", "--base-url", server_url,
                     "--model", "simulated-gsm8k", "--benchmark", "gsm8k",
                     "--dataset", str(dataset), "--json", *extra])
    return code, json.loads(buf.getvalue())


def test_time_limit_stops_the_run_and_it_can_be_resumed(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.1), responder=gsm8k_responder(gsm8k_path)
    )
    start = time.monotonic()
    code, summary = _run(tmp_path, server.base_url, gsm8k_path,
                         "--limit", "200", "--concurrency", "2", "--max-duration", "3")
    assert time.monotonic() - start < 15  # 200 x 0.1 s at concurrency 2 would take 10 s
    assert code != 0 and summary["status"] == "cancelled"
    assert "time limit of 3 s" in summary["message"]
    assert 0 < summary["n_ok"] < 200


def test_cost_cap_is_never_passed(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(responder=gsm8k_responder(gsm8k_path))
    # $1,000 / M tokens in and out: each request's worst case is ~ (90 + 256) tokens ~ $0.35
    code, summary = _run(
        tmp_path, server.base_url, gsm8k_path, "--limit", "50", "--concurrency", "4",
        "--max-tokens", "256", "--cost-cap", "2.0", "--price-in", "1000", "--price-out", "1000",
    )
    assert code != 0 and summary["status"] == "cancelled"
    assert "cost cap" in summary["message"]
    spent = (summary["input_tokens"] + summary["output_tokens"]) * 1000 / 1e6
    assert 0 < spent <= 2.0
    assert 0 < summary["n_ok"] < 50


def test_requests_per_minute_limit_spaces_requests(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(responder=gsm8k_responder(gsm8k_path))
    # 300/min: a burst of 25 (five seconds' worth), then 5 requests per second, so the
    # last 15 of 40 requests take about 3 s (less what refilled during the burst).
    code, summary = _run(
        tmp_path, server.base_url, gsm8k_path, "--limit", "40", "--concurrency", "8",
        "--rpm", "300",
    )
    assert code == 0 and summary["n_ok"] == 40
    sent = sorted(r.received_ns for r in server.requests)
    assert (sent[-1] - sent[0]) / 1e9 >= 2.4
    # ... and the wait is not latency: each request was answered quickly
    assert summary["e2e_ms"]["p99"] < 1000


def test_adaptive_limiter_halves_on_429_and_recovers() -> None:
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(16)
        seen = [limiter.limit]
        await limiter.rate_limited()
        seen.append(limiter.limit)
        await limiter.rate_limited()
        seen.append(limiter.limit)
        for _ in range(200):
            await limiter.succeeded()
        seen.append(limiter.limit)
        return seen

    assert asyncio.run(scenario()) == [16, 8, 4, 16]


def test_cost_cap_without_prices_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--home", str(tmp_path), "run", "--base-url", "http://127.0.0.1:9/v1",
                 "--model", "m", "--benchmark", "gsm8k", "--cost-cap", "1"])
    assert code == 2 and "--price-in" in capsys.readouterr().err
