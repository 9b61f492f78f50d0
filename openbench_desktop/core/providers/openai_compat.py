"""Any server that speaks OpenAI's chat completions API: OpenAI, vLLM, Ollama (``/v1``),
LM Studio, llama.cpp server, SGLang, TGI, LiteLLM, OpenRouter …

``base_url`` includes the version prefix (``http://127.0.0.1:8000/v1``); the provider
POSTs to ``{base_url}/chat/completions`` and lists models with ``GET {base_url}/models``.

Streaming asks for ``stream_options: {"include_usage": true}`` so token counts come from
the server. Servers that reject that field (HTTP 400/422 naming it) are retried once
without it, and the provider remembers not to send it again. Likewise OpenAI's reasoning
models reject ``max_tokens`` and ask for ``max_completion_tokens``.

Timing: ``started_ns`` is taken just before the request is sent; every server-sent event
that carries a JSON chunk is recorded on arrival (``[DONE]`` is a terminator, not a chunk).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from openbench_desktop.core.domain import ChunkKind, ErrorCategory
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
    says_unsupported,
    server_error_text,
    stream_events,
    truncate,
)

_BASE_URL_HINT = "for OpenAI-compatible servers it usually ends in /v1"


class _RetryWithout(Exception):
    """Internal: the server rejected an optional request field; retry without it."""

    def __init__(self, field: str, error: ProviderError) -> None:
        super().__init__(field)
        self.field = field
        self.error = error


class OpenAICompatProvider:
    """Chat completions over one pooled :class:`httpx.AsyncClient`.

    One instance serves every concurrent request of a run and belongs to the event loop
    that first uses it (the client is created lazily, on first use). Call :meth:`aclose`
    when done.
    """

    kind: str = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        key_name: str | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url, strip_suffixes=("/chat/completions",))
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = float(timeout_s)
        self._api_key = api_key or None
        self._key_name = key_name
        self._client: httpx.AsyncClient | None = None
        # Learned from the server during the provider's life (see module docstring).
        self._send_stream_options = True
        self._max_tokens_field = "max_tokens"

    def __repr__(self) -> str:
        return f"OpenAICompatProvider(base_url={self.base_url!r})"

    @property
    def sends_stream_options(self) -> bool:
        """False once the server has rejected ``stream_options``."""
        return self._send_stream_options

    # -- lifecycle ---------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}
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

    async def __aenter__(self) -> OpenAICompatProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- discovery ---------------------------------------------------------------------

    async def list_models(self) -> list[str]:
        url = f"{self.base_url}/models"
        try:
            response = await self._http().get(url)
        except httpx.TransportError as exc:
            raise error_from_transport(
                exc, url=url, timeout_s=self.timeout_s, secret=self._api_key
            ) from None
        if response.status_code >= 300:
            raise self._status_error(response.status_code, response.content, response, url, None)
        try:
            data = response.json()
            return [str(item["id"]) for item in data["data"]]
        except (ValueError, KeyError, TypeError):
            raise make_error(
                f"{url} did not return an OpenAI-style model list: "
                f"{truncate(response.text, 200)!r}. Check the base URL ({_BASE_URL_HINT}).",
                ErrorCategory.PARSE,
                secret=self._api_key,
            ) from None

    # -- completion --------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        retried: set[str] = set()
        while True:
            payload = self._payload(request)
            try:
                if request.params.stream:
                    return await self._complete_streaming(request, payload)
                return await self._complete_once(request, payload)
            except _RetryWithout as retry:
                if retry.field in retried:
                    raise retry.error from None
                retried.add(retry.field)
                if retry.field == "stream_options":
                    self._send_stream_options = False
                elif retry.field == "max_tokens":
                    self._max_tokens_field = "max_completion_tokens"

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        params = request.params
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if params.system_prompt:
            messages.insert(0, {"role": "system", "content": params.system_prompt})
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "stream": params.stream,
            "temperature": params.temperature,
            self._max_tokens_field: params.max_tokens,
        }
        if params.top_p is not None:
            payload["top_p"] = params.top_p
        if request.seed is not None:
            payload["seed"] = request.seed
        if params.stream and self._send_stream_options:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def _status_error(
        self,
        status: int,
        body: bytes,
        response: httpx.Response,
        url: str,
        model: str | None,
    ) -> ProviderError:
        return error_from_status(
            status,
            body,
            response.headers,
            url=url,
            model=model,
            secret=self._api_key,
            key_name=self._key_name,
            base_url_hint=_BASE_URL_HINT,
        )

    def _raise_for_status(
        self, response: httpx.Response, body: bytes, url: str, payload: dict[str, Any]
    ) -> None:
        status = response.status_code
        error = self._status_error(status, body, response, url, str(payload["model"]))
        if status in (400, 422):
            if "stream_options" in payload and says_unsupported(body, "stream_options"):
                raise _RetryWithout("stream_options", error)
            if "max_tokens" in payload and says_unsupported(body, "max_completion_tokens"):
                raise _RetryWithout("max_tokens", error)
        raise error

    def _in_band_error(self, data: dict[str, Any], url: str) -> ProviderError:
        """An ``{"error": …}`` object sent with status 200 (in a stream or a body)."""
        error = data.get("error")
        kind, code = "", None
        if isinstance(error, dict):
            kind, code = str(error.get("type") or ""), error.get("code")
        category = category_for_error_type(kind, code)
        text = server_error_text(json.dumps(data)) or "unknown error"
        return make_error(
            f"The server at {origin_of(url)} reported an error during the reply: {text}",
            category,
            secret=self._api_key,
            status_code=code if isinstance(code, int) else None,
        )

    async def _complete_once(self, request: ChatRequest, payload: dict[str, Any]) -> Completion:
        client = self._http()
        url = f"{self.base_url}/chat/completions"
        timeout_s = request.params.timeout_s
        recorder = ChunkRecorder()
        recorder.start()
        try:
            response = await client.post(url, json=payload, timeout=request_timeout(timeout_s))
        except httpx.TransportError as exc:
            raise error_from_transport(
                exc, url=url, timeout_s=timeout_s, secret=self._api_key
            ) from None
        except httpx.DecodingError as exc:
            raise error_from_decoding(exc, url=url, secret=self._api_key) from None
        arrived = time.monotonic_ns()
        if response.status_code >= 300:
            self._raise_for_status(response, response.content, url, payload)
        if "text/event-stream" in response.headers.get("content-type", ""):
            raise make_error(
                f"The server at {origin_of(url)} streamed its reply to a non-streaming "
                "request. Re-run with streaming on.",
                ErrorCategory.PARSE,
                secret=self._api_key,
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise make_error(
                f"The reply from {origin_of(url)} is not a JSON object: "
                f"{truncate(response.text, 200)!r}.",
                ErrorCategory.PARSE,
                secret=self._api_key,
            )
        if data.get("error") and not data.get("choices"):
            raise self._in_band_error(data, url)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise make_error(
                f"The reply from {origin_of(url)} has no choices: "
                f"{truncate(response.text, 200)!r}.",
                ErrorCategory.PARSE,
                secret=self._api_key,
            )
        choice = choices[0]
        message = choice.get("message") or {}
        text = _text_of(message.get("content"))
        reasoning = _text_of(message.get("reasoning_content") or message.get("reasoning"))
        recorder.add(arrived, len(text) + len(reasoning), chunk_kind(text, reasoning))
        input_tokens, output_tokens, reported = _usage(data.get("usage"))
        return Completion(
            text=text,
            reasoning=reasoning,
            finish_reason=choice.get("finish_reason"),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            usage_reported=reported,
            streamed=False,
            end_offset_ns=recorder.offset(arrived),
            **recorder.as_fields(),
        )

    async def _complete_streaming(
        self, request: ChatRequest, payload: dict[str, Any]
    ) -> Completion:
        url = f"{self.base_url}/chat/completions"
        stream = _Stream(url, self._api_key, self._in_band_error)
        done_ns = await stream_events(
            self._http(), url, payload, timeout_s=request.params.timeout_s,
            secret=self._api_key, recorder=stream.recorder, on_event=stream.on_event,
            raise_for_status=lambda response, body: self._raise_for_status(
                response, body, url, payload
            ),
        )
        if done_ns is None and stream.finish_reason is None:
            raise incomplete_stream_error(len(stream.recorder), url=url, secret=self._api_key)
        end_ns = done_ns if done_ns is not None else time.monotonic_ns()
        input_tokens, output_tokens, reported = _usage(stream.usage)
        return Completion(
            text="".join(stream.content),
            reasoning="".join(stream.reasoning),
            finish_reason=stream.finish_reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            usage_reported=reported,
            streamed=True,
            end_offset_ns=stream.recorder.offset(end_ns),
            **stream.recorder.as_fields(),
        )


class _Stream:
    """What one streamed reply has delivered so far."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        in_band_error: Callable[[dict[str, Any], str], ProviderError],
    ) -> None:
        self._url = url
        self._secret = secret
        self._in_band_error = in_band_error
        self.recorder = ChunkRecorder()
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Any = None

    def on_event(self, arrived: int, event: ServerSentEvent) -> bool:
        """Record one event; True at ``[DONE]`` (a terminator, not a chunk)."""
        data = event.data.strip()
        if data == "[DONE]":
            return True
        if not data:  # a keep-alive event without data
            self.recorder.add(arrived, 0, ChunkKind.EMPTY)
            return False
        chunk = _parse_chunk(data)
        if chunk is None:
            raise malformed_chunk_error(data, url=self._url, secret=self._secret)
        if event.event == "error" or (chunk.get("error") and not chunk.get("choices")):
            raise self._in_band_error(chunk, self._url)
        text, thought, reason = _delta_of(chunk)
        self.content.append(text)
        self.reasoning.append(thought)
        self.finish_reason = reason or self.finish_reason
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]  # the last report wins (some send one per chunk)
        self.recorder.add(arrived, len(text) + len(thought), chunk_kind(text, thought))
        return False


def _parse_chunk(data: str) -> dict[str, Any] | None:
    try:
        chunk = json.loads(data)
    except ValueError:
        return None
    return chunk if isinstance(chunk, dict) else None


def _text_of(value: Any) -> str:
    """Message content as text: a string, or a list of ``{"type": "text", "text": …}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(str(part.get("text") or "") for part in value if isinstance(part, dict))
    return ""


def _delta_of(chunk: dict[str, Any]) -> tuple[str, str, str | None]:
    """``(content, reasoning, finish_reason)`` of one chunk's first choice."""
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", "", None
    choice = choices[0]
    delta = choice.get("delta") or {}
    if not isinstance(delta, dict):
        delta = {}
    content = _text_of(delta.get("content"))
    # vLLM / DeepSeek send ``reasoning_content``; newer vLLM, Ollama, OpenRouter ``reasoning``.
    reasoning = _text_of(delta.get("reasoning_content") or delta.get("reasoning"))
    return content, reasoning, choice.get("finish_reason")


def _usage(usage: Any) -> tuple[int | None, int | None, bool]:
    """Token counts from a usage object; never estimated."""
    if not isinstance(usage, dict):
        return None, None, False
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    prompt = prompt if isinstance(prompt, int) else None
    completion = completion if isinstance(completion, int) else None
    return prompt, completion, prompt is not None or completion is not None
