"""The frozen app's entry script (PyInstaller runs this; users run ``openbench-desktop``).

Kept apart from ``openbench_desktop/__main__.py`` so the package stays importable as usual
and the freeze-only step below does not leak into the source install.
"""

from __future__ import annotations

import multiprocessing

if __name__ == "__main__":
    # A frozen child process started by multiprocessing (spawn) must stop here instead of
    # starting a second app. Nothing spawns one today; this keeps it safe if a library does.
    multiprocessing.freeze_support()
    from openbench_desktop.__main__ import main

    main()
