"""A streaming HTTP/1.1 client built for measuring, for OpenAI-compatible chat endpoints.

Why not httpx (which quality runs use)? Every streamed chunk costs httpx + httpx-sse tens
of microseconds of Python before the application sees it. At 64 concurrent streams that
queues chunks behind each other on the event loop, and a timestamp taken after decoding
reads late (a bare httpx loop read TTFT ~17 ms high at concurrency 64 on a 2-core VM).
This client keeps the receiving path minimal:

* each connection is an :class:`asyncio.Protocol`; ``data_received`` takes
  ``time.monotonic_ns()`` **first**, then only de-chunks the HTTP body (a few slices) and
  appends ``(arrival_ns, bytes)``; no SSE or JSON parsing happens while streaming;
* the request body is serialised before the send timestamp is taken, the request is one
  ``transport.write``;
* the SSE events and their JSON are parsed once the body has ended
  (:func:`parse_stream`): an event's arrival time is that of the read that delivered its
  last byte (its terminating blank line), exactly when a streaming parser could have
  handed it to an application.

It speaks only what a speed run needs: ``POST {base_url}/chat/completions`` with
``stream: true`` over keep-alive connections (http or https, no proxy). Every failure is a
:class:`~openbench_desktop.core.providers.base.ProviderError` with the same categories and
wording as the regular provider (closed mid-stream, malformed SSE, no ``[DONE]``, a plain
JSON reply to a streaming request, HTTP errors, timeouts).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import re
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from openbench_desktop import __version__
from openbench_desktop.core.domain import ChunkKind, ErrorCategory
from openbench_desktop.core.providers.base import ProviderError
from openbench_desktop.core.providers.http import (
    CONNECT_TIMEOUT_S,
    DRAIN_AFTER_END_S,
    STREAMING_GOT_JSON_MESSAGE,
    category_for_error_type,
    error_from_status,
    incomplete_stream_error,
    make_error,
    malformed_chunk_error,
    normalize_base_url,
    origin_of,
    says_unsupported,
    server_error_text,
    truncate,
)

_BASE_URL_HINT = "for OpenAI-compatible servers it usually ends in /v1"
_LINE_RE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")
_MAX_HEAD = 64 * 1024
#: An idle connection older than this is not reused (servers close them after ~5 s).
IDLE_REUSE_NS = 4_000_000_000


# --------------------------------------------------------------------------------------
# What one exchange delivered


@dataclass(slots=True)
class RawExchange:
    """The bytes of one response and when they arrived; filled on the receiving path."""

    sent_ns: int = 0  # time.monotonic_ns() just before the request was written
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    pieces: list[tuple[int, bytes]] = field(default_factory=list)  # (arrival_ns, body bytes)
    end_ns: int | None = None  # when the body ended (None: it did not end properly)
    lost: BaseException | None = None  # the connection dropped before the body ended
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class ParsedStream:
    """A streamed reply, decoded. Offsets are ns after ``sent_ns``."""

    text: str
    reasoning: str
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    usage_reported: bool
    chunk_offsets_ns: tuple[int, ...]
    chunk_chars: tuple[int, ...]
    chunk_kinds: str
    # Indices of chunks without a non-empty ``choices`` list (a usage-only last chunk):
    # the vLLM definitions count only chunks *with* choices.
    no_choice_chunks: tuple[int, ...]
    end_offset_ns: int
    done_seen: bool


# --------------------------------------------------------------------------------------
# The connection


class _Connection(asyncio.Protocol):
    """One keep-alive connection; serves one exchange at a time."""

    __slots__ = (
        "_body_left",
        "_chunk_left",
        "_done_future",
        "_drain_handle",
        "_framing",
        "_head",
        "_line",
        "_skip",
        "_state",
        "exchange",
        "last_activity_ns",
        "reusable",
        "transport",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.exchange: RawExchange | None = None
        self.reusable = True
        self.last_activity_ns = time.monotonic_ns()
        self._done_future: asyncio.Future[None] | None = None
        self._drain_handle: asyncio.TimerHandle | None = None
        self._reset()

    def _reset(self) -> None:
        self._state = 0  # 0 head, 1 body, 2 done
        self._head = b""
        self._framing = ""  # "chunked" | "length" | "close"
        self._body_left = 0
        self._chunk_left = 0
        self._skip = 0
        self._line = b""

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()  # first: the arrival time of these bytes
        self.last_activity_ns = now
        exchange = self.exchange
        if exchange is None or self._state == 2:
            self.reusable = False  # bytes nobody asked for: do not trust this connection
            return
        if self._state == 0:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > _MAX_HEAD:
                    self._fail(ValueError("response head too large"))
                return
            rest = self._head[end + 4 :]
            self._parse_head(exchange, self._head[:end])
            self._state = 1
            if self._framing == "length" and self._body_left == 0:
                self._finish(now)
                return
            data = rest
            if not data:
                return
        if self._framing == "chunked":
            self._dechunk(now, data)
        elif self._framing == "length":
            take = data[: self._body_left]
            exchange.pieces.append((now, take))
            self._body_left -= len(take)
            if len(take) < len(data):
                self.reusable = False
            if self._body_left == 0:
                self._finish(now)
        else:
            exchange.pieces.append((now, data))
        if b"[DONE]" in data and self._state == 1:
            self._arm_drain()

    def eof_received(self) -> bool | None:
        self.reusable = False
        if self.exchange is not None and self._state == 1 and self._framing == "close":
            self._finish(time.monotonic_ns())
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self.exchange is not None and self._state != 2:
            self._fail(exc or ConnectionResetError("the server closed the connection"))

    # -- framing -----------------------------------------------------------------------

    def _parse_head(self, exchange: RawExchange, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            exchange.status = int(parts[1])
        except (IndexError, ValueError):
            exchange.status = 0
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        exchange.headers = headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._framing = "chunked"
        elif "content-length" in headers:
            self._framing = "length"
            try:
                self._body_left = int(headers["content-length"])
            except ValueError:
                self._framing, self.reusable = "close", False
        else:
            self._framing, self.reusable = "close", False
        if headers.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0":
            self.reusable = False

    def _dechunk(self, now: int, data: bytes) -> None:
        pieces = self.exchange.pieces  # type: ignore[union-attr]
        pos, n = 0, len(data)
        while pos < n:
            if self._chunk_left:
                take = min(self._chunk_left, n - pos)
                pieces.append((now, data[pos : pos + take]))
                self._chunk_left -= take
                pos += take
                if not self._chunk_left:
                    self._skip = 2  # the CRLF after the chunk's data
            elif self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
            else:
                end = data.find(b"\r\n", pos)
                if end < 0:
                    self._line += data[pos:]
                    return
                line, self._line = self._line + data[pos:end], b""
                pos = end + 2
                try:
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    self._fail(ValueError(f"bad chunk size line {line[:40]!r}"))
                    return
                if size == 0:
                    # The last chunk. Trailers are not expected on SSE; if any bytes
                    # follow the final CRLF the connection is not reused.
                    if data[pos:] not in (b"", b"\r\n"):
                        self.reusable = False
                    self._finish(now)
                    return
                self._chunk_left = size

    def _arm_drain(self) -> None:
        # The end marker arrived; a server that then keeps the body open is not waited
        # for longer than DRAIN_AFTER_END_S (as the regular provider does).
        if self._drain_handle is None:
            loop = asyncio.get_running_loop()
            self._drain_handle = loop.call_later(DRAIN_AFTER_END_S, self._drain_expired)

    def _drain_expired(self) -> None:
        self._drain_handle = None
        if self.exchange is not None and self._state == 1:
            self.reusable = False
            self._finish(time.monotonic_ns())
            if self.transport is not None:
                self.transport.close()

    def _finish(self, now: int) -> None:
        self._state = 2
        if self.exchange is not None:
            self.exchange.end_ns = now
        self._resolve()

    def _fail(self, exc: BaseException) -> None:
        self.reusable = False
        if self.exchange is not None:
            self.exchange.lost = exc
        self._state = 2
        self._resolve()
        if self.transport is not None:
            self.transport.close()

    def _resolve(self) -> None:
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        future = self._done_future
        if future is not None and not future.done():
            future.set_result(None)

    # -- used by the client ------------------------------------------------------------

    def begin(self, exchange: RawExchange, future: asyncio.Future[None]) -> None:
        self._reset()
        self.exchange = exchange
        self._done_future = future
        self.last_activity_ns = time.monotonic_ns()

    def release(self) -> None:
        self.exchange = None
        self._done_future = None

    def time_out(self) -> None:
        if self.exchange is not None and self._state != 2:
            self.exchange.timed_out = True
            self._fail(TimeoutError("read timeout"))

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()


# --------------------------------------------------------------------------------------
# The client


class SpeedClient:
    """Streams chat completions over a pool of keep-alive connections (see module doc).

    One instance belongs to the event loop that first uses it. The pool grows on demand;
    :meth:`warm` opens connections ahead of a step so the first requests do not pay for
    a TCP (or TLS) handshake inside their measured latency. ``timeout_s`` bounds each
    wait for data, as in the regular provider.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 120.0,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url, strip_suffixes=("/chat/completions",))
        parts = urlsplit(self.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = f"{parts.path.rstrip('/')}/chat/completions"
        self.url = f"{self.base_url}/chat/completions"
        host_header = parts.netloc.rpartition("@")[2]
        self._api_key = api_key or None
        self.timeout_s = float(timeout_s)
        headers = {
            "Host": host_header,
            "User-Agent": f"openbench-desktop/{__version__} (speed)",
            "Accept": "text/event-stream",
            "Cache-Control": "no-store",
            "Content-Type": "application/json",
        }
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        headers.update(extra_headers or {})
        self._head_prefix = (
            f"POST {self._path} HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        ).encode("latin-1")
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        # Learned from the server, as the regular provider does: fields it rejects.
        self.send_stream_options = True
        self.send_ignore_eos = True
        self.max_tokens_field = "max_tokens"
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"SpeedClient(base_url={self.base_url!r})"

    @property
    def connections(self) -> int:
        return len(self._idle) + len(self._busy)

    # -- connections -------------------------------------------------------------------

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context() if self._https else None
        try:
            async with asyncio.timeout(min(self.timeout_s, CONNECT_TIMEOUT_S)):
                _, conn = await loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=context,
                    server_hostname=self._host if self._https else None,
                )
        except TimeoutError:
            error = make_error(
                f"Timed out after {min(self.timeout_s, CONNECT_TIMEOUT_S):g} s connecting "
                f"to {origin_of(self.url)}. Check the URL, your network, and any proxy or "
                "firewall.",
                ErrorCategory.TIMEOUT,
                secret=self._api_key,
            )
            error.connect_failed = True
            raise error from None
        except OSError as exc:
            refused = isinstance(exc, ConnectionRefusedError)
            detail = "connection refused. Is the server running and is the URL right?"
            error = make_error(
                f"Cannot connect to {origin_of(self.url)}: "
                + (detail if refused else f"{truncate(str(exc) or type(exc).__name__)}."),
                ErrorCategory.CONNECTION,
                secret=self._api_key,
            )
            error.connect_failed = True
            raise error from None
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch_timeouts())
        return conn

    def _usable(self, conn: _Connection, now_ns: int) -> bool:
        # Servers close idle keep-alive connections (uvicorn, so vLLM, after 5 s); one
        # idle for longer than IDLE_REUSE_S is not reused, so a request is not written
        # into a connection the server is closing.
        return conn.open and conn.reusable and now_ns - conn.last_activity_ns < IDLE_REUSE_NS

    def _prune_idle(self) -> None:
        now = time.monotonic_ns()
        keep = []
        for conn in self._idle:
            if self._usable(conn, now):
                keep.append(conn)
            elif conn.transport is not None:
                conn.transport.close()
        self._idle = keep

    async def _acquire(self, *, fresh: bool = False) -> tuple[_Connection, bool]:
        """A connection, and whether it came from the pool (rather than just opened)."""
        if not fresh:
            self._prune_idle()
            if self._idle:
                conn = self._idle.pop()
                self._busy.add(conn)
                return conn, True
        conn = await self._connect()
        self._busy.add(conn)
        return conn, False

    def _give_back(self, conn: _Connection) -> None:
        self._busy.discard(conn)
        conn.release()
        if conn.open and conn.reusable and not self._closed:
            self._idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    async def warm(self, n: int) -> None:
        """Have at least ``n`` open connections (idle ones are kept for later requests)."""
        self._prune_idle()
        missing = n - self.connections
        if missing > 0:
            conns = await asyncio.gather(*(self._connect() for _ in range(missing)))
            self._idle.extend(conns)

    async def _watch_timeouts(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.timeout_s / 4))
            limit = time.monotonic_ns() - int(self.timeout_s * 1e9)
            for conn in list(self._busy):
                if conn.exchange is not None and conn.last_activity_ns < limit:
                    conn.time_out()

    async def aclose(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for conn in [*self._idle, *self._busy]:
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()
        self._busy.clear()
        await asyncio.sleep(0)  # let the transports finish closing

    # -- requests ----------------------------------------------------------------------

    def payload(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        ignore_eos: bool = True,
        seed: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "stream": True,
            "temperature": temperature,
            self.max_tokens_field: max_tokens,
        }
        if self.send_stream_options:
            body["stream_options"] = {"include_usage": True}
        if ignore_eos and self.send_ignore_eos:
            body["ignore_eos"] = True
        if seed is not None:
            body["seed"] = seed
        return body

    async def exchange(
        self, body: bytes, *, request_id: str | None = None
    ) -> tuple[RawExchange, float]:
        """Send one request; the raw reply and the ms spent getting a connection.

        Never raises for HTTP or stream problems (the caller parses the exchange); raises
        ProviderError only when no connection could be made.
        """
        head = self._head_prefix
        if request_id:
            head += f"x-request-id: {request_id}\r\n".encode("latin-1")
        data = head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        before = time.monotonic_ns()
        fresh = False
        while True:
            conn, pooled = await self._acquire(fresh=fresh)
            connect_ms = (time.monotonic_ns() - before) / 1e6
            exchange = RawExchange()
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            conn.begin(exchange, future)
            try:
                exchange.sent_ns = time.monotonic_ns()
                conn.transport.write(data)  # type: ignore[union-attr]
                await future
            finally:
                self._give_back(conn)
            # A pooled connection the server closed before answering anything: the
            # request never reached a handler. Send it once more on a new connection
            # (speed requests have no side effects), as browsers and aiohttp do.
            stale = exchange.lost is not None and exchange.status == 0 and not exchange.pieces
            if not (stale and pooled):
                return exchange, connect_ms
            fresh = True

    async def chat(
        self, payload: dict[str, Any], *, request_id: str | None = None
    ) -> tuple[RawExchange, ParsedStream | ProviderError, float]:
        """Send ``payload`` (retrying once without a field the server rejects).

        Returns the raw exchange, what it parsed to (or the error that failed it) and
        the connection wait in ms.
        """
        retried: set[str] = set()
        while True:
            body = json.dumps(payload, separators=(",", ":")).encode()
            exchange, connect_ms = await self.exchange(body, request_id=request_id)
            outcome = self.interpret(exchange, model=str(payload.get("model") or ""))
            field_name = self._rejected_field(exchange, outcome, payload)
            if field_name is None or field_name in retried:
                return exchange, outcome, connect_ms
            retried.add(field_name)
            payload = dict(payload)
            if field_name == "stream_options":
                self.send_stream_options = False
                payload.pop("stream_options", None)
                self.notes.append(
                    "The server rejected stream_options: token counts come only from "
                    "usage it sends unasked."
                )
            elif field_name == "ignore_eos":
                self.send_ignore_eos = False
                payload.pop("ignore_eos", None)
                self.notes.append(
                    "The server rejected ignore_eos: replies may end before max_tokens."
                )
            elif field_name == "max_tokens":
                self.max_tokens_field = "max_completion_tokens"
                payload["max_completion_tokens"] = payload.pop("max_tokens")

    def _rejected_field(
        self,
        exchange: RawExchange,
        outcome: ParsedStream | ProviderError,
        payload: Mapping[str, Any],
    ) -> str | None:
        if not isinstance(outcome, ProviderError) or exchange.status not in (400, 422):
            return None
        body = b"".join(piece for _, piece in exchange.pieces)
        for name, needle in (
            ("stream_options", "stream_options"),
            ("ignore_eos", "ignore_eos"),
            ("max_tokens", "max_completion_tokens"),
        ):
            if name in payload and says_unsupported(body, needle):
                return name
        return None

    def interpret(
        self, exchange: RawExchange, *, model: str | None = None
    ) -> ParsedStream | ProviderError:
        """The exchange as a parsed stream, or the error that makes it a failed sample."""
        secret = self._api_key
        url = self.url
        body = b"".join(piece for _, piece in exchange.pieces)
        if exchange.timed_out:
            n = _count_events(body)
            when = f"after {n} chunk(s)" if n else "before answering"
            return make_error(
                f"The server at {origin_of(url)} sent nothing for {self.timeout_s:g} s "
                f"{when} (read timeout). The model may be overloaded or still loading: raise "
                "the timeout or lower the concurrency.",
                ErrorCategory.TIMEOUT,
                secret=secret,
            )
        if exchange.status == 0 and exchange.lost is not None:
            return make_error(
                f"The connection to {origin_of(url)} was closed before the reply was "
                f"complete ({truncate(str(exchange.lost) or type(exchange.lost).__name__)}). "
                "The server may have crashed or restarted, or a proxy cut the connection.",
                ErrorCategory.CONNECTION,
                secret=secret,
            )
        if exchange.status >= 300:
            return error_from_status(
                exchange.status,
                body,
                exchange.headers,
                url=url,
                model=model,
                secret=secret,
                key_name=None,
                base_url_hint=_BASE_URL_HINT,
            )
        content_type = exchange.headers.get("content-type", "").partition(";")[0].strip()
        if content_type.lower() != "text/event-stream":
            if exchange.lost is not None and not body:
                return incomplete_stream_error(0, url=url, secret=secret)
            if "json" in content_type.lower():
                return make_error(STREAMING_GOT_JSON_MESSAGE, ErrorCategory.PARSE, secret=secret)
            return make_error(
                f"The server at {origin_of(url)} answered a streaming request with "
                f"{content_type or 'no content type'} instead of an event stream: "
                f"{truncate(body.decode('utf-8', 'replace'), 200)!r}.",
                ErrorCategory.PARSE,
                secret=secret,
            )
        try:
            parsed = parse_stream(exchange, url=url, secret=secret)
        except ProviderError as error:
            return error
        if exchange.lost is not None:
            n = len(parsed.chunk_offsets_ns)
            when = f"mid-stream after {n} chunk(s)" if n else "before the reply was complete"
            return make_error(
                f"The connection to {origin_of(url)} was closed {when} "
                f"({truncate(str(exchange.lost) or type(exchange.lost).__name__)}). The "
                "server may have crashed or restarted, or a proxy cut the connection.",
                ErrorCategory.CONNECTION,
                secret=secret,
            )
        if not parsed.done_seen and parsed.finish_reason is None:
            return incomplete_stream_error(len(parsed.chunk_offsets_ns), url=url, secret=secret)
        return parsed


# --------------------------------------------------------------------------------------
# Parsing, after the body has ended


def _count_events(body: bytes) -> int:
    return body.count(b"\n\n") + body.count(b"\r\n\r\n")


def parse_stream(
    exchange: RawExchange, *, url: str = "", secret: str | None = None
) -> ParsedStream:
    """Decode the SSE events of ``exchange`` with the arrival time of each.

    Follows the SSE rules (``data:`` lines joined by newlines, ``event:``, ``:`` comments,
    CRLF / LF / CR line ends). Every event carrying JSON is a chunk (kind ``c``, ``r`` or
    ``e`` as in :class:`ChunkKind`); ``[DONE]`` ends the stream and is not a chunk; an
    event with no data is a keep-alive chunk of kind ``e`` (as the regular provider
    records it). Raises ProviderError for malformed JSON or an in-band error event.
    """
    pieces = exchange.pieces
    body = b"".join(piece for _, piece in pieces)
    ends: list[int] = []
    total = 0
    for _, piece in pieces:
        total += len(piece)
        ends.append(total)
    started = exchange.sent_ns

    def arrival(position: int) -> int:
        # The read that delivered byte ``position`` (the event's last byte).
        return pieces[bisect.bisect_right(ends, position)][0]

    offsets: list[int] = []
    chars: list[int] = []
    kinds: list[str] = []
    no_choices: list[int] = []
    content: list[str] = []
    reasoning: list[str] = []
    finish: str | None = None
    usage: Any = None
    done_at: int | None = None
    for position, name_of_event, data in _events(body):
        arrived = arrival(position)
        if data == b"[DONE]":
            done_at = arrived
            break
        if not data:
            offsets.append(arrived - started)
            chars.append(0)
            kinds.append(ChunkKind.EMPTY.value)
            no_choices.append(len(offsets) - 1)
            continue
        try:
            chunk = json.loads(data.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError is a ValueError too
            chunk = None
        if not isinstance(chunk, dict):
            raise malformed_chunk_error(data.decode("utf-8", "replace"), url=url, secret=secret)
        if name_of_event == b"error" or (chunk.get("error") and not chunk.get("choices")):
            raise _in_band_error(chunk, url, secret)
        text, thought, reason, has_choices = _delta_of(chunk)
        if text:
            content.append(text)
        if thought:
            reasoning.append(thought)
        finish = reason or finish
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        offsets.append(arrived - started)
        chars.append(len(text) + len(thought))
        kinds.append(
            ChunkKind.CONTENT.value
            if text
            else ChunkKind.REASONING.value
            if thought
            else ChunkKind.EMPTY.value
        )
        if not has_choices:
            no_choices.append(len(offsets) - 1)
    if done_at is not None:
        end_ns = done_at
    elif exchange.end_ns is not None:
        end_ns = exchange.end_ns
    elif pieces:
        end_ns = pieces[-1][0]
    else:
        end_ns = started
    input_tokens, output_tokens, reported = _usage(usage)
    return ParsedStream(
        text="".join(content),
        reasoning="".join(reasoning),
        finish_reason=finish,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        usage_reported=reported,
        chunk_offsets_ns=tuple(offsets),
        chunk_chars=tuple(chars),
        chunk_kinds="".join(kinds),
        no_choice_chunks=tuple(no_choices),
        end_offset_ns=end_ns - started,
        done_seen=done_at is not None,
    )


def _events(body: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """``(position of the blank line ending it, event name, data)`` of every SSE event.

    Follows the SSE rules: ``data:`` lines joined by newlines, ``event:``, ``id:``/
    ``retry:`` fields, ``:`` comments, CRLF / LF / CR line ends; a block with no field
    (only comments) is no event. Most servers send ``data: {...}\\n\\n`` blocks, which
    take a fast path (no per-line work).
    """
    if b"\r" not in body:
        start = 0
        while (end := body.find(b"\n\n", start)) >= 0:
            block, start = body[start:end], end + 2
            if block.startswith(b"data: ") and b"\n" not in block:
                yield end + 1, b"", block[6:].strip()
                continue
            event = _block_event(block.split(b"\n"))
            if event is not None:
                yield end + 1, event[0], event[1]
        return
    lines: list[bytes] = []
    for match in _LINE_RE.finditer(body):
        line = match.group(1)
        if line:
            lines.append(line)
            continue
        event = _block_event(lines)
        lines = []
        if event is not None:
            yield match.start(2), event[0], event[1]


def _block_event(lines: list[bytes]) -> tuple[bytes, bytes] | None:
    data_lines: list[bytes] = []
    name = b""
    has_field = False
    for line in lines:
        if not line or line.startswith(b":"):
            continue
        field_name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if field_name == b"data":
            data_lines.append(value)
            has_field = True
        elif field_name == b"event":
            name, has_field = value, True
        elif field_name in (b"id", b"retry"):
            has_field = True
    if not has_field:
        return None
    return name, b"\n".join(data_lines).strip()


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(str(part.get("text") or "") for part in value if isinstance(part, dict))
    return ""


def _delta_of(chunk: dict[str, Any]) -> tuple[str, str, str | None, bool]:
    """``(content, reasoning, finish_reason, has_choices)`` of a chunk's first choice."""
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", "", None, False
    choice = choices[0]
    delta = choice.get("delta") or {}
    if not isinstance(delta, dict):
        delta = {}
    content = _text_of(delta.get("content"))
    reasoning = _text_of(delta.get("reasoning_content") or delta.get("reasoning"))
    return content, reasoning, choice.get("finish_reason"), True


def _usage(usage: Any) -> tuple[int | None, int | None, bool]:
    if not isinstance(usage, dict):
        return None, None, False
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    prompt = prompt if isinstance(prompt, int) else None
    completion = completion if isinstance(completion, int) else None
    return prompt, completion, prompt is not None or completion is not None


def _in_band_error(data: dict[str, Any], url: str, secret: str | None) -> ProviderError:
    error = data.get("error")
    kind, code = "", None
    if isinstance(error, dict):
        kind, code = str(error.get("type") or ""), error.get("code")
    text = server_error_text(json.dumps(data)) or "unknown error"
    return make_error(
        f"The server at {origin_of(url)} reported an error during the reply: {text}",
        category_for_error_type(kind, code),
        secret=secret,
        status_code=code if isinstance(code, int) else None,
    )
