"""Run setup: fill the form like a user, start a real run against the loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit

from openbench_desktop.core.benchmarks.gsm8k import DEMO_PATH
from openbench_desktop.core.config.settings import Endpoint, load_settings
from openbench_desktop.core.demo import DEMO_ENDPOINT_NAME, DEMO_MODEL, demo_spec
from openbench_desktop.core.domain import (
    DatasetRef,
    GenerationParams,
    RunFinished,
    RunSpec,
    RunStatus,
)
from openbench_desktop.core.loopback import gsm8k_responder
from openbench_desktop.ui.views.run_setup_view import RunSetupView


class _Setup(RunSetupView):
    """The real view with its dialogs answered by the test."""

    template_name: str | None = None

    def _ask_template_name(self, suggestion: str) -> str | None:
        return self.template_name

    def _confirm(self, title: str, text: str) -> bool:
        return True


def _make(qtbot, ctx) -> _Setup:
    view = _Setup(ctx)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    return view


@pytest.fixture
def gsm8k_server(make_loopback_server):
    return make_loopback_server(responder=gsm8k_responder(DEMO_PATH))


def _use_endpoint(ctx, name: str, url: str, key_name: str | None = None) -> None:
    ctx.settings.endpoints = [*ctx.settings.endpoints, Endpoint(name, "openai", url, key_name)]
    ctx.save_settings()


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _type(qtbot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    edit.del_()
    qtbot.keyClicks(edit, text)


def _type_number(qtbot, spin: QAbstractSpinBox, value: int) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), str(value))
    spin.interpretText()


def _wait_checked(qtbot, view: RunSetupView, needle: str = "✓") -> None:
    qtbot.waitUntil(lambda: needle in view.dataset_status.text(), timeout=5000)


# -- the main path ---------------------------------------------------------------------------


def test_discover_models_and_run_gsm8k_to_the_end(qtbot, ctx, gsm8k_server) -> None:
    _use_endpoint(ctx, "Loopback", gsm8k_server.base_url)
    view = _make(qtbot, ctx)
    navigated: list[str] = []
    ctx.signals.navigate.connect(navigated.append)
    assert view.endpoint_combo.currentText().startswith("Loopback")

    _click(qtbot, view.discover_models)
    qtbot.waitUntil(lambda: view.model_combo.count() == 2, timeout=10_000)
    models = [view.model_combo.itemText(i) for i in range(view.model_combo.count())]
    assert models == ["simulated-echo", "simulated-gsm8k"]
    assert "2 models found" in view.model_status.text()
    view.model_combo.setCurrentIndex(models.index("simulated-gsm8k"))

    view.benchmark_combo.setCurrentIndex(view.benchmark_combo.findData("gsm8k"))
    _click(qtbot, view.dataset_builtin)
    _type_number(qtbot, view.limit_spin, 5)
    _wait_checked(qtbot, view)
    assert "20 samples" in view.dataset_status.text()
    assert "first 5" in view.dataset_status.text()
    assert "<b>5</b> requests" in view.estimate.text()

    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000) as ended:
        _click(qtbot, view.start_button)
    job_id, event = ended.args
    assert isinstance(event, RunFinished), event
    assert navigated == ["live"]
    assert view._my_jobs == {job_id}

    runs = ctx.store.list_runs()
    assert len(runs) == 1
    run = runs[0]
    assert run.status is RunStatus.COMPLETED
    assert run.model == "simulated-gsm8k"
    assert run.spec.limit == 5 and run.spec.dataset == DatasetRef()
    assert len(ctx.store.get_results(run.run_id)) == 5
    assert run.accuracy == 1.0

    # The choices are remembered and a new form opens with them.
    saved = load_settings(ctx.paths.settings_file).last_run
    assert saved["endpoint"] == "Loopback" and saved["spec"]["model"] == "simulated-gsm8k"
    again = _make(qtbot, ctx)
    assert again.model_combo.currentText() == "simulated-gsm8k"
    assert again.limit_spin.value() == 5
    assert again.dataset_builtin.isChecked()
    assert again.endpoint_combo.currentText().startswith("Loopback")


def test_malformed_dataset_names_file_and_line_and_does_not_start(
    qtbot, ctx, gsm8k_server, tmp_path: Path
) -> None:
    _use_endpoint(ctx, "Loopback", gsm8k_server.base_url)
    good = DEMO_PATH.read_text(encoding="utf-8").splitlines()[0]
    bad = tmp_path / "broken.jsonl"
    bad.write_text(good + "\n" + '{"question": "unterminated\n', encoding="utf-8")
    view = _make(qtbot, ctx)
    view.model_combo.setEditText("simulated-gsm8k")
    jobs: list[object] = []
    ctx.controller.jobs_changed.connect(lambda: jobs.append(1))

    view.use_dataset_file(str(bad))
    assert view.dataset_file.isChecked()
    _wait_checked(qtbot, view, "✗")
    message = view.dataset_status.text()
    assert "broken.jsonl" in message and "line 2" in message, message
    assert "fix the dataset" in view.estimate.text()

    _click(qtbot, view.start_button)
    qtbot.waitUntil(lambda: "Not started" in view.start_status.text(), timeout=5000)
    assert "broken.jsonl" in view.start_status.text()
    assert "line 2" in view.start_status.text()
    assert jobs == [] and ctx.controller.active_jobs() == []
    assert ctx.store.count_runs() == 0


def test_browse_uses_the_chosen_file(qtbot, ctx, tmp_path: Path) -> None:
    data = tmp_path / "mine.jsonl"
    data.write_text(
        "\n".join(json.dumps({"prompt": f"Say {i}", "expected": str(i)}) for i in range(3)),
        encoding="utf-8",
    )
    view = _make(qtbot, ctx)
    view._choose_file = lambda: str(data)  # type: ignore[method-assign]
    view.benchmark_combo.setCurrentIndex(view.benchmark_combo.findData("custom"))
    assert not view.dataset_builtin.isEnabled()  # custom has no built-in data
    assert view.scorer_combo.isVisible()
    _click(qtbot, view.dataset_browse)
    assert view.dataset_path.text() == str(data)
    _wait_checked(qtbot, view)
    assert "3 samples" in view.dataset_status.text()


def test_regex_scorer_needs_a_pattern(qtbot, ctx, tmp_path: Path) -> None:
    data = tmp_path / "mine.jsonl"
    data.write_text(json.dumps({"prompt": "p", "expected": "1"}), encoding="utf-8")
    _use_endpoint(ctx, "E", "http://127.0.0.1:9/v1")
    view = _make(qtbot, ctx)
    view.model_combo.setEditText("m")
    view.benchmark_combo.setCurrentIndex(view.benchmark_combo.findData("custom"))
    view.use_dataset_file(str(data))
    view.scorer_combo.setCurrentIndex(view.scorer_combo.findData("regex"))
    assert view.scorer_pattern.isEnabled()
    assert view.build_spec() == "The regex scorer needs a pattern."
    _click(qtbot, view.start_button)
    assert "pattern" in view.start_status.text()
    _type(qtbot, view.scorer_pattern, r"Answer: (\d+)")
    spec = view.build_spec()
    assert isinstance(spec, RunSpec)
    assert (spec.scorer, spec.scorer_arg) == ("regex", r"Answer: (\d+)")


# -- estimate --------------------------------------------------------------------------------


def test_estimate_follows_max_tokens_and_price(qtbot, ctx) -> None:
    _use_endpoint(ctx, "OpenAI", "https://api.openai.com/v1")
    view = _make(qtbot, ctx)
    view.model_combo.setEditText("gpt-4o-mini")
    _click(qtbot, view.dataset_builtin)
    _wait_checked(qtbot, view)
    _type_number(qtbot, view.max_tokens_spin, 64)
    small_text, small = view.estimate.text(), view.last_estimate
    assert "Cost: at most" in small_text and "gpt-4o-mini" in small_text
    _type_number(qtbot, view.max_tokens_spin, 2048)
    large_text, large = view.estimate.text(), view.last_estimate
    assert large_text != small_text
    assert small is not None and large is not None
    assert large.output_tokens == 20 * 2048 and small.output_tokens == 20 * 64
    assert large.cost_usd > small.cost_usd  # type: ignore[operator]
    assert large.duration_s > small.duration_s

    view.model_combo.setEditText("my-own-model")
    assert "unknown price" in view.estimate.text()
    assert "add it in Settings" in view.estimate.text()
    navigated: list[str] = []
    ctx.signals.navigate.connect(navigated.append)
    view.estimate.linkActivated.emit("settings")
    assert navigated == ["settings"]


def test_estimate_uses_the_latency_of_the_last_run(qtbot, ctx, gsm8k_server) -> None:
    _use_endpoint(ctx, "Loopback", gsm8k_server.base_url)
    view = _make(qtbot, ctx)
    view.model_combo.setEditText("simulated-gsm8k")
    _type_number(qtbot, view.limit_spin, 3)
    _wait_checked(qtbot, view)
    assert "tokens/s" in view.estimate.text()
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000):
        _click(qtbot, view.start_button)
    view._latency.clear()  # as when the form is opened again later
    view.model_combo.setEditText("simulated-gsm8k ")
    view.model_combo.setEditText("simulated-gsm8k")
    qtbot.waitUntil(lambda: "last run of this model" in view.estimate.text(), timeout=5000)


# -- templates, duplicate, demo --------------------------------------------------------------


def test_save_and_load_a_template(qtbot, ctx) -> None:
    _use_endpoint(ctx, "Local", "http://127.0.0.1:8000/v1")
    view = _make(qtbot, ctx)
    assert not view.template_combo.isEnabled()  # nothing saved yet
    view.model_combo.setEditText("llama-3-8b")
    _type_number(qtbot, view.limit_spin, 7)
    _type_number(qtbot, view.max_tokens_spin, 128)
    view.template_name = "quick check"
    _click(qtbot, view.template_save)
    stored = load_settings(ctx.paths.settings_file).templates["quick check"]
    assert stored["model"] == "llama-3-8b" and stored["limit"] == 7
    assert stored["params"]["max_tokens"] == 128
    assert RunSpec.from_dict(stored).base_url == "http://127.0.0.1:8000/v1"

    view.model_combo.setEditText("something-else")
    _type_number(qtbot, view.limit_spin, 2)
    view.template_combo.setCurrentIndex(0)
    view.template_combo.setCurrentIndex(view.template_combo.findData("quick check"))
    assert view.model_combo.currentText() == "llama-3-8b"
    assert view.limit_spin.value() == 7
    assert view.max_tokens_spin.value() == 128
    assert "Loaded the template" in view.start_status.text()

    _click(qtbot, view.template_delete)
    assert "quick check" not in load_settings(ctx.paths.settings_file).templates


def test_duplicate_run_fills_the_form(qtbot, ctx, tmp_path: Path) -> None:
    data = tmp_path / "qa.csv"
    data.write_text("prompt,expected\nTwo plus two?,4\n", encoding="utf-8")
    _use_endpoint(ctx, "Local", "http://127.0.0.1:8000/v1", "local-key")
    view = _make(qtbot, ctx)
    spec = RunSpec(
        provider="openai",
        base_url="http://127.0.0.1:8000/v1",
        model="qwen2.5-7b",
        benchmark="custom",
        dataset=DatasetRef(path=str(data), prompt_field="prompt"),
        params=GenerationParams(temperature=0.7, max_tokens=99, system_prompt="Be brief."),
        seed=42,
        limit=3,
        concurrency=2,
        scorer="regex",
        scorer_arg=r"(\d+)",
        api_key_name="local-key",
        name="retry of qwen",
        tags=("nightly",),
    )
    ctx.signals.duplicate_run.emit(spec)
    assert view.endpoint_combo.currentText().startswith("Local")
    assert view.model_combo.currentText() == "qwen2.5-7b"
    assert view.benchmark_combo.currentData() == "custom"
    assert view.dataset_file.isChecked() and view.dataset_path.text() == str(data)
    assert view.scorer_combo.currentData() == "regex"
    assert view.scorer_pattern.text() == r"(\d+)"
    assert view.limit_spin.value() == 3
    assert view.concurrency_spin.value() == 2
    assert view.temperature_spin.value() == pytest.approx(0.7)
    assert view.max_tokens_spin.value() == 99
    assert view.seed_spin.value() == 42
    assert view.run_name.text() == "retry of qwen"
    # Fields the form doesn't show (system prompt, tags, field names) are carried over.
    assert view.build_spec() == spec
    _wait_checked(qtbot, view)


def test_duplicate_of_an_unknown_endpoint_offers_its_url(qtbot, ctx) -> None:
    _use_endpoint(ctx, "Local", "http://127.0.0.1:8000/v1")
    view = _make(qtbot, ctx)
    spec = RunSpec(
        provider="openai", base_url="http://10.0.0.5:9000/v1", model="m", benchmark="gsm8k"
    )
    ctx.signals.duplicate_run.emit(spec)
    assert view.endpoint_combo.currentText() == "http://10.0.0.5:9000/v1 (from the run)"
    built = view.build_spec()
    assert isinstance(built, RunSpec) and built.base_url == "http://10.0.0.5:9000/v1"


def test_duplicate_of_a_demo_run_offers_the_demo_again(qtbot, ctx) -> None:
    _use_endpoint(ctx, "Local", "http://127.0.0.1:8000/v1")
    view = _make(qtbot, ctx)
    assert view.endpoint_combo.count() == 1  # endpoints exist: no demo entry by default
    ctx.signals.duplicate_run.emit(demo_spec("http://127.0.0.1:45678/v1"))
    assert view.endpoint_combo.currentText() == DEMO_ENDPOINT_NAME
    assert view.model_combo.currentText() == DEMO_MODEL
    assert not ctx.demo.running
    # Choosing a real endpoint forgets the simulated model's id.
    view.endpoint_combo.setCurrentIndex(0)
    assert view.endpoint_combo.currentText().startswith("Local")
    assert view.model_combo.currentText() == ""


def test_first_time_user_gets_the_demo_and_a_way_to_settings(qtbot, ctx) -> None:
    assert ctx.settings.endpoints == []
    view = _make(qtbot, ctx)
    assert view.endpoint_combo.currentText() == DEMO_ENDPOINT_NAME
    assert view.model_combo.currentText() == DEMO_MODEL
    assert "simulated" in view.model_status.text()
    assert not ctx.demo.running  # nothing started just by opening the form
    navigated: list[str] = []
    ctx.signals.navigate.connect(navigated.append)
    assert view.add_endpoint.isVisible()
    _click(qtbot, view.add_endpoint)
    assert navigated == ["settings"]

    _type_number(qtbot, view.limit_spin, 3)
    _wait_checked(qtbot, view)
    assert "Cost: <b>$0</b> (simulated model)" in view.estimate.text()
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000) as ended:
        _click(qtbot, view.start_button)
    assert isinstance(ended.args[1], RunFinished)
    run = ctx.store.list_runs()[0]
    assert run.status is RunStatus.COMPLETED and run.n_total == 3
    assert "simulated" in run.tags
    assert run.base_url == ctx.demo.ensure_started()


def test_rejected_job_message_is_shown(qtbot, ctx, gsm8k_server) -> None:
    _use_endpoint(ctx, "Keyed", gsm8k_server.base_url, key_name="missing-key")
    view = _make(qtbot, ctx)
    view.model_combo.setEditText("simulated-gsm8k")
    _type_number(qtbot, view.limit_spin, 2)
    _wait_checked(qtbot, view)
    navigated: list[str] = []
    ctx.signals.navigate.connect(navigated.append)
    with qtbot.waitSignal(ctx.controller.job_rejected, timeout=10_000):
        _click(qtbot, view.start_button)
    assert "did not start" in view.start_status.text()
    assert "missing-key" in view.start_status.text()
    assert navigated == ["live", "setup"]


def test_new_endpoints_appear_without_reopening(qtbot, ctx) -> None:
    view = _make(qtbot, ctx)
    assert view.model_combo.currentText() == DEMO_MODEL
    _use_endpoint(ctx, "Added later", "http://127.0.0.1:1234/v1")
    assert view.endpoint_combo.currentText().startswith("Added later")
    assert view.model_combo.currentText() == ""  # the demo's model id means nothing here
    assert view.endpoint_combo.count() == 1  # the demo is offered only without endpoints
    assert not view.add_endpoint.isVisible()


def test_screenshot(qtbot, ctx, shots_dir: Path) -> None:
    _use_endpoint(ctx, "OpenAI", "https://api.openai.com/v1", "openai-work")
    _use_endpoint(ctx, "Local vLLM", "http://127.0.0.1:8000/v1")
    view = _make(qtbot, ctx)
    view.model_combo.setEditText("gpt-4o-mini")
    _click(qtbot, view.dataset_builtin)
    _type_number(qtbot, view.limit_spin, 10)
    view.run_name.setText("Nightly GSM8K check")
    _wait_checked(qtbot, view)
    view.grab().save(str(shots_dir / "run_setup.png"))
    assert (shots_dir / "run_setup.png").stat().st_size > 0
