"""The main window: navigation, menus, shortcuts, geometry; the views do the work."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QSettings, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop import __version__
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.help_overlay import HelpOverlay
from openbench_desktop.ui.theme import apply_theme

# (key, label, shortcut). The order is the navigation order.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("setup", "Run setup", "Ctrl+1"),
    ("live", "Runs in progress", "Ctrl+2"),
    ("history", "History", "Ctrl+3"),
    ("detail", "Run detail", "Ctrl+4"),
    ("compare", "Compare", "Ctrl+5"),
    ("settings", "Settings", "Ctrl+6"),
)


def _compare_view(ctx: AppContext) -> QWidget:
    from openbench_desktop.ui.views.compare_view import CompareView  # lazy: see LAZY_PAGES

    return CompareView(ctx)


def _view_factories() -> dict[str, Callable[[AppContext], QWidget]]:
    from openbench_desktop.ui.views.history_view import HistoryView
    from openbench_desktop.ui.views.live_runs_view import LiveRunsView
    from openbench_desktop.ui.views.run_detail_view import RunDetailView
    from openbench_desktop.ui.views.run_setup_view import RunSetupView
    from openbench_desktop.ui.views.settings_view import SettingsView

    return {
        "setup": RunSetupView,
        "live": LiveRunsView,
        "history": HistoryView,
        "detail": RunDetailView,
        "compare": _compare_view,
        "settings": SettingsView,
    }


#: Pages built the first time they are shown or asked for: Compare imports the statistics
#: and builds several plots (~0.45 s), which the first window does not need.
LAZY_PAGES = frozenset({"compare"})


class _Pages(dict[str, QWidget]):
    """The views by page key; asking for a lazy page that does not exist yet builds it."""

    def __init__(self, build: Callable[[str], QWidget]) -> None:
        super().__init__()
        self._build = build

    def __missing__(self, key: str) -> QWidget:
        return self._build(key)


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(f"OpenBench Desktop {__version__}")
        self.setObjectName("MainWindow")
        self._qsettings = QSettings(
            str(ctx.paths.config_dir / "window.ini"), QSettings.Format.IniFormat
        )

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(180)
        self.nav.setAccessibleName("Navigation")
        self.nav.setStyleSheet(
            "QListWidget#navigation { border: none; border-right: 1px solid palette(mid);"
            " font-size: 11pt; padding-top: 8px; }"
            "QListWidget#navigation::item { padding: 8px 14px; }"
        )
        self.stack = QStackedWidget()
        self.pages = _Pages(self._build_page)
        self._factories = _view_factories()
        for key, label, shortcut in PAGES:
            if key in LAZY_PAGES:
                self.stack.addWidget(QWidget())  # stands in until the page is first needed
            else:
                self._build_page(key)
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setToolTip(f"{label} ({shortcut})")
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self._on_nav_row)

        self.banner = _Banner()
        self.banner.action.clicked.connect(lambda: self.show_page(self.banner.target))
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(0)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.stack, 1)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)
        self.help_overlay = HelpOverlay(self)

        self._build_menus()
        ctx.signals.navigate.connect(self.show_page)
        ctx.signals.open_run.connect(lambda _run_id: self.show_page("detail"))
        ctx.signals.compare_runs.connect(self._on_compare_runs)
        ctx.signals.duplicate_run.connect(lambda _spec: self.show_page("setup"))
        ctx.controller.job_started.connect(lambda *_: self.show_page("live"))
        ctx.controller.job_ended.connect(lambda *_: ctx.signals.runs_changed.emit())
        self.statusBar().showMessage(f"Data folder: {ctx.paths.data_dir}")
        self._restore_geometry()
        self.nav.setCurrentRow(0)

    # -- pages -----------------------------------------------------------------------------

    def _build_page(self, key: str) -> QWidget:
        """Create the view of ``key`` in its place in the stack (lazy pages on first use)."""
        index = [k for k, _label, _shortcut in PAGES].index(key)
        view = self._factories[key](self.ctx)
        view.setObjectName(f"page_{key}")
        dict.__setitem__(self.pages, key, view)
        stand_in = self.stack.widget(index)
        self.stack.insertWidget(index, view)
        if stand_in is not None:
            self.stack.removeWidget(stand_in)
            stand_in.deleteLater()
        return view

    def page(self, key: str) -> QWidget:
        """The view of ``key``, built now if it is a lazy page not shown yet."""
        return self.pages[key]

    @Slot(int)
    def _on_nav_row(self, row: int) -> None:
        if 0 <= row < len(PAGES):
            self.page(PAGES[row][0])  # a lazy page is built before it shows
        self.stack.setCurrentIndex(row)

    @Slot(list)
    def _on_compare_runs(self, run_ids: list[str]) -> None:
        if "compare" not in self.pages:
            # Built now, it missed this very signal (connected after it was emitted).
            self.pages["compare"].compare(run_ids)  # type: ignore[attr-defined]
        self.show_page("compare")

    # -- navigation ------------------------------------------------------------------------

    @Slot(str)
    def show_page(self, key: str) -> None:
        keys = [k for k, _label, _shortcut in PAGES]
        if key in keys:
            self.nav.setCurrentRow(keys.index(key))

    def current_page(self) -> str:
        return PAGES[self.stack.currentIndex()][0]

    def show_banner(self, text: str, action_label: str, target_page: str) -> None:
        """A notice above the pages with one action button (e.g. the demo's "add an endpoint")."""
        self.banner.show_message(text, action_label, target_page)

    # -- menus -----------------------------------------------------------------------------

    def _action(
        self, text: str, slot: Callable[[], object], shortcut: str | QKeySequence | None = None
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(
            self._action("&New run", lambda: self.show_page("setup"), QKeySequence.StandardKey.New)
        )
        file_menu.addAction(self._action("&Import dataset...", self._on_import_dataset, "Ctrl+I"))
        file_menu.addAction(self._action("&Export run...", self._on_export, "Ctrl+E"))
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self._action("Copy run &id", self._on_copy_run_id, "Ctrl+Shift+C"))

        view_menu = bar.addMenu("&View")
        for key, label, shortcut in PAGES:
            view_menu.addAction(self._action(label, lambda k=key: self.show_page(k), shortcut))
        view_menu.addSeparator()
        view_menu.addAction(self._action("Toggle &dark theme", self._on_toggle_theme, "Ctrl+T"))

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&Keyboard shortcuts", self.help_overlay.toggle, "?"))
        help_menu.addAction(self._action("&About", self._on_about))

    def shortcut_table(self) -> list[tuple[str, str]]:
        rows = []
        for action in self.actions():
            if not action.shortcut().isEmpty():
                text = action.text().replace("&", "").rstrip(".")
                rows.append(
                    (action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), text)
                )
        return rows

    # -- actions ---------------------------------------------------------------------------

    def _selected_run_id(self) -> str | None:
        page = self.stack.currentWidget()
        getter = getattr(page, "selected_run_id", None)
        run_id = getter() if callable(getter) else None
        if run_id is None:
            detail = self.pages["detail"]
            run_id = getattr(detail, "run_id", None)
        return run_id

    def _on_copy_run_id(self) -> None:
        run_id = self._selected_run_id()
        if run_id:
            QApplication.clipboard().setText(run_id)
            self.statusBar().showMessage(f"Copied run id {run_id}", 4000)
        else:
            self.statusBar().showMessage("Select a run first (History or Run detail).", 4000)

    def _on_import_dataset(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Import dataset", "", "Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)"
        )
        if path:
            setup = self.pages["setup"]
            use = getattr(setup, "use_dataset_file", None)
            if callable(use):
                use(path)
            self.show_page("setup")

    def _on_export(self) -> None:
        run_id = self._selected_run_id()
        if not run_id:
            self.statusBar().showMessage("Select a run to export (History or Run detail).", 4000)
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export run", f"run-{run_id[:8]}.csv", "CSV (*.csv);;JSON (*.json)"
        )
        if not path:
            return
        from pathlib import Path

        from openbench_desktop.core.export.samples import write_export

        fmt = "json" if path.lower().endswith(".json") or "JSON" in chosen else "csv"
        try:
            record = self.ctx.store.get_run(run_id)
            n = write_export(Path(path), fmt, record, self.ctx.store.iter_results(run_id))
        except Exception as exc:
            QMessageBox.warning(self, "Export failed", str(exc))
            return
        self.statusBar().showMessage(f"Exported {n} samples to {path}", 6000)

    def _on_toggle_theme(self) -> None:
        theme = "light" if self.ctx.settings.theme == "dark" else "dark"
        self.ctx.settings.theme = theme
        self.ctx.save_settings()
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        self.ctx.signals.theme_changed.emit(theme)

    def _on_about(self) -> None:
        QMessageBox.about(
            self,
            "About OpenBench Desktop",
            f"OpenBench Desktop {__version__}\n\nBenchmark AI models on your own workstation."
            f"\n\nData folder: {self.ctx.paths.data_dir}",
        )

    # -- lifecycle -------------------------------------------------------------------------

    def _confirm_quit(self, n_active: int) -> bool:
        """Ask before cancelling runs (tests override this to answer without a dialog)."""
        answer = QMessageBox.question(
            self,
            "Runs in progress",
            f"{n_active} run(s) are still in progress. Cancel them and quit? "
            "Finished samples are kept; the runs are stored as cancelled.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _restore_geometry(self) -> None:
        geometry = self._qsettings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)

    def closeEvent(self, event: QCloseEvent) -> None:
        active = self.ctx.controller.active_jobs()
        if active and not self._confirm_quit(len(active)):
            event.ignore()
            return
        self.ctx.controller.cancel_all()
        self.ctx.controller.wait_all()
        self._qsettings.setValue("geometry", self.saveGeometry())
        self._qsettings.sync()
        event.accept()


class _Banner(QFrame):
    """A dismissable one-line notice with one action, hidden until used."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#banner { background: palette(alternate-base); border: none;"
            " border-bottom: 1px solid palette(mid); }"
        )
        self.target = "settings"
        self.label = QLabel()
        self.label.setObjectName("banner_text")
        self.label.setWordWrap(True)
        self.action = QPushButton()
        self.action.setObjectName("banner_action")
        close = QPushButton("Dismiss")
        close.setFlat(True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str, action_label: str, target: str) -> None:
        self.label.setText(text)
        self.action.setText(action_label)
        self.target = target
        self.show()
