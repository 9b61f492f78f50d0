#!/bin/sh
# Install OpenBench Desktop from this unpacked archive, for the current user (no root):
#   ./install.sh                   # under ~/.local
#   ./install.sh --prefix DIR      # e.g. sudo ./install.sh --prefix /usr/local
# Puts the app in PREFIX/lib/openbench-desktop, a link in PREFIX/bin, the menu entry in
# PREFIX/share/applications and the icons in PREFIX/share/icons/hicolor.
# Your runs, settings and logs live elsewhere (the platform's user folders, or
# $OPENBENCH_HOME): installing again, upgrading or uninstalling never touches them.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix="${HOME:?HOME is not set}/.local"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac

name=openbench-desktop
app_dir="$prefix/lib/$name"
bin_dir="$prefix/bin"
apps_dir="$prefix/share/applications"
icons_dir="$prefix/share/icons/hicolor"

[ -x "$here/$name/$name" ] || { echo "install.sh: $here/$name/$name not found: run me from the unpacked archive" >&2; exit 1; }

# Replace an earlier install only if it is ours (marked by uninstall.sh beside it).
if [ -e "$app_dir" ] && [ ! -f "$app_dir/uninstall.sh" ]; then
  echo "install.sh: $app_dir exists and is not an OpenBench Desktop install; not touching it" >&2
  exit 1
fi
mkdir -p "$prefix/lib" "$bin_dir" "$apps_dir" "$icons_dir"
# Copy next to the target, then swap: a failed copy leaves the old install working.
staging="$app_dir.new.$$"
rm -rf "$staging"
cp -R "$here/$name" "$staging"
cp "$here/uninstall.sh" "$staging/uninstall.sh"
chmod 755 "$staging/uninstall.sh"
rm -rf "$app_dir"
mv "$staging" "$app_dir"

ln -sfn "$app_dir/$name" "$bin_dir/$name"

# The menu entry runs the absolute path: ~/.local/bin is not on every desktop's PATH.
sed -e "s|^Exec=.*|Exec=$bin_dir/$name|" -e "s|^TryExec=.*|TryExec=$bin_dir/$name|" \
  "$here/$name.desktop" > "$apps_dir/$name.desktop"
chmod 644 "$apps_dir/$name.desktop"

for dir in "$here"/icons/hicolor/*/apps; do
  size=$(basename "$(dirname "$dir")")
  mkdir -p "$icons_dir/$size/apps"
  cp "$dir/$name".* "$icons_dir/$size/apps/"
done

# Refresh the menu and icon caches when the tools exist (desktop environments also notice
# on their own, a little later).
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps_dir" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons_dir" 2>/dev/null || true

echo "Installed OpenBench Desktop $("$app_dir/$name" --version 2>/dev/null | awk '{print $NF}') in $app_dir"
echo "  start it from your applications menu, or run: $bin_dir/$name"
case ":${PATH:-}:" in *":$bin_dir:"*) ;; *) echo "  ($bin_dir is not on your PATH)" ;; esac
echo "  to remove it: $app_dir/uninstall.sh"
