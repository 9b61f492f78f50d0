"""Multiple choice (MMLU): the original CSV, the Hugging Face form in JSONL and Parquet, and
reading the chosen letter out of free text."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbench_desktop.core.benchmarks.extract import extract_choice_letter
from openbench_desktop.core.benchmarks.multiple_choice import (
    INSTRUCTION,
    MultipleChoiceBenchmark,
    build_prompt,
)
from openbench_desktop.core.benchmarks.readers import sha256_files
from openbench_desktop.core.domain import DatasetRef, Message, Sample
from openbench_desktop.core.errors import DatasetError

# Rows in the shape of cais/mmlu: question, subject, choices, answer (0-based index).
HF_ROWS: list[dict[str, Any]] = [
    {
        "question": "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.",
        "subject": "abstract_algebra",
        "choices": ["0", "1", "2", "3"],
        "answer": 1,
    },
    {
        "question": "What is the capital of France?",
        "subject": "geography",
        "choices": ["Paris", "London", "Berlin", "Madrid"],
        "answer": 0,
    },
    {
        "question": 'Which statement is true? "A, B" style options may hold commas.',
        "subject": "logical_fallacies",
        "choices": ["True, True", "False, False", "True, False", "False, True"],
        "answer": 3,
    },
    {
        "question": "A ball is thrown upward. At its highest point its acceleration is",
        "subject": "high_school_physics",
        "choices": ["zero", "g upward", "g downward", "undefined"],
        "answer": 2,
    },
]
EXPECTED_LETTERS = ["B", "A", "D", "C"]


def _write_mmlu_csv(path: Path, rows: list[dict[str, Any]], *, header: bool = False) -> None:
    """The original MMLU layout: question,A,B,C,D,answer with the answer as a letter."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(["question", "A", "B", "C", "D", "answer"])
        for row in rows:
            writer.writerow([row["question"], *row["choices"], "ABCD"[row["answer"]]])


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def _load(path: Path) -> list[Sample]:
    return MultipleChoiceBenchmark().load(DatasetRef(path=str(path))).samples


def _mc_sample(choices: list[str], expected: str) -> Sample:
    return Sample(
        index=0,
        messages=(Message("user", "q"),),
        expected=expected,
        metadata={"choices": tuple(choices)},
    )


# --- loading -----------------------------------------------------------------------------


def test_original_mmlu_csv_without_header(tmp_path: Path) -> None:
    path = tmp_path / "abstract_algebra_test.csv"
    _write_mmlu_csv(path, HF_ROWS)
    samples = _load(path)
    assert [s.expected for s in samples] == EXPECTED_LETTERS
    assert [s.index for s in samples] == [0, 1, 2, 3]
    assert samples[2].metadata["choices"] == (
        "True, True",
        "False, False",
        "True, False",
        "False, True",
    )
    # No subject column in the original CSV.
    assert "subject" not in samples[0].metadata
    assert samples[1].messages[0].content == build_prompt(
        "What is the capital of France?", ["Paris", "London", "Berlin", "Madrid"]
    )


def test_csv_with_header_row_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "with_header.csv"
    _write_mmlu_csv(path, HF_ROWS, header=True)
    samples = _load(path)
    assert len(samples) == len(HF_ROWS)  # the header is not a question
    assert [s.expected for s in samples] == EXPECTED_LETTERS
    assert samples[0].metadata["choices"] == ("0", "1", "2", "3")


def test_csv_with_five_options_and_lowercase_letter(tmp_path: Path) -> None:
    path = tmp_path / "five.csv"
    path.write_text("Pick the vowel,b,c,d,e,f,d\n", encoding="utf-8")
    (sample,) = _load(path)
    assert sample.metadata["choices"] == ("b", "c", "d", "e", "f")
    assert sample.expected == "D"
    assert "E. f" in sample.messages[0].content


def test_huggingface_form_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "mmlu.jsonl"
    _write_jsonl(path, HF_ROWS)
    samples = _load(path)
    assert [s.expected for s in samples] == EXPECTED_LETTERS
    assert samples[3].metadata["subject"] == "high school physics"
    prompt = samples[3].messages[0].content
    assert prompt.startswith(
        "The following is a multiple choice question about high school physics."
    )
    assert "A. zero\nB. g upward\nC. g downward\nD. undefined" in prompt
    assert prompt.endswith(INSTRUCTION)


def test_huggingface_form_parquet_matches_jsonl(tmp_path: Path) -> None:
    jsonl = tmp_path / "mmlu.jsonl"
    parquet = tmp_path / "test-00000-of-00001.parquet"
    _write_jsonl(jsonl, HF_ROWS)
    _write_parquet(parquet, HF_ROWS)
    from_jsonl = _load(jsonl)
    loaded = MultipleChoiceBenchmark().load(DatasetRef(path=str(parquet)))
    assert loaded.samples == from_jsonl
    assert loaded.sha256 == sha256_files([parquet])


def test_all_three_forms_agree(tmp_path: Path) -> None:
    _write_mmlu_csv(tmp_path / "a.csv", HF_ROWS)
    _write_jsonl(tmp_path / "a.jsonl", HF_ROWS)
    _write_parquet(tmp_path / "a.parquet", HF_ROWS)
    loaded = [_load(tmp_path / name) for name in ("a.csv", "a.jsonl", "a.parquet")]
    for samples in loaded:
        assert [(s.expected, s.metadata["choices"]) for s in samples] == [
            (s.expected, s.metadata["choices"]) for s in loaded[0]
        ]


@pytest.mark.parametrize(
    ("answer", "letter"),
    [(0, "A"), (3, "D"), ("C", "C"), ("b", "B"), ("(D)", "D"), ("2", "C"), (1.0, "B")],
)
def test_answer_as_index_or_letter(tmp_path: Path, answer: object, letter: str) -> None:
    path = tmp_path / "one.jsonl"
    _write_jsonl(path, [{"question": "q", "choices": ["w", "x", "y", "z"], "answer": answer}])
    assert _load(path)[0].expected == letter


def test_one_field_per_option(tmp_path: Path) -> None:
    path = tmp_path / "letters.jsonl"
    _write_jsonl(path, [{"question": "q", "A": "yes", "B": "no", "C": 3, "answer": "C"}])
    (sample,) = _load(path)
    assert sample.metadata["choices"] == ("yes", "no", "3")
    assert sample.expected == "C"


@pytest.mark.parametrize(
    ("record", "field", "fragment"),
    [
        ({"question": "q", "choices": ["a", "b"], "answer": 2}, "answer", "out of range"),
        ({"question": "q", "choices": ["a", "b"], "answer": "E"}, "answer", "expected a letter"),
        ({"question": "q", "choices": ["a", "b"], "answer": True}, "answer", "true/false"),
        ({"question": "q", "choices": ["a", "b"], "answer": "²"}, "answer", "expected a letter"),
        ({"question": "q", "choices": ["a"], "answer": 0}, "choices", "2 to 10 options"),
        ({"question": "q", "choices": "a, b", "answer": 0}, "choices", "list of options"),
        ({"question": "q", "choices": "[" * 100_000, "answer": 0}, "choices", "list of options"),
        ({"question": "q", "choices": ["a", {"b": 1}], "answer": 0}, "choices", "an object"),
        ({"question": "q", "answer": 0}, "choices", "missing required field"),
        ({"question": "q", "choices": ["a", "b"]}, "answer", "missing required field"),
        ({"choices": ["a", "b"], "answer": 0}, "question", "missing required field"),
        ({"question": "q", "choices": ["a", "b"], "answer": 0, "subject": 5}, "subject", "text"),
    ],
)
def test_bad_record_names_file_line_and_field(
    tmp_path: Path, record: dict[str, Any], field: str, fragment: str
) -> None:
    path = tmp_path / "bad.jsonl"
    _write_jsonl(path, [{"question": "fine", "choices": ["a", "b"], "answer": 0}, record])
    with pytest.raises(DatasetError) as info:
        _load(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 2, field)
    message = str(info.value)
    assert message.startswith(f"{path}, line 2, field '{field}': ")
    assert fragment in message


def test_csv_row_too_narrow_names_line(tmp_path: Path) -> None:
    path = tmp_path / "narrow.csv"
    path.write_text("q1,a,b,c,d,A\nq2,a,B\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        _load(path)
    assert info.value.line == 2
    assert "narrow.csv" in str(info.value)
    assert "found 1" in str(info.value)


def test_csv_with_header_and_short_row(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("question,A,B,answer\nq,x,y,A\nq,x,A\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        _load(path)
    assert info.value.line == 3
    assert "3 fields but the header has 4" in str(info.value)


def test_csv_with_only_a_header_row(tmp_path: Path) -> None:
    path = tmp_path / "header_only.csv"
    path.write_text("question,A,B,C,D,answer\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        _load(path)
    assert str(info.value) == f"{path}: the file has a header but no rows"


def test_no_dataset_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="no dataset given"):
        MultipleChoiceBenchmark().load(DatasetRef())


# --- reading the letter out of a reply -----------------------------------------------------

CAPITALS = ["Paris", "London", "Berlin", "Madrid"]

LETTER_CASES = [
    pytest.param("The answer is (B).", "B", id="answer-is-parenthesised"),
    pytest.param("B", "B", id="bare-letter"),
    pytest.param("B.", "B", id="letter-period"),
    pytest.param("(C)", "C", id="parenthesised"),
    pytest.param("**C**", "C", id="bold"),
    pytest.param("Answer: d", "D", id="answer-colon-lowercase"),
    pytest.param("c", "C", id="lowercase-only"),
    pytest.param("Answer: **C**", "C", id="answer-bold"),
    pytest.param("The correct option is (D).", "D", id="correct-option"),
    pytest.param("Option B is correct.", "B", id="option-is-correct"),
    pytest.param("I choose D", "D", id="i-choose"),
    pytest.param("B. London", "B", id="leading-letter-and-text"),
    pytest.param("(B) London, since it is the UK capital.", "B", id="leading-parenthesised"),
    pytest.param("London", "B", id="choice-text-only"),
    pytest.param("The capital of France is Paris.", "A", id="restates-choice-text"),
    pytest.param("\\boxed{A}", "A", id="boxed"),
    pytest.param("Thus $\\boxed{\\text{(C)}}$", "C", id="boxed-text"),
    pytest.param("The answer is A... wait, \\boxed{C}", "C", id="boxed-beats-statement"),
    pytest.param(
        "<think>The answer is A. Hmm, no.</think>The answer is C.", "C", id="think-dropped"
    ),
    pytest.param("Let me think about it carefully... so I would say C.", "C", id="trailing"),
    pytest.param("A good question; on reflection, **B**", "B", id="a-is-a-word"),
    pytest.param("I'm not sure.", None, id="no-letter"),
    pytest.param("It could be A or B.", None, id="hedge-or"),
    pytest.param("Either (A) or (B), hard to say.", None, id="hedge-parenthesised"),
    pytest.param("A/B", None, id="hedge-slash"),
    pytest.param("Paris or London, hard to say.", None, id="two-choice-texts"),
    pytest.param("The answer is E.", None, id="letter-out-of-range"),
    pytest.param("the answer is a matter of taste", None, id="article-not-letter"),
    pytest.param("", None, id="empty"),
    pytest.param("   ", None, id="blank"),
]


@pytest.mark.parametrize(("reply", "letter"), LETTER_CASES)
def test_extract_letter(reply: str, letter: str | None) -> None:
    assert extract_choice_letter(reply, CAPITALS) == letter


@pytest.mark.parametrize(("reply", "letter"), LETTER_CASES)
def test_score_against_b(reply: str, letter: str | None) -> None:
    result = MultipleChoiceBenchmark().score(_mc_sample(CAPITALS, "B"), reply)
    assert result.extracted == letter
    assert result.score == (1.0 if letter == "B" else 0.0)


def test_hedge_is_not_confused_with_ruling_options_out() -> None:
    assert extract_choice_letter("A or B can't be right, so C.", CAPITALS) == "C"


def test_only_valid_letters_for_two_choices() -> None:
    assert extract_choice_letter("The answer is C.", ["yes", "no"]) is None
    assert extract_choice_letter("The answer is B.", ["yes", "no"]) == "B"


def test_loaded_sample_scores_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "mmlu.csv"
    _write_mmlu_csv(path, HF_ROWS)
    bench = MultipleChoiceBenchmark()
    samples = bench.load(DatasetRef(path=str(path))).samples
    france = samples[1]
    assert bench.score(france, "Paris").score == 1.0
    assert bench.score(france, "The answer is (A).").score == 1.0
    assert bench.score(france, "The answer is (B).").score == 0.0


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.lists(st.text(max_size=20), min_size=0, max_size=11))
def test_extraction_never_raises(reply: str, choices: list[str]) -> None:
    letter = extract_choice_letter(reply, choices)
    assert letter is None or letter in "ABCDEFGHIJ"[: len(choices)]
