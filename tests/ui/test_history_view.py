"""The History view driven like a person would: clicks, typing, keys, over a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel, QToolButton

from openbench_desktop.core.domain import RunStatus
from openbench_desktop.core.errors import StorageError
from openbench_desktop.core.storage.tables import runs
from openbench_desktop.ui.models.history_model import (
    FIRST_PAGE_SIZE,
    PAGE_SIZE,
    HistoryModel,
    RunFilter,
)
from openbench_desktop.ui.views.history_view import HistoryView
from tests.ui.run_data import (
    MODELS,
    Question,
    add_run,
    bulk_insert_runs,
    load_gsm8k,
    make_spec,
)

C = HistoryModel


@pytest.fixture(scope="module")
def questions(gsm8k_path: Path) -> list[Question]:
    return load_gsm8k(gsm8k_path)


def open_view(ctx, qtbot) -> HistoryView:
    view = HistoryView(ctx)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitUntil(lambda: view.model.loaded_once and not view.model.is_loading, timeout=5000)
    return view


def cell(view: HistoryView, row: int, column: int) -> str:
    return view.model.index(row, column).data()


def column_texts(view: HistoryView, column: int) -> list[str]:
    return [cell(view, row, column) for row in range(view.model.rowCount())]


def row_point(view: HistoryView, row: int) -> QPoint:
    return view.table.visualRect(view.model.index(row, C.COL_NAME)).center()


def click_row(qtbot, view: HistoryView, row: int, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(
        view.table.viewport(), Qt.MouseButton.LeftButton, modifier, row_point(view, row)
    )


def click_header(qtbot, view: HistoryView, column: int) -> None:
    header = view.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


def wait_rows(qtbot, view: HistoryView, n: int) -> None:
    qtbot.waitUntil(lambda: view.model.rowCount() == n and not view.model.is_loading, timeout=5000)


@pytest.fixture
def three_runs(ctx, questions) -> dict[str, str]:
    """Three finished runs, oldest first: low, high and middle accuracy."""
    ids = {
        "llama": add_run(
            ctx.store, questions, spec=make_spec(MODELS[0], name="baseline"), wrong_every=2
        ),
        "qwen": add_run(
            ctx.store,
            questions,
            spec=make_spec(MODELS[1], name="qwen sweep", tags=("nightly",)),
            wrong_every=10,
            cost_usd=0.42,
        ),
        "mistral": add_run(
            ctx.store,
            questions,
            spec=make_spec(MODELS[2], benchmark="mmlu", name="mc check"),
            wrong_every=4,
            failed=(5, 6),
            status=RunStatus.CANCELLED,
        ),
    }
    return ids


def test_empty_history_says_so_and_leads_to_run_setup(ctx, qtbot) -> None:
    view = open_view(ctx, qtbot)
    assert view.stack.currentWidget() is view.empty_page
    assert view.empty_button.isVisible()
    title = view.empty_page.findChild(QLabel, "history_empty_title")
    assert title.text() == "No runs yet"
    assert not view.filter_bar.isVisible()
    with qtbot.waitSignal(ctx.signals.navigate, timeout=1000) as blocker:
        qtbot.mouseClick(view.empty_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["setup"]


def test_runs_are_listed_newest_first_with_their_figures(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    assert view.stack.currentWidget() is view.table
    assert view.model.rowCount() == 3
    assert view.count_label.text() == "3 runs"
    assert column_texts(view, C.COL_MODEL) == [MODELS[2], MODELS[1], MODELS[0]]
    mistral, qwen, llama = range(3)
    assert cell(view, mistral, C.COL_NAME) == f"mc check · {three_runs['mistral'][:8]}"
    assert cell(view, mistral, C.COL_STATUS) == "cancelled"
    assert cell(view, mistral, C.COL_SAMPLES) == "20/20"
    assert cell(view, mistral, C.COL_BENCHMARK) == "mmlu"
    # 20 samples, every 2nd wrong: 10/20 correct; the Wilson interval from the summary.
    record = ctx.store.get_run(three_runs["llama"])
    low, high = record.summary.accuracy_ci
    assert cell(view, llama, C.COL_ACCURACY) == f"50.0% ({low * 100:.1f}–{high * 100:.1f})"
    assert cell(view, qwen, C.COL_COST) == "$0.4200"
    assert cell(view, qwen, C.COL_TAGS) == "nightly"
    assert cell(view, llama, C.COL_DURATION).endswith("s")


def test_clicking_the_accuracy_header_sorts_in_the_database(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    click_header(qtbot, view, C.COL_ACCURACY)
    qtbot.waitUntil(lambda: view.model.sort_column == C.COL_ACCURACY, timeout=2000)
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)
    first = view.table.horizontalHeader().sortIndicatorOrder()
    accuracies = [view.model.record(r).accuracy for r in range(3)]
    assert accuracies == sorted(accuracies, reverse=first == Qt.SortOrder.DescendingOrder)
    assert len(set(accuracies)) == 3
    click_header(qtbot, view, C.COL_ACCURACY)
    qtbot.waitUntil(
        lambda: [view.model.record(r).accuracy for r in range(3)] == accuracies[::-1],
        timeout=5000,
    )
    assert view.table.horizontalHeader().sortIndicatorOrder() != first


def test_clicking_the_tags_header_keeps_the_current_sort(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    before = column_texts(view, C.COL_NAME)
    click_header(qtbot, view, C.COL_TAGS)
    qtbot.wait(50)
    assert view.table.horizontalHeader().sortIndicatorSection() == C.COL_CREATED
    assert column_texts(view, C.COL_NAME) == before


def test_typing_in_the_filter_narrows_the_list(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    qtbot.keyClicks(view.search_edit, "qwen")
    wait_rows(qtbot, view, 1)
    assert cell(view, 0, C.COL_MODEL) == MODELS[1]
    assert view.count_label.text() == "1 matching run"
    view.search_edit.clear()
    qtbot.keyClicks(view.search_edit, "no such model")
    qtbot.waitUntil(lambda: view.stack.currentWidget() is view.no_match_page, timeout=5000)
    qtbot.mouseClick(view.no_match_button, Qt.MouseButton.LeftButton)
    wait_rows(qtbot, view, 3)
    assert view.search_edit.text() == ""


def test_menus_filter_by_benchmark_model_status_and_tag(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    qtbot.waitUntil(lambda: view.model_combo.count() == 4, timeout=5000)  # "All" + 3 models
    assert view.tag_combo.findText("nightly") > 0

    view.benchmark_combo.setCurrentIndex(view.benchmark_combo.findText("mmlu"))
    wait_rows(qtbot, view, 1)
    assert cell(view, 0, C.COL_BENCHMARK) == "mmlu"
    view.clear_filters()
    wait_rows(qtbot, view, 3)

    view.model_combo.setCurrentIndex(view.model_combo.findText(MODELS[0]))
    wait_rows(qtbot, view, 1)
    assert cell(view, 0, C.COL_MODEL) == MODELS[0]
    view.clear_filters()
    wait_rows(qtbot, view, 3)

    view.status_combo.setCurrentIndex(view.status_combo.findText("cancelled"))
    wait_rows(qtbot, view, 1)
    assert cell(view, 0, C.COL_STATUS) == "cancelled"
    view.clear_filters()
    wait_rows(qtbot, view, 3)

    view.tag_combo.setCurrentIndex(view.tag_combo.findText("nightly"))
    wait_rows(qtbot, view, 1)
    assert cell(view, 0, C.COL_TAGS) == "nightly"


def test_date_range_filter(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    today = QDate.currentDate()
    view.since_edit.setDate(today.addDays(1))
    qtbot.waitUntil(lambda: view.stack.currentWidget() is view.no_match_page, timeout=5000)
    view.since_edit.setDate(today.addDays(-1))
    view.until_edit.setDate(today.addDays(1))
    wait_rows(qtbot, view, 3)
    view.until_edit.setDate(today.addDays(-1))
    qtbot.waitUntil(lambda: view.model.rowCount() == 0 and not view.model.is_loading, timeout=5000)


def test_delete_asks_first_then_removes_the_run(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    asked: list[str] = []
    answers = iter([False, True])

    def confirm(text: str) -> bool:
        asked.append(text)
        return next(answers)

    view._confirm = confirm  # type: ignore[method-assign]
    row = view.model.row_of(three_runs["qwen"])
    click_row(qtbot, view, row)
    button = view.findChild(QToolButton, "history_delete_button")
    assert button.isEnabled()

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # answered "No"
    qtbot.wait(50)
    assert "qwen sweep" in asked[0] and "20 stored samples" in asked[0]
    assert view.model.rowCount() == 3
    assert ctx.store.get_run(three_runs["qwen"])

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # answered "Yes"
    wait_rows(qtbot, view, 2)
    assert view.model.row_of(three_runs["qwen"]) == -1
    with pytest.raises(StorageError):
        ctx.store.get_run(three_runs["qwen"])
    assert ctx.store.count_runs() == 2
    assert "Deleted 1 run" in view.message_label.text()


def test_delete_key_deletes_the_selection(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    view._confirm = lambda text: True  # type: ignore[method-assign]
    click_row(qtbot, view, 0)
    click_row(qtbot, view, 1, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view.table, Qt.Key.Key_Delete)
    wait_rows(qtbot, view, 1)
    assert ctx.store.count_runs() == 1


def test_a_running_run_cannot_be_deleted(ctx, qtbot, questions) -> None:
    run_id = add_run(ctx.store, questions, status=RunStatus.RUNNING)
    view = open_view(ctx, qtbot)
    view._confirm = lambda text: pytest.fail("must not ask")  # type: ignore[method-assign]
    click_row(qtbot, view, 0)
    view.delete_action.trigger()
    assert "still running" in view.message_label.text()
    assert ctx.store.get_run(run_id).status is RunStatus.RUNNING


def test_editing_tags_shows_them_and_stores_them(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    seen = []

    def ask(record):
        seen.append(record.tags)
        return ["baseline", " q4 ", "baseline", ""]

    view._ask_tags = ask  # type: ignore[method-assign]
    row = view.model.row_of(three_runs["llama"])
    click_row(qtbot, view, row)
    with qtbot.waitSignal(ctx.signals.runs_changed, timeout=5000):
        qtbot.mouseClick(
            view.findChild(QToolButton, "history_tags_button"),
            Qt.MouseButton.LeftButton,
        )
    assert seen == [()]
    qtbot.waitUntil(
        lambda: cell(view, view.model.row_of(three_runs["llama"]), C.COL_TAGS) == "baseline, q4",
        timeout=5000,
    )
    assert ctx.store.get_run(three_runs["llama"]).tags == ("baseline", "q4")
    qtbot.waitUntil(lambda: view.tag_combo.findText("q4") > 0, timeout=5000)
    # The selection survives the refresh that follows.
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)
    assert view.selected_run_id() == three_runs["llama"]


def test_duplicate_emits_the_original_spec(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    original = ctx.store.get_run(three_runs["qwen"]).spec
    click_row(qtbot, view, view.model.row_of(three_runs["qwen"]))
    with qtbot.waitSignal(ctx.signals.duplicate_run, timeout=1000) as blocker:
        qtbot.mouseClick(
            view.findChild(QToolButton, "history_duplicate_button"),
            Qt.MouseButton.LeftButton,
        )
    assert blocker.args[0] == original
    assert blocker.args[0] == make_spec(MODELS[1], name="qwen sweep", tags=("nightly",))


def test_double_click_and_enter_open_the_run(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    row = view.model.row_of(three_runs["mistral"])
    with qtbot.waitSignal(ctx.signals.open_run, timeout=1000) as blocker:
        click_row(qtbot, view, row)
        qtbot.mouseDClick(
            view.table.viewport(), Qt.MouseButton.LeftButton, pos=row_point(view, row)
        )
    assert blocker.args == [three_runs["mistral"]]

    click_row(qtbot, view, view.model.row_of(three_runs["llama"]))
    with qtbot.waitSignal(ctx.signals.open_run, timeout=1000) as blocker:
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert blocker.args == [three_runs["llama"]]
    assert view.selected_run_id() == three_runs["llama"]


def test_compare_needs_two_runs_and_sends_their_ids(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    button = view.findChild(QToolButton, "history_compare_button")
    click_row(qtbot, view, 0)
    assert not button.isEnabled()
    click_row(qtbot, view, 2, Qt.KeyboardModifier.ControlModifier)
    assert button.isEnabled()
    assert button.text() == "Compare (2)"
    with qtbot.waitSignal(ctx.signals.compare_runs, timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == [view.model.record(0).run_id, view.model.record(2).run_id]


def test_copy_run_id_from_the_context_action(ctx, qtbot, three_runs) -> None:
    view = open_view(ctx, qtbot)
    click_row(qtbot, view, view.model.row_of(three_runs["qwen"]))
    view.copy_id_action.trigger()
    assert QApplication.clipboard().text() == three_runs["qwen"]


def test_new_runs_appear_when_runs_change(ctx, qtbot, three_runs, questions) -> None:
    view = open_view(ctx, qtbot)
    run_id = add_run(ctx.store, questions, spec=make_spec(MODELS[3], name="fresh"))
    ctx.signals.runs_changed.emit()
    wait_rows(qtbot, view, 4)
    assert view.model.record(0).run_id == run_id
    qtbot.waitUntil(lambda: view.model_combo.findText(MODELS[3]) > 0, timeout=5000)


def test_ten_thousand_runs_load_one_page_at_a_time(ctx, qtbot) -> None:
    ids = bulk_insert_runs(ctx.store, 10_000)
    view = open_view(ctx, qtbot)
    assert view.model.total == 10_000
    assert 0 < view.model.rowCount() < 10_000
    first = view.model.rowCount()
    assert first == FIRST_PAGE_SIZE  # enough to fill the window
    assert view.model.record(0).run_id == ids[-1]  # newest first
    assert view.count_label.text().startswith(f"10,000 runs · {first} loaded")
    assert view.model.canFetchMore()

    view.model.fetchMore()
    wait_rows(qtbot, view, first + PAGE_SIZE)
    loaded = [view.model.record(r).run_id for r in range(first + PAGE_SIZE)]
    assert loaded == ids[::-1][: first + PAGE_SIZE]  # no gap, no overlap between pages

    # Scrolling to the end asks for the next page by itself.
    view.table.scrollToBottom()
    qtbot.waitUntil(lambda: view.model.rowCount() >= first + 2 * PAGE_SIZE, timeout=5000)
    assert view.model.rowCount() < 10_000

    # A filter is a new query: one page of the matching rows, counted in the database.
    qtbot.keyClicks(view.search_edit, "sweep 99")  # sweep 99, 990-999, 9900-9999
    qtbot.waitUntil(lambda: view.model.total == 111 and not view.model.is_loading, timeout=5000)
    assert view.model.rowCount() == 111


def test_screenshot_with_varied_runs(ctx, qtbot, questions, shots_dir: Path) -> None:
    statuses = [RunStatus.COMPLETED] * 5 + [RunStatus.FAILED, RunStatus.CANCELLED]
    for i in range(30):
        spec = make_spec(
            MODELS[i % 4],
            ("gsm8k", "gsm8k", "mmlu", "custom")[i % 4],
            name=None if i % 7 == 3 else f"{('baseline', 'sweep', 'nightly')[i % 3]} {i}",
            tags=(("nightly",), ("q4", "long-ctx"), ())[i % 3],
            limit=20 + 5 * (i % 3),
        )
        add_run(
            ctx.store,
            questions,
            spec=spec,
            n=20 + 5 * (i % 3),
            wrong_every=2 + i % 6,
            failed=(4,) if i % 5 == 0 else (),
            status=statuses[i % len(statuses)],
            cost_usd=round(0.013 * (i + 1), 4) if i % 4 == 0 else None,
            seed=i,
        )
    # Spread the runs over the last weeks, as a real history would be.
    with ctx.store.engine.begin() as conn:
        for k, record in enumerate(ctx.store.list_runs(limit=None, descending=False)):
            moment = datetime.now(UTC) - timedelta(days=30 - k, hours=(k * 7) % 11)
            conn.execute(
                runs.update()
                .where(runs.c.run_id == record.run_id)
                .values(created_at=moment.isoformat(timespec="microseconds"))
            )
    view = open_view(ctx, qtbot)
    assert view.model.rowCount() == 30
    click_row(qtbot, view, 1)
    click_row(qtbot, view, 3, Qt.KeyboardModifier.ControlModifier)
    view.grab().save(str(shots_dir / "history.png"))
    assert (shots_dir / "history.png").stat().st_size > 10_000


def test_fits_beside_the_navigation(ctx, qtbot, three_runs) -> None:
    """The main window is 1280 px wide with a 180 px navigation list."""
    view = open_view(ctx, qtbot)
    assert view.minimumSizeHint().width() <= 1100


def test_model_without_a_view(ctx, qtbot, three_runs) -> None:
    """The model alone: sort and filter are queries, answered on the GUI thread."""
    model = HistoryModel(ctx.store, ctx.db, page_size=2)
    with qtbot.waitSignal(model.page_loaded, timeout=5000):
        model.reload()
    assert model.rowCount() == 2 and model.total == 3 and model.canFetchMore()
    with qtbot.waitSignal(model.page_loaded, timeout=5000):
        model.fetchMore()
    assert model.rowCount() == 3 and not model.canFetchMore()
    with qtbot.waitSignal(model.page_loaded, timeout=5000):
        model.sort(C.COL_MODEL, Qt.SortOrder.AscendingOrder)
    assert [model.index(r, C.COL_MODEL).data() for r in range(2)] == sorted(MODELS[:3])[:2]
    record = model.index(0, 0).data(C.RECORD_ROLE)
    assert json.loads(json.dumps(record.spec.to_dict()))["model"] == record.model


def test_a_real_run_appears_when_it_starts_and_updates_when_it_ends(
    ctx, qtbot, make_loopback_server, gsm8k_path: Path
) -> None:
    from openbench_desktop.core.domain import DatasetRef, RunSpec
    from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder

    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.02, itl_s=0.002, tokens_per_chunk=4),
        responder=gsm8k_responder(gsm8k_path, wrong_every=4),
    )
    # What MainWindow does: a finished job means the history changed.
    ctx.controller.job_ended.connect(lambda *_: ctx.signals.runs_changed.emit())
    view = open_view(ctx, qtbot)
    assert view.stack.currentWidget() is view.empty_page
    spec = RunSpec(
        provider="openai",
        base_url=server.base_url,
        model="simulated-gsm8k",
        benchmark="gsm8k",
        dataset=DatasetRef(path=str(gsm8k_path)),
        limit=12,
        concurrency=4,
        name="live one",
    )
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000):
        ctx.controller.start(spec)
    qtbot.waitUntil(
        lambda: view.model.rowCount() == 1 and cell(view, 0, C.COL_STATUS) == "completed",
        timeout=5000,
    )
    assert view.stack.currentWidget() is view.table
    assert cell(view, 0, C.COL_SAMPLES) == "12/12"
    assert cell(view, 0, C.COL_ACCURACY).startswith("75.0% (")
    qtbot.waitUntil(lambda: view.model_combo.findText("simulated-gsm8k") > 0, timeout=5000)


def test_a_page_requested_before_a_new_filter_is_dropped(ctx, qtbot, three_runs) -> None:
    model = HistoryModel(ctx.store, ctx.db, page_size=1)
    with qtbot.waitSignal(model.page_loaded, timeout=5000):
        model.reload()
    model.fetchMore()  # a page of the unfiltered list, still on its way...
    model.set_filter(RunFilter(text="qwen"))  # ...when the query changes
    qtbot.waitUntil(lambda: not model.is_loading, timeout=5000)
    assert model.total == 1
    assert [model.record(r).model for r in range(model.rowCount())] == [MODELS[1]]


def test_rows_of_running_runs_follow_their_progress(
    ctx, qtbot, make_loopback_server, gsm8k_path: Path
) -> None:
    """While a run goes, its History row is re-read in place (no reset of the list)."""
    from openbench_desktop.core.domain import DatasetRef, RunSpec
    from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
    from openbench_desktop.ui.views import history_view

    server = make_loopback_server(
        behavior=ServerBehavior(ttft_s=0.15, itl_s=0.002, tokens_per_chunk=4),
        responder=gsm8k_responder(gsm8k_path),
    )
    view = open_view(ctx, qtbot)
    view._live_timer.setInterval(200)  # the same path, ten times as often
    resets: list[int] = []
    spec = RunSpec(
        provider="openai", base_url=server.base_url, model="simulated-gsm8k",
        benchmark="gsm8k", dataset=DatasetRef(path=str(gsm8k_path)), limit=40,
        concurrency=1, name="slow one",
    )
    ctx.controller.start(spec)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    view.model.modelReset.connect(lambda: resets.append(1))

    def mid_run() -> bool:
        done, _, total = cell(view, 0, C.COL_SAMPLES).partition("/")
        return total == "40" and 0 < int(done) < 40

    qtbot.waitUntil(mid_run, timeout=15_000)
    assert cell(view, 0, C.COL_STATUS) == "running"
    assert resets == []  # updated in place: selection and scroll stay put
    assert history_view.LIVE_ROWS_MS >= 1000  # the real interval stays gentle
    ctx.controller.cancel_all()
    qtbot.waitUntil(lambda: not ctx.controller.active_jobs(), timeout=15_000)
    assert not view._live_timer.isActive()
