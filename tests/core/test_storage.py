"""Store: the repository over a real SQLite file (round trips, filters, counters, cascade)."""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import (
    DatasetRef,
    ErrorCategory,
    GenerationParams,
    RunManifest,
    RunSpec,
    RunStatus,
    RunSummary,
    SampleResult,
    SampleStatus,
)
from openbench_desktop.core.errors import ConfigError, StorageError
from openbench_desktop.core.storage import Store
from openbench_desktop.core.storage.store import (
    PAGE_SIZE,
    SAMPLE_VALUE_COLUMNS,
    SORTABLE_COLUMNS,
)
from openbench_desktop.core.storage.tables import (
    pack_chars,
    pack_offsets,
    samples,
    unpack_chars,
    unpack_offsets,
)

# --- helpers ------------------------------------------------------------------------------


def make_spec(**changes: Any) -> RunSpec:
    spec = RunSpec(
        provider="openai",
        base_url="http://127.0.0.1:8000/v1",
        model="llama-3.1-8b",
        benchmark="gsm8k",
        dataset=DatasetRef(hub_id="openai/gsm8k", hub_config="main", split="test"),
        params=GenerationParams(temperature=0.2, max_tokens=256, system_prompt="Be brief."),
        seed=7,
        limit=50,
        concurrency=4,
        api_key_name="LOCAL_KEY",
        name="baseline",
        tags=("nightly", "gpu"),
        options={"few_shot": 5, "nested": {"a": [1, 2]}},
    )
    return replace(spec, **changes)


def make_manifest(**changes: Any) -> RunManifest:
    manifest = RunManifest(
        app_version="0.1.0",
        python_version="3.11.7",
        platform="Linux-x86_64",
        package_versions={"httpx": "0.27.0", "SQLAlchemy": "2.1.9"},
        dataset_sha256="ab" * 32,
        dataset_description="openai/gsm8k:main:test",
        n_dataset_samples=1319,
        config={"spec": {"model": "llama-3.1-8b"}, "limit": 50},
        created_at="2026-01-02T03:04:05.000006+00:00",
    )
    return replace(manifest, **changes)


def make_summary(run_id: str, **changes: Any) -> RunSummary:
    summary = RunSummary(
        run_id=run_id,
        status=RunStatus.COMPLETED,
        benchmark="gsm8k",
        model="llama-3.1-8b",
        n_samples=4,
        n_ok=3,
        n_failed=1,
        n_correct=2,
        accuracy=2 / 3,
        accuracy_ci=(0.2, 0.94),
        accuracy_all=0.5,
        ttft_ms={"p50": 120.5, "p90": 200.0, "p95": None, "p99": None, "mean": 130.0},
        itl_ms={"p50": 12.0},
        e2e_ms={"p50": 900.0},
        output_tokens_per_s=88.5,
        input_tokens=400,
        output_tokens=300,
        usage_complete=True,
        duration_s=12.5,
        error_counts={"timeout": 1},
        message=None,
    )
    return replace(summary, **changes)


def full_result(index: int) -> SampleResult:
    """A result with every field set to a non-default value."""
    return SampleResult(
        index=index,
        status=SampleStatus.OK,
        sample_id=f"q-{index}",
        prompt=f"What is {index} + 1? Ünïcødé ✓ and a quote ' and \0 byte",
        output=f"The answer is {index + 1}.",
        reasoning="1 + 1 ... think",
        expected=str(index + 1),
        extracted=str(index + 1),
        score=1.0,
        error_category=ErrorCategory.PARSE,
        error_message="partial parse",
        finish_reason="stop",
        input_tokens=31,
        output_tokens=9,
        usage_reported=True,
        streamed=False,
        started_ns=123_456_789_012_345,
        end_offset_ns=3_000_000_123,
        chunk_offsets_ns=(150_000_000, 2**31 + 5, 3_000_000_000, 2**62),
        chunk_chars=(0, 5, 2**31 - 1, 7),
        chunk_kinds="ercc",
        ttft_ms=150.0,
        itl_ms=12.25,
        e2e_ms=3000.000123,
        attempts=3,
    )


def ok(index: int, *, correct: bool = True) -> SampleResult:
    return SampleResult(index=index, status=SampleStatus.OK, score=1.0 if correct else 0.0)


def failed(index: int) -> SampleResult:
    return SampleResult(
        index=index,
        status=SampleStatus.FAILED,
        error_category=ErrorCategory.TIMEOUT,
        error_message="timed out",
    )


def sql(store: Store, statement: str, **params: Any) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(text(statement), params))


def set_created_at(store: Store, run_id: str, when: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE runs SET created_at = :when WHERE run_id = :run_id"),
            {"when": when, "run_id": run_id},
        )


def recount(store: Store, run_id: str) -> tuple[int, int, int, int]:
    row = sql(
        store,
        "SELECT count(*), coalesce(sum(status = 'ok'), 0), coalesce(sum(status = 'failed'), 0),"
        " coalesce(sum(status = 'ok' AND score >= 1.0), 0) FROM samples WHERE run_id = :r",
        r=run_id,
    )[0]
    return tuple(row)  # type: ignore[return-value]


def counters(store: Store, run_id: str) -> tuple[int, int, int, int]:
    row = sql(
        store, "SELECT n_done, n_ok, n_failed, n_correct FROM runs WHERE run_id = :r", r=run_id
    )[0]
    return tuple(row)  # type: ignore[return-value]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "openbench.sqlite3") as opened:
        yield opened


# --- opening ------------------------------------------------------------------------------


def test_open_under_app_paths_creates_the_file(app_home: Path) -> None:
    paths = AppPaths.resolve()
    with Store.open(paths) as store:
        assert store.db_path == paths.database
        assert paths.database.is_file()
        assert store.list_runs() == []


def test_connections_use_wal_normal_sync_foreign_keys_and_busy_timeout(store: Store) -> None:
    with store.engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "page_size")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "page_size": PAGE_SIZE,
    }


def test_a_file_that_is_not_a_database_gives_an_actionable_error(tmp_path: Path) -> None:
    path = tmp_path / "openbench.sqlite3"
    path.write_bytes(b"this is a text file, not SQLite\n" * 100)
    with pytest.raises(StorageError, match="not an OpenBench database") as info:
        Store(path)
    assert str(path) in str(info.value)


def test_readers_are_not_blocked_by_an_open_write_transaction(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=1)
    other = sqlite3.connect(store.db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE runs SET name = 'uncommitted' WHERE run_id = ?", (run_id,))
        # WAL: the reader neither waits for the lock nor sees the uncommitted change.
        assert store.get_run(run_id).name == "baseline"
        assert store.count_runs() == 1
        other.execute("COMMIT")
        assert store.get_run(run_id).name == "uncommitted"
    finally:
        other.close()


# --- chunk arrays -------------------------------------------------------------------------


def test_chunk_arrays_pack_little_endian_and_unpack_exactly() -> None:
    assert pack_offsets([1, 2**40]) == (1).to_bytes(8, "little") + (2**40).to_bytes(8, "little")
    assert pack_chars([1, 300]) == (1).to_bytes(4, "little") + (300).to_bytes(4, "little")
    assert pack_offsets([]) is None and unpack_offsets(None) == () and unpack_offsets(b"") == ()
    rng = random.Random(5)
    for n in (1, 2, 64, 4096):
        offsets = tuple(rng.randrange(0, 2**63) for _ in range(n))
        chars = tuple(rng.randrange(-(2**31), 2**31) for _ in range(n))
        assert unpack_offsets(pack_offsets(offsets)) == offsets
        assert unpack_chars(pack_chars(chars)) == chars
        assert len(pack_offsets(offsets) or b"") == 8 * n
        assert len(pack_chars(chars) or b"") == 4 * n


def test_value_columns_name_every_sample_column_once() -> None:
    assert len(set(SAMPLE_VALUE_COLUMNS)) == len(SAMPLE_VALUE_COLUMNS)
    assert set(SAMPLE_VALUE_COLUMNS) == {c.name for c in samples.c} - {"id"}


# --- runs ---------------------------------------------------------------------------------


def test_create_run_round_trips_spec_and_manifest(store: Store) -> None:
    spec, manifest = make_spec(), make_manifest()
    before = datetime.now(UTC)
    run_id = store.create_run(spec, n_total=50, manifest=manifest)
    after = datetime.now(UTC)

    assert len(run_id) == 32 and int(run_id, 16) >= 0  # uuid4 hex
    record = store.get_run(run_id)
    assert record.run_id == run_id
    assert record.status is RunStatus.RUNNING
    assert before <= datetime.fromisoformat(record.created_at) <= after
    assert record.created_at.endswith("+00:00") and len(record.created_at) == 32
    assert (record.benchmark, record.model, record.provider, record.base_url, record.name) == (
        "gsm8k",
        "llama-3.1-8b",
        "openai",
        "http://127.0.0.1:8000/v1",
        "baseline",
    )
    assert record.tags == ("gpu", "nightly")
    assert (record.n_total, record.n_ok, record.n_failed) == (50, 0, 0)
    assert record.accuracy is None and record.duration_s is None and record.cost_usd is None
    assert record.spec == spec
    assert record.spec.options["nested"] == {"a": [1, 2]}
    assert record.manifest == manifest
    assert record.summary is None and record.finished_at is None and record.message is None
    pid, hostname, started_at = sql(
        store, "SELECT pid, hostname, started_at FROM runs WHERE run_id = :r", r=run_id
    )[0]
    assert pid == os.getpid() and hostname == socket.gethostname()
    assert started_at == record.created_at


def test_create_run_with_a_chosen_id_and_duplicates(store: Store) -> None:
    assert store.create_run(make_spec(), n_total=1, run_id="abc123") == "abc123"
    with pytest.raises(StorageError, match="already exists"):
        store.create_run(make_spec(), n_total=1, run_id="abc123")
    assert store.count_runs() == 1


def test_secrets_are_refused_and_only_the_key_name_is_stored(store: Store) -> None:
    with pytest.raises(ConfigError, match="secret"):
        store.create_run(make_spec(options={"api_key": "fake-live-123"}), n_total=1)
    with pytest.raises(ConfigError, match="secret"):
        store.create_run(make_spec(options={"headers": {"Authorization": "Bearer x"}}), n_total=1)
    with pytest.raises(ConfigError, match="credential"):
        store.create_run(make_spec(base_url="https://me:hunter2@api.example.com/v1"), n_total=1)
    with pytest.raises(ConfigError, match="credential"):
        store.create_run(make_spec(base_url="https://api.example.com/v1?api_key=abc"), n_total=1)
    with pytest.raises(ConfigError, match="secret"):
        store.create_run(
            make_spec(), n_total=1, manifest=make_manifest(config={"hf_token": "hf_x"})
        )
    assert store.count_runs() == 0

    run_id = store.create_run(make_spec(options={"stop_token": "</s>"}), n_total=1)
    (spec_json,) = sql(store, "SELECT spec_json FROM runs WHERE run_id = :r", r=run_id)[0]
    assert '"api_key_name":"LOCAL_KEY"' in spec_json
    assert "fake-live" not in store.db_path.read_bytes().decode("latin-1")


def test_get_run_of_an_unknown_id_raises(store: Store) -> None:
    with pytest.raises(StorageError, match="No run with id nope"):
        store.get_run("nope")


def test_finish_run_with_summary(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=4)
    store.add_results(run_id, [ok(0), ok(1), ok(2, correct=False), failed(3)])
    summary = make_summary(run_id)
    store.finish_run(run_id, RunStatus.COMPLETED, summary=summary)

    record = store.get_run(run_id)
    assert record.status is RunStatus.COMPLETED
    assert record.summary == summary
    assert record.accuracy == pytest.approx(2 / 3)
    assert record.duration_s == 12.5
    assert record.finished_at is not None and record.finished_at >= record.created_at
    assert (record.n_ok, record.n_failed) == (3, 1)
    assert counters(store, run_id) == (4, 3, 1, 2)


def test_finish_run_without_summary_measures_duration_and_keeps_message(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=4)
    store.finish_run(run_id, RunStatus.FAILED, message="401 Unauthorized: check the key")
    record = store.get_run(run_id)
    assert record.status is RunStatus.FAILED
    assert record.message == "401 Unauthorized: check the key"
    assert record.summary is None and record.accuracy is None
    assert record.duration_s is not None and 0 <= record.duration_s < 60


def test_finish_run_takes_the_message_from_the_summary(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=4)
    summary = make_summary(run_id, status=RunStatus.CANCELLED, message="Cancelled by you")
    store.finish_run(run_id, RunStatus.CANCELLED, summary=summary)
    assert store.get_run(run_id).message == "Cancelled by you"


def test_finish_run_rejects_a_live_status_and_unknown_runs(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=1)
    with pytest.raises(ValueError, match="terminal"):
        store.finish_run(run_id, RunStatus.RUNNING)
    with pytest.raises(StorageError, match="No run with id missing"):
        store.finish_run("missing", RunStatus.COMPLETED)


def test_set_status_manifest_cost_and_tags(store: Store) -> None:
    run_id = store.create_run(make_spec(tags=()), n_total=3)
    store.set_status(run_id, RunStatus.CANCELLED, "stopped")
    record = store.get_run(run_id)
    assert record.status is RunStatus.CANCELLED and record.message == "stopped"
    assert record.finished_at is not None

    # Resuming elsewhere claims the run for this process and reopens it.
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE runs SET pid = 1, hostname = 'other' WHERE run_id = :r"), {"r": run_id}
        )
    store.set_status(run_id, RunStatus.RUNNING)
    record = store.get_run(run_id)
    assert record.status is RunStatus.RUNNING and record.message is None
    assert record.finished_at is None
    assert sql(store, "SELECT pid, hostname FROM runs WHERE run_id = :r", r=run_id)[0] == (
        os.getpid(),
        socket.gethostname(),
    )

    manifest = make_manifest(app_version="0.2.0")
    store.set_manifest(run_id, manifest)
    store.set_cost(run_id, 0.0123)
    store.set_tags(run_id, [" b ", "a", "b", "", "  "])
    record = store.get_run(run_id)
    assert record.manifest == manifest
    assert record.cost_usd == pytest.approx(0.0123)
    assert record.tags == ("a", "b")
    store.set_tags(run_id, [])
    assert store.get_run(run_id).tags == ()

    for call in (
        lambda: store.set_status("x", RunStatus.FAILED),
        lambda: store.set_manifest("x", manifest),
        lambda: store.set_cost("x", 1.0),
        lambda: store.set_tags("x", ["a"]),
        lambda: store.delete_run("x"),
    ):
        with pytest.raises(StorageError, match="No run with id x"):
            call()


# --- results ------------------------------------------------------------------------------


def test_every_result_field_round_trips(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=3)
    minimal = SampleResult(index=2, status=SampleStatus.FAILED)
    results = [full_result(0), full_result(1), minimal]
    store.add_results(run_id, results)
    assert store.get_results(run_id) == results
    back = store.get_results(run_id)[0]
    assert back.error_category is ErrorCategory.PARSE and back.status is SampleStatus.OK
    assert back.usage_reported is True and back.streamed is False
    assert store.get_results(run_id)[2].chunk_offsets_ns == ()


def test_results_come_back_ordered_and_paged(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=10)
    order = [7, 3, 9, 0, 5, 1, 8, 2, 6, 4]
    for index in order:  # one transaction each, out of order
        store.add_results(run_id, [ok(index)])
    assert [r.index for r in store.get_results(run_id)] == list(range(10))
    assert [r.index for r in store.get_results(run_id, offset=3, limit=4)] == [3, 4, 5, 6]
    assert [r.index for r in store.get_results(run_id, offset=8)] == [8, 9]
    assert [r.index for r in store.iter_results(run_id, batch_size=3)] == list(range(10))
    assert list(store.iter_results(run_id, batch_size=3)) == store.get_results(run_id)
    empty = store.create_run(make_spec(), n_total=0)
    assert store.get_results(empty) == [] and list(store.iter_results(empty)) == []
    with pytest.raises(StorageError, match="No run with id nope"):
        store.get_results("nope")
    with pytest.raises(StorageError, match="No run with id nope"):
        list(store.iter_results("nope"))


def test_a_retried_sample_replaces_its_row_and_counters_follow(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=5)
    store.add_results(run_id, [ok(0), failed(1), ok(2, correct=False), ok(3), failed(4)])
    assert counters(store, run_id) == (5, 3, 2, 2)
    ids_before = dict(sql(store, "SELECT sample_index, id FROM samples"))

    # Retries: 1 now right, 3 now failed; 4 submitted twice in one batch (the last wins).
    store.add_results(run_id, [ok(1), failed(3), ok(4, correct=False), ok(4)])
    assert sql(store, "SELECT count(*) FROM samples")[0][0] == 5
    assert counters(store, run_id) == recount(store, run_id) == (5, 4, 1, 3)
    assert store.get_results(run_id)[1].status is SampleStatus.OK
    assert store.get_results(run_id)[3].error_category is ErrorCategory.TIMEOUT
    assert store.get_results(run_id)[4].score == 1.0
    assert dict(sql(store, "SELECT sample_index, id FROM samples")) == ids_before  # in place
    record = store.get_run(run_id)
    assert (record.n_ok, record.n_failed) == (4, 1)


def test_counters_stay_exact_under_random_replacements(store: Store) -> None:
    rng = random.Random(11)
    run_ids = [store.create_run(make_spec(), n_total=40) for _ in range(2)]
    for _ in range(60):
        batches = []
        for run_id in run_ids:
            batch = []
            for _ in range(rng.randint(0, 8)):
                index = rng.randrange(40)
                kind = rng.random()
                batch.append(failed(index) if kind < 0.3 else ok(index, correct=kind < 0.7))
            batches.append((run_id, batch))
        store.add_result_batches(batches)
    for run_id in run_ids:
        assert counters(store, run_id) == recount(store, run_id)
        assert counters(store, run_id)[0] > 0


def test_a_batch_for_an_unknown_run_writes_nothing(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=2)
    with pytest.raises(StorageError, match="No run with id ghost"):
        store.add_result_batches([(run_id, [ok(0)]), ("ghost", [ok(1)])])
    assert store.get_results(run_id) == []  # one transaction: all or nothing
    assert counters(store, run_id) == (0, 0, 0, 0)


def test_existing_indices(store: Store) -> None:
    run_id = store.create_run(make_spec(), n_total=5)
    store.add_results(run_id, [ok(0), failed(1), ok(3), failed(4)])
    assert store.existing_indices(run_id) == {0, 1, 3, 4}
    assert store.existing_indices(run_id, status=SampleStatus.OK) == {0, 3}
    assert store.existing_indices(run_id, status=SampleStatus.FAILED) == {1, 4}
    assert store.existing_indices("other") == set()


def test_delete_run_cascades_to_samples_and_tags(store: Store) -> None:
    keep = store.create_run(make_spec(), n_total=2)
    gone = store.create_run(make_spec(), n_total=2)
    for run_id in (keep, gone):
        store.add_results(run_id, [ok(0), failed(1)])
    store.delete_run(gone)
    assert sql(store, "SELECT DISTINCT run_id FROM samples") == [(keep,)]
    assert sql(store, "SELECT DISTINCT run_id FROM run_tags") == [(keep,)]
    assert [r.run_id for r in store.list_runs()] == [keep]
    with pytest.raises(StorageError):
        store.get_run(gone)


# --- listing ------------------------------------------------------------------------------


@pytest.fixture
def history(store: Store) -> dict[str, str]:
    """Six runs with fixed creation times (one per hour of 2026-03-01, UTC)."""
    rows = [
        ("a", "gsm8k", "llama-3.1-8b", RunStatus.COMPLETED, "Nightly 50%_off", ("nightly",)),
        ("b", "mmlu", "llama-3.1-8b", RunStatus.FAILED, "quick", ()),
        ("c", "gsm8k", "qwen2.5-7b", RunStatus.COMPLETED, None, ("nightly", "gpu")),
        ("d", "gsm8k", "qwen2.5-7b", RunStatus.RUNNING, "Nightly retry", ()),
        ("e", "custom", "mistral-7b", RunStatus.CANCELLED, "custom set", ("gpu",)),
        ("f", "mmlu", "mistral-7b", RunStatus.COMPLETED, "mmlu full", ()),
    ]
    ids: dict[str, str] = {}
    for hour, (key, benchmark, model, status, name, tags) in enumerate(rows):
        spec = make_spec(benchmark=benchmark, model=model, name=name, tags=tags)
        run_id = store.create_run(spec, n_total=10)
        set_created_at(store, run_id, f"2026-03-01T{hour:02d}:00:00.000000+00:00")
        if status.terminal:
            accuracy = {"a": 0.5, "c": 0.9, "f": 0.7}.get(key)
            summary = make_summary(run_id, accuracy=accuracy, status=status)
            store.finish_run(run_id, status, summary=summary)
        ids[key] = run_id
    return ids


def keys(records: list[Any], ids: dict[str, str]) -> str:
    by_id = {v: k for k, v in ids.items()}
    return "".join(by_id[r.run_id] for r in records)


def test_list_runs_newest_first_with_pagination(store: Store, history: dict[str, str]) -> None:
    assert keys(store.list_runs(), history) == "fedcba"
    assert keys(store.list_runs(descending=False), history) == "abcdef"
    assert keys(store.list_runs(limit=2), history) == "fe"
    assert keys(store.list_runs(limit=2, offset=2), history) == "dc"
    assert keys(store.list_runs(limit=2, offset=4), history) == "ba"
    assert store.list_runs(limit=2, offset=6) == []
    assert keys(store.list_runs(limit=None), history) == "fedcba"
    assert store.count_runs() == 6


def test_list_runs_breaks_created_at_ties_by_run_id(store: Store) -> None:
    run_ids = [store.create_run(make_spec(), n_total=1) for _ in range(5)]
    for run_id in run_ids:
        set_created_at(store, run_id, "2026-01-01T00:00:00.000000+00:00")
    pages = [store.list_runs(limit=2, offset=o) for o in (0, 2, 4)]
    seen = [r.run_id for page in pages for r in page]
    assert seen == sorted(run_ids, reverse=True)


def test_list_runs_filters(store: Store, history: dict[str, str]) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"benchmark": "gsm8k"}, "dca"),
        ({"model": "mistral-7b"}, "fe"),
        ({"status": RunStatus.COMPLETED}, "fca"),
        ({"status": "failed"}, "b"),
        ({"status": [RunStatus.RUNNING, RunStatus.CANCELLED]}, "ed"),
        ({"tag": "gpu"}, "ec"),
        ({"tag": "none"}, ""),
        ({"text": "nightly"}, "da"),  # name, case-insensitive
        ({"text": "QWEN"}, "dc"),  # model
        ({"text": "mml"}, "fb"),  # benchmark
        ({"text": "50%_"}, "a"),  # LIKE wildcards are literal
        ({"text": "%"}, "a"),
        ({"text": "_"}, "a"),
        ({"text": "   "}, "fedcba"),  # blank: no filter
        ({"text": "nightly", "model": "qwen2.5-7b"}, "d"),
        ({"benchmark": "gsm8k", "status": RunStatus.COMPLETED, "tag": "gpu"}, "c"),
        ({"since": "2026-03-01T02:00:00+00:00"}, "fedc"),
        ({"until": datetime(2026, 3, 1, 2, tzinfo=UTC)}, "ba"),
        (
            {
                "since": datetime(2026, 3, 1, 1, tzinfo=UTC),
                "until": datetime(2026, 3, 1, 4, tzinfo=UTC) - timedelta(microseconds=1),
            },
            "dcb",
        ),
        ({"since": datetime(2026, 3, 1, 2, 30, tzinfo=UTC)}, "fed"),
    ]
    for filters, expected in cases:
        assert keys(store.list_runs(**filters), history) == expected, filters
        assert store.count_runs(**filters) == len(expected), filters


def test_list_runs_text_matches_run_id(store: Store, history: dict[str, str]) -> None:
    run_id = history["c"]
    assert [r.run_id for r in store.list_runs(text=run_id[3:11].upper())] == [run_id]


def test_list_runs_sorting(store: Store, history: dict[str, str]) -> None:
    # NULL accuracies (unfinished, or no summary figure) go last in either direction.
    by_accuracy = store.list_runs(order_by="accuracy")
    assert keys(by_accuracy[:3], history) == "cfa"
    assert {r.accuracy for r in by_accuracy[3:]} == {None}
    assert keys(store.list_runs(order_by="accuracy", descending=False)[:3], history) == "afc"
    names = [r.model for r in store.list_runs(order_by="model", descending=False)]
    assert names == sorted(names)
    with pytest.raises(ValueError, match="cannot sort runs by"):
        store.list_runs(order_by="spec_json; DROP TABLE runs")
    assert "spec_json" not in SORTABLE_COLUMNS


def test_list_runs_records_are_complete(store: Store, history: dict[str, str]) -> None:
    record = next(r for r in store.list_runs() if r.run_id == history["c"])
    assert record == store.get_run(history["c"])
    assert record.tags == ("gpu", "nightly")
    assert record.summary is not None and record.summary.accuracy == 0.9


def test_listing_never_reads_samples_and_uses_the_history_indexes(
    store: Store, history: dict[str, str]
) -> None:
    for run_id in history.values():
        store.add_results(run_id, [ok(i) for i in range(20)])
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.list_runs()
        store.list_runs(status=RunStatus.COMPLETED)
        store.list_runs(benchmark="gsm8k")
        store.list_runs(model="qwen2.5-7b")
        store.count_runs(status=RunStatus.COMPLETED)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert statements
    assert not [s for s, _ in statements if "samples" in s]

    main_queries = [(s, p) for s, p in statements if s.lstrip().startswith("SELECT runs.run_id")]
    expected_index = [
        "ix_runs_created_at_run_id",
        "ix_runs_status_created_at_run_id",
        "ix_runs_benchmark_created_at_run_id",
        "ix_runs_model_created_at_run_id",
    ]
    assert len(main_queries) == 4
    raw = sqlite3.connect(store.db_path)
    try:
        for (statement, params), index in zip(main_queries, expected_index, strict=True):
            plan = " | ".join(r[3] for r in raw.execute(f"EXPLAIN QUERY PLAN {statement}", params))
            assert index in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # the index gives the order: no sort
    finally:
        raw.close()


# --- resolve_run_id -----------------------------------------------------------------------


def test_resolve_run_id(store: Store) -> None:
    ids = ["abc111", "abc222", "abd333", "f*x[1]"]
    for run_id in ids:
        store.create_run(make_spec(), n_total=1, run_id=run_id)
    assert store.resolve_run_id("abc111") == "abc111"
    assert store.resolve_run_id("abc2") == "abc222"
    assert store.resolve_run_id("  ABD ") == "abd333"
    assert store.resolve_run_id("f*") == "f*x[1]"  # glob characters are literal
    with pytest.raises(StorageError, match="'abc' matches several runs") as info:
        store.resolve_run_id("abc")
    assert "abc111" in str(info.value) and "abc222" in str(info.value)
    with pytest.raises(StorageError, match="No run with id starting with 'zzz'"):
        store.resolve_run_id("zzz")
    with pytest.raises(StorageError, match="No run with id starting with 'a\\?'"):
        store.resolve_run_id("a?")
    with pytest.raises(StorageError, match="Give a run id"):
        store.resolve_run_id("  ")


# --- interrupted runs ---------------------------------------------------------------------


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_mark_interrupted_only_touches_dead_local_runs(store: Store) -> None:
    pid = dead_pid()
    dead = store.create_run(make_spec(), n_total=3)
    alive = store.create_run(make_spec(), n_total=3)  # this process
    remote = store.create_run(make_spec(), n_total=3)
    finished = store.create_run(make_spec(), n_total=3)
    store.add_results(dead, [ok(0), failed(1)])
    store.finish_run(finished, RunStatus.COMPLETED)
    with store.engine.begin() as conn:
        for run_id, host in ((dead, None), (remote, "some-other-host"), (finished, None)):
            conn.execute(
                text(
                    "UPDATE runs SET pid = :pid, hostname = coalesce(:host, hostname) "
                    "WHERE run_id = :r"
                ),
                {"pid": pid, "host": host, "r": run_id},
            )

    assert store.mark_interrupted() == [dead]
    record = store.get_run(dead)
    assert record.status is RunStatus.INTERRUPTED
    assert record.message is not None and f"process {pid}" in record.message
    assert (record.n_ok, record.n_failed) == (1, 1)
    assert store.get_run(alive).status is RunStatus.RUNNING
    assert store.get_run(remote).status is RunStatus.RUNNING
    assert store.get_run(finished).status is RunStatus.COMPLETED
    assert store.mark_interrupted() == []


# --- threads ------------------------------------------------------------------------------


def test_store_is_usable_from_several_threads(store: Store) -> None:
    run_ids = [store.create_run(make_spec(), n_total=50) for _ in range(4)]
    errors: list[BaseException] = []

    def work(run_id: str) -> None:
        try:
            for i in range(50):
                store.add_results(run_id, [ok(i)])
                store.list_runs(limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for run_id in run_ids:
        assert counters(store, run_id) == (50, 50, 0, 50)
