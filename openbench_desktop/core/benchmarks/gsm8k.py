"""GSM8K: grade-school math word problems, scored on the final number.

Records are in the published form ``{"question": ..., "answer": "...reasoning...\\n#### 18"}``
(JSONL, CSV with a header, or Parquet, e.g. ``openai/gsm8k`` config ``main`` from the Hub).
The expected answer is the text after the last ``####`` with thousands separators
removed; an ``answer`` that is just a number is accepted too. The reference reasoning is
kept in the sample's metadata as ``solution``.

The prompt is zero-shot chain of thought (:data:`PROMPT_TEMPLATE`): the model may reason
freely, and is asked to end with ``The answer is N.``, which the extractor trusts before
any other number (see :mod:`openbench_desktop.core.benchmarks.extract` for the order).
Without a dataset (no path, no Hub id) a built-in set of 20 original problems in the same
format is used, so the demo runs anywhere.
"""

from __future__ import annotations

from pathlib import Path

from openbench_desktop.core.benchmarks.base import LoadedDataset, Score
from openbench_desktop.core.benchmarks.extract import (
    find_final_number,
    numbers_equal,
    parse_number,
)
from openbench_desktop.core.benchmarks.readers import Record, text_field
from openbench_desktop.core.benchmarks.sources import resolve_source
from openbench_desktop.core.domain import DatasetRef, Message, Sample
from openbench_desktop.core.errors import DatasetError

__all__ = [
    "DEMO_PATH",
    "PROMPT_TEMPLATE",
    "Gsm8kBenchmark",
    "build_prompt",
    "reference_answer",
]

PROMPT_TEMPLATE = (
    "Solve the following math problem. Reason step by step, then give the final answer "
    "on its own last line in exactly this form:\n"
    "The answer is N.\n"
    "where N is only the number, with no units or currency signs.\n"
    "\n"
    "Problem: {question}"
)

DEMO_PATH = Path(__file__).resolve().parent / "data" / "gsm8k_demo.jsonl"
DEMO_DESCRIPTION = "built-in GSM8K-style demo (20 problems)"

HUB_CONFIG = "main"
HUB_SPLIT = "test"


def build_prompt(question: str) -> str:
    return PROMPT_TEMPLATE.format(question=question.strip())


def reference_answer(answer: str) -> str | None:
    """The expected number of a GSM8K ``answer``: after the last ``####``, commas removed.

    None when there is no number there. A bare number (no ``####``) is its own answer.
    """
    _, hashes, tail = answer.rpartition("####")
    candidate = (tail if hashes else answer).strip().replace(",", "")
    if parse_number(candidate) is None:
        return None
    return candidate


class Gsm8kBenchmark:
    name = "gsm8k"
    title = "GSM8K (grade-school math)"

    def __init__(self, *, hub_cache: Path | None = None) -> None:
        self._hub_cache = hub_cache

    def load(self, ref: DatasetRef) -> LoadedDataset:
        source = resolve_source(
            ref,
            hub_cache=self._hub_cache,
            default_config=HUB_CONFIG,
            default_split=HUB_SPLIT,
            builtin=DEMO_PATH,
            builtin_description=DEMO_DESCRIPTION,
        )
        samples = [
            self._sample(index, record, path=path, line=line)
            for index, (path, line, record) in enumerate(source.records())
        ]
        return LoadedDataset(samples, source.sha256(), source.description)

    def _sample(self, index: int, record: Record, *, path: str, line: int) -> Sample:
        question = text_field(record, "question", path=path, line=line)
        solution = text_field(record, "answer", path=path, line=line, numbers=True)
        expected = reference_answer(solution)
        if expected is None:
            raise DatasetError(
                "no final answer: expected the reasoning to end with '#### <number>'",
                path=path,
                line=line,
                field="answer",
            )
        return Sample(
            index=index,
            messages=(Message("user", build_prompt(question)),),
            expected=expected,
            metadata={"solution": solution},
        )

    def score(self, sample: Sample, output: str) -> Score:
        found = find_final_number(output)
        if found is None:
            return Score(None, 0.0)
        wanted = parse_number(sample.expected)
        correct = wanted is not None and numbers_equal(found.value, wanted)
        return Score(found.canonical, 1.0 if correct else 0.0)
