"""Storage performance: ingest rate through the writer, and the History page over a big DB.

Run on demand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_storage.py            # full size
    .venv/bin/python tests/benchmarks/bench_storage.py --quick    # a smaller smoke run

Goals: (a) >= 20,000 sample rows/s through ResultWriter with realistic rows (~300-char
prompt, ~200-char output, 64 streamed chunks); (b) <= 100 ms to the first page (100 runs)
of ``Store.list_runs`` over 10,000 runs holding 1,000,000 samples, also with a status and a
text filter. ``--db PATH`` keeps the big database between runs (it takes a while to build).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from openbench_desktop.core.domain import (
    DatasetRef,
    ErrorCategory,
    GenerationParams,
    RunManifest,
    RunSpec,
    RunStatus,
    RunSummary,
    SampleResult,
    SampleStatus,
)
from openbench_desktop.core.storage import ResultWriter, Store

BENCHMARKS = ["gsm8k", "mmlu", "arc", "hellaswag", "truthfulqa", "custom"]
MODELS = [
    f"{family}-{size}"
    for family in ("llama-3.1", "qwen2.5", "mistral", "gemma-2")
    for size in ("1b", "3b", "7b", "14b", "70b")
]
PACKAGES = [
    "httpx",
    "httpx-sse",
    "tenacity",
    "keyring",
    "platformdirs",
    "SQLAlchemy",
    "alembic",
    "numpy",
    "scipy",
    "pyarrow",
    "huggingface_hub",
    "tqdm",
    "starlette",
    "uvicorn",
    "PySide6-Essentials",
    "pyqtgraph",
]
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "box",
]


def _text(rng: random.Random, n_chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < n_chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:n_chars]


def make_result(rng: random.Random, index: int, n_chunks: int = 64) -> SampleResult:
    offsets: list[int] = []
    t = rng.randint(80_000_000, 400_000_000)  # first token after 80-400 ms
    for _ in range(n_chunks):
        offsets.append(t)
        t += rng.randint(5_000_000, 40_000_000)
    failed = rng.random() < 0.03
    return SampleResult(
        index=index,
        status=SampleStatus.FAILED if failed else SampleStatus.OK,
        sample_id=f"test-{index}",
        prompt=_text(rng, 300),
        output="" if failed else _text(rng, 200),
        reasoning="",
        expected=str(rng.randint(1, 999)),
        extracted=None if failed else str(rng.randint(1, 999)),
        score=None if failed else float(rng.random() < 0.7),
        error_category=ErrorCategory.TIMEOUT if failed else None,
        error_message="Read timed out after 120 s" if failed else None,
        finish_reason=None if failed else "stop",
        input_tokens=rng.randint(60, 90),
        output_tokens=rng.randint(40, 60),
        usage_reported=True,
        streamed=True,
        started_ns=time.monotonic_ns(),
        end_offset_ns=t,
        chunk_offsets_ns=tuple(offsets),
        chunk_chars=tuple(rng.randint(1, 8) for _ in range(n_chunks)),
        chunk_kinds="c" * n_chunks,
        ttft_ms=offsets[0] / 1e6,
        itl_ms=18.5,
        e2e_ms=t / 1e6,
        attempts=1,
    )


def make_spec(rng: random.Random, i: int) -> RunSpec:
    model = rng.choice(MODELS)
    benchmark = rng.choice(BENCHMARKS)
    return RunSpec(
        provider="openai",
        base_url="http://127.0.0.1:8000/v1",
        model=model,
        benchmark=benchmark,
        dataset=DatasetRef(hub_id=f"org/{benchmark}", split="test"),
        params=GenerationParams(temperature=0.0, max_tokens=512, system_prompt="Be brief."),
        seed=i,
        limit=100,
        api_key_name="local",
        name=f"nightly {i} {model}",
        tags=("nightly", f"week-{i % 52}"),
        options={"few_shot": 5, "chain_of_thought": True},
    )


def make_manifest(spec: RunSpec) -> RunManifest:
    return RunManifest(
        app_version="0.1.0",
        python_version="3.11.7",
        platform="Linux-6.1.0-x86_64-with-glibc2.36",
        package_versions={name: "1.2.3" for name in PACKAGES},
        dataset_sha256="ab" * 32,
        dataset_description=spec.dataset.describe(),
        n_dataset_samples=1319,
        config={"spec": {"model": spec.model, "benchmark": spec.benchmark, "limit": 100}},
        created_at="2026-01-01T00:00:00.000000+00:00",
    )


def make_summary(run_id: str, spec: RunSpec, status: RunStatus, n: int) -> RunSummary:
    pct = {"p50": 210.0, "p90": 340.0, "p95": 390.0, "p99": 480.0, "mean": 230.0}
    return RunSummary(
        run_id=run_id,
        status=status,
        benchmark=spec.benchmark,
        model=spec.model,
        n_samples=n,
        n_ok=n - 3,
        n_failed=3,
        n_correct=int(n * 0.7),
        accuracy=0.72,
        accuracy_ci=(0.62, 0.80),
        accuracy_all=0.70,
        ttft_ms=pct,
        itl_ms=pct,
        e2e_ms=pct,
        output_tokens_per_s=812.5,
        input_tokens=7500,
        output_tokens=5000,
        usage_complete=True,
        duration_s=41.2,
        error_counts={"timeout": 3},
    )


# --- (a) ingest ---------------------------------------------------------------------------


def bench_ingest(folder: Path, n_rows: int, per_submit: int) -> float:
    rng = random.Random(1)
    results = [make_result(rng, i) for i in range(n_rows)]
    with Store(folder / "ingest.sqlite3") as store:
        writer = ResultWriter(store)
        spec = make_spec(rng, 0)
        run_id = writer.call(store.create_run, spec, n_total=n_rows).result()
        submit_times: list[float] = []
        started = time.perf_counter()
        for start in range(0, n_rows, per_submit):
            t0 = time.perf_counter()
            writer.submit_results(run_id, results[start : start + per_submit])
            submit_times.append(time.perf_counter() - t0)
        writer.flush()
        elapsed = time.perf_counter() - started
        writer.close()
        assert store.get_run(run_id).n_ok + store.get_run(run_id).n_failed == n_rows
    rate = n_rows / elapsed
    print(
        f"(a) ingest: {n_rows:,} rows, {per_submit} per submit_results(): {elapsed:.2f} s "
        f"= {rate:,.0f} rows/s (goal >= 20,000); submit_results() p50 "
        f"{statistics.median(submit_times) * 1e6:.1f} us, max {max(submit_times) * 1e3:.2f} ms"
    )
    return rate


# --- (b) history listing ------------------------------------------------------------------


def build_history(db_path: Path, n_runs: int, samples_per_run: int) -> None:
    rng = random.Random(2)
    # One pool of rows reused with fresh indices: building 1M distinct objects would take
    # longer than writing them and tells nothing more about the listing.
    pool = [make_result(rng, i) for i in range(2000)]
    # Roughly what a real history holds: mostly completed, some failed or stopped.
    statuses = [RunStatus.COMPLETED] * 16 + [RunStatus.FAILED] * 2
    statuses += [RunStatus.CANCELLED, RunStatus.INTERRUPTED]
    started = time.perf_counter()
    with Store(db_path) as store:
        writer = ResultWriter(store, max_batch=2000)
        for i in range(n_runs):
            spec = make_spec(rng, i)
            run_id = writer.call(
                store.create_run, spec, n_total=samples_per_run, manifest=make_manifest(spec)
            ).result()
            base = rng.randrange(len(pool) - samples_per_run)
            batch = [replace(pool[base + k], index=k) for k in range(samples_per_run)]
            writer.submit_results(run_id, batch)
            status = rng.choice(statuses)
            summary = make_summary(run_id, spec, status, samples_per_run)
            writer.call(store.finish_run, run_id, status, summary=summary)
            if i % 1000 == 999:
                writer.flush()
                print(f"    built {i + 1:,} runs in {time.perf_counter() - started:.0f} s")
        writer.close()
    size_mb = db_path.stat().st_size / 1e6
    print(
        f"    history built: {n_runs:,} runs, {n_runs * samples_per_run:,} samples, "
        f"{size_mb:,.0f} MB, {time.perf_counter() - started:.0f} s"
    )


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    times = []
    value = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, max(times) * 1e3, value


def bench_listing(db_path: Path, repeat: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    # The very first page on a freshly opened Store (what the History view shows at start).
    t0 = time.perf_counter()
    store = Store(db_path)
    opened = time.perf_counter()
    first = store.list_runs(limit=100)
    done = time.perf_counter()
    print(
        f"(b) open Store {1e3 * (opened - t0):.1f} ms; first page on it "
        f"{1e3 * (done - opened):.1f} ms ({len(first)} runs)"
    )
    n_runs = store.count_runs()
    rare_name = store.list_runs(limit=1, offset=n_runs // 2)[0].name or ""
    pages: dict[str, dict[str, Any]] = {
        "no filter": {},
        "status=failed": {"status": RunStatus.FAILED},
        "status=interrupted": {"status": RunStatus.INTERRUPTED},
        "text='qwen2.5-7b'": {"text": "qwen2.5-7b"},
        f"text={rare_name!r} (1 match)": {"text": rare_name},
        "model + status": {"model": "mistral-7b", "status": RunStatus.COMPLETED},
        "tag='week-7'": {"tag": "week-7"},
        "middle page": {"offset": n_runs // 2},
        "sorted by accuracy": {"order_by": "accuracy"},
    }
    counts: dict[str, dict[str, Any]] = {
        "count_runs()": {},
        "count_runs(text='qwen2.5-7b')": {"text": "qwen2.5-7b"},
        "count_runs(status=failed)": {"status": RunStatus.FAILED},
    }
    cases = [(label, partial(store.list_runs, limit=100, **kw)) for label, kw in pages.items()]
    cases += [(label, partial(store.count_runs, **kw)) for label, kw in counts.items()]
    for label, fn in cases:
        median_ms, max_ms, value = _time(fn, repeat)
        n = value if isinstance(value, int) else len(value)
        figures[label] = median_ms
        print(f"    {label:<40} median {median_ms:7.2f} ms   max {max_ms:7.2f} ms   ({n} rows)")
    store.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--db", type=Path, help="keep/reuse the history database here")
    parser.add_argument("--rows", type=int, help="rows for the ingest test")
    parser.add_argument("--per-submit", type=int, default=1, help="results per submit call")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    n_rows = args.rows or (20_000 if args.quick else 200_000)
    n_runs, per_run = (1_000, 100) if args.quick else (10_000, 100)

    with tempfile.TemporaryDirectory(prefix="bench_storage_") as tmp:
        folder = Path(tmp)
        rate = bench_ingest(folder, n_rows, args.per_submit)
        db_path = args.db or folder / "history.sqlite3"
        if not db_path.exists():
            print(f"    building the history database {db_path} ...")
            build_history(db_path, n_runs, per_run)
        figures = bench_listing(db_path, args.repeat)

    worst_page = max(v for k, v in figures.items() if not k.startswith("count"))
    ok = rate >= 20_000 and worst_page <= 100
    print(
        f"goals {'met' if ok else 'MISSED'}: ingest {rate:,.0f} rows/s, "
        f"slowest first page {worst_page:.1f} ms"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
