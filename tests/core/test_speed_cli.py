"""``openbench-desktop run --benchmark speed ...`` and ``selfcheck`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.loopback import ServerBehavior
from tests.support.loopback import MakeLoopbackServer

USUAL_KEYS = {
    "run_id", "status", "n_samples", "n_ok", "n_failed", "ttft_ms", "itl_ms", "e2e_ms",
    "output_tokens_per_s", "speed",
}


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip().startswith("{") else {"text": out})


def _base(url: str) -> list[str]:
    return [
        "run", "--benchmark", "speed", "--base-url", url, "--model", "simulated-echo",
        "--input-tokens", "32", "--output-tokens", "8",
    ]


def test_concurrency_profile_json(
    app_home: Path, make_loopback_server: MakeLoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.01, itl_s=0.001))
    code, out = _run(capsys, [
        *_base(server.base_url), "--profile", "concurrency", "--concurrency", "4",
        "--requests", "20", "--warmup", "2", "--slo-ttft-ms", "1000", "--json",
    ])
    assert code == 0, out
    assert set(out) >= USUAL_KEYS
    assert out["status"] == "completed" and out["n_samples"] == 20 and out["n_ok"] == 20
    for key in ("ttft_ms", "itl_ms", "e2e_ms"):
        assert {"p50", "p90", "p95", "p99"} <= set(out[key]) and out[key]["p50"] > 0
    assert out["output_tokens_per_s"] > 0
    speed = out["speed"]
    assert speed["profile"]["kind"] == "concurrency" and speed["warmup"]["requests"] == 2
    [step] = speed["steps"]
    assert step["goodput_requests_per_s"] > 0 and step["slo_attainment"] == 1.0
    assert isinstance(speed["client_limited"], bool)
    assert {"client_limited", "client_limited_reasons"} <= set(step)


@pytest.mark.parametrize(
    "profile_args",
    [
        ["--profile", "rate", "--rate", "40", "--requests", "10"],
        ["--profile", "poisson", "--rate", "40", "--seed", "3", "--duration", "0.4"],
        ["--profile", "synchronous", "--requests", "5", "--definitions", "guidellm"],
    ],
)
def test_other_profiles(
    app_home: Path,
    make_loopback_server: MakeLoopbackServer,
    capsys: pytest.CaptureFixture[str],
    profile_args: list[str],
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.005, itl_s=0.001))
    code, out = _run(capsys, [*_base(server.base_url), *profile_args, "--json"])
    assert code == 0, out
    assert out["speed"]["profile"]["kind"] == profile_args[1]
    assert out["n_ok"] == out["n_samples"] > 0
    if "--duration" in profile_args:  # bounded by time: the run's total is what was sent
        assert out["speed"]["profile"]["duration_s"] == 0.4
        assert 4 <= out["n_samples"] <= 40


def test_sweep_text_output_and_runs_show(
    app_home: Path, make_loopback_server: MakeLoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.01, itl_s=0.001))
    code, out = _run(capsys, [
        *_base(server.base_url), "--profile", "sweep", "--steps", "3", "--requests", "6",
        "--max-concurrency", "4",
    ])
    text = out["text"]
    assert code == 0, text
    assert "sweep in 3 steps" in text
    for label in ("synchronous", "rate ", "throughput 4"):
        assert label in text
    run_id = text.split()[1]
    code, shown = _run(capsys, ["runs", "show", run_id[:10], "--json"])
    assert code == 0 and len(shown["speed"]["steps"]) == 3


def test_bad_speed_arguments_exit_2(
    app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*_base("http://127.0.0.1:9/v1"), "--profile", "rate"])
    assert code == 2
    assert "needs a request rate above 0 (--rate)" in capsys.readouterr().err


def test_selfcheck_json(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, ["selfcheck", "--quick", "--json"])
    assert code == 0, out
    acc = out["accuracy"]
    assert acc["failed"] == 0 and acc["ttft_error_p50_ms"] >= 0
    assert abs(acc["itl_error_p50_ms"]) < 2.0
    assert [s["concurrency"] for s in out["ceiling"]["steps"]] == [1, 16]
    assert out["ceiling"]["max_requests_per_s"] > 0
    assert out["ceiling"]["limited_by"] in ("client", "server")
    assert (app_home / "data" / "selfcheck.json").is_file()


@pytest.mark.parametrize("show_accuracy", [True, False])
def test_progress_bar_shows_accuracy_only_for_scored_runs(
    show_accuracy: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """A load test scores nothing: its progress bar must not print "acc 0.0%"."""
    from openbench_desktop.cli import _ProgressPrinter
    from openbench_desktop.core.domain import Progress, RunSpec, RunStarted

    printer = _ProgressPrinter(True, show_accuracy=show_accuracy)
    spec = RunSpec(provider="openai", base_url="http://x", model="m", benchmark="speed")
    printer(RunStarted("r", spec, 10))
    printer(Progress("r", 5, 10, 5, 0, 0, 1.0))
    printer.close()
    err = capsys.readouterr().err
    assert "failed 0" in err
    assert ("acc" in err) is show_accuracy
