"""The secret store interface, key resolution and the refusal of plaintext backends."""

from __future__ import annotations

import pytest

from openbench_desktop.core.errors import SecretStoreError
from openbench_desktop.core.secrets import (
    InMemorySecretStore,
    KeyringSecretStore,
    resolve_api_key,
)


def test_in_memory_store_round_trip() -> None:
    store = InMemorySecretStore()
    store.set("openai-work", "fake-test-1")
    store.set("anthropic", "fake-ant-2")
    assert store.get("openai-work") == "fake-test-1"
    assert store.names() == ["anthropic", "openai-work"]
    store.delete("anthropic")
    assert store.names() == ["openai-work"]
    with pytest.raises(SecretStoreError, match="No key named"):
        store.delete("anthropic")


@pytest.mark.parametrize("bad", ["", "has space", "../etc", "x" * 65, "-lead"])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(SecretStoreError, match="Invalid key name"):
        InMemorySecretStore().set(bad, "v")


def test_named_key_wins_and_missing_named_key_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    store = InMemorySecretStore({"work": "from-keyring"})
    assert resolve_api_key("openai", "work", store) == "from-keyring"
    with pytest.raises(SecretStoreError, match="keys set other"):
        resolve_api_key("openai", "other", store)


def test_env_fallback_per_provider_and_none_for_local_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ant-env")
    assert resolve_api_key("anthropic", None, None) == "ant-env"
    assert resolve_api_key("openai", None, None) is None


def test_fail_and_plaintext_backends_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    with pytest.raises(SecretStoreError, match="No OS keyring is available"):
        KeyringSecretStore().get("x")
    assert KeyringSecretStore().describe() == "none available"

    class PlaintextKeyring:  # stands in for keyrings.alt.file.PlaintextKeyring's module
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    assert not KeyringSecretStore.backend_usable(PlaintextKeyring())
