"""The first-launch demo: a clearly labelled *simulated* model on loopback, no key, no network.

It serves the built-in GSM8K-style problems with the same streaming protocol as a real
OpenAI-compatible server, so the whole path (provider, engine, storage, views) runs for
real; only the model is fake. Its answers are the reference solutions, every fourth one
deliberately off by one, so the demo shows a realistic, non-perfect score. Latencies are
injected (TTFT and inter-token gaps) so the live charts have something to show.

When the local speech demo lands (audio issue), that real local model becomes the demo.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from openbench_desktop.core.benchmarks.gsm8k import DEMO_PATH
from openbench_desktop.core.config.settings import Endpoint
from openbench_desktop.core.domain import DatasetRef, GenerationParams, RunSpec

if TYPE_CHECKING:
    from openbench_desktop.core.loopback import LoopbackServer

__all__ = ["DEMO_ENDPOINT_NAME", "DEMO_MODEL", "DemoService", "demo_spec"]

DEMO_ENDPOINT_NAME = "Demo (simulated model, offline)"
DEMO_MODEL = "simulated-gsm8k"
DEMO_TAG = "demo"


class DemoService:
    """Starts the loopback server on first use; stop() at application exit."""

    def __init__(self, *, ttft_s: float = 0.12, itl_s: float = 0.004) -> None:
        self._ttft_s = ttft_s
        self._itl_s = itl_s
        self._server: LoopbackServer | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> str:
        """The base URL of the running simulated server (started if needed)."""
        with self._lock:
            if self._server is None:
                # uvicorn/starlette load only when the demo is used.
                from openbench_desktop.core.loopback import (
                    LoopbackServer,
                    ServerBehavior,
                    gsm8k_responder,
                )

                server = LoopbackServer(
                    behavior=ServerBehavior(
                        ttft_s=self._ttft_s, itl_s=self._itl_s, tokens_per_chunk=2
                    ),
                    responder=gsm8k_responder(DEMO_PATH, wrong_every=4),
                )
                self._server = server.start()
            return self._server.base_url

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(DEMO_ENDPOINT_NAME, "openai", self.ensure_started(), simulated=True)

    def spec(self) -> RunSpec:
        return demo_spec(self.ensure_started())

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None


def demo_spec(base_url: str) -> RunSpec:
    """The demo run: the built-in 20 problems on the simulated model."""
    return RunSpec(
        provider="openai",
        base_url=base_url,
        model=DEMO_MODEL,
        benchmark="gsm8k",
        dataset=DatasetRef(),  # the built-in problems
        params=GenerationParams(max_tokens=512, temperature=0.0),
        concurrency=4,
        name="Demo: GSM8K on a simulated model",
        tags=(DEMO_TAG, "simulated"),
    )
