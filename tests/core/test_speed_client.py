"""The measuring client: SSE decoding with arrival times, and every kind of bad stream.

Bad input is served by the real loopback server (closed mid-stream, malformed SSE, no
``[DONE]``, plain JSON to a streaming request, HTTP errors): each must come back as a
ProviderError with its category, never as a silently short sample.
"""

from __future__ import annotations

import asyncio

import pytest

from openbench_desktop.core.domain import ErrorCategory
from openbench_desktop.core.loopback import ServerBehavior
from openbench_desktop.core.providers.base import ProviderError
from openbench_desktop.core.speed.client import ParsedStream, RawExchange, SpeedClient, parse_stream
from tests.support.loopback import MakeLoopbackServer

PROMPT = "one two three four five"


def _exchange(pieces: list[tuple[int, bytes]], *, sent: int = 1000) -> RawExchange:
    return RawExchange(
        sent_ns=sent,
        status=200,
        headers={"content-type": "text/event-stream"},
        pieces=pieces,
        end_ns=pieces[-1][0] if pieces else None,
    )


def test_each_event_is_timed_by_the_read_that_completed_it() -> None:
    role = b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
    first = b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
    second = b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n'
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
    parsed = parse_stream(
        _exchange(
            [
                (1100, role + first[:20]),  # the first token's event is cut in two reads
                (1500, first[20:] + second),  # ... and completes here, with the next one
                (1900, b": keep-alive comment\n\n" + usage),
                (2000, b"data: [DONE]\n\n"),
            ]
        )
    )
    assert parsed.chunk_offsets_ns == (100, 500, 500, 900)
    assert parsed.chunk_kinds == "ecce"
    assert parsed.chunk_chars == (0, 3, 2, 0)
    assert parsed.no_choice_chunks == (3,)
    assert parsed.text == "Hello"
    assert (parsed.input_tokens, parsed.output_tokens, parsed.usage_reported) == (3, 2, True)
    assert parsed.end_offset_ns == 1000 and parsed.done_seen


def test_crlf_events_reasoning_and_multiline_data() -> None:
    body = (
        b'data: {"choices":[{"delta":{"reasoning_content":"hmm"}}]}\r\n\r\n'
        b'event: message\r\ndata: {"choices":[{"delta":\r\ndata: {"content":"ok"},'
        b'"finish_reason":"stop"}]}\r\n\r\n'
        b"data: [DONE]\r\n\r\n"
    )
    parsed = parse_stream(_exchange([(1200, body)]))
    assert parsed.chunk_kinds == "rc"
    assert (parsed.reasoning, parsed.text, parsed.finish_reason) == ("hmm", "ok", "stop")
    assert parsed.usage_reported is False


def test_malformed_json_and_in_band_errors_raise_with_a_category() -> None:
    with pytest.raises(ProviderError) as bad:
        parse_stream(_exchange([(1100, b'data: {"choices": [{"delta": {"con\n\n')]))
    assert bad.value.category is ErrorCategory.PARSE
    err = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    with pytest.raises(ProviderError) as inband:
        parse_stream(_exchange([(1100, err)]))
    assert inband.value.category is ErrorCategory.SERVER_ERROR
    assert "overloaded" in str(inband.value)


def _ask(url: str, *, key: str | None = None) -> tuple[RawExchange, ParsedStream | ProviderError]:
    async def go() -> tuple[RawExchange, ParsedStream | ProviderError]:
        client = SpeedClient(url, key, timeout_s=5)
        try:
            payload = client.payload(
                "simulated-echo", [{"role": "user", "content": PROMPT}], max_tokens=64
            )
            try:
                exchange, outcome, _ = await client.chat(payload, request_id="t-1")
            except ProviderError as error:  # no connection at all
                return RawExchange(), error
            return exchange, outcome
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_good_stream_matches_what_the_server_sent(
    make_loopback_server: MakeLoopbackServer,
) -> None:
    server = make_loopback_server(ServerBehavior(ttft_s=0.02, itl_s=0.002))
    exchange, parsed = _ask(server.base_url)
    assert isinstance(parsed, ParsedStream)
    record = server.last_request
    assert record.headers["x-request-id"] == "t-1"
    assert record.body["stream_options"] == {"include_usage": True}
    assert record.body["ignore_eos"] is True
    assert parsed.text == PROMPT
    assert parsed.output_tokens == record.completion_tokens == 5
    assert parsed.input_tokens == record.prompt_tokens == 5
    # role + 5 tokens + finish + usage; the usage chunk has no choices
    assert parsed.chunk_kinds == "e" + "c" * 5 + "ee"
    assert parsed.no_choice_chunks == (7,)
    # Every chunk arrived after the server wrote it (one monotonic clock, one process).
    for offset, sent in zip(parsed.chunk_offsets_ns, record.event_sent_ns, strict=True):
        assert exchange.sent_ns + offset >= sent
    assert exchange.sent_ns <= record.received_ns


@pytest.mark.parametrize(
    ("behavior", "category", "words"),
    [
        (ServerBehavior(cut_stream_at=3), ErrorCategory.CONNECTION, "closed mid-stream"),
        (
            ServerBehavior(cut_stream_at=3, cut_stream_cleanly=True),
            ErrorCategory.CONNECTION,
            "without its end marker",
        ),
        (ServerBehavior(malformed_chunk_at=2), ErrorCategory.PARSE, "malformed stream chunk"),
        (ServerBehavior(error_event_at=2), ErrorCategory.SERVER_ERROR, "during the reply"),
        (ServerBehavior(stream_ignores_flag=True), ErrorCategory.PARSE, "non-streaming reply"),
        (ServerBehavior(fail_with_status=503), ErrorCategory.SERVER_ERROR, "HTTP 503"),
        (ServerBehavior(fail_with_status=429), ErrorCategory.RATE_LIMIT, "rate limiting"),
    ],
)
def test_bad_streams_fail_with_their_category(
    make_loopback_server: MakeLoopbackServer,
    behavior: ServerBehavior,
    category: ErrorCategory,
    words: str,
) -> None:
    server = make_loopback_server(behavior)
    _, outcome = _ask(server.base_url)
    assert isinstance(outcome, ProviderError), outcome
    assert outcome.category is category
    assert words in str(outcome)


def test_a_stream_ending_after_its_finish_reason_without_done_is_complete(
    make_loopback_server: MakeLoopbackServer,
) -> None:
    # role, 5 tokens, finish, usage = 8 events; cut cleanly where [DONE] would be.
    server = make_loopback_server(ServerBehavior(cut_stream_at=8, cut_stream_cleanly=True))
    _, outcome = _ask(server.base_url)
    assert isinstance(outcome, ParsedStream)
    assert outcome.finish_reason == "stop" and not outcome.done_seen


def test_auth_errors_and_key_handling(make_loopback_server: MakeLoopbackServer) -> None:
    server = make_loopback_server(ServerBehavior(require_api_key="fake-canary-123456"))
    _, outcome = _ask(server.base_url)
    assert isinstance(outcome, ProviderError) and outcome.category is ErrorCategory.AUTH
    _, good = _ask(server.base_url, key="fake-canary-123456")
    assert isinstance(good, ParsedStream)
    assert server.last_request.api_key_sent


def test_rejected_optional_fields_are_dropped_once_and_remembered(
    make_loopback_server: MakeLoopbackServer,
) -> None:
    server = make_loopback_server(ServerBehavior(reject_stream_options=True))
    _, outcome = _ask(server.base_url)
    assert isinstance(outcome, ParsedStream)
    assert "stream_options" not in server.last_request.body
    assert outcome.usage_reported is False  # nothing asked, nothing estimated


def test_an_unreachable_server_is_a_connection_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _, outcome = _ask(f"http://127.0.0.1:{port}/v1")
    assert isinstance(outcome, ProviderError)
    assert outcome.category is ErrorCategory.CONNECTION and outcome.connect_failed


def test_keep_alive_connections_are_reused_but_not_when_stale(
    make_loopback_server: MakeLoopbackServer,
) -> None:
    server = make_loopback_server(ServerBehavior())

    async def go() -> None:
        client = SpeedClient(server.base_url, timeout_s=5)
        try:
            payload = client.payload(
                "simulated-echo", [{"role": "user", "content": PROMPT}], max_tokens=4
            )
            for _ in range(3):
                _, outcome, _ = await client.chat(payload)
                assert isinstance(outcome, ParsedStream)
            assert client.connections == 1
            # An idle connection older than IDLE_REUSE_NS may be closing server-side.
            for conn in client._idle:
                conn.last_activity_ns -= 10_000_000_000
            _, outcome, _ = await client.chat(payload)
            assert isinstance(outcome, ParsedStream)
            assert client.connections == 1
        finally:
            await client.aclose()

    asyncio.run(go())
    ports = [r.client for r in server.requests]
    assert ports[0] == ports[1] == ports[2] != ports[3]
