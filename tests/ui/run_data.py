"""Realistic stored runs for the History and Run detail tests (and their benchmark).

Runs are written through the real :class:`Store` (create_run / add_results / finish_run)
with summaries computed by the real metrics code from GSM8K questions, so what the views
show is what a real run would store. :func:`bulk_insert_runs` writes thousands of run rows
in one transaction for the paging tests, where going through create_run one by one would
only make the test slow.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openbench_desktop.core.domain import (
    DatasetRef,
    ErrorCategory,
    GenerationParams,
    RunManifest,
    RunSpec,
    RunStatus,
    SampleResult,
    SampleStatus,
)
from openbench_desktop.core.domain.run import to_plain
from openbench_desktop.core.engine.metrics import summarize
from openbench_desktop.core.storage import Store
from openbench_desktop.core.storage.tables import run_tags, runs

MODELS = ("llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct", "gpt-4o-mini")
BENCHMARKS = ("gsm8k", "mmlu", "custom")
PACKAGES = {"httpx": "0.28.1", "SQLAlchemy": "2.0.36", "numpy": "2.1.3", "PySide6": "6.10.3"}


@dataclass(frozen=True, slots=True)
class Question:
    prompt: str
    answer: str
    solution: str


def load_gsm8k(path: Path, n: int = 60) -> list[Question]:
    questions = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            solution = row["answer"]
            questions.append(
                Question(row["question"], solution.rsplit("####", 1)[1].strip(), solution)
            )
            if len(questions) == n:
                break
    return questions


def make_spec(
    model: str = MODELS[0],
    benchmark: str = "gsm8k",
    *,
    name: str | None = None,
    tags: Sequence[str] = (),
    limit: int | None = 20,
    seed: int | None = 7,
) -> RunSpec:
    return RunSpec(
        provider="openai",
        base_url="http://127.0.0.1:8000/v1",
        model=model,
        benchmark=benchmark,
        dataset=DatasetRef(path="/data/gsm8k/test.jsonl"),
        params=GenerationParams(temperature=0.0, max_tokens=512, system_prompt="Be concise."),
        seed=seed,
        limit=limit,
        concurrency=8,
        api_key_name="local-vllm",
        name=name,
        tags=tuple(tags),
        options={"few_shot": 0},
    )


def make_manifest(spec: RunSpec, n_dataset: int = 1319) -> RunManifest:
    return RunManifest(
        app_version="0.1.0",
        python_version="3.11.2",
        platform="Linux-6.1.0-amd64-x86_64-with-glibc2.36",
        package_versions=dict(PACKAGES),
        dataset_sha256="3b1f" * 16,
        dataset_description=spec.dataset.describe(),
        n_dataset_samples=n_dataset,
        config=spec.to_dict(),
        created_at="2025-11-20T09:30:00+00:00",
    )


def make_result(
    index: int, q: Question, rng: random.Random, *, wrong: bool = False, failed: bool = False
) -> SampleResult:
    """One streamed answer with chunk timings the metrics code can read."""
    if failed:
        return SampleResult(
            index=index,
            status=SampleStatus.FAILED,
            sample_id=f"test-{index}",
            prompt=q.prompt,
            expected=q.answer,
            error_category=ErrorCategory.TIMEOUT,
            error_message="Read timed out after 120.0 s (no chunk received)",
            started_ns=time.monotonic_ns(),
            attempts=3,
        )
    extracted = str(int(q.answer.replace(",", "")) + 1) if wrong else q.answer
    output = q.solution.rsplit("####", 1)[0].strip() + f"\nThe answer is {extracted}."
    n_chunks = 24
    ttft = rng.randint(120, 400) * 1_000_000
    gap = rng.randint(8, 30) * 1_000_000
    offsets = tuple(ttft + k * gap for k in range(n_chunks))
    end = offsets[-1] + gap
    return SampleResult(
        index=index,
        status=SampleStatus.OK,
        sample_id=f"test-{index}",
        prompt=q.prompt,
        output=output,
        expected=q.answer,
        extracted=extracted,
        score=0.0 if wrong else 1.0,
        finish_reason="stop",
        input_tokens=len(q.prompt.split()) + 12,
        output_tokens=n_chunks * 2,
        usage_reported=True,
        streamed=True,
        started_ns=1_000_000_000 + index * 50_000_000,
        end_offset_ns=end,
        chunk_offsets_ns=offsets,
        chunk_chars=tuple(max(1, len(output) // n_chunks) for _ in range(n_chunks)),
        chunk_kinds="c" * n_chunks,
        ttft_ms=ttft / 1e6,
        itl_ms=gap / 1e6,
        e2e_ms=end / 1e6,
    )


def add_run(
    store: Store,
    questions: Sequence[Question],
    *,
    spec: RunSpec | None = None,
    n: int = 20,
    wrong_every: int = 4,
    failed: Sequence[int] = (),
    status: RunStatus = RunStatus.COMPLETED,
    cost_usd: float | None = None,
    seed: int = 0,
) -> str:
    """A finished run with ``n`` samples: every ``wrong_every``-th wrong, ``failed`` failed."""
    spec = spec or make_spec()
    rng = random.Random(seed)
    run_id = store.create_run(spec, n_total=n, manifest=make_manifest(spec))
    results = [
        make_result(
            i,
            questions[i % len(questions)],
            rng,
            wrong=wrong_every > 0 and i % wrong_every == wrong_every - 1,
            failed=i in failed,
        )
        for i in range(n)
    ]
    store.add_results(run_id, results)
    if status is not RunStatus.RUNNING:
        summary = summarize(
            run_id=run_id,
            status=status,
            benchmark=spec.benchmark,
            model=spec.model,
            n_samples=n,
            results=results,
            duration_s=round(rng.uniform(5, 900), 1),
            message="Cancelled by the user." if status is RunStatus.CANCELLED else None,
        )
        store.finish_run(run_id, status, summary=summary)
    if cost_usd is not None:
        store.set_cost(run_id, cost_usd)
    return run_id


def bulk_insert_runs(store: Store, n: int, *, seed: int = 1) -> list[str]:
    """``n`` completed run rows in one transaction (no samples); returns their ids."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows, tags = [], []
    # Serialising a spec is the slow part: once per (model, benchmark, tag), then copied.
    templates: dict[tuple[str, str, str], tuple[dict[str, object], str]] = {}
    for i in range(n):
        model, benchmark = MODELS[i % len(MODELS)], BENCHMARKS[i % len(BENCHMARKS)]
        tag = f"batch-{i % 10}"
        key = (model, benchmark, tag)
        if key not in templates:
            spec = make_spec(model, benchmark, tags=(tag,))
            templates[key] = (to_plain(spec), json.dumps(to_plain(make_manifest(spec))))
        spec_dict, manifest_json = templates[key]
        spec_dict = {**spec_dict, "name": f"sweep {i}"}
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        created = (start + timedelta(minutes=i)).isoformat(timespec="microseconds")
        accuracy = round(rng.uniform(0.3, 0.95), 4)
        summary = {
            "run_id": run_id,
            "status": "completed",
            "benchmark": benchmark,
            "model": model,
            "n_samples": 100,
            "n_ok": 98,
            "n_failed": 2,
            "n_correct": round(98 * accuracy),
            "accuracy": accuracy,
            "accuracy_ci": [max(accuracy - 0.09, 0), min(accuracy + 0.08, 1)],
            "accuracy_all": accuracy * 0.98,
            "ttft_ms": {"p50": 210.0, "p90": 340.0, "p95": 390.0, "p99": 480.0, "mean": 230.0},
            "itl_ms": {"p50": 18.0, "p90": 25.0, "p95": 28.0, "p99": 40.0, "mean": 19.0},
            "e2e_ms": {"p50": 1200.0, "p90": 1900.0, "p95": 2100.0, "p99": 2600.0, "mean": 1300.0},
            "output_tokens_per_s": 812.5,
            "input_tokens": 7500,
            "output_tokens": 5000,
            "usage_complete": True,
            "duration_s": 41.2,
            "error_counts": {"timeout": 2},
            "accuracy_ci_method": "wilson",
            "message": None,
        }
        rows.append(
            {
                "run_id": run_id,
                "created_at": created,
                "started_at": created,
                "finished_at": created,
                "status": RunStatus.COMPLETED.value,
                "benchmark": benchmark,
                "model": model,
                "provider": spec_dict["provider"],
                "base_url": spec_dict["base_url"],
                "name": spec_dict["name"],
                "n_total": 100,
                "n_done": 100,
                "n_ok": 98,
                "n_failed": 2,
                "n_correct": round(98 * accuracy),
                "accuracy": accuracy,
                "duration_s": 41.2,
                "spec_json": json.dumps(spec_dict),
                "manifest_json": manifest_json,
                "summary_json": json.dumps(summary),
            }
        )
        tags.append({"run_id": run_id, "tag": tag})
    with store.engine.begin() as conn:
        conn.execute(runs.insert(), rows)
        conn.execute(run_tags.insert(), tags)
    return [r["run_id"] for r in rows]
