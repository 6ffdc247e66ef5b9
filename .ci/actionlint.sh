#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint, which checks their syntax,
# expressions, the inputs and outputs of steps, and (with shellcheck on PATH) their run: scripts.
# actionlint is a test-only Go tool: built from the Go module proxy at the pinned version below into
# ${XDG_CACHE_HOME:-$HOME/.cache}/pod-dag-action/actionlint/<version>/, reused when it is there;
# never installed by npm ci. Usage: bash .ci/actionlint.sh [actionlint flags]
set -euo pipefail
cd "$(dirname "$0")/.."

# v1.7.12: the newest release on the Go module proxy when this was pinned (December 2026).
VERSION=v1.7.12
BIN_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/pod-dag-action/actionlint/$VERSION"
if [ ! -x "$BIN_DIR/actionlint" ]; then
  command -v go >/dev/null 2>&1 || { echo "Go is not on PATH: actionlint is built from source with Go (https://go.dev/dl/)" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  echo "building actionlint $VERSION into $BIN_DIR" >&2
  GOBIN="$BIN_DIR" GOFLAGS=-mod=mod nice -n 10 go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION"
fi
exec "$BIN_DIR/actionlint" "$@"
