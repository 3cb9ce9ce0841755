# Shared helpers for hack/cluster/*.sh (sourced, not executed).
# shellcheck shell=bash

RUO_CLUSTER_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$RUO_CLUSTER_SRC/versions.env"

RUO_CACHE_DIR="${RUO_CACHE_DIR:-${HOME:-/root}/.cache/redis-upgrade-operator}"
RUO_CLUSTER_DIR="${RUO_CLUSTER_DIR:-/tmp/ruo-cluster}"
RUO_BIN_DIR="$RUO_CACHE_DIR/k8s-$K8S_VERSION/bin"

ruo_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ruo_die() { ruo_log "ERROR: $*"; exit 1; }

# ruo_go prints the go command to use (PATH first, then /usr/local/go/bin).
ruo_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  return 1
}

# Hash of the node agent's sources: its cache key.
ruo_nodeagent_hash() {
  (cd "$RUO_CLUSTER_SRC/nodeagent" && find . -maxdepth 1 -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) ! -name '*_test.go' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

ruo_nodeagent_bin() { echo "$RUO_CACHE_DIR/nodeagent/$(ruo_nodeagent_hash)/nodeagent"; }

# Hash of a wrapper module's go.mod/go.sum (+ .go files): part of a binary's stamp.
ruo_mod_hash() {
  (cd "$1" && find . -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 \
    | LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-16)
}

# ruo_alive PID: the process exists and is not a zombie (a zombie of ours
# waits for init to reap it and must count as stopped).
ruo_alive() {
  local st
  st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# ruo_apiserver_args PKI_DIR ETCD_PORT API_PORT: sets the array
# RUO_APISERVER_ARGS to the kube-apiserver flags (up.sh starts it with them,
# restart-apiserver.sh restarts it with the very same ones).
ruo_apiserver_args() {
  local pki=$1 etcd_port=$2 api_port=$3
  RUO_APISERVER_ARGS=(
    --etcd-servers "http://127.0.0.1:$etcd_port"
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port"
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key"
    --client-ca-file "$pki/ca.crt"
    --authorization-mode Node,RBAC
    --service-account-issuer https://kubernetes.default.svc.cluster.local
    --service-account-key-file "$pki/sa.pub"
    --service-account-signing-key-file "$pki/sa.key"
    --api-audiences https://kubernetes.default.svc.cluster.local
    --service-cluster-ip-range 10.96.0.0/16
    --allow-privileged=true
    --kubelet-preferred-address-types InternalIP
    --profiling=false
    --v=1
  )
}
