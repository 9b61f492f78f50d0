"""A SIMULATED model server on 127.0.0.1: OpenAI and Anthropic APIs, no model behind them.

It serves the no-key demo, the speed self-check and the tests. What it "generates" comes
from a :data:`Responder` (``(model, messages) -> reply text``); how it answers (latency,
chunking, usage, failures) from a :class:`ServerBehavior`. Every request is logged
(:attr:`LoopbackServer.requests`) with the time each event was actually written, so tests
can compare what a client measured with what the server did.

Endpoints (one server, both dialects):

* ``POST /v1/chat/completions`` (OpenAI; ``base_url`` = :attr:`LoopbackServer.base_url`)
* ``POST /v1/messages`` (Anthropic; :attr:`LoopbackServer.anthropic_base_url`)
* ``GET /v1/models``: OpenAI's list shape, or Anthropic's when the request carries an
  ``anthropic-version`` header
* ``GET /health``

Tokens: the simulator splits text with :func:`tokenize` (a word with its leading
whitespace, a punctuation mark with its leading whitespace, or trailing whitespace). It is
not a real tokenizer, but usage always equals the number of tokens actually streamed and
the tokens always join back to the exact text, so tests can assert exact counts.

Latency: the first token is due ``ttft_s`` after the request arrived and token chunk *i*
at ``ttft_s + i * itl_s``. Deadlines are absolute, so ``asyncio.sleep`` overshoot (~1.5 ms
here) does not accumulate over a long reply.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

#: Model ids the simulator serves by default; any id containing "simulated" is a fake.
DEFAULT_MODELS: tuple[str, ...] = ("simulated-echo", "simulated-gsm8k")

#: ``(model, messages) -> reply text``. ``messages`` are ``{"role": str, "content": str}``
#: dicts in request order; an Anthropic top-level ``system`` comes first as a system message.
Responder = Callable[[str, list[dict[str, Any]]], str]

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_STARTUP_TIMEOUT_S = 10.0


def tokenize(text: str) -> list[str]:
    """The simulator's tokens: ``"".join(tokenize(t)) == t`` for every string ``t``."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    return len(tokenize(text))


# --------------------------------------------------------------------------------------
# Responders


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def echo_responder(model: str, messages: list[dict[str, Any]]) -> str:
    """Replies with the last user message, unchanged."""
    return last_user_text(messages)


def _normalize(text: str) -> str:
    return " ".join(text.split())


class LookupResponder:
    """Answers a prompt whose last user message contains a known key; else ``default``.

    Keys are compared with whitespace collapsed. The last user message may wrap the key in
    instructions or few-shot examples: an exact match or a whole paragraph match is tried
    first, then the longest key contained anywhere in the message.
    """

    def __init__(self, mapping: Mapping[str, str], default: str) -> None:
        self._answers = {_normalize(key): value for key, value in mapping.items() if key}
        self._by_length = sorted(self._answers, key=len, reverse=True)
        self.default = default
        self._lock = threading.Lock()
        self._cache: dict[str, str | None] = {}

    def match(self, text: str) -> str | None:
        """The key found in ``text``, or None."""
        with self._lock:
            if text in self._cache:
                return self._cache[text]
        found = self._match(text)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[text] = found
        return found

    def _match(self, text: str) -> str | None:
        whole = _normalize(text)
        if whole in self._answers:
            return whole
        for paragraph in reversed(re.split(r"\n\s*\n", text)):
            candidate = _normalize(paragraph)
            for prefix in ("Question:", "Q:", "Problem:"):
                candidate = candidate.removeprefix(prefix).strip()
            if candidate in self._answers:
                return candidate
        return next((key for key in self._by_length if key in whole), None)

    def __call__(self, model: str, messages: list[dict[str, Any]]) -> str:
        key = self.match(last_user_text(messages))
        return self.default if key is None else self._answers[key]


def lookup_responder(mapping: Mapping[str, str], default: str) -> LookupResponder:
    """A responder that answers the questions in ``mapping`` (see :class:`LookupResponder`)."""
    return LookupResponder(mapping, default)


class GSM8KResponder(LookupResponder):
    """Answers GSM8K questions like a decent model: right, except a deterministic subset.

    Sample ``i`` (0-based line of the JSONL file) is answered wrongly when ``wrong_every``
    is positive and ``(i + 1) % wrong_every == 0``; the wrong answer is the right one
    plus one. Answers rotate through the forms real models use: "The answer is 1,234.",
    "#### 18", "$18.00" and "\\boxed{18}", each after the worked solution.
    """

    def __init__(self, rows: Iterable[tuple[str, str]], wrong_every: int = 0) -> None:
        mapping: dict[str, str] = {}
        self.expected: dict[int, str] = {}
        self.wrong_indices: frozenset[int]
        wrong: set[int] = set()
        for index, (question, solution) in enumerate(rows):
            work, _, final = solution.rpartition("####")
            answer = final.strip().replace(",", "")
            self.expected[index] = answer
            is_wrong = wrong_every > 0 and (index + 1) % wrong_every == 0
            if is_wrong:
                wrong.add(index)
            mapping[question] = _gsm8k_reply(index, work, answer, wrong=is_wrong)
        self.wrong_indices = frozenset(wrong)
        super().__init__(
            mapping,
            default="I am a simulated model and do not know this question. The answer is 0.",
        )


def _gsm8k_reply(index: int, work: str, answer: str, *, wrong: bool) -> str:
    work = re.sub(r"<<[^>]*>>", "", work).strip()
    try:
        value = float(answer)
    except ValueError:
        return f"{work}\nThe answer is {answer}."
    if wrong:
        value += 1
    integral = value.is_integer()
    plain = str(int(value)) if integral else f"{value:g}"
    grouped = f"{int(value):,}" if integral else plain
    form = index % 4
    if form == 0 or (form == 2 and value < 0):
        final = f"The answer is {grouped}."
    elif form == 1:
        final = f"#### {plain}"
    elif form == 2:
        final = f"So the total is ${value:,.2f}."
    else:
        final = f"The final answer is \\boxed{{{plain}}}."
    return f"{work}\n{final}" if work else final


def gsm8k_responder(dataset_path: str | Path, wrong_every: int = 0) -> GSM8KResponder:
    """A :class:`GSM8KResponder` for a GSM8K JSONL file (``question`` / ``answer`` fields)."""
    rows: list[tuple[str, str]] = []
    with Path(dataset_path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                rows.append((str(item["question"]), str(item["answer"])))
    return GSM8KResponder(rows, wrong_every=wrong_every)


# --------------------------------------------------------------------------------------
# Behaviour and the request log


@dataclass(frozen=True, slots=True)
class ServerBehavior:
    """How the simulated server answers. Event indices count the SSE data events of a
    streamed reply from 0 (for OpenAI: role chunk, token chunks, finish chunk, usage
    chunk; ``[DONE]`` has index ``len(events)`` for ``cut_stream_at`` only)."""

    require_api_key: str | None = None  # 401 unless the request carries exactly this key
    echo_api_key_in_errors: bool = False  # a careless server: quote the key in its 401
    include_usage: bool = True  # report usage (streams: only if the client asked for it)
    tokens_per_chunk: int = 1
    ttft_s: float = 0.0  # request arrival -> first token chunk
    itl_s: float = 0.0  # between token chunks
    reasoning_prefix: str | None = None  # streamed as reasoning before the reply
    reasoning_field: str = "reasoning_content"  # OpenAI delta field: or "reasoning"
    known_models: tuple[str, ...] | None = DEFAULT_MODELS  # None: accept any model id
    stream_ignores_flag: bool = False  # answer stream requests with one JSON body
    reject_stream_options: bool = False  # 400 when stream_options is sent (old servers)
    reject_max_tokens: bool = False  # 400 for max_tokens, as OpenAI's reasoning models do
    fail_with_status: int | None = None  # answer every completion with this status
    retry_after: str | None = None  # Retry-After header value sent with the failure
    malformed_chunk_at: int | None = None  # send invalid JSON as this event
    cut_stream_at: int | None = None  # stop before this event ...
    cut_stream_cleanly: bool = False  # ... by ending the body (else: drop the connection)
    error_event_at: int | None = None  # send an in-stream error as this event, then end
    error_event_type: str = "overloaded_error"  # its type (Anthropic error types)
    # > 0: the faults above (fail_with_status, malformed/cut/error events) hit only the
    # first N requests for each prompt; retries after that are answered normally, as a
    # transient fault would be.
    faults_per_prompt: int = 0


@dataclass(slots=True)
class ReceivedRequest:
    """One request as the server saw and answered it (credentials are never stored)."""

    api: str  # "openai" | "anthropic" | "other"
    method: str
    path: str
    headers: dict[str, str]  # lower-case names; credential values replaced
    body: Any
    received_ns: int  # time.monotonic_ns(): comparable with a client in this process
    api_key_sent: bool = False
    client: str | None = None  # "host:port" of the client's connection (keep-alive checks)
    model: str | None = None
    stream: bool = False
    status: int = 200
    prompt_tokens: int = 0
    completion_tokens: int = 0  # reasoning + content tokens streamed (or returned)
    token_chunks: int = 0  # chunks that carried tokens
    events_sent: int = 0  # SSE data events written (excluding [DONE])
    event_sent_ns: list[int] = field(default_factory=list)  # when each event was written
    first_token_sent_ns: int | None = None
    usage_sent: bool = False
    completed: bool = False  # the reply was sent to its end (not cut, failed or dropped)

    @property
    def sent_offsets_s(self) -> list[float]:
        """When each event was written, in seconds after the request arrived."""
        return [(t - self.received_ns) / 1e9 for t in self.event_sent_ns]


_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key")


@dataclass(frozen=True, slots=True)
class _Piece:
    kind: str  # "r" reasoning | "c" content
    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class _Plan:
    """A reply cut into chunks: what a real server would stream."""

    chunks: tuple[_Piece, ...]
    reasoning: str
    content: str
    finish_reason: str  # "stop" | "length"
    completion_tokens: int


def _plan(reply: str, behavior: ServerBehavior, max_tokens: int | None) -> _Plan:
    per_chunk = max(1, behavior.tokens_per_chunk)
    tokens = [("r", t) for t in tokenize(behavior.reasoning_prefix or "")]
    tokens += [("c", t) for t in tokenize(reply)]
    finish = "stop"
    if max_tokens is not None and max_tokens >= 0 and len(tokens) > max_tokens:
        tokens, finish = tokens[:max_tokens], "length"
    chunks: list[_Piece] = []
    for kind, group in itertools.groupby(tokens, key=lambda pair: pair[0]):
        texts = [text for _, text in group]
        for start in range(0, len(texts), per_chunk):
            part = texts[start : start + per_chunk]
            chunks.append(_Piece(kind, "".join(part), len(part)))
    return _Plan(
        chunks=tuple(chunks),
        reasoning="".join(t for k, t in tokens if k == "r"),
        content="".join(t for k, t in tokens if k == "c"),
        finish_reason=finish,
        completion_tokens=len(tokens),
    )


async def _sleep_until(deadline_ns: int) -> None:
    """Sleep until a monotonic deadline; always yields, so a stream written without delay
    still lets the loop notice a client that went away (rather than writing into a closed
    socket)."""
    delay = (deadline_ns - time.monotonic_ns()) / 1e9
    await asyncio.sleep(max(0.0, delay))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", None)
        )
    return ""


# --------------------------------------------------------------------------------------
# Streaming response with full control over the end of the body


@dataclass(frozen=True, slots=True)
class _Event:
    due_ns: int
    data: bytes
    on_send: Callable[[ReceivedRequest, int], None] | None = None


class _EventStream(Response):
    """An SSE body written on schedule; can end cleanly, be cut, or drop the connection.

    Unlike starlette's ``StreamingResponse`` it can return without completing the body,
    which makes uvicorn close the connection mid-stream (a realistic crash) and log one
    "ASGI callable returned without completing response." line.
    """

    def __init__(
        self,
        events: list[_Event],
        trailer: bytes,
        malformed: bytes,
        error_event: bytes,
        record: ReceivedRequest,
        behavior: ServerBehavior,
    ) -> None:
        # No super().__init__(): it would declare "content-length: 0" for the empty body.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
        ]
        self._events = events
        self._trailer = trailer
        self._malformed = malformed
        self._error_event = error_event
        self._record = record
        self._behavior = behavior

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_wait_for_disconnect(receive))
        done, pending = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pump in done:
            pump.result()

    async def _pump(self, send: Send) -> None:
        # The record is updated just before each write, so a client that has read an
        # event (or the end of the body) always finds it logged.
        behavior, record = self._behavior, self._record
        cut_at = behavior.cut_stream_at
        for index, event in enumerate(self._events):
            if cut_at is not None and index >= cut_at:
                await self._cut(send)
                return
            await _sleep_until(event.due_ns)
            sent = time.monotonic_ns()
            record.event_sent_ns.append(sent)
            record.events_sent += 1
            if behavior.error_event_at == index:
                body = self._error_event
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            if event.on_send is not None:
                event.on_send(record, sent)
            data = self._malformed if behavior.malformed_chunk_at == index else event.data
            await send({"type": "http.response.body", "body": data, "more_body": True})
        if cut_at is not None and cut_at <= len(self._events):
            await self._cut(send)
            return
        record.completed = True
        await send({"type": "http.response.body", "body": self._trailer, "more_body": False})

    async def _cut(self, send: Send) -> None:
        if self._behavior.cut_stream_cleanly:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        # else: return with the body incomplete; uvicorn drops the connection.


async def _wait_unless_disconnected(request: Request, deadline_ns: int) -> bool:
    """Sleep until ``deadline_ns``; False if the client went away first (a timeout)."""
    if deadline_ns <= time.monotonic_ns():
        return True
    sleeper = asyncio.ensure_future(_sleep_until(deadline_ns))
    watcher = asyncio.ensure_future(_wait_for_disconnect(request.receive))
    done, pending = await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return sleeper in done


def _client_gone(record: ReceivedRequest) -> Response:
    """What to 'send' to a client that disconnected: nothing reaches it anyway."""
    record.status = 499  # nginx's "client closed request"
    return Response(status_code=499)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


# --------------------------------------------------------------------------------------
# The server


class _UvicornServer(uvicorn.Server):
    """uvicorn's server, noticing ``should_exit`` within 5 ms instead of 100 ms.

    Tests start and stop many servers; this makes :meth:`LoopbackServer.stop` take ~0.1 s
    instead of ~0.17 s. ``on_tick`` still runs every 100 ms, as in uvicorn.
    """

    async def main_loop(self) -> None:
        ticks = 0
        if await self.on_tick(ticks):
            return
        polls = 0
        while not self.should_exit:
            await asyncio.sleep(0.005)
            polls += 1
            if polls % 20 == 0:
                ticks = (ticks + 1) % 864_000
                if await self.on_tick(ticks):
                    return


class LoopbackServer:
    """The simulated model server, run by uvicorn in a background thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``behavior`` and
    ``responder`` may be replaced while it runs; each request reads them when it arrives.
    """

    def __init__(
        self,
        behavior: ServerBehavior | None = None,
        responder: Responder | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_logged_requests: int = 10_000,
    ) -> None:
        self.behavior = behavior or ServerBehavior()
        self.responder: Responder = responder or echo_responder
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: deque[ReceivedRequest] = deque(maxlen=max_logged_requests)
        self._counts: Counter[str] = Counter()
        self._prompt_seen: Counter[str] = Counter()
        self._ids = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        config = uvicorn.Config(
            self._build_app(),
            host=self.host,
            port=self._requested_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            log_config=None,  # leave the application's logging configuration alone
        )
        server = _UvicornServer(config)
        thread = threading.Thread(target=server.run, name="openbench-loopback", daemon=True)
        thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout=1.0)
                raise RuntimeError(
                    f"The loopback model server could not start on {self.host}:"
                    f"{self._requested_port} (port in use or not allowed?)."
                )
            time.sleep(0.001)
        self._port = int(server.servers[0].sockets[0].getsockname()[1])
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving; in-flight requests are abandoned (their connections dropped)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True  # do not wait for stalled simulated replies
        thread.join(timeout=5.0)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("The loopback server has not been started.")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, ending in ``/v1``."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic base URL (the host; the client adds ``/v1/messages``)."""
        return self.url

    # -- the request log ---------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of the logged requests, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def last_request(self) -> ReceivedRequest:
        with self._lock:
            if not self._log:
                raise LookupError("The loopback server has received no request.")
            return self._log[-1]

    def request_count(self, path: str | None = None) -> int:
        """Requests received in total or on ``path`` (e.g. ``/v1/chat/completions``)."""
        with self._lock:
            return self._counts.total() if path is None else self._counts[path]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()
            self._counts.clear()

    def reset(
        self, behavior: ServerBehavior | None = None, responder: Responder | None = None
    ) -> None:
        """Default (or given) behaviour and responder, and an empty log."""
        self.behavior = behavior or ServerBehavior()
        self.responder = responder or echo_responder
        self.clear_requests()

    async def _receive(self, request: Request, api: str) -> ReceivedRequest:
        received = time.monotonic_ns()
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        headers = {
            name: ("<redacted>" if name in _CREDENTIAL_HEADERS else value)
            for name, value in request.headers.items()
        }
        record = ReceivedRequest(
            api=api,
            method=request.method,
            path=request.url.path,
            headers=headers,
            body=body,
            received_ns=received,
            api_key_sent=_sent_key(request) is not None,
            client=f"{request.client.host}:{request.client.port}" if request.client else None,
        )
        if isinstance(body, dict):
            record.model = str(body["model"]) if body.get("model") is not None else None
            record.stream = bool(body.get("stream"))
        with self._lock:
            self._log.append(record)
            self._counts[record.path] += 1
        return record

    # -- the app -----------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        routes = [
            Route("/v1/chat/completions", self._openai_chat, methods=["POST"]),
            Route("/v1/messages", self._anthropic_messages, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/health", self._health, methods=["GET"]),
            Route(
                "/{path:path}",
                self._not_found,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            ),
        ]
        return Starlette(routes=routes)

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok (simulated model server)")

    async def _not_found(self, request: Request) -> Response:
        record = await self._receive(request, "other")
        record.status = 404
        return PlainTextResponse("Not Found", status_code=404)

    async def _models(self, request: Request) -> Response:
        anthropic = "anthropic-version" in request.headers
        record = await self._receive(request, "anthropic" if anthropic else "openai")
        behavior = self.behavior
        denied = self._check_key(request, behavior, record, anthropic=anthropic)
        if denied is not None:
            return denied
        models = list(behavior.known_models or DEFAULT_MODELS)
        record.completed = True
        if anthropic:
            return JSONResponse(
                {
                    "data": [
                        {
                            "type": "model",
                            "id": model,
                            "display_name": f"{model} (simulated)",
                            "created_at": "2025-01-01T00:00:00Z",
                        }
                        for model in models
                    ],
                    "has_more": False,
                    "first_id": models[0] if models else None,
                    "last_id": models[-1] if models else None,
                }
            )
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": model, "object": "model", "created": 0, "owned_by": "openbench-loopback"}
                    for model in models
                ],
            }
        )

    def _check_key(
        self,
        request: Request,
        behavior: ServerBehavior,
        record: ReceivedRequest,
        *,
        anthropic: bool,
    ) -> Response | None:
        if behavior.require_api_key is None:
            return None
        sent = _sent_key(request)
        if sent == behavior.require_api_key:
            return None
        record.status = 401
        if sent is None:
            message = "No API key provided." + (
                " Send it in the x-api-key header." if anthropic else " Use a Bearer token."
            )
        elif behavior.echo_api_key_in_errors:
            message = f"Incorrect API key provided: {sent}."
        else:
            message = "Incorrect API key provided."
        return _error_response(401, message, anthropic=anthropic)

    def _transient(self, record: ReceivedRequest, behavior: ServerBehavior) -> ServerBehavior:
        """The behaviour for this request once ``faults_per_prompt`` is applied."""
        if behavior.faults_per_prompt <= 0:
            return behavior
        messages = record.body.get("messages") if isinstance(record.body, dict) else None
        key = json.dumps(messages, sort_keys=True, default=str)
        with self._lock:
            self._prompt_seen[key] += 1
            seen = self._prompt_seen[key]
        if seen <= behavior.faults_per_prompt:
            return behavior
        return replace(
            behavior,
            fail_with_status=None,
            malformed_chunk_at=None,
            cut_stream_at=None,
            error_event_at=None,
        )

    def _common_checks(
        self,
        request: Request,
        record: ReceivedRequest,
        behavior: ServerBehavior,
        *,
        anthropic: bool,
    ) -> Response | None:
        denied = self._check_key(request, behavior, record, anthropic=anthropic)
        if denied is not None:
            return denied
        body = record.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            record.status = 400
            return _error_response(
                400, "The request body must be a JSON object with 'messages'.", anthropic=anthropic
            )
        if behavior.fail_with_status is not None:
            record.status = behavior.fail_with_status
            headers = {"retry-after": behavior.retry_after} if behavior.retry_after else None
            return _error_response(
                behavior.fail_with_status, None, anthropic=anthropic, headers=headers
            )
        model = record.model or ""
        if behavior.known_models is not None and model not in behavior.known_models:
            record.status = 404
            if anthropic:
                return _error_response(404, f"model: {model}", anthropic=True)
            return JSONResponse(
                {
                    "error": {
                        "message": f"The model `{model}` does not exist or you do not have "
                        "access to it.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "model_not_found",
                    }
                },
                status_code=404,
            )
        return None

    # OpenAI ---------------------------------------------------------------------------

    async def _openai_chat(self, request: Request) -> Response:
        record = await self._receive(request, "openai")
        behavior, responder = self._transient(record, self.behavior), self.responder
        refused = self._common_checks(request, record, behavior, anthropic=False)
        if refused is not None:
            return refused
        body: dict[str, Any] = record.body
        if record.stream and behavior.reject_stream_options and "stream_options" in body:
            record.status = 400
            return _error_response(400, "Unsupported param: stream_options", anthropic=False)
        if behavior.reject_max_tokens and "max_tokens" in body:
            record.status = 400
            return _error_response(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                anthropic=False,
            )
        messages = [
            {"role": str(m.get("role")), "content": _content_text(m.get("content"))}
            for m in body["messages"]
            if isinstance(m, dict)
        ]
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        plan = _plan(responder(record.model or "", messages), behavior, _int_or_none(max_tokens))
        record.prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
        record.completion_tokens = plan.completion_tokens
        usage = {
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": plan.completion_tokens,
            "total_tokens": record.prompt_tokens + plan.completion_tokens,
        }
        ident = f"chatcmpl-sim{next(self._ids)}"
        created = int(time.time())
        first_due = record.received_ns + round(behavior.ttft_s * 1e9)
        itl_ns = round(behavior.itl_s * 1e9)

        if not record.stream or behavior.stream_ignores_flag:
            due_ns = first_due + itl_ns * max(0, len(plan.chunks) - 1)
            if not await _wait_unless_disconnected(request, due_ns):
                return _client_gone(record)
            message: dict[str, Any] = {"role": "assistant", "content": plan.content}
            if plan.reasoning:
                message[behavior.reasoning_field] = plan.reasoning
            reply: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": record.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": plan.finish_reason,
                    }
                ],
            }
            if behavior.include_usage:
                reply["usage"] = usage
                record.usage_sent = True
            record.token_chunks = 1 if plan.chunks else 0
            record.completed = True
            return JSONResponse(reply)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": record.model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return _sse(payload)

        events = [_Event(record.received_ns, chunk({"role": "assistant", "content": ""}))]
        due = first_due
        for number, piece in enumerate(plan.chunks):
            due = first_due + number * itl_ns
            field_name = "content" if piece.kind == "c" else behavior.reasoning_field
            events.append(_Event(due, chunk({field_name: piece.text}), _token_sent))
        events.append(_Event(due, chunk({}, plan.finish_reason)))
        options = body.get("stream_options")
        if behavior.include_usage and isinstance(options, dict) and options.get("include_usage"):
            usage_chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": record.model,
                "choices": [],
                "usage": usage,
            }
            events.append(_Event(due, _sse(usage_chunk), _usage_sent))
        malformed = b'data: {"id": "' + ident.encode() + b'", "choices": [{"delta": {"con\n\n'
        error = _sse(
            {
                "error": {
                    "message": f"Simulated {behavior.error_event_type} during generation.",
                    "type": behavior.error_event_type,
                    "param": None,
                    "code": None,
                }
            }
        )
        return _EventStream(events, b"data: [DONE]\n\n", malformed, error, record, behavior)

    # Anthropic ------------------------------------------------------------------------

    async def _anthropic_messages(self, request: Request) -> Response:
        record = await self._receive(request, "anthropic")
        behavior, responder = self._transient(record, self.behavior), self.responder
        refused = self._common_checks(request, record, behavior, anthropic=True)
        if refused is not None:
            return refused
        body: dict[str, Any] = record.body
        max_tokens = _int_or_none(body.get("max_tokens"))
        if max_tokens is None:
            record.status = 400
            return _error_response(400, "max_tokens: Field required", anthropic=True)
        messages = [
            {"role": str(m.get("role")), "content": _content_text(m.get("content"))}
            for m in body["messages"]
            if isinstance(m, dict)
        ]
        system = _content_text(body.get("system"))
        if system:
            messages.insert(0, {"role": "system", "content": system})
        plan = _plan(responder(record.model or "", messages), behavior, max_tokens)
        record.prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
        record.completion_tokens = plan.completion_tokens
        stop_reason = "max_tokens" if plan.finish_reason == "length" else "end_turn"
        ident = f"msg_sim{next(self._ids)}"
        first_due = record.received_ns + round(behavior.ttft_s * 1e9)
        itl_ns = round(behavior.itl_s * 1e9)

        if not record.stream or behavior.stream_ignores_flag:
            due_ns = first_due + itl_ns * max(0, len(plan.chunks) - 1)
            if not await _wait_unless_disconnected(request, due_ns):
                return _client_gone(record)
            content: list[dict[str, Any]] = []
            if plan.reasoning:
                content.append(
                    {"type": "thinking", "thinking": plan.reasoning, "signature": "simulated"}
                )
            content.append({"type": "text", "text": plan.content})
            reply: dict[str, Any] = {
                "id": ident,
                "type": "message",
                "role": "assistant",
                "model": record.model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
            }
            if behavior.include_usage:
                reply["usage"] = {
                    "input_tokens": record.prompt_tokens,
                    "output_tokens": plan.completion_tokens,
                }
                record.usage_sent = True
            record.token_chunks = 1 if plan.chunks else 0
            record.completed = True
            return JSONResponse(reply)

        start_usage = (
            {"usage": {"input_tokens": record.prompt_tokens, "output_tokens": 0}}
            if behavior.include_usage
            else {}
        )
        events = [
            _Event(
                record.received_ns,
                _sse(
                    {
                        "type": "message_start",
                        "message": {
                            "id": ident,
                            "type": "message",
                            "role": "assistant",
                            "model": record.model,
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            **start_usage,
                        },
                    },
                    event="message_start",
                ),
            )
        ]
        block = -1
        kind: str | None = None
        due = first_due
        ping_sent = False
        for number, piece in enumerate(plan.chunks):
            due = first_due + number * itl_ns
            if piece.kind != kind:
                if kind is not None:
                    events.append(_Event(due, _block_stop(block)))
                block, kind = block + 1, piece.kind
                start_block = (
                    {"type": "thinking", "thinking": ""}
                    if kind == "r"
                    else {"type": "text", "text": ""}
                )
                # A new block opens when its first delta is due (the first one at once).
                opened_at = record.received_ns if number == 0 else due
                events.append(
                    _Event(
                        opened_at,
                        _sse(
                            {
                                "type": "content_block_start",
                                "index": block,
                                "content_block": start_block,
                            },
                            event="content_block_start",
                        ),
                    )
                )
                if not ping_sent:
                    events.append(_Event(opened_at, _sse({"type": "ping"}, event="ping")))
                    ping_sent = True
            delta = (
                {"type": "thinking_delta", "thinking": piece.text}
                if piece.kind == "r"
                else {"type": "text_delta", "text": piece.text}
            )
            events.append(
                _Event(
                    due,
                    _sse(
                        {"type": "content_block_delta", "index": block, "delta": delta},
                        event="content_block_delta",
                    ),
                    _token_sent,
                )
            )
        if kind is not None:
            events.append(_Event(due, _block_stop(block)))
        delta_usage = (
            {"usage": {"output_tokens": plan.completion_tokens}} if behavior.include_usage else {}
        )
        events.append(
            _Event(
                due,
                _sse(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                        **delta_usage,
                    },
                    event="message_delta",
                ),
                _usage_sent if behavior.include_usage else None,
            )
        )
        events.append(_Event(due, _sse({"type": "message_stop"}, event="message_stop")))
        malformed = b'event: content_block_delta\ndata: {"type": "content_block_delta", "de\n\n'
        error = _sse(
            {
                "type": "error",
                "error": {
                    "type": behavior.error_event_type,
                    "message": f"Simulated {behavior.error_event_type} during generation.",
                },
            },
            event="error",
        )
        return _EventStream(events, b"", malformed, error, record, behavior)


def _token_sent(record: ReceivedRequest, sent_ns: int) -> None:
    record.token_chunks += 1
    if record.first_token_sent_ns is None:
        record.first_token_sent_ns = sent_ns


def _usage_sent(record: ReceivedRequest, sent_ns: int) -> None:
    record.usage_sent = True


def _block_stop(index: int) -> bytes:
    return _sse({"type": "content_block_stop", "index": index}, event="content_block_stop")


def _sse(payload: Mapping[str, Any], *, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sent_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Invalid API key."),
    403: ("invalid_request_error", "permission_denied", "You are not allowed to do this."),
    404: ("invalid_request_error", None, "Not found."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for the simulated model. Please try again later.",
    ),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _error_response(
    status: int,
    message: str | None,
    *,
    anthropic: bool,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error body in the API's own dialect (``message`` None: a stock one)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Overloaded" if status == 529 else "Error"
    if anthropic:
        kind = _ANTHROPIC_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": kind, "message": message or f"{phrase} (simulated)."},
        }
    else:
        kind, code, stock = _OPENAI_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, phrase)
        )
        body = {"error": {"message": message or stock, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))
