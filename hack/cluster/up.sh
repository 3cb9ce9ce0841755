#!/usr/bin/env bash
# Brings the local Kubernetes control plane up on loopback:
#   etcd, kube-apiserver (TLS, client-cert auth, RBAC, service-account tokens),
#   kube-controller-manager, and the node agent (kubelet + kube-proxy stand-in).
# State (certs, logs, pids, kubeconfig, vips map) lives in
# ${RUO_CLUSTER_DIR:-/tmp/ruo-cluster}. Idempotent: if the cluster there is
# already up and healthy it only prints the kubeconfig path.
#
# Usage: hack/cluster/up.sh        (prints the kubeconfig path on stdout)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$RUO_CLUSTER_SRC/build.sh" >&2
NODEAGENT="$(ruo_nodeagent_bin)"
KUBECTL="$RUO_BIN_DIR/kubectl"
DIR="$RUO_CLUSTER_DIR"
KC="$DIR/kubeconfig"
NODE_NAME="${RUO_NODE_NAME:-ruo-node}"

pid_alive() { [ -f "$DIR/pids/$1.pid" ] && ruo_alive "$(cat "$DIR/pids/$1.pid")"; }

healthy() {
  [ -f "$DIR/cluster-tag" ] || return 1
  for c in etcd kube-apiserver kube-controller-manager nodeagent; do pid_alive "$c" || return 1; done
  [ "$("$KUBECTL" --kubeconfig "$KC" get --raw /readyz --request-timeout=5s 2>/dev/null)" = ok ]
}

if [ -n "${LOCAL_CLUSTER_IMAGE_MAP:-}" ]; then
  [ -f "$LOCAL_CLUSTER_IMAGE_MAP" ] || ruo_die "LOCAL_CLUSTER_IMAGE_MAP=$LOCAL_CLUSTER_IMAGE_MAP: no such file"
  LOCAL_CLUSTER_IMAGE_MAP="$(realpath "$LOCAL_CLUSTER_IMAGE_MAP")"
  export LOCAL_CLUSTER_IMAGE_MAP
  ruo_log "image map: $LOCAL_CLUSTER_IMAGE_MAP"
fi

# The base image map, under LOCAL_CLUSTER_IMAGE_MAP: the image-map file that
# hack/setup-servers.sh writes beside the servers it installs (redis:2.8,
# redis:6.2.7, valkey/valkey:8.1... to real binaries of those versions).
# Same default servers dir as setup-servers.sh.
SERVERS_DIR="${RUO_SERVERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/redis-upgrade-operator/servers}"
if [ -n "${LOCAL_CLUSTER_BASE_IMAGE_MAP:-}" ]; then
  [ -f "$LOCAL_CLUSTER_BASE_IMAGE_MAP" ] || ruo_die "LOCAL_CLUSTER_BASE_IMAGE_MAP=$LOCAL_CLUSTER_BASE_IMAGE_MAP: no such file"
elif [ -f "$SERVERS_DIR/image-map" ]; then
  LOCAL_CLUSTER_BASE_IMAGE_MAP="$SERVERS_DIR/image-map"
fi
if [ -n "${LOCAL_CLUSTER_BASE_IMAGE_MAP:-}" ]; then
  LOCAL_CLUSTER_BASE_IMAGE_MAP="$(realpath "$LOCAL_CLUSTER_BASE_IMAGE_MAP")"
  export LOCAL_CLUSTER_BASE_IMAGE_MAP
  ruo_log "base image map: $LOCAL_CLUSTER_BASE_IMAGE_MAP"
else
  unset LOCAL_CLUSTER_BASE_IMAGE_MAP
  ruo_log "WARNING: no base image map ($SERVERS_DIR/image-map; run hack/setup-servers.sh): every redis:* image runs /usr/bin/redis-server (Debian's $(/usr/bin/redis-server --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p'))"
fi

# start NAME CMD...: runs CMD in its own session, logs to logs/NAME.log. Only
# the processes we start carry RUO_CLUSTER_TAG (down.sh kills by it), never
# this script.
start() {
  local name=$1; shift
  RUO_CLUSTER_TAG="$TAG" setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! > "$DIR/pids/$name.pid"
}

# wait_for WHAT PROCESS TIMEOUT CMD...: retries CMD until it succeeds.
wait_for() {
  local what=$1 proc=$2 timeout=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$proc"; then
      ruo_log "$proc exited while waiting for $what; last log lines:"
      tail -n 30 "$DIR/logs/$proc.log" >&2 || true
      "$RUO_CLUSTER_SRC/down.sh" >&2 || true
      ruo_die "cluster did not come up"
    fi
    if [ $SECONDS -ge $deadline ]; then
      ruo_log "timed out after ${timeout}s waiting for $what; last $proc log lines:"
      tail -n 30 "$DIR/logs/$proc.log" >&2 || true
      "$RUO_CLUSTER_SRC/down.sh" >&2 || true
      ruo_die "cluster did not come up"
    fi
    sleep 0.3
  done
}

# agent_config: what the node agent runs with (binary, image map, base image
# map); a second up.sh restarts the agent if it changed.
agent_config() { printf '%s\n%s\n%s' "$NODEAGENT" "${LOCAL_CLUSTER_IMAGE_MAP:-}" "${LOCAL_CLUSTER_BASE_IMAGE_MAP:-}"; }

# start_agent: the node agent, with the current image maps; remembers its config.
start_agent() {
  ruo_log "starting node agent (node $NODE_NAME)"
  agent_config > "$DIR/nodeagent.config"
  start nodeagent "$NODEAGENT" --kubeconfig "$KC" --state-dir "$DIR" --node-name "$NODE_NAME" --v=1
}

if [ -d "$DIR" ]; then
  if healthy; then
    if [ "$(cat "$DIR/nodeagent.config" 2>/dev/null)" != "$(agent_config)" ]; then
      ruo_log "node agent binary, LOCAL_CLUSTER_IMAGE_MAP or the base image map changed: restarting the node agent (its pods' processes restart)"
      TAG="$(cat "$DIR/cluster-tag")"
      apid="$(cat "$DIR/pids/nodeagent.pid")"
      kill -TERM "$apid" 2>/dev/null || true
      for _ in $(seq 200); do ruo_alive "$apid" || break; sleep 0.1; done
      ruo_alive "$apid" && kill -KILL "$apid" 2>/dev/null
      start_agent
      wait_for "node agent ready" nodeagent 60 grep -q "node agent ready" "$DIR/logs/nodeagent.log"
    fi
    ruo_log "cluster already up in $DIR"
    echo "$KC"
    exit 0
  fi
  ruo_log "found a stale or partial cluster in $DIR: tearing it down first"
  "$RUO_CLUSTER_SRC/down.sh" >&2
fi

mkdir -p "$DIR"/{pki,logs,pids,etcd}
chmod 700 "$DIR/pki"
TAG="ruo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "$TAG" > "$DIR/cluster-tag"

# ---- ports ----------------------------------------------------------------
mapfile -t PORTS < <("$NODEAGENT" free-ports 4)
ETCD_PORT=${PORTS[0]} ETCD_PEER_PORT=${PORTS[1]} API_PORT=${PORTS[2]} KCM_PORT=${PORTS[3]}
cat > "$DIR/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
EOF

# ---- PKI --------------------------------------------------------------------
PKI="$DIR/pki"
ruo_log "generating CA, certificates and service-account keys in $PKI"
openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 3650 -subj "/CN=ruo-local-cluster-ca" \
  -out "$PKI/ca.crt" -config /dev/null \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null

# leaf NAME SUBJECT EXTENSIONS
leaf() {
  local name=$1 subj=$2 ext=$3
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" -config /dev/null 2>/dev/null
  printf '%b\n' "$ext" > "$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
leaf apiserver "/CN=kube-apiserver" \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
leaf admin "/O=system:masters/CN=kubernetes-admin" \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
leaf kube-controller-manager "/CN=system:kube-controller-manager" \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null

b64() { base64 -w0 < "$1"; }
# kubeconfig FILE USER
kubeconfig() {
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ruo-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$2.crt")
    client-key-data: $(b64 "$PKI/$2.key")
contexts:
- name: ruo-local
  context:
    cluster: ruo-local
    user: $2
    namespace: default
current-context: ruo-local
EOF
  chmod 600 "$1"
}
kubeconfig "$KC" admin
kubeconfig "$DIR/kube-controller-manager.kubeconfig" kube-controller-manager

http_ok() { # http_ok PORT PATH: plain HTTP GET on 127.0.0.1 answers 200
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  local line; IFS= read -r -t 2 line <&3 || { exec 3<&-; return 1; }
  exec 3<&-
  [[ "$line" == *" 200 "* ]]
}

# ---- etcd -------------------------------------------------------------------
ruo_log "starting etcd on 127.0.0.1:$ETCD_PORT"
start etcd "$RUO_BIN_DIR/etcd" --name ruo --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "ruo=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  --unsafe-no-fsync --quota-backend-bytes 2147483648 --log-level warn
wait_for "etcd health" etcd 60 http_ok "$ETCD_PORT" /health

# ---- kube-apiserver ---------------------------------------------------------
ruo_log "starting kube-apiserver on https://127.0.0.1:$API_PORT"
ruo_apiserver_args "$PKI" "$ETCD_PORT" "$API_PORT"
start kube-apiserver "$RUO_BIN_DIR/kube-apiserver" "${RUO_APISERVER_ARGS[@]}"
wait_for "kube-apiserver /readyz" kube-apiserver 180 \
  bash -c "[ \"\$('$KUBECTL' --kubeconfig '$KC' get --raw /readyz --request-timeout=5s)\" = ok ]"

# ---- kube-controller-manager --------------------------------------------------
CONTROLLERS="statefulset-controller,endpointslice-controller,endpoints-controller,endpointslice-mirroring-controller"
CONTROLLERS+=",garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller"
CONTROLLERS+=",namespace-controller,replicaset-controller,deployment-controller,replicationcontroller-controller"
CONTROLLERS+=",job-controller,cronjob-controller,disruption-controller,ttl-after-finished-controller"
CONTROLLERS+=",pod-garbage-collector-controller,root-ca-certificate-publisher-controller"
CONTROLLERS+=",clusterrole-aggregation-controller,resourcequota-controller"
ruo_log "starting kube-controller-manager"
start kube-controller-manager "$RUO_BIN_DIR/kube-controller-manager" \
  --kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
  --controllers "$CONTROLLERS" \
  --use-service-account-credentials=true \
  --service-account-private-key-file "$PKI/sa.key" \
  --root-ca-file "$PKI/ca.crt" \
  --service-cluster-ip-range 10.96.0.0/16 \
  --leader-elect=false \
  --concurrent-statefulset-syncs 5 \
  --profiling=false \
  --v=1

# ---- node agent -------------------------------------------------------------
start_agent

wait_for "ServiceAccount default/default" kube-controller-manager 120 \
  "$KUBECTL" --kubeconfig "$KC" -n default get serviceaccount default
wait_for "node $NODE_NAME Ready" nodeagent 60 \
  bash -c "[ \"\$('$KUBECTL' --kubeconfig '$KC' get node '$NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
wait_for "vips map" nodeagent 30 test -f "$DIR/vips"

cat > "$DIR/env" <<EOF
# source this file: . $DIR/env
export KUBECONFIG=$KC
export RUO_CLUSTER_DIR=$DIR
export RUO_BIN_DIR=$RUO_BIN_DIR
export RUO_APISERVER=https://127.0.0.1:$API_PORT
export PATH=$RUO_BIN_DIR:\$PATH
EOF
ruo_log "cluster up: apiserver https://127.0.0.1:$API_PORT, kubeconfig $KC (source $DIR/env for KUBECONFIG and PATH)"
echo "$KC"
