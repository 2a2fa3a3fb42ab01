#!/usr/bin/env bash
# Build one upstream Go program at a pinned version from the Go module proxy, and cache it.
# Prints the binary's path on stdout (a second run prints the cached path at once).
#
#   scripts/build-go-tool.sh kubelogin|helm|etcd|kube-apiserver|guard|hydra [CACHE_DIR]
#
# CACHE_DIR defaults to $KENTRA_CACHE_DIR, else ~/.cache/kentra. Needs Go (1.26, from PATH or
# /usr/local/go) and flock. Two runs at once for the same tool wait for each other (a lock per tool).
# Modules whose go.mod has replace directives (etcd's server, Kubernetes) are built through a
# throw-away wrapper module that requires them at published versions (see docs/development.md).
set -euo pipefail

tool="${1:?usage: build-go-tool.sh kubelogin|helm|etcd|kube-apiserver|guard|hydra [CACHE_DIR]}"
cache="${2:-${KENTRA_CACHE_DIR:-$HOME/.cache/kentra}}"

case "$tool" in
  kubelogin)      version=v0.2.19;  minutes=3 ;;
  helm)           version=v3.21.4;  minutes=4 ;;
  etcd)           version=v3.6.16;  minutes=3 ;;
  kube-apiserver) version=v1.36.3;  minutes=12 ;;
  guard)          version=v0.16.28; minutes=5 ;;
  hydra)          version=v2.3.0;   minutes=8 ;;
  *) echo "build-go-tool: unknown tool $tool (kubelogin, helm, etcd, kube-apiserver, guard, hydra)" >&2; exit 2 ;;
esac

dir="$cache/$tool-$version"
out="$dir/$tool"
stamp="$dir/.built"
cached() { [ -x "$out" ] && [ -f "$stamp" ]; }
if cached; then echo "$out"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/.build-$tool.lock"
if ! flock --nonblock 9; then
  echo "build-go-tool: waiting for another build of $tool $version in $cache" >&2
  waited=$SECONDS
  flock 9
  echo "build-go-tool: the other build of $tool finished after $((SECONDS - waited)) s" >&2
fi
if cached; then echo "$out"; exit 0; fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null 2>&1 || { echo "build-go-tool: Go not found (Go 1.26 is needed)" >&2; exit 2; }

started=$SECONDS
echo "build-go-tool: building $tool $version with $(go env GOVERSION) into $dir (about $minutes minutes on 2 cores; later runs use the cache)" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/kentra-build-$tool.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOWORK=off
cd "$work"

# go's download lines are many: keep them in a log, shown only when the step fails.
quiet() { "$@" >"$work/step.log" 2>&1 || { cat "$work/step.log" >&2; return 1; }; }

# A wrapper module: `go get -tool` records the program at its pinned version, then `go build`.
wrapper() {
  go mod init example.invalid/kentra-build-"$tool" >/dev/null 2>&1
  [ $# -gt 0 ] && printf '%s\n' "$@" >>go.mod
  quiet go get -tool "$pkg@$version"
}

case "$tool" in
  kubelogin)
    pkg=github.com/Azure/kubelogin; wrapper
    go build -trimpath -o "$out.tmp" -ldflags "-s -w -X main.gitTag=$version" "$pkg" >&2 ;;
  helm)
    # Without these flags helm 3 calls itself v3.21 and assumes Kubernetes 1.20 where no cluster is asked.
    pkg=helm.sh/helm/v3/cmd/helm; wrapper
    kmin=$(go list -m -f '{{.Version}}' k8s.io/client-go | sed -E 's/^v0\.([0-9]+)\..*/\1/')
    go build -trimpath -o "$out.tmp" -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kmin \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kmin" "$pkg" >&2 ;;
  etcd)
    pkg=go.etcd.io/etcd/server/v3; wrapper
    go build -trimpath -o "$out.tmp" -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$version" "$pkg" >&2 ;;
  kube-apiserver)
    # k8s.io/kubernetes replaces its staging modules with ./staging/...; restate them at the published tags.
    minor=$(echo "$version" | cut -d. -f2); staging="v0.${version#v1.}"
    kmod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\s*"GoMod": "\(.*\)",*$/\1/p')
    golang=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$kmod" | head -n 1)
    mapfile -t replaces < <(grep -E '^\s+k8s\.io/[a-z0-9-]+ => \./staging/' "$kmod" | awk -v s="$staging" '{print "replace " $1 " => " $1 " " s}')
    pkg=k8s.io/kubernetes/cmd/kube-apiserver
    go mod init example.invalid/kentra-build-"$tool" >/dev/null 2>&1
    go mod edit -go="$golang"
    printf '%s\n' "godebug default=go$(echo "$golang" | cut -d. -f1-2)" "${replaces[@]}" >>go.mod
    quiet go get -tool "$pkg@$version"
    v="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
    v="$v -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
    v="$v -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    go build -trimpath -o "$out.tmp" -ldflags "-s -w $v" "$pkg" >&2 ;;
  guard)
    pkg=go.kubeguard.dev/guard; wrapper
    go build -trimpath -o "$out.tmp" -ldflags "-s -w -X main.Version=$version -X main.GitTag=$version" "$pkg" >&2 ;;
  hydra)
    # Ory Hydra, the token bench's second peer (docs/performance.md). v2.3.0 is the last release the proxy
    # serves as /v2; its go.mod replaces pop with Ory's fork (restated here). The in-memory store is SQLite,
    # compiled only with cgo and the sqlite tag (gcc and libc6-dev; SQLite itself comes with go-sqlite3).
    command -v gcc >/dev/null 2>&1 || { echo "build-go-tool: hydra needs gcc (cgo, for its in-memory SQLite store)" >&2; exit 2; }
    pkg=github.com/ory/hydra/v2
    wrapper 'replace github.com/gobuffalo/pop/v6 => github.com/ory/pop/v6 v6.2.1-0.20241121111754-e5dfc0f3344b'
    CGO_ENABLED=1 go build -trimpath -tags sqlite,sqlite_omit_load_extension -o "$out.tmp" \
      -ldflags "-s -w -X github.com/ory/hydra/v2/driver/config.Version=$version" "$pkg" >&2 ;;
esac
mv "$out.tmp" "$out"
touch "$stamp"
echo "build-go-tool: built $tool $version in $((SECONDS - started)) s" >&2
echo "$out"
