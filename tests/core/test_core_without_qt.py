"""The core and the CLI must import with PySide6 and pyqtgraph made unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

BLOCK_AND_IMPORT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class BlockQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"):
                raise ImportError(f"{name} is blocked: the core must not need Qt")
            return None

    sys.meta_path.insert(0, BlockQt())
    import openbench_desktop.core as core
    import openbench_desktop.cli
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "openbench_desktop.core.")
             if ".migrations" not in m.name]
    for name in names:
        importlib.import_module(name)
    openbench_desktop.cli.build_parser()
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph"))
    assert not leaked, leaked
    print(len(names))
    """
)


def test_core_imports_without_qt() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_IMPORT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    # every core module was imported, not just the package
    assert int(proc.stdout.strip()) >= 15
