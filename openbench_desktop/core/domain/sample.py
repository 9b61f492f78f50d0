"""One item of a benchmark and what happened when a model answered it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Sample:
    """One dataset item, already in the benchmark's canonical form.

    ``index`` is the item's 0-based position in the dataset file as loaded (before any
    limit), so a run over a prefix and a later run over the whole file agree on indices.
    """

    index: int
    messages: tuple[Message, ...]
    expected: str
    sample_id: str = ""
    metadata: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def prompt_text(self) -> str:
        """The prompt as one readable string (for tables and exports)."""
        return "\n\n".join(m.content for m in self.messages if m.role != "assistant")


class SampleStatus(StrEnum):
    OK = "ok"  # the model answered and the answer was scored (right or wrong)
    FAILED = "failed"  # no usable answer: see error_category


class ErrorCategory(StrEnum):
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    PARSE = "parse"
    OTHER = "other"


class ChunkKind(StrEnum):
    """What a streamed chunk carried; stored one character per chunk."""

    CONTENT = "c"  # visible output text
    REASONING = "r"  # reasoning / thinking text
    EMPTY = "e"  # role-only, usage-only, keep-alive or otherwise text-free


@dataclass(frozen=True, slots=True)
class SampleResult:
    """The outcome of one sample: quality, speed and usage measured from the same call.

    Timing: ``started_ns`` is ``time.monotonic_ns()`` just before the request was sent;
    ``chunk_offsets_ns[i]`` is the arrival time of streamed chunk *i* minus ``started_ns``
    (so every chunk's raw monotonic arrival time is ``started_ns + offset``). A
    non-streamed reply records one chunk at the time its body was fully read.
    ``chunk_chars[i]`` counts the characters the chunk carried and ``chunk_kinds[i]`` is
    a :class:`ChunkKind` value. The derived millisecond figures are defined in
    ``docs/METRICS.md`` and computed by :mod:`openbench_desktop.core.engine.metrics`.
    """

    index: int
    status: SampleStatus
    sample_id: str = ""
    prompt: str = ""
    output: str = ""
    reasoning: str = ""
    expected: str = ""
    extracted: str | None = None
    score: float | None = None
    error_category: ErrorCategory | None = None
    error_message: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    # True when token counts came from the server's usage report; False means the
    # server sent none and the counts are None (never estimated silently).
    usage_reported: bool = False
    streamed: bool = True
    started_ns: int = 0
    end_offset_ns: int | None = None
    chunk_offsets_ns: tuple[int, ...] = ()
    chunk_chars: tuple[int, ...] = ()
    chunk_kinds: str = ""
    ttft_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None
    attempts: int = 1
    # Time spent waiting between attempts (backoff, Retry-After). Excluded from every
    # latency above: those come from the final attempt alone.
    retry_wait_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is SampleStatus.OK

    @property
    def correct(self) -> bool:
        return self.ok and self.score is not None and self.score >= 1.0
