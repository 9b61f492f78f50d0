"""Self-check: how exact and how fast is this app's own measuring client, on this machine?

:func:`run_selfcheck` starts the built-in loopback server in a child process (so it does
not share this interpreter's GIL) and drives it with the same client speed runs use:

1. **Accuracy** at concurrency 1: the server injects a known TTFT and inter-token gap and
   logs when it actually wrote each event; the client's TTFT and ITL p50 are compared
   with the server's own (``first token written - request received``, gaps between
   token events written), and the delivery lag (client arrival - server write, one clock
   for both processes) is reported.
2. **Ceiling**: the server answers at once (no injected latency); closed-loop steps at
   increasing concurrency measure requests/s and chunks/s, the event-loop thread's CPU
   share and its timer lag. When the loop thread is saturated the client is the limit
   and that rate is this machine's ceiling for the app; otherwise the loopback server was
   the limit and the client's ceiling is at least that.

The result is saved (``selfcheck.json`` in the data folder) and later speed runs compare
their chunk rate with it: a step running at >= 80% of a client-bound ceiling is flagged
as client-limited.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.client import ParsedStream, SpeedClient
from openbench_desktop.core.speed.loopback_process import LoopbackProcess, SentLog
from openbench_desktop.core.speed.monitor import LOOP_BUSY_LIMIT, ClientMonitor
from openbench_desktop.core.speed.prompts import synthetic_prompt

SELFCHECK_FILE = "selfcheck.json"
ACCURACY_TTFT_S = 0.050
ACCURACY_ITL_S = 0.005
NEAR_CEILING = 0.8
MODEL = "simulated-echo"

Progress = Callable[[str], None]


def _payload(client: SpeedClient, index: int, input_tokens: int, output_tokens: int) -> dict:
    return client.payload(
        MODEL,
        [{"role": "user", "content": synthetic_prompt(input_tokens, seed=7, index=index)}],
        max_tokens=output_tokens,
    )


async def _accuracy(base_url: str, n: int, output_tokens: int) -> list[tuple[str, Any, Any]]:
    client = SpeedClient(base_url)
    out = []
    try:
        await client.warm(1)
        for i in range(n):
            rid = f"acc-{i}"
            exchange, parsed, _ = await client.chat(
                _payload(client, i, 64, output_tokens), request_id=rid
            )
            out.append((rid, exchange, parsed))
    finally:
        await client.aclose()
    return out


def accuracy_report(
    samples: list[tuple[str, Any, Any]], logs: list[SentLog], *, ttft_s: float, itl_s: float
) -> dict[str, Any]:
    """Client figures against the server's log of what it actually did."""
    by_id = {log.request_id: log for log in logs}
    ttft, truth_ttft, gaps, truth_gaps, lag, req_lag = [], [], [], [], [], []
    failed = 0
    for rid, exchange, parsed in samples:
        log = by_id.get(rid)
        if not isinstance(parsed, ParsedStream) or log is None or log.ttft_ns is None:
            failed += 1
            continue
        content = [
            exchange.sent_ns + off
            for off, n, kind in zip(
                parsed.chunk_offsets_ns, parsed.chunk_chars, parsed.chunk_kinds, strict=False
            )
            if n > 0 and kind == "c"
        ]
        if not content:
            failed += 1
            continue
        ttft.append((content[0] - exchange.sent_ns) / 1e6)
        truth_ttft.append(log.ttft_ns / 1e6)
        gaps.extend((b - a) / 1e6 for a, b in itertools.pairwise(content))
        truth_gaps.extend(g / 1e6 for g in log.token_gaps_ns)
        sent_tokens = log.event_sent_ns[1 : 1 + log.token_chunks]
        lag.extend((a - b) / 1e6 for a, b in zip(content, sent_tokens, strict=False))
        req_lag.append((log.received_ns - exchange.sent_ns) / 1e6)
    med = statistics.median

    def p(values: list[float], q: float) -> float | None:
        return sm.percentiles(values)[f"p{q}"] if values else None

    return {
        "requests": len(samples),
        "failed": failed,
        "injected_ttft_ms": ttft_s * 1000,
        "injected_itl_ms": itl_s * 1000,
        "ttft_p50_ms": med(ttft) if ttft else None,
        "server_ttft_p50_ms": med(truth_ttft) if truth_ttft else None,
        "ttft_error_p50_ms": med(ttft) - med(truth_ttft) if ttft else None,
        "itl_p50_ms": med(gaps) if gaps else None,
        "server_itl_p50_ms": med(truth_gaps) if truth_gaps else None,
        "itl_error_p50_ms": med(gaps) - med(truth_gaps) if gaps and truth_gaps else None,
        "delivery_lag_ms": {"p50": p(lag, 50), "p99": p(lag, 99)},
        "request_lag_ms": {"p50": p(req_lag, 50), "p99": p(req_lag, 99)},
    }


async def _ceiling_step(
    base_url: str, concurrency: int, duration_s: float, output_tokens: int
) -> dict[str, Any]:
    client = SpeedClient(base_url)
    done = failed = chunks = 0
    try:
        await client.warm(concurrency)
        monitor = ClientMonitor()
        monitor.start()
        start = time.monotonic()
        deadline = start + duration_s
        counter = iter(range(10**9))

        async def worker() -> None:
            nonlocal done, failed, chunks
            while time.monotonic() < deadline:
                payload = _payload(client, next(counter), 32, output_tokens)
                _, parsed, _ = await client.chat(payload)
                if isinstance(parsed, ParsedStream):
                    done += 1
                    chunks += len(parsed.chunk_offsets_ns)
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - start
        health = await monitor.stop()
    finally:
        await client.aclose()
    return {
        "concurrency": concurrency,
        "requests": done,
        "failed": failed,
        "requests_per_s": done / elapsed,
        "chunks_per_s": chunks / elapsed,
        "loop_cpu_share": health["loop_cpu_share"],
        "process_cpu_share": health["process_cpu_share"],
        "loop_lag_ms": health["loop_lag_ms"],
        "client_bound": health["loop_cpu_share"] >= LOOP_BUSY_LIMIT,
    }


def run_selfcheck(
    *,
    concurrencies: tuple[int, ...] = (1, 8, 32, 64),
    step_s: float = 1.5,
    accuracy_requests: int = 20,
    output_tokens: int = 32,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Measure the client's accuracy and ceiling against the loopback server (see doc)."""
    say = on_progress or (lambda _text: None)

    behavior = ServerBehavior(ttft_s=ACCURACY_TTFT_S, itl_s=ACCURACY_ITL_S)
    with LoopbackProcess(behavior) as server:
        say(f"accuracy: {accuracy_requests} requests at concurrency 1")
        samples = asyncio.run(_accuracy(server.base_url, accuracy_requests, output_tokens))
        accuracy = accuracy_report(
            samples, server.log(), ttft_s=ACCURACY_TTFT_S, itl_s=ACCURACY_ITL_S
        )
        server.set_behavior(ServerBehavior())
        steps = []
        for c in concurrencies:
            say(f"ceiling: concurrency {c} for {step_s:g} s")
            steps.append(asyncio.run(_ceiling_step(server.base_url, c, step_s, output_tokens)))
            server.log()  # keep the child's log small
    best = max(steps, key=lambda s: s["requests_per_s"]) if steps else None
    client_bound = any(s["client_bound"] for s in steps)
    messages = []
    if best is not None:
        if client_bound:
            messages.append(
                f"The client saturated its event loop at ~{best['requests_per_s']:.0f} "
                f"requests/s ({best['chunks_per_s']:.0f} chunks/s): runs near that rate on "
                "this machine are limited by the app, not the server."
            )
        else:
            messages.append(
                f"The loopback server was the limit at ~{best['requests_per_s']:.0f} "
                f"requests/s ({best['chunks_per_s']:.0f} chunks/s); the client's own ceiling "
                "is higher."
            )
    error = accuracy.get("ttft_error_p50_ms")
    if error is not None:
        messages.append(
            f"TTFT p50 read {error:+.2f} ms from the server's own figure at concurrency 1 "
            f"(delivery lag p50 {accuracy['delivery_lag_ms']['p50']:.2f} ms)."
        )
    return {
        "version": 1,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": ClientMonitor.cores(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "accuracy": accuracy,
        "ceiling": {
            "steps": steps,
            "max_requests_per_s": best["requests_per_s"] if best else None,
            "max_chunks_per_s": best["chunks_per_s"] if best else None,
            "at_concurrency": best["concurrency"] if best else None,
            "limited_by": "client" if client_bound else "server",
        },
        "ok": accuracy["failed"] == 0 and all(s["failed"] == 0 for s in steps),
        "messages": messages,
    }


def save_selfcheck(result: dict[str, Any], data_dir: Path) -> Path:
    path = Path(data_dir) / SELFCHECK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def load_selfcheck(data_dir: Path | None) -> dict[str, Any] | None:
    if data_dir is None:
        return None
    try:
        data = json.loads((Path(data_dir) / SELFCHECK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ceiling_reason(chunks_per_s: float | None, selfcheck: dict[str, Any] | None) -> str | None:
    """Why a step near this machine's client-bound ceiling is flagged (None: it is not)."""
    if not chunks_per_s or not selfcheck:
        return None
    ceiling = selfcheck.get("ceiling") or {}
    top = ceiling.get("max_chunks_per_s")
    if ceiling.get("limited_by") != "client" or not top:
        return None
    if chunks_per_s >= NEAR_CEILING * top:
        return (
            f"the step received {chunks_per_s:.0f} chunks/s, {chunks_per_s / top:.0%} of this "
            f"machine's measured client ceiling ({top:.0f} chunks/s, self-check of "
            f"{selfcheck.get('measured_at', '?')})"
        )
    return None
