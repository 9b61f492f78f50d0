"""What every HTTP provider shares: the pooled client, chunk timing and error mapping.

Providers build one :class:`httpx.AsyncClient` each (:func:`build_client`), record the
arrival of every streamed chunk with a :class:`ChunkRecorder`, and turn every failure into
a :class:`~openbench_desktop.core.providers.base.ProviderError` through the functions
below, so the wording and the categories are the same for every API.

Error messages are written for a person: what went wrong, where, and what to try. They
include the server's own error text (shortened) but never the API key: every message is
passed through :func:`scrub` with the key before it is raised, in case a server echoes it.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import re
import socket
import time
from collections.abc import Callable, Mapping
from contextlib import aclosing
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource, ServerSentEvent

from openbench_desktop import __version__
from openbench_desktop.core.domain import ChunkKind, ErrorCategory
from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.providers.base import ProviderError

#: How long to wait for a TCP/TLS connection. Much shorter than the read timeout: a server
#: that does not accept a connection within this time will not answer at all.
CONNECT_TIMEOUT_S = 10.0
#: How much of a server's error text is quoted in a message.
MAX_SERVER_TEXT = 300
#: Idle keep-alive connections are closed after this long.
KEEPALIVE_EXPIRY_S = 30.0
#: After a stream's end marker the rest of the body is read (so the connection can be
#: reused) for at most this long: a server that keeps the stream open is not waited for.
DRAIN_AFTER_END_S = 2.0

STREAMING_GOT_JSON_MESSAGE = (
    "The server answered a streaming request with a non-streaming reply; TTFT and "
    "inter-token latency cannot be measured. Re-run with streaming off (--no-stream) to "
    "benchmark it without streaming."
)

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_DNS_FAILURE_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "temporary failure in name resolution",
    "no address associated with hostname",
    "name resolution",
)
_MODEL_MISSING_HINTS = (
    "does not exist",
    "not found",
    "not_found",
    "no such model",
    "unknown model",
    "not available",
    "is not served",
)


# --------------------------------------------------------------------------------------
# URLs and clients


def normalize_base_url(base_url: str, *, strip_suffixes: tuple[str, ...] = ()) -> str:
    """Validate ``base_url`` and return it without a trailing slash.

    ``strip_suffixes`` removes endpoint paths people often paste by mistake (for example
    ``/chat/completions``), so the provider can append its own paths.
    """
    url = (base_url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The base URL {base_url!r} is not an http(s) URL. Use a full URL such as "
            "http://127.0.0.1:8000/v1 or https://api.openai.com/v1."
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"The base URL {base_url!r} must not contain a query string or a fragment."
        )
    changed = True
    while changed:
        changed = False
        for suffix in strip_suffixes:
            if url.lower().endswith(suffix):
                url = url[: -len(suffix)].rstrip("/")
                changed = True
    return url


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: short enough for an error message."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_client(
    base_url: str,
    *,
    concurrency: int,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """One pooled keep-alive client sized to ``concurrency``.

    The pool holds as many connections as requests may run at once, so a request never
    waits for a free connection after ``started_ns`` was taken (``pool=None``: the engine,
    not the pool, limits concurrency). Environment proxies are honoured for remote servers
    but not for loopback ones: a system-wide ``HTTP_PROXY`` must not route
    ``127.0.0.1`` through a proxy.
    """
    size = max(1, int(concurrency))
    all_headers = {"user-agent": f"openbench-desktop/{__version__}"}
    all_headers.update(headers or {})
    return httpx.AsyncClient(
        headers=all_headers,
        timeout=request_timeout(timeout_s),
        limits=httpx.Limits(
            max_connections=size,
            max_keepalive_connections=size,
            keepalive_expiry=KEEPALIVE_EXPIRY_S,
        ),
        trust_env=not is_loopback_url(base_url),
        follow_redirects=False,
    )


def request_timeout(timeout_s: float) -> httpx.Timeout:
    """``timeout_s`` bounds each wait for data (not the whole reply), connect is shorter."""
    timeout_s = float(timeout_s)
    return httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S), pool=None)


# --------------------------------------------------------------------------------------
# Timing


class ChunkRecorder:
    """Arrival time, size and kind of every streamed chunk, relative to ``started_ns``."""

    __slots__ = ("chars", "kinds", "offsets", "started_ns")

    def __init__(self) -> None:
        self.started_ns = 0
        self.offsets: list[int] = []
        self.chars: list[int] = []
        self.kinds: list[str] = []

    def start(self) -> int:
        """Take ``started_ns``: call it just before the request is sent."""
        self.started_ns = time.monotonic_ns()
        return self.started_ns

    def add(self, arrived_ns: int, chars: int, kind: ChunkKind) -> None:
        self.offsets.append(arrived_ns - self.started_ns)
        self.chars.append(chars)
        self.kinds.append(kind.value)

    def offset(self, now_ns: int) -> int:
        return now_ns - self.started_ns

    def __len__(self) -> int:
        return len(self.offsets)

    def as_fields(self) -> dict[str, Any]:
        return {
            "started_ns": self.started_ns,
            "chunk_offsets_ns": tuple(self.offsets),
            "chunk_chars": tuple(self.chars),
            "chunk_kinds": "".join(self.kinds),
        }


async def read_events(
    response: httpx.Response, on_event: Callable[[int, ServerSentEvent], bool]
) -> int | None:
    """Feed every server-sent event to ``on_event(arrived_ns, event)`` as it arrives.

    ``arrived_ns`` is ``time.monotonic_ns()`` taken the moment the event was decoded.
    ``on_event`` returns True for the stream's end marker; the time of that event is
    returned (None if the body ended without one). ``on_event`` raises to abort.
    """
    end_ns: int | None = None
    try:
        async with (
            asyncio.timeout(None) as deadline,
            aclosing(EventSource(response).aiter_sse()) as events,
        ):
            async for event in events:
                arrived = time.monotonic_ns()
                if end_ns is None and on_event(arrived, event):
                    end_ns = arrived
                    deadline.reschedule(asyncio.get_running_loop().time() + DRAIN_AFTER_END_S)
    except TimeoutError:
        if end_ns is None:  # only the drain after the end marker has a deadline
            raise
    return end_ns


async def stream_events(
    client: httpx.AsyncClient,
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout_s: float,
    secret: str | None,
    recorder: ChunkRecorder,
    on_event: Callable[[int, ServerSentEvent], bool],
    raise_for_status: Callable[[httpx.Response, bytes], None],
) -> int | None:
    """POST ``payload`` for a streamed reply and feed its events to ``on_event``.

    The one request path of every streaming chat provider: the recorder's clock starts
    just before the send; an error status is read and handed to ``raise_for_status``
    (which raises); a reply that is not an event stream, a dropped connection and a body
    that cannot be decoded become ProviderErrors. Returns what :func:`read_events` returns.
    """
    http_request = client.build_request(
        "POST",
        url,
        json=payload,
        headers={"accept": "text/event-stream", "cache-control": "no-store"},
        timeout=request_timeout(timeout_s),
    )
    recorder.start()
    try:
        response = await client.send(http_request, stream=True)
        try:
            if response.status_code >= 300:
                raise_for_status(response, await response.aread())
            await ensure_event_stream(response, url=url, secret=secret)
            return await read_events(response, on_event)
        finally:
            await response.aclose()
    except httpx.TransportError as exc:
        raise error_from_transport(
            exc, url=url, timeout_s=timeout_s, secret=secret, chunks_received=len(recorder)
        ) from None
    except httpx.DecodingError as exc:
        raise error_from_decoding(exc, url=url, secret=secret) from None


def chunk_kind(content: str, reasoning: str) -> ChunkKind:
    if content:
        return ChunkKind.CONTENT
    if reasoning:
        return ChunkKind.REASONING
    return ChunkKind.EMPTY


# --------------------------------------------------------------------------------------
# Error text


def scrub(text: str, secret: str | None) -> str:
    """Remove ``secret`` from ``text`` (a server may echo the key it rejected)."""
    if secret and len(secret) >= 4 and secret in text:
        text = text.replace(secret, "***")
    return text


def truncate(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def make_error(
    message: str,
    category: ErrorCategory,
    *,
    secret: str | None,
    status_code: int | None = None,
    retry_after_s: float | None = None,
) -> ProviderError:
    return ProviderError(
        scrub(message, secret),
        category=category,
        status_code=status_code,
        retry_after_s=retry_after_s,
    )


def server_error_text(body: bytes | str) -> str:
    """The human part of an error body, whatever the server's dialect.

    Understands OpenAI (``{"error": {"message": …}}``), Anthropic
    (``{"type": "error", "error": {…}}``), vLLM (``{"message": …}``), Ollama
    (``{"error": "…"}``), FastAPI (``{"detail": …}``) and HTML error pages.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = _message_from_payload(data)
        if message:
            return truncate(message)
    if text.startswith("<"):
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title:
            return truncate(title.group(1))
        return truncate(re.sub(r"<[^>]+>", " ", text))
    return truncate(text)


def _message_from_payload(data: Mapping[str, Any]) -> str:
    error = data.get("error")
    if isinstance(error, Mapping):
        for key in ("message", "msg", "detail"):
            if isinstance(error.get(key), str) and error[key]:
                return str(error[key])
        return json.dumps(error)
    if isinstance(error, str) and error:
        return error
    for key in ("message", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if value:
            return json.dumps(value)
    return ""


def _error_fields(body: bytes | str) -> tuple[str, str]:
    """``(code, type)`` of a JSON error body, lower-cased, or empty strings."""
    try:
        data = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    error = data.get("error")
    source: Mapping[str, Any] = error if isinstance(error, Mapping) else data
    return str(source.get("code") or "").lower(), str(source.get("type") or "").lower()


def says_model_missing(body: bytes | str, model: str | None) -> bool:
    """Whether a 404 body says the *model* is unknown (rather than the path)."""
    code, kind = _error_fields(body)
    if code == "model_not_found":
        return True
    message = server_error_text(body).lower()
    if not message:
        return False
    mentions_model = "model" in message or (bool(model) and model.lower() in message)
    if kind == "not_found_error" and mentions_model:
        return True
    return mentions_model and any(hint in message for hint in _MODEL_MISSING_HINTS)


def says_unsupported(body: bytes | str, parameter: str) -> bool:
    """Whether a 400/422 body complains about ``parameter`` (to retry without it)."""
    return parameter.lower() in server_error_text(body).lower()


# --------------------------------------------------------------------------------------
# Retry-After


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or HTTP-date) or ``retry-after-ms``.

    ``now`` is a POSIX timestamp (defaults to the current time); a date in the past gives 0.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)


# --------------------------------------------------------------------------------------
# Mapping failures


def error_from_status(
    status: int,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    url: str,
    model: str | None,
    secret: str | None,
    key_name: str | None,
    base_url_hint: str,
    server_name: str = "The server",
) -> ProviderError:
    """Turn an HTTP error status into a categorised, actionable :class:`ProviderError`.

    ``model`` is None for requests that do not name a model (discovery), so a 404 there
    always means a wrong path. ``base_url_hint`` completes "check the base URL …".
    """
    where = origin_of(url)
    text = server_error_text(body)
    said = f": {text}" if text else ""
    retry_after = parse_retry_after(headers)
    key_ref = key_name or "NAME"

    def err(message: str, category: ErrorCategory) -> ProviderError:
        return make_error(
            message,
            category,
            secret=secret,
            status_code=status,
            retry_after_s=retry_after,
        )

    if status in (401, 403):
        if not secret:
            return err(
                f"{server_name} at {where} requires an API key (HTTP {status}{said}) and "
                f"none was given. Store one with `openbench-desktop keys set {key_ref}` and "
                "choose it for this run.",
                ErrorCategory.AUTH,
            )
        what = "rejected the API key" if status == 401 else "refused access with this API key"
        return err(
            f"{server_name} at {where} {what} (HTTP {status}{said}). Check that the key is "
            f"valid and allowed to use this model; set it with "
            f"`openbench-desktop keys set {key_ref}`.",
            ErrorCategory.AUTH,
        )
    if status == 404:
        if model is not None and says_model_missing(body, model):
            return err(
                f"Model '{model}' does not exist on this server ({where}){said}. Check the "
                "model id against the server's model list.",
                ErrorCategory.NOT_FOUND,
            )
        return err(
            f"No such endpoint: {url} returned HTTP 404{said}. Check the base URL "
            f"({base_url_hint}).",
            ErrorCategory.NOT_FOUND,
        )
    if status == 429:
        wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
        return err(
            f"{server_name} at {where} is rate limiting requests (HTTP 429{said}).{wait} "
            "Lower the concurrency or wait before running again.",
            ErrorCategory.RATE_LIMIT,
        )
    if status == 408:
        return err(
            f"{server_name} at {where} timed out the request (HTTP 408{said}).",
            ErrorCategory.TIMEOUT,
        )
    if status in (400, 413, 422):
        return err(
            f"{server_name} at {where} rejected the request (HTTP {status}){said or '.'}",
            ErrorCategory.BAD_REQUEST,
        )
    if status >= 500:
        return err(
            f"{server_name} at {where} failed with HTTP {status}{said}. This is a problem on "
            "the server side; it may be overloaded or the model may have crashed.",
            ErrorCategory.SERVER_ERROR,
        )
    if 300 <= status < 400:
        location = headers.get("location", "")
        to = f" to {location}" if location else ""
        return err(
            f"{server_name} at {where} redirected the request{to} (HTTP {status}). Use the "
            "final URL as the base URL (for example https:// instead of http://).",
            ErrorCategory.OTHER,
        )
    return err(
        f"{server_name} at {where} answered HTTP {status}{said}.",
        ErrorCategory.BAD_REQUEST if 400 <= status < 500 else ErrorCategory.OTHER,
    )


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_refused(exc: BaseException) -> bool:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return True
        if isinstance(cause, OSError) and cause.errno in (errno.ECONNREFUSED, 10061):
            return True
    text = str(exc).lower()
    return "connection refused" in text or "actively refused" in text


def _is_dns_failure(exc: BaseException) -> bool:
    if any(isinstance(cause, socket.gaierror) for cause in _causes(exc)):
        return True
    text = " ".join(str(cause) for cause in _causes(exc)).lower()
    return any(hint in text for hint in _DNS_FAILURE_HINTS)


def error_from_transport(
    exc: httpx.TransportError,
    *,
    url: str,
    timeout_s: float,
    secret: str | None,
    chunks_received: int = 0,
) -> ProviderError:
    """Turn a network failure (no usable HTTP status) into a :class:`ProviderError`."""
    where = origin_of(url)
    detail = truncate(str(exc) or type(exc).__name__)

    def err(message: str, category: ErrorCategory) -> ProviderError:
        return make_error(message, category, secret=secret)

    if isinstance(exc, httpx.ConnectTimeout):
        return err(
            f"Timed out after {min(timeout_s, CONNECT_TIMEOUT_S):g} s connecting to {where}. "
            "Check the URL, your network, and any proxy or firewall.",
            ErrorCategory.TIMEOUT,
        )
    if isinstance(exc, httpx.ReadTimeout):
        when = f"after {chunks_received} chunk(s)" if chunks_received else "before answering"
        return err(
            f"The server at {where} sent nothing for {timeout_s:g} s {when} (read timeout). "
            "The model may be overloaded or still loading: raise the timeout or lower the "
            "concurrency.",
            ErrorCategory.TIMEOUT,
        )
    if isinstance(exc, httpx.TimeoutException):
        return err(
            f"Timed out talking to {where} ({type(exc).__name__}: {detail}).",
            ErrorCategory.TIMEOUT,
        )
    if isinstance(exc, httpx.ConnectError):
        error = _connect_error(exc, url, where, detail, err)
        error.connect_failed = True  # never reached the server (see ProviderError)
        return error
    return _io_error(exc, where, detail, chunks_received, err)


def _connect_error(
    exc: httpx.ConnectError,
    url: str,
    where: str,
    detail: str,
    err: Callable[[str, ErrorCategory], ProviderError],
) -> ProviderError:
    if _is_refused(exc):
        return err(
            f"Cannot connect to {where}: connection refused. Is the server running and "
            "is the URL right?",
            ErrorCategory.CONNECTION,
        )
    if _is_dns_failure(exc):
        host = urlsplit(url).hostname or where
        return err(
            f"Cannot connect to {where}: the host name '{host}' could not be resolved "
            "(DNS lookup failed). Check the base URL for typos and that this computer "
            "is online.",
            ErrorCategory.CONNECTION,
        )
    if "ssl" in detail.lower() or "certificate" in detail.lower():
        return err(
            f"Cannot connect to {where}: the TLS handshake failed ({detail}). Check "
            "http:// versus https:// and the server's certificate.",
            ErrorCategory.CONNECTION,
        )
    return err(f"Cannot connect to {where}: {detail}.", ErrorCategory.CONNECTION)


def _io_error(
    exc: Exception,
    where: str,
    detail: str,
    chunks_received: int,
    err: Callable[[str, ErrorCategory], ProviderError],
) -> ProviderError:
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        when = (
            f"mid-stream after {chunks_received} chunk(s)"
            if chunks_received
            else "before the reply was complete"
        )
        return err(
            f"The connection to {where} was closed {when} ({detail}). The server may have "
            "crashed or restarted, or a proxy cut the connection.",
            ErrorCategory.CONNECTION,
        )
    if isinstance(exc, httpx.ProxyError):
        return err(
            f"The proxy refused the connection to {where}: {detail}.", ErrorCategory.CONNECTION
        )
    return err(f"Network error talking to {where}: {detail}.", ErrorCategory.CONNECTION)


def error_from_decoding(exc: httpx.DecodingError, *, url: str, secret: str | None) -> ProviderError:
    return make_error(
        f"The reply from {origin_of(url)} could not be decoded ({truncate(str(exc))}).",
        ErrorCategory.PARSE,
        secret=secret,
    )


def malformed_chunk_error(data: str, *, url: str, secret: str | None) -> ProviderError:
    return make_error(
        f"The server at {origin_of(url)} sent a malformed stream chunk (not a JSON object): "
        f"{truncate(data, 120)!r}.",
        ErrorCategory.PARSE,
        secret=secret,
    )


def category_for_error_type(kind: str, code: Any = None) -> ErrorCategory:
    """Category of an error reported *inside* a reply (a mid-stream ``error`` event)."""
    if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
        status = int(code)
        if status in (401, 403):
            return ErrorCategory.AUTH
        if status == 404:
            return ErrorCategory.NOT_FOUND
        if status == 429:
            return ErrorCategory.RATE_LIMIT
        if status in (400, 413, 422):
            return ErrorCategory.BAD_REQUEST
        if status >= 500:
            return ErrorCategory.SERVER_ERROR
    kind = (kind or "").lower()
    table = {
        "rate_limit_error": ErrorCategory.RATE_LIMIT,
        "rate_limit_exceeded": ErrorCategory.RATE_LIMIT,
        "overloaded_error": ErrorCategory.SERVER_ERROR,
        "api_error": ErrorCategory.SERVER_ERROR,
        "server_error": ErrorCategory.SERVER_ERROR,
        "internal_server_error": ErrorCategory.SERVER_ERROR,
        "authentication_error": ErrorCategory.AUTH,
        "permission_error": ErrorCategory.AUTH,
        "not_found_error": ErrorCategory.NOT_FOUND,
        "invalid_request_error": ErrorCategory.BAD_REQUEST,
        "request_too_large": ErrorCategory.BAD_REQUEST,
        "timeout_error": ErrorCategory.TIMEOUT,
    }
    if kind in table:
        return table[kind]
    if "rate" in kind:
        return ErrorCategory.RATE_LIMIT
    return ErrorCategory.SERVER_ERROR


async def ensure_event_stream(response: httpx.Response, *, url: str, secret: str | None) -> None:
    """Refuse a reply to a streaming request that is not an event stream.

    A JSON reply means the server ignored ``stream: true``; timing cannot be measured, so
    it is an error with a way out rather than a silently non-streamed sample.
    """
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "text/event-stream":
        return
    body = await response.aread()
    if "json" in content_type:
        raise make_error(STREAMING_GOT_JSON_MESSAGE, ErrorCategory.PARSE, secret=secret)
    raise make_error(
        f"The server at {origin_of(url)} answered a streaming request with "
        f"{content_type or 'no content type'} instead of an event stream: "
        f"{truncate(body.decode('utf-8', 'replace'), 200)!r}.",
        ErrorCategory.PARSE,
        secret=secret,
    )


def incomplete_stream_error(chunks: int, *, url: str, secret: str | None) -> ProviderError:
    """A stream that ended cleanly but without its end marker (a cut reply)."""
    where = origin_of(url)
    if chunks == 0:
        message = (
            f"The server at {where} closed the stream without sending any data. It may have "
            "crashed, or a proxy in between does not pass streamed replies through."
        )
    else:
        message = (
            f"The stream from {where} ended after {chunks} chunk(s) without its end marker: "
            "the reply is incomplete. The server may have crashed or a proxy cut the stream."
        )
    return make_error(message, ErrorCategory.CONNECTION, secret=secret)
