"""Bad dataset files: every problem is one DatasetError naming the file, the line and the field.

A person pointed the app at the file; the message is all they see, so it must say where to
look. The property tests feed the loaders random bytes and random JSON-ish / CSV-ish lines:
loading either works or raises DatasetError, never anything else.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbench_desktop.core.benchmarks.base import Benchmark
from openbench_desktop.core.benchmarks.custom import CustomBenchmark
from openbench_desktop.core.benchmarks.gsm8k import Gsm8kBenchmark
from openbench_desktop.core.benchmarks.multiple_choice import MultipleChoiceBenchmark
from openbench_desktop.core.benchmarks.readers import (
    detect_format,
    read_csv,
    read_records,
    sha256_files,
)
from openbench_desktop.core.domain import DatasetRef
from openbench_desktop.core.errors import DatasetError

GOOD = b'{"question": "q", "answer": "#### 1"}\n'


def _gsm8k_error(path: Path, fmt: str | None = None) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        Gsm8kBenchmark().load(DatasetRef(path=str(path), format=fmt))
    return info.value


def _assert_one_clear_message(
    exc: DatasetError, path: Path, line: int | None, field: str | None, fragment: str
) -> None:
    message = str(exc)
    assert "\n" not in message
    assert path.name in message
    assert fragment in message
    assert exc.path == str(path)
    assert exc.line == line
    assert exc.field == field
    where = str(path) + (f", line {line}" if line is not None else "")
    where += f", field '{field}'" if field else ""
    assert message.startswith(where + ": ")
    if line is None:
        assert ", line " not in message
    # No chained low-level exception (a JSONDecodeError, a csv.Error) to confuse the report.
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


# --- one table of broken files -------------------------------------------------------------

BROKEN_FILES = [
    # (file name, bytes, line, field, fragment of the message)
    pytest.param("empty.jsonl", b"", None, None, "the file is empty", id="empty-jsonl"),
    pytest.param("empty.csv", b"", None, None, "the file is empty", id="empty-csv"),
    pytest.param("blank.jsonl", b"\n  \n\n", None, None, "no records", id="only-blank-lines"),
    pytest.param(
        "header_only.csv", b"question,answer\n", None, None, "a header but no rows", id="no-rows"
    ),
    pytest.param(
        "line3.jsonl",
        GOOD + GOOD + b'{"question": "q", "answer": "#### 1",}\n' + GOOD,
        3,
        None,
        "invalid JSON",
        id="invalid-json-line-3",
    ),
    pytest.param(
        "truncated.jsonl", GOOD + b'{"question": "q", "ans', 2, None, "invalid JSON", id="cut-off"
    ),
    pytest.param(
        "array.jsonl",
        GOOD + b'["q", "#### 1"]\n',
        2,
        None,
        "expected a JSON object",
        id="not-an-object",
    ),
    pytest.param(
        "missing.jsonl",
        GOOD + b'{"question": "q", "solution": "#### 1"}\n',
        2,
        "answer",
        "missing required field (fields present: question, solution)",
        id="missing-field",
    ),
    pytest.param(
        "wrong_type.jsonl",
        GOOD + GOOD + GOOD + b'{"question": 42, "answer": "#### 1"}\n',
        4,
        "question",
        "expected text, found a number",
        id="wrong-type",
    ),
    pytest.param(
        "null.jsonl",
        b'{"question": null, "answer": "#### 1"}\n',
        1,
        "question",
        "found null",
        id="null-field",
    ),
    pytest.param(
        "latin1.jsonl",
        GOOD + '{"question": "caf\u00e9", "answer": "#### 1"}\n'.encode("latin-1"),
        2,
        None,
        "not UTF-8 text (undecodable byte at column 18)",
        id="non-utf8-jsonl",
    ),
    pytest.param(
        "latin1.csv",
        b"question,answer\nq,#### 1\n" + "caf\u00e9,#### 2\n".encode("latin-1"),
        3,
        None,
        "not UTF-8",
        id="non-utf8-csv",
    ),
    pytest.param(
        "quote.csv", b'question,answer\n"q,#### 1\n', 2, None, "malformed CSV", id="open-quote"
    ),
    pytest.param(
        "wide.csv",
        b"question,answer\nq,#### 1\nq,#### 2,extra\n",
        3,
        None,
        "this row has 3 fields but the header has 2",
        id="csv-row-too-wide",
    ),
    pytest.param(
        "dup.csv",
        b"question,answer,question\nq,#### 1,q\n",
        1,
        "question",
        "appears twice",
        id="csv-duplicate-column",
    ),
    pytest.param(
        "noname.csv",
        b"question,,answer\nq,x,#### 1\n",
        1,
        None,
        "column 2 of the header",
        id="csv-unnamed-column",
    ),
    pytest.param(
        "garbage.parquet",
        b"PAR1 this is not parquet",
        None,
        None,
        "not a readable Parquet",
        id="bad-parquet",
    ),
    pytest.param(
        "notes.txt", GOOD, None, None, "cannot tell the file format from '.txt'", id="unknown-ext"
    ),
    pytest.param("README", GOOD, None, None, "from no extension", id="no-extension"),
]


@pytest.mark.parametrize(("name", "content", "line", "field", "fragment"), BROKEN_FILES)
def test_broken_file(
    tmp_path: Path, name: str, content: bytes, line: int | None, field: str | None, fragment: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    exc = _gsm8k_error(path)
    _assert_one_clear_message(exc, path, line, field, fragment)


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "test.jsonl"
    folder.mkdir()
    exc = _gsm8k_error(folder)
    _assert_one_clear_message(exc, folder, None, None, "this is a folder, not a dataset file")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "test.jsonl"
    exc = _gsm8k_error(path)
    _assert_one_clear_message(exc, path, None, None, "file not found")


def test_hash_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read the file"):
        sha256_files([tmp_path / "gone.jsonl"])


def test_unknown_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD)
    exc = _gsm8k_error(path, fmt="yaml")
    _assert_one_clear_message(exc, path, None, None, "unknown dataset format 'yaml'")
    assert "jsonl, csv, parquet" in str(exc)


def test_explicit_format_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(GOOD)
    loaded = Gsm8kBenchmark().load(DatasetRef(path=str(path), format="ndjson"))
    assert [s.expected for s in loaded.samples] == ["1"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"), ("a.CSV", "csv"), ("a.pq", "parquet")],
)
def test_detect_format(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_empty_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"question": pa.array([], pa.string())}), path)
    exc = _gsm8k_error(path)
    _assert_one_clear_message(exc, path, None, None, "the file has no rows")


def test_parquet_row_number_is_the_line(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    rows = [{"question": "q", "answer": "#### 1"}] * 1500 + [{"question": "q", "answer": "x"}]
    pq.write_table(pa.Table.from_pylist(rows), path)
    exc = _gsm8k_error(path)
    # Past the first read batch: the row count carries across batches.
    _assert_one_clear_message(exc, path, 1501, "answer", "no final answer")


# --- line numbers a person can find ----------------------------------------------------------


def test_jsonl_line_counts_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "gaps.jsonl"
    path.write_bytes(b"\n" + GOOD + b"\n\n" + b'{"question": "q"}\n')
    exc = _gsm8k_error(path)
    _assert_one_clear_message(exc, path, 5, "answer", "missing required field")


def test_csv_line_is_where_a_multiline_record_starts(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_bytes(b'question,answer\n"two\nlines",#### 1\n\n"three\nlines\nhere",no number\n')
    exc = _gsm8k_error(path)
    _assert_one_clear_message(exc, path, 5, "answer", "no final answer")


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + GOOD.replace(b"\n", b"\r\n") * 2)
    as_csv = tmp_path / "bom.csv"
    as_csv.write_bytes(b"\xef\xbb\xbfquestion,answer\r\nq,#### 1\r\nq,#### 1\r\n")
    for path in (jsonl, as_csv):
        loaded = Gsm8kBenchmark().load(DatasetRef(path=str(path)))
        assert [s.expected for s in loaded.samples] == ["1", "1"]


def test_bom_after_line_one_is_not_text(tmp_path: Path) -> None:
    # Only the first line may carry a byte-order mark; later ones are a JSON error.
    path = tmp_path / "bom2.jsonl"
    path.write_bytes(GOOD + b"\xef\xbb\xbf" + GOOD)
    exc = _gsm8k_error(path)
    _assert_one_clear_message(exc, path, 2, None, "invalid JSON")


def test_read_csv_without_header_names_columns(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_bytes(b"a,b\n\nc,d,e\n")
    assert list(read_csv(path, header=False)) == [
        (1, {"column 1": "a", "column 2": "b"}),
        (3, {"column 1": "c", "column 2": "d", "column 3": "e"}),
    ]
    with pytest.raises(DatasetError) as info:
        list(read_csv(path, header=False, fieldnames=["x", "y"]))
    assert info.value.line == 3
    assert "this row has 3 fields but expected 2" in str(info.value)


# --- property tests: nothing but DatasetError escapes ------------------------------------------

_FIELD_NAMES = [
    "question", "answer", "choices", "subject", "prompt", "expected", "input", "target",
    "output", "system", "A", "B", "C", "D",
]  # fmt: skip
_TRICKY_TEXT = [
    "#### 18", "#### 1,234", "1e5000", "A", "b", "(C)", "2", "²", "٣", "[", '["a", "b"]',
    "[[[[[[", "NaN", "question", "answer", "", " ", "\ufeff",
]  # fmt: skip

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(_TRICKY_TEXT)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_records = st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=6), _values)
_json_lines = st.lists(
    _records.map(json.dumps) | _values.map(json.dumps) | st.text(max_size=30) | st.just(""),
    max_size=6,
).map(lambda lines: "\n".join(lines).encode("utf-8"))

_cells = st.sampled_from(_FIELD_NAMES + _TRICKY_TEXT) | st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(list(',"\n\r\x00')), max_size=12
)
_rows = st.lists(st.lists(_cells, max_size=7), max_size=6)


def _csv_bytes(rows: list[list[str]], quoted: bool) -> bytes:
    if quoted:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        return buffer.getvalue().encode("utf-8")
    return "\n".join(",".join(row) for row in rows).encode("utf-8")


_csv_content = st.builds(_csv_bytes, _rows, st.booleans())

_LOADERS: list[Callable[[], Benchmark]] = [
    Gsm8kBenchmark,
    MultipleChoiceBenchmark,
    CustomBenchmark,
    lambda: CustomBenchmark(scorer="numeric"),
    lambda: CustomBenchmark(scorer="regex", scorer_arg=r"(?P<answer>\w+)"),
]


def _load_everything(folder: Path, name: str, content: bytes) -> None:
    path = folder / name
    path.write_bytes(content)
    try:
        list(read_records(path))
    except DatasetError as exc:
        assert str(exc)
    if path.suffix == ".csv":
        with contextlib.suppress(DatasetError):
            list(read_records(path, csv_header=False))
    for make in _LOADERS:
        try:
            loaded = make().load(DatasetRef(path=str(path)))
        except DatasetError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert loaded.samples
            assert [s.index for s in loaded.samples] == list(range(len(loaded.samples)))


_PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_PROPERTY
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".csv", ".parquet"]))
def test_random_bytes_load_or_raise_dataset_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str
) -> None:
    _load_everything(tmp_path_factory.mktemp("bytes"), "data" + suffix, content)


@_PROPERTY
@given(content=_json_lines)
def test_random_json_lines_load_or_raise_dataset_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    _load_everything(tmp_path_factory.mktemp("jsonl"), "data.jsonl", content)


@_PROPERTY
@given(content=_csv_content)
def test_random_csv_rows_load_or_raise_dataset_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    _load_everything(tmp_path_factory.mktemp("csv"), "data.csv", content)
