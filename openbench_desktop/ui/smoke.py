"""``openbench-desktop --smoke``: open the window offscreen, run the demo, check the result.

Used by CI on the source tree and on the frozen bundle: it exercises imports, Qt plugins,
resources, the database, the engine thread and the views. Exit 0 only when the demo run
completed with every sample stored.

The demo is the first-launch one: the speech benchmark when the audio extra is installed
(PocketSphinx over the first :data:`SMOKE_SPEECH_CLIPS` bundled clips, no warm-up, to keep
it short) — then its WER and RTFx must be known and no clip may fail — else the simulated
chat model.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer

from openbench_desktop.ui.first_launch import start_demo_run

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from openbench_desktop.ui.context import AppContext
    from openbench_desktop.ui.main_window import MainWindow

SMOKE_TIMEOUT_S = 120
#: Enough clips to exercise the speech pipeline end to end in a few seconds.
SMOKE_SPEECH_CLIPS = 3


def run_smoke(app: QApplication, window: MainWindow, ctx: AppContext) -> int:
    started = time.monotonic()
    app.processEvents()
    first_window_s = time.monotonic() - started
    loop = QEventLoop()
    outcome: dict[str, object] = {}

    def ended(job_id: int, event: object) -> None:
        outcome["event"] = event
        loop.quit()

    def rejected(job_id: int, message: str) -> None:
        outcome["rejected"] = message
        loop.quit()

    ctx.controller.job_ended.connect(ended)
    ctx.controller.job_rejected.connect(rejected)
    start_demo_run(window, ctx, limit=SMOKE_SPEECH_CLIPS, warmup=0)
    QTimer.singleShot(SMOKE_TIMEOUT_S * 1000, loop.quit)
    loop.exec()
    if "rejected" in outcome:
        print(f"smoke: FAILED, the demo run was rejected: {outcome['rejected']}", file=sys.stderr)
        return 1
    event = outcome.get("event")
    if event is None:
        print(f"smoke: FAILED, the demo did not finish in {SMOKE_TIMEOUT_S} s", file=sys.stderr)
        return 1
    summary = getattr(event, "summary", None)
    if summary is None or str(summary.status) != "completed":
        print(f"smoke: FAILED, the demo run ended as {event!r}", file=sys.stderr)
        return 1
    stored = len(ctx.store.get_results(summary.run_id))
    for key in ("history", "detail", "compare", "settings", "setup", "live"):
        window.show_page(key)
        app.processEvents()
    ok = stored == summary.n_samples
    audio = summary.audio
    if audio:
        # The speech demo: every clip transcribed and scored, the corpus figures computed.
        ok = ok and summary.n_failed == 0 and audio.get("wer") is not None and bool(
            audio.get("rtfx")
        )
        figures = f"WER {_num(audio.get('wer'))}, RTFx {_num(audio.get('rtfx'))}"
        what = "speech demo"
    else:
        figures = f"accuracy {summary.accuracy:.0%}"
        what = "demo"
    print(
        f"smoke: {'OK' if ok else 'FAILED'} {what} run {summary.run_id[:8]} {summary.status}, "
        f"{stored}/{summary.n_samples} samples stored, {summary.n_failed} failed, {figures}, "
        f"window shown in {first_window_s * 1000:.0f} ms, total {time.monotonic() - started:.1f} s"
    )
    return 0 if ok else 1


def _num(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "unknown"
