"""The synchronous repository over SQLite: runs, their tags and their sample results.

``Store`` takes and returns domain objects (:mod:`openbench_desktop.core.domain`); SQL stays
in here. It is safe to share between threads: every call checks a connection out of
SQLAlchemy's pool for its own duration. Reads may run on any thread (WAL lets them proceed
while a write is in progress); during a run all writes should go through the one
:class:`~openbench_desktop.core.storage.writer.ResultWriter` so they are serialised and
batched.

Connection settings, and why:

- ``journal_mode=WAL``: readers (the History view) never block the writer and vice versa.
- ``synchronous=NORMAL``: in WAL mode a commit is one append to the log with no fsync; a
  process crash loses nothing committed and the file never corrupts; a power cut may lose
  the last commits. That trade buys the ingest rate a fast local model needs.
- ``foreign_keys=ON``: deleting a run cascades to its samples and tags.
- ``busy_timeout``: a second process (the CLI next to the GUI) waits for the lock instead
  of failing at once.
- Transactions: ``sqlite3``'s own implicit BEGIN is switched off and SQLAlchemy emits it.
  Writes use ``BEGIN IMMEDIATE``: the write lock is taken (waiting up to the busy timeout)
  before the transaction reads; a deferred transaction that reads and then writes would
  instead fail at once with SQLITE_BUSY if another writer got in between.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool, Pool
from sqlalchemy.sql.elements import ColumnElement

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import (
    ErrorCategory,
    RunManifest,
    RunRecord,
    RunSpec,
    RunStatus,
    RunSummary,
    SampleResult,
    SampleStatus,
)
from openbench_desktop.core.domain.run import to_plain
from openbench_desktop.core.errors import ConfigError, StorageError
from openbench_desktop.core.storage.tables import (
    pack_chars,
    pack_offsets,
    run_tags,
    runs,
    samples,
    unpack_chars,
    unpack_offsets,
)

log = logging.getLogger(__name__)

#: The newest migration in ``migrations/versions``. Opening a database whose
#: ``alembic_version`` already says this skips Alembic entirely (importing it and reading
#: the scripts costs more than the rest of opening). A test checks it equals Alembic's head.
SCHEMA_HEAD: Final = "0002"

BUSY_TIMEOUT_MS: Final = 5000
PAGE_SIZE: Final = 8192
MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"

# Execution option read by the "begin" hook: which BEGIN to emit.
_BEGIN_OPTION: Final = "openbench_begin"

# Columns a listing may be sorted by (user input never reaches SQL as text).
SORTABLE_COLUMNS: Final = frozenset(
    {
        "created_at",
        "finished_at",
        "status",
        "benchmark",
        "model",
        "provider",
        "name",
        "n_total",
        "accuracy",
        "duration_s",
        "cost_usd",
    }
)

# Option / config keys that would mean a secret is about to be written to the database.
# Exact names only: a substring rule would also catch harmless keys like "stop_token".
_SECRET_KEYS: Final = frozenset(
    {
        "api_key",
        "apikey",
        "x_api_key",
        "access_token",
        "auth_token",
        "bearer_token",
        "hf_token",
        "token",
        "authorization",
        "password",
        "secret",
        "secret_key",
        "private_key",
    }
)

# Chunked IN (...) lists stay under old SQLite builds' 999-variable limit.
_IN_CHUNK = 900

# Columns a RunRecord is built from (the listing never reads anything else).
_RECORD_COLUMNS = (
    runs.c.run_id,
    runs.c.created_at,
    runs.c.finished_at,
    runs.c.status,
    runs.c.benchmark,
    runs.c.model,
    runs.c.provider,
    runs.c.base_url,
    runs.c.name,
    runs.c.n_total,
    runs.c.n_ok,
    runs.c.n_failed,
    runs.c.accuracy,
    runs.c.duration_s,
    runs.c.cost_usd,
    runs.c.message,
    runs.c.spec_json,
    runs.c.manifest_json,
    runs.c.summary_json,
)

# The hot path (thousands of rows a second) binds plain tuples to hand-written SQL: going
# through SQLAlchemy's per-row parameter processing cost more than SQLite itself. The order
# here is the order of _result_values() and _result_from_row(); a test checks it names
# every column of the table.
SAMPLE_VALUE_COLUMNS: Final = (
    "run_id",
    "sample_index",
    "sample_id",
    "status",
    "score",
    "error_category",
    "finish_reason",
    "input_tokens",
    "output_tokens",
    "usage_reported",
    "streamed",
    "started_ns",
    "end_offset_ns",
    "ttft_ms",
    "itl_ms",
    "e2e_ms",
    "attempts",
    "retry_wait_ms",
    "extracted",
    "expected",
    "error_message",
    "prompt",
    "output",
    "reasoning",
    "chunk_kinds",
    "chunk_offsets",
    "chunk_chars",
)

# A retried sample replaces its earlier row in place (same id) instead of adding another.
_UPSERT_SAMPLES_SQL: Final = (
    f"INSERT INTO samples ({', '.join(SAMPLE_VALUE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(SAMPLE_VALUE_COLUMNS))}) "
    "ON CONFLICT (run_id, sample_index) DO UPDATE SET "
    + ", ".join(
        f"{name} = excluded.{name}"
        for name in SAMPLE_VALUE_COLUMNS
        if name not in ("run_id", "sample_index")
    )
)

# The rows a batch is about to replace (indices as one JSON array: one fixed statement).
_REPLACED_SQL: Final = (
    "SELECT status, score FROM samples "
    "WHERE run_id = ? AND sample_index IN (SELECT value FROM json_each(?))"
)

# One statement (row-value UPDATE, SQLite >= 3.15) so the counts and the write are atomic.
_RECOUNT_SQL: Final = (
    "UPDATE runs SET (n_done, n_ok, n_failed, n_correct) = ("
    "SELECT count(*), coalesce(sum(status = ?1), 0), coalesce(sum(status = ?2), 0), "
    "coalesce(sum(status = ?1 AND score >= 1.0), 0) FROM samples WHERE run_id = ?3) "
    "WHERE run_id = ?3"
)

_READ_SAMPLE_COLUMNS = tuple(samples.c[name] for name in SAMPLE_VALUE_COLUMNS[1:])


# --- engine -------------------------------------------------------------------------------


def create_sqlite_engine(
    db_path: Path, *, foreign_keys: bool = True, poolclass: type[Pool] | None = None
) -> Engine:
    """An Engine on ``db_path`` with this app's connection settings (see module doc)."""
    url = URL.create("sqlite+pysqlite", database=str(db_path))
    kwargs: dict[str, Any] = {}
    if poolclass is not None:
        kwargs["poolclass"] = poolclass
    # check_same_thread=False: the pool hands a connection to one thread at a time, but
    # not always the thread that opened it.
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Take BEGIN away from sqlite3 (its legacy mode never begins before a SELECT or
        # DDL); the "begin" hook below emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so switching to WAL also waits for a lock.
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Only takes effect on a new, empty file (and must come before WAL). A sample
            # row is ~1-3 kB: 4 kB pages hold one or two and waste a third of the file;
            # 8 kB pages measured ~20% smaller files and ~20% faster ingest here.
            cursor.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            mode = _set_wal(cursor)
            if str(mode).lower() != "wal":
                # E.g. a file system without shared memory: still correct, only slower.
                log.warning("SQLite refused WAL mode for %s (journal_mode=%s)", db_path, mode)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


# --- errors -------------------------------------------------------------------------------


def describe_db_error(db_path: Path, exc: BaseException, action: str = "write to") -> str:
    """A message a person can act on, for a failed database operation.

    ``action`` completes "could not … <db>" ("write to", "read", "open"). Never includes
    parameters of the failed statement (they may hold prompts; never secrets, but long).
    """
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    detail = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    prefix = f"could not {action} {db_path}"
    if primary == sqlite3.SQLITE_FULL:
        return f"{prefix}: disk full ({detail}). Free some disk space and resume the run."
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN):
        return (
            f"{prefix}: {detail}. Check that the file and its folder are writable by you, "
            "or choose another data folder (--home)."
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return (
            f"{prefix}: the database stayed locked by another program for more than "
            f"{BUSY_TIMEOUT_MS // 1000} s ({detail}). Close other OpenBench windows or "
            "command-line runs using this data folder and try again."
        )
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return (
            f"{prefix}: the file is damaged or is not an OpenBench database ({detail}). "
            "Move it aside to start a new history, or restore it from a backup."
        )
    if primary == sqlite3.SQLITE_IOERR:
        return f"{prefix}: input/output error ({detail}). Check the disk, then try again."
    return f"{prefix}: {detail}"


# --- small helpers ------------------------------------------------------------------------


def utc_now_iso() -> str:
    """Now as fixed-width ISO 8601 UTC (microseconds, ``+00:00``): sorts as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _to_iso(value: datetime | str) -> str:
    """A bound for created_at comparisons. Naive values are local time (what a person typed)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dumps(data: Any) -> str:
    return json.dumps(to_plain(data), separators=(",", ":"), ensure_ascii=False)


def _reject_secrets(data: Any, where: str) -> None:
    """Refuse to store a mapping that carries a secret under a well-known key."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if str(key).lower().replace("-", "_") in _SECRET_KEYS and value:
                raise ConfigError(
                    f"{where} has an entry '{key}' that looks like a secret; secrets are kept "
                    "in the key store, never in the run history. Give the key's name "
                    "(api_key_name) instead."
                )
            _reject_secrets(value, where)
    elif isinstance(data, list | tuple):
        for value in data:
            _reject_secrets(value, where)


def _reject_url_secrets(url: str) -> None:
    """A base URL may not carry credentials (user:password@ or ?api_key=…)."""
    parts = urlsplit(url)
    keys = {key.lower().replace("-", "_") for key, _ in parse_qsl(parts.query)}
    if parts.password or keys & (_SECRET_KEYS | {"key"}):
        raise ConfigError(
            "The base URL carries a credential; secrets are kept in the key store, never in "
            "the run history. Remove it from the URL and give the key's name instead."
        )


def _normalise_tags(tags: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        clean = tag.strip()
        if clean:
            seen.setdefault(clean, None)
    return list(seen)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (a reused id counts as alive)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    # os.kill(pid, 0) would *terminate* the process on Windows; ask the kernel instead.
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    process_query_limited_information = 0x1000
    still_active = 259
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        # ERROR_ACCESS_DENIED: the process exists but belongs to someone else.
        return bool(ctypes.get_last_error() == 5)  # type: ignore[attr-defined]
    try:
        exit_code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(exit_code)):
            return True
        return exit_code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def _is_correct(status: str, score: float | None) -> bool:
    return status == SampleStatus.OK.value and score is not None and score >= 1.0


def _result_values(run_id: str, r: SampleResult) -> tuple[Any, ...]:
    """One samples row in SAMPLE_VALUE_COLUMNS order."""
    category = r.error_category
    return (
        run_id,
        r.index,
        r.sample_id,
        r.status.value,
        r.score,
        category.value if category is not None else None,
        r.finish_reason,
        r.input_tokens,
        r.output_tokens,
        int(r.usage_reported),
        int(r.streamed),
        r.started_ns,
        r.end_offset_ns,
        r.ttft_ms,
        r.itl_ms,
        r.e2e_ms,
        r.attempts,
        r.retry_wait_ms,
        r.extracted,
        r.expected,
        r.error_message,
        r.prompt,
        r.output,
        r.reasoning,
        r.chunk_kinds,
        pack_offsets(r.chunk_offsets_ns),
        pack_chars(r.chunk_chars),
    )


def _error_category(value: str | None) -> ErrorCategory | None:
    if value is None:
        return None
    try:
        return ErrorCategory(value)
    except ValueError:  # written by a newer version with more categories
        return ErrorCategory.OTHER


def _result_from_row(row: Sequence[Any]) -> SampleResult:
    """A SampleResult from a row of _READ_SAMPLE_COLUMNS (SAMPLE_VALUE_COLUMNS minus run_id)."""
    (
        index,
        sample_id,
        status,
        score,
        error_category,
        finish_reason,
        input_tokens,
        output_tokens,
        usage_reported,
        streamed,
        started_ns,
        end_offset_ns,
        ttft_ms,
        itl_ms,
        e2e_ms,
        attempts,
        retry_wait_ms,
        extracted,
        expected,
        error_message,
        prompt,
        output,
        reasoning,
        chunk_kinds,
        chunk_offsets,
        chunk_chars,
    ) = row
    return SampleResult(
        index=index,
        status=SampleStatus(status),
        sample_id=sample_id,
        prompt=prompt,
        output=output,
        reasoning=reasoning,
        expected=expected,
        extracted=extracted,
        score=score,
        error_category=_error_category(error_category),
        error_message=error_message,
        finish_reason=finish_reason,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        usage_reported=bool(usage_reported),
        streamed=bool(streamed),
        started_ns=started_ns,
        end_offset_ns=end_offset_ns,
        chunk_offsets_ns=unpack_offsets(chunk_offsets),
        chunk_chars=unpack_chars(chunk_chars),
        chunk_kinds=chunk_kinds,
        ttft_ms=ttft_ms,
        itl_ms=itl_ms,
        e2e_ms=e2e_ms,
        attempts=attempts,
        retry_wait_ms=retry_wait_ms or 0.0,
    )


def _record_from_row(m: Mapping[str, Any], tags: Sequence[str]) -> RunRecord:
    manifest_json = m["manifest_json"]
    summary_json = m["summary_json"]
    return RunRecord(
        run_id=m["run_id"],
        created_at=m["created_at"],
        status=RunStatus(m["status"]),
        benchmark=m["benchmark"],
        model=m["model"],
        provider=m["provider"],
        base_url=m["base_url"],
        name=m["name"],
        tags=tuple(tags),
        n_total=m["n_total"],
        n_ok=m["n_ok"],
        n_failed=m["n_failed"],
        accuracy=m["accuracy"],
        duration_s=m["duration_s"],
        cost_usd=m["cost_usd"],
        spec=RunSpec.from_dict(json.loads(m["spec_json"])),
        manifest=RunManifest.from_dict(json.loads(manifest_json)) if manifest_json else None,
        summary=RunSummary.from_dict(json.loads(summary_json)) if summary_json else None,
        message=m["message"],
        finished_at=m["finished_at"],
    )


# --- the repository -----------------------------------------------------------------------


class Store:
    """Runs and results in one SQLite file; opening it migrates the schema to the newest.

    Raises :class:`StorageError` (with a message for the user) when the file cannot be
    opened, migrated, read or written, or a run id is unknown.
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self._db_path = Path(db_path).expanduser()
        try:
            self._db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"could not create the folder {self._db_path.parent} for the database: "
                f"{exc.strerror or exc}. Choose another data folder (--home)."
            ) from exc
        self._engine = create_sqlite_engine(self._db_path)
        self._hostname = socket.gethostname()
        try:
            self._upgrade_schema()
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def open(cls, paths: AppPaths) -> Store:
        """The app's database under ``paths`` (created and migrated as needed)."""
        return cls(paths.database)

    @property
    def db_path(self) -> Path:
        return self._db_path

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools and tests; application code uses the methods)."""
        return self._engine

    def close(self) -> None:
        """Close all pooled connections (the last one out checkpoints the WAL)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------

    def schema_version(self) -> str | None:
        """The ``alembic_version`` of the file (None for a database never migrated)."""
        with self._reading("open") as conn:
            return self._schema_version(conn)

    @staticmethod
    def _schema_version(conn: Connection) -> str | None:
        has_table = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).first()
        if has_table is None:
            return None
        versions = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
        if not versions:
            return None  # stamped to base (everything downgraded)
        return ",".join(sorted(versions))  # more than one only with branches

    def _upgrade_schema(self) -> None:
        if self.schema_version() == SCHEMA_HEAD:
            return  # the common case: no Alembic import, no script scan
        migrate(self._db_path)

    # --- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, action: str = "read") -> Iterator[Connection]:
        """A connection in one deferred (snapshot) transaction, rolled back at the end."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StorageError(describe_db_error(self._db_path, exc, action)) from exc

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A connection in a ``BEGIN IMMEDIATE`` transaction, committed on success."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
                with conn.begin():
                    yield conn
        except DBAPIError as exc:
            raise StorageError(describe_db_error(self._db_path, exc, "write to")) from exc

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
            raise StorageError(f"No run with id {run_id}")

    # --- runs: writes ---------------------------------------------------------------------

    def create_run(
        self,
        spec: RunSpec,
        *,
        n_total: int,
        manifest: RunManifest | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a new run as RUNNING in this process; returns its id (uuid4 hex)."""
        _reject_secrets(spec.options, "The run's options")
        _reject_url_secrets(spec.base_url)
        manifest_json = None
        if manifest is not None:
            _reject_secrets(manifest.config, "The run manifest's config")
            manifest_json = _dumps(manifest)
        chosen = run_id is not None
        run_id = run_id or uuid.uuid4().hex
        now = utc_now_iso()
        with self._writing() as conn:
            if (
                chosen
                and conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first()
            ):
                raise StorageError(f"A run with id {run_id} already exists")
            conn.execute(
                insert(runs).values(
                    run_id=run_id,
                    created_at=now,
                    started_at=now,
                    status=RunStatus.RUNNING.value,
                    benchmark=spec.benchmark,
                    model=spec.model,
                    provider=spec.provider,
                    base_url=spec.base_url,
                    name=spec.name,
                    n_total=n_total,
                    pid=os.getpid(),
                    hostname=self._hostname,
                    spec_json=_dumps(spec),
                    manifest_json=manifest_json,
                )
            )
            tags = _normalise_tags(spec.tags)
            if tags:
                conn.execute(insert(run_tags), [{"run_id": run_id, "tag": t} for t in tags])
        return run_id

    def add_results(self, run_id: str, results: Sequence[SampleResult]) -> None:
        """Store results in one transaction; a result for an index already stored replaces it."""
        self.add_result_batches([(run_id, results)])

    def add_result_batches(self, batches: Iterable[tuple[str, Sequence[SampleResult]]]) -> None:
        """Several runs' results in ONE transaction (the writer's commit unit).

        Later results for the same (run, index) win. The run's counters move by the
        difference between the new rows and the rows they replace, so a batch costs a
        lookup per row rather than a recount of the whole run.
        """
        merged: dict[str, dict[int, SampleResult]] = {}
        for run_id, results in batches:
            by_index = merged.setdefault(run_id, {})
            for result in results:
                by_index[result.index] = result
        if not merged:
            return
        with self._writing() as conn:
            for run_id, by_index in merged.items():
                if by_index:
                    self._write_results(conn, run_id, by_index)

    def _write_results(
        self, conn: Connection, run_id: str, by_index: Mapping[int, SampleResult]
    ) -> None:
        d_done = d_ok = d_failed = d_correct = 0
        replaced = conn.exec_driver_sql(_REPLACED_SQL, (run_id, json.dumps(list(by_index))))
        for status, score in replaced:
            d_done -= 1
            d_ok -= status == SampleStatus.OK.value
            d_failed -= status == SampleStatus.FAILED.value
            d_correct -= _is_correct(status, score)
        rows = []
        for result in by_index.values():
            rows.append(_result_values(run_id, result))
            d_done += 1
            d_ok += result.status is SampleStatus.OK
            d_failed += result.status is SampleStatus.FAILED
            d_correct += result.correct
        updated = conn.exec_driver_sql(
            "UPDATE runs SET n_done = n_done + ?, n_ok = n_ok + ?, n_failed = n_failed + ?, "
            "n_correct = n_correct + ? WHERE run_id = ?",
            (d_done, d_ok, d_failed, d_correct, run_id),
        )
        if updated.rowcount == 0:
            raise StorageError(f"No run with id {run_id}")
        conn.exec_driver_sql(_UPSERT_SAMPLES_SQL, rows)

    def _recount(self, conn: Connection, run_id: str) -> None:
        """Recompute the counters from the rows (once per run end; guards against drift)."""
        conn.exec_driver_sql(
            _RECOUNT_SQL, (SampleStatus.OK.value, SampleStatus.FAILED.value, run_id)
        )

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        summary: RunSummary | None = None,
        message: str | None = None,
    ) -> None:
        """End a run with a terminal status; figures come from ``summary`` when given."""
        if not status.terminal:
            raise ValueError(f"finish_run needs a terminal status, not {status}")
        now = utc_now_iso()
        with self._writing() as conn:
            started = conn.execute(
                select(runs.c.started_at, runs.c.created_at).where(runs.c.run_id == run_id)
            ).first()
            if started is None:
                raise StorageError(f"No run with id {run_id}")
            duration_s: float | None = None
            if summary is not None and summary.duration_s is not None:
                duration_s = summary.duration_s
            else:
                begun = datetime.fromisoformat(started.started_at or started.created_at)
                duration_s = (datetime.fromisoformat(now) - begun).total_seconds()
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(
                    status=status.value,
                    finished_at=now,
                    duration_s=duration_s,
                    accuracy=summary.accuracy if summary is not None else None,
                    summary_json=_dumps(summary) if summary is not None else None,
                    message=message if message is not None or summary is None else summary.message,
                )
            )
            self._recount(conn, run_id)

    def set_status(self, run_id: str, status: RunStatus, message: str | None = None) -> None:
        """Change the status (and message: ``None`` clears it).

        A terminal status stamps ``finished_at`` if unset; RUNNING (a resumed run) clears
        it and claims the run for this process, so the next start does not mistake the
        resumed run for an interrupted one.
        """
        values: dict[str, Any] = {"status": status.value, "message": message}
        if status.terminal:
            values["finished_at"] = func.coalesce(runs.c.finished_at, utc_now_iso())
        else:
            values["finished_at"] = None
        if status is RunStatus.RUNNING:
            values.update(pid=os.getpid(), hostname=self._hostname)
        self._update_run(run_id, values)

    def set_total(self, run_id: str, n_total: int) -> None:
        """How many samples the run covers, once known (a speed run bounded by time)."""
        self._update_run(run_id, {"n_total": int(n_total)})

    def set_manifest(self, run_id: str, manifest: RunManifest) -> None:
        _reject_secrets(manifest.config, "The run manifest's config")
        self._update_run(run_id, {"manifest_json": _dumps(manifest)})

    def set_cost(self, run_id: str, usd: float | None) -> None:
        self._update_run(run_id, {"cost_usd": usd})

    def set_tags(self, run_id: str, tags: Iterable[str]) -> None:
        """Replace the run's tags (blank ones dropped, duplicates merged)."""
        clean = _normalise_tags(tags)
        with self._writing() as conn:
            self._require_run(conn, run_id)
            conn.execute(delete(run_tags).where(run_tags.c.run_id == run_id))
            if clean:
                conn.execute(insert(run_tags), [{"run_id": run_id, "tag": t} for t in clean])

    def delete_run(self, run_id: str) -> None:
        """Delete a run with its samples and tags (cascade)."""
        with self._writing() as conn:
            deleted = conn.execute(delete(runs).where(runs.c.run_id == run_id))
            if deleted.rowcount == 0:
                raise StorageError(f"No run with id {run_id}")

    def _update_run(self, run_id: str, values: Mapping[str, Any]) -> None:
        with self._writing() as conn:
            updated = conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))
            if updated.rowcount == 0:
                raise StorageError(f"No run with id {run_id}")

    def mark_interrupted(self) -> list[str]:
        """Mark RUNNING runs of this machine whose process is gone as INTERRUPTED.

        Call once at start-up. Runs started on another host (a shared folder) are left
        alone: their pid means nothing here. Returns the ids marked. Only reads unless
        there is something to mark, so start-up never waits for another process's write.
        """
        with self._reading() as conn:
            candidates = conn.execute(
                select(runs.c.run_id, runs.c.pid, runs.c.hostname).where(
                    runs.c.status == RunStatus.RUNNING.value
                )
            ).all()
        dead = [
            (row.run_id, row.pid)
            for row in candidates
            if row.hostname == self._hostname and not (row.pid and _pid_alive(row.pid))
        ]
        marked: list[str] = []
        if not dead:
            return marked
        with self._writing() as conn:
            for run_id, pid in dead:
                who = f"process {pid}" if pid else "process running it"
                updated = conn.execute(
                    update(runs)
                    # Still the same dead owner: not resumed meanwhile by another process.
                    .where(
                        runs.c.run_id == run_id,
                        runs.c.status == RunStatus.RUNNING.value,
                        runs.c.pid.is_not_distinct_from(pid),
                    )
                    .values(
                        status=RunStatus.INTERRUPTED.value,
                        message=(
                            f"The {who} stopped before the run finished (it was closed, "
                            "killed or crashed). Results saved so far are kept; resume the "
                            "run to do the rest."
                        ),
                    )
                )
                if updated.rowcount:
                    self._recount(conn, run_id)
                    marked.append(run_id)
        return marked

    # --- runs: reads ----------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        with self._reading() as conn:
            row = conn.execute(select(*_RECORD_COLUMNS).where(runs.c.run_id == run_id)).first()
            if row is None:
                raise StorageError(f"No run with id {run_id}")
            tags = self._tags_for(conn, [run_id])
        return _record_from_row(row._mapping, tags.get(run_id, ()))

    def resolve_run_id(self, prefix: str) -> str:
        """The one run id that equals or starts with ``prefix`` (like git's short hashes)."""
        wanted = prefix.strip().lower()
        if not wanted:
            raise StorageError("Give a run id, or the first few characters of one.")
        # GLOB (case-sensitive, unlike LIKE) can use the primary key index for a prefix;
        # its wildcards in the input are escaped as one-character classes.
        pattern = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in wanted) + "*"
        with self._reading() as conn:
            if conn.execute(select(runs.c.run_id).where(runs.c.run_id == wanted)).first():
                return wanted
            matches: list[str] = [
                r[0]
                for r in conn.execute(
                    select(runs.c.run_id)
                    .where(runs.c.run_id.op("GLOB")(pattern))
                    .order_by(runs.c.run_id)
                    .limit(6)
                )
            ]
        if not matches:
            raise StorageError(f"No run with id starting with '{prefix.strip()}'.")
        if len(matches) > 1:
            shown = ", ".join(m[: max(len(wanted) + 4, 8)] for m in matches[:5])
            more = ", …" if len(matches) > 5 else ""
            raise StorageError(
                f"'{prefix.strip()}' matches several runs ({shown}{more}); "
                "give more characters of the id."
            )
        return matches[0]

    def list_runs(
        self,
        *,
        limit: int | None = 100,
        offset: int = 0,
        text: str | None = None,
        benchmark: str | None = None,
        model: str | None = None,
        status: RunStatus | Collection[RunStatus] | None = None,
        tag: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
    ) -> list[RunRecord]:
        """One page of the history. Never reads samples.

        ``text`` matches part of the name, model, benchmark or run id (case-insensitive);
        ``since`` is inclusive and ``until`` exclusive on created_at; naive datetimes are
        local time. Ties are broken by run id so pages never overlap.
        """
        if order_by not in SORTABLE_COLUMNS:
            raise ValueError(
                f"cannot sort runs by {order_by!r}; choose one of {sorted(SORTABLE_COLUMNS)}"
            )
        column = runs.c[order_by]
        keys = [column.desc() if descending else column.asc()]
        if column.nullable:
            keys[0] = keys[0].nulls_last()
        keys.append(runs.c.run_id.desc() if descending else runs.c.run_id.asc())
        query = (
            select(*_RECORD_COLUMNS)
            .where(*self._filters(text, benchmark, model, status, tag, since, until))
            .order_by(*keys)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            rows = conn.execute(query).all()
            tags = self._tags_for(conn, [r.run_id for r in rows])
        return [_record_from_row(row._mapping, tags.get(row.run_id, ())) for row in rows]

    def count_runs(
        self,
        *,
        text: str | None = None,
        benchmark: str | None = None,
        model: str | None = None,
        status: RunStatus | Collection[RunStatus] | None = None,
        tag: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> int:
        """How many runs :meth:`list_runs` would page through with these filters."""
        query = select(func.count()).select_from(runs)
        query = query.where(*self._filters(text, benchmark, model, status, tag, since, until))
        with self._reading() as conn:
            return int(conn.execute(query).scalar_one())

    def run_facets(self) -> dict[str, list[str]]:
        """The distinct benchmarks, models and tags in the history, sorted (filter menus).

        Each is a walk of an index (no table scan, no sort), so it stays quick with
        thousands of runs.
        """
        with self._reading() as conn:
            facets = {
                key: [
                    r[0]
                    for r in conn.execute(select(column).distinct().order_by(column))
                ]
                for key, column in (
                    ("benchmark", runs.c.benchmark),
                    ("model", runs.c.model),
                    ("tag", run_tags.c.tag),
                )
            }
        return facets

    @staticmethod
    def _filters(
        text: str | None,
        benchmark: str | None,
        model: str | None,
        status: RunStatus | Collection[RunStatus] | None,
        tag: str | None,
        since: datetime | str | None,
        until: datetime | str | None,
    ) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if text and text.strip():
            escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            clauses.append(
                or_(
                    *(
                        col.like(pattern, escape="\\")
                        for col in (runs.c.name, runs.c.model, runs.c.benchmark, runs.c.run_id)
                    )
                )
            )
        if benchmark is not None:
            clauses.append(runs.c.benchmark == benchmark)
        if model is not None:
            clauses.append(runs.c.model == model)
        if isinstance(status, RunStatus | str):
            clauses.append(runs.c.status == RunStatus(status).value)
        elif status is not None:
            clauses.append(runs.c.status.in_([RunStatus(s).value for s in status]))
        if tag is not None:
            clauses.append(
                exists().where(run_tags.c.run_id == runs.c.run_id, run_tags.c.tag == tag)
            )
        if since is not None:
            clauses.append(runs.c.created_at >= _to_iso(since))
        if until is not None:
            clauses.append(runs.c.created_at < _to_iso(until))
        return clauses

    @staticmethod
    def _tags_for(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[str]]:
        tags: dict[str, list[str]] = {}
        for start in range(0, len(run_ids), _IN_CHUNK):
            chunk = run_ids[start : start + _IN_CHUNK]
            query = (
                select(run_tags.c.run_id, run_tags.c.tag)
                .where(run_tags.c.run_id.in_(chunk))
                .order_by(run_tags.c.run_id, run_tags.c.tag)
            )
            for run_id, tag in conn.execute(query):
                tags.setdefault(run_id, []).append(tag)
        return tags

    # --- results: reads -------------------------------------------------------------------

    def get_results(
        self, run_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[SampleResult]:
        """A run's results ordered by sample index (an unknown run raises StorageError)."""
        query = (
            select(*_READ_SAMPLE_COLUMNS)
            .where(samples.c.run_id == run_id)
            .order_by(samples.c.sample_index)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            rows = conn.execute(query).all()
            if not rows:
                self._require_run(conn, run_id)
        return [_result_from_row(row) for row in rows]

    def iter_results(self, run_id: str, batch_size: int = 2000) -> Iterator[SampleResult]:
        """All of a run's results by index, ``batch_size`` rows per query.

        Pages by the last index seen (not OFFSET, which rescans), and holds no transaction
        between pages, so a long export never pins the WAL.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        with self._reading() as conn:
            self._require_run(conn, run_id)
        last = -(2**63)
        while True:
            query = (
                select(*_READ_SAMPLE_COLUMNS)
                .where(samples.c.run_id == run_id, samples.c.sample_index > last)
                .order_by(samples.c.sample_index)
                .limit(batch_size)
            )
            with self._reading() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                yield _result_from_row(row)
            if len(rows) < batch_size:
                return
            last = rows[-1].sample_index

    def existing_indices(self, run_id: str, *, status: SampleStatus | None = None) -> set[int]:
        """Sample indices already stored for the run (optionally only with ``status``)."""
        query = select(samples.c.sample_index).where(samples.c.run_id == run_id)
        if status is not None:
            query = query.where(samples.c.status == SampleStatus(status).value)
        with self._reading() as conn:
            return {r[0] for r in conn.execute(query)}


# --- migrations ---------------------------------------------------------------------------


def alembic_config(db_path: Path | None = None) -> Any:
    """An ``alembic.config.Config`` for the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates "%": a path such as C:\Users\50%off would break unescaped.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if db_path is not None:
        url = URL.create("sqlite+pysqlite", database=str(db_path))
        config.set_main_option(
            "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def _set_wal(cursor: sqlite3.Cursor) -> str:
    """Switch to WAL, retrying while another connection holds the lock.

    Changing the journal mode of a new file needs an exclusive lock, and SQLite may report
    "database is locked" at once instead of calling the busy handler when several
    connections open a new file together (seen with two stores starting at once).
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(db_path: Path, revision: str = "head") -> None:
    """Bring the file's schema to ``revision`` in one transaction (all or nothing).

    Runs with foreign keys OFF, as SQLite's own procedure for schema changes says: a
    batch migration copies a table and drops the old one, which with foreign keys ON
    would cascade-delete every sample. Integrity is checked before commit instead.
    """
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = alembic_config(db_path)
    scripts = ScriptDirectory.from_config(config)
    engine = create_sqlite_engine(db_path, foreign_keys=False, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            # IMMEDIATE: a second process opening the same new file waits, then sees the
            # version the first one wrote instead of creating the tables twice.
            conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            with conn.begin():
                current = Store._schema_version(conn)
                if current is not None:
                    for version in current.split(","):
                        try:
                            scripts.get_revision(version)
                        except Exception as exc:
                            raise StorageError(
                                f"{db_path} was written by a newer version of OpenBench "
                                f"Desktop (schema {current}; this version knows up to "
                                f"{SCHEMA_HEAD}). Update the app, or use another data "
                                "folder (--home)."
                            ) from exc
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
                problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise StorageError(
                        f"could not migrate {db_path}: {len(problems)} rows would break "
                        "references between tables; the file was left unchanged."
                    )
    except DBAPIError as exc:
        raise StorageError(describe_db_error(db_path, exc, "migrate")) from exc
    except CommandError as exc:
        raise StorageError(f"could not migrate {db_path}: {exc}") from exc
    finally:
        engine.dispose()
