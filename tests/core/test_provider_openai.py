"""The OpenAI-compatible provider against the simulated loopback server (real HTTP)."""

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
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.loopback import (
    DEFAULT_MODELS,
    LoopbackServer,
    ServerBehavior,
    count_tokens,
)
from openbench_desktop.core.providers.base import (
    ChatProvider,
    ChatRequest,
    Completion,
    ProviderError,
)
from openbench_desktop.core.providers.http import (
    STREAMING_GOT_JSON_MESSAGE,
    parse_retry_after,
)
from openbench_desktop.core.providers.openai_compat import OpenAICompatProvider
from openbench_desktop.core.providers.registry import PROVIDER_KINDS, make_provider
from tests.support.loopback import loopback_server, make_loopback_server  # noqa: F401

CANARY_KEY = "fake-CANARY-7f3a9e41-must-never-appear"
MODEL = "simulated-echo"
PROMPT = "Hello there, simulated model! Please repeat this sentence."


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    """One server for the module (starting one per test costs ~0.2 s to stop)."""
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


def request(
    *,
    model: str = MODEL,
    prompt: str = PROMPT,
    seed: int | None = None,
    **params: Any,
) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(Message("user", prompt),),
        params=GenerationParams(**params),
        seed=seed,
    )


def complete(
    base_url: str,
    chat: ChatRequest,
    *,
    api_key: str | None = CANARY_KEY,
    key_name: str | None = None,
) -> Completion:
    async def go() -> Completion:
        async with OpenAICompatProvider(base_url, api_key, key_name=key_name) as provider:
            return await provider.complete(chat)

    return asyncio.run(go())


def failure(base_url: str, chat: ChatRequest, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        complete(base_url, chat, **kwargs)
    error = info.value
    assert CANARY_KEY not in str(error)
    assert CANARY_KEY not in repr(error)
    return error


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_offsets_sane(result: Completion) -> None:
    offsets = result.chunk_offsets_ns
    assert len(offsets) == len(result.chunk_chars) == len(result.chunk_kinds)
    assert all(b >= a for a, b in itertools.pairwise(offsets))
    assert offsets and offsets[0] >= 0
    assert result.end_offset_ns >= offsets[-1]
    assert result.started_ns > 0


# -- success paths ------------------------------------------------------------------------


def test_streaming_reply_matches_what_the_server_sent(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(tokens_per_chunk=2)
    result = complete(server.base_url, request())

    sent = server.last_request
    assert result.text == PROMPT
    assert result.streamed is True
    assert result.finish_reason == "stop"
    assert len(result.chunk_offsets_ns) == sent.events_sent
    assert sum(result.chunk_chars) == len(PROMPT)
    assert result.chunk_kinds[0] == "e"  # the role-only chunk
    assert re.fullmatch(r"ec+ee", result.chunk_kinds)  # ... content, finish, usage
    assert_offsets_sane(result)


def test_usage_comes_only_from_the_server(server: LoopbackServer) -> None:
    result = complete(server.base_url, request())
    sent = server.last_request
    assert result.usage_reported is True
    assert result.input_tokens == sent.prompt_tokens == count_tokens(PROMPT)
    assert result.output_tokens == sent.completion_tokens == count_tokens(PROMPT)
    assert sent.body["stream_options"] == {"include_usage": True}

    server.behavior = ServerBehavior(include_usage=False)
    result = complete(server.base_url, request())
    assert result.usage_reported is False
    assert result.input_tokens is None and result.output_tokens is None
    assert result.text == PROMPT


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_chunks_come_first(server: LoopbackServer, field: str) -> None:
    thinking = "First, I read the question carefully."
    server.behavior = ServerBehavior(reasoning_prefix=thinking, reasoning_field=field)
    result = complete(server.base_url, request())

    assert result.reasoning == thinking
    assert result.text == PROMPT
    assert re.fullmatch(r"er+c+ee", result.chunk_kinds)
    assert result.output_tokens == count_tokens(thinking) + count_tokens(PROMPT)
    assert len(result.chunk_offsets_ns) == server.last_request.events_sent


def test_ttft_and_chunk_timing_follow_the_server(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(ttft_s=0.15, itl_s=0.01, tokens_per_chunk=1)
    result = complete(server.base_url, request())
    sent = server.last_request

    first_content = result.chunk_kinds.index("c")
    ttft_s = result.chunk_offsets_ns[first_content] / 1e9
    assert 0.14 <= ttft_s <= 0.5
    # Each content chunk arrives after the server wrote it, and not much later.
    assert sent.first_token_sent_ns is not None
    arrival_ns = result.started_ns + result.chunk_offsets_ns[first_content]
    assert 0 <= arrival_ns - sent.first_token_sent_ns < 100_000_000
    for offset, sent_ns in zip(result.chunk_offsets_ns, sent.event_sent_ns, strict=True):
        assert result.started_ns + offset >= sent_ns
    content_offsets = [
        o for o, k in zip(result.chunk_offsets_ns, result.chunk_kinds, strict=True) if k == "c"
    ]
    gaps_s = [(b - a) / 1e9 for a, b in itertools.pairwise(content_offsets)]
    assert 0.005 <= sum(gaps_s) / len(gaps_s) <= 0.05


def test_non_streaming_reply_records_one_chunk(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(reasoning_prefix="Thinking.")
    result = complete(server.base_url, request(stream=False))
    sent = server.last_request

    assert sent.stream is False and "stream_options" not in sent.body
    assert result.streamed is False
    assert result.text == PROMPT and result.reasoning == "Thinking."
    assert result.chunk_kinds == "c"
    assert result.chunk_chars == (len(PROMPT) + len("Thinking."),)
    assert result.end_offset_ns == result.chunk_offsets_ns[0] > 0
    assert result.usage_reported and result.output_tokens == sent.completion_tokens


def test_generation_params_and_system_prompt_are_sent(server: LoopbackServer) -> None:
    chat = request(temperature=0.7, max_tokens=64, top_p=0.9, system_prompt="Be terse.", seed=1234)
    complete(server.base_url, chat)
    body = server.last_request.body
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 64
    assert body["top_p"] == 0.9
    assert body["seed"] == 1234
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert body["messages"][1] == {"role": "user", "content": PROMPT}
    assert server.last_request.headers["authorization"] == "<redacted>"
    assert server.last_request.api_key_sent

    complete(server.base_url, request())  # unset options are not sent
    body = server.last_request.body
    assert "top_p" not in body and "seed" not in body
    assert body["messages"] == [{"role": "user", "content": PROMPT}]


def test_max_tokens_truncates_with_finish_reason_length(server: LoopbackServer) -> None:
    result = complete(server.base_url, request(max_tokens=3))
    assert result.finish_reason == "length"
    assert result.output_tokens == 3
    assert result.text == "Hello there,"


def test_api_key_is_sent_as_bearer_token(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(require_api_key=CANARY_KEY)
    assert complete(server.base_url, request()).text == PROMPT


def test_stream_options_rejected_then_dropped_for_good(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(reject_stream_options=True)

    async def go() -> tuple[Completion, Completion, bool]:
        async with OpenAICompatProvider(server.base_url, None) as provider:
            first = await provider.complete(request())
            second = await provider.complete(request())
            return first, second, provider.sends_stream_options

    first, second, sends = asyncio.run(go())
    assert first.text == second.text == PROMPT
    assert sends is False
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 3  # rejected, retried, then straight without it
    assert "stream_options" in bodies[0]
    assert "stream_options" not in bodies[1] and "stream_options" not in bodies[2]
    # Without stream_options this server reports no usage: never estimated.
    assert second.usage_reported is False and second.output_tokens is None


def test_concurrent_requests_share_one_pool(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(ttft_s=0.02)

    async def go() -> list[Completion]:
        async with OpenAICompatProvider(server.base_url, None, concurrency=4) as provider:
            return await asyncio.gather(
                *(provider.complete(request(prompt=f"n {i}")) for i in range(12))
            )

    results = asyncio.run(go())
    assert [r.text for r in results] == [f"n {i}" for i in range(12)]


def test_list_models(server: LoopbackServer) -> None:
    async def go() -> list[str]:
        async with OpenAICompatProvider(server.base_url, None) as provider:
            return await provider.list_models()

    assert asyncio.run(go()) == list(DEFAULT_MODELS)


def test_pasted_endpoint_url_is_accepted(server: LoopbackServer) -> None:
    result = complete(server.base_url + "/chat/completions/", request())
    assert result.text == PROMPT


# -- failures -----------------------------------------------------------------------------


def test_connection_refused() -> None:
    port = free_port()
    error = failure(f"http://127.0.0.1:{port}/v1", request())
    assert error.category is ErrorCategory.CONNECTION
    assert str(error) == (
        f"Cannot connect to http://127.0.0.1:{port}: connection refused. "
        "Is the server running and is the URL right?"
    )


def test_dns_failure() -> None:
    error = failure("http://openbench-no-such-host.invalid/v1", request())
    assert error.category is ErrorCategory.CONNECTION
    assert "openbench-no-such-host.invalid" in str(error)
    assert "could not be resolved" in str(error)


def test_unauthorized_key_is_named_but_never_shown(server: LoopbackServer) -> None:
    # A careless server quotes the rejected key in its error: it must not reach us.
    server.behavior = ServerBehavior(require_api_key="fake-right", echo_api_key_in_errors=True)
    error = failure(server.base_url, request(), key_name="vllm-box")
    assert error.category is ErrorCategory.AUTH
    assert error.status_code == 401
    assert "rejected the API key" in str(error)
    assert "`openbench-desktop keys set vllm-box`" in str(error)
    assert "***" in str(error)  # the server's text, with the key scrubbed


def test_missing_key_says_so(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(require_api_key="fake-right")
    error = failure(server.base_url, request(), api_key=None)
    assert error.category is ErrorCategory.AUTH
    assert "none was given" in str(error)
    assert "keys set NAME" in str(error)


def test_unknown_model(server: LoopbackServer) -> None:
    error = failure(server.base_url, request(model="gpt-imaginary"))
    assert error.category is ErrorCategory.NOT_FOUND
    assert error.status_code == 404
    assert "Model 'gpt-imaginary' does not exist on this server" in str(error)


def test_wrong_path(server: LoopbackServer) -> None:
    error = failure(server.url, request())  # forgot /v1
    assert error.category is ErrorCategory.NOT_FOUND
    assert str(error).startswith(f"No such endpoint: {server.url}/chat/completions")
    assert "usually ends in /v1" in str(error)


def test_bad_request_quotes_the_server(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(fail_with_status=400)
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.BAD_REQUEST
    assert error.status_code == 400
    assert "Bad request." in str(error)


def test_rate_limit_with_retry_after_seconds(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(fail_with_status=429, retry_after="7")
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.RATE_LIMIT
    assert error.status_code == 429
    assert error.retry_after_s == 7.0
    assert "Rate limit reached" in str(error)


def test_rate_limit_with_retry_after_date(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(
        fail_with_status=429, retry_after=formatdate(time.time() + 30, usegmt=True)
    )
    error = failure(server.base_url, request(stream=False))
    assert error.category is ErrorCategory.RATE_LIMIT
    assert error.retry_after_s is not None and 25 <= error.retry_after_s <= 31


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(server: LoopbackServer, status: int) -> None:
    server.behavior = ServerBehavior(fail_with_status=status, retry_after="2")
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.SERVER_ERROR
    assert error.status_code == status
    assert error.retry_after_s == 2.0


def test_malformed_chunk(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(malformed_chunk_at=2)
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.PARSE
    assert "malformed stream chunk" in str(error)


def test_stream_cut_mid_way(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(cut_stream_at=3)
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.CONNECTION
    assert "closed mid-stream after 3 chunk(s)" in str(error)


def test_stream_ended_early_without_end_marker(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(cut_stream_at=3, cut_stream_cleanly=True)
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.CONNECTION
    assert "ended after 3 chunk(s)" in str(error)


def test_stream_without_any_data(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(cut_stream_at=0, cut_stream_cleanly=True)
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.CONNECTION
    assert "without sending any data" in str(error)


def test_in_stream_error_object(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(error_event_at=2, error_event_type="rate_limit_error")
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.RATE_LIMIT
    assert "Simulated rate_limit_error" in str(error)


def test_non_streaming_reply_to_streaming_request(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(stream_ignores_flag=True)
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.PARSE
    assert str(error) == STREAMING_GOT_JSON_MESSAGE
    assert STREAMING_GOT_JSON_MESSAGE == (
        "The server answered a streaming request with a non-streaming reply; TTFT and "
        "inter-token latency cannot be measured. Re-run with streaming off (--no-stream) to "
        "benchmark it without streaming."
    )


@pytest.mark.parametrize("stream", [True, False])
def test_read_timeout_on_a_stalled_server(server: LoopbackServer, stream: bool) -> None:
    server.behavior = ServerBehavior(ttft_s=3.0)
    started = time.monotonic()
    error = failure(server.base_url, request(stream=stream, timeout_s=0.3))
    assert time.monotonic() - started < 2.0
    assert error.category is ErrorCategory.TIMEOUT
    assert "read timeout" in str(error)
    assert "0.3 s" in str(error)


def test_list_models_errors(server: LoopbackServer) -> None:
    async def models(base_url: str) -> list[str]:
        async with OpenAICompatProvider(base_url, CANARY_KEY) as provider:
            return await provider.list_models()

    with pytest.raises(ProviderError) as info:
        asyncio.run(models(server.url))  # no /v1
    assert info.value.category is ErrorCategory.NOT_FOUND
    assert "No such endpoint" in str(info.value)

    server.behavior = ServerBehavior(require_api_key="fake-right", echo_api_key_in_errors=True)
    with pytest.raises(ProviderError) as info:
        asyncio.run(models(server.base_url))
    assert info.value.category is ErrorCategory.AUTH
    assert CANARY_KEY not in str(info.value)


# -- the registry and helpers ---------------------------------------------------------------


def test_registry_makes_providers() -> None:
    assert PROVIDER_KINDS == ("openai", "anthropic")
    provider = make_provider("OpenAI", "http://127.0.0.1:1/v1/", CANARY_KEY, concurrency=3)
    assert isinstance(provider, ChatProvider)
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.base_url == "http://127.0.0.1:1/v1"
    assert CANARY_KEY not in repr(provider)
    with pytest.raises(ConfigError, match="Unknown provider 'gemini'"):
        make_provider("gemini", "http://127.0.0.1:1/v1", None)
    with pytest.raises(ConfigError, match="not an http"):
        make_provider("openai", "127.0.0.1:8000/v1", None)


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "12"}, now=now) == 12.0
    assert parse_retry_after({"retry-after": "1.5"}, now=now) == 1.5
    assert parse_retry_after({"retry-after": formatdate(now + 90, usegmt=True)}, now=now) == 90.0
    assert parse_retry_after({"retry-after": formatdate(now - 90, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, now=now) == 0.25
    assert parse_retry_after({"retry-after": "soon"}, now=now) is None
    assert parse_retry_after({}, now=now) is None


def test_fixtures_start_and_stop_servers(
    loopback_server: LoopbackServer,  # noqa: F811
    make_loopback_server: Any,  # noqa: F811
) -> None:
    assert complete(loopback_server.base_url, request()).text == PROMPT
    other = make_loopback_server(behavior=ServerBehavior(tokens_per_chunk=100))
    result = complete(other.base_url, request())
    assert result.chunk_kinds == "ecee"
    assert other.port != loopback_server.port


def test_max_tokens_rejected_then_max_completion_tokens(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(reject_max_tokens=True)

    async def go() -> list[Completion]:
        async with OpenAICompatProvider(server.base_url, None) as provider:
            return [await provider.complete(request(max_tokens=2)) for _ in range(2)]

    results = asyncio.run(go())
    assert [r.text for r in results] == ["Hello there", "Hello there"]
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 3
    assert bodies[0]["max_tokens"] == 2 and "max_completion_tokens" not in bodies[0]
    assert bodies[2]["max_completion_tokens"] == 2 and "max_tokens" not in bodies[2]


def test_other_bad_requests_are_not_retried(server: LoopbackServer) -> None:
    server.behavior = ServerBehavior(fail_with_status=400)
    error = failure(server.base_url, request())
    assert error.category is ErrorCategory.BAD_REQUEST
    assert server.request_count() == 1


def test_streamed_requests_reuse_one_keep_alive_connection(server: LoopbackServer) -> None:
    async def go() -> None:
        async with OpenAICompatProvider(server.base_url, None, concurrency=1) as provider:
            for _ in range(4):
                await provider.complete(request())

    asyncio.run(go())
    clients = {r.client for r in server.requests}
    assert len(server.requests) == 4 and len(clients) == 1
