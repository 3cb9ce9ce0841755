#!/usr/bin/env bash
# Restarts the kube-apiserver of the local cluster in ${RUO_CLUSTER_DIR:-/tmp/ruo-cluster}
# with the flags up.sh started it with (same port, certificates, etcd): SIGTERM
# (SIGKILL after --grace seconds, default 10: its graceful shutdown waits for
# long-running requests; or at once with --kill, a crash), an optional pause
# with the apiserver down, a new process, then waits for /readyz. Clients see their
# connections and watches break and must come back on their own (chaos tests).
# The log is appended to logs/kube-apiserver.log.
#
# Usage: hack/cluster/restart-apiserver.sh [--kill] [--grace N] [--down-seconds N]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DIR="$RUO_CLUSTER_DIR"
KUBECTL="$RUO_BIN_DIR/kubectl"
KC="$DIR/kubeconfig"

signal=TERM down=0 grace=10
while [ $# -gt 0 ]; do
  case "$1" in
    --kill) signal=KILL ;;
    --grace) grace="$2"; shift ;;
    --down-seconds) down="$2"; shift ;;
    *) ruo_die "usage: $0 [--kill] [--grace N] [--down-seconds N]" ;;
  esac
  shift
done

[ -f "$DIR/cluster-tag" ] && [ -f "$DIR/ports.env" ] || ruo_die "no cluster in $DIR (run up.sh)"
TAG="$(cat "$DIR/cluster-tag")"
# shellcheck source=/dev/null
. "$DIR/ports.env"

pidfile="$DIR/pids/kube-apiserver.pid"
if [ -f "$pidfile" ] && ruo_alive "$(cat "$pidfile")"; then
  pid="$(cat "$pidfile")"
  ruo_log "stopping kube-apiserver (pid $pid, SIG$signal)"
  kill -"$signal" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while ruo_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if ruo_alive "$pid"; then
    ruo_log "kube-apiserver (pid $pid) did not stop in $grace s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do ruo_alive "$pid" || break; sleep 0.1; done
  fi
else
  ruo_log "kube-apiserver was not running"
fi
# The leader thread of a killed Go process turns zombie (ruo_alive: stopped)
# before its other threads have exited and its sockets are closed: wait until
# nothing listens on the port any more.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; }
deadline=$((SECONDS + 30))
while listening && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
[ "$down" = 0 ] || sleep "$down"

ruo_apiserver_args "$DIR/pki" "$ETCD_PORT" "$API_PORT"
deadline=$((SECONDS + 180))
for try in 1 2 3 4 5; do
  ruo_log "starting kube-apiserver on https://127.0.0.1:$API_PORT (try $try)"
  RUO_CLUSTER_TAG="$TAG" setsid "$RUO_BIN_DIR/kube-apiserver" "${RUO_APISERVER_ARGS[@]}" \
    >>"$DIR/logs/kube-apiserver.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$pidfile"
  until [ "$("$KUBECTL" --kubeconfig "$KC" get --raw /readyz --request-timeout=5s 2>/dev/null)" = ok ]; do
    ruo_alive "$pid" || break
    [ $SECONDS -lt $deadline ] || ruo_die "kube-apiserver not ready after 180 s"
    sleep 0.3
  done
  if ruo_alive "$pid"; then
    ruo_log "kube-apiserver ready again (pid $pid)"
    exit 0
  fi
  # Exited at once (e.g. the port still held by the old process): retry.
  tail -n 3 "$DIR/logs/kube-apiserver.log" >&2
  sleep 1
done
ruo_die "kube-apiserver exited at every start"
