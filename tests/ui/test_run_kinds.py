"""The whole app path for speech and load-test runs: Run setup → run → Run detail → Compare.

Each panel has its own tests; these drive the shared views the way a user does (the kind
buttons, the one Start button) with real local models and a real loopback server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from openbench_desktop.core.domain import RunStatus
from openbench_desktop.ui.main_window import MainWindow
from openbench_desktop.ui.views.audio_setup import AudioSetupPanel


@pytest.fixture
def window(qtbot, ctx) -> MainWindow:
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    return win


def _start_from_setup(qtbot, win: MainWindow, ctx) -> None:
    setup = win.pages["setup"]
    with qtbot.waitSignal(ctx.controller.job_started, timeout=30_000):
        qtbot.mouseClick(setup.start_button, Qt.MouseButton.LeftButton)


def _wait_ended(qtbot, ctx, n_runs: int, timeout: int = 90_000) -> None:
    def ended() -> bool:
        runs = ctx.store.list_runs()
        return len(runs) == n_runs and all(r.status.terminal for r in runs)

    qtbot.waitUntil(ended, timeout=timeout)
    qtbot.waitUntil(lambda: not ctx.controller.active_jobs(), timeout=10_000)


def _speech_panel(qtbot, win: MainWindow) -> AudioSetupPanel:
    setup = win.pages["setup"]
    win.show_page("setup")
    qtbot.mouseClick(setup.findChild(type(setup.start_button), "kind_speech"),
                     Qt.MouseButton.LeftButton)
    panel = setup.panel("speech")
    assert isinstance(panel, AudioSetupPanel) and panel.isVisible()
    qtbot.waitUntil(lambda: not panel.is_checking(), timeout=10_000)
    return panel


@pytest.mark.slow
def test_speech_recognition_from_the_gui_offline_then_detail_and_compare(
    qtbot, window: MainWindow, ctx, shots_dir: Path
) -> None:
    """Issue #5 acceptance: PocketSphinx on the bundled clips from the GUI, no network."""
    panel = _speech_panel(qtbot, window)
    panel.limit_spin.setValue(3)
    panel.warmup_spin.setValue(0)
    window.grab().save(str(shots_dir / "gui_setup_speech.png"))
    _start_from_setup(qtbot, window, ctx)
    assert window.current_page() == "live"
    _wait_ended(qtbot, ctx, 1)
    # The live view speaks of WER and RTFx, not of accuracy or time to first token.
    live = window.pages["live"].current_panel()
    qtbot.waitUntil(lambda: live.ended, timeout=10_000)
    audio = ctx.store.list_runs()[0].summary.audio
    assert live.accuracy.caption.text() == "WER"
    assert live.accuracy.value.text() == f"{audio['wer']:.1%}"
    assert live.rtfx.isVisibleTo(live) and live.rtfx.value.text() == f"{audio['rtfx']:,.1f}×"
    assert not live.timeline.isVisibleTo(live)
    window.grab().save(str(shots_dir / "gui_speech_live.png"))
    # A second run with another normalizer, to compare.
    panel = _speech_panel(qtbot, window)
    panel.normalizer_combo.setCurrentIndex(panel.normalizer_combo.findData("basic"))
    _start_from_setup(qtbot, window, ctx)
    _wait_ended(qtbot, ctx, 2)

    runs = ctx.store.list_runs()
    assert all(r.status is RunStatus.COMPLETED and r.n_ok == 3 for r in runs)
    for record in runs:
        audio = ctx.store.get_run(record.run_id).summary.audio
        assert {"wer", "cer", "wer_ci", "rtfx"} <= set(audio) and audio["rtfx"] > 0
        assert audio["failure_counts"] == {}

    first = runs[-1]
    ctx.signals.open_run.emit(first.run_id)
    detail = window.pages["detail"]
    qtbot.waitUntil(lambda: detail.record is not None, timeout=10_000)
    audio = ctx.store.get_run(first.run_id).summary.audio
    assert detail.accuracy_tile.caption.text() == "WER (normalized)"
    assert detail.accuracy_tile.value.text() == f"{audio['wer'] * 100:.1f}%"
    assert detail.tabs.tabText(detail.tabs.currentIndex()) == "Utterances"
    assert not detail.resume_button.isVisible() and not detail.retry_button.isVisible()
    panel_detail = detail.kind_panel("speech")
    qtbot.waitUntil(lambda: panel_detail.model.rowCount() == 3, timeout=10_000)
    window.grab().save(str(shots_dir / "gui_speech_detail.png"))

    ctx.signals.compare_runs.emit([r.run_id for r in reversed(runs)])
    compare = window.pages["compare"]
    qtbot.waitUntil(lambda: not compare.is_busy() and compare.comparison is not None,
                    timeout=30_000)
    section = compare.section("speech")
    assert section is not None and section.isVisibleTo(compare)
    assert not compare.cards[compare.scores_chart.slug].isVisibleTo(compare)
    slugs = {c.slug for c in compare.visible_charts()}
    assert {c.slug for c in section.charts()} <= slugs
    written = compare.export_all(shots_dir.parent / "compare_speech_export")
    assert any(p.suffix == ".svg" for p in written)
    window.grab().save(str(shots_dir / "gui_speech_compare.png"))


@pytest.mark.slow
def test_tts_round_trip_from_the_gui(qtbot, window: MainWindow, ctx) -> None:
    """Issue #5 acceptance: eSpeak NG → PocketSphinx round trip started from Run setup."""
    panel = _speech_panel(qtbot, window)
    panel.task_combo.setCurrentIndex(panel.task_combo.findData("tts"))
    panel.limit_spin.setValue(2)
    panel.warmup_spin.setValue(0)
    qtbot.waitUntil(lambda: not panel.is_checking(), timeout=10_000)
    _start_from_setup(qtbot, window, ctx)
    _wait_ended(qtbot, ctx, 1)
    (run,) = ctx.store.list_runs()
    assert run.status is RunStatus.COMPLETED and run.n_ok == 2
    audio = ctx.store.get_run(run.run_id).summary.audio
    assert audio["kind"] == "tts" and audio["provider"] == "espeak → pocketsphinx"
    assert audio["wer"] is not None


def _speed_panel(qtbot, win: MainWindow) -> object:
    setup = win.pages["setup"]
    win.show_page("setup")
    qtbot.mouseClick(setup.findChild(type(setup.start_button), "kind_speed"),
                     Qt.MouseButton.LeftButton)
    panel = setup.panel("speed")
    assert panel.isVisible()
    return panel


def test_load_test_from_the_gui_on_the_demo_then_detail_and_compare(
    qtbot, window: MainWindow, ctx, shots_dir: Path
) -> None:
    """Issue #4 views: a speed run from Run setup, its live view, detail tab and Compare."""
    for concurrency in (1, 4):
        panel = _speed_panel(qtbot, window)
        panel.requests_spin.setValue(12)
        panel.input_tokens_spin.setValue(16)
        panel.output_tokens_spin.setValue(8)
        panel.concurrency_spin.setValue(concurrency)
        window.grab().save(str(shots_dir / "gui_setup_speed.png"))
        _start_from_setup(qtbot, window, ctx)
        live = window.pages["live"].current_panel()
        assert live.speed is not None and not live.accuracy.isVisibleTo(live)
        _wait_ended(qtbot, ctx, 1 if concurrency == 1 else 2, timeout=60_000)
    runs = ctx.store.list_runs()
    assert all(r.status is RunStatus.COMPLETED and r.n_ok == 12 for r in runs)
    # Setup remembers a speed run: a new setup page opens on the speed panel.
    assert ctx.settings.last_run["spec"]["benchmark"] == "speed"

    ctx.signals.open_run.emit(runs[0].run_id)
    detail = window.pages["detail"]
    qtbot.waitUntil(lambda: detail.record is not None, timeout=10_000)
    assert detail.tabs.tabText(detail.tabs.currentIndex()) == "Load test"
    assert detail.accuracy_tile.caption.text() == "Requests/s"
    speed_detail = detail.kind_panel("speed")
    qtbot.waitUntil(lambda: not speed_detail.is_busy(), timeout=20_000)
    qtbot.wait(50)  # the layout settles on the next pass of the event loop
    window.grab().save(str(shots_dir / "gui_speed_detail.png"))

    ctx.signals.compare_runs.emit([r.run_id for r in reversed(runs)])
    compare = window.pages["compare"]
    qtbot.waitUntil(lambda: not compare.is_busy() and compare.comparison is not None,
                    timeout=30_000)
    section = compare.section("speed")
    assert section is not None and section.isVisibleTo(compare)
    assert not compare.deltas_table.isVisibleTo(compare)
    assert {c.slug for c in section.charts()} <= {c.slug for c in compare.visible_charts()}
    labels = {run.label for _, run in section._shown_runs()}
    assert labels == {"simulated-gsm8k · concurrency 1", "simulated-gsm8k · concurrency 4"}
    window.grab().save(str(shots_dir / "gui_speed_compare.png"))
