"""Speed metric formulas on hand-made timestamp sequences, under every definition set.

Each expected number is worked out by hand from docs/METRICS.md ("Speed"); the stream
shapes are the ones that make tools disagree: a role-only first chunk, a usage-only last
chunk, multi-token chunks, a single-token reply, reasoning before content, and a client
that queued the request before sending it.
"""

from __future__ import annotations

import pytest

from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.metrics import RequestTiming

MS = 1_000_000


def timing(
    chunks: list[tuple[float, str, int]],
    *,
    end_ms: float,
    tokens: int | None,
    no_choice: tuple[int, ...] = (),
    sent_ms: float = 1000.0,
    scheduled_ms: float | None = None,
    ok: bool = True,
) -> RequestTiming:
    """``chunks``: (arrival ms after the send, kind c/r/e, characters)."""
    sent = int(sent_ms * MS)
    return RequestTiming(
        ok=ok,
        scheduled_ns=int((scheduled_ms if scheduled_ms is not None else sent_ms) * MS),
        sent_ns=sent,
        chunk_offsets_ns=tuple(int(t * MS) for t, _, _ in chunks),
        chunk_chars=tuple(n for _, _, n in chunks),
        chunk_kinds="".join(k for _, k, _ in chunks),
        no_choice_chunks=no_choice,
        end_offset_ns=int(end_ms * MS),
        output_tokens=tokens,
        input_tokens=10 if tokens is not None else None,
    )


# A typical OpenAI-compatible stream: role chunk, 4 content chunks carrying 5 tokens,
# finish chunk, usage-only chunk (no choices), then [DONE] at 83 ms.
TYPICAL = timing(
    [
        (2, "e", 0),  # {"delta": {"role": "assistant", "content": ""}}
        (50, "c", 3),
        (60, "c", 2),
        (75, "c", 4),
        (80, "c", 2),
        (81, "e", 0),  # {"delta": {}, "finish_reason": "stop"}
        (82, "e", 0),  # {"choices": [], "usage": {...}}
    ],
    end_ms=83,
    tokens=5,
    no_choice=(6,),
)


def test_openbench_definitions_ignore_role_and_usage_chunks() -> None:
    m = sm.request_metrics(TYPICAL, "openbench")
    assert m.ttft_ms == pytest.approx(50)
    assert m.itl_gaps_ms == pytest.approx((10, 15, 5))
    assert m.itl_ms == pytest.approx(10)  # (80 - 50) / (4 chunks - 1)
    assert m.tpot_ms == pytest.approx(7.5)  # (80 - 50) / (5 tokens - 1): first token excluded
    assert m.e2e_ms == pytest.approx(83)
    assert m.output_tokens_per_s == pytest.approx(5 / 0.083)
    assert m.ttft_first_token_ms == pytest.approx(50)
    assert m.reasoning_first is False


def test_vllm_counts_every_chunk_with_choices() -> None:
    m = sm.request_metrics(TYPICAL, "vllm")
    assert m.ttft_ms == pytest.approx(2)  # the role-only chunk is vLLM's "first token"
    assert m.itl_gaps_ms == pytest.approx((48, 10, 15, 5, 1))  # usage chunk skipped
    assert m.e2e_ms == pytest.approx(81)  # the last chunk with choices, not [DONE]
    assert m.tpot_ms == pytest.approx((81 - 2) / (5 - 1))
    assert m.output_tokens_per_s == pytest.approx(5 / 0.081)


def test_guidellm_tpot_includes_the_first_token() -> None:
    m = sm.request_metrics(TYPICAL, "guidellm")
    assert m.ttft_ms == pytest.approx(50)
    assert m.itl_ms == pytest.approx((80 - 50) / (5 - 1))
    assert m.tpot_ms == pytest.approx(80 / 5)  # (last token - start) / tokens
    assert m.e2e_ms == pytest.approx(83)


def test_llmperf_itl_includes_ttft_and_counts_chunks() -> None:
    m = sm.request_metrics(TYPICAL, "llmperf")
    assert m.ttft_ms == pytest.approx(50)
    # (last content chunk - start) / chunks received (6 data events with choices)
    assert m.itl_ms == pytest.approx(80 / 6)
    assert m.tpot_ms is None
    assert m.e2e_ms == pytest.approx(83)


def test_single_token_reply() -> None:
    t = timing(
        [(1, "e", 0), (30, "c", 2), (31, "e", 0), (31, "e", 0)],
        end_ms=32,
        tokens=1,
        no_choice=(3,),
    )
    ours = sm.request_metrics(t, "openbench")
    assert (ours.ttft_ms, ours.itl_ms, ours.tpot_ms, ours.e2e_ms) == (30, None, None, 32)
    assert ours.itl_gaps_ms == ()
    vllm = sm.request_metrics(t, "vllm")
    assert vllm.ttft_ms == 1 and vllm.itl_gaps_ms == pytest.approx((29, 1))
    assert vllm.tpot_ms is None  # output_tokens must exceed 1
    guide = sm.request_metrics(t, "guidellm")
    assert guide.itl_ms is None and guide.tpot_ms == pytest.approx(30)
    assert sm.request_metrics(t, "llmperf").itl_ms == pytest.approx(30 / 3)


def test_empty_first_chunks_do_not_count_as_tokens() -> None:
    t = timing(
        [(1, "e", 0), (5, "e", 0), (9, "e", 0), (40, "c", 1), (50, "c", 1)],
        end_ms=51,
        tokens=2,
    )
    ours = sm.request_metrics(t, "openbench")
    assert ours.ttft_ms == 40 and ours.itl_gaps_ms == pytest.approx((10,))
    assert sm.request_metrics(t, "vllm").ttft_ms == 1


def test_multi_token_chunks_are_detected_and_tpot_is_per_token() -> None:
    t = timing(
        [(20, "c", 9), (30, "c", 9), (40, "c", 9), (50, "c", 9)], end_ms=51, tokens=12
    )
    m = sm.request_metrics(t, "openbench")
    assert m.itl_ms == pytest.approx(10)  # per chunk, as observed
    assert m.tpot_ms == pytest.approx(30 / 11)  # per token
    agg = sm.aggregate([t])
    assert agg["tokens_per_chunk"] == pytest.approx(3)
    assert agg["multi_token_chunks"] is True
    assert sm.aggregate([TYPICAL])["tokens_per_chunk"] == pytest.approx(5 / 4)


def test_reasoning_first_stream_is_flagged_and_measured_both_ways() -> None:
    t = timing(
        [(1, "e", 0), (20, "r", 5), (25, "r", 5), (40, "c", 3), (45, "c", 3)],
        end_ms=50,
        tokens=4,
    )
    ours = sm.request_metrics(t, "openbench")
    assert ours.reasoning_first is True
    assert ours.ttft_ms == 40  # first content
    assert ours.ttft_first_token_ms == 20  # first token of any kind
    assert ours.itl_gaps_ms == pytest.approx((5, 15, 5))
    assert ours.tpot_ms == pytest.approx((45 - 20) / 3)
    assert sm.request_metrics(t, "guidellm").ttft_ms == 20
    assert sm.request_metrics(t, "llmperf").ttft_ms == 40
    assert sm.request_metrics(t, "llmperf").itl_ms == pytest.approx(45 / 5)
    agg = sm.aggregate([t, TYPICAL], with_ci=False)
    assert agg["reasoning_first"] == 1
    assert agg["metrics"]["ttft_first_token_ms"]["p50"] == pytest.approx(35)  # 20 and 50


def test_client_queueing_is_reported_apart_and_excluded_from_latency() -> None:
    queued = timing([(30, "c", 1), (40, "c", 1)], end_ms=41, tokens=2,
                    scheduled_ms=990.0, sent_ms=1000.0)
    m = sm.request_metrics(queued, "openbench")
    assert m.ttft_ms == 30  # from the send, not from the schedule
    agg = sm.aggregate([queued])
    assert agg["queue_ms"]["p50"] == pytest.approx(10)
    assert agg["queue_ms"]["max"] == pytest.approx(10)
    # The window (for throughput) starts when the request was scheduled.
    assert agg["duration_s"] == pytest.approx((1041 - 990) / 1000)


def test_aggregate_counts_failures_and_uses_successes_only() -> None:
    failed = RequestTiming(ok=False, scheduled_ns=0, sent_ns=0, error_category="parse")
    t2 = timing([(10, "c", 1), (20, "c", 1)], end_ms=30, tokens=2, sent_ms=1000)
    agg = sm.aggregate([TYPICAL, failed, t2], slo=sm.Slo(ttft_ms=40))
    assert agg["n_requests"] == 3 and agg["n_ok"] == 2 and agg["n_failed"] == 1
    assert agg["error_counts"] == {"parse": 1}
    assert agg["metrics"]["ttft_ms"]["n"] == 2
    assert agg["metrics"]["ttft_ms"]["p50"] == pytest.approx(30)  # median of 50 and 10
    # Window: scheduled at 0 (the failed one) to the latest end (1000 + 83 ms).
    assert agg["duration_s"] == pytest.approx(1.083)
    assert agg["requests_per_s"] == pytest.approx(2 / 1.083)
    assert agg["output_tokens_per_s"] == pytest.approx(7 / 1.083)
    # Goodput: only t2 meets TTFT <= 40 ms; the failure never does.
    assert agg["n_good"] == 1
    assert agg["goodput_requests_per_s"] == pytest.approx(1 / 1.083)
    assert agg["slo_attainment"] == pytest.approx(1 / 3)


def test_missing_usage_leaves_token_figures_undefined() -> None:
    t = timing([(10, "c", 1), (20, "c", 1)], end_ms=30, tokens=None)
    agg = sm.aggregate([t])
    assert agg["usage_complete"] is False
    assert agg["output_tokens_per_s"] is None
    assert agg["metrics"]["tpot_ms"]["p50"] is None
    assert agg["metrics"]["ttft_ms"]["p50"] == 10


def test_itl_pools_gaps_across_requests() -> None:
    t2 = timing([(10, "c", 1), (30, "c", 1), (50, "c", 1)], end_ms=51, tokens=3)
    agg = sm.aggregate([TYPICAL, t2])
    # gaps: 10, 15, 5 and 20, 20 -> median 15
    assert agg["metrics"]["itl_ms"]["n"] == 5
    assert agg["metrics"]["itl_ms"]["p50"] == pytest.approx(15)
    assert agg["metrics"]["itl_ms"]["mean"] == pytest.approx(14)


def test_definitions_switch_recomputes_the_same_raw_data() -> None:
    side = sm.by_definition([TYPICAL])
    assert set(side) == set(sm.DEFINITIONS)
    assert side["openbench"]["ttft_ms"]["p50"] == pytest.approx(50)
    assert side["vllm"]["ttft_ms"]["p50"] == pytest.approx(2)
    assert side["vllm"]["tpot_ms"]["p50"] == pytest.approx(19.75)
    assert side["guidellm"]["tpot_ms"]["p50"] == pytest.approx(16)
    assert side["openbench"]["tpot_ms"]["p50"] == pytest.approx(7.5)
    assert side["llmperf"]["itl_ms"]["p50"] == pytest.approx(80 / 6)
    with pytest.raises(ValueError, match="Unknown definitions"):
        sm.request_metrics(TYPICAL, "genai-perf")


def test_bootstrap_intervals_are_deterministic_and_bracket_the_estimate() -> None:
    ts = [
        timing([(40 + (i * 7) % 23, "c", 1), (60 + (i * 5) % 11, "c", 1)], end_ms=90, tokens=2)
        for i in range(60)
    ]
    first = sm.aggregate(ts, with_ci=True)
    again = sm.aggregate(ts, with_ci=True)
    assert first["metrics"] == again["metrics"]
    for key in ("ttft_ms", "itl_ms", "e2e_ms"):
        dist = first["metrics"][key]
        for p in sm.PERCENTILE_KEYS:
            low, high = dist["ci"][p]
            assert low <= dist[p] <= high
    constant = sm.aggregate([TYPICAL] * 5, with_ci=True)
    assert constant["metrics"]["ttft_ms"]["ci"]["p50"] == pytest.approx([50, 50])


def test_speed_details_round_trip_through_a_stored_sample() -> None:
    from openbench_desktop.core.domain import SampleResult, SampleStatus

    result = SampleResult(
        index=0,
        status=SampleStatus.OK,
        extracted=sm.details_json({"step": 2, "scheduled_ns": 5, "no_choice_chunks": [6]}),
        started_ns=TYPICAL.sent_ns,
        end_offset_ns=TYPICAL.end_offset_ns,
        chunk_offsets_ns=TYPICAL.chunk_offsets_ns,
        chunk_chars=TYPICAL.chunk_chars,
        chunk_kinds=TYPICAL.chunk_kinds,
        output_tokens=5,
        input_tokens=10,
        usage_reported=True,
    )
    t = sm.timing_of(result)
    assert t.step == 2 and t.scheduled_ns == 5 and t.no_choice_chunks == (6,)
    assert sm.request_metrics(t, "vllm") == sm.request_metrics(TYPICAL, "vllm")
    assert sm.speed_details(SampleResult(index=1, status=SampleStatus.OK)) is None
