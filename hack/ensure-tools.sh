#!/usr/bin/env bash
# Installs what the tests and the sandbox need from outside npm: Prometheus from
# Debian, upstream CRDs, and the control-plane binaries, Helm and Traefik (the
# sandbox's data plane) built from the Go module proxy (all cached).
set -euo pipefail
missing=()
for tool in go kubectl openssl flock ip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing required tools: ${missing[*]} (Go >= 1.26, kubectl, openssl, flock (util-linux) and ip (iproute2) must be on PATH)" >&2
  exit 1
fi
if ! command -v prometheus >/dev/null; then
  echo "[ensure-tools] installing prometheus from Debian" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# Upstream third-party CRDs the integration tests install (Go module cache).
"$(dirname "$0")/third-party-crds.sh" gateway-api >/dev/null
exec "$(dirname "$0")/build-tools.sh" all
