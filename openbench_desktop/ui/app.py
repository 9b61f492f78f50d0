"""Builds the application: paths, settings, store, writer, secrets, controller, window."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.secrets import SecretStore

if TYPE_CHECKING:
    from openbench_desktop.ui.context import AppContext

log = logging.getLogger(__name__)


def build_context(paths: AppPaths, secrets: SecretStore | None = None) -> AppContext:
    """The :class:`AppContext` over ``paths``. A QApplication must exist."""
    from openbench_desktop.core.config.settings import Settings, load_settings
    from openbench_desktop.core.demo import DemoService
    from openbench_desktop.core.engine.runner import RunDeps
    from openbench_desktop.core.errors import ConfigError
    from openbench_desktop.core.secrets import KeyringSecretStore
    from openbench_desktop.core.storage import ResultWriter, Store
    from openbench_desktop.ui.bridge.db_executor import DbExecutor
    from openbench_desktop.ui.bridge.run_controller import RunController
    from openbench_desktop.ui.context import AppContext, AppSignals

    paths.ensure()
    try:
        settings = load_settings(paths.settings_file)
    except ConfigError as exc:
        log.warning("%s", exc)
        settings = Settings()
    store = Store.open(paths)
    interrupted = store.mark_interrupted()
    if interrupted:
        log.info("marked %d run(s) interrupted", len(interrupted))
    writer = ResultWriter(store)
    secrets = secrets if secrets is not None else KeyringSecretStore()
    deps = RunDeps(store=store, writer=writer, paths=paths, secrets=secrets)
    controller = RunController(deps)
    return AppContext(
        paths=paths,
        settings=settings,
        store=store,
        writer=writer,
        secrets=secrets,
        controller=controller,
        db=DbExecutor(),
        signals=AppSignals(),
        demo=DemoService(),  # the simulated server starts only when first used
    )


def shutdown_context(ctx: AppContext) -> None:
    ctx.controller.cancel_all()
    ctx.controller.wait_all()
    ctx.db.shutdown()
    demo = ctx.demo
    if demo is not None:
        demo.stop()
    ctx.writer.close()
    ctx.store.close()


#: How long after the window is shown the first-launch demo starts (imperceptible).
FIRST_LAUNCH_DELAY_MS = 150


def run_app(home: str | None = None, smoke: bool = False) -> int:
    """Start the GUI. ``smoke``: offscreen, run the first-launch demo, exit 0 on success."""
    if smoke:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif not os.environ.get("QT_QPA_PLATFORM") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform != "linux"
    ):
        print(
            "error: no display found (DISPLAY/WAYLAND_DISPLAY unset). Run the app on a desktop, "
            "under 'xvfb-run', or use the command line: openbench-desktop --help",
            file=sys.stderr,
        )
        return 2
    from PySide6.QtWidgets import QApplication

    from openbench_desktop.ui.main_window import MainWindow
    from openbench_desktop.ui.theme import apply_theme

    logging.basicConfig(level=logging.INFO if smoke else logging.WARNING)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("OpenBench Desktop")
    app.setOrganizationName("OpenBench")
    icon = _icon_path()
    if icon is not None:
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    paths = AppPaths.resolve(home).ensure()
    from openbench_desktop.core.logs import setup_logging

    setup_logging(paths.log_dir)
    ctx = build_context(paths)
    apply_theme(app, ctx.settings.theme)
    window = MainWindow(ctx)
    window.show()
    if smoke:
        from openbench_desktop.ui.smoke import run_smoke

        code = run_smoke(app, window, ctx)
    else:
        from PySide6.QtCore import QTimer

        from openbench_desktop.ui.first_launch import maybe_start_first_launch_demo

        # After the window has been drawn: the demo's thread imports the speech model's
        # libraries, which would otherwise compete with the first paint for the GIL.
        QTimer.singleShot(
            FIRST_LAUNCH_DELAY_MS, lambda: maybe_start_first_launch_demo(window, ctx)
        )
        code = app.exec()
    shutdown_context(ctx)
    return code


def _icon_path() -> Path | None:
    """The app icon in the source tree or the frozen bundle (both keep resources/ there)."""
    root = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
    path = root / "resources" / "icons" / "hicolor" / "256x256" / "apps" / "openbench-desktop.png"
    return path if path.exists() else None
