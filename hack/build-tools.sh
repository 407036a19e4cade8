#!/usr/bin/env bash
# Builds the test control plane and Helm from the Go module proxy and caches them under
# ~/.cache/fledge/<component>-<version>/bin. A cache entry counts only once its
# stamp file exists and every binary in it still answers --version, so a
# half-written or damaged entry is rebuilt rather than trusted.
set -euo pipefail

KUBE_VERSION="${FLEDGE_KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${FLEDGE_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${FLEDGE_KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${FLEDGE_HELM_VERSION:-v3.22.0}"
CACHE="${FLEDGE_CACHE:-$HOME/.cache/fledge}"

export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0

log() { printf '[build-tools] %s\n' "$*" >&2; }

# cache_ok DIR BIN... : true when DIR holds a stamp and working binaries.
cache_ok() {
  local dir="$1"; shift
  [ -f "$dir/.complete" ] || return 1
  local b
  for b in "$@"; do
    [ -x "$dir/bin/$b" ] || return 1
    "$dir/bin/$b" --version >/dev/null 2>&1 || return 1
  done
}

# wrapper_module DIR NAME GO : a scratch module; no sources, it only pins versions.
wrapper_module() {
  rm -rf "$1"; mkdir -p "$1"
  printf 'module local/%s\n\ngo %s\n' "$2" "$3" > "$1/go.mod"
}

# finish TMP DEST : promote a verified build into place atomically.
finish() {
  touch "$1/.complete"
  rm -rf "$2"; mv "$1" "$2"
}

build_kubernetes() {
  local dest="$CACHE/kubernetes-$KUBE_VERSION"
  if cache_ok "$dest" kube-apiserver kube-controller-manager kube-scheduler; then return; fi
  log "building Kubernetes $KUBE_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler)"
  local tmp="$dest.partial" staging_version="v0.${KUBE_VERSION#v1.}"
  wrapper_module "$tmp/src" k8s-binaries 1.26.0
  cd "$tmp/src"
  local upstream_mod
  upstream_mod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\([^"]*\)".*/\1/p')"
  # k8s.io/kubernetes replaces its staging modules with local folders the proxy
  # does not serve; point each at its published v0.x twin instead.
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/.*#\1#p' "$upstream_mod")"
  [ -n "$staging" ] || { log "no staging replaces found in $upstream_mod"; exit 1; }
  local m
  for m in $staging; do go mod edit -replace="$m=$m@$staging_version"; done
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler)
  local pkgs=() c
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  go get "${pkgs[@]/%/@$KUBE_VERSION}"
  local minor ldflags="-s -w" p
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$tmp/bin"
  go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/" "${pkgs[@]}"
  "$tmp/bin/kube-apiserver" --version
  cd /; finish "$tmp" "$dest"
}

build_etcd() {
  local dest="$CACHE/etcd-$ETCD_VERSION"
  if cache_ok "$dest" etcd; then return; fi
  log "building etcd $ETCD_VERSION"
  local tmp="$dest.partial"
  wrapper_module "$tmp/src" etcd 1.26.0
  cd "$tmp/src"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  mkdir -p "$tmp/bin"
  go build -trimpath -ldflags "-s -w" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3
  "$tmp/bin/etcd" --version
  cd /; finish "$tmp" "$dest"
}

build_kwok() {
  local dest="$CACHE/kwok-$KWOK_VERSION"
  if cache_ok "$dest" kwok && [ -d "$dest/stages" ]; then return; fi
  log "building kwok $KWOK_VERSION"
  local tmp="$dest.partial"
  wrapper_module "$tmp/src" kwok 1.26.0
  cd "$tmp/src"
  go get "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mkdir -p "$tmp/bin"
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$tmp/bin/kwok" sigs.k8s.io/kwok/cmd/kwok
  "$tmp/bin/kwok" --version
  # The standalone controller has no built-in stages; keep the module's own copies.
  local mod
  mod="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  cp -r "$mod/kustomize/stage" "$tmp/stages"
  chmod -R u+w "$tmp/stages"
  cd /; finish "$tmp" "$dest"
}

build_helm() {
  local dest="$CACHE/helm-$HELM_VERSION"
  if cache_ok "$dest" helm; then return; fi
  log "building helm $HELM_VERSION"
  local tmp="$dest.partial"
  wrapper_module "$tmp/src" helm 1.26.0
  cd "$tmp/src"
  go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mkdir -p "$tmp/bin"
  # Helm's default Kubernetes version (for `helm template`) comes from the client-go it builds with.
  local client_minor
  client_minor="$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$client_minor"
  go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/helm" helm.sh/helm/v3/cmd/helm
  "$tmp/bin/helm" version
  cd /; finish "$tmp" "$dest"
}

what="${1:-all}"
case "$what" in
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  helm) build_helm ;;
  all) build_etcd; build_kwok; build_kubernetes; build_helm ;;
  paths)
    printf 'KUBE_BIN=%s\nETCD_BIN=%s\nKWOK_BIN=%s\nKWOK_STAGES=%s\nHELM_BIN=%s\nKUBE_VERSION=%s\nETCD_VERSION=%s\nKWOK_VERSION=%s\nHELM_VERSION=%s\n' \
      "$CACHE/kubernetes-$KUBE_VERSION/bin" "$CACHE/etcd-$ETCD_VERSION/bin" "$CACHE/kwok-$KWOK_VERSION/bin" \
      "$CACHE/kwok-$KWOK_VERSION/stages" "$CACHE/helm-$HELM_VERSION/bin" \
      "$KUBE_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$HELM_VERSION" ;;
  *) log "usage: $0 [all|kubernetes|etcd|kwok|helm|paths]"; exit 2 ;;
esac
