"""The pre-run estimate: token arithmetic, price lookup, duration from history or default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.config.settings import Price, Settings
from openbench_desktop.core.domain import Message, RunSpec, RunStatus, RunSummary, Sample
from openbench_desktop.core.engine.estimate import (
    DEFAULT_REQUEST_OVERHEAD_S,
    DEFAULT_TOKENS_PER_S,
    LatencyHint,
    approx_tokens,
    estimate_run,
    format_duration,
    prompt_chars,
    recent_median_latency_s,
)
from openbench_desktop.core.storage import Store


def test_approx_tokens_is_chars_over_four_rounded_up() -> None:
    assert approx_tokens(0) == 0
    assert approx_tokens(1) == 1
    assert approx_tokens(4) == 1
    assert approx_tokens(5) == 2
    assert approx_tokens(400) == 100


def test_prompt_chars_counts_messages_and_a_missing_system_prompt() -> None:
    plain = Sample(0, (Message("user", "x" * 10),), "1")
    with_system = Sample(1, (Message("system", "abc"), Message("user", "y" * 7)), "2")
    assert prompt_chars([plain, with_system]) == [10, 10]
    # The system prompt is added only where the sample has none (as build_messages does).
    assert prompt_chars([plain, with_system], system_prompt="12345") == [15, 10]


def test_estimate_with_price_and_default_throughput() -> None:
    price = Price("m", input_per_mtok=2.0, output_per_mtok=10.0)
    est = estimate_run([400, 800], max_tokens=100, concurrency=1, price=price)
    assert est.n_requests == 2
    assert est.input_tokens == 300
    assert est.output_tokens == 200
    assert est.cost_usd == pytest.approx((300 * 2.0 + 200 * 10.0) / 1e6)
    per_request = DEFAULT_REQUEST_OVERHEAD_S + 100 / DEFAULT_TOKENS_PER_S
    assert est.per_request_s == pytest.approx(per_request)
    assert est.duration_s == pytest.approx(2 * per_request)  # two waves of one
    assert "tokens/s" in est.basis


def test_concurrency_divides_duration_into_waves() -> None:
    est = estimate_run([4] * 10, max_tokens=50, concurrency=4, price=None, tokens_per_s=25)
    assert est.duration_s == pytest.approx(3 * (DEFAULT_REQUEST_OVERHEAD_S + 2.0))


def test_no_price_means_no_cost() -> None:
    est = estimate_run([40], max_tokens=10, concurrency=1, price=None)
    assert est.cost_usd is None
    assert est.price is None


def test_more_max_tokens_cost_more() -> None:
    price = Settings().price_for("gpt-4o-mini")
    assert price is not None
    small = estimate_run([400] * 5, max_tokens=64, concurrency=2, price=price)
    large = estimate_run([400] * 5, max_tokens=1024, concurrency=2, price=price)
    assert large.output_tokens > small.output_tokens
    assert large.cost_usd is not None and small.cost_usd is not None
    assert large.cost_usd > small.cost_usd
    assert large.duration_s > small.duration_s


def test_latency_hint_replaces_the_default_throughput() -> None:
    hint = LatencyHint(seconds=1.5, run_id="abcdef0123456789")
    est = estimate_run([10] * 4, max_tokens=4096, concurrency=2, price=None, latency=hint)
    assert est.per_request_s == 1.5
    assert est.duration_s == pytest.approx(3.0)
    assert "abcdef01" in est.basis


def test_empty_dataset_estimates_nothing() -> None:
    est = estimate_run([], max_tokens=512, concurrency=8, price=None)
    assert (est.n_requests, est.input_tokens, est.output_tokens, est.duration_s) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "0 s"), (45, "45 s"), (200, "3 min 20 s"), (1500, "25 min"), (7500, "2 h 05 min")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# -- latency from the store --------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    paths = AppPaths.under(tmp_path / "home").ensure()
    with Store.open(paths) as s:
        yield s


def _finished_run(
    store: Store, model: str, base_url: str, p50_ms: float | None, status: RunStatus
) -> str:
    spec = RunSpec(provider="openai", base_url=base_url, model=model, benchmark="gsm8k")
    run_id = store.create_run(spec, n_total=1)
    summary = RunSummary(
        run_id=run_id,
        status=status,
        benchmark="gsm8k",
        model=model,
        n_samples=1,
        n_ok=1,
        n_failed=0,
        n_correct=1,
        accuracy=1.0,
        accuracy_ci=None,
        accuracy_all=1.0,
        ttft_ms={},
        itl_ms={},
        e2e_ms={"p50": p50_ms},
        output_tokens_per_s=None,
        input_tokens=None,
        output_tokens=None,
        usage_complete=False,
        duration_s=1.0,
    )
    store.finish_run(run_id, status, summary=summary)
    return run_id


def test_recent_median_latency_reads_the_newest_matching_completed_run(store: Store) -> None:
    url = "http://127.0.0.1:9/v1"
    assert recent_median_latency_s(store, "m", url) is None
    _finished_run(store, "m", url, 900.0, RunStatus.COMPLETED)
    newest = _finished_run(store, "m", url, 2500.0, RunStatus.COMPLETED)
    _finished_run(store, "m", url, 99_000.0, RunStatus.FAILED)  # not completed: ignored
    _finished_run(store, "m", "http://elsewhere/v1", 50.0, RunStatus.COMPLETED)  # other host
    _finished_run(store, "other", url, 10.0, RunStatus.COMPLETED)  # other model
    hint = recent_median_latency_s(store, "m", url + "/")
    assert hint == LatencyHint(seconds=2.5, run_id=newest)
    assert recent_median_latency_s(store, "", url) is None


def test_runs_without_latency_are_skipped(store: Store) -> None:
    url = "http://127.0.0.1:9/v1"
    _finished_run(store, "m", url, None, RunStatus.COMPLETED)
    assert recent_median_latency_s(store, "m", url) is None
