"""The Anthropic Messages provider against the simulated loopback server (real HTTP)."""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest

from openbench_desktop.core.domain import ErrorCategory, GenerationParams, Message
from openbench_desktop.core.loopback import (
    DEFAULT_MODELS,
    LoopbackServer,
    ServerBehavior,
    count_tokens,
)
from openbench_desktop.core.providers.anthropic import ANTHROPIC_VERSION, AnthropicProvider
from openbench_desktop.core.providers.base import ChatRequest, Completion, ProviderError
from openbench_desktop.core.providers.http import STREAMING_GOT_JSON_MESSAGE
from openbench_desktop.core.providers.registry import make_provider

CANARY_KEY = "fake-ant-CANARY-51c0ffee-must-never-appear"
MODEL = "simulated-echo"
PROMPT = "Hello there, simulated model! Please repeat this sentence."


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def server(shared_server: LoopbackServer) -> LoopbackServer:
    shared_server.reset()
    return shared_server


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def request(*, model: str = MODEL, prompt: str = PROMPT, **params: Any) -> ChatRequest:
    return ChatRequest(
        model=model, messages=(Message("user", prompt),), params=GenerationParams(**params)
    )


def complete(base_url: str, chat: ChatRequest, *, api_key: str | None = CANARY_KEY) -> Completion:
    async def go() -> Completion:
        async with AnthropicProvider(base_url, api_key) as provider:
            return await provider.complete(chat)

    return asyncio.run(go())


def failure(base_url: str, chat: ChatRequest, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        complete(base_url, chat, **kwargs)
    assert CANARY_KEY not in str(info.value)
    assert CANARY_KEY not in repr(info.value)
    return info.value


# -- success paths ------------------------------------------------------------------------


def test_streaming_reply_with_thinking(server: LoopbackServer) -> None:
    thinking = "The user wants an echo."
    server.behavior = ServerBehavior(reasoning_prefix=thinking, tokens_per_chunk=2)
    result = complete(server.base_url, request())  # a pasted /v1 is tolerated
    sent = server.last_request

    assert sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert sent.headers["x-api-key"] == "<redacted>" and sent.api_key_sent
    assert result.text == PROMPT
    assert result.reasoning == thinking
    assert result.finish_reason == "stop"
    assert result.streamed is True
    assert len(result.chunk_offsets_ns) == sent.events_sent
    # message_start, block start, ping, thinking deltas, block stop, block start, text
    # deltas, block stop, message_delta, message_stop
    assert re.fullmatch(r"eeer+eec+eee", result.chunk_kinds)
    offsets = result.chunk_offsets_ns
    assert all(b >= a for a, b in itertools.pairwise(offsets))
    assert result.end_offset_ns >= offsets[-1]
    assert sum(result.chunk_chars) == len(PROMPT) + len(thinking)


def test_usage_from_message_start_and_delta(server: LoopbackServer) -> None:
    result = complete(server.anthropic_base_url, request(system_prompt="Be terse."))
    sent = server.last_request
    assert result.usage_reported is True
    assert (
        result.input_tokens
        == sent.prompt_tokens
        == count_tokens("Be terse.") + count_tokens(PROMPT)
    )
    assert result.output_tokens == sent.completion_tokens == count_tokens(PROMPT)

    server.behavior = ServerBehavior(include_usage=False)
    result = complete(server.anthropic_base_url, request())
    assert result.usage_reported is False
    assert result.input_tokens is None and result.output_tokens is None


def test_request_shape(server: LoopbackServer) -> None:
    chat = ChatRequest(
        model=MODEL,
        messages=(Message("system", "Answer in English."), Message("user", PROMPT)),
        params=GenerationParams(temperature=0.3, max_tokens=50, top_p=0.8, system_prompt="Hi."),
        seed=7,
    )
    complete(server.anthropic_base_url, chat)
    body = server.last_request.body
    assert body["system"] == "Hi.\n\nAnswer in English."
    assert body["messages"] == [{"role": "user", "content": PROMPT}]
    assert body["max_tokens"] == 50
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.8
    assert body["stream"] is True
    assert "seed" not in body  # the Messages API has none


def test_ttft_follows_the_server(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(ttft_s=0.15, itl_s=0.005)
    result = complete(server.anthropic_base_url, request())
    first_content = result.chunk_kinds.index("c")
    assert 0.14 <= result.chunk_offsets_ns[first_content] / 1e9 <= 0.5
    assert result.chunk_offsets_ns[0] / 1e9 < 0.1  # message_start comes at once


def test_non_streaming(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(reasoning_prefix="Hmm.")
    result = complete(server.anthropic_base_url, request(stream=False, max_tokens=4))
    assert result.streamed is False
    assert result.reasoning == "Hmm."
    assert result.text == "Hello there"  # 2 of the 4 tokens went to thinking
    assert result.finish_reason == "length"
    assert result.output_tokens == 4
    assert result.chunk_kinds == "c" and result.end_offset_ns == result.chunk_offsets_ns[0]


def test_list_models(server: LoopbackServer) -> None:
    async def go() -> list[str]:
        provider = make_provider("anthropic", server.anthropic_base_url, CANARY_KEY)
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    assert asyncio.run(go()) == list(DEFAULT_MODELS)
    assert server.last_request.headers["anthropic-version"] == ANTHROPIC_VERSION


# -- failures -----------------------------------------------------------------------------


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = failure(f"http://127.0.0.1:{port}", request())
    assert error.category is ErrorCategory.CONNECTION
    assert "connection refused. Is the server running and is the URL right?" in str(error)


def test_unauthorized(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(require_api_key="fake-ant-right", echo_api_key_in_errors=True)
    error = failure(server.anthropic_base_url, request())
    assert error.category is ErrorCategory.AUTH
    assert error.status_code == 401
    assert "keys set NAME" in str(error)


def test_unknown_model(server: LoopbackServer) -> None:
    error = failure(server.anthropic_base_url, request(model="claude-imaginary"))
    assert error.category is ErrorCategory.NOT_FOUND
    assert "Model 'claude-imaginary' does not exist on this server" in str(error)


def test_wrong_path(server: LoopbackServer) -> None:
    error = failure(server.url + "/anthropic", request())
    assert error.category is ErrorCategory.NOT_FOUND
    assert "No such endpoint" in str(error) and "without /v1" in str(error)


def test_rate_limit_with_date(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(
        fail_with_status=429, retry_after=formatdate(time.time() + 20, usegmt=True)
    )
    error = failure(server.anthropic_base_url, request())
    assert error.category is ErrorCategory.RATE_LIMIT
    assert error.retry_after_s is not None and 15 <= error.retry_after_s <= 21


def test_overloaded(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(fail_with_status=529, retry_after="3")
    error = failure(server.anthropic_base_url, request())
    assert error.category is ErrorCategory.SERVER_ERROR
    assert error.status_code == 529 and error.retry_after_s == 3.0


@pytest.mark.parametrize(
    ("error_type", "category"),
    [
        ("overloaded_error", ErrorCategory.SERVER_ERROR),
        ("rate_limit_error", ErrorCategory.RATE_LIMIT),
        ("invalid_request_error", ErrorCategory.BAD_REQUEST),
    ],
)
def test_error_event_mid_stream(
    server: LoopbackServer, error_type: str, category: ErrorCategory
) -> None:
    server.behavior = ServerBehavior(error_event_at=4, error_event_type=error_type)
    error = failure(server.anthropic_base_url, request())
    assert error.category is category
    assert error_type in str(error)


def test_malformed_event(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(malformed_chunk_at=3)
    error = failure(server.anthropic_base_url, request())
    assert error.category is ErrorCategory.PARSE


def test_cut_stream(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(cut_stream_at=4)
    assert failure(server.anthropic_base_url, request()).category is ErrorCategory.CONNECTION
    server.behavior = ServerBehavior(cut_stream_at=4, cut_stream_cleanly=True)
    error = failure(server.anthropic_base_url, request())
    assert error.category is ErrorCategory.CONNECTION
    assert "ended after 4 chunk(s)" in str(error)


def test_non_streaming_reply_to_streaming_request(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(stream_ignores_flag=True)
    error = failure(server.anthropic_base_url, request())
    assert error.category is ErrorCategory.PARSE
    assert str(error) == STREAMING_GOT_JSON_MESSAGE


def test_read_timeout(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(ttft_s=3.0)
    error = failure(server.anthropic_base_url, request(timeout_s=0.3))
    assert error.category is ErrorCategory.TIMEOUT
