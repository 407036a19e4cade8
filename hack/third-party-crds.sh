#!/usr/bin/env bash
# Prints the folder holding a third-party project's upstream CRDs, fetched as a
# Go module through the module proxy (no build). The Go module cache keeps the
# download, so later calls are offline and instant.
#
#   hack/third-party-crds.sh gateway-api   -> <module>/config/crd/standard
#
# FLEDGE_GATEWAY_API_VERSION overrides the pinned sigs.k8s.io/gateway-api
# version; `go list -m -versions sigs.k8s.io/gateway-api` lists the choices.
set -euo pipefail

# v1.7.0 needs go >= 1.27; v1.6.3 is the newest release this machine's Go 1.26 accepts.
GATEWAY_API_VERSION="${FLEDGE_GATEWAY_API_VERSION:-v1.6.3}"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf '[third-party-crds] %s\n' "$*" >&2; }

# module_dir MODULE@VERSION : downloads the module (if not cached) and prints its folder.
module_dir() {
  local scratch json dir error
  # Outside any go.mod, so a module in the working directory cannot interfere.
  # A failed download still prints JSON whose Error field says why.
  scratch="$(mktemp -d)"
  json="$(cd "$scratch" && go mod download -json "$1")" || true
  rm -rf "$scratch"
  error="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  if [ -n "$error" ] || [ -z "$dir" ]; then
    log "go mod download $1: ${error:-no Dir in the answer}"
    exit 1
  fi
  printf '%s\n' "$dir"
}

gateway_api() {
  local dir
  dir="$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")/config/crd/standard"
  [ -d "$dir" ] || { log "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION has no $dir"; exit 1; }
  printf '%s\n' "$dir"
}

case "${1:-}" in
  gateway-api) gateway_api ;;
  *) log "usage: $0 gateway-api"; exit 2 ;;
esac
