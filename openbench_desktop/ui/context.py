"""What every view needs from the application, built once in ``app.py``.

Views receive this object; they never create stores, threads or servers themselves, and
tests build one over a temporary folder with an in-memory secret store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.config.settings import Settings, save_settings
from openbench_desktop.core.secrets import SecretStore
from openbench_desktop.core.storage import ResultWriter, Store
from openbench_desktop.ui.bridge.db_executor import DbExecutor
from openbench_desktop.ui.bridge.run_controller import RunController


class AppSignals(QObject):
    """Application-wide notifications between views (all on the GUI thread)."""

    settings_changed = Signal()
    runs_changed = Signal()  # a run was added, finished, tagged or deleted
    open_run = Signal(str)  # run id: show its detail
    compare_runs = Signal(list)  # run ids: show them in Compare
    duplicate_run = Signal(object)  # a RunSpec: fill the run setup form with it
    navigate = Signal(str)  # a page key of the main window
    theme_changed = Signal(str)


@dataclass
class AppContext:
    paths: AppPaths
    settings: Settings
    store: Store
    writer: ResultWriter
    secrets: SecretStore
    controller: RunController
    db: DbExecutor
    signals: AppSignals
    demo: object | None = None  # DemoService, started on first use
    extras: dict[str, object] = field(default_factory=dict)

    def save_settings(self) -> None:
        save_settings(self.paths.settings_file, self.settings)
        self.signals.settings_changed.emit()
