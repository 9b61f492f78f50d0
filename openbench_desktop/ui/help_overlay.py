"""The keyboard-shortcut overlay shown with '?'."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget


class HelpOverlay(QFrame):
    """A translucent panel over the main window listing every shortcut; Esc or ? closes."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("helpOverlay")
        self.setStyleSheet(
            "#helpOverlay { background: rgba(20, 20, 24, 220); border-radius: 10px; }"
            "#helpOverlay QLabel { color: #f0f0f0; font-size: 13px; }"
        )
        self._label = QLabel()
        self._label.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 18)
        layout.addWidget(self._label)
        self.hide()
        window.installEventFilter(self)

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            return
        window = self.parentWidget()
        rows = window.shortcut_table() if hasattr(window, "shortcut_table") else []
        body = "".join(
            f"<tr><td style='padding-right:18px'><b>{keys}</b></td><td>{what}</td></tr>"
            for keys, what in rows
        )
        self._label.setText(
            "<h3>Keyboard shortcuts</h3>"
            f"<table>{body}</table><p style='color:#aaa'>Press ? or Esc to close.</p>"
        )
        self.adjustSize()
        self._center()
        self.show()
        self.raise_()

    def _center(self) -> None:
        window = self.parentWidget()
        self.move(
            max(0, (window.width() - self.width()) // 2),
            max(0, (window.height() - self.height()) // 2),
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self._center()
        if (
            event.type() == QEvent.Type.KeyPress
            and self.isVisible()
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            self.hide()
            return True
        return False
