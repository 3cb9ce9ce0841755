#!/usr/bin/env bash
# Stops the local cluster started by up.sh in ${RUO_CLUSTER_DIR:-/tmp/ruo-cluster}:
# the node agent first (it stops every pod process), then the controller
# manager, the apiserver and etcd; then kills, by pid, any process still
# carrying this cluster's RUO_CLUSTER_TAG in its environment (pods, probes,
# anything the agent left), and removes the state dir. Idempotent: with
# nothing up it does nothing and exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DIR="$RUO_CLUSTER_DIR"

if [ ! -e "$DIR" ]; then
  ruo_log "no cluster in $DIR: nothing to do"
  exit 0
fi
if [ ! -f "$DIR/cluster-tag" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  ruo_die "$DIR does not look like a cluster state dir (no cluster-tag file); not touching it"
fi
TAG="$(cat "$DIR/cluster-tag" 2>/dev/null || true)"

# stop TIMEOUT NAME...: SIGTERM to the recorded pids, wait for all of them,
# SIGKILL what is left after TIMEOUT seconds.
stop() {
  local timeout=$1; shift
  local name f pid pids=()
  for name in "$@"; do
    f="$DIR/pids/$name.pid"
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if [ -n "$pid" ] && ruo_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid:$name")
    fi
  done
  local deadline=$((SECONDS + timeout)) p alive
  while :; do
    alive=0
    for p in "${pids[@]}"; do ruo_alive "${p%%:*}" && alive=1; done
    [ $alive = 1 ] && [ $SECONDS -lt $deadline ] || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    if ruo_alive "${p%%:*}"; then
      ruo_log "${p#*:} (pid ${p%%:*}) did not stop in ${timeout}s: SIGKILL"
      kill -KILL "${p%%:*}" 2>/dev/null || true
    fi
  done
  for name in "$@"; do rm -f "$DIR/pids/$name.pid"; done
}

# tagged_pids: processes whose environment carries RUO_CLUSTER_TAG=$TAG.
tagged_pids() {
  [ -n "$TAG" ] || return 0
  local e pid
  for e in /proc/[0-9]*/environ; do
    pid="${e#/proc/}"; pid="${pid%/environ}"
    [ "$pid" = "$$" ] && continue
    ruo_alive "$pid" || continue
    if { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qx "RUO_CLUSTER_TAG=$TAG"; then echo "$pid"; fi
  done
}

ruo_log "stopping cluster in $DIR"
stop 20 nodeagent                      # first: it stops every pod process
stop 15 kube-controller-manager kube-apiserver   # the apiserver hangs if etcd goes first
stop 10 etcd

for sig in TERM KILL; do
  pids="$(tagged_pids)"
  [ -n "$pids" ] || break
  ruo_log "SIG$sig to leftover processes of this cluster: $(echo $pids)"
  kill -"$sig" $pids 2>/dev/null || true
  sleep 1
done
left="$(tagged_pids)"
[ -z "$left" ] || ruo_die "processes still running: $left"

rm -rf "$DIR"
ruo_log "cluster stopped and $DIR removed"
