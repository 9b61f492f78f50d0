"""Light and dark themes: Qt's Fusion style with a palette, plus pyqtgraph's colours."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("light", "dark")

# Colour-blind-safe series colours (Okabe-Ito), shared by every chart.
SERIES_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)


def series_color(i: int) -> str:
    return SERIES_COLORS[i % len(SERIES_COLORS)]


def apply_theme(app: QApplication, theme: str) -> None:
    import pyqtgraph as pg

    app.setStyle("Fusion")
    palette = QPalette()
    if theme == "dark":
        base, text, window, button = "#1e1f22", "#e6e6e6", "#2b2d31", "#35373c"
        palette.setColor(QPalette.ColorRole.Window, QColor(window))
        palette.setColor(QPalette.ColorRole.WindowText, QColor(text))
        palette.setColor(QPalette.ColorRole.Base, QColor(base))
        palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#26282c"))
        palette.setColor(QPalette.ColorRole.Text, QColor(text))
        palette.setColor(QPalette.ColorRole.Button, QColor(button))
        palette.setColor(QPalette.ColorRole.ButtonText, QColor(text))
        palette.setColor(QPalette.ColorRole.ToolTipBase, QColor(window))
        palette.setColor(QPalette.ColorRole.ToolTipText, QColor(text))
        palette.setColor(QPalette.ColorRole.Highlight, QColor("#3d7bd9"))
        palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        palette.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8a8d93"))
        palette.setColor(QPalette.ColorRole.Link, QColor("#6ea8fe"))
        pg.setConfigOptions(background="#1e1f22", foreground="#d0d0d0", antialias=True)
    else:
        palette = app.style().standardPalette()
        pg.setConfigOptions(background="w", foreground="#303030", antialias=True)
    app.setPalette(palette)
