"""Everything that imports PySide6 or pyqtgraph. Adapts the core; owns no logic of its own."""
