"""The CLI end to end against a real streaming server on loopback and a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.export.samples import read_export
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from openbench_desktop.core.secrets import InMemorySecretStore
from tests.support.loopback import MakeLoopbackServer


def _run_json(
    capsys: pytest.CaptureFixture[str], argv: list[str], **kw: object
) -> tuple[int, dict]:
    code = main(argv, **kw)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


def test_gsm8k_200_samples_accuracy_matches_server(
    app_home: Path,
    gsm8k_path: Path,
    make_loopback_server: MakeLoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    responder = gsm8k_responder(gsm8k_path, wrong_every=7)
    server = make_loopback_server(
        behavior=ServerBehavior(tokens_per_chunk=3), responder=responder
    )
    code, summary = _run_json(
        capsys,
        [
            "run", "--base-url", server.base_url, "--model", "simulated-gsm8k",
            "--benchmark", "gsm8k", "--dataset", str(gsm8k_path),
            "--limit", "200", "--concurrency", "16", "--json",
        ],
    )
    assert code == 0, summary
    wrong = [i for i in responder.wrong_indices if i < 200]
    assert len(wrong) == 200 // 7
    assert summary["status"] == "completed"
    assert summary["n_samples"] == 200 and summary["n_ok"] == 200 and summary["n_failed"] == 0
    assert summary["accuracy"] == pytest.approx((200 - len(wrong)) / 200)
    lo, hi = summary["accuracy_ci"]
    assert lo < summary["accuracy"] < hi
    for key in ("ttft_ms", "itl_ms", "e2e_ms"):
        assert set(summary[key]) >= {"p50", "p90", "p95", "p99"}
        assert summary[key]["p50"] is not None
    assert summary["output_tokens_per_s"] > 0

    # The stored rows: 200, one per index, each with its chunk arrival times.
    db = sqlite3.connect(AppPaths.resolve(str(app_home)).database)
    rows = db.execute(
        "SELECT sample_index, length(chunk_offsets) FROM samples WHERE run_id = ?",
        (summary["run_id"],),
    ).fetchall()
    db.close()
    assert sorted(i for i, _ in rows) == list(range(200))
    assert all(size and size > 0 for _, size in rows)

    # export round trip: the per-sample numbers survive CSV and JSON
    rows_by_fmt = {}
    for fmt in ("csv", "json"):
        out = app_home / f"export.{fmt}"
        assert main(["export", summary["run_id"][:8], "--format", fmt, "--out", str(out)]) == 0
        rows_by_fmt[fmt] = read_export(out)
    csv_rows, json_rows = rows_by_fmt["csv"], rows_by_fmt["json"]
    assert len(csv_rows) == len(json_rows) == 200
    numeric = ("sample_index", "score", "ttft_ms", "itl_ms", "e2e_ms", "output_tokens")
    for a, b in zip(csv_rows, json_rows, strict=True):
        for key in (*numeric, "status", "expected", "output", "error_category"):
            assert a[key] == b[key], key
    assert {r["sample_index"] for r in csv_rows} == set(range(200))
    assert sum(r["score"] for r in csv_rows) == 200 - len(wrong)
    assert all(r["n_chunks"] >= 1 for r in json_rows)

    # runs list / show give the same run and summary
    code, listed = _run_json(capsys, ["runs", "list", "--json"])
    assert code == 0 and listed[0]["run_id"] == summary["run_id"]
    assert {"run_id", "status", "benchmark", "model", "created_at"} <= set(listed[0])
    code, shown = _run_json(capsys, ["runs", "show", summary["run_id"], "--json"])
    assert code == 0
    assert shown["accuracy"] == summary["accuracy"]
    assert shown["ttft_ms"] == summary["ttft_ms"]


def test_api_key_from_keyring_store_reaches_server(
    app_home: Path, make_loopback_server: MakeLoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_loopback_server(behavior=ServerBehavior(require_api_key="fake-test-123"))
    secrets = InMemorySecretStore()
    secrets.set("local", "fake-test-123")
    code, summary = _run_json(
        capsys,
        [
            "run", "--base-url", server.base_url, "--model", "simulated-echo",
            "--benchmark", "gsm8k", "--limit", "3", "--api-key-name", "local", "--json",
        ],
        secrets=secrets,
    )
    assert code == 0 and summary["n_ok"] == 3


@pytest.mark.parametrize(
    ("behavior", "needle"),
    [
        (ServerBehavior(require_api_key="right-key"), "401"),
        (ServerBehavior(fail_with_status=403), "403"),
    ],
)
def test_auth_failures_end_the_run_with_one_message(
    app_home: Path,
    make_loopback_server: MakeLoopbackServer,
    capsys: pytest.CaptureFixture[str],
    behavior: ServerBehavior,
    needle: str,
) -> None:
    server = make_loopback_server(behavior=behavior)
    code = main(
        ["run", "--base-url", server.base_url, "--model", "simulated-echo",
         "--benchmark", "gsm8k", "--limit", "5"]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert needle in err
    assert "Traceback" not in err
    assert main(["runs", "list", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["status"] == "failed"


def test_unknown_model_is_named(
    app_home: Path, make_loopback_server: MakeLoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_loopback_server()
    code = main(
        ["run", "--base-url", server.base_url, "--model", "no-such-model",
         "--benchmark", "gsm8k", "--limit", "4"]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "no-such-model" in err or "404" in err


def test_refused_connection(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(
        ["run", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m",
         "--benchmark", "gsm8k", "--limit", "3"]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "connect" in err.lower()
    assert [line for line in err.splitlines() if line.startswith("error:")] == [err.strip()]


def test_dns_failure(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "--base-url", "http://no-such-host.invalid/v1", "--model", "m",
         "--benchmark", "gsm8k", "--limit", "2", "--timeout", "5"]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "no-such-host.invalid" in err or "resolve" in err.lower() or "connect" in err.lower()


def test_wrong_url_scheme_is_rejected_before_anything_is_stored(
    app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "--base-url", "localhost:8000", "--model", "m", "--benchmark", "gsm8k"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "http" in err
    assert not (app_home / "openbench.sqlite3").exists() or main(["runs", "list", "--json"]) == 0


def test_non_streaming_reply_to_stream_request_is_one_clear_error(
    app_home: Path, make_loopback_server: MakeLoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_loopback_server(behavior=ServerBehavior(stream_ignores_flag=True))
    code = main(
        ["run", "--base-url", server.base_url, "--model", "simulated-echo",
         "--benchmark", "gsm8k", "--limit", "3"]
    )
    err = capsys.readouterr().err
    # Timings of a JSON body cannot be TTFT/ITL: refuse rather than report wrong numbers.
    assert code == 1
    assert "non-streaming" in err and "--no-stream" in err
    # ... and with --no-stream the same server is benchmarked fine.
    code, summary = _run_json(
        capsys,
        ["run", "--base-url", server.base_url, "--model", "simulated-echo",
         "--benchmark", "gsm8k", "--limit", "3", "--no-stream", "--json"],
    )
    assert code == 0 and summary["n_ok"] == 3
    assert summary["ttft_ms"]["p50"] is None  # not measurable without a stream


def test_malformed_dataset_names_file_and_line(
    app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "1+1?", "answer": "#### 2"}\n{"question": oops}\n')
    code = main(
        ["run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
         "--benchmark", "gsm8k", "--dataset", str(bad)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.jsonl" in err and "line 2" in err
    assert not AppPaths.resolve(str(app_home)).database.exists()


def test_unknown_benchmark(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--benchmark", "nope"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "nope" in err and "gsm8k" in err


def test_keys_set_list_delete(
    app_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    secrets = InMemorySecretStore()
    monkeypatch.setattr("sys.stdin", io.StringIO("fake-abc\n"))
    assert main(["keys", "set", "openai"], secrets=secrets) == 0
    assert secrets.get("openai") == "fake-abc"
    capsys.readouterr()
    assert main(["keys", "list"], secrets=secrets) == 0
    out = capsys.readouterr()
    assert out.out.split() == ["openai"]
    assert "fake-abc" not in out.out + out.err
    assert main(["keys", "delete", "openai"], secrets=secrets) == 0
    assert secrets.names() == []


def test_models_lists_served_models(
    app_home: Path, make_loopback_server: MakeLoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_loopback_server()
    assert main(["models", "--base-url", server.base_url]) == 0
    assert "simulated-gsm8k" in capsys.readouterr().out.split()
