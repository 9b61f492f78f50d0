"""Shared fixtures. Qt runs offscreen; every test gets its own data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Without a platform and without DISPLAY, Qt aborts with a misleading xcb error.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.support.loopback"]

REPO_ROOT = Path(__file__).resolve().parents[1]
# The workplace's shared/ folder sits beside the clone; OPENBENCH_SHARED_DATASETS overrides.
SHARED_DATASETS = Path(
    os.environ.get("OPENBENCH_SHARED_DATASETS") or REPO_ROOT.parent / "shared" / "datasets"
)


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
