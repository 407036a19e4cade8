#!/usr/bin/env bash
# Installs what the tests and the sandbox need from outside npm: Prometheus,
# Graphite and InfluxDB from Debian, upstream CRDs, and the control-plane binaries,
# Helm, Traefik (the sandbox's data plane) and Flux (the GitOps tests) built from the Go module proxy (all cached).
set -euo pipefail
missing=()
for tool in go kubectl openssl flock ip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing required tools: ${missing[*]} (Go >= 1.26, kubectl, openssl, flock (util-linux) and ip (iproute2) must be on PATH)" >&2
  exit 1
fi
# Real metric stores from Debian: Prometheus, and Graphite and InfluxDB for their stores' tests.
packages=()
command -v prometheus >/dev/null || packages+=(prometheus)
command -v carbon-cache >/dev/null || packages+=(graphite-carbon)
command -v graphite-manage >/dev/null || packages+=(graphite-web)
command -v influxd >/dev/null || packages+=(influxdb)
if [ ${#packages[@]} -gt 0 ]; then
  echo "[ensure-tools] installing ${packages[*]} from Debian" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
# Upstream third-party CRDs the integration tests install (Go module cache).
"$(dirname "$0")/third-party-crds.sh" all >/dev/null
"$(dirname "$0")/build-tools.sh" all
exec "$(dirname "$0")/build-tools.sh" flux
