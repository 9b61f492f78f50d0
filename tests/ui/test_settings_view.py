"""Settings: endpoints, keys in the keyring (never shown), connection test, pricing, theme."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit

from openbench_desktop.core.config.settings import Endpoint, Price, load_settings
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.ui.models.pricing_model import (
    COL_INPUT,
    COL_MODEL,
    COL_OUTPUT,
    PricingModel,
    parse_price,
)
from openbench_desktop.ui.views.settings_view import SettingsView, validate_base_url

SECRET = "fake-test-5ecret-value-0123456789"


class _Settings(SettingsView):
    """The real view with its dialogs answered and the file manager left alone."""

    confirm_answer = True
    opened: list[str]

    def _confirm(self, title: str, text: str) -> bool:
        return self.confirm_answer

    def _open_folder(self, folder: str) -> bool:
        self.opened.append(folder)
        return True


@pytest.fixture
def view(qtbot, ctx) -> _Settings:
    widget = _Settings(ctx)
    widget.opened = []
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    # The key list is read off-thread at start; wait so tests begin from a settled view.
    qtbot.waitUntil(lambda: widget.key_list.count() > 0, timeout=3000)
    return widget


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _type(qtbot, edit: QLineEdit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def _add_endpoint(qtbot, view: _Settings, name: str, url: str, key_name: str = "") -> None:
    _click(qtbot, view.endpoint_new)
    _type(qtbot, view.endpoint_name, name)
    _type(qtbot, view.endpoint_url, url)
    view.endpoint_key_name.setEditText(key_name)
    _click(qtbot, view.endpoint_save)


def _set_key(qtbot, view: _Settings, name: str, value: str) -> None:
    _type(qtbot, view.key_name, name)
    _type(qtbot, view.key_value, value)
    _click(qtbot, view.key_save)
    qtbot.waitUntil(lambda: f"Saved the key '{name}'" in view.key_status.text(), timeout=3000)


def _visible_texts(widget) -> list[str]:
    texts = [w.text() for w in widget.findChildren(QLabel)]
    texts += [w.text() for w in widget.findChildren(QLineEdit)]
    for lst in (widget.endpoint_list, widget.key_list):
        texts += [lst.item(i).text() for i in range(lst.count())]
    return texts


# -- endpoints -----------------------------------------------------------------------------


def test_add_edit_and_remove_an_endpoint(qtbot, ctx, view: _Settings) -> None:
    _add_endpoint(qtbot, view, "Local vLLM", "http://127.0.0.1:8000/v1/", "vllm-key")
    assert ctx.settings.endpoints == [
        Endpoint("Local vLLM", "openai", "http://127.0.0.1:8000/v1", "vllm-key")
    ]
    on_disk = load_settings(ctx.paths.settings_file)
    assert on_disk.endpoints == ctx.settings.endpoints
    assert view.endpoint_list.count() == 1
    assert "Local vLLM" in view.endpoint_list.item(0).text()
    assert "no key named 'vllm-key'" in view.endpoint_status.text()

    # Edit: select it, change kind and URL, save; still one endpoint.
    view.endpoint_list.setCurrentRow(0)
    view.endpoint_kind.setCurrentIndex(view.endpoint_kind.findData("anthropic"))
    _type(qtbot, view.endpoint_url, "https://api.anthropic.com")
    _click(qtbot, view.endpoint_save)
    assert ctx.settings.endpoints == [
        Endpoint("Local vLLM", "anthropic", "https://api.anthropic.com", "vllm-key")
    ]

    _click(qtbot, view.endpoint_remove)
    assert ctx.settings.endpoints == []
    assert load_settings(ctx.paths.settings_file).endpoints == []
    assert "Removed" in view.endpoint_status.text()


def test_endpoint_validation_names_the_problem(qtbot, ctx, view: _Settings) -> None:
    _add_endpoint(qtbot, view, "bad", "ftp://example.com")
    assert "http:// or https://" in view.endpoint_status.text()
    _add_endpoint(qtbot, view, "", "http://127.0.0.1:1/v1")
    assert "name" in view.endpoint_status.text()
    _add_endpoint(qtbot, view, "creds", "https://user:pw@example.com/v1")
    assert "credentials" in view.endpoint_status.text()
    assert ctx.settings.endpoints == []
    _add_endpoint(qtbot, view, "one", "http://127.0.0.1:1/v1")
    _add_endpoint(qtbot, view, "one", "http://127.0.0.1:2/v1")
    assert "already exists" in view.endpoint_status.text()
    assert len(ctx.settings.endpoints) == 1


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("https://api.openai.com/v1", True),
        ("http://localhost:11434/v1", True),
        ("127.0.0.1:8000", False),
        ("http://", False),
        ("http://host:99999/v1", False),
        ("https://x.com/v1?api_key=abc", False),
        ("http://a b/v1", False),
        ("", False),
    ],
)
def test_validate_base_url(url: str, ok: bool) -> None:
    assert (validate_base_url(url) is None) is ok


# -- keys ------------------------------------------------------------------------------------


def test_a_key_goes_to_the_keyring_and_is_never_shown(qtbot, ctx, view: _Settings) -> None:
    assert view.key_value.echoMode() == QLineEdit.EchoMode.Password
    _add_endpoint(qtbot, view, "Hosted", "https://api.example.com/v1", "work")
    _set_key(qtbot, view, "work", SECRET)

    assert ctx.secrets.get("work") == SECRET
    qtbot.waitUntil(lambda: view.key_list.count() == 1 and view.key_list.item(0).text() == "work")
    assert view.key_value.text() == ""  # cleared once the keyring has it
    for text in _visible_texts(view):
        assert SECRET not in text
    settings_text = ctx.paths.settings_file.read_text(encoding="utf-8")
    assert SECRET not in settings_text
    assert json.loads(settings_text)["endpoints"][0]["api_key_name"] == "work"
    # The endpoint form offers saved key names.
    names = [view.endpoint_key_name.itemText(i) for i in range(view.endpoint_key_name.count())]
    assert "work" in names


def test_delete_a_key(qtbot, ctx, view: _Settings) -> None:
    _set_key(qtbot, view, "old", "value-1")
    qtbot.waitUntil(lambda: view.key_list.item(0).text() == "old")
    view.key_list.setCurrentRow(0)
    assert view.key_name.text() == "old"
    _click(qtbot, view.key_delete)
    qtbot.waitUntil(lambda: "Deleted the key 'old'" in view.key_status.text(), timeout=3000)
    assert ctx.secrets.names() == []


def test_invalid_key_name_or_empty_value_is_refused(qtbot, ctx, view: _Settings) -> None:
    _type(qtbot, view.key_name, "bad name!")
    _type(qtbot, view.key_value, "v")
    _click(qtbot, view.key_save)
    assert "Invalid key name" in view.key_status.text()
    _type(qtbot, view.key_name, "good")
    view.key_value.clear()
    _click(qtbot, view.key_save)
    assert "Paste the key" in view.key_status.text()
    assert ctx.secrets.names() == []


# -- test connection -------------------------------------------------------------------------


def test_test_connection_with_right_and_wrong_key(
    qtbot, ctx, view: _Settings, make_loopback_server, shots_dir: Path
) -> None:
    server = make_loopback_server(behavior=ServerBehavior(require_api_key="k1"))
    _add_endpoint(qtbot, view, "Loopback", server.base_url, "lb")

    _set_key(qtbot, view, "lb", "k1")
    _click(qtbot, view.endpoint_test)
    qtbot.waitUntil(lambda: view.endpoint_test.isEnabled(), timeout=10_000)
    result = view.connection_result.text()
    assert result.startswith("OK — 2 models: simulated-echo, simulated-gsm8k"), result

    _set_key(qtbot, view, "lb", "wrong-key")
    _click(qtbot, view.endpoint_test)
    qtbot.waitUntil(lambda: view.endpoint_test.isEnabled(), timeout=10_000)
    failed = view.connection_result.text()
    assert failed.startswith("Failed:"), failed
    assert "401" in failed or "rejected the API key" in failed, failed
    assert "wrong-key" not in failed
    view.grab().save(str(shots_dir / "settings_connection_failed.png"))


def test_test_connection_reports_an_unreachable_server(qtbot, view: _Settings) -> None:
    _add_endpoint(qtbot, view, "Nowhere", "http://127.0.0.1:9/v1")
    _click(qtbot, view.endpoint_test)
    qtbot.waitUntil(lambda: view.endpoint_test.isEnabled(), timeout=15_000)
    assert view.connection_result.text().startswith("Failed:")


# -- pricing ---------------------------------------------------------------------------------


def test_pricing_edit_persists_to_the_settings_file(qtbot, ctx, view: _Settings) -> None:
    model = view.pricing_model
    n = model.rowCount()
    _click(qtbot, view.price_add)
    QApplication.processEvents()
    assert model.rowCount() == n + 1
    row = n
    assert model.setData(model.index(row, COL_MODEL), "my-local-model")
    assert model.setData(model.index(row, COL_INPUT), "0.25")
    assert model.setData(model.index(row, COL_OUTPUT), "$1.50")
    assert model.index(row, COL_OUTPUT).data() == "1.5"
    expected = Price("my-local-model", 0.25, 1.5)
    assert expected in load_settings(ctx.paths.settings_file).prices
    assert ctx.settings.price_for("my-local-model-q4") == expected

    # A negative price is refused with a message; the stored value stays.
    assert not model.setData(model.index(row, COL_INPUT), "-1")
    assert "not a price" in view.pricing_status.text()
    assert expected in load_settings(ctx.paths.settings_file).prices

    view.pricing_table.selectRow(row)
    _click(qtbot, view.price_remove)
    assert expected not in load_settings(ctx.paths.settings_file).prices


def test_pricing_edit_through_the_table_editor(qtbot, ctx, view: _Settings) -> None:
    """Typing into the cell editor, as a user does, goes through the same validation."""
    table = view.pricing_table
    index = view.pricing_model.index(0, COL_INPUT)
    table.setCurrentIndex(index)
    table.edit(index)
    editors = table.viewport().findChildren(QLineEdit)
    assert len(editors) == 1
    editor = editors[0]
    assert editor.text() == "2.5"
    editor.selectAll()
    qtbot.keyClicks(editor, "9.75")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # Qt commits an item editor's data through a queued call after Return.
    qtbot.waitUntil(lambda: view.pricing_model.index(0, COL_INPUT).data() == "9.75")
    first = load_settings(ctx.paths.settings_file).prices[0]
    assert first.input_per_mtok == 9.75


def test_pricing_model_alone() -> None:
    model = PricingModel([Price("a", 1, 2)])
    assert model.rowCount() == 1 and model.columnCount() == 3
    assert not model.setData(model.index(0, COL_MODEL), "")
    row = model.add_row()
    assert model.index(row, COL_MODEL).data() == "new-model"
    assert model.index(model.add_row(), COL_MODEL).data() == "new-model-2"
    assert not model.setData(model.index(row, COL_MODEL), "a")  # duplicate name
    assert model.prices()[0] == Price("a", 1, 2)
    model.remove_rows([0, 1])
    assert [p.model for p in model.prices()] == ["new-model-2"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2.5", 2.5),
        ("$0.15", 0.15),
        ("1,000", 1000.0),
        (3, 3.0),
        ("-1", None),
        ("x", None),
        ("nan", None),
        ("inf", None),
        (True, None),
    ],
)
def test_parse_price(text: object, value: float | None) -> None:
    assert parse_price(text) == value


# -- theme and folders -----------------------------------------------------------------------


def test_theme_toggle_applies_saves_and_signals(qtbot, ctx, view: _Settings) -> None:
    seen: list[str] = []
    ctx.signals.theme_changed.connect(seen.append)
    view.theme_combo.setCurrentIndex(view.theme_combo.findData("dark"))
    assert seen == ["dark"]
    assert ctx.settings.theme == "dark"
    assert load_settings(ctx.paths.settings_file).theme == "dark"
    window = QApplication.instance().palette().window().color()
    assert window.lightness() < 100  # the dark palette is applied
    view.theme_combo.setCurrentIndex(view.theme_combo.findData("light"))
    assert seen == ["dark", "light"]
    assert QApplication.instance().palette().window().color().lightness() > 150
    # A toggle elsewhere (the menu's Ctrl+T) shows up here.
    ctx.signals.theme_changed.emit("dark")
    assert view.theme_combo.currentData() == "dark"
    ctx.settings.theme = "light"  # leave the app light for other tests
    from openbench_desktop.ui.theme import apply_theme

    apply_theme(QApplication.instance(), "light")


def test_data_folders_are_shown_with_open_buttons(qtbot, ctx, view: _Settings) -> None:
    label = view.findChild(QLabel, "folder_data")
    assert label is not None and label.text() == str(ctx.paths.data_dir)
    _click(qtbot, view.folder_buttons["logs"])
    assert view.opened == [str(ctx.paths.log_dir)]


def test_settings_changed_elsewhere_are_shown(qtbot, ctx, view: _Settings) -> None:
    ctx.settings.endpoints = [Endpoint("From elsewhere", "openai", "http://127.0.0.1:1/v1")]
    ctx.settings.prices = [Price("only", 1.0, 1.0)]
    ctx.save_settings()
    assert "From elsewhere" in view.endpoint_list.item(0).text()
    assert view.pricing_model.prices() == [Price("only", 1.0, 1.0)]


def test_screenshot(qtbot, ctx, view: _Settings, make_loopback_server, shots_dir: Path) -> None:
    server = make_loopback_server()
    _add_endpoint(qtbot, view, "Local vLLM", "http://127.0.0.1:8000/v1")
    _add_endpoint(qtbot, view, "Loopback (simulated)", server.base_url, "lb")
    _set_key(qtbot, view, "lb", "k1")
    _click(qtbot, view.endpoint_test)
    qtbot.waitUntil(lambda: view.endpoint_test.isEnabled(), timeout=10_000)
    assert view.connection_result.text().startswith("OK")
    view.grab().save(str(shots_dir / "settings.png"))
    assert (shots_dir / "settings.png").stat().st_size > 0
