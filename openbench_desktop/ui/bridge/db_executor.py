"""Runs database reads for the views on one background thread (never the GUI thread).

One serialized executor: requests run in order on a single ``QThread``; each answer comes
back on the GUI thread through one queued signal with the request's ticket. A view that
asked again meanwhile ignores stale tickets.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


class _DbWorker(QObject):
    answered = Signal(int, object, object)  # ticket, result, error message (str | None)

    @Slot(int, object)
    def execute(self, ticket: int, fn: Callable[[], Any]) -> None:
        try:
            result = fn()
        except Exception as exc:  # reported to the view, which shows it
            log.exception("database request failed")
            self.answered.emit(ticket, None, str(exc))
            return
        self.answered.emit(ticket, result, None)


class DbExecutor(QObject):
    _request = Signal(int, object)
    answered = Signal(int, object, object)  # ticket, result, error (on the GUI thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread(self)
        self._thread.setObjectName("db-reads")
        self._worker = _DbWorker()
        self._worker.moveToThread(self._thread)
        self._request.connect(self._worker.execute)
        self._worker.answered.connect(self.answered)
        self._tickets = itertools.count(1)
        self._thread.start()

    def submit(self, fn: Callable[[], Any]) -> int:
        ticket = next(self._tickets)
        self._request.emit(ticket, fn)
        return ticket

    def shutdown(self) -> None:
        self._thread.quit()
        self._thread.wait(10_000)
        self._worker.deleteLater()


class DbCalls(QObject):
    """Requests to a :class:`DbExecutor` answered by callbacks, for one view.

    ``submit(fn, done)`` runs ``fn`` on the database thread and later calls
    ``done(result, error, ticket)`` on the GUI thread (``error`` is a message or None).
    Parent it to the view: when the view goes, so does the connection, and a late answer
    reaches nobody.
    """

    def __init__(self, db: DbExecutor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._callbacks: dict[int, Callable[[object, str | None, int], None]] = {}
        db.answered.connect(self._on_answered)

    def submit(
        self, fn: Callable[[], Any], done: Callable[[object, str | None, int], None]
    ) -> int:
        ticket = self._db.submit(fn)
        self._callbacks[ticket] = done
        return ticket

    @Slot(int, object, object)
    def _on_answered(self, ticket: int, result: object, error: object) -> None:
        done = self._callbacks.pop(ticket, None)
        if done is not None:
            done(result, error if isinstance(error, str) else None, ticket)

