#!/bin/sh
# Remove OpenBench Desktop installed by install.sh. Lives in PREFIX/lib/openbench-desktop/
# after installing, and works out PREFIX from there (or pass --prefix DIR).
# Keeps your data: runs, settings and logs stay in the user folders it prints at the end.
set -eu

name=openbench-desktop
here=$(cd "$(dirname "$0")" && pwd)
prefix=""
if [ "$(basename "$here")" = "$name" ] && [ "$(basename "$(dirname "$here")")" = lib ]; then
  prefix=$(dirname "$(dirname "$here")")
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || prefix="${HOME:?HOME is not set}/.local"

app_dir="$prefix/lib/$name"
bin_link="$prefix/bin/$name"
apps_dir="$prefix/share/applications"
icons_dir="$prefix/share/icons/hicolor"

# Only a link that points into our folder is ours to delete.
if [ -L "$bin_link" ] && [ "$(readlink "$bin_link")" = "$app_dir/$name" ]; then
  rm -f "$bin_link"
fi
rm -f "$apps_dir/$name.desktop"
for icon in "$icons_dir"/*/apps/"$name".png "$icons_dir"/*/apps/"$name".svg; do
  [ -e "$icon" ] && rm -f "$icon"
done
if [ -f "$app_dir/uninstall.sh" ]; then
  rm -rf "$app_dir"
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps_dir" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons_dir" 2>/dev/null || true

echo "Removed OpenBench Desktop from $prefix."
echo "Your data was kept: ${XDG_DATA_HOME:-$HOME/.local/share}/$name, ${XDG_CONFIG_HOME:-$HOME/.config}/$name,"
echo "${XDG_STATE_HOME:-$HOME/.local/state}/$name and ${XDG_CACHE_HOME:-$HOME/.cache}/$name (delete them to remove it too)."
