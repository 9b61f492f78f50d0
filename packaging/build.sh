#!/usr/bin/env bash
# Build the packaged OpenBench Desktop (Linux), from a fresh clone, in one command:
#
#   bash packaging/build.sh            # bundle + .tar.gz
#   bash packaging/build.sh --deb      # also a .deb
#
# Leaves:
#   dist/openbench-desktop/openbench-desktop                     the one-folder app
#   dist/openbench-desktop-<version>-linux-<arch>.tar.gz         it + .desktop + icons + install.sh
#   dist/openbench-desktop_<version>_<debarch>.deb               with --deb
#
# Options:
#   --deb            also build a .deb (needs dpkg-deb, which Debian and Ubuntu have)
#   --no-archive     only the one-folder bundle
#   --clean          drop PyInstaller's cached analysis first
#   --dist DIR       output folder (default: dist)
#   --work DIR       PyInstaller's work folder and cache (default: build/pyinstaller)
#
# Needs objdump (binutils) and a shared libpython (libpython3.11 on Debian); installs
# PyInstaller and the audio extra into .venv when they are missing. On Windows and macOS run
# PyInstaller on packaging/openbench-desktop.spec directly: see docs/PACKAGING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

name=openbench-desktop
dist=dist
work=build/pyinstaller
make_archive=1
make_deb=0
clean=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) make_deb=1; shift ;;
    --no-archive) make_archive=0; shift ;;
    --clean) clean="--clean"; shift ;;
    --dist) dist=${2:?--dist needs a folder}; shift 2 ;;
    --work) work=${2:?--work needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$dist" "$work"
dist=$(cd "$dist" && pwd)
work=$(cd "$work" && pwd)

say() { printf '==> %s\n' "$*"; }

# --- prerequisites ---------------------------------------------------------------------
if ! command -v objdump >/dev/null 2>&1; then
  echo "error: PyInstaller needs objdump to collect shared libraries." >&2
  echo "       Install binutils (Debian/Ubuntu: sudo apt-get install binutils)," >&2
  echo "       or run: bash packaging/setup.sh --dev" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "no .venv yet: running packaging/setup.sh"
  bash packaging/setup.sh
fi
py=.venv/bin/python
if ! "$py" -c 'import sysconfig, sys; sys.exit(not sysconfig.get_config_var("Py_ENABLE_SHARED"))'; then
  libpy=$("$py" -c 'import sys; print(f"libpython{sys.version_info[0]}.{sys.version_info[1]}")')
  if ! ldconfig -p 2>/dev/null | grep "$libpy.so" >/dev/null; then
    echo "error: PyInstaller needs the shared Python library ($libpy.so)." >&2
    echo "       Debian/Ubuntu: sudo apt-get install $libpy" >&2
    exit 1
  fi
fi
extra() {  # the requirements of one optional-dependencies group of pyproject.toml
  "$py" -c 'import sys, tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"][sys.argv[1]]))' "$1"
}
if ! "$py" -c 'import PyInstaller' 2>/dev/null; then
  build_reqs=$(extra build)
  say "installing PyInstaller into .venv: $build_reqs"
  # shellcheck disable=SC2086
  "$py" -m pip install -q $build_reqs
fi
# The packaged app promises local speech recognition: bundle the audio extra (PocketSphinx
# and its English model). A build without network still succeeds, without it.
audio_reqs=$(extra audio)
if ! "$py" -c 'import pocketsphinx, soundfile, jiwer, soxr' 2>/dev/null; then
  say "installing the audio extra into .venv: $audio_reqs"
  # shellcheck disable=SC2086
  "$py" -m pip install -q $audio_reqs || echo "warning: audio extra not installed; the bundle will lack it" >&2
fi

version=$("$py" -c 'import openbench_desktop; print(openbench_desktop.__version__)')
arch=$(uname -m)

# PyInstaller keeps a cache of analysed binaries in its config folder: keep it here, not in
# the user's home. A lock keeps two builds into the same folders from interleaving.
export PYINSTALLER_CONFIG_DIR="$work/config"
exec 9>"$work/.lock"
flock 9

# --- the one-folder bundle --------------------------------------------------------------
say "building $name $version with PyInstaller ($("$py" -m PyInstaller --version))"
started=$(date +%s)
# shellcheck disable=SC2086
"$py" -m PyInstaller --noconfirm $clean --log-level WARN \
  --distpath "$dist" --workpath "$work" packaging/$name.spec
exe="$dist/$name/$name"
[ -x "$exe" ] || { echo "error: PyInstaller did not produce $exe" >&2; exit 1; }
# Debug symbols: a pyenv-built libpython keeps them (17 MB of its 23), and so do a few
# Cython extensions. Strip only files that carry a .debug_info section, and never the
# auditwheel-repaired libraries in *.libs/ (rewriting a patchelf-ed file can corrupt it).
stripped=0
while IFS= read -r -d '' lib; do
  # (grep without -q: with pipefail, -q's early exit would fail the pipe on big files)
  if objdump -h "$lib" 2>/dev/null | grep '\.debug_info' >/dev/null; then
    strip --strip-debug "$lib" && stripped=$((stripped + 1))
  fi
done < <(find "$dist/$name" -type f -name '*.so*' ! -path '*.libs/*' -print0)
say "stripped debug symbols from $stripped libraries"
"$exe" --version
say "bundle: $dist/$name ($(du -sh "$dist/$name" | cut -f1), built in $(( $(date +%s) - started )) s)"

# --- the archive: bundle + .desktop + icons + install/uninstall scripts ------------------
stage_extras() {  # $1: folder to fill with the files that sit beside the bundle
  mkdir -p "$1/icons/hicolor/scalable/apps"
  cp resources/$name.desktop "$1/"
  cp -R resources/icons/hicolor/. "$1/icons/hicolor/"
  cp resources/$name.svg "$1/icons/hicolor/scalable/apps/$name.svg"
}

if [ "$make_archive" = 1 ]; then
  base="$name-$version-linux-$arch"
  stage="$work/archive/$base"
  rm -rf "$work/archive"
  mkdir -p "$stage"
  # Hard links: the bundle is ~200 MB and only tar reads it.
  cp -al "$dist/$name" "$stage/$name"
  stage_extras "$stage"
  cp packaging/linux/install.sh packaging/linux/uninstall.sh "$stage/"
  chmod 755 "$stage/install.sh" "$stage/uninstall.sh"
  cat > "$stage/README.txt" <<EOF
OpenBench Desktop $version for Linux ($arch)

Install for your user (no root needed):   ./install.sh
Run without installing:                   ./$name/$name
Remove:                                   ~/.local/lib/$name/uninstall.sh

Needs a desktop with X11 or Wayland and the usual graphics libraries (Debian/Ubuntu:
libegl1 libgl1 libxkbcommon-x11-0 libxcb-cursor0 and friends; see docs/PACKAGING.md).
Your runs, settings and logs are kept in your user folders (or \$OPENBENCH_HOME),
never inside the installed app.
EOF
  archive="$dist/$base.tar.gz"
  say "archive: $archive"
  tar -C "$work/archive" -czf "$archive.part" "$base"
  mv "$archive.part" "$archive"
  rm -rf "$work/archive"
  say "archive: $(du -h "$archive" | cut -f1)"
fi

# --- the .deb (optional): /opt/openbench-desktop, a /usr/bin link, menu entry, icons ----
if [ "$make_deb" = 1 ]; then
  if ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "error: --deb needs dpkg-deb (Debian/Ubuntu)" >&2
    exit 1
  fi
  debarch=$(dpkg --print-architecture)
  root_dir="$work/deb/root"
  rm -rf "$work/deb"
  mkdir -p "$root_dir/opt" "$root_dir/usr/bin" "$root_dir/usr/share/applications" \
    "$root_dir/usr/share/icons" "$root_dir/DEBIAN"
  cp -al "$dist/$name" "$root_dir/opt/$name"
  ln -s "/opt/$name/$name" "$root_dir/usr/bin/$name"
  extras="$work/deb/extras"
  stage_extras "$extras"
  cp "$extras/$name.desktop" "$root_dir/usr/share/applications/"
  cp -R "$extras/icons/hicolor" "$root_dir/usr/share/icons/"
  installed_kb=$(du -sk --exclude=DEBIAN "$root_dir" | cut -f1)
  # The system libraries the bundled Qt loads (the bundle carries Python, Qt and the rest).
  cat > "$root_dir/DEBIAN/control" <<EOF
Package: $name
Version: $version
Section: science
Priority: optional
Architecture: $debarch
Maintainer: OpenBench Desktop developers <noreply@openbench.invalid>
Installed-Size: $installed_kb
Depends: libc6, libegl1, libgl1, libglib2.0-0, libdbus-1-3, libfontconfig1, libfreetype6, fonts-dejavu-core | fonts-freefont-ttf, libxkbcommon0, libx11-6, libx11-xcb1, libxkbcommon-x11-0, libxcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xfixes0, libxcb-xkb1
Recommends: gnome-keyring | kwalletmanager
Description: Benchmark AI models on your own workstation
 OpenBench Desktop measures the quality, speed and cost of AI models served by
 OpenAI-compatible or Anthropic endpoints (vLLM, Ollama, LM Studio, llama.cpp,
 hosted APIs), with live charts, run history and comparisons. This package is
 a self-contained build: it bundles Python, Qt and the other libraries.
EOF
  deb="$dist/${name}_${version}_${debarch}.deb"
  say "deb: $deb"
  # gzip -6 rather than the default xz (or gzip -9): several times faster to build, ~15%
  # larger.
  dpkg-deb --root-owner-group -Zgzip -z6 --build "$root_dir" "$deb" >/dev/null
  rm -rf "$work/deb"
  say "deb: $(du -h "$deb" | cut -f1)"
fi
say "done"
