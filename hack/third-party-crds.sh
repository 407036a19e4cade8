#!/usr/bin/env bash
# Fetches the Go modules that hold third-party projects' upstream CRDs through the
# module proxy (no build) and prints their folders. The Go module cache keeps the
# download, so later calls are offline and instant.
#
#   hack/third-party-crds.sh MODULE@VERSION   -> the module's folder
#   hack/third-party-crds.sh all              -> fetches every module a router declares (crds)
set -euo pipefail

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

case "${1:-}" in
  all)
    # The routers' declarations name the modules (src/routers/*.ts, `crds`).
    modules="$(node --input-type=module -e "
      const { routerDeclarations } = await import('$(cd "$(dirname "$0")/.." && pwd)/src/routers/registry.ts');
      for (const d of routerDeclarations) if (d.crds) console.log(d.crds.module + '@' + d.crds.version);")"
    for module in $modules; do module_dir "$module"; done
    ;;
  *@*) module_dir "$1" ;;
  *) log "usage: $0 MODULE@VERSION | all"; exit 2 ;;
esac
