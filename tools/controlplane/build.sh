#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go module proxy into
# a cache outside the repository, once per (Kubernetes version, go.sum) pair, and reuses them.
#
#   tools/controlplane/build.sh            build if missing, print the bin directory
#   KUBEPEER_CACHE_DIR=/x build.sh         cache root (default ~/.cache/kubepeer)
#   build.sh --force                       rebuild even when the cache is complete
#
# Each step is named in its error message with the command to retry it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$here/go.mod")"
sum_hash="$(cat "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go | sha256sum | cut -c1-12)"
cache_root="${KUBEPEER_CACHE_DIR:-$HOME/.cache/kubepeer}"
out="$cache_root/controlplane-$k8s_version-$sum_hash"
binaries=(etcd kube-apiserver kube-controller-manager kubectl)

complete() { for b in "${binaries[@]}"; do [ -x "$out/bin/$b" ] || return 1; done; }

if [ "${1:-}" != "--force" ] && complete; then echo "$out/bin"; exit 0; fi

fail() {
  echo "kubepeer: building the control plane failed at step '$1'." >&2
  echo "  retry with: bash $here/build.sh --force   (log: $out/build.log)" >&2
  exit 1
}

command -v go >/dev/null || { echo "kubepeer: Go is needed to build the control plane (go 1.25+ on PATH)." >&2; exit 1; }
mkdir -p "$out/bin"
: > "$out/build.log"
major="${k8s_version#v}"; major="${major%%.*}"
minor="${k8s_version#v*.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

cd "$here"
echo "kubepeer: downloading Go modules for Kubernetes $k8s_version and etcd $etcd_version..." >&2
go mod download >>"$out/build.log" 2>&1 || fail "go mod download"
for b in "${binaries[@]}"; do
  echo "kubepeer: building $b (first time only; a few minutes)..." >&2
  start=$SECONDS
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/bin/$b.tmp" "./cmd/$b" >>"$out/build.log" 2>&1 \
    || fail "go build $b"
  mv "$out/bin/$b.tmp" "$out/bin/$b"
  echo "kubepeer: built $b in $((SECONDS - start))s" >&2
done
echo "{\"kubernetes\":\"$k8s_version\",\"etcd\":\"$etcd_version\",\"buildSeconds\":$SECONDS}" > "$out/versions.json"
echo "$out/bin"
