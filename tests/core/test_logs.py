"""Structured JSON-lines logs in the log folder, with run and sample ids, never a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.logs import LOG_FILE_NAME
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.secrets import InMemorySecretStore
from tests.support.loopback import MakeLoopbackServer


def test_retries_and_failures_are_logged_as_json_lines(
    tmp_path: Path, make_loopback_server: MakeLoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    key = "fake-log-canary-0123456789"
    server = make_loopback_server(
        behavior=ServerBehavior(fail_with_status=503, faults_per_prompt=1, retry_after="0")
    )
    code = main(
        ["--home", str(home), "run", "--base-url", server.base_url, "--model", "simulated-echo",
         "--benchmark", "gsm8k", "--limit", "3", "--concurrency", "1", "--api-key-name", "k",
         "--json"],
        secrets=InMemorySecretStore({"k": key}),
    )
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert code == 0
    log_file = AppPaths.under(home).log_dir / LOG_FILE_NAME
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    retries = [e for e in lines if "retrying" in e["msg"]]
    assert {e["sample_index"] for e in retries} == {0, 1, 2}
    assert all(e["run_id"] == run_id and e["attempt"] == 1 for e in retries)
    assert all(e["category"] == "server_error" for e in retries)
    assert any(e["msg"].startswith("run ended: completed") for e in lines)
    assert key not in log_file.read_text()
