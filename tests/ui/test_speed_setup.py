"""The speed page of Run setup: specs equal to the CLI's, validation, estimate, demo start."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from openbench_desktop.cli import build_parser
from openbench_desktop.cli_speed import speed_spec_from_args
from openbench_desktop.core.config.settings import Endpoint
from openbench_desktop.core.domain import RunFinished, RunSpec
from openbench_desktop.core.errors import OpenBenchError
from openbench_desktop.ui.context import AppContext
from openbench_desktop.ui.theme import apply_theme
from openbench_desktop.ui.views.speed_setup import DEMO_URL_PLACEHOLDER, SpeedSetupPanel

URL = "http://10.0.0.5:8000/v1"


def _panel(qtbot: QtBot, ctx: AppContext, *, endpoint: bool = True) -> SpeedSetupPanel:
    if endpoint:
        ctx.settings.endpoints.append(Endpoint("lab vllm", "openai", URL))
    apply_theme(QApplication.instance(), ctx.settings.theme)  # type: ignore[arg-type]
    panel = SpeedSetupPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _cli_spec(flags: str) -> RunSpec:
    argv = ["run", "--benchmark", "speed", "--base-url", URL, *shlex.split(flags)]
    return speed_spec_from_args(build_parser().parse_args(argv))


def _type(qtbot: QtBot, widget: Any, text: str) -> None:
    widget.clear()
    qtbot.keyClicks(widget, text)


def _set(spin: Any, value: float) -> None:
    spin.setValue(value)


@pytest.mark.parametrize(
    ("flags", "form"),
    [
        (
            "--model llama --profile rate --rate 5 --requests 50 --warmup 2 --input-tokens 128 "
            "--output-tokens 32 --max-concurrency 16 --definitions vllm --slo-ttft-ms 500 "
            "--seed 7 --timeout 60 --no-ignore-eos --client httpx",
            {
                "profile": "rate", "rate": 5, "requests": 50, "warmup": 2, "input": 128,
                "output": 32, "max_c": 16, "definitions": "vllm", "slo_ttft_ms": 500,
                "seed": 7, "timeout": 60, "ignore_eos": False, "client": "httpx",
            },
        ),
        (
            "--model llama --profile sweep --steps 5 --duration 20 --concurrency 8 "
            "--slo-tpot-ms 40 --slo-e2e-ms 3000",
            {
                "profile": "sweep", "steps": 5, "requests": None, "duration": 20,
                "slo_tpot_ms": 40, "slo_e2e_ms": 3000,
            },
        ),
        ("--model llama --profile concurrency --concurrency 32 --requests 200",
         {"profile": "concurrency", "concurrency": 32, "requests": 200}),
    ],
)
def test_the_form_builds_the_spec_the_cli_builds(
    qtbot: QtBot, ctx: AppContext, flags: str, form: dict[str, Any]
) -> None:
    panel = _panel(qtbot, ctx)
    assert panel.select_endpoint("lab vllm")
    _type(qtbot, panel.model_combo.lineEdit(), "llama")
    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData(form["profile"]))
    if "rate" in form:
        _set(panel.rate_spin, form["rate"])
    for key, spin in (
        ("concurrency", panel.concurrency_spin), ("steps", panel.steps_spin),
        ("warmup", panel.warmup_spin), ("input", panel.input_tokens_spin),
        ("output", panel.output_tokens_spin), ("max_c", panel.max_concurrency_spin),
        ("seed", panel.seed_spin), ("timeout", panel.timeout_spin),
    ):
        if key in form:
            _set(spin, form[key])
    if "requests" in form:
        panel.requests_check.setChecked(form["requests"] is not None)
        if form["requests"] is not None:
            _set(panel.requests_spin, form["requests"])
    if "duration" in form:
        panel.duration_check.setChecked(True)
        _set(panel.duration_spin, form["duration"])
    for key in ("slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms"):
        if key in form:
            _set(panel.slo_spins[key], form[key])
    if "definitions" in form:
        panel.definitions_combo.setCurrentIndex(
            panel.definitions_combo.findData(form["definitions"])
        )
    if "client" in form:
        panel.client_combo.setCurrentIndex(panel.client_combo.findData(form["client"]))
    if form.get("ignore_eos") is False:
        box = panel.ignore_eos_check  # click the tick box itself, not the row's middle
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))

    built = panel.build_spec()
    expected = _cli_spec(flags)
    assert isinstance(built, RunSpec), built
    assert built == expected
    # And back: a duplicated run fills the form that builds it again.
    other = _panel(qtbot, ctx, endpoint=False)
    other.fill_from_spec(expected)
    assert other.build_spec() == expected


def test_only_the_profiles_inputs_are_enabled(qtbot: QtBot, ctx: AppContext) -> None:
    panel = _panel(qtbot, ctx)
    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData("concurrency"))
    assert panel.concurrency_spin.isEnabled() and not panel.rate_spin.isEnabled()
    assert not panel.steps_spin.isEnabled() and not panel.max_concurrency_spin.isEnabled()
    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData("poisson"))
    assert panel.rate_spin.isEnabled() and panel.max_concurrency_spin.isEnabled()
    assert not panel.concurrency_spin.isEnabled()
    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData("sweep"))
    assert panel.steps_spin.isEnabled() and not panel.rate_spin.isEnabled()
    qtbot.mouseClick(panel.file_radio, Qt.MouseButton.LeftButton)
    assert panel.dataset_path.isEnabled() and not panel.input_tokens_spin.isEnabled()


def test_bad_inputs_say_what_to_fix(qtbot: QtBot, ctx: AppContext) -> None:
    ctx.demo = None  # no built-in demo either: nothing to run against
    panel = _panel(qtbot, ctx, endpoint=False)
    assert panel.build_spec() == "Choose an endpoint (add one in Settings, or use the demo)."

    ctx.settings.endpoints.append(Endpoint("lab vllm", "openai", URL))
    ctx.save_settings()  # the panel follows the settings
    assert panel.current_endpoint() is not None
    assert "model" in str(panel.build_spec())
    _type(qtbot, panel.model_combo.lineEdit(), "llama")

    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData("rate"))
    panel.rate_spin.setValue(0)
    message = panel.build_spec()
    assert message == "Set a request rate above 0 req/s for the rate profile."
    assert message in panel.estimate.text()  # said where the user looks, too
    panel.rate_spin.setValue(4)
    panel.output_tokens_spin.setValue(0)
    assert "Output tokens must be at least 1" in str(panel.build_spec())
    panel.output_tokens_spin.setValue(16)
    qtbot.mouseClick(panel.file_radio, Qt.MouseButton.LeftButton)
    assert panel.build_spec() == "Choose a prompt file, or use synthetic prompts."
    panel.synthetic_radio.setChecked(True)
    assert isinstance(panel.build_spec(), RunSpec)


def test_the_estimate_counts_requests_time_and_cost(qtbot: QtBot, ctx: AppContext) -> None:
    panel = _panel(qtbot, ctx)
    panel.select_endpoint("lab vllm")
    _type(qtbot, panel.model_combo.lineEdit(), "gpt-4o")  # a model with a default price
    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData("concurrency"))
    est = panel.last_estimate
    assert est is not None and est.n_requests == 100 and est.duration_s is None
    assert "unknown until the first run" in panel.estimate.text()
    # 100 x 256 input tokens at $2.50/M + 100 x 64 output tokens at $10/M
    assert est.cost_usd == pytest.approx(0.128)
    assert "$0.1280" in panel.estimate.text()

    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData("rate"))
    panel.rate_spin.setValue(10)
    assert panel.last_estimate is not None and panel.last_estimate.duration_s == 10.0
    assert "10 s" in panel.estimate.text()
    panel.profile_combo.setCurrentIndex(panel.profile_combo.findData("sweep"))
    panel.steps_spin.setValue(3)
    assert panel.last_estimate is not None and panel.last_estimate.n_requests == 300


def test_prepare_starts_the_demo_and_the_run_goes(
    qtbot: QtBot, ctx: AppContext, tmp_path: Path, shots_dir: Path
) -> None:
    panel = _panel(qtbot, ctx, endpoint=False)
    demo = panel.current_endpoint()
    assert demo is not None and demo.demo
    assert panel.model_combo.currentText() == "simulated-gsm8k"
    panel.requests_spin.setValue(6)
    panel.input_tokens_spin.setValue(16)
    panel.output_tokens_spin.setValue(8)
    panel.concurrency_spin.setValue(2)
    panel.name_edit.setText("Load test on the demo")
    panel.grab().save(str(shots_dir / "speed_setup.png"))
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec) and spec.base_url == DEMO_URL_PLACEHOLDER
    assert "simulated" in spec.tags

    answers: dict[int, tuple[object, object]] = {}
    ctx.db.answered.connect(lambda t, r, e: answers.__setitem__(t, (r, e)))
    ticket = ctx.db.submit(lambda: panel.prepare(spec))  # off the GUI thread, as the lead does
    qtbot.waitUntil(lambda: ticket in answers, timeout=10_000)
    ready, error = answers[ticket]
    assert error is None and isinstance(ready, RunSpec)
    assert ready.base_url != DEMO_URL_PLACEHOLDER and ready.base_url.startswith("http://127.0.0.1")

    ended: list[object] = []
    ctx.controller.job_ended.connect(lambda _job, event: ended.append(event))
    ctx.controller.start(ready)
    qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    assert isinstance(ended[0], RunFinished) and ended[0].summary.n_ok == 6

    bad = ctx.db.submit(
        lambda: panel.prepare(
            speed_spec_like(ready, dataset_path=str(tmp_path / "missing.jsonl"))
        )
    )
    qtbot.waitUntil(lambda: bad in answers, timeout=10_000)
    assert answers[bad][0] is None and "missing.jsonl" in str(answers[bad][1])


def speed_spec_like(spec: RunSpec, *, dataset_path: str) -> RunSpec:
    import dataclasses

    from openbench_desktop.core.domain import DatasetRef

    return dataclasses.replace(spec, dataset=DatasetRef(path=dataset_path))


def test_prepare_raises_a_user_facing_error(ctx: AppContext, qtbot: QtBot) -> None:
    panel = _panel(qtbot, ctx)
    panel.select_endpoint("lab vllm")
    _type(qtbot, panel.model_combo.lineEdit(), "llama")
    spec = panel.build_spec()
    assert isinstance(spec, RunSpec)
    with pytest.raises(OpenBenchError, match="Unknown profile"):
        import dataclasses
        from types import MappingProxyType

        panel.prepare(
            dataclasses.replace(
                spec, options=MappingProxyType({**spec.options, "profile": "bogus"})
            )
        )
