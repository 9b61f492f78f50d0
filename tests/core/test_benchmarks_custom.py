"""Custom datasets: the user's JSONL/CSV with prompt and expected fields, and the scorers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from openbench_desktop.core.benchmarks.custom import CustomBenchmark
from openbench_desktop.core.benchmarks.gsm8k import Gsm8kBenchmark
from openbench_desktop.core.benchmarks.multiple_choice import MultipleChoiceBenchmark
from openbench_desktop.core.benchmarks.registry import BENCHMARKS, get_benchmark
from openbench_desktop.core.benchmarks.scorers import SCORERS, get_scorer, normalize_text
from openbench_desktop.core.domain import DatasetRef, Message, Sample
from openbench_desktop.core.errors import ConfigError, DatasetError

ROWS: list[dict[str, Any]] = [
    {"prompt": "Capital of France?", "expected": "Paris"},
    {"prompt": "2 + 2 = ?", "expected": "4"},
    {"prompt": "Name a primary colour, in one word.", "expected": "red", "system": "Be terse."},
]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _sample(expected: str) -> Sample:
    return Sample(index=0, messages=(Message("user", "q"),), expected=expected)


# --- loading -----------------------------------------------------------------------------


def test_jsonl_prompt_and_expected(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "mine.jsonl", ROWS)
    loaded = CustomBenchmark().load(DatasetRef(path=str(path)))
    assert [s.index for s in loaded.samples] == [0, 1, 2]
    assert [s.expected for s in loaded.samples] == ["Paris", "4", "red"]
    assert loaded.samples[0].messages == (Message("user", "Capital of France?"),)
    # An optional system field becomes a system message ahead of the prompt.
    assert loaded.samples[2].messages == (
        Message("system", "Be terse."),
        Message("user", "Name a primary colour, in one word."),
    )
    assert loaded.description == str(path)
    assert loaded.sha256 is not None and len(loaded.sha256) == 64


def test_csv_prompt_and_expected(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "mine.csv",
        ["prompt", "expected"],
        [["Capital of France?", "Paris"], ['Say "hi", then stop', "hi"], ["Multi\nline", "ok"]],
    )
    samples = CustomBenchmark().load(DatasetRef(path=str(path))).samples
    assert [s.messages[0].content for s in samples] == [
        "Capital of France?",
        'Say "hi", then stop',
        "Multi\nline",
    ]
    assert [s.expected for s in samples] == ["Paris", "hi", "ok"]


def test_csv_and_jsonl_give_the_same_samples(tmp_path: Path) -> None:
    rows = [{"prompt": r["prompt"], "expected": r["expected"]} for r in ROWS]
    jsonl = _jsonl(tmp_path / "a.jsonl", rows)
    as_csv = _csv(tmp_path / "a.csv", ["prompt", "expected"], [list(r.values()) for r in rows])
    bench = CustomBenchmark()
    assert (
        bench.load(DatasetRef(path=str(jsonl))).samples
        == bench.load(DatasetRef(path=str(as_csv))).samples
    )


@pytest.mark.parametrize(
    ("record", "prompt", "expected"),
    [
        ({"input": "i", "target": "t"}, "i", "t"),
        ({"question": "q", "answer": "a"}, "q", "a"),
        ({"prompt": "p", "output": "o"}, "p", "o"),
        ({"prompt": "p", "input": "ignored", "expected": "e", "answer": "ignored"}, "p", "e"),
        ({"prompt": "p", "expected": 18}, "p", "18"),
        ({"prompt": "p", "expected": 0.5}, "p", "0.5"),
        ({"prompt": "p", "expected": 2.0}, "p", "2"),
    ],
)
def test_alternative_field_names(
    tmp_path: Path, record: dict[str, Any], prompt: str, expected: str
) -> None:
    path = _jsonl(tmp_path / "alt.jsonl", [record])
    (sample,) = CustomBenchmark().load(DatasetRef(path=str(path))).samples
    assert sample.messages[-1].content == prompt
    assert sample.expected == expected


def test_fields_named_by_the_dataset_reference(tmp_path: Path) -> None:
    # --prompt-field / --expected-field: columns with names the loader would not guess, and
    # the named column wins over one it would.
    path = _csv(
        tmp_path / "named.csv",
        ["instruction", "gold", "prompt", "expected"],
        [["Capital of Italy?", "Rome", "decoy prompt", "decoy answer"]],
    )
    ref = DatasetRef(path=str(path), prompt_field="instruction", expected_field="gold")
    (sample,) = CustomBenchmark().load(ref).samples
    assert sample.messages == (Message("user", "Capital of Italy?"),)
    assert sample.expected == "Rome"


def test_named_field_missing_from_a_row(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "named.jsonl",
        [{"instruction": "a", "gold": "b"}, {"prompt": "c", "gold": "d"}],
    )
    ref = DatasetRef(path=str(path), prompt_field="instruction", expected_field="gold")
    with pytest.raises(DatasetError) as info:
        CustomBenchmark().load(ref)
    assert (info.value.line, info.value.field) == (2, "instruction")
    assert "named.jsonl, line 2, field 'instruction': missing required field" in str(info.value)


@pytest.mark.parametrize(
    ("record", "field", "fragment"),
    [
        ({"expected": "x"}, "prompt", "expected one of prompt, input, question"),
        ({"prompt": "p"}, "expected", "expected one of expected, answer, target, output"),
        ({"prompt": ["p"], "expected": "x"}, "prompt", "expected text, found a list"),
        ({"prompt": "p", "expected": True}, "expected", "found true/false"),
        ({"prompt": "  ", "expected": "x"}, "prompt", "the field is empty"),
        ({"prompt": "p", "expected": {"a": 1}}, "expected", "found an object"),
    ],
)
def test_bad_record_names_file_line_and_field(
    tmp_path: Path, record: dict[str, Any], field: str, fragment: str
) -> None:
    path = _jsonl(tmp_path / "custom_bad.jsonl", [ROWS[0], ROWS[1], record])
    with pytest.raises(DatasetError) as info:
        CustomBenchmark().load(DatasetRef(path=str(path)))
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 3, field)
    assert str(info.value).startswith(f"{path}, line 3, field '{field}': ")
    assert fragment in str(info.value)


def test_non_numeric_expected_for_numeric_scorer(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "math.csv",
        ["prompt", "expected"],
        [["1 + 1", "2"], ["half of 1", "0.5"], ["ten", "ten"]],
    )
    with pytest.raises(DatasetError) as info:
        CustomBenchmark(scorer="numeric").load(DatasetRef(path=str(path)))
    # The header is line 1, so the third record is on line 4.
    assert (info.value.line, info.value.field) == (4, "expected")
    message = str(info.value)
    assert (
        message
        == f"{path}, line 4, field 'expected': the numeric scorer needs a number, found 'ten'"
    )


def test_numeric_scorer_loads_numbers(tmp_path: Path) -> None:
    path = _csv(tmp_path / "math.csv", ["prompt", "expected"], [["a", "1,234"], ["b", "-0.5"]])
    bench = CustomBenchmark(scorer="numeric")
    samples = bench.load(DatasetRef(path=str(path))).samples
    assert bench.score(samples[0], "That makes 1234 in total.").score == 1.0
    assert bench.score(samples[1], "The answer is -.50").score == 1.0
    assert bench.score(samples[1], "The answer is 0.5").score == 0.0


def test_empty_expected_for_text_scorers(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "empty_answer.jsonl", [{"prompt": "p", "expected": "**.**"}])
    with pytest.raises(DatasetError) as info:
        CustomBenchmark(scorer="exact").load(DatasetRef(path=str(path)))
    assert (info.value.line, info.value.field) == (1, "expected")
    assert "the expected answer is empty" in str(info.value)


def test_no_dataset_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="no dataset given"):
        CustomBenchmark().load(DatasetRef())


# --- scorers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected", "extracted", "score"),
    [
        ("Paris", "Paris", "paris", 1.0),
        ("**Paris.**", "paris", "paris", 1.0),
        ('  "PARIS!" ', "Paris", "paris", 1.0),
        ("<think>Lyon? No.</think> Paris", "Paris", "paris", 1.0),
        ("Paris, France", "Paris", "paris, france", 0.0),
        ("The capital is Paris.", "Paris", "the capital is paris", 0.0),
        ("St. Louis", "St Louis", "st. louis", 0.0),
        ("New   York", "new york", "new york", 1.0),
        ("", "Paris", None, 0.0),
        ("<think>Paris</think>", "Paris", None, 0.0),
    ],
)
def test_exact_scorer(reply: str, expected: str, extracted: str | None, score: float) -> None:
    result = get_scorer("exact").score(reply, expected)
    assert (result.extracted, result.score) == (extracted, score)


@pytest.mark.parametrize(
    ("reply", "expected", "extracted", "score"),
    [
        ("The capital of France is Paris.", "Paris", "paris", 1.0),
        ("I think it's **PARIS**", "paris", "paris", 1.0),
        ("The capital of France is Lyon.", "Paris", None, 0.0),
        ("<think>Paris?</think>I believe it is Lyon.", "Paris", None, 0.0),
        ("", "Paris", None, 0.0),
    ],
)
def test_includes_scorer(reply: str, expected: str, extracted: str | None, score: float) -> None:
    result = get_scorer("includes").score(reply, expected)
    assert (result.extracted, result.score) == (extracted, score)


@pytest.mark.parametrize(
    ("pattern", "reply", "expected", "extracted", "score"),
    [
        # No group: the whole (last) match.
        (r"\d+", "3 apples then 18", "18", "18", 1.0),
        # Group 1 of the last match.
        (r"\[(\w+)\]", "[Lyon] no wait [Paris]", "paris", "Paris", 1.0),
        # The group named 'answer' wins over group 1.
        (r"(Final|Answer):\s*(?P<answer>\w+)", "Answer: Lyon\nFinal: Paris", "Paris", "Paris", 1.0),
        (r"ANSWER:\s*(?P<answer>.+)", "ANSWER: **Paris.**", "paris", "**Paris.**", 1.0),
        (r"ANSWER:\s*(?P<answer>\w+)", "ANSWER: Lyon", "Paris", "Lyon", 0.0),
        (r"ANSWER:\s*(?P<answer>\w+)", "no marker here: Paris", "Paris", None, 0.0),
        # An optional group that did not take part extracts nothing.
        (r"(a)|(b)", "b", "b", None, 0.0),
        (r"\d+", "<think>18</think>none", "18", None, 0.0),
    ],
)
def test_regex_scorer(
    pattern: str, reply: str, expected: str, extracted: str | None, score: float
) -> None:
    result = get_scorer("regex", pattern).score(reply, expected)
    assert (result.extracted, result.score) == (extracted, score)


@pytest.mark.parametrize(
    ("reply", "expected", "extracted", "score"),
    [
        ("The answer is 1,234.", "1234", "1234", 1.0),
        ("About 18 eggs.", "18.0", "18", 1.0),
        ("$0.50", "0.5", "0.5", 1.0),
        ("-7", "-7", "-7", 1.0),
        ("7", "-7", "7", 0.0),
        ("\\boxed{3/4}", "0.75", "0.75", 1.0),
        ("no numbers", "3", None, 0.0),
    ],
)
def test_numeric_scorer(reply: str, expected: str, extracted: str | None, score: float) -> None:
    result = get_scorer("numeric").score(reply, expected)
    assert (result.extracted, result.score) == (extracted, score)


def test_regex_scorer_through_the_benchmark(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "re.jsonl", [{"prompt": "p", "expected": "Paris"}])
    bench = CustomBenchmark(scorer="regex", scorer_arg=r"City:\s*(?P<answer>\w+)")
    (sample,) = bench.load(DatasetRef(path=str(path))).samples
    result = bench.score(sample, "Thinking about it... City: Paris")
    assert (result.extracted, result.score) == ("Paris", 1.0)


def test_bad_regex_is_a_config_error_naming_the_pattern() -> None:
    with pytest.raises(ConfigError) as info:
        get_benchmark("custom", scorer="regex", scorer_arg="(unclosed")
    message = str(info.value)
    assert "invalid regular expression '(unclosed'" in message
    assert "missing )" in message


def test_regex_scorer_needs_a_pattern() -> None:
    with pytest.raises(ConfigError, match="needs a pattern"):
        CustomBenchmark(scorer="regex")


def test_unknown_scorer_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        CustomBenchmark(scorer="fuzzy")
    assert str(info.value) == (
        "unknown scorer 'fuzzy': choose one of exact, includes, regex, numeric"
    )


@pytest.mark.parametrize("name", list(SCORERS))
def test_every_listed_scorer_exists(name: str) -> None:
    scorer = get_scorer(name, "x" if SCORERS[name].needs_arg else None)
    assert scorer.name == name


@pytest.mark.parametrize(
    ("text", "normal"),
    [("**Paris.**", "paris"), ("  A  b\tC ", "a b c"), ("“Quoted”!", "quoted"), ("ＡＢＣ", "abc")],
)
def test_normalize_text(text: str, normal: str) -> None:
    assert normalize_text(text) == normal


# --- registry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("gsm8k", Gsm8kBenchmark),
        (" GSM8K ", Gsm8kBenchmark),
        ("mmlu", MultipleChoiceBenchmark),
        ("mc", MultipleChoiceBenchmark),
        ("multiple_choice", MultipleChoiceBenchmark),
        ("custom", CustomBenchmark),
    ],
)
def test_get_benchmark(name: str, kind: type) -> None:
    assert isinstance(get_benchmark(name), kind)


def test_get_benchmark_passes_the_scorer() -> None:
    bench = get_benchmark("custom", scorer="numeric")
    assert isinstance(bench, CustomBenchmark)
    assert bench.scorer.name == "numeric"
    default = get_benchmark("custom")
    assert isinstance(default, CustomBenchmark)
    assert default.scorer.name == "exact"


@pytest.mark.parametrize("name", ["humaneval", "", "gsm"])
def test_unknown_benchmark_lists_the_choices(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_benchmark(name)
    message = str(info.value)
    assert f"'{name}'" in message
    for choice in BENCHMARKS:
        assert choice in message
    assert message == (
        f"Unknown benchmark '{name}'. Choose one of: gsm8k, mmlu, custom, asr, tts, speed."
    )


def test_registry_entries_match_the_benchmarks() -> None:
    for name, info in BENCHMARKS.items():
        if info.kind in ("audio", "speed"):  # they run through core.audio / core.speed
            continue
        bench = get_benchmark(name)
        assert bench.name == info.name == name
        assert info.kind == "quality"
