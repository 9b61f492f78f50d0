"""First launch: never an empty screen. Run the simulated demo and point to a real endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openbench_desktop.core.demo import DemoService

if TYPE_CHECKING:
    from openbench_desktop.ui.context import AppContext
    from openbench_desktop.ui.main_window import MainWindow

DEMO_BANNER = (
    "Demo: this run uses a <b>simulated model</b> served on this computer (no key, no "
    "network). Its answers and timings are synthetic. Add a real endpoint to benchmark "
    "your models."
)


def demo_service(ctx: AppContext) -> DemoService:
    if ctx.demo is None:
        ctx.demo = DemoService()
    assert isinstance(ctx.demo, DemoService)
    return ctx.demo


def start_demo_run(window: MainWindow, ctx: AppContext) -> int:
    """Start the demo run (the live view opens on it) and show the banner. The job id."""
    demo = demo_service(ctx)
    job_id = ctx.controller.start(demo.spec())
    window.show_banner(DEMO_BANNER, "Add an endpoint…", "settings")
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
