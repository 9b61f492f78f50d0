"""The one small interface every chat model provider implements.

A provider turns a :class:`ChatRequest` into a :class:`Completion` with the timing of every
streamed chunk, or raises :class:`ProviderError` with a category the engine can count and a
message a person can act on. Providers never log or embed the API key in errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from openbench_desktop.core.domain import ErrorCategory, GenerationParams, Message
from openbench_desktop.core.errors import OpenBenchError


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    params: GenerationParams = field(default_factory=GenerationParams)
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's reply with raw timings (see :class:`~.domain.SampleResult`)."""

    text: str
    reasoning: str = ""
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage_reported: bool = False
    streamed: bool = True
    started_ns: int = 0
    end_offset_ns: int = 0
    chunk_offsets_ns: tuple[int, ...] = ()
    chunk_chars: tuple[int, ...] = ()
    chunk_kinds: str = ""


class ProviderError(OpenBenchError):
    """A request failed. ``category`` decides retry policy and how the failure is counted."""

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        # True when no connection was made at all (refused, DNS, TLS): before any request
        # of a run has succeeded, that means a wrong URL rather than a transient fault.
        self.connect_failed = False


@runtime_checkable
class ChatProvider(Protocol):
    """Async chat provider. One instance is shared by all concurrent requests of a run."""

    kind: str

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def list_models(self) -> list[str]: ...

    async def aclose(self) -> None: ...
