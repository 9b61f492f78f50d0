"""The packaged app: build it with packaging/build.sh and check it as a user would get it.

The slow tests build the one-folder bundle (and the .tar.gz, and the .deb where dpkg-deb
exists) once per session, then run the *frozen* executable: ``--version``, ``--smoke``
offscreen (the first-launch demo against the built-in simulated model), the keyring
against a real Secret Service, and the archive's install/uninstall scripts in a scratch
home. A module, data file or library the spec forgot shows up here as an ImportError, a
failed smoke run or an unresolved library, not on a researcher's machine.

The fast tests check the inputs of the build: icons up to date with their SVG, a valid
.desktop entry, scripts that parse.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openbench_desktop import __version__
from tests.conftest import REPO_ROOT

NAME = "openbench-desktop"
BUILD_TIMEOUT_S = 1500
IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")
# Left out of the bundle on purpose (packaging/openbench-desktop.spec).
UNWANTED_TOP_LEVEL = ("tkinter", "matplotlib", "setuptools", "pkg_resources", "IPython", "pytest")
UNWANTED_QT = ("QtWebEngine", "Qt3D", "QtQml", "QtQuick", "QtMultimedia", "QtNetwork", "QtPdf")
# What may appear in $HOME besides OPENBENCH_HOME: fontconfig writes its cache to
# ~/.cache/fontconfig when the system's font cache is older than the fonts (it cannot be
# pointed elsewhere without replacing the system's fonts.conf).
ALLOWED_IN_HOME = (".cache/fontconfig",)


@dataclass(frozen=True)
class Built:
    dist: Path
    log: str
    seconds: float

    @property
    def folder(self) -> Path:
        return self.dist / NAME

    @property
    def exe(self) -> Path:
        return self.folder / NAME

    @property
    def internal(self) -> Path:
        # PyInstaller >= 6 keeps everything but the executable in _internal/.
        return self.folder / "_internal"


def _host_lib_patterns() -> list[str]:
    text = (REPO_ROOT / "packaging" / "linux" / "host-libs.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user whose home is ``home``: no XDG overrides, no API keys."""
    drop = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
            "OPENBENCH_HOME", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["HOME"] = str(home)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, cwd=env["HOME"]
    )


def _assert_no_import_errors(proc: subprocess.CompletedProcess) -> None:
    output = proc.stdout + proc.stderr
    for marker in IMPORT_ERRORS:
        assert marker not in output, f"{marker} in the frozen app's output:\n{output[-4000:]}"


def _files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


# --- the build (once per session) --------------------------------------------------------


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    if shutil.which("objdump") is None:
        pytest.skip(
            "binutils is not installed: PyInstaller needs objdump (apt-get install binutils)"
        )
    if not sys.platform.startswith("linux"):
        pytest.skip("packaging/build.sh builds the Linux bundle; see docs/PACKAGING.md")
    dist = tmp_path_factory.mktemp("packaging") / "dist"
    args = ["bash", str(REPO_ROOT / "packaging" / "build.sh"), "--dist", str(dist)]
    if shutil.which("dpkg-deb"):
        args.append("--deb")
    started = time.monotonic()
    # The default work folder keeps PyInstaller's cache between runs; build.sh locks it.
    proc = subprocess.run(
        args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    seconds = time.monotonic() - started
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"packaging/build.sh failed ({proc.returncode}):\n{log[-6000:]}"
    yield Built(dist=dist, log=log, seconds=seconds)
    # ~800 MB (folder, archive, .deb); pytest keeps the temp folders of three sessions.
    if not os.environ.get("OPENBENCH_KEEP_BUNDLE"):
        shutil.rmtree(dist, ignore_errors=True)


# --- the frozen executable ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_version_runs_from_the_frozen_build(built: Built, tmp_path: Path) -> None:
    assert built.exe.is_file() and os.access(built.exe, os.X_OK)
    home = tmp_path / "home"
    home.mkdir()
    proc = _run([str(built.exe), "--version"], _clean_env(home, OPENBENCH_HOME=str(home / "ob")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == f"{NAME} {__version__}"
    _assert_no_import_errors(proc)


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_smoke_runs_offscreen_and_writes_only_to_openbench_home(
    built: Built, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    ob_home = home / "openbench"
    home.mkdir()
    bundle_before = {p: p.lstat().st_mtime_ns for p in built.folder.rglob("*")}
    env = _clean_env(home, OPENBENCH_HOME=str(ob_home), QT_QPA_PLATFORM="offscreen")

    proc = _run([str(built.exe), "--smoke"], env, timeout=240)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"--smoke failed ({proc.returncode}):\n{output[-6000:]}"
    _assert_no_import_errors(proc)
    assert "Traceback" not in output, output[-6000:]
    assert "smoke: OK" in proc.stdout
    # The demo run was stored by the frozen app, migrations and all, with its provenance:
    # the manifest's package versions come from metadata the spec must ship.
    db = ob_home / "data" / "openbench.sqlite3"
    with sqlite3.connect(db) as conn:
        status, manifest = conn.execute("SELECT status, manifest_json FROM runs").fetchone()
    assert status == "completed"
    versions = json.loads(manifest)["package_versions"]
    for package in ("httpx", "SQLAlchemy", "numpy", "scipy"):
        assert package in versions, f"{package} metadata missing from the bundle: {versions}"
    # Nothing written to the user's home outside OPENBENCH_HOME ...
    stray = sorted(
        rel
        for rel in _files_under(home)
        if not rel.startswith("openbench/") and not rel.startswith(ALLOWED_IN_HOME)
    )
    assert not stray, f"the frozen app wrote outside OPENBENCH_HOME: {stray}"
    # ... nor into the (possibly read-only) installed app folder.
    bundle_after = {p: p.lstat().st_mtime_ns for p in built.folder.rglob("*")}
    assert bundle_after == bundle_before, "the frozen app changed files in its own folder"


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_keyring_uses_a_real_secret_service_in_the_frozen_build(
    built: Built, tmp_path: Path
) -> None:
    """keyring finds its backends through entry points: the spec must ship them."""
    if not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")):
        pytest.skip("needs dbus-run-session and gnome-keyring (bash packaging/setup.sh --dev)")
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(home, OPENBENCH_HOME=str(home / "ob"))
    exe = str(built.exe)
    script = (
        "printf %s test-password | gnome-keyring-daemon --unlock --components=secrets "
        ">/dev/null 2>&1\n"
        f"printf %s fake-frozen-canary-0123456789 | '{exe}' keys set FROZEN_KEY\n"
        f"'{exe}' keys list\n"
        f"'{exe}' doctor --json\n"
    )
    proc = _run(["dbus-run-session", "--", "bash", "-ec", script], env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_no_import_errors(proc)
    assert "FROZEN_KEY" in proc.stdout
    doctor = json.loads(proc.stdout[proc.stdout.index("[{") :])
    checks = {check["name"]: check for check in doctor}
    assert checks["keyring"]["ok"], checks["keyring"]
    assert "SecretService" in checks["keyring"]["detail"]


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_speech_benchmark_runs_on_the_bundled_pocketsphinx_model(
    built: Built, tmp_path: Path
) -> None:
    """The ASR demo: the bundled en-us model, libsndfile and the bundled demo clips."""
    if "pocketsphinx" not in _doctor_installed(built):
        pytest.skip("the audio extra was not installed when the bundle was built")
    home = tmp_path / "home"
    home.mkdir()
    proc = _run(
        [str(built.exe), "run", "--benchmark", "asr", "--provider", "pocketsphinx",
         "--warmup", "0", "--limit", "2", "--json"],
        _clean_env(home, OPENBENCH_HOME=str(home / "ob")),
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_no_import_errors(proc)
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed" and summary["model"] == "en-us"
    assert (summary["n_ok"], summary["n_failed"]) == (2, 0)
    assert summary["wer"] is not None and summary["rtfx"] > 0


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_selfcheck_spawns_its_loopback_process_from_the_frozen_build(
    built: Built, tmp_path: Path
) -> None:
    """multiprocessing's spawn re-runs the frozen executable: freeze_support must catch it."""
    home = tmp_path / "home"
    home.mkdir()
    proc = _run(
        [str(built.exe), "selfcheck", "--quick", "--json"],
        _clean_env(home, OPENBENCH_HOME=str(home / "ob")),
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_no_import_errors(proc)
    report = json.loads(proc.stdout)
    assert report["accuracy"]["failed"] == 0 and report["accuracy"]["requests"] > 0
    assert report["ceiling"]["steps"]


# --- what is (and is not) in the bundle ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_bundle_carries_its_data_files(built: Built) -> None:
    pkg = built.internal / "openbench_desktop"
    migrations = pkg / "core" / "storage" / "migrations"
    assert (migrations / "env.py").is_file()
    assert (migrations / "script.py.mako").is_file()
    source = REPO_ROOT / "openbench_desktop" / "core" / "storage" / "migrations" / "versions"
    source_versions = {p.name for p in source.glob("*.py")}
    assert {p.name for p in (migrations / "versions").glob("*.py")} == source_versions
    assert (pkg / "core" / "benchmarks" / "data" / "gsm8k_demo.jsonl").is_file()
    resources = built.internal / "resources"
    assert (resources / f"{NAME}.desktop").is_file()
    assert (resources / "icons" / "hicolor" / "256x256" / "apps" / f"{NAME}.png").is_file()
    # Every file under resources/ (icons, the speech demo clips, ...) is in the bundle.
    assert _files_under(REPO_ROOT / "resources") <= _files_under(resources)
    assert list(built.internal.glob("keyring-*.dist-info")), "keyring metadata (entry points)"
    if "pocketsphinx" in _doctor_installed(built):
        model = built.internal / "pocketsphinx" / "model" / "en-us"
        assert model.is_dir() and any(model.rglob("*")), "the PocketSphinx English model"


def _doctor_installed(built: Built) -> set[str]:
    """Optional modules the frozen app itself reports as installed."""
    home = built.dist.parent / "doctor-home"
    home.mkdir(exist_ok=True)
    proc = _run([str(built.exe), "doctor", "--json"], _clean_env(home, OPENBENCH_HOME=str(home)))
    checks = json.loads(proc.stdout[proc.stdout.index("[{") :])
    return {c["name"] for c in checks if c.get("optional") and c["ok"]}


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_bundle_leaves_out_unused_modules_and_host_libraries(built: Built) -> None:
    names = {p.name for p in built.internal.iterdir()}
    for unwanted in UNWANTED_TOP_LEVEL:
        assert unwanted not in names, f"{unwanted} should not be bundled"
    qt_files = [p.name for p in (built.internal / "PySide6").rglob("*")]
    for module in UNWANTED_QT:
        hits = [name for name in qt_files if module in name]
        assert not hits, f"unused Qt module bundled: {hits[:5]}"
    dangling = [str(p) for p in built.folder.rglob("*") if p.is_symlink() and not p.exists()]
    assert not dangling, f"symlinks to files left out of the bundle: {dangling}"
    patterns = _host_lib_patterns()
    shipped_host_libs = sorted(
        p.name
        for p in built.internal.rglob("*.so*")
        if any(fnmatch.fnmatch(p.name, pat) for pat in patterns)
    )
    assert not shipped_host_libs, f"host libraries copied into the bundle: {shipped_host_libs}"


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_every_library_the_bundle_needs_is_shipped_or_a_declared_host_library(
    built: Built,
) -> None:
    """Each DT_NEEDED of each ELF file is in the bundle or listed in host-libs.txt."""
    shipped = {p.name for p in built.folder.rglob("*") if ".so" in p.name}
    patterns = _host_lib_patterns()
    elves = [
        p
        for p in built.folder.rglob("*")
        if p.is_file() and not p.is_symlink() and p.read_bytes()[:4] == b"\x7fELF"
    ]
    assert elves
    missing: dict[str, set[str]] = {}
    # objdump on many files at once: one process instead of hundreds.
    for start in range(0, len(elves), 200):
        chunk = elves[start : start + 200]
        out = subprocess.run(
            ["objdump", "-p", *map(str, chunk)], capture_output=True, text=True, check=True
        ).stdout
        current = ""
        for line in out.splitlines():
            if line.endswith("file format elf64-x86-64") or "file format elf" in line:
                current = Path(line.split(":")[0]).name
            elif line.strip().startswith("NEEDED"):
                lib = line.split()[-1]
                if lib not in shipped and not any(fnmatch.fnmatch(lib, p) for p in patterns):
                    missing.setdefault(lib, set()).add(current)
    assert not missing, f"libraries neither bundled nor declared host libraries: {missing}"


# --- the archive and its install scripts --------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_archive_installs_under_the_users_home_and_uninstalls(
    built: Built, tmp_path: Path
) -> None:
    archives = list(built.dist.glob(f"{NAME}-{__version__}-linux-*.tar.gz"))
    assert len(archives) == 1, list(built.dist.iterdir())
    base = archives[0].name.removesuffix(".tar.gz")
    with tarfile.open(archives[0]) as tar:
        members = set(tar.getnames())
        for wanted in (
            f"{base}/install.sh",
            f"{base}/uninstall.sh",
            f"{base}/README.txt",
            f"{base}/{NAME}.desktop",
            f"{base}/icons/hicolor/scalable/apps/{NAME}.svg",
            f"{base}/icons/hicolor/48x48/apps/{NAME}.png",
            f"{base}/{NAME}/{NAME}",
        ):
            assert wanted in members, wanted
        tar.extractall(tmp_path / "unpacked", filter="tar")
    unpacked = tmp_path / "unpacked" / base
    home = tmp_path / "home"
    (home / ".local" / "share" / NAME).mkdir(parents=True)
    user_data = home / ".local" / "share" / NAME / "openbench.sqlite3"
    user_data.write_text("the user's runs")
    env = _clean_env(home)

    proc = _run(["sh", str(unpacked / "install.sh")], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    local = home / ".local"
    link = local / "bin" / NAME
    assert link.is_symlink() and link.resolve() == local / "lib" / NAME / NAME
    desktop = local / "share" / "applications" / f"{NAME}.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(desktop)
    assert entry["Desktop Entry"]["Exec"] == str(link)
    assert entry["Desktop Entry"]["Icon"] == NAME
    assert (local / "share/icons/hicolor/256x256/apps" / f"{NAME}.png").is_file()
    assert (local / "share/icons/hicolor/scalable/apps" / f"{NAME}.svg").is_file()
    # The installed app runs through the symlink (the bootloader finds _internal/).
    version = _run([str(link), "--version"], env)
    assert version.returncode == 0 and __version__ in version.stdout, version.stderr
    # Installing again replaces the app in place.
    assert _run(["sh", str(unpacked / "install.sh")], env).returncode == 0

    proc = _run(["sh", str(local / "lib" / NAME / "uninstall.sh")], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not link.exists() and not link.is_symlink()
    assert not (local / "lib" / NAME).exists()
    assert not desktop.exists()
    assert not list((local / "share" / "icons").rglob(f"{NAME}.*"))
    assert user_data.read_text() == "the user's runs", "uninstall must keep the user's data"


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_deb_package_has_the_app_a_menu_entry_and_runs(built: Built, tmp_path: Path) -> None:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not available: no .deb was built")
    debs = list(built.dist.glob(f"{NAME}_{__version__}_*.deb"))
    assert len(debs) == 1, list(built.dist.iterdir())
    info = subprocess.run(
        ["dpkg-deb", "--field", str(debs[0]), "Package", "Version", "Depends"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert f"Package: {NAME}" in info and f"Version: {__version__}" in info
    assert "libxcb-cursor0" in info
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    assert os.readlink(root / "usr" / "bin" / NAME) == f"/opt/{NAME}/{NAME}"
    assert (root / "usr/share/applications" / f"{NAME}.desktop").is_file()
    assert (root / "usr/share/icons/hicolor/128x128/apps" / f"{NAME}.png").is_file()
    home = tmp_path / "home"
    home.mkdir()
    proc = _run([str(root / "opt" / NAME / NAME), "--version"], _clean_env(home))
    assert proc.returncode == 0 and __version__ in proc.stdout, proc.stderr


# --- fast checks of the build's inputs ---------------------------------------------------


def test_icons_are_rendered_from_the_current_svg() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "packaging" / "make_icons.py"), "--check"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_windows_and_macos_icon_containers_hold_every_size() -> None:
    import struct

    ico = (REPO_ROOT / "resources" / "icons" / f"{NAME}.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", ico)
    assert (reserved, kind) == (0, 1)
    sizes = {ico[6 + 16 * i] or 256 for i in range(count)}
    assert {16, 32, 48, 256} <= sizes
    icns = (REPO_ROOT / "resources" / "icons" / f"{NAME}.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    assert b"ic10" in icns and b"ic07" in icns


def test_desktop_entry_is_valid() -> None:
    path = REPO_ROOT / "resources" / f"{NAME}.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive in desktop entries
    entry.read(path)
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"] == NAME and section["Icon"] == NAME
    assert section["StartupWMClass"] == NAME  # Qt's default WM_CLASS: the executable name
    assert section["Categories"].endswith(";")
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_packaging_scripts_parse() -> None:
    for script in ("build.sh",):
        proc = subprocess.run(["bash", "-n", str(REPO_ROOT / "packaging" / script)])
        assert proc.returncode == 0, script
    for script in ("install.sh", "uninstall.sh"):
        proc = subprocess.run(["sh", "-n", str(REPO_ROOT / "packaging" / "linux" / script)])
        assert proc.returncode == 0, script
    spec = (REPO_ROOT / "packaging" / f"{NAME}.spec").read_text(encoding="utf-8")
    compile(spec, f"{NAME}.spec", "exec")
