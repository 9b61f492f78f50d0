"""The Run detail view: figures, manifest, per-sample table and the sample pane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from openbench_desktop.core.domain import DatasetRef, RunFinished, RunSpec, RunStatus
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from openbench_desktop.ui.models.samples_model import SampleFilter, SamplesModel
from openbench_desktop.ui.views.history_view import HistoryView
from openbench_desktop.ui.views.run_detail_view import RunDetailView
from tests.ui.run_data import MODELS, Question, add_run, load_gsm8k, make_spec

S = SamplesModel


@pytest.fixture(scope="module")
def questions(gsm8k_path: Path) -> list[Question]:
    return load_gsm8k(gsm8k_path)


@pytest.fixture
def detail(ctx, qtbot) -> RunDetailView:
    view = RunDetailView(ctx)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    return view


def open_run(ctx, qtbot, view: RunDetailView, run_id: str) -> None:
    ctx.signals.open_run.emit(run_id)
    qtbot.waitUntil(
        lambda: (
            view.record is not None
            and view.record.run_id == run_id
            and view.samples_model.loaded_once
            and not view.samples_model.is_loading
        ),
        timeout=5000,
    )


def click_sample(qtbot, view: RunDetailView, row: int) -> None:
    rect = view.samples_table.visualRect(view.samples_model.index(row, S.COL_PROMPT))
    qtbot.mouseClick(view.samples_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


@pytest.fixture
def run_id(ctx, questions) -> str:
    """20 samples: every 4th wrong (3, 7, 11, 15, 19), 6 and 13 failed: 13 correct of 18."""
    spec = make_spec(MODELS[1], name="qwen baseline", tags=("nightly", "q4"))
    return add_run(ctx.store, questions, spec=spec, n=20, wrong_every=4, failed=(6, 13))


def test_shows_a_hint_until_a_run_is_opened(detail, ctx, qtbot) -> None:
    assert detail.stack.currentWidget() is detail.empty_page
    assert detail.selected_run_id() is None
    with qtbot.waitSignal(ctx.signals.navigate, timeout=1000) as blocker:
        qtbot.mouseClick(
            detail.findChild(type(detail.copy_button), "detail_to_history"),
            Qt.MouseButton.LeftButton,
        )
    assert blocker.args == ["history"]


def test_opening_a_run_shows_its_figures(detail, ctx, qtbot, run_id) -> None:
    open_run(ctx, qtbot, detail, run_id)
    summary = ctx.store.get_run(run_id).summary
    assert summary.n_correct == 13 and summary.n_ok == 18
    assert detail.run_id == run_id and detail.selected_run_id() == run_id
    assert detail.title_label.text() == "qwen baseline"
    assert detail.status_label.text() == "completed"
    assert detail.run_id_label.text() == run_id
    assert "tags: nightly, q4" in detail.subtitle_label.text()
    low, high = summary.accuracy_ci
    assert detail.accuracy_tile.value.text() == "72.2%"
    assert detail.accuracy_tile.detail.text() == f"95% CI {low * 100:.1f}–{high * 100:.1f}%"
    assert "wilson" in detail.accuracy_tile.toolTip()
    assert detail.samples_tile.value.text() == "20 / 20"
    assert detail.samples_tile.detail.text() == "13 correct, 2 failed"
    p50 = summary.ttft_ms["p50"]
    assert detail.latency_tile.value.text().startswith(f"{p50:,.0f} ms")
    assert detail.throughput_tile.value.text() == f"{summary.output_tokens_per_s:,.1f}"

    # Metrics tab: percentiles of the three latencies, tokens, errors by category.
    table = detail.latency_table
    assert [table.horizontalHeaderItem(c).text() for c in range(6)] == [
        "Metric",
        "P50",
        "P90",
        "P95",
        "P99",
        "Mean",
    ]
    assert table.item(0, 0).text() == "Time to first token"
    assert table.item(0, 4).text() == f"{summary.ttft_ms['p99']:,.0f} ms"
    assert table.item(1, 1).text().endswith("ms")  # ITL
    assert detail.figure_labels["output_tokens"].text() == f"{summary.output_tokens:,}"
    assert detail.figure_labels["correct"].text() == "13 / 18 / 2"
    assert detail.errors_table.rowCount() == 1
    assert detail.errors_table.item(0, 0).text() == "timeout"
    assert detail.errors_table.item(0, 1).text() == "2"


def test_the_manifest_tab_shows_versions_hash_and_config(detail, ctx, qtbot, run_id) -> None:
    open_run(ctx, qtbot, detail, run_id)
    record = ctx.store.get_run(run_id)
    labels = detail.manifest_labels
    assert labels["app_version"].text() == record.manifest.app_version
    assert labels["dataset_sha256"].text() == record.manifest.dataset_sha256
    assert labels["n_dataset_samples"].text() == "1,319"
    packages = {
        detail.packages_table.item(r, 0).text(): detail.packages_table.item(r, 1).text()
        for r in range(detail.packages_table.rowCount())
    }
    assert packages == dict(record.manifest.package_versions)
    config = json.loads(detail.config_edit.toPlainText())
    assert RunSpec.from_dict(config) == record.spec
    assert config["api_key_name"] == "local-vllm"


def test_sample_rows_and_the_detail_pane(detail, ctx, qtbot, run_id, questions) -> None:
    open_run(ctx, qtbot, detail, run_id)
    model = detail.samples_model
    assert model.rowCount() == 20
    assert detail.samples_count.text() == "20 of 20 stored samples"
    statuses = [model.index(r, S.COL_STATUS).data() for r in range(20)]
    assert statuses.count("correct") == 13
    assert [i for i, s in enumerate(statuses) if s == "wrong"] == [3, 7, 11, 15, 19]
    assert statuses[3] == "wrong" and statuses[6] == "failed" and statuses[0] == "correct"
    assert model.index(0, S.COL_EXPECTED).data() == questions[0].answer
    assert model.index(3, S.COL_EXTRACTED).data() != questions[3].answer
    assert model.index(6, S.COL_ERROR).data().startswith("timeout: Read timed out")
    long_prompt = questions[0].prompt
    shown = model.index(0, S.COL_PROMPT).data()
    assert len(shown) <= 160 and long_prompt.startswith(shown.rstrip("…"))

    click_sample(qtbot, detail, 0)
    response = ctx.store.get_results(run_id, offset=0, limit=1)[0].output
    assert "\n" in response  # the table elides it to one line, the pane shows all of it
    assert detail.response_edit.toPlainText() == response
    assert detail.prompt_edit.toPlainText() == long_prompt
    assert "Sample 0" in detail.sample_header.text()
    assert not detail.error_box.isVisible()

    click_sample(qtbot, detail, 6)
    assert detail.error_box.isVisible()
    assert detail.error_edit.toPlainText() == (
        "timeout: Read timed out after 120.0 s (no chunk received)"
    )
    assert "3 attempts" in detail.sample_header.text()


def test_wrong_only_and_failed_only(detail, ctx, qtbot, run_id) -> None:
    open_run(ctx, qtbot, detail, run_id)
    combo = detail.sample_filter_combo

    def show(value: SampleFilter) -> list[str]:
        combo.setCurrentIndex(combo.findData(value))
        qtbot.waitUntil(
            lambda: detail.samples_model.loaded_once and not detail.samples_model.is_loading,
            timeout=5000,
        )
        m = detail.samples_model
        return [m.index(r, S.COL_STATUS).data() for r in range(m.rowCount())]

    assert show(SampleFilter.FAILED) == ["failed", "failed"]
    assert detail.samples_count.text() == "2 matching samples"
    wrong = show(SampleFilter.WRONG)
    assert wrong == ["wrong"] * 5
    assert len(show(SampleFilter.NOT_CORRECT)) == 7
    assert len(show(SampleFilter.ALL)) == 20


def test_copy_run_id_puts_it_on_the_clipboard(detail, ctx, qtbot, run_id) -> None:
    open_run(ctx, qtbot, detail, run_id)
    QApplication.clipboard().clear()
    qtbot.mouseClick(detail.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == run_id


def test_double_click_in_history_opens_the_detail(ctx, qtbot, questions, run_id) -> None:
    other = add_run(ctx.store, questions, spec=make_spec(MODELS[0], name="other"), n=12)
    history = HistoryView(ctx)
    detail = RunDetailView(ctx)
    for widget in (history, detail):
        qtbot.addWidget(widget)
        widget.resize(1280, 800)
        widget.show()
    qtbot.waitUntil(lambda: history.model.rowCount() == 2, timeout=5000)
    row = history.model.row_of(run_id)
    pos: QPoint = history.table.visualRect(history.model.index(row, 1)).center()
    qtbot.mouseClick(history.table.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(history.table.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(
        lambda: detail.record is not None and detail.samples_model.rowCount() == 20, timeout=5000
    )
    assert detail.run_id == run_id
    assert detail.accuracy_tile.value.text() == "72.2%"

    ctx.signals.open_run.emit(other)
    qtbot.waitUntil(
        lambda: (
            detail.record is not None
            and detail.record.run_id == other
            and detail.samples_model.rowCount() == 12
        ),
        timeout=5000,
    )
    assert detail.title_label.text() == "other"


def test_a_deleted_run_says_so(detail, ctx, qtbot, run_id) -> None:
    open_run(ctx, qtbot, detail, run_id)
    ctx.store.delete_run(run_id)
    ctx.signals.runs_changed.emit()
    qtbot.waitUntil(lambda: detail.stack.currentWidget() is detail.empty_page, timeout=5000)
    assert detail.empty_label.text() == "This run was deleted."
    assert detail.run_id is None


def test_a_run_without_summary_gets_one_computed(detail, ctx, qtbot, questions) -> None:
    """An interrupted run has no stored summary: the figures come from its samples."""
    run_id = add_run(ctx.store, questions, n=8, wrong_every=2, status=RunStatus.RUNNING)
    ctx.store.set_status(run_id, RunStatus.INTERRUPTED, "The process stopped.")
    open_run(ctx, qtbot, detail, run_id)
    assert detail.status_label.text() == "interrupted"
    assert detail.accuracy_tile.value.text() == "50.0%"
    assert detail.accuracy_tile.detail.text().endswith("so far")
    assert detail.message_label.text() == "The process stopped."


def test_many_samples_are_paged(detail, ctx, qtbot, questions) -> None:
    run_id = add_run(ctx.store, questions, n=650, wrong_every=3, failed=(640,))
    open_run(ctx, qtbot, detail, run_id)
    model = detail.samples_model
    assert model.rowCount() == 200 and model.canFetchMore()
    assert "scroll for more" in detail.samples_count.text()
    detail.samples_table.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() >= 400, timeout=5000)
    assert [model.result(r).index for r in range(400)] == list(range(400))
    # The one failure at index 640 is found without scrolling through 640 rows.
    detail.sample_filter_combo.setCurrentIndex(
        detail.sample_filter_combo.findData(SampleFilter.FAILED)
    )
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.exhausted, timeout=5000)
    assert model.result(0).index == 640


def test_a_real_run_over_the_loopback_server(
    detail, ctx, qtbot, make_loopback_server, gsm8k_path: Path
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.01, itl_s=0.001, tokens_per_chunk=3),
        responder=gsm8k_responder(gsm8k_path, wrong_every=5),
    )
    spec = RunSpec(
        provider="openai",
        base_url=server.base_url,
        model="simulated-gsm8k",
        benchmark="gsm8k",
        dataset=DatasetRef(path=str(gsm8k_path)),
        limit=15,
        concurrency=4,
        name="loopback check",
    )
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000) as blocker:
        ctx.controller.start(spec)
    event = blocker.args[1]
    assert isinstance(event, RunFinished)
    summary = event.summary
    open_run(ctx, qtbot, detail, summary.run_id)
    assert detail.samples_model.rowCount() == 15
    assert detail.accuracy_tile.value.text() == f"{summary.accuracy * 100:.1f}%"
    assert summary.accuracy == pytest.approx(12 / 15)
    statuses = [detail.samples_model.index(r, S.COL_STATUS).data() for r in range(15)]
    assert statuses.count("wrong") == 3
    assert detail.manifest_labels["dataset_sha256"].text() == detail.record.manifest.dataset_sha256
    assert len(detail.record.manifest.dataset_sha256 or "") == 64


def test_fits_beside_the_navigation(detail) -> None:
    """The main window is 1280 px wide with a 180 px navigation list."""
    assert detail.minimumSizeHint().width() <= 1100


def test_screenshot(detail, ctx, qtbot, questions, shots_dir: Path) -> None:
    spec = make_spec(MODELS[0], name="llama 8B · GSM8K nightly", tags=("nightly",), limit=60)
    run_id = add_run(ctx.store, questions, spec=spec, n=60, wrong_every=5, failed=(7, 31))
    open_run(ctx, qtbot, detail, run_id)
    click_sample(qtbot, detail, 4)
    detail.grab().save(str(shots_dir / "run_detail.png"))
    detail.tabs.setCurrentIndex(1)
    detail.grab().save(str(shots_dir / "run_detail_metrics.png"))
    detail.tabs.setCurrentIndex(2)
    detail.grab().save(str(shots_dir / "run_detail_manifest.png"))
    assert (shots_dir / "run_detail.png").stat().st_size > 10_000
