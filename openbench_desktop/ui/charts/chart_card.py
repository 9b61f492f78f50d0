"""A chart (or table) in Compare: a one-line explanation, its controls, its Export button.

One widget for the quality charts and the speed and speech sections, so every card in
Compare looks and behaves the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

EXPORT_TIP = "Save this chart as PNG or SVG, or its numbers as CSV"


class ChartCard(QFrame):
    """``body`` (a chart or a table) under ``hint``; ``controls`` beside the Export button.

    With ``title`` set, the card gets an Export… button named ``export_<slug>``; the owner
    connects it. Short controls sit on the hint's line; with ``controls_below`` they get a
    line of their own (for several combo boxes).
    """

    def __init__(
        self,
        body: QWidget,
        slug: str,
        hint: str,
        *,
        title: str | None = None,
        controls: Sequence[QWidget] = (),
        controls_below: bool = False,
        export_tip: str = EXPORT_TIP,
    ) -> None:
        super().__init__()
        self.chart = body
        self.setObjectName(f"card_{slug}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.hint = QLabel(hint)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        self.export_button: QToolButton | None = None
        header = QHBoxLayout()
        header.addWidget(self.hint, 1)
        row = QHBoxLayout() if controls_below else header
        for widget in controls:
            row.addWidget(widget)
        if title is not None:
            self.export_button = QToolButton()
            self.export_button.setText("Export…")
            self.export_button.setObjectName(f"export_{slug}")
            self.export_button.setAccessibleName(f"Export {title}")
            self.export_button.setToolTip(export_tip)
            if controls_below:
                row.addStretch(1)
            row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        if controls_below:
            layout.addLayout(row)
        layout.addWidget(body, 1)
