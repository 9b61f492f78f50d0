"""API keys: the OS keyring for users, an in-memory store for tests. Never a file."""

from openbench_desktop.core.secrets.store import (
    ENV_FALLBACKS,
    InMemorySecretStore,
    KeyringSecretStore,
    SecretStore,
    resolve_api_key,
)

__all__ = [
    "ENV_FALLBACKS",
    "InMemorySecretStore",
    "KeyringSecretStore",
    "SecretStore",
    "resolve_api_key",
]
