"""Providers by kind: the one place that maps ``RunSpec.provider`` to a class.

Imports are explicit (no plugin discovery), so a frozen build needs no hidden imports.
"""

from __future__ import annotations

from collections.abc import Callable

from openbench_desktop.core.errors import ConfigError
from openbench_desktop.core.providers.anthropic import AnthropicProvider
from openbench_desktop.core.providers.base import ChatProvider
from openbench_desktop.core.providers.openai_compat import OpenAICompatProvider

_FACTORIES: dict[str, Callable[..., ChatProvider]] = {
    "openai": OpenAICompatProvider,
    "anthropic": AnthropicProvider,
}

#: Every kind :func:`make_provider` accepts ("openai" is any OpenAI-compatible server).
PROVIDER_KINDS: tuple[str, ...] = tuple(_FACTORIES)


def make_provider(
    kind: str,
    base_url: str,
    api_key: str | None,
    *,
    concurrency: int = 8,
    timeout_s: float = 120.0,
    key_name: str | None = None,
) -> ChatProvider:
    """A provider of ``kind`` for ``base_url``.

    ``key_name`` (the secret store entry the key came from) only makes authentication
    errors more precise ("set it with `openbench-desktop keys set NAME`"). Raises
    :class:`ConfigError` for an unknown kind or a malformed URL.
    """
    factory = _FACTORIES.get((kind or "").strip().lower())
    if factory is None:
        raise ConfigError(
            f"Unknown provider {kind!r}. Choose one of: {', '.join(PROVIDER_KINDS)} "
            "(use 'openai' for any OpenAI-compatible server such as vLLM, Ollama or LM Studio)."
        )
    return factory(
        base_url,
        api_key,
        concurrency=concurrency,
        timeout_s=timeout_s,
        key_name=key_name,
    )
