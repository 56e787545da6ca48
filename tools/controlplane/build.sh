#!/usr/bin/env bash
# Builds every Go binary a kubepeer local cluster runs, from the Go module proxy, into one cache
# outside the repository, once per set of pins, and reuses them:
#   tools/controlplane  etcd, kube-apiserver, kube-controller-manager, kubectl, kubelet,
#                       kube-proxy, kube-scheduler (Kubernetes and etcd share their pins)
#   tools/containerd    containerd, containerd-shim-runc-v2, ctr (containerd v2, pins of its own)
#   tools/coredns       coredns (pins of its own)
#
#   tools/controlplane/build.sh            build what is missing, print the bin directory
#   KUBEPEER_CACHE_DIR=/x build.sh         cache root (default ~/.cache/kubepeer)
#   build.sh --force                       rebuild even when the cache is complete
#
# One progress line per binary on stderr; each failure names the step and how to retry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$(dirname "$here")"
k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$here/go.mod")"
# `require mod vX` or a line of a require block
module_version() { awk -v m="$1" '{ for (i = 1; i < NF; i++) if ($i == m) { print $(i + 1); exit } }' "$2"; }
containerd_version="$(module_version github.com/containerd/containerd/v2 "$tools/containerd/go.mod")"
coredns_version="$(module_version github.com/coredns/coredns "$tools/coredns/go.mod")"
[ -n "$containerd_version" ] && [ -n "$coredns_version" ] || { echo "kubepeer: cannot read the containerd/CoreDNS versions from tools/*/go.mod" >&2; exit 1; }
sum_hash="$(cat "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go "$tools"/containerd/go.* "$tools"/coredns/go.* "$tools"/*/tools.go | sha256sum | cut -c1-12)"
cache_root="${KUBEPEER_CACHE_DIR:-$HOME/.cache/kubepeer}"
out="$cache_root/controlplane-$k8s_version-$sum_hash"

# name|module directory|package to build
targets=(
  "etcd|$here|./cmd/etcd"
  "kube-apiserver|$here|./cmd/kube-apiserver"
  "kube-controller-manager|$here|./cmd/kube-controller-manager"
  "kubectl|$here|./cmd/kubectl"
  "kube-scheduler|$here|./cmd/kube-scheduler"
  "kube-proxy|$here|./cmd/kube-proxy"
  "kubelet|$here|./cmd/kubelet"
  "containerd|$tools/containerd|github.com/containerd/containerd/v2/cmd/containerd"
  "containerd-shim-runc-v2|$tools/containerd|github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
  "ctr|$tools/containerd|github.com/containerd/containerd/v2/cmd/ctr"
  "coredns|$tools/coredns|github.com/coredns/coredns"
)
only="${KUBEPEER_BUILD_ONLY:-}"   # optional space-separated subset (used by the set-up to order work)

complete() {
  for t in "${targets[@]}"; do [ -x "$out/bin/${t%%|*}" ] || return 1; done
}

if [ "${1:-}" != "--force" ] && complete; then echo "$out/bin"; exit 0; fi

fail() {
  echo "kubepeer: building the local-cluster binaries failed at step '$1'." >&2
  echo "  retry with: bash $here/build.sh   (log: $out/build.log)" >&2
  exit 1
}

command -v go >/dev/null || { echo "kubepeer: Go is needed to build the local-cluster binaries (go 1.25+ on PATH)." >&2; exit 1; }
mkdir -p "$out/bin"
# One build at a time per cache (a test run and `npm start` may both ask for it).
exec 9>"$out/.lock"
flock 9
if [ "${1:-}" != "--force" ] && complete; then echo "$out/bin"; exit 0; fi
touch "$out/build.log" "$out/build-seconds.tsv"
major="${k8s_version#v}"; major="${major%%.*}"
minor="${k8s_version#v*.}"; minor="${minor%%.*}"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

for dir in "$here" "$tools/containerd" "$tools/coredns"; do
  echo "kubepeer: downloading Go modules for $(basename "$dir")..." >&2
  (cd "$dir" && go mod download) >>"$out/build.log" 2>&1 || fail "go mod download in $dir"
done

for t in "${targets[@]}"; do
  IFS='|' read -r name dir pkg <<<"$t"
  [ -x "$out/bin/$name" ] && [ "${1:-}" != "--force" ] && continue
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  start=$SECONDS
  case "$name" in
    containerd*|ctr)
      flags=(-tags "no_btrfs no_devmapper no_zfs urfave_cli_no_docs"
             -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd_version") ;;
    coredns)
      flags=(-ldflags "-s -w") ;;
    *)
      flags=(-ldflags "$k8s_ldflags") ;;
  esac
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath "${flags[@]}" -o "$out/bin/$name.tmp" "$pkg") >>"$out/build.log" 2>&1 \
    || fail "go build $name"
  mv "$out/bin/$name.tmp" "$out/bin/$name"
  printf '%s\t%s\n' "$name" "$((SECONDS - start))" >> "$out/build-seconds.tsv"
  echo "kubepeer: built $name in $((SECONDS - start))s" >&2
done

if complete; then
  total="$(awk '{ s += $2 } END { print s + 0 }' "$out/build-seconds.tsv")"
  echo "{\"kubernetes\":\"$k8s_version\",\"etcd\":\"$etcd_version\",\"containerd\":\"$containerd_version\",\"coredns\":\"$coredns_version\",\"buildSeconds\":$total}" > "$out/versions.json"
fi
echo "$out/bin"
