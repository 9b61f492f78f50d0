"""Migrations: the migrated schema is the table metadata; opening is cheap and repeatable."""

from __future__ import annotations

import sqlite3
import threading
import time
import tomllib
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import openbench_desktop.core.storage.store as store_module
from openbench_desktop.core.domain import RunSpec, SampleResult, SampleStatus
from openbench_desktop.core.errors import StorageError
from openbench_desktop.core.storage import SCHEMA_HEAD, Store, migrate
from openbench_desktop.core.storage.store import MIGRATIONS_DIR, alembic_config
from openbench_desktop.core.storage.tables import metadata
from tests.conftest import REPO_ROOT


def make_spec() -> RunSpec:
    return RunSpec(provider="openai", base_url="http://127.0.0.1:1/v1", model="m", benchmark="b")


def schema(db_path: Path) -> dict[str, str]:
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return {name: sql for name, sql in rows}
    finally:
        conn.close()


def test_schema_head_constant_is_the_alembic_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [SCHEMA_HEAD]  # one line of history, and the fast path knows it


def test_migrated_schema_matches_the_table_metadata(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    with Store(db_path) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert store.schema_version() == SCHEMA_HEAD

    names = set(schema(db_path))
    assert {"runs", "run_tags", "samples", "alembic_version"} <= names
    assert {
        "ix_runs_created_at_run_id",
        "ix_runs_status_created_at_run_id",
        "ix_runs_benchmark_created_at_run_id",
        "ix_runs_model_created_at_run_id",
        "ix_run_tags_tag",
    } <= names
    conn = sqlite3.connect(db_path)
    try:
        fks = {row[2]: row[6] for row in conn.execute("PRAGMA foreign_key_list(samples)")}
        assert fks == {"runs": "CASCADE"}
        fks = {row[2]: row[6] for row in conn.execute("PRAGMA foreign_key_list(run_tags)")}
        assert fks == {"runs": "CASCADE"}
        unique = [
            [c[2] for c in conn.execute(f"PRAGMA index_info({row[1]})")]
            for row in conn.execute("PRAGMA index_list(samples)")
            if row[2]
        ]
        assert unique == [["run_id", "sample_index"]]
    finally:
        conn.close()


def test_metadata_create_all_and_migration_build_the_same_tables(tmp_path: Path) -> None:
    """A second angle on the same promise: compare SQLite's own view of both schemas."""
    from sqlalchemy import create_engine

    migrated = tmp_path / "migrated.sqlite3"
    created = tmp_path / "created.sqlite3"
    Store(migrated).close()
    engine = create_engine(f"sqlite:///{created}")
    metadata.create_all(engine)
    engine.dispose()

    def columns(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
        conn = sqlite3.connect(db_path)
        try:
            return {
                table: [tuple(r) for r in conn.execute(f"PRAGMA table_info({table})")]
                for table in ("runs", "run_tags", "samples")
            }
        finally:
            conn.close()

    assert columns(migrated) == columns(created)
    indexes = {k for k in schema(migrated) if k.startswith("ix_")}
    assert indexes == {k for k in schema(created) if k.startswith("ix_")}


def test_opening_an_existing_database_twice_keeps_its_data(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    with Store(db_path) as store:
        run_id = store.create_run(make_spec(), n_total=1)
        store.add_results(run_id, [SampleResult(index=0, status=SampleStatus.OK, score=1.0)])
    before = schema(db_path)
    for _ in range(2):
        with Store(db_path) as store:
            assert store.get_run(run_id).n_ok == 1
            assert store.schema_version() == SCHEMA_HEAD
    assert schema(db_path) == before
    # Two stores open on the same file at once (GUI and CLI) both work.
    with Store(db_path) as first, Store(db_path) as second:
        first.set_tags(run_id, ["x"])
        assert second.get_run(run_id).tags == ("x",)


def test_an_up_to_date_database_opens_without_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    Store(db_path).close()

    def no_migration(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("migrate() must not run for a database already at head")

    monkeypatch.setattr(store_module, "migrate", no_migration)
    started = time.perf_counter()
    Store(db_path).close()
    # Generous bound (shared CI machines); the full Alembic path measured ~180-250 ms here,
    # the fast path ~3-15 ms.
    assert time.perf_counter() - started < 1.0


def test_a_new_file_and_a_downgraded_one_are_upgraded_to_head(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    Store(db_path).close()
    # Back to an empty schema through Alembic's own command (env.py without a connection).
    command.downgrade(alembic_config(db_path), "base")
    assert set(schema(db_path)) == {"alembic_version"}
    with Store(db_path) as store:
        assert store.schema_version() == SCHEMA_HEAD
        assert store.list_runs() == []
    assert {"runs", "samples", "run_tags"} <= set(schema(db_path))


def test_migrate_is_a_no_op_at_head(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    Store(db_path).close()
    before = schema(db_path)
    migrate(db_path)
    assert schema(db_path) == before


def test_a_database_from_a_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="newer version of OpenBench Desktop") as info:
        Store(db_path)
    assert "9999" in str(info.value) and "--home" in str(info.value)


def test_stores_opening_a_new_file_at_the_same_time_migrate_it_once(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        try:
            start.wait()
            Store(db_path).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (SCHEMA_HEAD,)
        ]
    finally:
        conn.close()


def test_the_migration_files_are_shipped_as_package_data() -> None:
    """pyproject's package-data globs must cover every file Alembic needs at run time."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["openbench_desktop.core.storage"]
    package_dir = MIGRATIONS_DIR.parent
    shipped = {p for pattern in patterns for p in package_dir.glob(pattern)}
    needed = {MIGRATIONS_DIR / "env.py", *(MIGRATIONS_DIR / "versions").glob("*.py")}
    assert len(needed) >= 2
    assert needed <= shipped
