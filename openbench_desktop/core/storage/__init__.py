"""Storage: SQLite through SQLAlchemy Core, Alembic migrations, and the one writer thread.

- :class:`Store`: the synchronous repository (takes and returns domain objects).
- :class:`ResultWriter`: the single thread that performs all writes during a run.
- :mod:`.tables`: the schema; ``migrations/``: how databases get to it.

Qt-free, like all of ``core``.
"""

from openbench_desktop.core.storage.store import SCHEMA_HEAD, Store, migrate
from openbench_desktop.core.storage.writer import ResultWriter

__all__ = ["SCHEMA_HEAD", "ResultWriter", "Store", "migrate"]
