"""core.speed.views: a stored speed run shaped for the views, on hand-made timings."""

from __future__ import annotations

import pytest

from openbench_desktop.core.speed import metrics as sm
from openbench_desktop.core.speed.views import (
    cdf,
    curve_points,
    definitions_table,
    pick_steps,
    timings_of_steps,
)

MS = 1_000_000


def timing(
    step: int, ttft_ms: int, *, ok: bool = True, reasoning: bool = False
) -> sm.RequestTiming:
    """A role chunk at once, then 4 one-token chunks 2 ms apart, then a usage chunk."""
    if not ok:
        return sm.RequestTiming(ok=False, scheduled_ns=0, sent_ns=0, error_category="timeout",
                                step=step)
    offsets = (0, *(ttft_ms * MS + i * 2 * MS for i in range(4)), (ttft_ms + 7) * MS)
    kinds = "c" + ("rccc" if reasoning else "cccc") + "c"
    return sm.RequestTiming(
        ok=True, scheduled_ns=0, sent_ns=0, chunk_offsets_ns=offsets,
        chunk_chars=(0, 3, 3, 3, 3, 0), chunk_kinds=kinds, no_choice_chunks=(5,),
        end_offset_ns=(ttft_ms + 8) * MS, output_tokens=4, input_tokens=10, step=step,
    )


def test_definitions_table_is_by_definition_row_by_row() -> None:
    timings = [timing(0, t) for t in (40, 50, 60)] + [timing(0, 0, ok=False)]
    table = definitions_table(timings)
    side = sm.by_definition(timings)
    for name in sm.DEFINITIONS:
        assert table.values["ttft_ms:p50"][name] == side[name]["ttft_ms"]["p50"]
        assert table.values["e2e_ms:p99"][name] == side[name]["e2e_ms"]["p99"]
    assert table.values["ttft_ms:p50"]["openbench"] == pytest.approx(50.0)
    assert table.values["ttft_ms:p50"]["vllm"] == 0.0  # the role chunk counts for vLLM
    assert table.values["tpot_ms:p50"]["llmperf"] is None
    assert (table.n_requests, table.n_ok, table.reasoning_first) == (4, 3, 0)
    assert not table.has_slo and table.values["goodput_requests_per_s"]["openbench"] is None
    slo = definitions_table(timings, sm.Slo(ttft_ms=55))
    assert slo.has_slo and slo.values["goodput_requests_per_s"]["openbench"] is not None


def test_reasoning_first_gives_both_ttfts() -> None:
    table = definitions_table([timing(0, 50, reasoning=True)])
    assert table.reasoning_first == 1
    assert table.ttft_first_token["p50"] == pytest.approx(50.0)
    assert table.values["ttft_ms:p50"]["openbench"] == pytest.approx(52.0)


def test_cdf_has_a_point_per_successful_request_and_ends_at_one() -> None:
    timings = [timing(0, t) for t in (60, 40, 50)] + [timing(0, 0, ok=False)]
    xs, ys = cdf(timings, "ttft_ms")
    assert xs == pytest.approx([40.0, 50.0, 60.0]) and ys[-1] == 1.0 and len(ys) == 3
    assert cdf([], "e2e_ms") == ([], [])
    with pytest.raises(ValueError):
        cdf(timings, "queue_ms")


def test_curve_points_and_step_picks_follow_the_summary() -> None:
    speed = {
        "steps": [
            {"step": 0, "label": "synchronous", "requests_per_s": 5.0,
             "output_tokens_per_s": 20.0, "metrics": {"ttft_ms": {"p50": 40.0,
             "ci": {"p50": [39.0, 41.0]}}}},
            {"step": 2, "label": "rate 7/s", "requests_per_s": 7.0, "client_limited": True,
             "output_tokens_per_s": 28.0, "metrics": {"ttft_ms": {"p50": 45.0}}},
            {"step": 1, "label": "throughput 4", "requests_per_s": 9.0,
             "output_tokens_per_s": None, "metrics": {"ttft_ms": {"p50": 60.0}}},
        ]
    }
    points = curve_points(speed, "output_tokens_per_s", "ttft_ms", "p50")
    assert [(p.x, p.y) for p in points] == [(20.0, 40.0), (28.0, 45.0)]  # no tok/s: left out
    assert (points[0].y_low, points[0].y_high) == (39.0, 41.0)
    assert points[1].y_low is None and points[1].client_limited
    assert len(curve_points(speed, "requests_per_s", "ttft_ms", "p50")) == 3
    assert pick_steps(speed, "highest") == [1] and pick_steps(speed, "lowest") == [0]
    assert pick_steps(speed, "all") is None and pick_steps({}, "highest") is None
    timings = [timing(s, 50) for s in (0, 1, 1, 2)]
    assert len(timings_of_steps(timings, [1])) == 2 and len(timings_of_steps(timings, None)) == 4
