"""The keyring store against a real Secret Service (gnome-keyring in a private D-Bus session).

CI installs ``gnome-keyring`` and ``dbus-x11`` (packaging/setup.sh --dev), so this runs
there; on a machine without them the skip reason says what to install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

MISSING = [t for t in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(t)]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs {', '.join(MISSING)}: apt-get install gnome-keyring dbus-x11 "
    "(bash packaging/setup.sh --dev installs them)",
)

SCRIPT = textwrap.dedent(
    """
    import io, json, sys
    from openbench_desktop.core.secrets import KeyringSecretStore
    from openbench_desktop.cli import main

    store = KeyringSecretStore(service="openbench-desktop-test")
    out = {"backend": store.describe()}
    store.set("openai", "fake-canary-1234")
    store.set("groq", "fake-groq-5678")
    out["get"] = store.get("openai")
    out["names"] = store.names()
    store.delete("groq")
    out["names_after_delete"] = store.names()
    # a second instance (as a new process would) sees the same keys
    out["fresh_get"] = KeyringSecretStore(service="openbench-desktop-test").get("openai")
    sys.stdin = io.StringIO("fake-from-stdin\\n")
    out["cli_set"] = main(["keys", "set", "local"])
    out["cli_value"] = KeyringSecretStore().get("local")
    print(json.dumps(out))
    """
)


def test_keys_round_trip_through_a_real_secret_service(tmp_path: Path) -> None:
    # Output goes to files, not pipes: daemons started by D-Bus activation inherit the
    # session's descriptors and would keep a pipe open after the session ends.
    out_file, err_file = tmp_path / "out.json", tmp_path / "err.txt"
    (tmp_path / "home").mkdir()  # gnome-keyring keeps its keyring files under $HOME
    shell = (
        "printf %s test-password | gnome-keyring-daemon --unlock --components=secrets "
        f'>/dev/null 2>&1; exec {sys.executable} -c "$OB_SCRIPT" >"$OB_OUT" 2>"$OB_ERR"'
    )
    proc = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", shell],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path / "home"),
            "OB_SCRIPT": SCRIPT,
            "OB_OUT": str(out_file),
            "OB_ERR": str(err_file),
        },
    )
    stderr = err_file.read_text() if err_file.exists() else ""
    assert proc.returncode == 0, stderr
    out = json.loads(out_file.read_text().strip().splitlines()[-1])
    assert "SecretService" in out["backend"]
    assert out["get"] == "fake-canary-1234"
    assert out["names"] == ["groq", "openai"]
    assert out["names_after_delete"] == ["openai"]
    assert out["fresh_get"] == "fake-canary-1234"
    assert out["cli_set"] == 0 and out["cli_value"] == "fake-from-stdin"
    assert "fake-" not in stderr
