"""A recognisable key must never reach the database, exports, manifests, logs or messages."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.secrets import InMemorySecretStore
from tests.support.loopback import MakeLoopbackServer

CANARY = "fake-CANARY-7f3e9b1c2d4a"


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_canary_key_appears_nowhere(
    tmp_path: Path,
    make_loopback_server: MakeLoopbackServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    secrets = InMemorySecretStore({"canary": CANARY})
    good = make_loopback_server(behavior=ServerBehavior(require_api_key=CANARY))
    # A careless server that quotes the key it was sent back in its 401 message.
    careless = make_loopback_server(
        behavior=ServerBehavior(require_api_key="other", echo_api_key_in_errors=True)
    )
    common = ["--model", "simulated-echo", "--benchmark", "gsm8k", "--limit", "4",
              "--api-key-name", "canary", "--json"]
    assert main(["--home", str(home), "run", "--base-url", good.base_url, *common],
                secrets=secrets) == 0
    assert main(["--home", str(home), "run", "--base-url", careless.base_url, *common],
                secrets=secrets) == 1
    out = capsys.readouterr()
    assert good.last_request.api_key_sent  # the key was really used
    assert main(["--home", str(home), "runs", "list", "--json"]) == 0
    run_ids = [entry["run_id"] for entry in json.loads(capsys.readouterr().out)]
    assert len(run_ids) == 2
    for run_id in run_ids:
        assert main(["--home", str(home), "runs", "show", run_id, "--json"]) == 0
        for fmt in ("csv", "json"):
            out_file = home / f"{run_id}.{fmt}"
            assert main(["--home", str(home), "export", run_id, "--format", fmt,
                         "--out", str(out_file)]) == 0
    out2 = capsys.readouterr()

    files = _files_under(home)
    assert any(f.suffix == ".csv" for f in files) and any("sqlite" in f.name for f in files)
    for path in files:  # database, WAL, settings, logs, exports
        assert CANARY.encode() not in path.read_bytes(), path
    for text in (out.out, out.err, out2.out, out2.err, caplog.text):
        assert CANARY not in text
    assert "401" in out.err  # the careless server's error was reported, scrubbed
