"""Export a run's per-sample results to CSV or JSON, and read them back.

Floats are written with ``repr`` (Python's shortest round-tripping form), so re-reading an
export gives exactly the stored numbers. The JSON form also carries the run summary, the
manifest and every chunk's arrival offset; CSV stays one flat row per sample.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openbench_desktop.core.audio.export import (
    AUDIO_EXPORT_COLUMNS,
    AUDIO_EXPORT_FLOATS,
    AUDIO_EXPORT_INTS,
    AUDIO_EXPORT_TEXTS,
    audio_export_fields,
    is_audio_run,
)
from openbench_desktop.core.domain import RunRecord, SampleResult
from openbench_desktop.core.errors import OpenBenchError

FORMATS = ("csv", "json")

COLUMNS: tuple[str, ...] = (
    "run_id",
    "sample_index",
    "sample_id",
    "status",
    "score",
    "expected",
    "extracted",
    "output",
    "prompt",
    "error_category",
    "error_message",
    "finish_reason",
    "ttft_ms",
    "itl_ms",
    "e2e_ms",
    "input_tokens",
    "output_tokens",
    "usage_reported",
    "streamed",
    "n_chunks",
    "attempts",
    "retry_wait_ms",
)
_FLOATS = {"score", "ttft_ms", "itl_ms", "e2e_ms", "retry_wait_ms"}
_INTS = {"sample_index", "input_tokens", "output_tokens", "n_chunks", "attempts"}
_BOOLS = {"usage_reported", "streamed"}
# Text columns where an empty cell is an empty string, not a missing value.
_TEXTS = {"output", "prompt", "expected", "sample_id"}


def sample_row(run_id: str, r: SampleResult) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "sample_index": r.index,
        "sample_id": r.sample_id,
        "status": str(r.status),
        "score": r.score,
        "expected": r.expected,
        "extracted": r.extracted,
        "output": r.output,
        "prompt": r.prompt,
        "error_category": str(r.error_category) if r.error_category else None,
        "error_message": r.error_message,
        "finish_reason": r.finish_reason,
        "ttft_ms": r.ttft_ms,
        "itl_ms": r.itl_ms,
        "e2e_ms": r.e2e_ms,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "usage_reported": r.usage_reported,
        "streamed": r.streamed,
        "n_chunks": len(r.chunk_offsets_ns),
        "attempts": r.attempts,
        "retry_wait_ms": r.retry_wait_ms,
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_export(
    path: Path, fmt: str, record: RunRecord, results: Iterable[SampleResult]
) -> int:
    """Write the export; returns the number of sample rows. Writes atomically."""
    if fmt not in FORMATS:
        raise OpenBenchError(f"Unknown export format {fmt!r}; choose csv or json.")
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    n = 0
    columns, extra = COLUMNS, None
    if is_audio_run(record.benchmark):  # speech runs: reference/hypothesis, S/D/I, timings
        columns, extra = COLUMNS + AUDIO_EXPORT_COLUMNS, audio_export_fields
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            if fmt == "csv":
                writer = csv.writer(fh)
                writer.writerow(columns)
                for r in results:
                    row = sample_row(record.run_id, r)
                    if extra is not None:
                        row.update(extra(r))
                    writer.writerow([_csv_cell(row[c]) for c in columns])
                    n += 1
            else:
                samples = []
                for r in results:
                    row = sample_row(record.run_id, r)
                    if extra is not None:
                        row.update(extra(r))
                    row["chunk_offsets_ns"] = list(r.chunk_offsets_ns)
                    row["chunk_chars"] = list(r.chunk_chars)
                    row["chunk_kinds"] = r.chunk_kinds
                    row["started_ns"] = r.started_ns
                    row["end_offset_ns"] = r.end_offset_ns
                    samples.append(row)
                n = len(samples)
                doc = {
                    "format": "openbench-desktop/run-export",
                    "version": 1,
                    "run": {
                        "run_id": record.run_id,
                        "created_at": record.created_at,
                        "status": str(record.status),
                        "summary": record.summary.to_dict() if record.summary else None,
                        "manifest": record.manifest.to_dict() if record.manifest else None,
                    },
                    "samples": samples,
                }
                json.dump(doc, fh, ensure_ascii=False, indent=1, allow_nan=False)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OpenBenchError(f"Could not write {path}: {exc.strerror or exc}") from None
    return n


def read_export(path: Path) -> list[dict[str, Any]]:
    """Read a CSV or JSON export back into typed per-sample rows."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        doc = json.loads(path.read_text(encoding="utf-8"))
        return list(doc["samples"])
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, Any] = {}
            for key, text in raw.items():
                if text == "" and key not in _TEXTS and key not in AUDIO_EXPORT_TEXTS:
                    row[key] = None
                elif key in _FLOATS or key in AUDIO_EXPORT_FLOATS:
                    row[key] = float(text)
                elif key in _INTS or key in AUDIO_EXPORT_INTS:
                    row[key] = int(text)
                elif key in _BOOLS:
                    row[key] = text == "true"
                else:
                    row[key] = text
            rows.append(row)
    return rows
