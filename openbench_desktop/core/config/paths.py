"""Where the app keeps its files.

platformdirs for users; ``OPENBENCH_HOME`` (or the CLI's ``--home``) puts everything
(database, logs, settings, cache) under one folder, for tests and portable installs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "openbench-desktop"
ENV_HOME = "OPENBENCH_HOME"


@dataclass(frozen=True, slots=True)
class AppPaths:
    data_dir: Path
    log_dir: Path
    config_dir: Path
    cache_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "openbench.sqlite3"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def hub_cache(self) -> Path:
        return self.cache_dir / "hub"

    def ensure(self) -> AppPaths:
        for folder in (self.data_dir, self.log_dir, self.config_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    @classmethod
    def under(cls, home: str | os.PathLike[str]) -> AppPaths:
        root = Path(home).expanduser().resolve()
        return cls(root / "data", root / "logs", root / "config", root / "cache")

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> AppPaths:
        """``home`` (a CLI flag) wins, then ``OPENBENCH_HOME``, then platformdirs."""
        home = home or os.environ.get(ENV_HOME) or None
        if home:
            return cls.under(home)
        import platformdirs

        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        return cls(
            Path(dirs.user_data_dir),
            Path(dirs.user_log_dir),
            Path(dirs.user_config_dir),
            Path(dirs.user_cache_dir),
        )
