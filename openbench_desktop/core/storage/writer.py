"""The one writer: a thread that owns every write to the Store while runs are going.

The engine (an asyncio loop) and the GUI hand results over with :meth:`submit_results`,
which only appends to a queue, so a slow disk never stalls a request or the event loop.
The thread commits in batches of ``max_batch`` rows or every ``max_delay_s``, whichever
comes first: a process that is killed loses at most the last fraction of a second, and
thousands of results per second cost a few hundred commits rather than thousands.

Anything else that writes during a run (create_run, finish_run, tags) goes through
:meth:`call`, so it happens in submission order with the results around it.

Failure model: if a commit fails (disk full, file made read-only, locked for longer than
the busy timeout), the error is kept, the rows not saved are counted, and the writer
stops writing: every later :meth:`submit_results`, :meth:`call` and :meth:`flush`
raises :class:`StorageError` (so a run stops instead of carrying on with results that go
nowhere), and :meth:`close` raises it if nobody has seen it yet. Nothing is dropped
silently; the run can be resumed once the cause is fixed (the stored rows are intact).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, ParamSpec, Self, TypeVar

from openbench_desktop.core.domain import SampleResult
from openbench_desktop.core.errors import StorageError
from openbench_desktop.core.storage.store import Store, describe_db_error

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_MAX_BATCH: Final = 500
DEFAULT_MAX_DELAY_S: Final = 0.1


@dataclass(slots=True)
class _Results:
    run_id: str
    results: Sequence[SampleResult]


@dataclass(slots=True)
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: Future[Any]


@dataclass(slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


class _Stop:
    __slots__ = ()


_Item = _Results | _Call | _Flush | _Stop


class ResultWriter:
    """Serialises and batches all writes to ``store`` on one daemon thread.

    Thread-safe: any number of threads (and the asyncio loop) may submit. Use as a
    context manager or call :meth:`close`; an ``atexit`` hook flushes a writer that was
    never closed, so a normal interpreter exit loses nothing either.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_delay_s < 0:
            raise ValueError("max_delay_s must not be negative")
        self._store = store
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards the fields below and queue-vs-close races
        self._closed = False
        self._error: StorageError | None = None
        self._error_cause: BaseException | None = None
        self._error_reported = False
        self._unsaved = 0  # results lost with the failed commit and refused after it
        self._committed = 0
        # Daemon: a forgotten writer must never keep the process alive; the atexit hook
        # below still flushes it on a normal exit.
        self._thread = threading.Thread(target=self._run, name="openbench-db-writer", daemon=True)
        self._thread.start()
        atexit.register(self._close_at_exit)

    # --- public API (any thread) ----------------------------------------------------------

    @property
    def store(self) -> Store:
        return self._store

    @property
    def error(self) -> StorageError | None:
        """The write error that stopped this writer, if any (does not mark it reported)."""
        with self._lock:
            return self._restate_error() if self._error is not None else None

    @property
    def committed(self) -> int:
        """Result rows committed so far (as submitted, before de-duplication)."""
        return self._committed

    def submit_results(self, run_id: str, results: Sequence[SampleResult]) -> None:
        """Queue results for writing; returns at once (never waits for the disk).

        Raises StorageError if an earlier write failed, RuntimeError after close().
        """
        if not results:
            self._raise_if_failed()
            return
        # A tuple copy: the caller may reuse or mutate its list after this returns.
        self._put(_Results(run_id, tuple(results)))

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on the writer thread after everything queued before.

        Pending results are committed first, so e.g. ``finish_run`` sees every result
        submitted before it. The returned future carries fn's result or exception; an
        exception from ``fn`` is its caller's to handle and does not stop the writer.
        """
        future: Future[T] = Future()
        self._put(_Call(fn, args, kwargs, future))
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything submitted before this call is committed.

        Raises TimeoutError if that takes longer than ``timeout`` seconds, and
        StorageError if a write failed.
        """
        self._check_not_writer_thread("flush")
        marker = _Flush()
        self._put(marker)
        if not marker.done.wait(timeout):
            raise TimeoutError(f"the database writer did not catch up within {timeout} s")
        self._raise_if_failed()

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued, stop the thread, and raise a write error nobody saw yet.

        Idempotent. ``timeout`` bounds the wait for the thread (TimeoutError if it is
        still busy; it then finishes the queue in the background).
        """
        self._check_not_writer_thread("close")
        with self._lock:
            if not self._closed:
                self._closed = True  # from here on _put() refuses: nothing lands after _Stop
                self._queue.put(_Stop())
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the database writer did not finish within {timeout} s")
        atexit.unregister(self._close_at_exit)
        with self._lock:
            if self._error is not None and not self._error_reported:
                self._error_reported = True
                raise self._restate_error()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        except StorageError:
            if exc is None:
                raise
            # Already unwinding: do not hide the original exception; keep it logged.
            log.exception("database writer failed while another error was raised")

    # --- internals ------------------------------------------------------------------------

    def _put(self, item: _Item) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the database writer is closed")
            self._raise_if_failed_locked()
            self._queue.put(item)

    def _raise_if_failed(self) -> None:
        with self._lock:
            self._raise_if_failed_locked()

    def _raise_if_failed_locked(self) -> None:
        if self._error is not None:
            self._error_reported = True
            raise self._restate_error()

    def _restate_error(self) -> StorageError:
        """The kept error with how many results it has cost so far (call with the lock)."""
        assert self._error is not None
        error = StorageError(f"{self._error} ({self._unsaved} results not saved)")
        error.__cause__ = self._error_cause
        return error

    def _check_not_writer_thread(self, what: str) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{what}() called on the writer thread would wait for itself")

    def _close_at_exit(self) -> None:
        try:
            self.close(timeout=10)
        except Exception:
            log.exception("could not flush the database writer at exit")

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:  # a bug: never leave a flush() or a future waiting forever
            log.exception("the database writer thread crashed")
            with self._lock:
                self._closed = True
                if self._error is None:
                    self._error = StorageError(
                        f"could not write to {self._store.db_path}: the writer stopped "
                        "unexpectedly (see the log)"
                    )
            self._drain()

    def _loop(self) -> None:
        """Gather results until a batch is full or due, then commit; keep order with calls."""
        pending: list[tuple[str, Sequence[SampleResult]]] = []
        n_pending = 0
        deadline: float | None = None
        while True:
            item: _Item | None
            if deadline is None:
                item = self._queue.get()
            else:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    item = None  # the oldest pending row has waited max_delay_s
            if isinstance(item, _Results):
                if self._error is not None:
                    self._count_unsaved(len(item.results))
                    continue
                pending.append((item.run_id, item.results))
                n_pending += len(item.results)
                if deadline is None:
                    deadline = time.monotonic() + self._max_delay_s
                if n_pending < self._max_batch and time.monotonic() < deadline:
                    continue
            # A full or due batch, or a call/flush/stop that must come after every earlier row.
            if pending:
                self._commit(pending, n_pending)
                pending, n_pending = [], 0
            deadline = None
            if isinstance(item, _Call):
                self._execute(item)
            elif isinstance(item, _Flush):
                item.done.set()
            elif isinstance(item, _Stop):
                self._drain()
                return

    def _drain(self) -> None:
        """Settle whatever is still queued after the thread's last commit."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Results):
                self._count_unsaved(len(item.results))
            elif isinstance(item, _Call):
                if item.future.set_running_or_notify_cancel():
                    item.future.set_exception(RuntimeError("the database writer is closed"))
            elif isinstance(item, _Flush):
                item.done.set()

    def _commit(self, pending: list[tuple[str, Sequence[SampleResult]]], n_rows: int) -> None:
        if self._error is not None:
            self._count_unsaved(n_rows)
            return
        try:
            self._store.add_result_batches(pending)
        except Exception as exc:
            message = (
                str(exc)
                if isinstance(exc, StorageError)
                else describe_db_error(self._store.db_path, exc, "write to")
            )
            log.error("database writer stopped: %s", message)
            with self._lock:
                self._error = StorageError(message)
                self._error_cause = exc
                self._unsaved += n_rows
        else:
            self._committed += n_rows

    def _count_unsaved(self, n_rows: int) -> None:
        with self._lock:
            self._unsaved += n_rows

    def _execute(self, item: _Call) -> None:
        if not item.future.set_running_or_notify_cancel():
            return
        if self._error is not None:
            with self._lock:
                error = self._restate_error()
            item.future.set_exception(error)  # outside the lock: it runs callbacks
            return
        try:
            result = item.fn(*item.args, **item.kwargs)
        except BaseException as exc:
            item.future.set_exception(exc)
        else:
            item.future.set_result(result)
