"""``doctor`` reports each check and what to fix; exit 1 only for real problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openbench_desktop.cli import main


def test_doctor_on_a_fresh_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    code = main(["--home", str(home), "doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["data folder"]["ok"] and checks["database"]["ok"]
    assert "keyring" in checks  # usable or not depends on the machine; it is reported
    assert code == (0 if checks["keyring"]["ok"] else 1)
    for c in checks.values():
        if not c["ok"] and not c["optional"] and c["name"] != "keyring":
            pytest.fail(f"unexpected failure: {c}")


def test_doctor_names_an_unusable_folder_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("a file where the cache folder should be")
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.doctor import run_checks

    checks = {c.name: c for c in run_checks(AppPaths.under(home))}
    bad = checks["cache folder"]
    assert not bad.ok and "cache" in bad.detail and "OPENBENCH_HOME" in bad.fix


def test_doctor_reports_a_damaged_database(tmp_path: Path) -> None:
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.doctor import run_checks

    paths = AppPaths.under(tmp_path / "home").ensure()
    paths.database.write_bytes(b"this is not a database" * 100)
    checks = {c.name: c for c in run_checks(paths)}
    assert not checks["database"].ok
    assert str(paths.database) in checks["database"].detail
