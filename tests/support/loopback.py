"""Pytest fixtures for the simulated loopback model server.

Register with ``pytest_plugins = ["tests.support.loopback"]`` in the root conftest, or
import the fixture names explicitly in a test module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from openbench_desktop.core.loopback import LoopbackServer, Responder, ServerBehavior

MakeLoopbackServer = Callable[..., LoopbackServer]


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A running server with the default behaviour and the echo responder."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def make_loopback_server() -> Iterator[MakeLoopbackServer]:
    """``make_loopback_server(behavior=..., responder=...)`` starts a server; all the
    servers it made are stopped at the end of the test."""
    servers: list[LoopbackServer] = []

    def make(
        behavior: ServerBehavior | None = None, responder: Responder | None = None
    ) -> LoopbackServer:
        server = LoopbackServer(behavior=behavior, responder=responder).start()
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        server.stop()
