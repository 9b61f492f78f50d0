"""Runs survive what real endpoints do: faults injected by the loopback server.

Each transient fault hits the first attempt of every sample; the run must retry, end with
every sample stored exactly once, and keep the waiting out of the latency figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import (
    DatasetRef,
    ErrorCategory,
    GenerationParams,
    RunSpec,
    RunStatus,
)
from openbench_desktop.core.engine.runner import RunDeps, execute_run
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from openbench_desktop.core.storage import ResultWriter, Store
from tests.support.loopback import MakeLoopbackServer

FAST_RETRIES = {"retry_attempts": 4, "retry_base_s": 0.01, "retry_cap_s": 0.05}
N = 12


def _run(home: Path, base_url: str, dataset: Path, **kw: object) -> tuple[object, list]:
    paths = AppPaths.under(home).ensure()
    store = Store.open(paths)
    writer = ResultWriter(store)
    spec_args: dict[str, object] = {
        "provider": "openai",
        "base_url": base_url,
        "model": "simulated-gsm8k",
        "benchmark": "gsm8k",
        "dataset": DatasetRef(path=str(dataset)),
        "params": GenerationParams(max_tokens=256, timeout_s=5.0),
        "limit": N,
        "concurrency": 4,
        "options": FAST_RETRIES,
    }
    spec_args.update(kw)
    try:
        summary = execute_run(RunSpec(**spec_args), RunDeps(store, writer, paths))  # type: ignore[arg-type]
        results = store.get_results(summary.run_id)
    finally:
        writer.close()
        store.close()
    return summary, results


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(ServerBehavior(fail_with_status=429, retry_after="0"), id="429-retry-after"),
        pytest.param(ServerBehavior(fail_with_status=500), id="500"),
        pytest.param(ServerBehavior(fail_with_status=503), id="503"),
        pytest.param(ServerBehavior(cut_stream_at=3), id="connection-cut-mid-stream"),
    ],
)
def test_transient_faults_are_retried_and_nothing_is_duplicated(
    tmp_path: Path,
    gsm8k_path: Path,
    make_loopback_server: MakeLoopbackServer,
    fault: ServerBehavior,
) -> None:
    from dataclasses import replace

    behavior = replace(fault, faults_per_prompt=1)
    server = make_loopback_server(behavior=behavior, responder=gsm8k_responder(gsm8k_path))
    summary, results = _run(tmp_path, server.base_url, gsm8k_path)
    assert summary.status is RunStatus.COMPLETED, summary.message
    assert sorted(r.index for r in results) == list(range(N))  # each once
    assert summary.n_ok == N and summary.accuracy == 1.0
    assert all(r.attempts == 2 for r in results)
    # latency comes from the successful attempt; waits are recorded apart
    assert all(r.e2e_ms is not None and r.e2e_ms < 1000 for r in results)
    if fault.fail_with_status in (500, 503):
        assert all(r.retry_wait_ms > 0 for r in results)
    if fault.retry_after == "0":
        assert all(r.retry_wait_ms == 0 for r in results)  # the server said: now


def test_persistent_server_errors_are_counted_after_the_attempts(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(fail_with_status=503, faults_per_prompt=10),
        responder=gsm8k_responder(gsm8k_path),
    )
    summary, results = _run(tmp_path, server.base_url, gsm8k_path, limit=3, concurrency=1)
    assert summary.status is RunStatus.FAILED  # nothing ever succeeded
    assert len(results) == 3
    assert all(r.error_category is ErrorCategory.SERVER_ERROR for r in results)
    assert all(r.attempts == FAST_RETRIES["retry_attempts"] for r in results)
    assert server.request_count("/v1/chat/completions") == 3 * FAST_RETRIES["retry_attempts"]


def test_401_is_not_retried(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(behavior=ServerBehavior(require_api_key="secret"))
    summary, results = _run(tmp_path, server.base_url, gsm8k_path, concurrency=1)
    assert summary.status is RunStatus.FAILED
    assert "401" in (summary.message or "")
    assert all(r.attempts == 1 for r in results)
    assert all(r.error_category is ErrorCategory.AUTH for r in results)


def test_stalled_stream_times_out_and_is_categorised(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(behavior=ServerBehavior(ttft_s=30.0))
    summary, results = _run(
        tmp_path,
        server.base_url,
        gsm8k_path,
        limit=2,
        concurrency=2,
        model="simulated-echo",
        params=GenerationParams(max_tokens=64, timeout_s=0.3),
        options={"retry_attempts": 2, "retry_base_s": 0.01, "retry_cap_s": 0.02},
    )
    assert len(results) == 2
    assert all(r.error_category is ErrorCategory.TIMEOUT for r in results)
    assert all(r.attempts == 2 for r in results)
    assert summary.n_failed == 2


def test_malformed_chunk_is_a_counted_parse_failure_not_retried(
    tmp_path: Path, gsm8k_path: Path, make_loopback_server: MakeLoopbackServer
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(malformed_chunk_at=2), responder=gsm8k_responder(gsm8k_path)
    )
    summary, results = _run(tmp_path, server.base_url, gsm8k_path, limit=5)
    assert sorted(r.index for r in results) == list(range(5))
    assert all(r.error_category is ErrorCategory.PARSE and r.attempts == 1 for r in results)
    assert summary.n_failed == 5 and summary.error_counts == {"parse": 5}
    assert "malformed" in (results[0].error_message or "")
