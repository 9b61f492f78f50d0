"""Load profiles as plain computation: arrivals, sweep rates, overload detection, validation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.speed.profiles import (
    DEFAULT_REQUESTS,
    LoadProfile,
    OverloadDetector,
    OverloadPolicy,
    ProfileKind,
    StepKind,
    arrival_offsets_s,
    sweep_rates,
)


def test_constant_rate_arrivals_are_evenly_spaced() -> None:
    offsets = list(itertools.islice(arrival_offsets_s(StepKind.RATE, 20.0), 5))
    assert offsets == pytest.approx([0.0, 0.05, 0.10, 0.15, 0.20])


def test_poisson_arrivals_have_exponential_gaps_and_are_reproducible() -> None:
    rate, n = 20.0, 8_000
    offsets = np.array(list(itertools.islice(arrival_offsets_s(StepKind.POISSON, rate, seed=7), n)))
    again = np.array(list(itertools.islice(arrival_offsets_s(StepKind.POISSON, rate, seed=7), n)))
    other = np.array(list(itertools.islice(arrival_offsets_s(StepKind.POISSON, rate, seed=8), n)))
    assert offsets[0] == 0.0
    assert np.array_equal(offsets, again)  # same seed, same schedule
    assert not np.array_equal(offsets, other)
    gaps = np.diff(offsets)
    assert (gaps >= 0).all()
    # Mean gap 1/rate; an exponential's coefficient of variation is 1.
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)
    # Counts per 1 s window are Poisson(rate): variance equals the mean.
    counts = np.bincount(offsets.astype(int))[:-1]
    assert counts.mean() == pytest.approx(rate, rel=0.05)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.25)
    # The empirical CDF follows 1 - exp(-rate * t) at a few points.
    for t in (0.25 / rate, 1 / rate, 3 / rate):
        assert (gaps <= t).mean() == pytest.approx(1 - np.exp(-rate * t), abs=0.02)


def test_sweep_rates_are_evenly_spaced_between_sync_and_max() -> None:
    # 8 steps: synchronous, 6 rates, throughput, evenly spaced: np.linspace(2, 20, 8).
    assert sweep_rates(2.0, 20.0, 8) == pytest.approx(list(np.linspace(2.0, 20.0, 8)[1:-1]))
    assert sweep_rates(2.0, 20.0, 2) == []
    assert sweep_rates(5.0, 3.0, 4) == pytest.approx([5.0, 5.0])  # no faster at all


def test_sweep_plan_has_n_steps_with_increasing_offered_load() -> None:
    profile = LoadProfile(ProfileKind.SWEEP, steps=6, max_concurrency=32)
    sync, top = profile.initial_steps()
    assert (sync.kind, sync.concurrency) == (StepKind.SYNCHRONOUS, 1)
    assert (top.kind, top.concurrency) == (StepKind.THROUGHPUT, 32)
    rates = [plan.rate for plan in profile.sweep_steps(3.0, 30.0)]
    assert len(rates) == 6 - 2
    assert all(3.0 < a < b < 30.0 for a, b in itertools.pairwise(rates))


def test_profile_bounds_and_descriptions() -> None:
    assert LoadProfile(ProfileKind.CONCURRENCY, concurrency=16).request_bound == DEFAULT_REQUESTS
    timed = LoadProfile(ProfileKind.RATE, rate=20, duration_s=5)
    assert timed.request_bound is None
    assert timed.describe() == "constant rate 20/s, 5 s"
    both = LoadProfile(ProfileKind.POISSON, rate=2.5, requests=50, duration_s=10, seed=3)
    assert both.describe() == "Poisson 2.5/s (seed 3), 50 requests or 10 s"
    [plan] = both.initial_steps()
    assert (plan.kind, plan.rate, plan.seed) == (StepKind.POISSON, 2.5, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": ProfileKind.RATE}, "needs a request rate"),
        ({"kind": ProfileKind.POISSON, "rate": 0}, "needs a request rate"),
        ({"kind": ProfileKind.SWEEP, "steps": 1}, "at least 2 steps"),
        ({"kind": ProfileKind.CONCURRENCY, "concurrency": 0}, "Concurrency must be"),
        ({"kind": ProfileKind.CONCURRENCY, "requests": 0}, "--requests"),
        ({"kind": ProfileKind.CONCURRENCY, "duration_s": -1}, "--duration"),
        ({"kind": ProfileKind.CONCURRENCY, "warmup": -2}, "--warmup"),
    ],
)
def test_bad_profiles_are_refused_with_a_reason(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LoadProfile(**kwargs)


def test_overload_detector_trips_on_error_rate() -> None:
    detector = OverloadDetector(OverloadPolicy(max_error_rate=0.5, min_requests=10, window=20))
    for _ in range(10):
        assert detector.observe(True, 50.0) is None
    reason = None
    for _ in range(20):
        reason = detector.observe(False, None) or reason
    assert reason is not None and "error rate" in reason
    assert detector.observe(True, 50.0) == reason  # stays tripped


def test_overload_detector_trips_on_latency_blow_up() -> None:
    policy = OverloadPolicy(latency_factor=5.0, min_requests=10, window=20)
    detector = OverloadDetector(policy, baseline_ms=40.0)
    for _ in range(30):
        assert detector.observe(True, 150.0) is None  # 3.75x: loaded, not overloaded
    reason = None
    for _ in range(20):
        reason = detector.observe(True, 400.0) or reason
    assert reason is not None and "10x" not in reason and "5x the unloaded 40.0 ms" in reason


def test_overload_detector_sets_its_own_baseline_and_can_be_disabled() -> None:
    detector = OverloadDetector(OverloadPolicy(latency_factor=5.0, min_requests=10, window=10))
    for _ in range(10):
        detector.observe(True, 20.0)
    assert detector.baseline_ms == 20.0
    off = OverloadDetector(OverloadPolicy(latency_factor=0, max_error_rate=0), baseline_ms=1.0)
    for _ in range(100):
        assert off.observe(False, 1e6) is None
