"""A caption over a big value and a small detail line: the figures of a running run."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class Stat(QWidget):
    """A caption over a value, like a dashboard tile."""

    def __init__(self, caption: str, name: str, tip: str) -> None:
        super().__init__()
        self.caption = QLabel(caption)
        self.caption.setObjectName(f"{name}_caption")
        self.caption.setStyleSheet("color: palette(placeholder-text);")
        self.value = QLabel("—")
        self.value.setObjectName(name)
        self.value.setAccessibleName(caption)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.value.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.value.setFont(font)
        self.detail = QLabel("")
        self.detail.setObjectName(f"{name}_detail")
        self.detail.setStyleSheet("color: palette(placeholder-text);")
        self.setToolTip(tip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
