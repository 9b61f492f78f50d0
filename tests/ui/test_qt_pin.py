"""Regression guards for the pinned Qt stack.

PySide6 6.12.0 on Python 3.11 aborts the process (``bool_dealloc``, exit 134) after about
5,000 ``Signal.emit()`` calls, and pyqtgraph's SVG exporter fails on PySide6 >= 6.11. A
version bump that brings either back must fail here, not in a user's session.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

MANY_EMITS = textwrap.dedent(
    """
    import os
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Emitter(QObject):
        happened = Signal(object)
        flag = Signal(bool)

    app = QCoreApplication([])
    emitter, got = Emitter(), []
    emitter.happened.connect(got.append)
    emitter.flag.connect(got.append)
    for i in range(20_000):
        emitter.happened.emit({"i": i})
        emitter.flag.emit(i % 2 == 0)
    print(len(got))
    """
)


def test_twenty_thousand_emits_do_not_abort_the_process() -> None:
    # A subprocess: the abort kills the interpreter, which must not take pytest with it.
    proc = subprocess.run(
        [sys.executable, "-c", MANY_EMITS], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.strip() == "40000"


def test_pyqtgraph_svg_export_works(qtbot, tmp_path) -> None:
    import pyqtgraph as pg
    from pyqtgraph.exporters import SVGExporter

    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.plot([1, 2, 3, 4], [3, 1, 4, 1], pen="b", name="series")
    plot.resize(400, 300)
    out = tmp_path / "chart.svg"
    SVGExporter(plot.getPlotItem()).export(str(out))
    text = out.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "<path" in text or "<polyline" in text
