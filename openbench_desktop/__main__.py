"""``python -m openbench_desktop`` and the ``openbench-desktop`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    from openbench_desktop.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
