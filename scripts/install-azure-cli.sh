#!/usr/bin/env bash
# Install the current Azure CLI from PyPI (pinned) into a virtual environment in the cache, once.
# Prints the path of its `az` on stdout (a second run prints it at once).
#
#   scripts/install-azure-cli.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $KENTRA_CACHE_DIR, else ~/.cache/kentra. Needs Python 3.11 with venv and pip
# (Debian: python3-venv) and flock. Debian's own azure-cli (2.45) is a different, older client that
# the tests also use; this one is what users install today.
set -euo pipefail

version=2.91.0
cache="${1:-${KENTRA_CACHE_DIR:-$HOME/.cache/kentra}}"
venv="$cache/azure-cli-$version"
out="$venv/bin/az"
stamp="$venv/.installed"
if [ -x "$out" ] && [ -f "$stamp" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/.install-azure-cli.lock"
if ! flock --nonblock 9; then
  echo "install-azure-cli: waiting for another install of azure-cli $version in $cache" >&2
  flock 9
fi
if [ -x "$out" ] && [ -f "$stamp" ]; then echo "$out"; exit 0; fi

started=$SECONDS
echo "install-azure-cli: installing azure-cli $version from PyPI into $venv (a few minutes; later runs use it)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-input "azure-cli==$version" >&2
AZURE_CONFIG_DIR="$(mktemp -d)" "$out" version --query '"azure-cli"' -o tsv >/dev/null
touch "$stamp"
echo "install-azure-cli: installed azure-cli $version in $((SECONDS - started)) s" >&2
echo "$out"
