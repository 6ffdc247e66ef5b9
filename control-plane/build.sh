#!/usr/bin/env bash
# Builds kube-apiserver, kube-scheduler, kubectl (k8s.io/kubernetes at the release go.mod pins) and
# etcd (go.etcd.io/etcd/server/v3 at the version that release requires) into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/pod-dag-action/control-plane/<k8s-version>-etcd<etcd-version>/
# and prints that directory on stdout. When all four binaries are already there it prints it at
# once and builds nothing. Progress and timings go to stderr.
# Environment: POD_DAG_CONTROL_PLANE_DIR overrides the output directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

k8s_version="$(sed -n 's/^K8S_VERSION=//p' versions.env)"
# The etcd version is whatever go.mod resolved (k8s.io/kubernetes requires it), read from go.mod
# itself so the cache key cannot drift from what is built.
etcd_version="$(sed -n 's/^\s*go\.etcd\.io\/etcd\/server\/v3 \(v[^ ]*\).*$/\1/p;s/^require go\.etcd\.io\/etcd\/server\/v3 \(v[^ ]*\).*$/\1/p' go.mod | head -1)"
[ -n "$k8s_version" ] && [ -n "$etcd_version" ] || { echo "build.sh: cannot read the pinned versions from versions.env/go.mod" >&2; exit 1; }

out="${POD_DAG_CONTROL_PLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-dag-action/control-plane/${k8s_version}-etcd${etcd_version#v}}"
binaries=(kube-apiserver kube-scheduler kubectl etcd)
complete=1
for b in "${binaries[@]}"; do [ -x "$out/$b" ] || complete=0; done
if [ "$complete" = 1 ]; then echo "$out"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: Go is not on PATH; install Go $(sed -n 's/^go //p' go.mod) or newer" >&2; exit 1; }
mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# The version stamps `kubectl version` and /version show, as upstream's hack/lib/version.sh sets
# them. The build date is the release's own publication time, so two builds are byte-identical.
minor="${k8s_version#v1.}"; minor="${minor%%.*}"
release_time="$(go mod download -json "k8s.io/kubernetes@${k8s_version}" | sed -n 's/^\s*"Info": "\(.*\)",$/\1/p' | xargs sed -n 's/.*"Time":"\([^"]*\)".*/\1/p')"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${k8s_version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitCommit= -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${release_time:-1970-01-01T00:00:00Z}"
done

export CGO_ENABLED=0 GOFLAGS=-mod=readonly
start=$(date +%s)
echo "build.sh: building Kubernetes ${k8s_version} and etcd ${etcd_version} into $out (cold: tens of minutes on 2 cores)" >&2
nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
nice -n 10 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" ./cmd/etcd
for b in "${binaries[@]}"; do mv -f "$tmp/$b" "$out/$b"; done
echo "build.sh: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
