"""``doctor`` reports each check and what to fix; exit 1 only for real problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openbench_desktop.cli import main
from openbench_desktop.core.config.paths import AppPaths


def test_doctor_on_a_fresh_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    code = main(["--home", str(home), "doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["data folder"]["ok"] and checks["database"]["ok"]
    assert "keyring" in checks  # usable or not depends on the machine; it is reported
    assert code == (0 if checks["keyring"]["ok"] else 1)
    for c in checks.values():
        if not c["ok"] and not c["optional"] and c["name"] != "keyring":
            pytest.fail(f"unexpected failure: {c}")


def test_doctor_names_an_unusable_folder_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("a file where the cache folder should be")
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.doctor import run_checks

    checks = {c.name: c for c in run_checks(AppPaths.under(home))}
    bad = checks["cache folder"]
    assert not bad.ok and "cache" in bad.detail and "OPENBENCH_HOME" in bad.fix


def test_doctor_reports_a_damaged_database(tmp_path: Path) -> None:
    from openbench_desktop.core.config.paths import AppPaths
    from openbench_desktop.core.doctor import run_checks

    paths = AppPaths.under(tmp_path / "home").ensure()
    paths.database.write_bytes(b"this is not a database" * 100)
    checks = {c.name: c for c in run_checks(paths)}
    assert not checks["database"].ok
    assert str(paths.database) in checks["database"].detail


# --- optional speech pieces -----------------------------------------------------------------

SPEECH_PIECES = ("soxr", "faster_whisper", "pywhispercpp", "piper-tts", "espeak-ng",
                 "sounddevice")


def test_doctor_lists_every_optional_speech_piece(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--home", str(tmp_path / "home"), "doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    for name in SPEECH_PIECES:
        check = checks[name]
        assert check["optional"], name  # informational: never fails doctor
        assert check["ok"] or check["fix"], check  # missing: says how to get it


def test_missing_speech_pieces_are_notes_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from openbench_desktop.core import doctor

    monkeypatch.setattr(doctor, "_installed", lambda dist: None)  # no optional package
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)  # no espeak-ng
    code = main(["--home", str(tmp_path / "home"), "doctor"])
    out = capsys.readouterr().out
    assert "[note] pywhispercpp: whisper.cpp speech recognition: not installed" in out
    assert "fix: pip install 'openbench-desktop[whispercpp]'" in out
    assert "[note] piper-tts: Piper speech synthesis: not installed" in out
    assert "fix: pip install 'openbench-desktop[piper]'" in out
    assert "fix: pip install 'openbench-desktop[whisper]'" in out  # faster-whisper
    assert "[note] espeak-ng: eSpeak NG speech synthesis: the espeak-ng program is not on " \
        "PATH" in out and "apt-get install espeak-ng" in out
    assert "[note] sounddevice: audio playback: sounddevice not installed" in out
    checks = {c.name: c for c in doctor.run_checks(AppPaths.under(tmp_path / "home"))}
    # none of these changes the exit status
    assert code == (0 if checks["keyring"].ok else 1)


def test_installed_speech_pieces_show_their_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    from openbench_desktop.core import doctor

    monkeypatch.setattr(doctor, "_installed", lambda dist: "9.8.7")
    monkeypatch.setattr(doctor.shutil, "which", lambda name: f"/usr/bin/{name}")
    checks = {c.name: c for c in doctor._speech_pieces()}
    assert checks["pywhispercpp"].ok
    assert checks["pywhispercpp"].detail == "whisper.cpp speech recognition: pywhispercpp 9.8.7"
    assert checks["piper-tts"].detail == "Piper speech synthesis: piper-tts 9.8.7"
    assert checks["espeak-ng"].detail == "eSpeak NG speech synthesis: /usr/bin/espeak-ng"


def test_sounddevice_without_portaudio_names_the_system_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openbench_desktop.core import doctor

    monkeypatch.setattr(doctor, "_installed", lambda dist: "0.5.0")
    monkeypatch.setattr(doctor.importlib.util, "find_spec", lambda name: None)  # no bundle
    monkeypatch.setattr(doctor.ctypes.util, "find_library", lambda name: None)
    check = doctor._sounddevice()
    assert not check.ok and check.optional
    assert "PortAudio library (libportaudio2) is not" in check.detail
    assert check.fix == "apt-get install libportaudio2 (Debian/Ubuntu)"
    monkeypatch.setattr(doctor.ctypes.util, "find_library", lambda name: "libportaudio.so.2")
    assert doctor._sounddevice().detail == (
        "audio playback: sounddevice 0.5.0 with libportaudio.so.2"
    )
