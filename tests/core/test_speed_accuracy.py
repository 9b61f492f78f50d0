"""Measured speed against the loopback server's own log of what it did and when.

The server injects a TTFT of 50 ms and 5 ms between tokens and records, with
``time.monotonic_ns()`` (the same clock the client reads, in the same process), when each
request arrived and each event was actually written. Two bounds are physical and must
hold for every request and chunk: a chunk cannot arrive before it was written, and the
client's TTFT (from its send) cannot be shorter than the server's (from its receipt).
The medians must also be close to the server's figures; the tolerance is a few ms because
this test shares its interpreter (and GIL) with the server on a CI machine. The
on-demand benchmark ``tests/benchmarks/bench_speed_accuracy.py`` measures the real
figures with the server in its own process.
"""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

import pytest

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import RunStatus
from openbench_desktop.core.engine.runner import RunDeps
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.runner import execute_speed_run, speed_spec
from openbench_desktop.core.storage import ResultWriter, Store
from tests.support.loopback import MakeLoopbackServer

TTFT_S, ITL_S = 0.050, 0.005


@pytest.mark.parametrize(("concurrency", "requests"), [(1, 10), (4, 24)])
def test_ttft_and_itl_match_the_servers_log(
    tmp_path: Path, make_loopback_server: MakeLoopbackServer, concurrency: int, requests: int
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=TTFT_S, itl_s=ITL_S))
    paths = AppPaths.under(tmp_path / "home").ensure()
    store = Store.open(paths)
    writer = ResultWriter(store)
    try:
        spec = speed_spec(
            base_url=server.base_url,
            model="simulated-echo",
            concurrency=concurrency,
            input_tokens=24,
            output_tokens=16,
            requests=requests,
            warmup=2,
        )
        summary = execute_speed_run(spec, RunDeps(store, writer, paths))
        results = store.get_results(summary.run_id)
    finally:
        writer.close()
        store.close()
    assert summary.status is RunStatus.COMPLETED and summary.n_ok == requests

    by_id = {r.headers.get("x-request-id"): r for r in server.requests}
    ttft_client, ttft_server, gaps_client, gaps_server = [], [], [], []
    for result in results:
        details = sm.speed_details(result)
        assert details is not None
        request_id = f"{summary.run_id[:8]}-{details['step']}-{details['prompt_index']}"
        record = by_id[request_id]
        assert result.started_ns <= record.received_ns  # sent before it was received
        for offset, written in zip(result.chunk_offsets_ns, record.event_sent_ns, strict=True):
            assert result.started_ns + offset >= written  # arrived after it was written
        truth = (record.first_token_sent_ns - record.received_ns) / 1e6
        assert result.ttft_ms is not None and result.ttft_ms >= truth
        ttft_client.append(result.ttft_ms)
        ttft_server.append(truth)
        content = [
            result.started_ns + off
            for off, kind in zip(result.chunk_offsets_ns, result.chunk_kinds, strict=True)
            if kind == "c"
        ]
        gaps_client += [(b - a) / 1e6 for a, b in itertools.pairwise(content)]
        written = record.event_sent_ns[1 : 1 + record.token_chunks]
        gaps_server += [(b - a) / 1e6 for a, b in itertools.pairwise(written)]

    ttft_error = statistics.median(ttft_client) - statistics.median(ttft_server)
    itl_error = statistics.median(gaps_client) - statistics.median(gaps_server)
    assert 0 <= ttft_error < 4.0, (ttft_error, ttft_client, ttft_server)
    assert abs(itl_error) < 1.0, itl_error
    # The summary's ITL p50 is the same pooled figure.
    assert summary.itl_ms["p50"] == pytest.approx(statistics.median(gaps_client))
