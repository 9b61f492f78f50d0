"""GSM8K: the published test file, its reference answers, and reading numbers out of replies."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbench_desktop.core.benchmarks.base import LoadedDataset
from openbench_desktop.core.benchmarks.extract import (
    extract_number,
    find_final_number,
    format_number,
    numbers_equal,
    parse_number,
)
from openbench_desktop.core.benchmarks.gsm8k import (
    DEMO_PATH,
    PROMPT_TEMPLATE,
    Gsm8kBenchmark,
    build_prompt,
    reference_answer,
)
from openbench_desktop.core.config.paths import AppPaths
from openbench_desktop.core.domain import DatasetRef, Message, Sample
from openbench_desktop.core.domain.run import RunSpec
from openbench_desktop.core.engine.runner import prepare_run
from openbench_desktop.core.errors import DatasetError

# SHA-256 of openai/gsm8k's published test.jsonl (1319 problems). A different hash means a
# different file, and scores would no longer be comparable with published results.
GSM8K_TEST_SHA256 = "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"
GSM8K_TEST_ROWS = 1319

Rows = list[dict[str, str]]


@pytest.fixture(scope="module")
def gsm8k_rows(gsm8k_path: Path) -> Rows:
    """The raw file, parsed independently of the loader under test."""
    with gsm8k_path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def gsm8k_loaded(gsm8k_path: Path) -> LoadedDataset:
    return Gsm8kBenchmark().load(DatasetRef(path=str(gsm8k_path)))


def _sample(expected: str) -> Sample:
    return Sample(index=0, messages=(Message("user", "q"),), expected=expected)


# --- the published file ------------------------------------------------------------------


def test_published_file_has_every_problem(gsm8k_loaded: LoadedDataset, gsm8k_rows: Rows) -> None:
    assert len(gsm8k_rows) == GSM8K_TEST_ROWS
    assert len(gsm8k_loaded.samples) == GSM8K_TEST_ROWS
    assert [s.index for s in gsm8k_loaded.samples] == list(range(GSM8K_TEST_ROWS))


def test_expected_answer_is_text_after_hashes_without_commas(
    gsm8k_loaded: LoadedDataset,
    gsm8k_rows: Rows,
) -> None:
    for sample, row in zip(gsm8k_loaded.samples, gsm8k_rows, strict=True):
        tail = row["answer"].rsplit("####", 1)[1].strip()
        assert sample.expected == tail.replace(",", ""), sample.index
        assert parse_number(sample.expected) is not None
        assert sample.metadata["solution"] == row["answer"]


def test_published_file_answers_with_commas_and_signs(gsm8k_loaded: LoadedDataset) -> None:
    expected = [s.expected for s in gsm8k_loaded.samples]
    assert expected[:3] == ["18", "3", "70000"]
    assert all("," not in e for e in expected)
    # The file writes some answers as "2,125" and a few as negative numbers.
    assert "2125" in expected
    assert "-10" in expected
    assert "-3" in expected


def test_prompt_is_the_zero_shot_template(gsm8k_loaded: LoadedDataset, gsm8k_rows: Rows) -> None:
    first = gsm8k_loaded.samples[0]
    assert len(first.messages) == 1
    assert first.messages[0].role == "user"
    assert first.messages[0].content == PROMPT_TEMPLATE.format(
        question=gsm8k_rows[0]["question"].strip()
    )
    assert first.messages[0].content.endswith(gsm8k_rows[0]["question"].strip())
    assert "The answer is N." in first.messages[0].content


def test_sha256_is_the_published_files_and_stable(
    gsm8k_path: Path, gsm8k_loaded: LoadedDataset
) -> None:
    assert gsm8k_loaded.sha256 == hashlib.sha256(gsm8k_path.read_bytes()).hexdigest()
    assert gsm8k_loaded.sha256 == GSM8K_TEST_SHA256
    again = Gsm8kBenchmark().load(DatasetRef(path=str(gsm8k_path)))
    assert again.sha256 == gsm8k_loaded.sha256
    assert again.samples == gsm8k_loaded.samples
    assert gsm8k_loaded.description == str(gsm8k_path)


@pytest.mark.parametrize("limit", [1, 7, 100, GSM8K_TEST_ROWS])
def test_limit_keeps_file_order(
    limit: int,
    gsm8k_path: Path,
    gsm8k_rows: Rows,
    tmp_path: Path,
) -> None:
    spec = RunSpec(
        provider="openai",
        base_url="http://127.0.0.1:9/v1",
        model="m",
        benchmark="gsm8k",
        dataset=DatasetRef(path=str(gsm8k_path)),
        limit=limit,
    )
    prepared = prepare_run(spec, AppPaths.under(tmp_path))
    assert len(prepared.samples) == limit
    assert [s.index for s in prepared.samples] == list(range(limit))
    assert prepared.samples == prepared.dataset.samples[:limit]
    for sample, row in zip(prepared.samples, gsm8k_rows, strict=False):
        assert sample.messages[0].content == build_prompt(row["question"])
    # The manifest hash is of the whole file, whatever the limit.
    assert prepared.dataset.sha256 == GSM8K_TEST_SHA256


def test_same_rows_as_csv_and_parquet_give_the_same_samples(
    gsm8k_rows: Rows, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = gsm8k_rows[:40]
    jsonl = tmp_path / "part.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    as_csv = tmp_path / "part.csv"
    with as_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["question", "answer"])
        writer.writeheader()
        writer.writerows(rows)
    parquet = tmp_path / "part.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)

    bench = Gsm8kBenchmark()
    loaded = [bench.load(DatasetRef(path=str(p))) for p in (jsonl, as_csv, parquet)]
    first = loaded[0].samples
    assert len(first) == 40
    for other in loaded[1:]:
        assert [(s.index, s.messages, s.expected) for s in other.samples] == [
            (s.index, s.messages, s.expected) for s in first
        ]


def test_builtin_demo_is_used_without_a_dataset() -> None:
    loaded = Gsm8kBenchmark().load(DatasetRef())
    assert len(loaded.samples) == 20
    assert loaded.sha256 == hashlib.sha256(DEMO_PATH.read_bytes()).hexdigest()
    assert "demo" in loaded.description
    assert all(parse_number(s.expected) is not None for s in loaded.samples)


def test_answer_may_be_a_bare_number(tmp_path: Path) -> None:
    path = tmp_path / "numbers.jsonl"
    path.write_text(
        '{"question": "a", "answer": 18}\n'
        '{"question": "b", "answer": "1,234"}\n'
        '{"question": "c", "answer": 2.0}\n'
        '{"question": "d", "answer": "Half of 9 is 4.5\\n#### 4.5"}\n',
        encoding="utf-8",
    )
    loaded = Gsm8kBenchmark().load(DatasetRef(path=str(path)))
    assert [s.expected for s in loaded.samples] == ["18", "1234", "2", "4.5"]


def test_answer_without_final_number_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(
        '{"question": "a", "answer": "#### 1"}\n'
        '{"question": "b", "answer": "She has some.\\n#### many"}\n',
        encoding="utf-8",
    )
    with pytest.raises(DatasetError) as info:
        Gsm8kBenchmark().load(DatasetRef(path=str(path)))
    assert info.value.line == 2
    assert info.value.field == "answer"
    message = str(info.value)
    assert "broken.jsonl" in message
    assert "line 2" in message
    assert "####" in message


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Janet sells 9 eggs.\n#### 18", "18"),
        ("#### 1,234", "1234"),
        ("x = -3\n#### -3", "-3"),
        ("#### 0.50", "0.50"),
        ("42", "42"),
        ("#### 4 #### 5", "5"),
        ("no hashes, no number", None),
        ("#### ", None),
    ],
)
def test_reference_answer(answer: str, expected: str | None) -> None:
    assert reference_answer(answer) == expected


# --- reading the final number out of a reply ------------------------------------------------

SCORE_CASES = [
    # (reply, expected answer, extracted, score)
    pytest.param("The answer is 1,234.", "1234", "1234", 1.0, id="answer-phrase-thousands"),
    pytest.param("The answer is 1,234.", "1,234", "1234", 1.0, id="expected-with-comma"),
    pytest.param("#### 18", "18", "18", 1.0, id="hashes"),
    pytest.param("$18.00", "18", "18", 1.0, id="currency-and-cents"),
    pytest.param("She makes $18.00 every day.", "18", "18", 1.0, id="currency-in-sentence"),
    pytest.param("18 dollars", "18", "18", 1.0, id="unit-word"),
    pytest.param("The rope is 18 cm.", "18", "18", 1.0, id="trailing-unit"),
    pytest.param("18 cm.", "18", "18", 1.0, id="bare-trailing-unit"),
    pytest.param("\\boxed{18}", "18", "18", 1.0, id="boxed"),
    pytest.param("So $\\boxed{\\$18}$.", "18", "18", 1.0, id="boxed-latex-dollar"),
    pytest.param(
        "Therefore the total is \\boxed{18}. Earlier I thought 20.",
        "18",
        "18",
        1.0,
        id="boxed-beats-later-number",
    ),
    pytest.param(
        "She has 16 eggs, eats 3 and bakes 4: 16 - 3 - 4 = 9. She sells 9 at $2, so 18.",
        "18",
        "18",
        1.0,
        id="reasoning-then-final",
    ),
    pytest.param(
        "16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars.\nThe answer is 18.\nCheck: 2 + 7 = 9.",
        "18",
        "18",
        1.0,
        id="answer-phrase-beats-later-numbers",
    ),
    pytest.param(
        "16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars.",
        "9",
        "18",
        0.0,
        id="last-number-wrong",
    ),
    pytest.param("The answer is -5.", "-5", "-5", 1.0, id="negative"),
    pytest.param("The temperature dropped to −5 degrees.", "-5", "-5", 1.0, id="unicode-minus"),
    pytest.param("The answer is 5.", "-5", "5", 0.0, id="sign-matters"),
    pytest.param("The answer is 0.50", "0.5", "0.5", 1.0, id="decimal-trailing-zero"),
    pytest.param("The answer is 0.5", "0.50", "0.5", 1.0, id="decimal-expected-trailing-zero"),
    pytest.param("The answer is .5", "0.5", "0.5", 1.0, id="decimal-no-leading-zero"),
    pytest.param("The answer is 0.55", "0.5", "0.55", 0.0, id="decimal-differs"),
    pytest.param("The answer is 3/4.", "0.75", "0.75", 1.0, id="fraction"),
    pytest.param("The answer is 25%.", "25", "25", 1.0, id="percent"),
    pytest.param(
        "<think>Maybe 12? No, 17. Let me recheck.</think>The answer is 18.",
        "18",
        "18",
        1.0,
        id="think-block-dropped",
    ),
    pytest.param(
        "<think>The answer is 18.</think>I am not sure.",
        "18",
        None,
        0.0,
        id="number-only-inside-think",
    ),
    pytest.param(
        "Let me try 12 and 17.</think>\nThe answer is 18.",
        "18",
        "18",
        1.0,
        id="orphan-closing-think",
    ),
    pytest.param("**Final answer:** 42", "42", "42", 1.0, id="markdown-answer"),
    pytest.param("Answer: 1,000,000", "1000000", "1000000", 1.0, id="millions"),
    pytest.param("１８", "18", "18", 1.0, id="full-width-digits"),
    pytest.param("The answer is 1234567", "1234568", "1234567", 0.0, id="off-by-one"),
    pytest.param("I don't know.", "18", None, 0.0, id="no-number"),
    pytest.param("", "18", None, 0.0, id="empty"),
    pytest.param("   \n ", "18", None, 0.0, id="whitespace"),
]


@pytest.mark.parametrize(("reply", "expected", "extracted", "score"), SCORE_CASES)
def test_score(reply: str, expected: str, extracted: str | None, score: float) -> None:
    expected_number = reference_answer(expected)
    assert expected_number is not None
    result = Gsm8kBenchmark().score(_sample(expected_number), reply)
    assert result.extracted == extracted
    assert result.score == score
    assert extract_number(reply) == extracted


@pytest.mark.parametrize(
    ("reply", "rule"),
    [
        ("\\boxed{18}. The answer is 20. #### 21", "boxed"),
        ("The answer is 20.\n#### 21\nThen 22", "answer"),
        ("#### 21\nThen 22", "hashes"),
        ("Then 22", "last"),
    ],
)
def test_rule_order(reply: str, rule: str) -> None:
    found = find_final_number(reply)
    assert found is not None
    assert found.rule == rule


@pytest.mark.parametrize(
    "reply",
    [
        "1e5000",
        "The answer is 1e999999999.",
        "1/" + "9" * 5000,
        "1" + "0" * 5000,
    ],
)
def test_absurd_numbers_are_ignored_not_fatal(reply: str) -> None:
    # A model can write anything; an absurd number must not stall or crash scoring.
    assert Gsm8kBenchmark().score(_sample("18"), reply).score == 0.0
    assert extract_number(reply) is None


@pytest.mark.parametrize(
    ("reply", "extracted"),
    [
        ("Released 3/15/2024", None),
        ("Released 3/15/2024 with 7 apples", "7"),
        ("The answer is 18 (as of 3/15/2024).", "18"),
        ("1/2 + 1/4 = 3/4", "0.75"),
        ("version 1.2.3 scored 5", "5"),
    ],
)
def test_dates_are_not_fractions(reply: str, extracted: str | None) -> None:
    assert extract_number(reply) == extracted


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [("0.30000000000000004", "0.3", True), ("1234567", "1234568", False), ("18", "18.0", True)],
)
def test_numbers_equal(a: str, b: str, equal: bool) -> None:
    x, y = parse_number(a), parse_number(b)
    assert x is not None and y is not None
    assert numbers_equal(x, y) is equal


@pytest.mark.parametrize(
    ("text", "canonical"), [("18.00", "18"), ("-0.50", "-0.5"), ("1/3", "1/3"), ("1e3", "1000")]
)
def test_format_number(text: str, canonical: str) -> None:
    value = parse_number(text)
    assert value is not None
    assert format_number(value) == canonical


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_extraction_never_raises(reply: str) -> None:
    result = Gsm8kBenchmark().score(_sample("18"), reply)
    assert result.extracted == extract_number(reply)
    assert result.score == (1.0 if result.extracted == "18" else 0.0)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_any_integer_reply_scores_against_itself(value: int) -> None:
    written = f"{value:,}"
    reply = f"Some working with 7 and 12.\nThe answer is {written}."
    result = Gsm8kBenchmark().score(_sample(str(value)), reply)
    assert result.extracted == str(value)
    assert result.score == 1.0
