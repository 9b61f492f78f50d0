"""Speed measurement accuracy and overhead against a loopback server with known latencies.

Run on demand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_speed_accuracy.py            # full
    .venv/bin/python tests/benchmarks/bench_speed_accuracy.py --quick    # smaller

The built-in loopback server runs in its own process, injects a TTFT of 150 ms and 10 ms
between tokens, and logs (``time.monotonic_ns()``, one clock for every process of the
machine) when each request arrived and each event was actually written. At concurrency 1
and 64 it is driven, in the same run and alternately, by

* **app**: a full speed run (``execute_speed_run``: measuring client, stored in SQLite);
* **reference**: a minimal httpx streaming loop that only timestamps raw chunks as they
  arrive (SSE and JSON are decoded after the stream ended, so its timestamps are as
  early as httpx can give them);
* **provider**: the regular httpx + httpx-sse provider quality runs use
  (``--client httpx``), for comparison.

For each: TTFT p50 minus the server's own (first token written - request received) for
the same requests, ITL p50 minus the server's gaps between token events written, the
delivery lag of every token (arrival - written) and requests/s. Then **overhead**: with
no injected latency, streamed requests/s at concurrency 64 of the app against the
reference loop. Goals (issue 4): TTFT p50 within 0.5 ms of the reference at concurrency 1
and 3 ms at 64; ITL p50 within 0.5 ms of the truth; requests/s at 64 >= 0.9x reference.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.engine.runner import RunDeps
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.loopback_process import LoopbackProcess, SentLog
from openbench_desktop.core.speed.prompts import synthetic_prompt
from openbench_desktop.core.speed.runner import execute_speed_run, speed_spec
from openbench_desktop.core.storage import ResultWriter, Store

TTFT_S, ITL_S = 0.150, 0.010
INPUT_TOKENS, OUTPUT_TOKENS = 128, 32
MODEL = "simulated-echo"


# -- the reference client ------------------------------------------------------------------


async def reference_run(base_url: str, concurrency: int, n: int, tag: str) -> dict[str, Any]:
    """A bare httpx loop: timestamp every raw read, decode afterwards."""
    out: dict[str, tuple[int, list[int]]] = {}
    failed: list[str] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120, trust_env=False) as client:

        async def worker() -> None:
            for i in counter:
                rid = f"{tag}-{i}"
                body = {
                    "model": MODEL,
                    "messages": [{"role": "user", "content": synthetic_prompt(
                        INPUT_TOKENS, seed=99, index=i)}],
                    "stream": True,
                    "max_tokens": OUTPUT_TOKENS,
                }
                reads: list[tuple[int, bytes]] = []
                start = time.monotonic_ns()
                try:
                    async with client.stream(
                        "POST", f"{base_url}/chat/completions", json=body,
                        headers={"x-request-id": rid},
                    ) as response:
                        async for raw in response.aiter_raw():
                            reads.append((time.monotonic_ns(), raw))
                except httpx.HTTPError:
                    failed.append(rid)
                    continue
                out[rid] = (start, _content_arrivals(reads))

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - began
    return {"requests": out, "elapsed_s": elapsed, "failed": len(failed)}


def _content_arrivals(reads: list[tuple[int, bytes]]) -> list[int]:
    """Arrival of each content event: the read holding the event's terminating blank line."""
    body = b"".join(chunk for _, chunk in reads)
    ends = list(itertools.accumulate(len(chunk) for _, chunk in reads))
    arrivals, start = [], 0
    while (end := body.find(b"\n\n", start)) >= 0:
        event, start = body[start:end], end + 2
        if not event.startswith(b"data: {"):
            continue
        choices = json.loads(event[6:]).get("choices") or []
        if choices and (choices[0].get("delta") or {}).get("content"):
            arrivals.append(reads[bisect.bisect_right(ends, end + 1)][0])
    return arrivals


# -- the app ---------------------------------------------------------------------------------


def app_run(base_url: str, concurrency: int, n: int, client: str, home: Path) -> dict[str, Any]:
    paths = AppPaths.under(home).ensure()
    store = Store.open(paths)
    writer = ResultWriter(store)
    try:
        spec = speed_spec(
            base_url=base_url, model=MODEL, concurrency=concurrency, input_tokens=INPUT_TOKENS,
            output_tokens=OUTPUT_TOKENS, requests=n, client=client, ignore_eos=False,
        )
        began = time.monotonic()
        summary = execute_speed_run(spec, RunDeps(store, writer, paths))
        results = store.get_results(summary.run_id)
    finally:
        writer.close()
        store.close()
    out: dict[str, tuple[int, list[int]]] = {}
    for r in results:
        details = sm.speed_details(r) or {}
        rid = f"{summary.run_id[:8]}-{details.get('step')}-{details.get('prompt_index')}"
        if client != "lean":  # the regular provider sends no request id: match the prompt
            rid = r.prompt
        content = [
            r.started_ns + off
            for off, kind in zip(r.chunk_offsets_ns, r.chunk_kinds, strict=True)
            if kind == "c"
        ]
        out[rid] = (r.started_ns, content)
    [step] = summary.speed["steps"]  # type: ignore[index]
    return {
        "requests": out,
        "elapsed_s": step["duration_s"] or (time.monotonic() - began),
        "requests_per_s": step["requests_per_s"],
        "client_limited": step["client_limited_reasons"],
        "loop_cpu_share": step["client"]["loop_cpu_share"],
        "failed": summary.n_failed,
    }


# -- comparison ------------------------------------------------------------------------------


def compare(run: dict[str, Any], logs: list[SentLog]) -> dict[str, Any]:
    """Client figures against the server's log, for the requests this client sent."""
    by_id = {log.request_id: log for log in logs}
    by_id.update({log.prompt: log for log in logs})
    ttft, truth, gaps, truth_gaps, lag, req_lag, first_lag = [], [], [], [], [], [], []
    matched = 0
    for rid, (start, content) in run["requests"].items():
        log = by_id.get(rid)
        if log is None or log.ttft_ns is None or not content:
            continue
        matched += 1
        ttft.append((content[0] - start) / 1e6)
        truth.append(log.ttft_ns / 1e6)
        gaps += [(b - a) / 1e6 for a, b in itertools.pairwise(content)]
        truth_gaps += [g / 1e6 for g in log.token_gaps_ns]
        written = log.event_sent_ns[1 : 1 + log.token_chunks]
        lag += [(a - b) / 1e6 for a, b in zip(content, written, strict=False)]
        req_lag.append((log.received_ns - start) / 1e6)
        first_lag.append((content[0] - written[0]) / 1e6)
    med = statistics.median
    pct = sm.percentiles(lag)
    return {
        "matched": matched,
        "ttft_p50": med(ttft),
        "truth_ttft_p50": med(truth),
        "ttft_error_p50": med(ttft) - med(truth),
        "itl_p50": med(gaps),
        "truth_itl_p50": med(truth_gaps),
        "itl_error_p50": med(gaps) - med(truth_gaps),
        "lag_p50": pct["p50"],
        "lag_p99": pct["p99"],
        # TTFT error = request lag (sent -> server received) + first-token lag (written ->
        # arrived): the first is mostly the server's (parsing, its loop being busy).
        "request_lag_p50": med(req_lag),
        "first_token_lag_p50": med(first_lag),
        "requests_per_s": matched / run["elapsed_s"],
    }


def accuracy(server: LoopbackProcess, concurrency: int, n: int, rounds: int, home: Path) -> dict:
    rows: dict[str, list[dict[str, Any]]] = {"app": [], "reference": [], "provider": []}
    for r in range(rounds):
        for name in ("app", "reference", "provider"):
            server.log()
            cpu0, wall0 = server.cpu_seconds(), time.monotonic()
            if name == "reference":
                run = asyncio.run(reference_run(server.base_url, concurrency, n, f"ref{r}"))
            else:
                client = "lean" if name == "app" else "httpx"
                run = app_run(server.base_url, concurrency, n, client, home / f"{name}{r}")
            server_cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
            row = compare(run, server.log())
            row["server_cpu_share"] = server_cpu
            if name == "app":
                row["client_limited"] = run["client_limited"]
                row["loop_cpu_share"] = run["loop_cpu_share"]
            rows[name].append(row)
            print(
                f"  c={concurrency:<3} {name:<9} round {r + 1}: TTFT p50 {row['ttft_p50']:8.2f} "
                f"(server {row['truth_ttft_p50']:7.2f}, {row['ttft_error_p50']:+6.2f}) "
                f"ITL p50 {row['itl_p50']:6.3f} ({row['itl_error_p50']:+.3f}) lag p50 "
                f"{row['lag_p50']:.2f} p99 {row['lag_p99']:.2f} ms  {row['requests_per_s']:.1f}/s"
                f"  request lag p50 {row['request_lag_p50']:.2f} ms, server CPU {server_cpu:.0%}",
                flush=True,
            )
    return rows


def overhead(server: LoopbackProcess, n: int, rounds: int, home: Path) -> dict[str, list[float]]:
    server.set_behavior(ServerBehavior())  # no injected latency: throughput-bound
    rates: dict[str, list[float]] = {"app": [], "reference": []}
    for r in range(rounds):
        for name in ("app", "reference"):
            server.log()
            if name == "reference":
                run = asyncio.run(reference_run(server.base_url, 64, n, f"tput{r}"))
                rate = len(run["requests"]) / run["elapsed_s"]
                if run["failed"]:
                    print(f"  (reference: {run['failed']} request(s) failed)")
            else:
                rate = app_run(server.base_url, 64, n, "lean", home / f"tput{r}")["requests_per_s"]
            rates[name].append(rate)
            print(f"  overhead c=64 {name:<9} round {r + 1}: {rate:.1f} requests/s", flush=True)
    server.set_behavior(ServerBehavior(ttft_s=TTFT_S, itl_s=ITL_S))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    n1, n64, n_tput = (10, 128, 256) if args.quick else (30, 512, 1024)
    rounds = 1 if args.quick else args.rounds
    print(f"load average before: {os.getloadavg()}; cores: {len(os.sched_getaffinity(0))}")
    report: dict[str, Any] = {"ttft_s": TTFT_S, "itl_s": ITL_S, "output_tokens": OUTPUT_TOKENS}
    with tempfile.TemporaryDirectory() as tmp, LoopbackProcess(
        ServerBehavior(ttft_s=TTFT_S, itl_s=ITL_S)
    ) as server:
        home = Path(tmp)
        report["c1"] = accuracy(server, 1, n1, rounds, home)
        report["c64"] = accuracy(server, 64, n64, rounds, home)
        report["overhead"] = overhead(server, n_tput, rounds, home)
    report["load_average_after"] = os.getloadavg()
    print("\nmedians over rounds")
    med = statistics.median
    for key in ("c1", "c64"):
        rows = report[key]
        app_ttft = med(r["ttft_p50"] for r in rows["app"])
        ref_ttft = med(r["ttft_p50"] for r in rows["reference"])
        for name in ("app", "reference", "provider"):
            def m(field: str, name: str = name, rows: dict = rows) -> float:
                return med(r[field] for r in rows[name])

            print(
                f"  {key:<4} {name:<9} TTFT error {m('ttft_error_p50'):+7.2f} ms  ITL error "
                f"{m('itl_error_p50'):+7.3f} ms  lag p50 {m('lag_p50'):6.2f} p99 "
                f"{m('lag_p99'):7.2f} ms  {m('requests_per_s'):7.1f} req/s"
            )
            print(
                f"  {'':<4} {'':<9} made of: request lag p50 {m('request_lag_p50'):.2f} ms "
                f"(sent -> server received), first-token lag p50 "
                f"{m('first_token_lag_p50'):.2f} ms (written -> arrived)"
            )
        print(f"  {key:<4} app - reference TTFT p50: {app_ttft - ref_ttft:+.2f} ms")
    tput = report["overhead"]
    ratio = med(tput["app"]) / med(tput["reference"])
    print(f"  overhead: app {med(tput['app']):.1f}/s vs reference {med(tput['reference']):.1f}/s"
          f" = {ratio:.2f}x")
    print(f"load average after: {report['load_average_after']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
