"""``openbench-desktop doctor``: check what a run needs and say what to fix."""

from __future__ import annotations

import asyncio
import ctypes.util
import importlib.util
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from openbench_desktop.core.config.paths import AppPaths

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False  # a missing optional feature is a note, not a failure


def _folders(paths: AppPaths) -> Iterator[Check]:
    for label, folder in (
        ("data folder", paths.data_dir),
        ("log folder", paths.log_dir),
        ("config folder", paths.config_dir),
        ("cache folder", paths.cache_dir),
    ):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".openbench-write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
            yield Check(label, True, str(folder))
        except OSError as exc:
            yield Check(
                label,
                False,
                f"{folder}: {exc.strerror or exc}",
                "Fix the folder's permissions or free disk space, or point OPENBENCH_HOME "
                "(or --home) at a writable folder.",
            )


def _database(paths: AppPaths) -> Check:
    db = paths.database
    if not db.exists():
        return Check("database", True, f"{db} (not created yet; the first run creates it)")
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            (n_runs,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
    except sqlite3.Error as exc:
        return Check(
            "database",
            False,
            f"{db}: {exc}",
            "Move the file away (the app then starts a new one) and report the problem.",
        )
    if result != "ok":
        return Check("database", False, f"{db}: integrity check says {result}", "Restore a backup.")
    return Check("database", True, f"{db} ({n_runs} runs, integrity ok)")


def _keyring() -> Check:
    from openbench_desktop.core.errors import SecretStoreError
    from openbench_desktop.core.secrets import KeyringSecretStore

    store = KeyringSecretStore()
    try:
        store.names()
    except SecretStoreError as exc:
        return Check("keyring", False, str(exc))  # the message already says what to do
    return Check("keyring", True, store.describe())


def _optional_modules() -> Iterator[Check]:
    for module, feature, extra in (
        ("pocketsphinx", "local speech recognition (PocketSphinx)", "audio"),
        ("soundfile", "reading audio files", "audio"),
        ("jiwer", "word error rate", "audio"),
    ):
        found = importlib.util.find_spec(module) is not None
        yield Check(
            module,
            found,
            f"{feature}: {'installed' if found else 'not installed'}",
            "" if found else f"pip install 'openbench-desktop[{extra}]'",
            optional=True,
        )
    yield from _speech_pieces()


def _installed(dist: str) -> str | None:
    """The installed version of a distribution, without importing it (imports are slow)."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _speech_pieces() -> Iterator[Check]:
    """Which optional speech pieces this machine has. Informational: a missing one only
    takes away the provider that needs it, so each is reported as an optional note."""
    for name, dist, feature, extra in (
        ("soxr", "soxr", "resampling audio to the model's rate", "audio"),
        ("faster_whisper", "faster-whisper", "faster-whisper speech recognition", "whisper"),
        ("pywhispercpp", "pywhispercpp", "whisper.cpp speech recognition", "whispercpp"),
        ("piper-tts", "piper-tts", "Piper speech synthesis", "piper"),
    ):
        version = _installed(dist)
        yield Check(
            name,
            version is not None,
            f"{feature}: " + (f"{dist} {version}" if version else "not installed"),
            "" if version else f"pip install 'openbench-desktop[{extra}]'",
            optional=True,
        )
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    yield Check(
        "espeak-ng",
        exe is not None,
        "eSpeak NG speech synthesis: " + (exe or "the espeak-ng program is not on PATH"),
        "" if exe else "apt-get install espeak-ng (Debian/Ubuntu) or brew install espeak-ng",
        optional=True,
    )
    yield _sounddevice()


def _sounddevice() -> Check:
    """sounddevice plays and records clips; on Linux it needs the system's PortAudio.

    Not imported: importing it without PortAudio raises, and with it may probe devices.
    The macOS and Windows wheels bring their own PortAudio (``_sounddevice_data``).
    """
    version = _installed("sounddevice")
    if version is None:
        return Check(
            "sounddevice", False, "audio playback: sounddevice not installed",
            "pip install 'openbench-desktop[audio]'", optional=True,
        )
    bundled = importlib.util.find_spec("_sounddevice_data") is not None
    lib = None if bundled else ctypes.util.find_library("portaudio")
    if bundled or lib:
        where = "its own PortAudio" if bundled else lib
        return Check(
            "sounddevice", True, f"audio playback: sounddevice {version} with {where}",
            optional=True,
        )
    return Check(
        "sounddevice",
        False,
        f"audio playback: sounddevice {version} is installed but the PortAudio library "
        "(libportaudio2) is not",
        "apt-get install libportaudio2 (Debian/Ubuntu)",
        optional=True,
    )


def _endpoint(name: str, kind: str, base_url: str, key: str | None) -> Check:
    from openbench_desktop.core.providers.registry import make_provider

    async def probe() -> list[str]:
        provider = make_provider(kind, base_url, key, concurrency=1, timeout_s=15)
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    try:
        models = asyncio.run(probe())
    except Exception as exc:  # any failure is the answer here
        return Check(f"endpoint {name}", False, str(exc), "Check the URL and key in Settings.")
    shown = ", ".join(models[:5]) + (" …" if len(models) > 5 else "")
    return Check(f"endpoint {name}", True, f"{base_url}: {len(models)} model(s): {shown}")


def run_checks(paths: AppPaths, *, endpoints: bool = False) -> list[Check]:
    checks = [*_folders(paths), _database(paths), _keyring(), *_optional_modules()]
    free = _free_space(paths)
    if free is not None:
        checks.append(free)
    if endpoints:
        from openbench_desktop.core.config.settings import load_settings
        from openbench_desktop.core.secrets import KeyringSecretStore, resolve_api_key

        settings = load_settings(paths.settings_file)
        store = KeyringSecretStore()
        for ep in settings.endpoints:
            try:
                key = resolve_api_key(ep.kind, ep.api_key_name, store)
            except Exception as exc:
                checks.append(Check(f"endpoint {ep.name}", False, str(exc), "Set the key."))
                continue
            checks.append(_endpoint(ep.name, ep.kind, ep.base_url, key))
    return checks


def _free_space(paths: AppPaths) -> Check | None:
    try:
        stat = os.statvfs(paths.data_dir)
    except (OSError, AttributeError):  # Windows has no statvfs
        return None
    free_mb = stat.f_bavail * stat.f_frsize / 1e6
    ok = free_mb > 200
    return Check(
        "disk space",
        ok,
        f"{free_mb:,.0f} MB free for the data folder",
        "" if ok else "Free some disk space: runs are stored as they go and stop when full.",
    )
