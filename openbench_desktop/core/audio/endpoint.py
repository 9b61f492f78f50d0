"""What the two OpenAI-compatible speech endpoints share: the URL check, the HTTP client,
and turning an error status into the app's ProviderError.

``/audio/transcriptions`` (asr.py) and ``/audio/speech`` (tts.py) differ in what they send
and read; how they connect and fail is the same, and is here once.
"""

from __future__ import annotations

from typing import Any

from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.providers.base import ProviderError

BASE_URL_HINT = "(it should end in /v1 for OpenAI-compatible servers)"


def check_base_url(base_url: str) -> None:
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"Base URL {base_url!r} must start with http:// or https:// "
            "(e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1)."
        )


def open_client(base_url: str, api_key: str | None, timeout_s: float) -> Any:
    """A synchronous httpx client with the app's user agent and the key, if any."""
    import httpx

    from openbench_desktop import __version__
    from openbench_desktop.core.providers.http import is_loopback_url, request_timeout

    headers = {"user-agent": f"openbench-desktop/{__version__}"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return httpx.Client(
        headers=headers,
        timeout=request_timeout(timeout_s),
        trust_env=not is_loopback_url(base_url),
        follow_redirects=False,
    )


def status_error(
    response: Any,
    *,
    url: str,
    model: str,
    api_key: str | None,
    key_name: str | None,
    server_name: str,
) -> ProviderError:
    """The ProviderError for a response with status >= 400 (its body already read)."""
    from openbench_desktop.core.providers.http import error_from_status

    return error_from_status(
        response.status_code,
        response.content,
        response.headers,
        url=url,
        model=model,
        secret=api_key,
        key_name=key_name,
        base_url_hint=BASE_URL_HINT,
        server_name=server_name,
    )
