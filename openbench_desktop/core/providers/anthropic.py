"""Anthropic's Messages API (``POST {base_url}/v1/messages``).

``base_url`` is the host, e.g. ``https://api.anthropic.com``; a pasted ``/v1`` or
``/v1/messages`` suffix is removed. The system prompt (``params.system_prompt`` and any
system-role messages) goes in the top-level ``system`` field. The API has no ``seed``, so a
request's seed is not sent.

Streaming events: ``message_start`` (input tokens), ``content_block_start`` /
``content_block_delta`` (``text_delta`` is content, ``thinking_delta`` reasoning),
``content_block_stop``, ``message_delta`` (output tokens, stop reason), ``message_stop``,
``ping`` and ``error``. Every event is recorded on arrival as one chunk.

``finish_reason`` uses OpenAI's words so the engine sees one vocabulary: ``end_turn`` and
``stop_sequence`` become ``stop``, ``max_tokens`` becomes ``length``. Input tokens include
prompt-cache reads and writes (Anthropic reports them apart from ``input_tokens``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from openbench_desktop.core.domain import ChunkKind, ErrorCategory, Message
from openbench_desktop.core.providers.base import ChatRequest, Completion, ProviderError
from openbench_desktop.core.providers.http import (
    ChunkRecorder,
    build_client,
    category_for_error_type,
    chunk_kind,
    error_from_decoding,
    error_from_status,
    error_from_transport,
    incomplete_stream_error,
    make_error,
    malformed_chunk_error,
    normalize_base_url,
    origin_of,
    request_timeout,
    server_error_text,
    stream_events,
    truncate,
)

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"
_BASE_URL_HINT = "for Anthropic it is the host without /v1, e.g. https://api.anthropic.com"
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class AnthropicProvider:
    """Messages API over one pooled :class:`httpx.AsyncClient` (see the module docstring)."""

    kind: str = "anthropic"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        key_name: str | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url, strip_suffixes=("/messages", "/v1"))
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = float(timeout_s)
        self._api_key = api_key or None
        self._key_name = key_name
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"AnthropicProvider(base_url={self.base_url!r})"

    # -- lifecycle ---------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"anthropic-version": ANTHROPIC_VERSION}
            if self._api_key:
                headers["x-api-key"] = self._api_key
            self._client = build_client(
                self.base_url,
                concurrency=self.concurrency,
                timeout_s=self.timeout_s,
                headers=headers,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> AnthropicProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _status_error(
        self, response: httpx.Response, body: bytes, url: str, model: str | None
    ) -> ProviderError:
        return error_from_status(
            response.status_code,
            body,
            response.headers,
            url=url,
            model=model,
            secret=self._api_key,
            key_name=self._key_name,
            base_url_hint=_BASE_URL_HINT,
        )

    # -- discovery ---------------------------------------------------------------------

    async def list_models(self) -> list[str]:
        url = f"{self.base_url}/v1/models"
        models: list[str] = []
        params: dict[str, str | int] = {"limit": 1000}
        while True:
            try:
                response = await self._http().get(url, params=params)
            except httpx.TransportError as exc:
                raise error_from_transport(
                    exc, url=url, timeout_s=self.timeout_s, secret=self._api_key
                ) from None
            if response.status_code >= 300:
                raise self._status_error(response, response.content, url, None)
            try:
                data = response.json()
                page = [str(item["id"]) for item in data["data"]]
            except (ValueError, KeyError, TypeError):
                raise make_error(
                    f"{url} did not return an Anthropic-style model list: "
                    f"{truncate(response.text, 200)!r}. Check the base URL ({_BASE_URL_HINT}).",
                    ErrorCategory.PARSE,
                    secret=self._api_key,
                ) from None
            models.extend(page)
            if not (data.get("has_more") and data.get("last_id") and page):
                return models
            params = {"limit": 1000, "after_id": str(data["last_id"])}

    # -- completion --------------------------------------------------------------------

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        params = request.params
        system = [params.system_prompt] if params.system_prompt else []
        system += [m.content for m in request.messages if m.role == "system"]
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": _messages(request.messages),
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "stream": params.stream,
        }
        if system:
            payload["system"] = "\n\n".join(system)
        if params.top_p is not None:
            payload["top_p"] = params.top_p
        return payload

    async def complete(self, request: ChatRequest) -> Completion:
        payload = self._payload(request)
        if request.params.stream:
            return await self._complete_streaming(request, payload)
        return await self._complete_once(request, payload)

    def _event_error(self, data: dict[str, Any], url: str) -> ProviderError:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        kind = str(error.get("type") or "")
        text = server_error_text(json.dumps(data)) or kind or "unknown error"
        return make_error(
            f"The server at {origin_of(url)} reported an error during the reply "
            f"({kind or 'error'}): {text}",
            category_for_error_type(kind),
            secret=self._api_key,
        )

    async def _complete_once(self, request: ChatRequest, payload: dict[str, Any]) -> Completion:
        url = f"{self.base_url}/v1/messages"
        timeout_s = request.params.timeout_s
        recorder = ChunkRecorder()
        recorder.start()
        try:
            response = await self._http().post(
                url, json=payload, timeout=request_timeout(timeout_s)
            )
        except httpx.TransportError as exc:
            raise error_from_transport(
                exc, url=url, timeout_s=timeout_s, secret=self._api_key
            ) from None
        except httpx.DecodingError as exc:
            raise error_from_decoding(exc, url=url, secret=self._api_key) from None
        arrived = time.monotonic_ns()
        if response.status_code >= 300:
            raise self._status_error(response, response.content, url, request.model)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            if isinstance(data, dict) and data.get("type") == "error":
                raise self._event_error(data, url)
            raise make_error(
                f"The reply from {origin_of(url)} is not an Anthropic message: "
                f"{truncate(response.text, 200)!r}.",
                ErrorCategory.PARSE,
                secret=self._api_key,
            )
        text_parts: list[str] = []
        thinking_parts: list[str] = []
        for block in data["content"]:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                text_parts.append(str(block.get("text") or ""))
            elif block.get("type") == "thinking":
                thinking_parts.append(str(block.get("thinking") or ""))
        text, reasoning = "".join(text_parts), "".join(thinking_parts)
        recorder.add(arrived, len(text) + len(reasoning), chunk_kind(text, reasoning))
        usage = _Usage()
        usage.absorb(data.get("usage"))
        return Completion(
            text=text,
            reasoning=reasoning,
            finish_reason=_finish_reason(data.get("stop_reason")),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            usage_reported=usage.reported,
            streamed=False,
            end_offset_ns=recorder.offset(arrived),
            **recorder.as_fields(),
        )

    async def _complete_streaming(
        self, request: ChatRequest, payload: dict[str, Any]
    ) -> Completion:
        url = f"{self.base_url}/v1/messages"
        stream = _Stream(url, self._api_key, self._event_error)

        def raise_for_status(response: httpx.Response, body: bytes) -> None:
            raise self._status_error(response, body, url, request.model)

        stopped_ns = await stream_events(
            self._http(), url, payload, timeout_s=request.params.timeout_s,
            secret=self._api_key, recorder=stream.recorder, on_event=stream.on_event,
            raise_for_status=raise_for_status,
        )
        if stopped_ns is None and stream.stop_reason is None:
            raise incomplete_stream_error(len(stream.recorder), url=url, secret=self._api_key)
        end_ns = stopped_ns if stopped_ns is not None else time.monotonic_ns()
        return Completion(
            text="".join(stream.content),
            reasoning="".join(stream.reasoning),
            finish_reason=_finish_reason(stream.stop_reason),
            input_tokens=stream.usage.input_tokens,
            output_tokens=stream.usage.output_tokens,
            usage_reported=stream.usage.reported,
            streamed=True,
            end_offset_ns=stream.recorder.offset(end_ns),
            **stream.recorder.as_fields(),
        )


class _Stream:
    """What one streamed message has delivered so far."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        event_error: Callable[[dict[str, Any], str], ProviderError],
    ) -> None:
        self._url = url
        self._secret = secret
        self._event_error = event_error
        self.recorder = ChunkRecorder()
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.usage = _Usage()
        self.stop_reason: str | None = None

    def on_event(self, arrived: int, event: ServerSentEvent) -> bool:
        """Record one event as one chunk; True at ``message_stop``."""
        if not event.data.strip():
            self.recorder.add(arrived, 0, ChunkKind.EMPTY)
            return False
        data = _parse_event(event.data)
        if data is None:
            raise malformed_chunk_error(event.data, url=self._url, secret=self._secret)
        kind = str(data.get("type") or event.event)
        if kind == "error" or event.event == "error":
            raise self._event_error(data, self._url)
        text, thought = "", ""
        if kind == "message_start":
            message = data.get("message")
            if isinstance(message, dict):
                self.usage.absorb(message.get("usage"))
        elif kind == "content_block_start":
            text, thought = _block_text(data.get("content_block"))
        elif kind == "content_block_delta":
            text, thought = _delta_text(data.get("delta"))
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.stop_reason = str(delta["stop_reason"])
            self.usage.absorb(data.get("usage"))
        self.content.append(text)
        self.reasoning.append(thought)
        self.recorder.add(arrived, len(text) + len(thought), chunk_kind(text, thought))
        return kind == "message_stop"


class _Usage:
    """Token counts gathered from ``message_start`` and ``message_delta`` (or a body)."""

    def __init__(self) -> None:
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None

    @property
    def reported(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None

    def absorb(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        parts = [
            usage.get(key)
            for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        ]
        if isinstance(parts[0], int):
            self.input_tokens = sum(p for p in parts if isinstance(p, int))
        # Cumulative: the last report (message_delta) holds the final count.
        if isinstance(usage.get("output_tokens"), int):
            self.output_tokens = usage["output_tokens"]


def _messages(messages: tuple[Message, ...]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]


def _parse_event(data: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _block_text(block: Any) -> tuple[str, str]:
    if not isinstance(block, dict):
        return "", ""
    if block.get("type") == "text":
        return str(block.get("text") or ""), ""
    if block.get("type") == "thinking":
        return "", str(block.get("thinking") or "")
    return "", ""


def _delta_text(delta: Any) -> tuple[str, str]:
    """``(content, reasoning)`` of a content_block_delta; signatures and tool JSON are empty."""
    if not isinstance(delta, dict):
        return "", ""
    if delta.get("type") == "text_delta":
        return str(delta.get("text") or ""), ""
    if delta.get("type") == "thinking_delta":
        return "", str(delta.get("thinking") or "")
    return "", ""


def _finish_reason(stop_reason: Any) -> str | None:
    if not stop_reason:
        return None
    return _STOP_REASONS.get(str(stop_reason), str(stop_reason))
