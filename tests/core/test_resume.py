"""Crash safety: SIGKILL a CLI run mid-way, restart, resume; retry only failed samples."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from tests.conftest import REPO_ROOT
from tests.support.loopback import MakeLoopbackServer


def _stored_indices(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT sample_index FROM samples ORDER BY 1")]


def test_sigkill_then_resume_completes_exactly_the_missing_samples(
    tmp_path: Path,
    gsm8k_path: Path,
    make_loopback_server: MakeLoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    responder = gsm8k_responder(gsm8k_path, wrong_every=6)
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.03, itl_s=0.001, tokens_per_chunk=8),
        responder=responder,
    )
    n = 80
    child = subprocess.Popen(
        [sys.executable, "-m", "openbench_desktop", "--home", str(home), "run",
         "--base-url", server.base_url, "--model", "simulated-gsm8k", "--benchmark", "gsm8k",
         "--dataset", str(gsm8k_path), "--limit", str(n), "--concurrency", "2"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    db = AppPaths.under(home).database
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    if len(_stored_indices(db)) >= 10:
                        break
                except sqlite3.OperationalError:
                    pass  # the schema is still being created
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    before = _stored_indices(db)
    assert 10 <= len(before) < n
    with sqlite3.connect(db) as conn:  # the file is consistent after the kill
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # The next start (here: runs list) marks the dead run interrupted.
    assert main(["--home", str(home), "runs", "list", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["status"] == "interrupted"

    server.clear_requests()
    assert main(["--home", str(home), "runs", "resume", run["run_id"][:8], "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "completed"
    after = _stored_indices(db)
    assert after == list(range(n))  # none lost, none duplicated
    # only the missing samples were sent again
    assert server.request_count("/v1/chat/completions") == n - len(before)
    wrong = sum(1 for i in responder.wrong_indices if i < n)
    assert summary["n_ok"] == n and summary["accuracy"] == pytest.approx((n - wrong) / n)


def test_retry_failed_resends_only_failed_samples_into_the_same_run(
    tmp_path: Path,
    gsm8k_path: Path,
    make_loopback_server: MakeLoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    server = make_loopback_server(
        behavior=ServerBehavior(fail_with_status=400), responder=gsm8k_responder(gsm8k_path)
    )
    args = ["--home", str(home)]
    code = main([*args, "run", "--base-url", server.base_url, "--model", "simulated-gsm8k",
                 "--benchmark", "gsm8k", "--dataset", str(gsm8k_path), "--limit", "20",
                 "--concurrency", "1", "--json"])
    first = json.loads(capsys.readouterr().out)
    assert code == 1 and first["status"] == "failed"
    db = AppPaths.under(home).database
    failed_before = _stored_indices(db)
    assert len(failed_before) == 8  # the run stopped after 8 failures in a row

    server.reset(ServerBehavior(), gsm8k_responder(gsm8k_path))  # the endpoint is fixed
    # exit 1: the run is still not complete (12 samples were never sent)
    assert main([*args, "runs", "retry-failed", first["run_id"], "--json"]) == 1
    retried = json.loads(capsys.readouterr().out)
    assert retried["status"] == "interrupted" and "resume" in retried["message"]
    assert retried["run_id"] == first["run_id"]
    assert server.request_count("/v1/chat/completions") == 8
    assert _stored_indices(db) == failed_before  # replaced in place, not added
    assert retried["n_ok"] == 8 and retried["n_failed"] == 0

    assert main([*args, "runs", "resume", first["run_id"], "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["status"] == "completed" and done["n_ok"] == 20
    assert _stored_indices(db) == list(range(20))
