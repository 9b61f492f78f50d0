"""Real PocketSphinx runs of the bundled demo clips, made once per test session.

Two runs through the real engine (``execute_run``): the demo as shipped (whisper
normalizer), and a copy with one clip corrupted, scored with the basic normalizer (a
failure, and different WERs). The ``speech_runs`` / ``speech_ctx`` fixtures
(tests/ui/conftest.py) give each test a fresh AppContext over a copy of that home folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from openbench_desktop.core.audio.datasets import demo_dataset_path
from openbench_desktop.core.audio.runner import speech_demo_spec
from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import DatasetRef, RunStatus
from openbench_desktop.core.engine.runner import RunDeps, execute_run
from openbench_desktop.core.secrets import InMemorySecretStore
from openbench_desktop.core.storage import ResultWriter, Store

CORRUPTED = "demo03"
BROKEN_LIMIT = 6


@dataclass(frozen=True)
class SpeechRuns:
    home: Path
    demo: str  # run id: the bundled demo, whisper normalizer
    broken: str  # run id: demo03 corrupted, basic normalizer
    dataset: Path  # the copy with the corrupted clip


def make_speech_runs(home: Path) -> SpeechRuns:
    paths = AppPaths.under(home).ensure()
    store = Store.open(paths)
    writer = ResultWriter(store)
    deps = RunDeps(store, writer, paths, event_interval_s=0.0)
    try:
        dataset = home.parent / "demo_copy"
        shutil.copytree(demo_dataset_path(), dataset)
        (dataset / f"{CORRUPTED}.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk" + bytes(64))
        demo = execute_run(replace(speech_demo_spec(), name="PocketSphinx · whisper"), deps)
        broken = execute_run(
            replace(
                speech_demo_spec(),
                name="PocketSphinx · basic, one bad clip",
                dataset=DatasetRef(path=str(dataset)),
                limit=BROKEN_LIMIT,  # enough for a failure and a different WER, and fast
                options={"normalizer": "basic", "warmup": 0},
            ),
            deps,
        )
        assert demo.status is RunStatus.COMPLETED and broken.status is RunStatus.COMPLETED
        return SpeechRuns(home, demo.run_id, broken.run_id, dataset)
    finally:
        writer.close()
        store.close()


def context_over(runs: SpeechRuns, tmp_path: Path) -> Iterator[object]:
    """A real AppContext over a copy of the home folder holding the runs."""
    from openbench_desktop.ui.app import build_context, shutdown_context

    home = tmp_path / "home"
    shutil.copytree(runs.home, home)
    context = build_context(AppPaths.under(home), InMemorySecretStore())
    yield context
    shutdown_context(context)
