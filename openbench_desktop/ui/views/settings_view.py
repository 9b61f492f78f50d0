"""Settings: endpoints, API keys (keyring), pricing, theme and where the data lives.

Everything the user changes here is saved at once through ``ctx.save_settings()``; there
is no "Apply" step to forget. Secrets never pass through the settings file or a label:
the key field is a password field that is cleared as soon as the keyring has the value,
and the key list shows names only. Keyring calls run on the DB executor's thread (an OS
keyring can block on an unlock prompt) and network probes on the endpoint probe's pool.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openbench_desktop.core.config.settings import Endpoint
from openbench_desktop.core.errors import SecretStoreError
from openbench_desktop.core.secrets.store import validate_name
from openbench_desktop.ui.bridge.db_executor import DbCalls
from openbench_desktop.ui.bridge.endpoint_probe import EndpointProbe, ProbeResult
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.models.pricing_model import PricingModel
from openbench_desktop.ui.theme import THEMES, apply_theme

KINDS: tuple[tuple[str, str], ...] = (
    ("openai", "OpenAI-compatible (OpenAI, vLLM, Ollama, LM Studio, llama.cpp…)"),
    ("anthropic", "Anthropic"),
)
URL_PLACEHOLDERS = {
    "openai": "http://127.0.0.1:8000/v1  or  https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
_CREDENTIAL_PARAMS = {"key", "api_key", "apikey", "token", "access_token", "secret", "password"}

_ERROR_STYLE = "color: #D55E00;"  # Okabe-Ito vermillion: readable in both themes
_OK_STYLE = "color: #009E73;"


def validate_base_url(url: str) -> str | None:
    """Why ``url`` cannot be an endpoint's base URL, or None when it can."""
    url = url.strip()
    if not url:
        return "Enter the base URL, e.g. http://127.0.0.1:8000/v1."
    if any(ch.isspace() for ch in url):
        return "The base URL must not contain spaces."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "The base URL must start with http:// or https://."
    if not parts.hostname:
        return "The base URL needs a host, e.g. http://127.0.0.1:8000/v1."
    try:
        _ = parts.port
    except ValueError:
        return "The port in the base URL is not a number between 0 and 65535."
    keys = {k.lower().replace("-", "_") for k, _v in parse_qsl(parts.query)}
    if parts.username or parts.password or keys & _CREDENTIAL_PARAMS:
        return (
            "Keep credentials out of the URL: store the key under API keys and name it "
            "in the endpoint instead."
        )
    return None


def _set_status(label: QLabel, text: str, *, error: bool = False, ok: bool = False) -> None:
    label.setText(text)
    label.setStyleSheet(_ERROR_STYLE if error else _OK_STYLE if ok else "")
    label.setVisible(bool(text))


class SettingsView(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._db_calls = DbCalls(ctx.db, self)
        self._editing: str | None = None  # name of the endpoint in the form, None: new
        self._probe_ticket: int | None = None
        self._saving = False  # our own save: don't reload the form from settings_changed
        self.probe = EndpointProbe(self)
        self.probe.finished.connect(self._on_probe_finished)

        columns = QHBoxLayout()
        columns.setSpacing(16)
        left = QVBoxLayout()
        left.addWidget(self._build_endpoints())
        left.addWidget(self._build_keys())
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._build_pricing(), 1)
        right.addWidget(self._build_appearance())
        right.addWidget(self._build_folders())
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)

        title = QLabel("Settings")
        title.setObjectName("settings_title")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(16, 12, 16, 16)
        inner_layout.addWidget(title)
        inner_layout.addLayout(columns, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        ctx.signals.settings_changed.connect(self._on_settings_changed)
        ctx.signals.theme_changed.connect(self._show_theme)
        self._load_endpoints()
        self._new_endpoint()
        self._refresh_keys()

    # -- building --------------------------------------------------------------------------

    def _build_endpoints(self) -> QGroupBox:
        box = QGroupBox("Endpoints")
        self.endpoint_list = QListWidget()
        self.endpoint_list.setObjectName("endpoint_list")
        self.endpoint_list.setAccessibleName("Saved endpoints")
        self.endpoint_list.setMinimumHeight(70)
        self.endpoint_list.setMaximumHeight(130)
        self.endpoint_list.currentItemChanged.connect(self._on_endpoint_selected)

        self.endpoint_name = QLineEdit()
        self.endpoint_name.setObjectName("endpoint_name")
        self.endpoint_name.setAccessibleName("Endpoint name")
        self.endpoint_name.setPlaceholderText("e.g. Local vLLM")
        self.endpoint_kind = QComboBox()
        self.endpoint_kind.setObjectName("endpoint_kind")
        self.endpoint_kind.setAccessibleName("API kind")
        for kind, label in KINDS:
            self.endpoint_kind.addItem(label, kind)
        self.endpoint_kind.currentIndexChanged.connect(self._on_kind_changed)
        self.endpoint_url = QLineEdit()
        self.endpoint_url.setObjectName("endpoint_url")
        self.endpoint_url.setAccessibleName("Base URL")
        self.endpoint_key_name = QComboBox()
        self.endpoint_key_name.setObjectName("endpoint_key_name")
        self.endpoint_key_name.setAccessibleName("API key name")
        self.endpoint_key_name.setEditable(True)
        self.endpoint_key_name.setToolTip(
            "The name of a key saved under API keys (the key itself is never stored here). "
            "Leave empty for local servers without a key."
        )
        self.endpoint_key_name.lineEdit().setPlaceholderText("none (local server)")

        form = QFormLayout()
        form.addRow("Name", self.endpoint_name)
        form.addRow("API", self.endpoint_kind)
        form.addRow("Base URL", self.endpoint_url)
        form.addRow("API key name", self.endpoint_key_name)

        self.endpoint_new = QPushButton("New")
        self.endpoint_new.setObjectName("endpoint_new")
        self.endpoint_new.clicked.connect(self._new_endpoint)
        self.endpoint_save = QPushButton("Save endpoint")
        self.endpoint_save.setObjectName("endpoint_save")
        self.endpoint_save.setDefault(True)
        self.endpoint_save.clicked.connect(self._on_save_endpoint)
        self.endpoint_remove = QPushButton("Remove")
        self.endpoint_remove.setObjectName("endpoint_remove")
        self.endpoint_remove.clicked.connect(self._on_remove_endpoint)
        self.endpoint_test = QPushButton("Test connection")
        self.endpoint_test.setObjectName("endpoint_test")
        self.endpoint_test.setToolTip("Ask the endpoint for its model list with the saved key.")
        self.endpoint_test.clicked.connect(self._on_test_connection)
        buttons = QHBoxLayout()
        buttons.addWidget(self.endpoint_new)
        buttons.addWidget(self.endpoint_save)
        buttons.addWidget(self.endpoint_remove)
        buttons.addStretch(1)
        buttons.addWidget(self.endpoint_test)

        self.endpoint_status = QLabel()
        self.endpoint_status.setObjectName("endpoint_status")
        self.endpoint_status.setWordWrap(True)
        self.endpoint_status.hide()
        self.connection_result = QLabel()
        self.connection_result.setObjectName("connection_result")
        self.connection_result.setWordWrap(True)
        self.connection_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.connection_result.hide()

        layout = QVBoxLayout(box)
        layout.addWidget(self.endpoint_list)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.endpoint_status)
        layout.addWidget(self.connection_result)
        return box

    def _build_keys(self) -> QGroupBox:
        box = QGroupBox("API keys")
        self.keyring_backend = QLabel("Keyring: …")
        self.keyring_backend.setObjectName("keyring_backend")
        self.keyring_backend.setWordWrap(True)
        self.key_list = QListWidget()
        self.key_list.setObjectName("key_list")
        self.key_list.setAccessibleName("Saved API key names")
        self.key_list.setMaximumHeight(110)
        self.key_list.currentItemChanged.connect(self._on_key_selected)
        self.key_name = QLineEdit()
        self.key_name.setObjectName("key_name")
        self.key_name.setAccessibleName("Key name")
        self.key_name.setPlaceholderText("e.g. openai-work")
        self.key_value = QLineEdit()
        self.key_value.setObjectName("key_value")
        self.key_value.setAccessibleName("Key value")
        self.key_value.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_value.setPlaceholderText("paste the key; it goes to the OS keyring only")
        self.key_value.returnPressed.connect(self._on_save_key)
        form = QFormLayout()
        form.addRow("Name", self.key_name)
        form.addRow("Key", self.key_value)
        self.key_save = QPushButton("Save key")
        self.key_save.setObjectName("key_save")
        self.key_save.clicked.connect(self._on_save_key)
        self.key_delete = QPushButton("Delete key")
        self.key_delete.setObjectName("key_delete")
        self.key_delete.clicked.connect(self._on_delete_key)
        buttons = QHBoxLayout()
        buttons.addWidget(self.key_save)
        buttons.addWidget(self.key_delete)
        buttons.addStretch(1)
        self.key_status = QLabel()
        self.key_status.setObjectName("key_status")
        self.key_status.setWordWrap(True)
        self.key_status.hide()
        layout = QVBoxLayout(box)
        layout.addWidget(self.keyring_backend)
        layout.addWidget(self.key_list)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.key_status)
        return box

    def _build_pricing(self) -> QGroupBox:
        box = QGroupBox("Pricing (USD per million tokens)")
        self.pricing_model = PricingModel(self.ctx.settings.prices, self)
        self.pricing_model.invalid.connect(
            lambda why: _set_status(self.pricing_status, why, error=True)
        )
        self.pricing_model.dataChanged.connect(self._save_prices)
        self.pricing_model.rowsInserted.connect(self._save_prices)
        self.pricing_model.rowsRemoved.connect(self._save_prices)
        self.pricing_table = QTableView()
        self.pricing_table.setObjectName("pricing_table")
        self.pricing_table.setAccessibleName("Pricing table")
        self.pricing_table.setModel(self.pricing_model)
        self.pricing_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.pricing_table.verticalHeader().hide()
        self.pricing_table.setAlternatingRowColors(True)
        header = self.pricing_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.pricing_table.setMinimumHeight(150)
        hint = QLabel(
            "Used for cost estimates and run costs. A name also prices longer ids that start "
            "with it (gpt-4o → gpt-4o-2024-08-06). Double-click a cell to edit."
        )
        hint.setWordWrap(True)
        self.price_add = QPushButton("Add price")
        self.price_add.setObjectName("price_add")
        self.price_add.clicked.connect(self._on_add_price)
        self.price_remove = QPushButton("Remove selected")
        self.price_remove.setObjectName("price_remove")
        self.price_remove.clicked.connect(self._on_remove_prices)
        buttons = QHBoxLayout()
        buttons.addWidget(self.price_add)
        buttons.addWidget(self.price_remove)
        buttons.addStretch(1)
        self.pricing_status = QLabel()
        self.pricing_status.setObjectName("pricing_status")
        self.pricing_status.setWordWrap(True)
        self.pricing_status.hide()
        layout = QVBoxLayout(box)
        layout.addWidget(hint)
        layout.addWidget(self.pricing_table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.pricing_status)
        return box

    def _build_appearance(self) -> QGroupBox:
        box = QGroupBox("Appearance")
        self.theme_combo = QComboBox()
        self.theme_combo.setObjectName("theme_combo")
        self.theme_combo.setAccessibleName("Theme")
        for theme in THEMES:
            self.theme_combo.addItem(theme.capitalize(), theme)
        self._show_theme(self.ctx.settings.theme)
        self.theme_combo.currentIndexChanged.connect(self._on_theme_chosen)
        form = QFormLayout(box)
        form.addRow("Theme", self.theme_combo)
        return box

    def _build_folders(self) -> QGroupBox:
        box = QGroupBox("Data folders")
        paths = self.ctx.paths
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        rows = (
            ("Data (database)", paths.data_dir, "data"),
            ("Settings", paths.config_dir, "config"),
            ("Logs", paths.log_dir, "logs"),
            ("Cache (datasets)", paths.cache_dir, "cache"),
        )
        self.folder_buttons: dict[str, QPushButton] = {}
        for row, (label, folder, key) in enumerate(rows):
            path_label = QLabel(str(folder))
            path_label.setObjectName(f"folder_{key}")
            path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            path_label.setWordWrap(True)
            button = QPushButton("Open folder")
            button.setObjectName(f"open_{key}")
            button.setAccessibleName(f"Open the {label.lower()} folder")
            button.clicked.connect(lambda _c=False, f=str(folder): self._open_folder(f))
            self.folder_buttons[key] = button
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(path_label, row, 1)
            grid.addWidget(button, row, 2)
        note = QLabel(
            "Set OPENBENCH_HOME (or start with --home DIR) to keep everything in one folder."
        )
        note.setWordWrap(True)
        grid.addWidget(note, len(rows), 0, 1, 3)
        return box

    # -- endpoints -------------------------------------------------------------------------

    def _load_endpoints(self) -> None:
        current = self._editing
        self.endpoint_list.blockSignals(True)
        self.endpoint_list.clear()
        for endpoint in self.ctx.settings.endpoints:
            key = f" · key {endpoint.api_key_name}" if endpoint.api_key_name else ""
            sim = " · simulated" if endpoint.simulated else ""
            text = f"{endpoint.name} — {endpoint.base_url} ({endpoint.kind}{key}{sim})"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, endpoint.name)
            self.endpoint_list.addItem(item)
            if endpoint.name == current:
                self.endpoint_list.setCurrentItem(item)
        self.endpoint_list.blockSignals(False)
        if not self.ctx.settings.endpoints:
            self.endpoint_list.addItem(
                QListWidgetItem("No endpoints yet: fill in the form below and save.")
            )
            self.endpoint_list.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
        self.endpoint_remove.setEnabled(self._editing is not None)

    def _new_endpoint(self) -> None:
        self._editing = None
        self.endpoint_list.clearSelection()
        self.endpoint_list.setCurrentRow(-1)
        self.endpoint_name.clear()
        self.endpoint_kind.setCurrentIndex(0)
        self.endpoint_url.clear()
        self.endpoint_key_name.setEditText("")
        self.endpoint_remove.setEnabled(False)
        _set_status(self.endpoint_status, "")
        self._on_kind_changed()

    def _fill_endpoint_form(self, endpoint: Endpoint) -> None:
        self._editing = endpoint.name
        self.endpoint_name.setText(endpoint.name)
        index = self.endpoint_kind.findData(endpoint.kind)
        self.endpoint_kind.setCurrentIndex(max(0, index))
        self.endpoint_url.setText(endpoint.base_url)
        self.endpoint_key_name.setEditText(endpoint.api_key_name or "")
        self.endpoint_remove.setEnabled(True)
        _set_status(self.endpoint_status, "")
        _set_status(self.connection_result, "")

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_endpoint_selected(
        self, current: QListWidgetItem | None, _previous: QListWidgetItem | None
    ) -> None:
        if current is None:
            return
        name = current.data(Qt.ItemDataRole.UserRole)
        endpoint = self.ctx.settings.endpoint(name) if name else None
        if endpoint is not None:
            self._fill_endpoint_form(endpoint)

    def _on_kind_changed(self) -> None:
        kind = self.endpoint_kind.currentData() or "openai"
        self.endpoint_url.setPlaceholderText(URL_PLACEHOLDERS.get(kind, ""))

    def _form_endpoint(self) -> Endpoint | str:
        """The endpoint in the form, or why it is not valid."""
        name = self.endpoint_name.text().strip()
        if not name:
            return "Give the endpoint a name."
        url = self.endpoint_url.text().strip()
        problem = validate_base_url(url)
        if problem:
            return problem
        key_name = self.endpoint_key_name.currentText().strip() or None
        if key_name:
            try:
                validate_name(key_name)
            except SecretStoreError as exc:
                return str(exc)
        kind = str(self.endpoint_kind.currentData() or "openai")
        return Endpoint(name=name, kind=kind, base_url=url.rstrip("/"), api_key_name=key_name)

    def _on_save_endpoint(self) -> None:
        endpoint = self._form_endpoint()
        if isinstance(endpoint, str):
            _set_status(self.endpoint_status, endpoint, error=True)
            return
        endpoints = list(self.ctx.settings.endpoints)
        clash = next((e for e in endpoints if e.name == endpoint.name), None)
        if clash is not None and endpoint.name != self._editing:
            _set_status(
                self.endpoint_status,
                f"An endpoint named '{endpoint.name}' already exists: choose another name.",
                error=True,
            )
            return
        if self._editing is not None:
            endpoints = [endpoint if e.name == self._editing else e for e in endpoints]
            verb = "Updated"
        else:
            endpoints.append(endpoint)
            verb = "Added"
        self.ctx.settings.endpoints = endpoints
        self._editing = endpoint.name
        self._save()
        self._load_endpoints()
        self.endpoint_remove.setEnabled(True)
        missing = ""
        if endpoint.api_key_name and endpoint.api_key_name not in self._key_names():
            missing = f" Note: no key named '{endpoint.api_key_name}' is saved yet (see API keys)."
        _set_status(self.endpoint_status, f"{verb} '{endpoint.name}'.{missing}", ok=not missing)

    def _on_remove_endpoint(self) -> None:
        name = self._editing
        if name is None:
            return
        if not self._confirm("Remove endpoint", f"Remove the endpoint '{name}'? Its runs stay."):
            return
        self.ctx.settings.endpoints = [e for e in self.ctx.settings.endpoints if e.name != name]
        self._save()
        self._new_endpoint()
        self._load_endpoints()
        _set_status(self.endpoint_status, f"Removed '{name}'.", ok=True)

    def _on_test_connection(self) -> None:
        endpoint = self._form_endpoint()
        if isinstance(endpoint, str):
            _set_status(self.connection_result, endpoint, error=True)
            return
        self.endpoint_test.setEnabled(False)
        _set_status(self.connection_result, f"Connecting to {endpoint.base_url} …")
        self._probe_ticket = self.probe.list_models(
            endpoint.kind,
            endpoint.base_url,
            key_name=endpoint.api_key_name,
            secrets=self.ctx.secrets,
        )

    @Slot(int, object)
    def _on_probe_finished(self, ticket: int, result: ProbeResult) -> None:
        if ticket != self._probe_ticket:
            return
        self._probe_ticket = None
        self.endpoint_test.setEnabled(True)
        seconds = f" ({result.elapsed_s:.1f} s)"
        _set_status(
            self.connection_result,
            (result.message if result.ok else f"Failed: {result.message}") + seconds,
            error=not result.ok,
            ok=result.ok,
        )

    # -- keys ------------------------------------------------------------------------------

    def _key_names(self) -> list[str]:
        items = (self.key_list.item(i) for i in range(self.key_list.count()))
        return [it.text() for it in items if it.flags() & Qt.ItemFlag.ItemIsSelectable]

    def _submit(self, fn: Callable[[], object], done: Callable[[object, str | None], None]) -> None:
        self._db_calls.submit(fn, lambda result, error, _ticket: done(result, error))

    def _refresh_keys(self) -> None:
        secrets = self.ctx.secrets

        def read() -> tuple[str, list[str] | None, str | None]:
            backend = secrets.describe()
            try:
                return backend, secrets.names(), None
            except SecretStoreError as exc:
                return backend, None, str(exc)

        self._submit(read, self._show_keys)

    def _show_keys(self, result: object, error: str | None) -> None:
        if error is not None or not isinstance(result, tuple):
            _set_status(self.key_status, error or "Could not read the keyring.", error=True)
            return
        backend, names, problem = result
        self.keyring_backend.setText(
            f"Key storage: {backend}. Values are never shown again or written to a file."
        )
        self.key_list.clear()
        if problem is not None:
            _set_status(self.key_status, problem, error=True)
            names = []
        for name in names or []:
            self.key_list.addItem(name)
        if not names:
            item = QListWidgetItem("No keys saved.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.key_list.addItem(item)
        typed = self.endpoint_key_name.currentText()
        if typed and typed in (names or []) and "no key named" in self.endpoint_status.text():
            _set_status(self.endpoint_status, "")  # the missing key now exists
        self.endpoint_key_name.blockSignals(True)
        self.endpoint_key_name.clear()
        self.endpoint_key_name.addItem("")
        self.endpoint_key_name.addItems(list(names or []))
        self.endpoint_key_name.setEditText(typed)
        self.endpoint_key_name.blockSignals(False)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_key_selected(
        self, current: QListWidgetItem | None, _previous: QListWidgetItem | None
    ) -> None:
        if current is not None and current.flags() & Qt.ItemFlag.ItemIsSelectable:
            self.key_name.setText(current.text())

    def _on_save_key(self) -> None:
        name = self.key_name.text().strip()
        value = self.key_value.text()
        try:
            validate_name(name)
        except SecretStoreError as exc:
            _set_status(self.key_status, str(exc), error=True)
            return
        if not value.strip():
            _set_status(self.key_status, "Paste the key's value first.", error=True)
            return
        # The value leaves the widget now: only the keyring keeps it.
        self.key_value.clear()
        secrets = self.ctx.secrets
        value = value.strip()
        self.key_save.setEnabled(False)
        _set_status(self.key_status, f"Saving '{name}' in the keyring …")

        def store() -> None:
            secrets.set(name, value)

        def done(_result: object, error: str | None) -> None:
            self.key_save.setEnabled(True)
            if error:
                _set_status(self.key_status, error, error=True)
            else:
                _set_status(self.key_status, f"Saved the key '{name}' in the keyring.", ok=True)
            self._refresh_keys()

        self._submit(store, done)

    def _on_delete_key(self) -> None:
        name = self.key_name.text().strip()
        if not name:
            _set_status(self.key_status, "Choose a key to delete.", error=True)
            return
        users = [e.name for e in self.ctx.settings.endpoints if e.api_key_name == name]
        note = f" It is used by: {', '.join(users)}." if users else ""
        if not self._confirm("Delete key", f"Delete the key '{name}' from the keyring?{note}"):
            return
        secrets = self.ctx.secrets

        def done(_result: object, error: str | None) -> None:
            if error:
                _set_status(self.key_status, error, error=True)
            else:
                self.key_name.clear()
                _set_status(self.key_status, f"Deleted the key '{name}'.", ok=True)
            self._refresh_keys()

        self._submit(lambda: secrets.delete(name), done)

    # -- pricing ---------------------------------------------------------------------------

    def _on_add_price(self) -> None:
        row = self.pricing_model.add_row()
        index = self.pricing_model.index(row, 0)
        self.pricing_table.setCurrentIndex(index)
        self.pricing_table.edit(index)

    def _on_remove_prices(self) -> None:
        rows = {i.row() for i in self.pricing_table.selectionModel().selectedRows()}
        if not rows and self.pricing_table.currentIndex().isValid():
            rows = {self.pricing_table.currentIndex().row()}
        if not rows:
            _set_status(self.pricing_status, "Select the rows to remove.", error=True)
            return
        self.pricing_model.remove_rows(rows)

    def _save_prices(self, *_args: object) -> None:
        self.ctx.settings.prices = self.pricing_model.prices()
        self._save()
        _set_status(self.pricing_status, "Prices saved.", ok=True)

    # -- theme and folders -----------------------------------------------------------------

    @Slot(str)
    def _show_theme(self, theme: str) -> None:
        index = self.theme_combo.findData(theme)
        if index >= 0 and index != self.theme_combo.currentIndex():
            self.theme_combo.blockSignals(True)
            self.theme_combo.setCurrentIndex(index)
            self.theme_combo.blockSignals(False)

    def _on_theme_chosen(self) -> None:
        theme = str(self.theme_combo.currentData())
        if theme == self.ctx.settings.theme:
            return
        self.ctx.settings.theme = theme
        self._save()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.ctx.signals.theme_changed.emit(theme)

    def _open_folder(self, folder: str) -> bool:
        """Show ``folder`` in the file manager (tests override this to stay headless)."""
        return QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    # -- shared ----------------------------------------------------------------------------

    def _confirm(self, title: str, text: str) -> bool:
        """Ask yes/no (tests override this to answer without a dialog)."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _save(self) -> None:
        self._saving = True
        try:
            self.ctx.save_settings()
        finally:
            self._saving = False

    @Slot()
    def _on_settings_changed(self) -> None:
        """Another view (or the menu) changed settings: show them."""
        if self._saving:
            return
        if self._editing is not None and self.ctx.settings.endpoint(self._editing) is None:
            self._new_endpoint()
        self._load_endpoints()
        if self.pricing_model.prices() != self.ctx.settings.prices:
            self.pricing_model.set_prices(self.ctx.settings.prices)
        self._show_theme(self.ctx.settings.theme)
