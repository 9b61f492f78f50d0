"""Secret storage behind a small interface.

Keys live only in the OS keyring (Secret Service, macOS Keychain, Windows Credential
Locker). When no keyring backend is usable we say so and explain the options; we never
fall back to a plaintext file. Environment variables (``OPENAI_API_KEY``,
``ANTHROPIC_API_KEY``) are read as a fallback for one process and never persisted.
"""

from __future__ import annotations

import json
import os
import re
from typing import Protocol

from openbench_desktop.core.errors import SecretStoreError

SERVICE = "openbench-desktop"
# The keyring API cannot enumerate entries, so the list of key *names* (not values) is
# kept in one more keyring entry.
_INDEX_ENTRY = "__names__"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

ENV_FALLBACKS: dict[str, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

NO_KEYRING_HELP = (
    "No OS keyring is available, so API keys cannot be stored. "
    "On Linux, install and unlock a Secret Service (GNOME Keyring or KWallet), e.g. "
    "'apt-get install gnome-keyring' and log in to a desktop session; on a headless machine "
    "run 'gnome-keyring-daemon --unlock --components=secrets' inside 'dbus-run-session'. "
    "Alternatively set OPENAI_API_KEY or ANTHROPIC_API_KEY in the environment for one "
    "session (it is never saved). OpenBench never stores keys in a plaintext file."
)


def validate_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise SecretStoreError(
            f"Invalid key name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


class SecretStore(Protocol):
    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def names(self) -> list[str]: ...

    def describe(self) -> str:
        """A human-readable name of the backend (for Settings and ``doctor``)."""
        ...


class InMemorySecretStore:
    """For tests and for a process that must not touch the OS keyring."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(initial or {})

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        if not value:
            raise SecretStoreError("Refusing to store an empty key.")
        self._values[validate_name(name)] = value

    def delete(self, name: str) -> None:
        if name not in self._values:
            raise SecretStoreError(f"No key named {name!r}.")
        del self._values[name]

    def names(self) -> list[str]:
        return sorted(self._values)

    def describe(self) -> str:
        return "in-memory (not persisted)"


class KeyringSecretStore:
    """The OS keyring via the ``keyring`` package."""

    def __init__(self, service: str = SERVICE) -> None:
        self._service = service
        self._backend = None

    def _keyring(self):
        import keyring
        import keyring.errors

        if self._backend is None:
            backend = keyring.get_keyring()
            if not self.backend_usable(backend):
                raise SecretStoreError(NO_KEYRING_HELP)
            self._backend = backend
        return self._backend

    @staticmethod
    def backend_usable(backend: object) -> bool:
        # keyring's fail.Keyring (and a chainer with nothing to chain) have priority 0;
        # plaintext backends from keyrings.alt are refused: they would silently write keys
        # to a file in the clear.
        module = type(backend).__module__
        if module.startswith("keyring.backends.fail") or module.startswith("keyrings.alt"):
            return False
        if module.startswith("keyring.backends.chainer"):
            return bool(getattr(backend, "backends", []))
        return True

    def describe(self) -> str:
        try:
            backend = self._keyring()
        except SecretStoreError:
            return "none available"
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def _call(self, what: str, fn, *args):
        import keyring.errors

        try:
            return fn(*args)
        except keyring.errors.NoKeyringError as exc:
            raise SecretStoreError(NO_KEYRING_HELP) from exc
        except keyring.errors.KeyringError as exc:
            # The exception text comes from the backend (e.g. "Prompt dismissed"); it never
            # contains the secret because we never pass the value into a message.
            raise SecretStoreError(f"The OS keyring refused to {what}: {exc}") from None

    def get(self, name: str) -> str | None:
        kr = self._keyring()
        return self._call("read the key", kr.get_password, self._service, validate_name(name))

    def set(self, name: str, value: str) -> None:
        if not value:
            raise SecretStoreError("Refusing to store an empty key.")
        kr = self._keyring()
        self._call("store the key", kr.set_password, self._service, validate_name(name), value)
        names = set(self.names())
        if name not in names:
            names.add(name)
            self._write_index(sorted(names))

    def delete(self, name: str) -> None:
        import keyring.errors

        kr = self._keyring()
        try:
            kr.delete_password(self._service, validate_name(name))
        except keyring.errors.PasswordDeleteError:
            raise SecretStoreError(f"No key named {name!r}.") from None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"The OS keyring refused to delete the key: {exc}") from None
        self._write_index([n for n in self.names() if n != name])

    def names(self) -> list[str]:
        kr = self._keyring()
        raw = self._call("read the key list", kr.get_password, self._service, _INDEX_ENTRY)
        if not raw:
            return []
        try:
            names = json.loads(raw)
        except ValueError:
            return []
        return sorted(n for n in names if isinstance(n, str))

    def _write_index(self, names: list[str]) -> None:
        kr = self._keyring()
        self._call(
            "update the key list", kr.set_password, self._service, _INDEX_ENTRY, json.dumps(names)
        )


def resolve_api_key(
    provider_kind: str, key_name: str | None, store: SecretStore | None
) -> str | None:
    """The key for a run: the named keyring entry, else the provider's env var, else None.

    A *named* key that is missing is an error (the user asked for it); no name and no env
    var is fine: local servers (vLLM, Ollama, llama.cpp) usually need no key.
    """
    if key_name:
        if store is None:
            raise SecretStoreError(f"Key {key_name!r} requested but no secret store is open.")
        value = store.get(key_name)
        if not value:
            raise SecretStoreError(
                f"No API key named {key_name!r} in the keyring. "
                f"Add it with: openbench-desktop keys set {key_name}"
            )
        return value
    env = ENV_FALLBACKS.get(provider_kind)
    if env and os.environ.get(env):
        return os.environ[env]
    return None
