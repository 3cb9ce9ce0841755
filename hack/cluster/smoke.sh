#!/usr/bin/env bash
# End-to-end smoke test of the local cluster (real control plane + node agent).
# Uses its own state dir (RUO_SMOKE_DIR, default /tmp/ruo-smoke-cluster) so it
# never touches a cluster you have up. Exits non-zero on any failure.
#
#  1. down.sh with nothing up; up.sh twice (idempotent: same pids)
#  2. 2-replica StatefulSet of redis:7.0 + headless Service + ClusterIP Service
#     selecting pod-0 (statefulset.kubernetes.io/pod-name, named targetPort)
#  3. both pods Ready with distinct loopback podIPs
#  4. redis-cli through the VIP reaches pod-0 (SET/GET, CONFIG GET bind, run_id)
#  5. a long-lived connection is opened through the VIP, then the selector is
#     patched to pod-1: a new connection reaches pod-1 within 1 s, the old one
#     still talks to pod-0
#  6. unknown image -> Pending, ErrImagePull with a clear message; with the
#     installed servers' base image map, redis:7.2 (no such binary) too
#  7. a non-redis image mapped to /bin/sh: $(POD_IP) expansion, env, the
#     projected service-account token works against the apiserver; kubectl logs
#  8. delete the StatefulSet: pods gone, their redis processes gone
#  9. down.sh: no process left, state dir removed; down.sh again is a no-op
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export RUO_CLUSTER_DIR="${RUO_SMOKE_DIR:-/tmp/ruo-smoke-cluster}"
DIR="$RUO_CLUSTER_DIR"
KUBECTL="$RUO_BIN_DIR/kubectl"
NS=smoke
PASS=0
FAIL=0
WORK="$(mktemp -d /tmp/ruo-smoke.XXXXXX)"

ok() { PASS=$((PASS + 1)); printf 'ok   - %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); printf 'FAIL - %s\n' "$*"; }
die() { fail "$*"; exit 1; }
k() { "$KUBECTL" --kubeconfig "$DIR/kubeconfig" "$@"; }
now_ms() { date +%s%3N; }

cleanup() {
  local rc=$?
  exec 5>&- 2>/dev/null || true
  if [ -f "$DIR/cluster-tag" ]; then
    if [ $FAIL -gt 0 ] || [ $rc -ne 0 ]; then
      echo "--- node agent log (tail) ---"; tail -n 40 "$DIR/logs/nodeagent.log" 2>/dev/null || true
    fi
    "$RUO_CLUSTER_SRC/down.sh" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  echo "$PASS passed, $FAIL failed"
  if [ $rc -eq 0 ] && [ $FAIL -gt 0 ]; then rc=1; fi
  exit $rc
}
trap cleanup EXIT

# ---- 1. down with nothing up, up twice --------------------------------------
"$RUO_CLUSTER_SRC/down.sh" >/dev/null 2>&1 || true   # clear leftovers of an earlier run
if "$RUO_CLUSTER_SRC/down.sh" 2>"$WORK/down0.err"; then ok "down.sh with nothing up exits 0"; else die "down.sh with nothing up failed: $(cat "$WORK/down0.err")"; fi

cat > "$WORK/image-map" <<EOF
# smoke test image map (redis:7.0 comes from the base map, see up.sh)
ruo-smoke/shell=/bin/sh
EOF
export LOCAL_CLUSTER_IMAGE_MAP="$WORK/image-map"

t0=$SECONDS
KC="$("$RUO_CLUSTER_SRC/up.sh" 2>"$WORK/up1.err")" || { cat "$WORK/up1.err"; die "up.sh failed"; }
[ "$KC" = "$DIR/kubeconfig" ] && [ -f "$KC" ] || die "up.sh printed '$KC', not the kubeconfig path"
ok "up.sh brought the cluster up in $((SECONDS - t0))s (kubeconfig $KC)"
pids1="$(cat "$DIR"/pids/*.pid | tr '\n' ' ')"
t0=$SECONDS
KC2="$("$RUO_CLUSTER_SRC/up.sh" 2>"$WORK/up2.err")" || { cat "$WORK/up2.err"; die "second up.sh failed"; }
pids2="$(cat "$DIR"/pids/*.pid | tr '\n' ' ')"
if [ "$KC2" = "$KC" ] && [ "$pids1" = "$pids2" ]; then
  ok "second up.sh is a no-op ($((SECONDS - t0))s, same pids: $pids1)"
else
  fail "second up.sh changed the cluster (pids '$pids1' -> '$pids2')"
fi
[ "$(k get --raw /readyz)" = ok ] && ok "apiserver /readyz ok" || fail "apiserver /readyz"
k auth can-i --list >/dev/null && ok "admin kubeconfig authenticates" || fail "admin kubeconfig"

# ---- 2. workload ----------------------------------------------------------------
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
---
apiVersion: v1
kind: Service
metadata: {name: redis-hl, namespace: $NS}
spec:
  clusterIP: None
  selector: {app: smoke-redis}
  ports: [{name: redis, port: 6379}]
---
apiVersion: v1
kind: Service
metadata: {name: redis-primary, namespace: $NS}
spec:
  selector: {statefulset.kubernetes.io/pod-name: smoke-redis-0}
  ports: [{name: redis, port: 6379, targetPort: redis}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: smoke-redis, namespace: $NS}
spec:
  replicas: 2
  serviceName: redis-hl
  selector: {matchLabels: {app: smoke-redis}}
  template:
    metadata: {labels: {app: smoke-redis}}
    spec:
      terminationGracePeriodSeconds: 3
      containers:
      - name: redis
        image: redis:7.0
        ports: [{name: redis, containerPort: 6379}]
        readinessProbe:
          exec: {command: [redis-cli, ping]}
          periodSeconds: 1
EOF
ok "applied namespace, headless + ClusterIP Services and StatefulSet"

# ---- 3. Ready, distinct podIPs ----------------------------------------------------
deadline=$((SECONDS + 120))
until k -n $NS get pod smoke-redis-1 >/dev/null 2>&1 && \
      k -n $NS wait --for=condition=Ready pod/smoke-redis-0 pod/smoke-redis-1 --timeout=5s >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { k -n $NS get pods -o wide; die "StatefulSet pods not Ready in 120s"; }
  sleep 1
done
ok "both StatefulSet pods Ready"
IP0="$(k -n $NS get pod smoke-redis-0 -o jsonpath='{.status.podIP}')"
IP1="$(k -n $NS get pod smoke-redis-1 -o jsonpath='{.status.podIP}')"
if [[ "$IP0" == 127.* && "$IP1" == 127.* && "$IP0" != "$IP1" ]]; then ok "distinct loopback podIPs: $IP0 $IP1"; else die "podIPs '$IP0' '$IP1'"; fi
phase="$(k -n $NS get pod smoke-redis-0 -o jsonpath='{.status.phase} {.status.hostIP} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].started} {.spec.nodeName}')"
[ "$phase" = "Running 127.0.0.1 true true ruo-node" ] && ok "pod status: $phase" || fail "pod status: '$phase'"
conds="$(k -n $NS get pod smoke-redis-0 -o jsonpath='{range .status.conditions[*]}{.type}={.status} {end}')"
for c in PodScheduled=True Initialized=True ContainersReady=True Ready=True; do
  [[ " $conds " == *" $c "* ]] || fail "condition $c missing in: $conds"
done
ok "pod conditions: $conds"
[ "$(redis-cli -h "$IP0" -p 6379 PING)" = PONG ] && [ "$(redis-cli -h "$IP1" -p 6379 PING)" = PONG ] \
  && ok "both pods answer on <podIP>:6379" || fail "pods do not answer on their podIP"

# ---- 4. VIP reaches pod-0 ------------------------------------------------------------
VIP=""
for _ in $(seq 50); do
  VIP="$(awk -v k="$NS/redis-primary" '$1 == k {print $2}' "$DIR/vips" 2>/dev/null)"
  [ -n "$VIP" ] && break
  sleep 0.1
done
[ -n "$VIP" ] || die "no VIP for $NS/redis-primary in $DIR/vips"
ok "vips map: $NS/redis-primary -> $VIP"
grep -q "^$NS/redis-hl " "$DIR/vips" && fail "headless service got a VIP" || ok "headless service has no VIP"

vip_bind() { redis-cli -h "$VIP" -p 6379 CONFIG GET bind 2>/dev/null | sed -n 2p; }
deadline=$((SECONDS + 10))
until [ "$(vip_bind)" = "$IP0" ]; do
  [ $SECONDS -lt $deadline ] || die "VIP $VIP does not reach pod-0 ($IP0): bind='$(vip_bind)'"
  sleep 0.1
done
redis-cli -h "$VIP" SET smoke:key hello-from-vip >/dev/null
[ "$(redis-cli -h "$VIP" GET smoke:key)" = hello-from-vip ] && ok "SET/GET through the VIP" || fail "SET/GET through the VIP"
[ "$(redis-cli -h "$IP0" GET smoke:key)" = hello-from-vip ] && ok "the key written through the VIP is on pod-0" || fail "key not on pod-0"
run0="$(redis-cli -h "$IP0" INFO server | tr -d '\r' | awk -F: '$1=="run_id"{print $2}')"
runv="$(redis-cli -h "$VIP" INFO server | tr -d '\r' | awk -F: '$1=="run_id"{print $2}')"
[ -n "$run0" ] && [ "$run0" = "$runv" ] && ok "VIP run_id = pod-0 run_id ($run0)" || fail "run_id via VIP '$runv' != pod-0 '$run0'"

# ---- 5. selector move --------------------------------------------------------------
exec 5<>"/dev/tcp/$VIP/6379"
resp_bind() { # CONFIG GET bind over fd 5 (RESP): prints the bind value
  printf 'CONFIG GET bind\r\n' >&5
  local l1 l2 l3 l4 l5
  IFS= read -r -t 3 l1 <&5; IFS= read -r -t 3 l2 <&5; IFS= read -r -t 3 l3 <&5
  IFS= read -r -t 3 l4 <&5; IFS= read -r -t 3 l5 <&5
  printf '%s\n' "${l5%$'\r'}"
}
b="$(resp_bind)"
[ "$b" = "$IP0" ] && ok "long-lived connection opened through the VIP talks to pod-0" || die "long-lived connection reached '$b', not pod-0"

k -n $NS patch service redis-primary --type merge \
  -p '{"spec":{"selector":{"statefulset.kubernetes.io/pod-name":"smoke-redis-1"}}}' >/dev/null
t_patch=$(now_ms)
moved=""
while [ $(( $(now_ms) - t_patch )) -lt 3000 ]; do
  if [ "$(vip_bind)" = "$IP1" ]; then moved=$(( $(now_ms) - t_patch )); break; fi
  sleep 0.02
done
if [ -n "$moved" ] && [ "$moved" -le 1000 ]; then
  ok "after the selector patch a new connection reaches pod-1 within ${moved} ms"
else
  fail "new connections did not move to pod-1 within 1 s (moved='${moved:-never}')"
fi
b="$(resp_bind)"
[ "$b" = "$IP0" ] && ok "the long-lived connection still talks to pod-0 after the move" || fail "long-lived connection now reaches '$b'"
printf 'SET smoke:old-conn still-pod-0\r\n' >&5; IFS= read -r -t 3 l <&5
[ "$(redis-cli -h "$IP0" GET smoke:old-conn)" = still-pod-0 ] && ok "a write on the old connection lands on pod-0" || fail "old-connection write not on pod-0"
exec 5>&-

# ---- 6. unknown image ----------------------------------------------------------------
k -n $NS run unknown-image --image=nginx:1.25 --restart=Never >/dev/null
deadline=$((SECONDS + 30)); st=""
until [ $SECONDS -ge $deadline ]; do
  st="$(k -n $NS get pod unknown-image -o jsonpath='{.status.phase}|{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}')"
  [[ "$st" == Pending\|ErrImagePull\|* ]] && break
  sleep 0.5
done
if [[ "$st" == "Pending|ErrImagePull|image nginx:1.25 not in the local image map (LOCAL_CLUSTER_IMAGE_MAP)" ]]; then
  ok "unknown image: $st"
else
  fail "unknown image status: '$st'"
fi
# The base image map (hack/setup-servers.sh) has no redis: catch-all: a Redis
# version with no binary on this machine is not pulled either.
if grep -q "base image map: " "$WORK/up1.err"; then
  k -n $NS run no-binary --image=redis:7.2 --restart=Never >/dev/null
  deadline=$((SECONDS + 30)); st=""
  until [ $SECONDS -ge $deadline ]; do
    st="$(k -n $NS get pod no-binary -o jsonpath='{.status.phase}|{.status.containerStatuses[0].state.waiting.reason}')"
    [ "$st" = "Pending|ErrImagePull" ] && break
    sleep 0.5
  done
  [ "$st" = "Pending|ErrImagePull" ] && ok "redis:7.2 (no such server installed): $st" || fail "redis:7.2 status: '$st'"
fi

# ---- 7. non-redis image: env, $(VAR) expansion, service-account token ---------------------
k -n $NS apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: smoke-cm}
data: {greeting: hello-cm}
---
apiVersion: v1
kind: Secret
metadata: {name: smoke-secret}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  restartPolicy: Never
  containers:
  - name: sh
    image: ruo-smoke/shell:1
    command: ["/bin/sh", "-c"]
    args:
    - |
      echo "expanded=\$(POD_IP) env=\$POD_IP ruo=\$RUO_POD_IP greeting=\$GREETING pw=\$PASSWORD both=\$BOTH"
      echo "api=\$KUBERNETES_SERVICE_HOST:\$KUBERNETES_SERVICE_PORT"
      ls "\$RUO_SERVICEACCOUNT_DIR"
      $KUBECTL --server "https://\$KUBERNETES_SERVICE_HOST:\$KUBERNETES_SERVICE_PORT" \
        --certificate-authority "\$RUO_SERVICEACCOUNT_DIR/ca.crt" \
        --token "\$(cat "\$RUO_SERVICEACCOUNT_DIR/token")" auth whoami -o jsonpath='{.status.userInfo.username}{"\n"}'
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: smoke-cm, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: smoke-secret, key: password}}}
    - {name: BOTH, value: "\$(GREETING)-\$(POD_IP)"}
EOF
deadline=$((SECONDS + 60)); ph=""
until [ $SECONDS -ge $deadline ]; do
  ph="$(k -n $NS get pod shell -o jsonpath='{.status.phase}')"
  [ "$ph" = Succeeded ] || [ "$ph" = Failed ] && break
  sleep 0.5
done
LOG="$DIR/logs/pods/${NS}_shell_sh.log"
SIP="$(k -n $NS get pod shell -o jsonpath='{.status.podIP}')"
if [ "$ph" = Succeeded ]; then ok "mapped non-redis pod ran to completion (phase Succeeded)"; else fail "shell pod phase '$ph'"; cat "$LOG" 2>/dev/null || true; fi
grep -qx "expanded=$SIP env=$SIP ruo=$SIP greeting=hello-cm pw=s3cret both=hello-cm-$SIP" "$LOG" \
  && ok "\$(POD_IP) expanded, POD_IP/RUO_POD_IP set, configMap/secret keyRefs and \$(VAR) in env resolved" \
  || { fail "env line wrong:"; cat "$LOG"; }
grep -qx "system:serviceaccount:$NS:default" "$LOG" \
  && ok "projected service-account token authenticates as system:serviceaccount:$NS:default" \
  || { fail "service-account token did not authenticate:"; cat "$LOG"; }
k -n $NS logs shell 2>&1 | grep -qx "system:serviceaccount:$NS:default" \
  && ok "kubectl logs works (apiserver -> node agent /containerLogs on 127.0.0.1)" || fail "kubectl logs: $(k -n $NS logs shell 2>&1 | tail -2)"
term="$(k -n $NS get pod shell -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}/{.status.containerStatuses[0].state.terminated.exitCode}')"
[ "$term" = Completed/0 ] && ok "terminated state reported: $term" || fail "terminated state '$term'"

# ---- 8. delete the StatefulSet -----------------------------------------------------------
k -n $NS delete statefulset smoke-redis --wait=true >/dev/null
if k -n $NS wait --for=delete pod/smoke-redis-0 pod/smoke-redis-1 --timeout=60s >/dev/null 2>&1; then
  ok "StatefulSet deleted, pods removed from the API"
else
  fail "pods not removed"; k -n $NS get pods -o wide || true
fi
sleep 0.5
if pgrep -f "redis-server $IP0:6379|redis-server $IP1:6379" >/dev/null; then
  fail "redis processes of the deleted pods still run: $(pgrep -af "redis-server $IP0:6379|redis-server $IP1:6379")"
else
  ok "their redis-server processes are gone"
fi

# ---- 9. down --------------------------------------------------------------------------------
TAG="$(cat "$DIR/cluster-tag")"
PIDS="$(cat "$DIR"/pids/*.pid | tr '\n' ' ')"
"$RUO_CLUSTER_SRC/down.sh" 2>"$WORK/down.err" || { cat "$WORK/down.err"; die "down.sh failed"; }
left=""
for p in $PIDS; do ruo_alive "$p" && left+=" $p"; done
for p in $(pgrep -f "$DIR"); do ruo_alive "$p" && left+=" $p"; done
for e in /proc/[0-9]*/environ; do
  p="${e//[^0-9]/}"
  { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qx "RUO_CLUSTER_TAG=$TAG" && ruo_alive "$p" && left+=" $p"
done
[ -z "$left" ] && ok "down.sh left no process behind (pgrep -f $DIR: none, no tagged process)" || fail "processes left:$left"
[ ! -e "$DIR" ] && ok "state dir removed" || fail "state dir still there"
"$RUO_CLUSTER_SRC/down.sh" 2>/dev/null && ok "down.sh again (nothing up) exits 0" || fail "second down.sh failed"
