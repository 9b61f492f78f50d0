"""Multiple choice in the MMLU form: a question, 2–10 lettered options, one right letter.

Accepted layouts (any may carry an optional ``subject``):

* the original MMLU CSV: ``question,A,B,C,D,answer`` with **no header** and the answer a
  letter. Any width works: the first column is the question, the last the answer and
  those between the options. A first row that reads ``question,...,answer`` is taken as a
  header, so the same columns with a header row load too;
* the Hugging Face form (``cais/mmlu``), in JSONL or Parquet: ``question``, ``choices``
  (a list) and ``answer`` as a 0-based index (a letter is accepted as well);
* JSONL/Parquet with one field per option, ``A``, ``B``, ... and ``answer``.

The expected answer is the letter; the sample's metadata holds ``choices`` (so the scorer
can map a reply that repeats an option's text back to its letter) and ``subject``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from openbench_desktop.core.benchmarks.base import LoadedDataset, Score
from openbench_desktop.core.benchmarks.extract import LETTERS, extract_choice_letter
from openbench_desktop.core.benchmarks.readers import Record, describe_type, text_field
from openbench_desktop.core.benchmarks.sources import resolve_source
from openbench_desktop.core.domain import DatasetRef, Message, Sample
from openbench_desktop.core.errors import DatasetError

__all__ = ["INSTRUCTION", "MultipleChoiceBenchmark", "build_prompt"]

MIN_CHOICES = 2
MAX_CHOICES = len(LETTERS)
INSTRUCTION = "Answer with the letter of the correct option."

HUB_CONFIG = "all"
HUB_SPLIT = "test"

_HEADER_FIRST = {"question", "prompt", "input"}
_HEADER_LAST = {"answer", "target", "label"}


def build_prompt(question: str, choices: Sequence[str], subject: str | None = None) -> str:
    lines = []
    if subject:
        lines += [f"The following is a multiple choice question about {subject}.", ""]
    lines += [question.strip(), ""]
    lines += [f"{letter}. {choice}" for letter, choice in zip(LETTERS, choices, strict=False)]
    lines += ["", INSTRUCTION]
    return "\n".join(lines)


def _subject_name(raw: str) -> str:
    return raw.replace("_", " ").strip()  # cais/mmlu says "high_school_physics"


def _choice_text(value: Any, *, path: str, line: int, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise DatasetError(
        f"an option must be text, found {describe_type(value)}", path=path, line=line, field=field
    )


def _check_count(count: int, *, path: str, line: int, field: str) -> None:
    if not MIN_CHOICES <= count <= MAX_CHOICES:
        raise DatasetError(
            f"expected {MIN_CHOICES} to {MAX_CHOICES} options, found {count}",
            path=path,
            line=line,
            field=field,
        )


def _choices(record: Record, *, path: str, line: int) -> list[str]:
    if "choices" in record:
        raw = record["choices"]
        if isinstance(raw, str) and raw.lstrip().startswith("["):
            # A CSV with a header can only hold the list as text: accept JSON there.
            with contextlib.suppress(ValueError, RecursionError):
                raw = json.loads(raw)
        if not isinstance(raw, list | tuple):
            raise DatasetError(
                f"expected a list of options, found {describe_type(raw)}",
                path=path,
                line=line,
                field="choices",
            )
        _check_count(len(raw), path=path, line=line, field="choices")
        return [
            _choice_text(value, path=path, line=line, field="choices") for value in raw
        ]
    letters = []
    for letter in LETTERS:
        if letter not in record:
            break
        letters.append(letter)
    if not letters:
        raise DatasetError(
            "missing required field: give the options as a 'choices' list "
            "or as fields 'A', 'B', ...",
            path=path,
            line=line,
            field="choices",
        )
    _check_count(len(letters), path=path, line=line, field=letters[-1])
    return [_choice_text(record[k], path=path, line=line, field=k) for k in letters]


def _answer_letter(value: Any, n_choices: int, *, path: str, line: int) -> str:
    valid = LETTERS[:n_choices]
    index: int | None = None
    if isinstance(value, bool):
        index = None
    elif isinstance(value, int):
        index = value
    elif isinstance(value, float) and value.is_integer():
        index = int(value)
    elif isinstance(value, str):
        text = value.strip().strip("()").strip()
        if len(text) == 1 and text.upper() in valid:
            return text.upper()
        if text.isascii() and text.isdigit():  # int() rejects "²", which isdigit() allows
            index = int(text)
        else:
            raise DatasetError(
                f"expected a letter {valid[0]}-{valid[-1]} or a 0-based index, found {value!r}",
                path=path,
                line=line,
                field="answer",
            )
    if index is None:
        raise DatasetError(
            f"expected a letter or a 0-based index, found {describe_type(value)}",
            path=path,
            line=line,
            field="answer",
        )
    if not 0 <= index < n_choices:
        raise DatasetError(
            f"answer index {index} is out of range for {n_choices} options (0-{n_choices - 1})",
            path=path,
            line=line,
            field="answer",
        )
    return LETTERS[index]


def _looks_like_header(record: Record) -> bool:
    values = [str(v).strip().lower() for v in record.values()]
    return len(values) >= 2 and values[0] in _HEADER_FIRST and values[-1] in _HEADER_LAST


def _csv_records(
    rows: Iterator[tuple[str, int, Record]],
) -> Iterator[tuple[str, int, Record]]:
    """Turn positional CSV rows (``column 1``...) into named records.

    Headerless rows are mapped ``question, A, B, ..., answer`` by width; a header row,
    when the file has one, names the columns instead.
    """
    header: list[str] | None = None
    current_file: str | None = None
    first = False
    for path, line, row in rows:
        if path != current_file:
            current_file, header, first = path, None, True
        if first:
            first = False
            if _looks_like_header(row):
                header = [str(v).strip() for v in row.values()]
                # "question,A,B,C,D,answer" from a spreadsheet: normalise the name case.
                header = [h.lower() if h.lower() in _HEADER_FIRST | _HEADER_LAST | {"subject"}
                          else h for h in header]
                continue
        values = list(row.values())
        if header is not None:
            if len(values) != len(header):
                raise DatasetError(
                    f"this row has {len(values)} fields but the header has {len(header)}",
                    path=path,
                    line=line,
                )
            yield path, line, dict(zip(header, values, strict=True))
            continue
        n_choices = len(values) - 2
        _check_count(n_choices, path=path, line=line, field=f"column {len(values)}")
        record: Record = {"question": values[0], "answer": values[-1]}
        record.update(zip(LETTERS, values[1:-1], strict=False))
        yield path, line, record


class MultipleChoiceBenchmark:
    name = "mmlu"
    title = "MMLU (multiple choice)"

    def __init__(self, *, hub_cache: Path | None = None) -> None:
        self._hub_cache = hub_cache

    def load(self, ref: DatasetRef) -> LoadedDataset:
        source = resolve_source(
            ref,
            hub_cache=self._hub_cache,
            default_config=HUB_CONFIG,
            default_split=HUB_SPLIT,
        )
        if source.format == "csv":
            # MMLU's CSV has no header; _csv_records spots one if present.
            records = _csv_records(source.records(csv_header=False))
        else:
            records = source.records()
        samples = [
            self._sample(index, record, path=path, line=line)
            for index, (path, line, record) in enumerate(records)
        ]
        if not samples:  # a CSV holding only its header row (the readers reject other empties)
            raise DatasetError("the file has a header but no rows", path=str(source.files[0]))
        return LoadedDataset(samples, source.sha256(), source.description)

    def _sample(self, index: int, record: Record, *, path: str, line: int) -> Sample:
        question = text_field(record, "question", path=path, line=line)
        choices = _choices(record, path=path, line=line)
        if "answer" not in record:
            text_field(record, "answer", path=path, line=line)  # raises "missing field"
        expected = _answer_letter(record["answer"], len(choices), path=path, line=line)
        subject_raw = record.get("subject")
        if subject_raw is not None and not isinstance(subject_raw, str):
            raise DatasetError(
                f"expected text, found {describe_type(subject_raw)}",
                path=path,
                line=line,
                field="subject",
            )
        subject = _subject_name(subject_raw) if subject_raw else None
        metadata: dict[str, Any] = {"choices": tuple(choices)}
        if subject:
            metadata["subject"] = subject
        return Sample(
            index=index,
            messages=(Message("user", build_prompt(question, choices, subject)),),
            expected=expected,
            metadata=metadata,
        )

    def score(self, sample: Sample, output: str) -> Score:
        choices = sample.metadata.get("choices") or ()
        letter = extract_choice_letter(output, list(choices))
        if letter is None:
            return Score(None, 0.0)
        return Score(letter, 1.0 if letter == sample.expected else 0.0)
