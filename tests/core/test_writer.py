"""ResultWriter: the one writer thread (ordering, batching, flush, errors, crashes)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from openbench_desktop.core.domain import RunSpec, RunStatus, SampleResult, SampleStatus
from openbench_desktop.core.errors import StorageError
from openbench_desktop.core.storage import ResultWriter, Store
from tests.conftest import REPO_ROOT


def make_spec() -> RunSpec:
    return RunSpec(provider="openai", base_url="http://127.0.0.1:1/v1", model="m", benchmark="b")


def ok(index: int, **fields: Any) -> SampleResult:
    return SampleResult(index=index, status=SampleStatus.OK, score=1.0, **fields)


def failed(index: int) -> SampleResult:
    return SampleResult(index=index, status=SampleStatus.FAILED)


def stored(db_path: Path, run_id: str) -> list[int]:
    """Indices committed so far, read through a separate plain connection."""
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT sample_index FROM samples WHERE run_id = ? ORDER BY sample_index", (run_id,)
        )
        return [r[0] for r in rows]
    finally:
        conn.close()


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "openbench.sqlite3") as opened:
        yield opened


@pytest.fixture
def run_id(store: Store) -> str:
    return store.create_run(make_spec(), n_total=1000)


# --- ordering and batching ----------------------------------------------------------------


def test_calls_and_results_happen_in_submission_order(store: Store) -> None:
    with ResultWriter(store, max_batch=1000, max_delay_s=60) as writer:
        created = writer.call(store.create_run, make_spec(), n_total=3)
        run_id = created.result(timeout=5)
        writer.submit_results(run_id, [ok(0), failed(1)])
        writer.submit_results(run_id, [failed(2)])
        writer.submit_results(run_id, [ok(2)])  # a retry submitted later wins
        finished = writer.call(store.finish_run, run_id, RunStatus.COMPLETED)
        assert finished.result(timeout=5) is None
        # finish_run ran after the pending rows were committed, although neither the
        # batch size nor the delay had been reached.
        record = store.get_run(run_id)
        assert record.status is RunStatus.COMPLETED
        assert (record.n_ok, record.n_failed) == (2, 1)
        assert [r.status for r in store.get_results(run_id)] == [
            SampleStatus.OK,
            SampleStatus.FAILED,
            SampleStatus.OK,
        ]


def test_rows_wait_for_a_full_batch_or_the_delay(store: Store, run_id: str) -> None:
    with ResultWriter(store, max_batch=10, max_delay_s=60) as writer:
        writer.submit_results(run_id, [ok(i) for i in range(5)])
        time.sleep(0.2)
        assert stored(store.db_path, run_id) == []  # neither full nor due
        writer.submit_results(run_id, [ok(i) for i in range(5, 25)])
        # Now past max_batch: committed without a flush (a submission is never split).
        assert wait_until(lambda: stored(store.db_path, run_id) == list(range(25)))


def test_batches_are_exactly_max_batch_rows_when_results_arrive_one_by_one(
    store: Store, run_id: str
) -> None:
    with ResultWriter(store, max_batch=10, max_delay_s=60) as writer:
        for i in range(25):
            writer.submit_results(run_id, [ok(i)])
        assert wait_until(lambda: len(stored(store.db_path, run_id)) == 20)
        time.sleep(0.2)
        assert stored(store.db_path, run_id) == list(range(20))  # the last 5 are pending
        writer.flush()
        assert stored(store.db_path, run_id) == list(range(25))
        assert writer.committed == 25


def test_a_lone_row_is_committed_after_max_delay(store: Store, run_id: str) -> None:
    with ResultWriter(store, max_batch=1000, max_delay_s=0.05) as writer:
        started = time.monotonic()
        writer.submit_results(run_id, [ok(7)])
        assert wait_until(lambda: stored(store.db_path, run_id) == [7], timeout_s=5)
        assert time.monotonic() - started >= 0.04


def test_flush_returns_once_everything_submitted_is_committed(store: Store, run_id: str) -> None:
    with ResultWriter(store, max_batch=1000, max_delay_s=60) as writer:
        for i in range(300):
            writer.submit_results(run_id, [ok(i)])
        writer.flush()
        assert stored(store.db_path, run_id) == list(range(300))
        writer.flush()  # nothing pending: returns at once
    with Store(store.db_path) as other:  # a separate engine sees the committed rows
        assert other.get_run(run_id).n_ok == 300


def test_concurrent_submitters_from_several_threads(store: Store, run_id: str) -> None:
    n_threads, per_thread = 8, 250
    with ResultWriter(store, max_batch=64, max_delay_s=0.01) as writer:
        start = threading.Barrier(n_threads)

        def submit(offset: int) -> None:
            start.wait()
            for i in range(per_thread):
                writer.submit_results(run_id, [ok(offset * per_thread + i)])

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(n_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        writer.flush()
    assert stored(store.db_path, run_id) == list(range(n_threads * per_thread))
    record = store.get_run(run_id)
    assert (record.n_ok, record.n_failed) == (n_threads * per_thread, 0)


def test_submit_never_waits_for_a_locked_database(store: Store, run_id: str) -> None:
    blocker = sqlite3.connect(store.db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # hold the write lock like another process would
    try:
        with ResultWriter(store, max_batch=10, max_delay_s=0.01) as writer:
            started = time.perf_counter()
            for i in range(500):
                writer.submit_results(run_id, [ok(i)])
            assert time.perf_counter() - started < 0.5  # the writer thread is stuck, not us
            time.sleep(0.1)
            assert stored(store.db_path, run_id) == []
            blocker.execute("COMMIT")
            writer.flush(timeout=10)
        assert stored(store.db_path, run_id) == list(range(500))
    finally:
        blocker.close()


def test_submitted_lists_are_copied(store: Store, run_id: str) -> None:
    with ResultWriter(store, max_batch=1000, max_delay_s=60) as writer:
        batch = [ok(0), ok(1)]
        writer.submit_results(run_id, batch)
        batch.clear()  # the caller reuses its list
        writer.flush()
    assert stored(store.db_path, run_id) == [0, 1]


# --- call, flush, close -------------------------------------------------------------------


def test_call_returns_results_and_exceptions_through_the_future(store: Store, run_id: str) -> None:
    with ResultWriter(store) as writer:
        assert writer.call(lambda a, b=0: a + b, 2, b=3).result(timeout=5) == 5
        bad = writer.call(store.get_run, "nope")
        with pytest.raises(StorageError, match="No run with id nope"):
            bad.result(timeout=5)
        # A failing call is its caller's business: the writer keeps working.
        writer.submit_results(run_id, [ok(0)])
        writer.flush()
    assert stored(store.db_path, run_id) == [0]


def test_flush_and_close_refuse_to_wait_for_themselves(store: Store) -> None:
    with ResultWriter(store) as writer:
        future = writer.call(writer.flush)
        with pytest.raises(RuntimeError, match="writer thread"):
            future.result(timeout=5)


def test_flush_times_out_while_the_writer_is_busy(store: Store) -> None:
    release = threading.Event()
    with ResultWriter(store) as writer:
        writer.call(release.wait, 10)
        with pytest.raises(TimeoutError):
            writer.flush(timeout=0.05)
        release.set()
        writer.flush(timeout=10)


def test_close_flushes_is_idempotent_and_refuses_new_work(store: Store, run_id: str) -> None:
    writer = ResultWriter(store, max_batch=1000, max_delay_s=60)
    writer.submit_results(run_id, [ok(0), ok(1)])
    writer.close()
    assert stored(store.db_path, run_id) == [0, 1]
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit_results(run_id, [ok(2)])
    with pytest.raises(RuntimeError, match="closed"):
        writer.call(print)
    with pytest.raises(RuntimeError, match="closed"):
        writer.flush()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        ResultWriter(None, max_batch=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ResultWriter(None, max_delay_s=-1)  # type: ignore[arg-type]


# --- errors -------------------------------------------------------------------------------


def fill_the_disk(store: Store) -> None:
    """Make every new connection unable to grow the file: SQLite reports SQLITE_FULL."""

    def cap(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(store.engine, "connect", cap)
    store.engine.dispose()  # pooled connections would not get the cap


def big(index: int) -> SampleResult:
    return ok(index, prompt="x" * 20_000)


def test_a_full_disk_is_reported_from_the_next_call(store: Store, run_id: str) -> None:
    writer = ResultWriter(store, max_batch=50, max_delay_s=0.01)
    writer.submit_results(run_id, [ok(0)])
    writer.flush()
    fill_the_disk(store)
    writer.submit_results(run_id, [big(i) for i in range(1, 51)])
    with pytest.raises(StorageError) as info:
        writer.flush()
    message = str(info.value)
    assert f"could not write to {store.db_path}" in message
    assert "disk full" in message and "Free some disk space and resume the run" in message
    assert "50 results not saved" in message
    assert isinstance(info.value.__cause__, Exception)

    # Sticky: later work is refused loudly, never dropped in silence.
    with pytest.raises(StorageError, match="disk full"):
        writer.submit_results(run_id, [ok(99)])
    with pytest.raises(StorageError, match="disk full"):
        writer.call(store.finish_run, run_id, RunStatus.FAILED)
    with pytest.raises(StorageError, match="disk full"):
        writer.flush()
    assert writer.error is not None
    writer.close()  # already reported: close does not raise it again
    assert stored(store.db_path, run_id) == [0]  # the committed row is intact


def test_an_unseen_error_is_raised_by_close(store: Store, run_id: str) -> None:
    writer = ResultWriter(store, max_batch=1000, max_delay_s=0.01)
    fill_the_disk(store)
    writer.submit_results(run_id, [big(i) for i in range(20)])
    assert wait_until(lambda: writer.error is not None)
    with pytest.raises(StorageError, match="20 results not saved"):
        writer.close()
    writer.close()


def test_results_queued_behind_a_failed_commit_are_counted(store: Store, run_id: str) -> None:
    release = threading.Event()
    writer = ResultWriter(store, max_batch=5, max_delay_s=60)
    writer.call(release.wait, 10)  # hold the thread so everything below queues up
    writer.submit_results("no-such-run", [ok(0)] * 5)
    writer.submit_results(run_id, [ok(i) for i in range(7)])
    release.set()
    with pytest.raises(StorageError, match="No run with id no-such-run") as info:
        writer.flush()
    assert "12 results not saved" in str(info.value)
    writer.close()


def test_context_manager_keeps_the_original_exception(store: Store, run_id: str) -> None:
    with pytest.raises(KeyError), ResultWriter(store, max_delay_s=0.01) as writer:
        fill_the_disk(store)
        # Enough to need new pages even if the file has a few free ones.
        writer.submit_results(run_id, [big(i) for i in range(50)])
        assert wait_until(lambda: writer.error is not None)
        raise KeyError("the caller's own error")


# --- process death ------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from openbench_desktop.core.domain import RunSpec, SampleResult, SampleStatus
    from openbench_desktop.core.storage import ResultWriter, Store

    store = Store(Path({db!r}))
    spec = RunSpec(provider="openai", base_url="http://x/v1", model="m", benchmark="b")
    writer = ResultWriter(store, max_batch=50, max_delay_s=0.02)
    run_id = writer.call(store.create_run, spec, n_total=10**9).result()
    print(run_id, flush=True)
    i = 0
    while True:
        status = SampleStatus.OK if i % 3 else SampleStatus.FAILED
        writer.submit_results(run_id, [SampleResult(index=i, status=status, score=1.0,
                                                    prompt="p" * 300, output="o" * 200,
                                                    chunk_offsets_ns=tuple(range(64)),
                                                    chunk_chars=(1,) * 64,
                                                    chunk_kinds="c" * 64)])
        i += 1
        if i == 500:
            writer.flush()
            print("ready", flush=True)
        if {finish_after} and i == {finish_after}:
            break  # exit without close(): the atexit hook must flush
        if i % 20 == 0:
            time.sleep(0.001)
    """
)


def spawn(db_path: Path, finish_after: int = 0) -> subprocess.Popen[str]:
    code = CHILD.format(root=str(REPO_ROOT), db=str(db_path), finish_after=finish_after)
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_process_leaves_a_consistent_prefix(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    child = spawn(db_path)
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert child.stdout.readline().strip() == "ready", child.stderr and child.stderr.read()
        time.sleep(0.3)  # writing at full speed
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        raw.close()
    with Store(db_path) as store:
        indices = store.existing_indices(run_id)
        n = len(indices)
        assert n >= 500
        assert indices == set(range(n))  # whole batches, in order: a prefix, no holes
        record = store.get_run(run_id)
        # The counters were committed in the same transactions as the rows.
        assert record.n_ok + record.n_failed == n
        assert record.n_failed == len(range(0, n, 3))
        assert record.status is RunStatus.RUNNING
        assert store.mark_interrupted() == [run_id]
        assert store.get_run(run_id).status is RunStatus.INTERRUPTED


def test_a_normal_exit_without_close_still_flushes(tmp_path: Path) -> None:
    db_path = tmp_path / "openbench.sqlite3"
    child = spawn(db_path, finish_after=777)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    run_id = out.split()[0]
    assert stored(db_path, run_id) == list(range(777))
