#!/usr/bin/env bash
# Builds the test control plane, Helm and Traefik (the sandbox's data plane) from the Go module proxy and caches them under
# ~/.cache/fledge/<component>-<version>/bin (or $FLEDGE_CACHE). Runs may overlap (a
# sandbox and a test run, two checkouts): see ensure_entry for how they share the cache.
set -euo pipefail

KUBE_VERSION="${FLEDGE_KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${FLEDGE_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${FLEDGE_KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${FLEDGE_HELM_VERSION:-v3.22.0}"
# v3.7 pulls a nested module by local path, which the proxy cannot serve; v3.6 is the newest line that builds.
TRAEFIK_VERSION="${FLEDGE_TRAEFIK_VERSION:-v3.6.12}"
# Only `make bench-flagger` needs Flagger: the release Fledge's API and costs are compared with.
FLAGGER_VERSION="${FLEDGE_FLAGGER_VERSION:-v1.44.0}"
# Flux's source-controller and kustomize-controller (the GitOps tests). v1.10 needs go 1.27 and, worse, requires
# modules the proxy does not serve (cosign v3.1.4, fluxcd/pkg masktoken, spiffe, apis/crypto), so no Go toolchain
# would build it; v1.9.6 is the newest line that builds with Go 1.26.
FLUX_VERSION="${FLEDGE_FLUX_VERSION:-v1.9.6}"
# Modules Flux requires at a version the proxy does not serve, pinned to the nearest one it does (same minor).
FLUX_PINS="${FLEDGE_FLUX_PINS:-github.com/fluxcd/pkg/artifact@v0.18.0}"
CACHE="${FLEDGE_CACHE:-$HOME/.cache/fledge}"

export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0

log() { printf '[build-tools] %s\n' "$*" >&2; }

# ensure_entry DEST CHECK BUILD : makes DEST a cache entry that passes `CHECK DEST`, running
# `BUILD DIR` into a fresh directory when it does not. Only one run builds an entry at a time
# (flock on DEST.lock); a run that waited checks again and uses what the other built. A build
# goes to its own DEST.partial.* and is renamed into place only once CHECK passes, so a failed
# or killed build never leaves a half-built DEST.
ensure_entry() {
  local dest="$1" check="$2" build="$3" name lock tmp
  name="$(basename "$dest")"
  "$check" "$dest" && return
  mkdir -p "$(dirname "$dest")"
  exec {lock}>"$dest.lock"
  if ! flock -n "$lock"; then
    log "waiting for another run to finish $name"
    flock "$lock"
  fi
  if ! "$check" "$dest"; then
    # Holding the lock, any partial build left here is from a run that died.
    rm -rf "$dest".partial*
    log "building $name"
    tmp="$(mktemp -d "$dest.partial.XXXXXX")"
    ("$build" "$tmp")
    "$check" "$tmp" || { log "$name failed its check after building"; exit 1; }
    # rename(2) cannot replace a non-empty directory, so a damaged entry goes first; a run
    # that finds DEST missing meanwhile waits on the lock.
    rm -rf "$dest"
    mv -T "$tmp" "$dest"
  fi
  exec {lock}>&-
}

# wrapper_module DIR NAME : a scratch Go module to build in; it has no sources and only pins versions.
wrapper_module() {
  mkdir -p "$1/src" "$1/bin"
  printf 'module local/%s\n\ngo 1.26.0\n' "$2" > "$1/src/go.mod"
  cd "$1/src"
}

# runs DIR ARG BIN... : every BIN in DIR/bin runs and exits 0 with ARG (how that binary prints its version).
runs() {
  local dir="$1" arg="$2" b
  shift 2
  for b in "$@"; do "$dir/bin/$b" "$arg" >/dev/null 2>&1 || return 1; done
}

check_kubernetes() { runs "$1" --version kube-apiserver kube-controller-manager kube-scheduler; }
check_etcd() { runs "$1" --version etcd; }
check_kwok() { runs "$1" --version kwok && [ -d "$1/stages" ]; }
check_helm() { runs "$1" version helm; }
check_traefik() { runs "$1" version traefik && [ -d "$1/crds" ]; }
check_flagger() { runs "$1" -version flagger && [ -f "$1/crds/flagger.yaml" ]; }

build_kubernetes() {
  local out="$1" staging_version="v0.${KUBE_VERSION#v1.}"
  wrapper_module "$out" k8s-binaries
  local upstream_mod
  upstream_mod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\([^"]*\)".*/\1/p')"
  # k8s.io/kubernetes replaces its staging modules with local folders the proxy
  # does not serve; point each at its published v0.x twin instead.
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/.*#\1#p' "$upstream_mod")"
  [ -n "$staging" ] || { log "no staging replaces found in $upstream_mod"; exit 1; }
  local m
  for m in $staging; do go mod edit -replace="$m=$m@$staging_version"; done
  local pkgs=() c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  go get "${pkgs[@]/%/@$KUBE_VERSION}"
  local minor ldflags="-s -w" p
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  go build -trimpath -ldflags "$ldflags" -o "$out/bin/" "${pkgs[@]}"
}

build_etcd() {
  wrapper_module "$1" etcd
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$1/bin/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
  wrapper_module "$1" kwok
  go get "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$1/bin/kwok" sigs.k8s.io/kwok/cmd/kwok
  # The standalone controller has no built-in stages; keep the module's own copies.
  local mod
  mod="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  cp -r "$mod/kustomize/stage" "$1/stages"
  chmod -R u+w "$1/stages"
}

build_helm() {
  wrapper_module "$1" helm
  go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  # Helm's default Kubernetes version (for `helm template`) comes from the client-go it builds with.
  local client_minor
  client_minor="$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$client_minor"
  go build -trimpath -ldflags "$ldflags" -o "$1/bin/helm" helm.sh/helm/v3/cmd/helm
}

# at "PATH VERSION" : PATH@VERSION, as go mod edit spells a module version (a bare PATH stays bare).
at() { echo "$1" | tr -s ' \t' '@'; }

# carry_directives GOMOD [MODULE] : copies GOMOD's replace and exclude directives (single-line or in blocks)
# into the go.mod of the current directory. A replace by a local path cannot be carried: the proxy
# does not serve the folder it names. Only MODULE's own submodules (MODULE/api => ./api) are let go:
# their published versions, which GOMOD requires, are the same code.
carry_directives() {
  local line n=0
  while read -r line; do
    case "$line" in
      "replace ${2:-//}"/*' => ./'*) continue ;;
      *' => ./'* | *' => ../'*) log "$1 replaces a module by a local path: $line"; exit 1 ;;
      exclude\ *) go mod edit -exclude="$(at "${line#exclude }")" ;;
      replace\ *) line="${line#replace }" && go mod edit -replace="$(at "${line%% => *}")=$(at "${line#* => }")" ;;
    esac
    n=$((n + 1))
  done < <(sed 's#[[:space:]]*//.*##' "$1" | awk '/^(replace|exclude) \($/ {block=$1; next} block && /^\)/ {block=""; next}
    block && NF {sub(/^[ \t]+/, ""); print block " " $0; next} /^(replace|exclude) / {print}')
  log "carried $n replace/exclude directives"
}

build_traefik() {
  local out="$1" upstream_mod
  wrapper_module "$out" traefik
  upstream_mod="$(go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\([^"]*\)".*/\1/p')"
  # `go install` refuses a module with replace or exclude directives; the wrapper carries them instead.
  carry_directives "$upstream_mod"
  go get "github.com/traefik/traefik/v3/cmd/traefik@$TRAEFIK_VERSION"
  go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$out/bin/traefik" github.com/traefik/traefik/v3/cmd/traefik
  # Traefik's own CRDs (IngressRoute, TraefikService, ...) ship in its module's docs.
  mkdir -p "$out/crds"
  cp "$(go list -m -f '{{.Dir}}' github.com/traefik/traefik/v3)/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml" "$out/crds/"
  chmod -R u+w "$out/crds"
}

build_flagger() {
  wrapper_module "$1" flagger
  go get "github.com/fluxcd/flagger/cmd/flagger@$FLAGGER_VERSION"
  go build -trimpath -ldflags "-s -w -X github.com/fluxcd/flagger/pkg/version.VERSION=${FLAGGER_VERSION#v}" \
    -o "$1/bin/flagger" github.com/fluxcd/flagger/cmd/flagger
  mkdir -p "$1/crds"
  cp "$(go list -m -f '{{.Dir}}' github.com/fluxcd/flagger)/artifacts/flagger/crd.yaml" "$1/crds/flagger.yaml"
  chmod -R u+w "$1/crds"
}

# flux_controller OUT NAME : builds Flux's NAME controller and keeps its CRDs (config/crd/bases) beside it.
flux_controller() {
  local out="$1" module="github.com/fluxcd/$2" upstream_mod
  wrapper_module "$out" "$2"
  upstream_mod="$(go mod download -json "$module@$FLUX_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\([^"]*\)".*/\1/p')"
  carry_directives "$upstream_mod" "$module"
  local pin
  for pin in $FLUX_PINS; do go mod edit -replace="${pin%@*}=$pin"; done
  go get "$module@$FLUX_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$out/bin/$2" "$module"
  mkdir -p "$out/crds"
  cp "$(go list -m -f '{{.Dir}}' "$module")"/config/crd/bases/*.yaml "$out/crds/"
  chmod -R u+w "$out/crds"
}

# The controllers print no version; --help exits 0 only once flags parse, so the binary runs.
check_flux_bin() { "$1/bin/$2" --help >/dev/null 2>&1 && compgen -G "$1/crds/*.yaml" >/dev/null; }
check_source_controller() { check_flux_bin "$1" source-controller; }
check_kustomize_controller() { check_flux_bin "$1" kustomize-controller; }
build_source_controller() { flux_controller "$1" source-controller; }
build_kustomize_controller() { flux_controller "$1" kustomize-controller; }

# tool NAME VERSION : the cache entry for one component.
tool() { ensure_entry "$CACHE/$1-$2" "check_${1//-/_}" "build_${1//-/_}"; }

# Sourced, this file only defines the functions (test/unit/toolchain.test.ts drives ensure_entry).
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

what="${1:-all}"
case "$what" in
  kubernetes) tool kubernetes "$KUBE_VERSION" ;;
  etcd) tool etcd "$ETCD_VERSION" ;;
  kwok) tool kwok "$KWOK_VERSION" ;;
  helm) tool helm "$HELM_VERSION" ;;
  traefik) tool traefik "$TRAEFIK_VERSION" ;;
  flagger) tool flagger "$FLAGGER_VERSION" ;;
  # Not in `all`: a control plane starting (which builds `all` when missing) never waits on Flux.
  flux) tool source-controller "$FLUX_VERSION"; tool kustomize-controller "$FLUX_VERSION" ;;
  # One at a time: each go build already keeps both cores busy, so overlapping them would
  # not finish sooner, only add memory pressure and interleave their logs.
  all) tool etcd "$ETCD_VERSION"; tool kwok "$KWOK_VERSION"; tool kubernetes "$KUBE_VERSION"; tool helm "$HELM_VERSION"; tool traefik "$TRAEFIK_VERSION" ;;
  paths)
    printf 'KUBE_BIN=%s\nETCD_BIN=%s\nKWOK_BIN=%s\nKWOK_STAGES=%s\nHELM_BIN=%s\nTRAEFIK_BIN=%s\nTRAEFIK_CRDS=%s\nKUBE_VERSION=%s\nETCD_VERSION=%s\nKWOK_VERSION=%s\nHELM_VERSION=%s\nTRAEFIK_VERSION=%s\n' \
      "$CACHE/kubernetes-$KUBE_VERSION/bin" "$CACHE/etcd-$ETCD_VERSION/bin" "$CACHE/kwok-$KWOK_VERSION/bin" \
      "$CACHE/kwok-$KWOK_VERSION/stages" "$CACHE/helm-$HELM_VERSION/bin" \
      "$CACHE/traefik-$TRAEFIK_VERSION/bin" "$CACHE/traefik-$TRAEFIK_VERSION/crds" \
      "$KUBE_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$HELM_VERSION" "$TRAEFIK_VERSION"
    printf 'FLUX_SOURCE=%s\nFLUX_KUSTOMIZE=%s\nFLUX_VERSION=%s\n' \
      "$CACHE/source-controller-$FLUX_VERSION" "$CACHE/kustomize-controller-$FLUX_VERSION" "$FLUX_VERSION"
    printf 'FLAGGER_BIN=%s\nFLAGGER_CRDS=%s\nFLAGGER_VERSION=%s\n' \
      "$CACHE/flagger-$FLAGGER_VERSION/bin" "$CACHE/flagger-$FLAGGER_VERSION/crds" "$FLAGGER_VERSION" ;;
  *) log "usage: $0 [all|kubernetes|etcd|kwok|helm|traefik|flux|flagger|paths]"; exit 2 ;;
esac
