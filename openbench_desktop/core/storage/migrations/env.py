"""Alembic's entry point for the packaged migrations.

The app runs it through :func:`openbench_desktop.core.storage.store.migrate`, which hands
over an open connection already inside a ``BEGIN IMMEDIATE`` transaction (foreign keys
off). For developers, ``alembic`` commands work too when given a config built by
:func:`openbench_desktop.core.storage.store.alembic_config` (it sets ``sqlalchemy.url``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from openbench_desktop.core.storage.store import create_sqlite_engine
from openbench_desktop.core.storage.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later migrations copy tables instead.
        render_as_batch=True,
        # SQLite has transactional DDL; a migration applies completely or not at all.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url set")
    database = make_url(url).database
    if not database:
        raise RuntimeError(f"not a SQLite file URL: {url}")
    engine = create_sqlite_engine(Path(database), foreign_keys=False, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or "sqlite://",
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
