"""Fixtures for GUI tests: a real AppContext over a temporary folder.

Everything is real (SQLite file, writer thread, run controller, DB executor) except the
secret store, which is the in-memory backend tests inject instead of the OS keyring.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.secrets import InMemorySecretStore


@pytest.fixture
def ctx(qapp: object, tmp_path: Path) -> Iterator[object]:
    from openbench_desktop.ui.app import build_context, shutdown_context

    paths = AppPaths.under(tmp_path / "home")
    context = build_context(paths, InMemorySecretStore())
    yield context
    shutdown_context(context)


@pytest.fixture
def shots_dir() -> Path:
    """Where tests save screenshots worth looking at (git-ignored)."""
    out = Path(__file__).resolve().parents[2] / "build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="session")
def speech_runs(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Two real PocketSphinx runs, made once (tests/ui/speech_data.py)."""
    pytest.importorskip("pocketsphinx", reason="needs the audio extra (pocketsphinx)")
    from tests.ui.speech_data import make_speech_runs

    return make_speech_runs(tmp_path_factory.mktemp("speech") / "home")


@pytest.fixture
def speech_ctx(qapp: object, tmp_path: Path, speech_runs: object) -> Iterator[object]:
    from tests.ui.speech_data import context_over

    yield from context_over(speech_runs, tmp_path)  # type: ignore[arg-type]
