#!/usr/bin/env bash
# Puts the `sparse-soups` command on PATH: a symlink to this checkout's
# dist/src/cli/main.js, in /usr/local/bin when run as root, else in
# ~/.local/bin (or in $SPARSE_SOUPS_BIN_DIR when set). scripts/setup.sh runs
# it. Idempotent; it says what it did, and what the link pointed to before
# when it replaces a link to another checkout.
#
#   bash scripts/link-cli.sh
#   SPARSE_SOUPS_BIN_DIR=/opt/bin bash scripts/link-cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target="$PWD/dist/src/cli/main.js"
if [ ! -f "$target" ]; then
  echo "link-cli: $target is missing: build it first (npm run build:ts)" >&2
  exit 1
fi
chmod +x "$target" # tsc writes it without the executable bit

if [ -n "${SPARSE_SOUPS_BIN_DIR:-}" ]; then
  dir="$SPARSE_SOUPS_BIN_DIR"
elif [ "$(id -u)" -eq 0 ]; then
  dir=/usr/local/bin
else
  dir="$HOME/.local/bin"
fi
mkdir -p "$dir"
link="$dir/sparse-soups"

if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
  echo "link-cli: $link already points to $target"
elif [ -e "$link" ] && [ ! -L "$link" ]; then
  echo "link-cli: $link exists and is not a symlink; left as it is (remove it to put this checkout's command there)" >&2
  exit 1
else
  previous=""
  if [ -L "$link" ]; then previous="$(readlink "$link")"; fi
  ln -sfn "$target" "$link"
  echo "link-cli: linked $link -> $target${previous:+ (it pointed to $previous)}"
fi

case ":$PATH:" in
  *":$dir:"*) ;;
  *) echo "link-cli: $dir is not on PATH; add it with: export PATH=\"$dir:\$PATH\"" ;;
esac
