"""The endpoint-and-model picker the quality and speed pages of Run setup share."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from openbench_desktop.core.config.settings import Endpoint
from openbench_desktop.core.demo import DEMO_ENDPOINT_NAME, DEMO_MODEL
from openbench_desktop.core.domain import RunSpec
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.main_window import MainWindow
from openbench_desktop.ui.theme import apply_theme
from openbench_desktop.ui.views.endpoint_picker import (
    DEMO_URL_PLACEHOLDER,
    SIMULATED_TAG,
    EndpointModelPicker,
    PickerOptions,
)
from openbench_desktop.ui.views.speed_setup import PICKER_OPTIONS as SPEED_OPTIONS

URL = "http://10.0.0.5:8000/v1"


def _picker(
    qtbot: QtBot, ctx: AppContext, options: PickerOptions | None = None, *, saved: bool = True
) -> EndpointModelPicker:
    if saved:
        ctx.settings.endpoints.append(Endpoint("lab vllm", "openai", URL))
    picker = EndpointModelPicker(ctx, options)
    qtbot.addWidget(picker)
    picker.reload()
    picker.show()
    qtbot.waitExposed(picker)
    return picker


def _texts(picker: EndpointModelPicker) -> list[str]:
    combo = picker.endpoint_combo
    return [combo.itemText(i) for i in range(combo.count())]


def test_quality_offers_the_demo_only_without_saved_endpoints(
    qtbot: QtBot, ctx: AppContext
) -> None:
    picker = _picker(qtbot, ctx)
    assert _texts(picker) == [f"lab vllm  ({URL})"]
    assert not picker.add_endpoint.isVisible()
    assert picker.model_combo.currentText() == ""
    assert not picker.model_status.isVisible()

    ctx.settings.endpoints.clear()
    picker.reload()
    assert _texts(picker) == [DEMO_ENDPOINT_NAME]
    assert picker.add_endpoint.isVisible()
    assert picker.model_combo.currentText() == DEMO_MODEL
    assert "simulated model" in picker.model_status.text() and picker.model_status.isVisible()
    choice = picker.current_endpoint()
    assert choice is not None and choice.demo
    assert picker.endpoint_url(choice) == DEMO_URL_PLACEHOLDER  # its server is not running
    assert picker.endpoint_memo() == "demo"


def test_speed_always_offers_the_demo_and_clears_its_model_on_leaving(
    qtbot: QtBot, ctx: AppContext
) -> None:
    picker = _picker(qtbot, ctx, SPEED_OPTIONS)
    assert _texts(picker) == [f"lab vllm  ({URL})", DEMO_ENDPOINT_NAME]
    assert picker.endpoint_combo.objectName() == "speed_endpoint"
    assert picker.discover.text() == "Discover"
    assert not picker.add_endpoint.isVisible()

    changes: list[None] = []
    picker.changed.connect(lambda: changes.append(None))
    assert picker.select_endpoint(DEMO_ENDPOINT_NAME)
    assert picker.model_combo.currentText() == DEMO_MODEL
    assert "simulated server" in picker.model_status.text()
    assert changes, "the owner hears of the new endpoint"

    assert picker.select_endpoint("lab vllm")
    assert picker.model_combo.currentText() == ""  # the demo's model id means nothing here
    assert not picker.model_status.isVisible()
    assert picker.endpoint_memo() == "lab vllm"

    qtbot.keyClicks(picker.model_combo.lineEdit(), "llama")
    picker.select_endpoint(DEMO_ENDPOINT_NAME)
    assert picker.model() == "llama"  # a model the user typed stays
    assert not picker.select_endpoint("nowhere")


def test_a_spec_selects_its_endpoint_or_brings_its_own(qtbot: QtBot, ctx: AppContext) -> None:
    picker = _picker(qtbot, ctx, SPEED_OPTIONS)
    spec = RunSpec(provider="openai", base_url=URL + "/", model="m", benchmark="speed")
    picker.select_endpoint_for(spec)
    choice = picker.current_endpoint()
    assert choice is not None and choice.label == "lab vllm"

    elsewhere = RunSpec(provider="openai", base_url="http://10.0.0.9/v1", model="m",
                        benchmark="speed")
    picker.select_endpoint_for(elsewhere)
    assert picker.endpoint_combo.currentText() == "http://10.0.0.9/v1 (from the run)"
    picker.reload()  # e.g. the settings changed: the run's own URL stays while chosen
    assert picker.endpoint_combo.currentText() == "http://10.0.0.9/v1 (from the run)"

    demo = RunSpec(provider="openai", base_url=DEMO_URL_PLACEHOLDER, model=DEMO_MODEL,
                   benchmark="speed", tags=(SIMULATED_TAG,))
    picker.select_endpoint_for(demo)
    assert picker.endpoint_combo.currentText() == DEMO_ENDPOINT_NAME


def test_the_quality_picker_brings_the_demo_back_when_a_spec_asks(
    qtbot: QtBot, ctx: AppContext
) -> None:
    picker = _picker(qtbot, ctx)
    assert DEMO_ENDPOINT_NAME not in _texts(picker)
    spec = RunSpec(provider="openai", base_url=DEMO_URL_PLACEHOLDER, model=DEMO_MODEL,
                   benchmark="gsm8k", tags=(SIMULATED_TAG,))
    picker.select_endpoint_for(spec)
    assert picker.endpoint_combo.currentText() == DEMO_ENDPOINT_NAME
    picker.select_endpoint_for(spec, "lab vllm")  # the memo names a saved endpoint
    assert picker.endpoint_combo.currentText().startswith("lab vllm")


def test_discover_lists_the_endpoints_models(
    qtbot: QtBot, ctx: AppContext, make_loopback_server
) -> None:
    server = make_loopback_server()
    ctx.settings.endpoints.append(Endpoint("Loopback", "openai", server.base_url))
    picker = _picker(qtbot, ctx, SPEED_OPTIONS, saved=False)
    assert picker.select_endpoint("Loopback")
    qtbot.mouseClick(picker.discover, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: picker.model_combo.count() == 2, timeout=10_000)
    qtbot.waitUntil(lambda: picker.discover.isEnabled(), timeout=10_000)
    models = {picker.model_combo.itemText(i) for i in range(2)}
    assert models == {"simulated-echo", "simulated-gsm8k"}
    assert picker.model_status.text() == "2 models found."

    ctx.settings.endpoints.append(Endpoint("Nowhere", "openai", "http://127.0.0.1:9/v1"))
    picker.reload()
    picker.select_endpoint("Nowhere")
    picker.discover_models()
    qtbot.waitUntil(lambda: "Could not list models" in picker.model_status.text(),
                    timeout=15_000)


def test_setup_pages_in_the_main_window(qtbot: QtBot, ctx: AppContext, shots_dir: Path) -> None:
    """Screenshots of both pages that show a picker, with a saved endpoint and the demo."""
    ctx.settings.endpoints.append(Endpoint("lab vllm", "openai", URL))
    apply_theme(QApplication.instance(), ctx.settings.theme)  # type: ignore[arg-type]
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.show_page("setup")
    setup = window.pages["setup"]
    setup.model_combo.setEditText("llama-3-8b")
    qtbot.waitUntil(lambda: setup.last_estimate is not None, timeout=10_000)
    assert setup.endpoint_combo.currentText() == f"lab vllm  ({URL})"
    window.grab().save(str(shots_dir / "setup_after_refactor_quality.png"))

    setup.set_kind("speed")
    panel = setup.panel("speed")
    assert panel.select_endpoint(DEMO_ENDPOINT_NAME)
    assert panel.model_combo.currentText() == DEMO_MODEL
    assert panel.model_status.isVisible()
    window.grab().save(str(shots_dir / "setup_after_refactor_speed.png"))
