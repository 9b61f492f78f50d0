"""Is the client the limit? CPU use and event-loop lag of the measuring process.

A client that cannot keep up reads timestamps late and sends requests late; its results
describe the client, not the server. :class:`ClientMonitor` samples, over one step, the
CPU time of the event-loop thread (``time.thread_time``), of the whole process
(``time.process_time``) and the lateness of a 10 ms timer on the loop;
:func:`client_limit_reasons` turns them, with the client-side queueing of the step's
requests, into the reasons a step is flagged (thresholds below, documented in
``docs/METRICS.md``, "Speed").
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from openbench_desktop.core.speed import metrics as sm

#: Client-limited thresholds (see docs/METRICS.md, "Speed" > "Is the client the limit?").
LOOP_BUSY_LIMIT = 0.90  # share of the step the event-loop thread spent on the CPU
PROCESS_CPU_LIMIT = 0.90  # share of all usable cores the whole process used
QUEUE_P95_LIMIT_MS = 5.0  # p95 of sent - scheduled
LOOP_LAG_P99_LIMIT_MS = 10.0  # p99 lateness of a 10 ms timer on the event loop
LAG_PROBE_S = 0.010


class ClientMonitor:
    """CPU use of the loop thread and the process, and event-loop lag, over one step."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._wall0 = self._thread0 = self._proc0 = 0.0

    @staticmethod
    def cores() -> int:
        try:
            return len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # pragma: no cover - not Linux
            return os.cpu_count() or 1

    def start(self) -> None:
        self.lags_ms = []
        self._wall0 = time.monotonic()
        self._thread0 = time.thread_time()
        self._proc0 = time.process_time()
        self._task = asyncio.create_task(self._probe())

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_PROBE_S
            await asyncio.sleep(LAG_PROBE_S)
            self.lags_ms.append(max(0.0, (loop.time() - due) * 1000))

    async def stop(self) -> dict[str, Any]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        wall = max(1e-9, time.monotonic() - self._wall0)
        cores = self.cores()
        lags = sm.percentiles(self.lags_ms)
        lags["max"] = max(self.lags_ms) if self.lags_ms else None
        return {
            "cores": cores,
            "loop_cpu_share": (time.thread_time() - self._thread0) / wall,
            "process_cpu_share": (time.process_time() - self._proc0) / wall / cores,
            "loop_lag_ms": lags,
        }


def client_limit_reasons(client: dict[str, Any], queue_ms: dict[str, Any]) -> list[str]:
    """Why a step's results may have been limited by this client (empty: they were not)."""
    reasons = []
    if client["loop_cpu_share"] >= LOOP_BUSY_LIMIT:
        reasons.append(
            f"the client's event loop was busy {client['loop_cpu_share']:.0%} of the time "
            "(CPU-bound): arrival timestamps may be late"
        )
    if client["process_cpu_share"] >= PROCESS_CPU_LIMIT:
        reasons.append(
            f"the client process used {client['process_cpu_share']:.0%} of the "
            f"{client['cores']} usable core(s)"
        )
    p95 = queue_ms.get("p95")
    if p95 is not None and p95 > QUEUE_P95_LIMIT_MS:
        reasons.append(
            f"requests waited in the client before being sent (p95 {p95:.1f} ms): the "
            "offered load was lower than asked"
        )
    lag = client["loop_lag_ms"].get("p99")
    if lag is not None and lag > LOOP_LAG_P99_LIMIT_MS:
        reasons.append(
            f"the event loop stalled (timer lag p99 {lag:.1f} ms): 1% of arrival "
            "timestamps may be late by that much"
        )
    return reasons
