"""The main window: navigation, shortcuts, help overlay, theme, geometry, first launch, close."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from openbench_desktop.core.domain import RunStatus
from openbench_desktop.ui.main_window import PAGES, MainWindow
from tests.conftest import REPO_ROOT


@pytest.fixture
def window(qtbot, ctx) -> MainWindow:
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_navigation_by_list_and_shortcuts(qtbot, window: MainWindow) -> None:
    for i, (key, _label, shortcut) in enumerate(PAGES):
        key_code = getattr(Qt.Key, f"Key_{shortcut.split('+')[1]}")
        qtbot.keyClick(window, key_code, Qt.KeyboardModifier.ControlModifier)
        assert window.current_page() == key
        assert window.nav.currentRow() == i
    window.nav.setCurrentRow(2)
    assert window.current_page() == "history"
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Help"]


def test_help_overlay_lists_shortcuts(qtbot, window: MainWindow, shots_dir: Path) -> None:
    window.help_overlay.toggle()
    assert window.help_overlay.isVisible()
    table = dict((text, key) for key, text in window.shortcut_table())
    assert "New run" in table and "Copy run id" in table
    window.grab().save(str(shots_dir / "main_help_overlay.png"))
    window.help_overlay.toggle()
    assert not window.help_overlay.isVisible()


def test_theme_toggle_persists(qtbot, window: MainWindow, ctx) -> None:
    before = ctx.settings.theme
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert ctx.settings.theme != before
    assert ctx.settings.theme in ctx.paths.settings_file.read_text()


def test_geometry_is_restored(qtbot, ctx) -> None:
    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.show()
    first.resize(780, 590)  # the offscreen screen is 800x600
    first._confirm_quit = lambda n: True  # type: ignore[method-assign]
    first.close()
    second = MainWindow(ctx)
    qtbot.addWidget(second)
    assert second.height() == 590  # (the width is clamped to the screen and the views)
    assert (ctx.paths.config_dir / "window.ini").exists()


@pytest.mark.slow
def test_first_launch_runs_the_speech_demo(
    qtbot, window: MainWindow, ctx, shots_dir: Path
) -> None:
    """A fresh install: the real PocketSphinx benchmark over the 10 bundled clips (~15 s)."""
    from openbench_desktop.ui.first_launch import (
        maybe_start_first_launch_demo,
        speech_demo_unavailable,
    )

    if speech_demo_unavailable():
        pytest.skip(speech_demo_unavailable())
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=110_000):
        job = maybe_start_first_launch_demo(window, ctx)
        assert job is not None
        assert window.banner.isVisible()
        text = window.banner.label.text()
        assert "real speech-recognition benchmark" in text and "PocketSphinx" in text
        assert "offline" in text and "simulated" not in text
        assert window.banner.action.text() == "Add an endpoint…"
        assert window.current_page() == "live"
    qtbot.wait(300)  # let the views take the final batch
    window.grab().save(str(shots_dir / "first_launch_demo.png"))
    (run,) = ctx.store.list_runs()
    assert run.status is RunStatus.COMPLETED and (run.n_ok, run.n_failed) == (10, 0)
    assert "demo" in run.tags
    summary = ctx.store.get_run(run.run_id).summary
    audio = summary.audio
    assert summary.n_failed == 0
    assert 0 < audio["wer"] < 1 and 0 < audio["cer"] < 1
    low, high = audio["wer_ci"]
    assert low <= audio["wer"] <= high
    assert audio["rtfx"] > 0
    # What the user sees: the live view shows the WER and RTFx of the demo.
    panel = window.pages["live"].current_panel()
    assert panel.accuracy.caption.text() == "WER"
    assert panel.accuracy.value.text() == f"{audio['wer']:.1%}"
    assert panel.rtfx.value.text() == f"{audio['rtfx']:,.1f}×"
    qtbot.mouseClick(window.banner.action, Qt.MouseButton.LeftButton)
    assert window.current_page() == "settings"
    # only once: the next launch does not start it again
    assert maybe_start_first_launch_demo(window, ctx) is None


def test_first_launch_without_the_audio_extra_runs_the_simulated_demo(
    qtbot, window: MainWindow, ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openbench_desktop.ui.first_launch import maybe_start_first_launch_demo

    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # as if it were not installed
    with qtbot.waitSignal(ctx.controller.job_ended, timeout=60_000):
        job = maybe_start_first_launch_demo(window, ctx)
        assert job is not None
        text = window.banner.label.text()
        assert "simulated model" in text
        assert "No speech demo" in text and "PocketSphinx not installed" in text
        assert "pip install 'openbench-desktop[audio]'" in text
    qtbot.wait(300)
    (run,) = ctx.store.list_runs()
    assert run.status is RunStatus.COMPLETED and run.n_ok == 20
    assert "simulated" in run.tags
    # The simulated endpoint stays available to the Run setup.
    assert ctx.demo is not None


def test_closing_during_a_run_cancels_it_and_keeps_finished_samples(
    qtbot, window: MainWindow, ctx, make_loopback_server
) -> None:
    from openbench_desktop.core.domain import DatasetRef, GenerationParams, RunSpec
    from openbench_desktop.core.loopback import ServerBehavior

    server = make_loopback_server(behavior=ServerBehavior(ttft_s=0.05, itl_s=0.01))
    spec = RunSpec(
        provider="openai", base_url=server.base_url, model="simulated-echo", benchmark="gsm8k",
        dataset=DatasetRef(), params=GenerationParams(max_tokens=64), concurrency=2,
    )
    ctx.controller.start(spec)
    qtbot.waitUntil(lambda: len(ctx.store.list_runs()) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: len(ctx.store.get_results(ctx.store.list_runs()[0].run_id)) >= 2,
                    timeout=20_000)
    asked: list[int] = []
    window._confirm_quit = lambda n: asked.append(n) or True  # type: ignore[method-assign]
    window.close()
    assert asked == [1]
    (run,) = ctx.store.list_runs()
    assert run.status is RunStatus.CANCELLED
    assert 2 <= run.n_ok + run.n_failed < 20


def test_smoke_mode_exits_zero(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "openbench_desktop", "--home", str(tmp_path / "home"), "--smoke"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "smoke: OK" in proc.stdout
    assert "Traceback" not in proc.stderr
    from openbench_desktop.ui.first_launch import speech_demo_unavailable

    if speech_demo_unavailable() is None:  # the speech demo, on a few clips, with its figures
        assert "smoke: OK speech demo run" in proc.stdout and "0 failed" in proc.stdout
        assert "WER 0." in proc.stdout and "RTFx unknown" not in proc.stdout


def test_clipboard_copy_of_run_id_without_selection_says_what_to_do(
    qtbot, window: MainWindow
) -> None:
    QGuiApplication.clipboard().setText("")
    window._on_copy_run_id()
    assert "Select a run" in window.statusBar().currentMessage()


def test_compare_is_built_when_first_needed_and_gets_the_runs_it_was_sent(
    qtbot, window: MainWindow, ctx
) -> None:
    """The first window skips Compare (~0.45 s); History's "Compare" still lands there."""
    from openbench_desktop.ui.views.compare_view import CompareView

    assert "compare" not in dict.keys(window.pages)
    ctx.signals.compare_runs.emit(["run-a", "run-b"])
    view = dict.get(window.pages, "compare")
    assert isinstance(view, CompareView) and window.current_page() == "compare"
    assert view.picked_run_ids() == ["run-a", "run-b"]
    assert window.stack.currentWidget() is view and window.stack.count() == 6
    # Built once: the page's own connection takes the next request.
    ctx.signals.compare_runs.emit(["run-c", "run-d"])
    assert window.pages["compare"] is view and view.picked_run_ids() == ["run-c", "run-d"]
