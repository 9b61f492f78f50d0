"""Retry failed samples and resume a run from the Run detail view."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from openbench_desktop.core.domain import DatasetRef, GenerationParams, RunSpec, RunStatus
from openbench_desktop.core.loopback import ServerBehavior, gsm8k_responder
from openbench_desktop.ui.views.run_detail_view import RunDetailView


def test_retry_failed_then_resume_from_run_detail(
    qtbot, ctx, gsm8k_path: Path, make_loopback_server
) -> None:
    server = make_loopback_server(
        behavior=ServerBehavior(fail_with_status=400), responder=gsm8k_responder(gsm8k_path)
    )
    spec = RunSpec(
        provider="openai", base_url=server.base_url, model="simulated-gsm8k",
        benchmark="gsm8k", dataset=DatasetRef(path=str(gsm8k_path)),
        params=GenerationParams(max_tokens=256), limit=12, concurrency=1,
    )
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000):
        ctx.controller.start(spec)
    (run,) = ctx.store.list_runs()
    assert run.status is RunStatus.FAILED and run.n_failed == 8  # stopped after 8 failures

    view = RunDetailView(ctx)
    qtbot.addWidget(view)
    view.show()
    view.load(run.run_id)
    qtbot.waitUntil(lambda: view.retry_button.text() == "Retry 8 failed", timeout=10_000)
    assert view.resume_button.text() == "Resume (4 left)"

    server.reset(ServerBehavior(), gsm8k_responder(gsm8k_path))  # the endpoint is fixed
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000):
        qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)
    record = ctx.store.get_run(run.run_id)
    assert record.n_ok == 8 and record.n_failed == 0
    assert record.status is RunStatus.INTERRUPTED  # 4 samples never sent yet

    view.load(run.run_id)
    qtbot.waitUntil(
        lambda: view.resume_button.isVisible() and not view.retry_button.isVisible(),
        timeout=10_000,
    )
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=30_000):
        qtbot.mouseClick(view.resume_button, Qt.MouseButton.LeftButton)
    record = ctx.store.get_run(run.run_id)
    assert record.status is RunStatus.COMPLETED and record.n_ok == 12
    assert sorted(r.index for r in ctx.store.get_results(run.run_id)) == list(range(12))
    assert len(ctx.store.list_runs()) == 1  # the same run, not a new one
