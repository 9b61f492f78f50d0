"""Shared fixtures. Qt runs offscreen; every test gets its own data folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Without a platform and without DISPLAY, Qt aborts with a misleading xcb error.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.support.loopback"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_shared_datasets() -> Path:
    """The workplace's shared/datasets: $OPENBENCH_SHARED_DATASETS, else beside this
    checkout, else beside the repository it was cloned from (a clone made elsewhere, e.g.
    ``git clone . /tmp/x``, still finds the data its origin sits next to)."""
    if os.environ.get("OPENBENCH_SHARED_DATASETS"):
        return Path(os.environ["OPENBENCH_SHARED_DATASETS"])
    beside = REPO_ROOT.parent / "shared" / "datasets"
    if beside.is_dir():
        return beside
    try:
        origin = subprocess.run(
            ["git", "config", "--get", "remote.origin.url"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and "://" not in origin and Path(origin).is_dir():
        candidate = Path(origin).resolve().parent / "shared" / "datasets"
        if candidate.is_dir():
            return candidate
    return beside


SHARED_DATASETS = _find_shared_datasets()


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.fail(f"shared datasets folder missing: expected {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def gsm8k_path(shared_datasets: Path) -> Path:
    return shared_datasets / "gsm8k" / "test.jsonl"


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh OPENBENCH_HOME for the test (database, logs, settings, cache)."""
    home = tmp_path / "home"
    monkeypatch.setenv("OPENBENCH_HOME", str(home))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return home
