#!/usr/bin/env bash
# Build a real kube-apiserver (v1.20.2) from Debian bookworm's `kubernetes` source package,
# offline, with Debian's golang-1.19, and cache it. Prints the binary's path on stdout.
#
#   scripts/build-kube-apiserver.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $KENTRA_CACHE_DIR, else ~/.cache/kentra. The binary depends only on the
# source package's version, so a second run prints the cached path at once.
# Needs: golang-1.19 and rsync (Debian), apt-get, tar, make, flock (util-linux). Does not touch the system's apt configuration.
set -euo pipefail

cache="${1:-${KENTRA_CACHE_DIR:-$HOME/.cache/kentra}}"
version=v1.20.2
out="$cache/kube-apiserver-$version/kube-apiserver"
cached() { [ -x "$out" ] && "$out" --version 2>/dev/null | grep -q "$version"; }
if cached; then
  echo "$out"; exit 0
fi

# One build per cache folder: a second run started meanwhile (two test files at once) waits for the
# first on this lock, then finds the binary cached. The lock is released when this process exits.
mkdir -p "$cache"
lock="$cache/.build-kube-apiserver.lock"
exec 9>"$lock"
if ! flock --nonblock 9; then
  echo "build-kube-apiserver: waiting for another build of kube-apiserver $version in $cache (lock $lock)" >&2
  waited=$SECONDS
  flock 9
  echo "build-kube-apiserver: the other build finished after $((SECONDS - waited)) s" >&2
fi
if cached; then
  echo "$out"; exit 0
fi
started=$SECONDS
echo "build-kube-apiserver: building kube-apiserver $version into $cache (about 10 minutes on 2 cores; later runs use the cache)" >&2

goroot=""
for d in /usr/lib/go-1.19 /usr/lib/go-1.21 /usr/lib/go; do
  if [ -x "$d/bin/go" ]; then goroot="$d"; break; fi
done
[ -n "$goroot" ] || { echo "build-kube-apiserver: Go not found (install Debian's golang-1.19)" >&2; exit 2; }
command -v rsync >/dev/null || { echo "build-kube-apiserver: rsync not found (install Debian's rsync: Kubernetes' build scripts use it)" >&2; exit 2; }

work="$cache/build-$version"
rm -rf "$work"; mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
echo "deb-src http://deb.debian.org/debian bookworm main" > "$work/apt/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o APT::Sandbox::User=root)
echo "build-kube-apiserver: fetching Debian's kubernetes source package" >&2
apt-get "${aptopts[@]}" -q update >&2
( cd "$work/src" && apt-get "${aptopts[@]}" -q source --download-only kubernetes >&2 )
orig=$(ls "$work"/src/kubernetes_*.orig.tar.* | head -n 1)
mkdir -p "$work/gopath/src/k8s.io" "$work/tree"
tar -xf "$orig" -C "$work/tree" --strip-components=1
ln -s "$work/tree" "$work/gopath/src/k8s.io/kubernetes"

export PATH="$goroot/bin:$PATH" GOPATH="$work/gopath" GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
  GOCACHE="$work/gocache"
cd "$work/gopath/src/k8s.io/kubernetes"
echo "build-kube-apiserver: generating OpenAPI definitions" >&2
make gen_openapi >&2
echo "build-kube-apiserver: compiling (about 3 minutes on 2 cores)" >&2
v="-X k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitVersion=$version -X k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitMajor=1 -X k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitMinor=20"
v="$v -X k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version.gitMinor=20"
mkdir -p "$(dirname "$out")"
go build -ldflags "-s -w $v" -o "$out.tmp" ./cmd/kube-apiserver >&2
mv "$out.tmp" "$out"
cd / && rm -rf "$work"
echo "build-kube-apiserver: built $out in $((SECONDS - started)) s" >&2
echo "$out"
