"""The simulated loopback model server, checked over real HTTP with a plain client."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openbench_desktop.core.domain import GenerationParams, Message
from openbench_desktop.core.loopback import (
    DEFAULT_MODELS,
    LoopbackServer,
    ServerBehavior,
    count_tokens,
    gsm8k_responder,
    lookup_responder,
    tokenize,
)
from openbench_desktop.core.providers.base import ChatRequest
from openbench_desktop.core.providers.openai_compat import OpenAICompatProvider
from tests.support.loopback import MakeLoopbackServer, loopback_server, make_loopback_server  # noqa: F401

TEXT = "The quick brown fox, aged 3, jumps!"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def server(shared_server: LoopbackServer) -> LoopbackServer:
    shared_server.reset()
    return shared_server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


def chat_body(text: str = TEXT, **extra: Any) -> dict[str, Any]:
    return {"model": "simulated-echo", "messages": [{"role": "user", "content": text}], **extra}


def sse_events(http: httpx.Client, url: str, body: dict[str, Any], **kw: Any) -> list[str]:
    """The raw ``data:`` payloads of a streamed reply, in order (``[DONE]`` included)."""
    response = http.post(url, json=body, **kw)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        data = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
        if data:
            events.append("\n".join(data))
    return events


# -- tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", TEXT, "  leading and trailing  ", "Ünïcode — ok?\n\nNew  para.", "a,b.c"]
)
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text
    assert count_tokens(text) == len(tokenize(text))


def test_token_split_is_documented_words_and_punctuation() -> None:
    assert tokenize("Hi, you.") == ["Hi", ",", " you", "."]
    assert count_tokens(TEXT) == 10


# -- OpenAI dialect -----------------------------------------------------------------------


def test_openai_stream_shape_and_exact_usage(server: LoopbackServer, http: httpx.Client) -> None:
    server.behavior = ServerBehavior(tokens_per_chunk=3)
    url = f"{server.base_url}/chat/completions"
    events = sse_events(http, url, chat_body(stream=True, stream_options={"include_usage": True}))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert "".join(pieces) == TEXT
    assert [count_tokens(p) for p in pieces] == [3, 3, 3, 1]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": count_tokens(TEXT),
        "completion_tokens": count_tokens(TEXT),
        "total_tokens": 2 * count_tokens(TEXT),
    }
    sent = server.last_request
    assert sent.events_sent == len(chunks) and sent.token_chunks == 4
    assert sent.usage_sent and sent.completed

    # No usage unless asked for (or when the server is told not to report it).
    events = sse_events(http, url, chat_body(stream=True))
    assert all("usage" not in json.loads(e) for e in events[:-1])
    server.behavior = ServerBehavior(include_usage=False)
    events = sse_events(http, url, chat_body(stream=True, stream_options={"include_usage": True}))
    assert all("usage" not in json.loads(e) for e in events[:-1])


def test_openai_non_streaming_and_max_tokens(server: LoopbackServer, http: httpx.Client) -> None:
    server.behavior = ServerBehavior(reasoning_prefix="Think.", reasoning_field="reasoning")
    reply = http.post(f"{server.base_url}/chat/completions", json=chat_body(max_tokens=4)).json()
    message = reply["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "The quick", "reasoning": "Think."}
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 4


def test_latency_is_scheduled_against_absolute_deadlines(
    server: LoopbackServer, http: httpx.Client
) -> None:
    ttft, itl = 0.05, 0.01
    server.behavior = ServerBehavior(ttft_s=ttft, itl_s=itl)
    sse_events(http, f"{server.base_url}/chat/completions", chat_body(stream=True))
    sent = server.last_request
    offsets = sent.sent_offsets_s
    assert offsets[0] < 0.02  # the role chunk goes at once
    token_offsets = offsets[1 : 1 + count_tokens(TEXT)]
    for number, offset in enumerate(token_offsets):
        due = ttft + number * itl
        assert due - 0.0005 <= offset <= due + 0.03
    # Overshoot does not accumulate: the last token is about as late as the first.
    assert token_offsets[-1] - (ttft + (len(token_offsets) - 1) * itl) < 0.03


def test_openai_failures(server: LoopbackServer, http: httpx.Client) -> None:
    url = f"{server.base_url}/chat/completions"
    missing = http.post(url, json=chat_body(model="nope"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"

    server.behavior = ServerBehavior(fail_with_status=429, retry_after="5")
    limited = http.post(url, json=chat_body())
    assert limited.status_code == 429 and limited.headers["retry-after"] == "5"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"

    server.behavior = ServerBehavior(require_api_key="secret-key")
    assert http.post(url, json=chat_body()).status_code == 401
    assert http.get(f"{server.base_url}/models").status_code == 401
    ok = http.post(url, json=chat_body(), headers={"authorization": "Bearer secret-key"})
    assert ok.status_code == 200
    assert server.last_request.headers["authorization"] == "<redacted>"

    server.behavior = ServerBehavior(reject_stream_options=True)
    rejected = http.post(url, json=chat_body(stream=True, stream_options={"include_usage": True}))
    assert rejected.status_code == 400 and "stream_options" in rejected.text

    server.behavior = ServerBehavior(stream_ignores_flag=True)
    ignored = http.post(url, json=chat_body(stream=True))
    assert ignored.headers["content-type"] == "application/json"
    assert ignored.json()["choices"][0]["message"]["content"] == TEXT


def test_malformed_and_cut_streams(server: LoopbackServer, http: httpx.Client) -> None:
    url = f"{server.base_url}/chat/completions"
    server.behavior = ServerBehavior(malformed_chunk_at=1)
    events = sse_events(http, url, chat_body(stream=True))
    with pytest.raises(ValueError):
        json.loads(events[1])

    server.behavior = ServerBehavior(cut_stream_at=2, cut_stream_cleanly=True)
    events = sse_events(http, url, chat_body(stream=True))
    assert len(events) == 2 and "[DONE]" not in events
    assert server.last_request.completed is False

    server.behavior = ServerBehavior(cut_stream_at=2)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(url, json=chat_body(stream=True))
    assert server.last_request.events_sent == 2


# -- Anthropic dialect --------------------------------------------------------------------


def test_anthropic_stream_event_sequence(server: LoopbackServer, http: httpx.Client) -> None:
    server.behavior = ServerBehavior(reasoning_prefix="Hm, ok.", tokens_per_chunk=100)
    body = chat_body(stream=True, max_tokens=100, system="Be brief.")
    response = http.post(
        f"{server.anthropic_base_url}/v1/messages",
        json=body,
        headers={"anthropic-version": "2023-06-01"},
    )
    names = re.findall(r"^event: (\w+)$", response.text, re.MULTILINE)
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    payloads = [json.loads(line[6:]) for line in response.text.splitlines() if line[:6] == "data: "]
    assert payloads[0]["message"]["usage"]["input_tokens"] == count_tokens("Be brief." + TEXT)
    assert payloads[3]["delta"] == {"type": "thinking_delta", "thinking": "Hm, ok."}
    assert payloads[6]["delta"] == {"type": "text_delta", "text": TEXT}
    assert payloads[8]["usage"]["output_tokens"] == count_tokens("Hm, ok.") + count_tokens(TEXT)

    missing_max = http.post(f"{server.anthropic_base_url}/v1/messages", json=chat_body())
    assert missing_max.status_code == 400
    assert missing_max.json()["error"]["type"] == "invalid_request_error"


def test_models_in_both_shapes(server: LoopbackServer, http: httpx.Client) -> None:
    openai = http.get(f"{server.base_url}/models").json()
    assert [m["id"] for m in openai["data"]] == list(DEFAULT_MODELS)
    assert openai["object"] == "list"
    anthropic = http.get(
        f"{server.anthropic_base_url}/v1/models", headers={"anthropic-version": "2023-06-01"}
    ).json()
    assert [m["id"] for m in anthropic["data"]] == list(DEFAULT_MODELS)
    assert anthropic["has_more"] is False


# -- the log and the lifecycle ------------------------------------------------------------


def test_request_log(server: LoopbackServer, http: httpx.Client) -> None:
    http.get(f"{server.base_url}/models")
    http.post(f"{server.url}/chat/completions", json=chat_body())  # wrong path
    assert server.request_count() == 2
    assert server.request_count("/v1/models") == 1
    wrong = server.last_request
    assert (wrong.path, wrong.status, wrong.api) == ("/chat/completions", 404, "other")
    server.clear_requests()
    assert server.requests == [] and server.request_count() == 0
    with pytest.raises(LookupError):
        _ = server.last_request


def test_stop_frees_the_port() -> None:
    server = LoopbackServer()
    with pytest.raises(RuntimeError):
        _ = server.port
    with server:
        port = server.port
        assert server.running
        assert httpx.get(f"{server.url}/health", trust_env=False).status_code == 200
    assert not server.running
    server.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


def test_fixtures(
    loopback_server: LoopbackServer,  # noqa: F811
    make_loopback_server: MakeLoopbackServer,  # noqa: F811
    http: httpx.Client,
) -> None:
    reply = http.post(f"{loopback_server.base_url}/chat/completions", json=chat_body()).json()
    assert reply["choices"][0]["message"]["content"] == TEXT
    custom = make_loopback_server(
        behavior=ServerBehavior(known_models=("m1",)), responder=lambda model, messages: "fixed"
    )
    reply = http.post(f"{custom.base_url}/chat/completions", json=chat_body(model="m1")).json()
    assert reply["choices"][0]["message"]["content"] == "fixed"


# -- responders ---------------------------------------------------------------------------


def test_lookup_responder_finds_the_question_in_the_last_user_message() -> None:
    responder = lookup_responder({"What is 2+2?": "4", "Name a colour.": "Blue."}, "dunno")

    def ask(text: str) -> str:
        return responder(
            "m", [{"role": "user", "content": "old"}, {"role": "user", "content": text}]
        )

    assert ask("What is 2+2?") == "4"
    assert ask("Solve this.\n\nQuestion: What   is 2+2?") == "4"
    assert ask("Think step by step. Name a colour. Answer briefly.") == "Blue."
    assert ask("Something else") == "dunno"
    assert (
        responder(
            "m",
            [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "x"}],
        )
        == "4"
    )


def _extract(reply: str) -> str:
    """A lenient reader of the final number (what a GSM8K scorer would do)."""
    for pattern in (r"####\s*(-?[\d,.]+)", r"\\boxed\{(-?[\d,.]+)\}", r"answer is\s*(-?[\d,.]+)"):
        match = re.search(pattern, reply)
        if match:
            return match.group(1).replace(",", "").rstrip(".")
    return re.findall(r"-?\$?[\d,]+(?:\.\d+)?", reply)[-1].replace(",", "").replace("$", "")


def test_gsm8k_responder_is_right_except_a_deterministic_subset(gsm8k_path: Path) -> None:
    responder = gsm8k_responder(gsm8k_path, wrong_every=4)
    questions = [json.loads(line)["question"] for line in gsm8k_path.open(encoding="utf-8")]
    assert len(responder.expected) == len(questions)
    assert responder.wrong_indices == frozenset(i for i in range(len(questions)) if i % 4 == 3)

    replies = [
        responder("simulated-gsm8k", [{"role": "user", "content": q}]) for q in questions[:8]
    ]
    forms = [r.splitlines()[-1] for r in replies]
    assert forms[0].startswith("The answer is ")
    assert forms[1].startswith("#### ")
    assert forms[2].startswith("So the total is $") and forms[2].endswith(".00.")
    assert forms[3].startswith("The final answer is \\boxed{")
    for index, reply in enumerate(replies):
        right = float(_extract(reply)) == float(responder.expected[index])
        assert right == (index not in responder.wrong_indices), reply
    assert responder.expected[0] == "18" and "18" in replies[0]


def test_gsm8k_through_the_server(
    make_loopback_server: MakeLoopbackServer,  # noqa: F811
    gsm8k_path: Path,
) -> None:
    responder = gsm8k_responder(gsm8k_path, wrong_every=3)
    server = make_loopback_server(responder=responder)
    questions = [json.loads(line)["question"] for line in gsm8k_path.open(encoding="utf-8")][:9]

    async def ask_all() -> list[str]:
        async with OpenAICompatProvider(server.base_url, None) as provider:
            results = await asyncio.gather(
                *(
                    provider.complete(
                        ChatRequest(
                            "simulated-gsm8k",
                            (Message("user", f"Solve the problem.\n\nQuestion: {q}\nAnswer:"),),
                            GenerationParams(max_tokens=2048),
                        )
                    )
                    for q in questions
                )
            )
        return [r.text for r in results]

    replies = asyncio.run(ask_all())
    wrong = {i for i, r in enumerate(replies) if float(_extract(r)) != float(responder.expected[i])}
    assert wrong == {2, 5, 8}
