"""The built-in loopback server in a child process, with its send log brought back.

For measuring the client itself, the simulated server must not share the client's
interpreter: both would compete for one GIL and the server's work would show up as client
latency. :class:`LoopbackProcess` runs :class:`~openbench_desktop.core.loopback.LoopbackServer`
in a ``spawn``-ed process and returns, on request, what it logged: when each request
arrived and when each event was actually written. ``time.monotonic_ns()`` is the system's
``CLOCK_MONOTONIC`` on Linux and macOS (``QueryPerformanceCounter`` on Windows), one clock
for every process of the machine, so the child's times compare directly with the
parent's.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Self

from openbench_desktop.core.loopback import ServerBehavior

_START_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SentLog:
    """What the server did for one request (times are ``time.monotonic_ns()``)."""

    request_id: str | None  # the request's ``x-request-id`` header
    received_ns: int
    first_token_sent_ns: int | None
    event_sent_ns: tuple[int, ...]  # every SSE data event written (role, tokens, …)
    token_chunks: int  # events that carried tokens: ``event_sent_ns[1 : 1 + token_chunks]``
    prompt_tokens: int
    completion_tokens: int
    status: int
    completed: bool
    prompt: str = ""  # the last user message (to match clients that send no request id)

    @property
    def ttft_ns(self) -> int | None:
        """The server's own TTFT: first token written minus request received."""
        if self.first_token_sent_ns is None:
            return None
        return self.first_token_sent_ns - self.received_ns

    @property
    def token_gaps_ns(self) -> list[int]:
        """Gaps between consecutive token events as written (the ITL truth)."""
        sent = self.event_sent_ns[1 : 1 + self.token_chunks]
        return [b - a for a, b in itertools.pairwise(sent)]


def _last_user(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _serve(conn: Connection, behavior: ServerBehavior) -> None:  # pragma: no cover - child
    from openbench_desktop.core.loopback import LoopbackServer

    server = LoopbackServer(behavior=behavior, max_logged_requests=1_000_000).start()
    conn.send(server.port)
    try:
        while True:
            command, arg = conn.recv()
            if command == "log":
                logs = [
                    SentLog(
                        request_id=r.headers.get("x-request-id"),
                        received_ns=r.received_ns,
                        first_token_sent_ns=r.first_token_sent_ns,
                        event_sent_ns=tuple(r.event_sent_ns),
                        token_chunks=r.token_chunks,
                        prompt_tokens=r.prompt_tokens,
                        completion_tokens=r.completion_tokens,
                        status=r.status,
                        completed=r.completed,
                        prompt=_last_user(r.body),
                    )
                    for r in server.requests
                    if r.path.endswith("/chat/completions")
                ]
                server.clear_requests()
                conn.send(logs)
            elif command == "cpu":  # the server's CPU seconds so far (is it saturated?)
                conn.send(time.process_time())
            elif command == "behavior":
                server.behavior = arg
                conn.send(True)
            else:
                break
    finally:
        server.stop()
        conn.close()


class LoopbackProcess:
    """``with LoopbackProcess(behavior) as server: ... server.base_url ... server.log()``."""

    def __init__(self, behavior: ServerBehavior | None = None) -> None:
        self.behavior = behavior or ServerBehavior()
        self._process: Any = None
        self._conn: Connection | None = None
        self.port: int | None = None

    def start(self) -> Self:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(child, self.behavior), name="openbench-loopback", daemon=True
        )
        process.start()
        child.close()
        if not parent.poll(_START_TIMEOUT_S):
            process.kill()
            raise RuntimeError("The loopback server process did not start.")
        self.port = int(parent.recv())
        self._process, self._conn = process, parent
        return self

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("The loopback server process has not been started.")
        return f"http://127.0.0.1:{self.port}/v1"

    def log(self) -> list[SentLog]:
        """The requests served since the last call (the log is then cleared)."""
        assert self._conn is not None
        self._conn.send(("log", None))
        return list(self._conn.recv())

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system, all threads)."""
        assert self._conn is not None
        self._conn.send(("cpu", None))
        return float(self._conn.recv())

    def set_behavior(self, behavior: ServerBehavior) -> None:
        assert self._conn is not None
        self._conn.send(("behavior", behavior))
        self._conn.recv()
        self.behavior = behavior

    def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(("stop", None))
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=5.0)
            if self._process.is_alive():
                self._process.kill()
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
