"""Custom datasets: the researcher's own JSONL/CSV/Parquet, scored by a chosen scorer.

Each record needs a prompt and an expected answer. The prompt is read from the field the
dataset reference names (``DatasetRef.prompt_field``), else the first of ``prompt``,
``input``, ``question`` that is present; the answer likewise from
``DatasetRef.expected_field``, else ``expected``, ``answer``, ``target``, ``output``.
An optional ``system`` field becomes a system message. Every expected answer is checked
by the scorer at load time, so a bad regex or a non-numeric answer for the numeric scorer
is reported with its file and line before the run starts.
"""

from __future__ import annotations

from pathlib import Path

from openbench_desktop.core.benchmarks.base import LoadedDataset, Score
from openbench_desktop.core.benchmarks.readers import Record, text_field
from openbench_desktop.core.benchmarks.scorers import Scorer, get_scorer
from openbench_desktop.core.benchmarks.sources import resolve_source
from openbench_desktop.core.domain import DatasetRef, Message, Sample
from openbench_desktop.core.errors import DatasetError

__all__ = ["ANSWER_FIELDS", "PROMPT_FIELDS", "CustomBenchmark"]

PROMPT_FIELDS = ("prompt", "input", "question")
ANSWER_FIELDS = ("expected", "answer", "target", "output")


def _first_field(record: Record, names: tuple[str, ...], *, path: str, line: int) -> str:
    for name in names:
        if name in record and record[name] is not None:
            return name
    raise DatasetError(
        f"missing field: expected one of {', '.join(names)} "
        f"(found {', '.join(map(str, record)) or 'no fields'})",
        path=path,
        line=line,
        field=names[0],
    )


class CustomBenchmark:
    name = "custom"
    title = "Custom dataset (your file)"

    def __init__(
        self,
        *,
        scorer: str = "exact",
        scorer_arg: str | None = None,
        hub_cache: Path | None = None,
    ) -> None:
        self.scorer: Scorer = get_scorer(scorer, scorer_arg)
        self._hub_cache = hub_cache

    def load(self, ref: DatasetRef) -> LoadedDataset:
        source = resolve_source(ref, hub_cache=self._hub_cache)
        samples = [
            self._sample(
                index,
                record,
                path=path,
                line=line,
                prompt_field=ref.prompt_field,
                answer_field=ref.expected_field,
            )
            for index, (path, line, record) in enumerate(source.records())
        ]
        return LoadedDataset(samples, source.sha256(), source.description)

    def _sample(
        self,
        index: int,
        record: Record,
        *,
        path: str,
        line: int,
        prompt_field: str | None = None,
        answer_field: str | None = None,
    ) -> Sample:
        # Fields the user named (--prompt-field/--expected-field) are required as named.
        prompt_field = prompt_field or _first_field(record, PROMPT_FIELDS, path=path, line=line)
        answer_field = answer_field or _first_field(record, ANSWER_FIELDS, path=path, line=line)
        prompt = text_field(record, prompt_field, path=path, line=line)
        expected = text_field(record, answer_field, path=path, line=line, numbers=True)
        problem = self.scorer.check_expected(expected)
        if problem:
            raise DatasetError(problem, path=path, line=line, field=answer_field)
        messages: tuple[Message, ...] = (Message("user", prompt),)
        system = record.get("system")
        if isinstance(system, str) and system.strip():
            messages = (Message("system", system), *messages)
        return Sample(index=index, messages=messages, expected=expected)

    def score(self, sample: Sample, output: str) -> Score:
        return self.scorer.score(output, sample.expected)
