"""First launch: never an empty screen. Run a real demo benchmark and point to a real endpoint.

The demo is the speech benchmark when the ``audio`` extra is installed: PocketSphinx over
the 10 bundled clips, a real model making real errors, with no key and no network. Without
the extra it falls back to the simulated chat model (:class:`DemoService`) and the banner
says why. The DemoService stays available either way: the Run setup offers its simulated
endpoint.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import TYPE_CHECKING

from openbench_desktop.core.demo import DemoService

if TYPE_CHECKING:
    from openbench_desktop.core.domain import RunSpec
    from openbench_desktop.ui.context import AppContext
    from openbench_desktop.ui.main_window import MainWindow

DEMO_BANNER = (
    "Demo: this run uses a <b>simulated model</b> served on this computer (no key, no "
    "network). Its answers and timings are synthetic. Add a real endpoint to benchmark "
    "your models."
)
SPEECH_DEMO_BANNER = (
    "Demo: a real speech-recognition benchmark — <b>PocketSphinx on 10 bundled clips</b>, "
    "offline (no key, no network). Its word error rate and speed (RTFx) are measured on "
    "this computer; the clips are synthetic speech. Add an endpoint to benchmark your models."
)
ADD_ENDPOINT = "Add an endpoint…"
#: What the speech demo needs beyond the core (module, what the user would install).
SPEECH_DEMO_MODULES = (
    ("pocketsphinx", "PocketSphinx"),
    ("soundfile", "soundfile"),
    ("soxr", "soxr"),
    ("jiwer", "jiwer"),
)


def demo_service(ctx: AppContext) -> DemoService:
    if ctx.demo is None:
        ctx.demo = DemoService()
    assert isinstance(ctx.demo, DemoService)
    return ctx.demo


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[name] is None (blocked)
        return False


def speech_demo_unavailable() -> str | None:
    """Why the speech demo cannot run here (one sentence), or None when it can.

    Cheap (no import, no audio read): it runs on the GUI thread at start-up.
    """
    missing = [what for module, what in SPEECH_DEMO_MODULES if not _has_module(module)]
    if missing:
        return (
            f"the speech demo needs the audio extra ({', '.join(missing)} not installed: "
            "pip install 'openbench-desktop[audio]')"
        )
    from openbench_desktop.core.audio.datasets import demo_dataset_path
    from openbench_desktop.core.errors import DatasetError

    try:
        demo_dataset_path()
    except DatasetError as exc:
        return f"the speech demo clips are missing ({exc})"
    return None


def demo_choice(
    ctx: AppContext, *, limit: int | None = None, warmup: int | None = None
) -> tuple[RunSpec, str]:
    """The demo run to start and the banner that explains it.

    ``limit`` (only the first clips) and ``warmup`` (passes before timing) shorten the
    speech demo: the smoke test keeps its runtime small with them.
    """
    from openbench_desktop.core.audio.runner import speech_demo_spec

    reason = speech_demo_unavailable()
    if reason is None:
        spec = speech_demo_spec()
        if limit is not None:
            spec = dataclasses.replace(spec, limit=limit)
        if warmup is not None:
            spec = dataclasses.replace(spec, options={**spec.options, "warmup": warmup})
        return spec, SPEECH_DEMO_BANNER
    # The simulated chat demo, saying why it is not the speech one.
    return demo_service(ctx).spec(), f"{DEMO_BANNER} (No speech demo: {reason}.)"


def start_demo_run(
    window: MainWindow, ctx: AppContext, *, limit: int | None = None, warmup: int | None = None
) -> int:
    """Start the demo run (the live view opens on it) and show the banner. The job id."""
    spec, banner = demo_choice(ctx, limit=limit, warmup=warmup)
    job_id = ctx.controller.start(spec)
    window.show_banner(banner, ADD_ENDPOINT, "settings")
    window.show_page("live")
    return job_id


def maybe_start_first_launch_demo(window: MainWindow, ctx: AppContext) -> int | None:
    """On the very first launch (no endpoints, no runs) start the demo; else do nothing."""
    if ctx.settings.first_launch_done:
        return None
    ctx.settings.first_launch_done = True
    ctx.save_settings()
    if ctx.settings.endpoints or ctx.store.count_runs() > 0:
        return None
    return start_demo_run(window, ctx)
