"""The Qt-free core: domain, benchmarks, providers, engine, storage, secrets, export.

Nothing below this package may import PySide6, pyqtgraph or ``openbench_desktop.ui``;
``tests/core/test_core_without_qt.py`` and the import-linter contract enforce it.
"""
