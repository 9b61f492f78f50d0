"""Time from starting ``openbench-desktop --help`` to its exit (goal: <= 0.5 s).

Run on demand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_cli_startup.py [--runs 30]

Each run is a fresh interpreter, as for a user typing the command; the figure includes
interpreter start-up. Also lists the five slowest imports (``python -X importtime``) so a
regression names its cause.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "openbench_desktop", "--help"]
    subprocess.run(exe, cwd=ROOT, capture_output=True, check=True)  # warm the disk cache
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run(exe, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    times.sort()
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(
        f"openbench-desktop --help: median {statistics.median(times) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms over {args.runs} runs "
        "(goal <= 500 ms)"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import openbench_desktop.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    print("slowest imports (cumulative us):")
    for cumulative, name in sorted(rows, reverse=True)[:5]:
        print(f"  {cumulative:>8}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
