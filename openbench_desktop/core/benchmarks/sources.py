"""From a :class:`DatasetRef` to records: a local file, a Hub split, or built-in data.

Every benchmark loads the same way: resolve the reference to one or more files, read
their records in order (the record's position is the sample index), and hash the bytes
for the run manifest. This module does the first and last; the benchmark turns records
into samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from openbench_desktop.core.benchmarks.hub import fetch_split
from openbench_desktop.core.benchmarks.readers import (
    Record,
    detect_format,
    read_records,
    sha256_files,
)
from openbench_desktop.core.domain import DatasetRef
from openbench_desktop.core.errors import DatasetError

__all__ = ["DatasetSource", "resolve_source"]


@dataclass(frozen=True, slots=True)
class DatasetSource:
    """Local files holding a dataset, read in order as one sequence of records."""

    files: tuple[Path, ...]
    format: str  # "jsonl" | "csv" | "parquet"
    description: str

    def records(
        self, *, csv_header: bool = True, csv_fieldnames: Sequence[str] | None = None
    ) -> Iterator[tuple[str, int, Record]]:
        """``(file, line, record)`` for every record of every file."""
        for path in self.files:
            for line, record in read_records(
                path, self.format, csv_header=csv_header, csv_fieldnames=csv_fieldnames
            ):
                yield str(path), line, record

    def sha256(self) -> str:
        return sha256_files(self.files)


def resolve_source(
    ref: DatasetRef,
    *,
    hub_cache: Path | None,
    default_config: str | None = None,
    default_split: str = "test",
    builtin: Path | None = None,
    builtin_description: str = "built-in",
) -> DatasetSource:
    """Where ``ref`` points, as local files (downloading a Hub split if needed).

    ``default_config``/``default_split`` fill in a Hub reference that names neither (the
    benchmark knows e.g. that GSM8K's config is ``main``); ``builtin`` is used when the
    reference names nothing at all.
    """
    if ref.path and ref.hub_id:
        raise DatasetError(
            "the dataset names both a file and a Hugging Face id; choose one",
            path=ref.path,
        )
    if ref.path:
        path = Path(ref.path).expanduser()
        return DatasetSource((path,), detect_format(path, ref.format), ref.path)
    if ref.hub_id:
        if hub_cache is None:
            raise DatasetError(
                f"cannot load {ref.hub_id}: no cache folder was configured for Hub datasets"
            )
        hub_split = fetch_split(
            ref.hub_id,
            config=ref.hub_config or default_config,
            split=ref.split or default_split,
            cache_dir=hub_cache,
        )
        return DatasetSource(hub_split.files, "parquet", hub_split.describe())
    if builtin is None:
        raise DatasetError(
            "no dataset given: choose a file (JSONL, CSV or Parquet) or a Hugging Face id"
        )
    return DatasetSource((builtin,), detect_format(builtin), builtin_description)
