"""The SQLite schema as SQLAlchemy Core tables, and the packing of per-chunk arrays.

This metadata is what the code queries against and what ``alembic`` autogenerate compares
with; the schema a database actually has comes from the numbered migrations in
``migrations/versions`` (a test proves the two agree).

Column order is deliberate: SQLite stores a row's columns in order and moves the tail of
a large row to overflow pages, so the small columns that listings filter and sort on come
first and the bulky ones (JSON, prompts, outputs, chunk arrays) last. A history scan then
reads only the first page of each row.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# Named constraints: SQLite's batch migrations (table copy) need names to find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, nullable=False),  # uuid4 hex
    # ISO 8601 UTC with fixed width (microseconds, +00:00) so text order is time order.
    Column("created_at", Text, nullable=False),
    Column("started_at", Text),
    Column("finished_at", Text),
    Column("status", Text, nullable=False),
    Column("benchmark", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("base_url", Text, nullable=False),
    Column("name", Text),
    Column("n_total", Integer, nullable=False, server_default=text("0")),
    Column("n_done", Integer, nullable=False, server_default=text("0")),
    Column("n_ok", Integer, nullable=False, server_default=text("0")),
    Column("n_failed", Integer, nullable=False, server_default=text("0")),
    Column("n_correct", Integer, nullable=False, server_default=text("0")),
    Column("accuracy", Float),
    Column("duration_s", Float),
    Column("cost_usd", Float),
    Column("message", Text),
    # Which process on which machine runs it: lets the next start tell a run whose
    # process died (INTERRUPTED) from one another live process is still writing.
    Column("pid", Integer),
    Column("hostname", Text),
    Column("spec_json", Text, nullable=False),
    Column("manifest_json", Text),
    Column("summary_json", Text),
    PrimaryKeyConstraint("run_id"),
    # The History view sorts by created_at (newest first) and filters by one of status,
    # benchmark or model: each filter has an index that also yields created_at order, so
    # the first page is an index range walk with no sort. run_id is the tiebreak of the
    # ORDER BY, so it is in every index too (keeps pages stable when timestamps tie).
    Index(None, "created_at", "run_id"),
    Index(None, "status", "created_at", "run_id"),
    Index(None, "benchmark", "created_at", "run_id"),
    Index(None, "model", "created_at", "run_id"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column(
        "run_id",
        Text,
        ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("tag", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "tag"),
    Index(None, "tag"),
)

samples = Table(
    "samples",
    metadata,
    # A plain INTEGER PRIMARY KEY (SQLite's rowid) is assigned automatically; the
    # AUTOINCREMENT keyword would only add a sqlite_sequence write per insert to forbid
    # reuse of ids of deleted rows, which nothing here relies on.
    Column("id", Integer, nullable=False),
    Column(
        "run_id",
        Text,
        ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("sample_index", Integer, nullable=False),
    Column("sample_id", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False),
    Column("score", Float),
    Column("error_category", Text),
    Column("finish_reason", Text),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("usage_reported", Boolean, nullable=False),
    Column("streamed", Boolean, nullable=False),
    Column("started_ns", Integer, nullable=False),
    Column("end_offset_ns", Integer),
    Column("ttft_ms", Float),
    Column("itl_ms", Float),
    Column("e2e_ms", Float),
    Column("attempts", Integer, nullable=False, server_default=text("1")),
    Column("extracted", Text),
    Column("expected", Text, nullable=False, server_default=""),
    Column("error_message", Text),
    Column("prompt", Text, nullable=False, server_default=""),
    Column("output", Text, nullable=False, server_default=""),
    Column("reasoning", Text, nullable=False, server_default=""),
    Column("chunk_kinds", Text, nullable=False, server_default=""),
    Column("chunk_offsets", LargeBinary),  # see pack_offsets()
    Column("chunk_chars", LargeBinary),  # see pack_chars()
    Column("retry_wait_ms", Float, nullable=False, server_default=text("0")),  # 0002
    PrimaryKeyConstraint("id"),
    # Also the index for "results of a run in order", cascade deletes and retries.
    UniqueConstraint("run_id", "sample_index"),
)


# --- chunk arrays -------------------------------------------------------------------------
# Stored as raw little-endian integers: 64 chunks cost 512 + 256 bytes instead of ~1.5 kB
# of JSON, and unpacking is a memcpy rather than a parse.

_BIG_ENDIAN = sys.byteorder == "big"
_INT32 = next(code for code in ("i", "l") if array(code).itemsize == 4)
_INT64 = next(code for code in ("q", "l") if array(code).itemsize == 8)


def _pack(typecode: str, values: Sequence[int]) -> bytes | None:
    if not values:
        return None  # NULL: an empty array needs no bytes at all
    packed = array(typecode, values)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


def _unpack(typecode: str, blob: bytes | None) -> tuple[int, ...]:
    if not blob:
        return ()
    packed = array(typecode)
    packed.frombytes(blob)
    if _BIG_ENDIAN:
        packed.byteswap()
    return tuple(packed)


def pack_offsets(values: Sequence[int]) -> bytes | None:
    """Chunk arrival offsets in ns: int64 little-endian (an int32 would wrap at 2.1 s)."""
    return _pack(_INT64, values)


def unpack_offsets(blob: bytes | None) -> tuple[int, ...]:
    return _unpack(_INT64, blob)


def pack_chars(values: Sequence[int]) -> bytes | None:
    """Characters per chunk: int32 little-endian."""
    return _pack(_INT32, values)


def unpack_chars(blob: bytes | None) -> tuple[int, ...]:
    return _unpack(_INT32, blob)
