#!/usr/bin/env bash
# Pins control-plane/go.mod to one Kubernetes release: requires k8s.io/kubernetes@$K8S_VERSION,
# adds the commands we build as `tool`s, and replaces every staging module (which the release's
# go.mod requires at v0.0.0 and points at ./staging/src/...) with its published v0.MINOR.PATCH.
# The replace list is read from that release's own go.mod, never written by hand.
# Usage: control-plane/pin.sh [v1.36.3]   (then commit go.mod and go.sum)
set -euo pipefail
cd "$(dirname "$0")"
K8S_VERSION="${1:-$(sed -n 's/^K8S_VERSION=//p' versions.env)}"
staging_version="v0.${K8S_VERSION#v1.}"

gomod="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
[ -f "$gomod" ] || { echo "pin.sh: could not download k8s.io/kubernetes@${K8S_VERSION}'s go.mod" >&2; exit 1; }

# Start from a clean slate so a module dropped from staging leaves no stale replace behind.
go mod edit -dropreplace=k8s.io/kubernetes 2>/dev/null || true
for old in $(go mod edit -json | sed -n 's/^\s*"Path": "\(k8s\.io\/[^"]*\)",$/\1/p' | sort -u); do
  go mod edit -dropreplace="$old" 2>/dev/null || true
done
modules="$(sed -n 's#^\s*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\1#p' "$gomod")"
[ -n "$modules" ] || { echo "pin.sh: no staging replaces found in $gomod" >&2; exit 1; }
for m in $modules; do
  go mod edit -replace="${m}=${m}@${staging_version}"
done
go mod edit -require="k8s.io/kubernetes@${K8S_VERSION}"
for tool in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl; do
  go mod edit -tool="$tool"
done
sed -i "s/^K8S_VERSION=.*/K8S_VERSION=${K8S_VERSION}/" versions.env
GOFLAGS=-mod=mod go mod tidy
echo "pinned k8s.io/kubernetes ${K8S_VERSION} with $(echo "$modules" | wc -l) staging modules at ${staging_version}"
