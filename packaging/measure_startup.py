"""Time from launching the app to its main window being on screen (Linux, under Xvfb).

    .venv/bin/python packaging/measure_startup.py                    # the frozen bundle
    .venv/bin/python packaging/measure_startup.py --exe .venv/bin/openbench-desktop

Starts one Xvfb, then launches the app ``--runs`` times: "cold" with a new, empty
OPENBENCH_HOME each time (a first launch: the database is created and migrated, the demo
starts), "warm" with a home that already exists. The clock stops when X maps the window
titled "OpenBench Desktop ..." (an ``xev`` watching the root window reports the MapNotify
event), which is when a user sees it appear; the app is then terminated. Needs Xvfb,
xev and xwininfo (Debian: xvfb x11-utils). Records go in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXE = ROOT / "dist" / "openbench-desktop" / "openbench-desktop"
TITLE = re.compile(r'^\s*(0x[0-9a-f]+) "OpenBench Desktop[^"]*"', re.MULTILINE)


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """An Xvfb on a free display number (``-displayfd`` tells us which)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        raise SystemExit("error: Xvfb did not start")
    return proc, f":{number}"


class MapWatcher:
    """Reports top-level windows as X maps them, from one long-lived ``xev``.

    Event-driven on purpose: polling with ``xwininfo`` every few milliseconds costs enough
    CPU on a 2-core machine to slow the app it is timing.
    """

    _MAP = re.compile(r"MapNotify event.*?window (0x[0-9a-f]+), override (NO|YES)", re.DOTALL)

    def __init__(self, display: str) -> None:
        self.display = display
        self._proc = subprocess.Popen(
            ["stdbuf", "-oL", "xev", "-root", "-event", "substructure"],
            env={**os.environ, "DISPLAY": display},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._mapped: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)  # xev selects its events before the first launch

    def _read(self) -> None:
        assert self._proc.stdout is not None
        block = ""
        for line in self._proc.stdout:
            block = line if not line.startswith(" ") else block + line
            match = self._MAP.search(block)
            if match and match.group(2) == "NO":
                self._mapped.put((time.perf_counter(), match.group(1)))
                block = ""

    def wait_for_main_window(self, started: float, proc: subprocess.Popen[bytes],
                             timeout: float) -> float:
        """Seconds from ``started`` until a window titled "OpenBench Desktop ..." mapped."""
        while time.perf_counter() - started < timeout:
            try:
                when, window_id = self._mapped.get(timeout=0.1)
            except queue.Empty:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise SystemExit(
                        f"error: the app exited ({proc.returncode}) first:\n{err}"
                    ) from None
                continue
            name = subprocess.run(
                ["xwininfo", "-id", window_id], capture_output=True, text=True, check=False,
                env={**os.environ, "DISPLAY": self.display},
            ).stdout
            if TITLE.search(name) or '"OpenBench Desktop' in name:
                return when - started
        raise SystemExit(f"error: no window after {timeout:.0f} s")

    def drain(self) -> None:
        while not self._mapped.empty():
            self._mapped.get_nowait()

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_window(
    exe: list[str], watcher: MapWatcher, home: Path, timeout: float = 60.0
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the app) from launch to its mapped main window."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=watcher.display, OPENBENCH_HOME=str(home))
    watcher.drain()
    started = time.perf_counter()
    proc = subprocess.Popen(exe, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wall = watcher.wait_for_main_window(started, proc, timeout)
        return wall, cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def describe(label: str, samples: list[tuple[float, float]]) -> str:
    ms = [wall * 1000 for wall, _ in samples]
    cpu = [c * 1000 for _, c in samples]
    return (
        f"{label}: median {statistics.median(ms):.0f} ms, min {min(ms):.0f} ms, "
        f"max {max(ms):.0f} ms over {len(ms)} launches "
        f"(CPU time used by then: median {statistics.median(cpu):.0f} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exe", default=str(DEFAULT_EXE), help="the app to launch")
    parser.add_argument("--runs", type=int, default=5, help="launches per kind (default 5)")
    args = parser.parse_args(argv)
    for tool in ("Xvfb", "xwininfo", "xev", "stdbuf"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found (Debian: apt-get install xvfb x11-utils)",
                  file=sys.stderr)
            return 2
    exe = [str(Path(args.exe).resolve())] if Path(args.exe).exists() else [args.exe]
    load_before = f"{os.getloadavg()[0]:.2f}"
    xvfb, display = start_xvfb()
    watcher = MapWatcher(display)
    try:
        with tempfile.TemporaryDirectory(prefix="openbench-startup-") as tmp:
            # One throwaway launch: the first start after a build pays for the page cache.
            time_to_window(exe, watcher, Path(tmp) / "warmup")
            cold = [time_to_window(exe, watcher, Path(tmp) / f"cold{i}") for i in range(args.runs)]
            warm = [time_to_window(exe, watcher, Path(tmp) / "cold0") for _ in range(args.runs)]
    finally:
        watcher.close()
        xvfb.terminate()
        xvfb.wait()
    print(f"app: {' '.join(exe)}")
    # Other work on the machine stretches wall time; the app's CPU time hardly moves.
    print(f"load average before/after: {load_before} / {os.getloadavg()[0]:.2f}")
    print(describe("first launch (new home)", cold))
    print(describe("later launch (existing home)", warm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
