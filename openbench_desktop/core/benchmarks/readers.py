"""Record readers for dataset files: JSONL, CSV and Parquet.

Every reader yields ``(line, record)`` pairs, where ``record`` is a plain ``dict`` and
``line`` is where a person finds the record: the 1-based line in a JSONL file, the
1-based line on which a CSV record starts (the header is line 1), and the 1-based row
number in a Parquet file. Blank lines are skipped, so the *position* of a record (the
sample index) is counted by the caller, not derived from the line.

Anything malformed raises :class:`~openbench_desktop.core.errors.DatasetError` naming the
file, the line and, where one is at fault, the field: a user pointed the app at the file
and needs to know where to look. No other exception escapes a reader (a property test
feeds them random bytes).

pyarrow is imported only when a Parquet file is read: it is heavy and most runs never
need it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from openbench_desktop.core.errors import DatasetError

__all__ = [
    "FORMATS",
    "Record",
    "describe_type",
    "detect_format",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "read_records",
    "sha256_files",
    "text_field",
]

Record = dict[str, Any]
PathLike = str | os.PathLike[str]

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_PARQUET_BATCH_ROWS = 1024


def detect_format(path: PathLike, fmt: str | None = None) -> str:
    """The reader for ``path``: ``fmt`` when given, else from the file suffix."""
    if fmt:
        name = fmt.strip().lower().lstrip(".")
        if name == "ndjson":
            name = "jsonl"
        if name not in FORMATS:
            raise DatasetError(
                f"unknown dataset format '{fmt}': expected one of {', '.join(FORMATS)}",
                path=str(path),
            )
        return name
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    shown = f"'{suffix}'" if suffix else "no extension"
    raise DatasetError(
        f"cannot tell the file format from {shown}: use a .jsonl, .csv or .parquet file, "
        "or choose the format explicitly",
        path=str(path),
    )


def read_records(
    path: PathLike,
    fmt: str | None = None,
    *,
    csv_header: bool = True,
    csv_fieldnames: Sequence[str] | None = None,
) -> Iterator[tuple[int, Record]]:
    """Records of a JSONL, CSV or Parquet file; see :func:`read_csv` for the CSV options."""
    kind = detect_format(path, fmt)
    if kind == "jsonl":
        return read_jsonl(path)
    if kind == "csv":
        return read_csv(path, header=csv_header, fieldnames=csv_fieldnames)
    return read_parquet(path)


def _check_file(path: PathLike) -> int:
    """Fail early with a readable message; returns the size in bytes."""
    where = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DatasetError("file not found", path=where) from None
    except OSError as exc:
        raise DatasetError(f"cannot read the file: {exc.strerror or exc}", path=where) from None
    if Path(path).is_dir():
        raise DatasetError("this is a folder, not a dataset file", path=where)
    if info.st_size == 0:
        raise DatasetError("the file is empty", path=where)
    return info.st_size


def _open_binary(path: PathLike) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise DatasetError(
            f"cannot read the file: {exc.strerror or exc}", path=str(path)
        ) from None


def _decode(raw: bytes, *, path: str, line: int) -> str:
    try:
        # A BOM is common in files saved by spreadsheet programs; only line 1 can have one.
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"not UTF-8 text (undecodable byte at column {exc.start + 1}); "
            "save the file as UTF-8",
            path=path,
            line=line,
        ) from None


def describe_type(value: object) -> str:
    """How a person would name a JSON value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read_jsonl(path: PathLike) -> Iterator[tuple[int, Record]]:
    """One JSON object per line; blank lines are skipped."""
    where = str(path)
    _check_file(path)
    count = 0
    with _open_binary(path) as handle:
        try:
            for line, raw in enumerate(handle, start=1):
                text = _decode(raw, path=where, line=line)
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except ValueError as exc:  # JSONDecodeError, and over-long integers
                    detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                    raise DatasetError(f"invalid JSON: {detail}", path=where, line=line) from None
                except RecursionError:
                    raise DatasetError(
                        "invalid JSON: nested too deeply", path=where, line=line
                    ) from None
                if not isinstance(value, dict):
                    raise DatasetError(
                        f"expected a JSON object {{...}}, found {describe_type(value)}",
                        path=where,
                        line=line,
                    )
                count += 1
                yield line, value
        except OSError as exc:
            raise DatasetError(
                f"cannot read the file: {exc.strerror or exc}", path=where
            ) from None
    if count == 0:
        raise DatasetError("the file has no records (only blank lines)", path=where)


def _decoded_lines(handle: IO[bytes], path: str) -> Iterator[str]:
    for line, raw in enumerate(handle, start=1):
        yield _decode(raw, path=path, line=line)


def read_csv(
    path: PathLike,
    *,
    header: bool = True,
    fieldnames: Sequence[str] | None = None,
) -> Iterator[tuple[int, Record]]:
    """Rows of a comma-separated file, as dicts.

    ``header=True``: the first row names the fields, and every row must have as many.
    ``header=False``: every row is data; fields are named by ``fieldnames`` (then every
    row must have that many) or, without it, ``"column 1"``, ``"column 2"``... so that an
    error reads "field 'column 3'" and rows may differ in width (the caller checks).
    Blank lines are skipped. The line reported is the line a record starts on.
    """
    where = str(path)
    _check_file(path)
    if header and fieldnames is not None:
        raise ValueError("pass either header=True or fieldnames, not both")
    names: list[str] | None = list(fieldnames) if fieldnames is not None else None
    count = 0
    with _open_binary(path) as handle:
        # strict: a stray quote is an error rather than a silently merged field.
        reader = csv.reader(_decoded_lines(handle, where), strict=True)
        line = 0
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise DatasetError(f"malformed CSV: {exc}", path=where, line=start) from None
            except OSError as exc:
                raise DatasetError(
                    f"cannot read the file: {exc.strerror or exc}", path=where
                ) from None
            line = start
            if not row:
                continue
            if header and names is None:
                names = _check_header(row, path=where, line=line)
                continue
            if names is None:
                record = {f"column {i}": value for i, value in enumerate(row, start=1)}
            else:
                if len(row) != len(names):
                    expected = "the header has" if header else "expected"
                    raise DatasetError(
                        f"this row has {len(row)} fields but {expected} {len(names)}",
                        path=where,
                        line=line,
                    )
                record = dict(zip(names, row, strict=True))
            count += 1
            yield line, record
    if count == 0:
        raise DatasetError(
            "the file has a header but no rows" if header and names else "the file has no rows",
            path=where,
        )


def _check_header(row: list[str], *, path: str, line: int) -> list[str]:
    names = [name.strip() for name in row]
    for position, name in enumerate(names, start=1):
        if not name:
            raise DatasetError(f"column {position} of the header has no name", path=path, line=line)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DatasetError(
                "this column name appears twice in the header", path=path, line=line, field=name
            )
        seen.add(name)
    return names


def read_parquet(path: PathLike) -> Iterator[tuple[int, Record]]:
    """Rows of a Parquet file as dicts of plain Python values; ``line`` is the row number."""
    where = str(path)
    _check_file(path)
    import pyarrow as pa  # lazily: pyarrow is heavy and only Parquet needs it
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"not a readable Parquet file: {exc}", path=where) from None
    row = 0
    try:
        while True:
            try:
                batch = next(batches)
                rows = batch.to_pylist()
            except StopIteration:
                break
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise DatasetError(
                    f"cannot read Parquet data: {exc}", path=where, line=row + 1
                ) from None
            for record in rows:
                row += 1
                yield row, record
    finally:
        parquet.close()
    if row == 0:
        raise DatasetError("the file has no rows", path=where)


def text_field(
    record: Record,
    name: str,
    *,
    path: str,
    line: int,
    numbers: bool = False,
    allow_empty: bool = False,
) -> str:
    """``record[name]`` as text, or a DatasetError naming the file, line and field.

    ``numbers=True`` also accepts a JSON number (written back as ``18`` or ``0.5``), for
    answer fields that some files store as numbers.
    """
    if name not in record:
        present = ", ".join(sorted(map(str, record))) or "none"
        raise DatasetError(
            f"missing required field (fields present: {present})",
            path=path,
            line=line,
            field=name,
        )
    value = record[name]
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)
    if not isinstance(value, str):
        wanted = "text or a number" if numbers else "text"
        raise DatasetError(
            f"expected {wanted}, found {describe_type(value)}", path=path, line=line, field=name
        )
    if not allow_empty and not value.strip():
        raise DatasetError("the field is empty", path=path, line=line, field=name)
    return value


def sha256_files(paths: Iterable[PathLike]) -> str:
    """SHA-256 of the files' bytes, concatenated in order (a single file: its own hash)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise DatasetError(
                f"cannot read the file: {exc.strerror or exc}", path=str(path)
            ) from None
    return digest.hexdigest()
