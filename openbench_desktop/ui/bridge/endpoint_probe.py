"""Asks an endpoint for its models off the GUI thread ("Discover models", "Test connection").

A request is a plain function run by a ``QRunnable`` on the probe's own ``QThreadPool``:
it resolves the key (the keyring may block on an unlock prompt), builds the core provider,
calls ``list_models`` inside ``asyncio.run`` and hands back a frozen :class:`ProbeResult`.
The result crosses to the GUI thread through one queued signal, tagged with the ticket
:meth:`EndpointProbe.list_models` returned, so a view ignores answers it no longer wants.
The worker never touches a widget.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from openbench_desktop.core.errors import OpenBenchError
from openbench_desktop.core.secrets import SecretStore, resolve_api_key

log = logging.getLogger(__name__)

#: A probe is interactive: fail fast rather than wait out a run's long request timeout.
PROBE_TIMEOUT_S = 10.0
_LISTED = 5  # model names quoted in the one-line message


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    models: tuple[str, ...]
    message: str  # "OK — 3 models: a, b, c" or the provider's own error text
    elapsed_s: float
    base_url: str


def describe_models(models: tuple[str, ...]) -> str:
    if not models:
        return "OK — the endpoint answered but lists no models (type the model id)."
    shown = ", ".join(models[:_LISTED])
    more = f", … (+{len(models) - _LISTED})" if len(models) > _LISTED else ""
    noun = "model" if len(models) == 1 else "models"
    return f"OK — {len(models)} {noun}: {shown}{more}"


def probe_endpoint(
    kind: str,
    base_url: str | Callable[[], str],
    *,
    api_key: str | None = None,
    key_name: str | None = None,
    secrets: SecretStore | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> ProbeResult:
    """List the endpoint's models (blocking; call it from a worker thread).

    ``base_url`` may be a callable (e.g. the demo service's ``ensure_started``), so
    starting a local server also happens off the GUI thread. An explicit ``api_key`` wins;
    otherwise the key is looked up by ``key_name`` as a run would (env var fallback).
    Errors come back as a result with the provider's message, never raised.
    """
    from openbench_desktop.core.providers.registry import make_provider

    started = time.monotonic()
    url = ""
    try:
        url = base_url() if callable(base_url) else base_url
        key = api_key if api_key else resolve_api_key(kind, key_name, secrets)
        provider = make_provider(
            kind, url, key, concurrency=1, timeout_s=timeout_s, key_name=key_name
        )

        async def ask() -> list[str]:
            try:
                return await provider.list_models()
            finally:
                await provider.aclose()

        models = tuple(asyncio.run(ask()))
    except OpenBenchError as exc:
        return ProbeResult(False, (), str(exc), time.monotonic() - started, url)
    except Exception as exc:  # a bug or an unexpected library error: show, don't crash
        log.exception("endpoint probe failed")
        message = f"{type(exc).__name__}: {exc}"
        return ProbeResult(False, (), message, time.monotonic() - started, url)
    return ProbeResult(True, models, describe_models(models), time.monotonic() - started, url)


class _Relay(QObject):
    """Lives on the GUI thread; its signal is emitted from the pool thread (queued)."""

    done = Signal(int, object)  # ticket, ProbeResult


class _ProbeTask(QRunnable):
    def __init__(self, ticket: int, relay: _Relay, fn: Callable[[], ProbeResult]) -> None:
        super().__init__()
        self._ticket = ticket
        self._relay = relay
        self._fn = fn

    def run(self) -> None:
        result = self._fn()
        # RuntimeError: the view that asked was closed meanwhile; nobody to tell.
        with contextlib.suppress(RuntimeError):
            self._relay.done.emit(self._ticket, result)


class EndpointProbe(QObject):
    """``finished(ticket, ProbeResult)`` arrives on the GUI thread for each request."""

    finished = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._tickets = itertools.count(1)
        self._pending: set[int] = set()

    def list_models(
        self,
        kind: str,
        base_url: str | Callable[[], str],
        *,
        api_key: str | None = None,
        key_name: str | None = None,
        secrets: SecretStore | None = None,
    ) -> int:
        ticket = next(self._tickets)
        self._pending.add(ticket)

        def fn() -> ProbeResult:
            return probe_endpoint(
                kind, base_url, api_key=api_key, key_name=key_name, secrets=secrets
            )

        task = _ProbeTask(ticket, self._relay, fn)
        task.setAutoDelete(True)
        self._pool.start(task)
        return ticket

    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, timeout_ms: int = 15_000) -> bool:
        """Block until running probes end (teardown; never from a slot)."""
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, object)
    def _on_done(self, ticket: int, result: ProbeResult) -> None:
        self._pending.discard(ticket)
        self.finished.emit(ticket, result)
