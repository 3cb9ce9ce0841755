#!/usr/bin/env bash
# helm install of the chart into a local cluster of its own, then an Immediate
# upgrade performed by the operator so installed:
#   - the node agent maps the chart's default image (repository:tag) to the
#     built binary (LOCAL_CLUSTER_IMAGE_MAP), so the operator runs IN-CLUSTER:
#     in-cluster config, its ServiceAccount's projected token, the chart's RBAC
#     enforced by the real kube-apiserver;
#   - the pod becomes Ready through its readinessProbe (httpGet /readyz), the
#     metrics Service answers, RBAC grants what it should and nothing more;
#   - a redis:7.0 StatefulSet (1 replica) + ClusterIP Service selecting pod-0,
#     20000 keys, `probe --rate 2000 --duration 25` through the Service VIP
#     verifying on the new master, a RedisUpgrade (targetVersion 7.0,
#     allowSameVersion: only Debian's 7.0.15 exists here), `kubectl wait
#     --for=condition=Ready`; then acked writes lost = 0, the Service selects
#     the new pods, the VIP reaches the new master, the old one is sealed, the
#     operator logged no Forbidden; deleting the RedisUpgrade works (finalizer).
# Usage: install_e2e.sh SOURCE_DIR OPERATOR_BINARY   (RUO_CLUSTER_DIR: state dir)
SRC=${1:?usage: install_e2e.sh SOURCE_DIR OPERATOR_BINARY}
BIN=$(realpath "${2:?usage: install_e2e.sh SOURCE_DIR OPERATOR_BINARY}")
. "$(dirname "$0")/lib.sh"
. "$SRC/hack/lib/sample-instance.sh"
export RUO_CLUSTER_DIR=${RUO_CLUSTER_DIR:-/tmp/ruo-cluster-helm}
RELEASE=ruo
OPNS=ruo-system
NS=shop
SVC=orders-redis
RUP=orders-to-7
KEYS=20000
WORK=$(mktemp -d /tmp/ruo-helm-e2e.XXXXXX)
PROBE_PID=""
START=$SECONDS

k() { "$KUBECTL" "$@"; }
cleanup() {
  local rc=$?
  [ -n "$PROBE_PID" ] && kill "$PROBE_PID" 2>/dev/null
  if [ "$rc" != 0 ] && [ -n "${KUBECONFIG:-}" ]; then
    log "---- diagnostics ----"
    k get pods -A -o wide >&2 || true
    k -n "$NS" get rup -o yaml >&2 || true
    k -n "$NS" get events --sort-by=.lastTimestamp >&2 || true
    k -n "$OPNS" logs deploy/$RELEASE-redis-upgrade-operator --tail=80 >&2 || true
    [ -f "$WORK/probe.err" ] && tail -n 20 "$WORK/probe.err" >&2
  fi
  "$SRC/hack/cluster/down.sh" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  log "done in $((SECONDS - START)) s (rc $rc)"
}
trap cleanup EXIT

# ---- cluster with the operator's image mapped to the built binary ------------
IMAGE=$("$HELM" template "$RELEASE" "$CHART" | sed -n 's/^ *image: "\(.*\)"$/\1/p' | head -n1)
[ -n "$IMAGE" ] || fail "cannot read the chart's default image"
cat > "$WORK/image-map" <<EOF
$IMAGE=$BIN
EOF
log "image map: $IMAGE -> $BIN; cluster state dir $RUO_CLUSTER_DIR"
"$SRC/hack/cluster/down.sh" >/dev/null 2>&1 || true
KUBECONFIG=$(LOCAL_CLUSTER_IMAGE_MAP="$WORK/image-map" "$SRC/hack/cluster/up.sh" 2> "$WORK/up.log") ||
  { cat "$WORK/up.log" >&2; fail "cluster did not come up"; }
export KUBECONFIG

vip() { awk -v k="$1/$2" '$1 == k {print $2}' "$RUO_CLUSTER_DIR/vips"; }
wait_vip() {
  local v=""
  for _ in $(seq 100); do v=$(vip "$1" "$2"); [ -n "$v" ] && break; sleep 0.1; done
  [ -n "$v" ] || fail "no VIP for Service $1/$2"
  echo "$v"
}
jp() { k -n "$NS" get "$1" -o "jsonpath=$2" 2>/dev/null; }

# ---- helm install --------------------------------------------------------------
log "helm install $RELEASE (namespace $OPNS)"
"$HELM" install "$RELEASE" "$CHART" --namespace "$OPNS" --create-namespace \
  --set listenHost='$(POD_IP)' --wait --timeout 180s >&2 || fail "helm install"
k -n "$OPNS" wait --for=condition=Ready pod -l app.kubernetes.io/instance=$RELEASE --timeout=120s >&2 ||
  fail "operator pod not Ready"
POD=$(k -n "$OPNS" get pod -l app.kubernetes.io/instance=$RELEASE -o jsonpath='{.items[0].metadata.name}')
POD_IP=$(k -n "$OPNS" get pod "$POD" -o jsonpath='{.status.podIP}')
log "operator pod $POD Ready on $POD_IP (readinessProbe httpGet /readyz)"
[ "$(curl -fsS "http://$POD_IP:8081/readyz")" != "" ] || fail "/readyz"
SA=system:serviceaccount:$OPNS:$RELEASE-redis-upgrade-operator
[ -s "$RUO_CLUSTER_DIR"/pods/${OPNS}_${POD}_*/serviceaccount/token ] || fail "no projected token for $POD"
METRICS_VIP=$(wait_vip "$OPNS" "$RELEASE-redis-upgrade-operator-metrics")
# Read the whole body before matching: `curl | grep -q` fails under pipefail
# when grep exits at the first match and curl cannot finish writing (curl 23).
is_leader() {
  local body
  body=$(curl -fsS "http://$METRICS_VIP:8080/metrics" 2>/dev/null) || return 1
  grep -q '^redisupgrade_leader 1' <<<"$body"
}
for _ in $(seq 60); do
  is_leader && break
  sleep 0.5
done
is_leader || fail "the operator did not become leader (metrics through the Service VIP)"
log "metrics Service $METRICS_VIP:8080 answers; redisupgrade_leader 1"
# RBAC: what the operator may and may not do, as the apiserver decides it.
can() { [ "$(k auth can-i --as "$SA" "$@" 2>/dev/null)" = yes ]; }
for a in "patch services -n $NS" "create statefulsets.apps -n $NS" "update redisupgrades.redisupgrade.dev --subresource=status -n $NS" \
         "get secrets -n $NS" "create events -n $NS" "update leases.coordination.k8s.io/$RELEASE-redis-upgrade-operator -n $OPNS"; do
  # shellcheck disable=SC2086
  can $a || fail "RBAC denies '$a'"
done
for a in "delete pods -n $NS" "list secrets -n $NS" "update statefulsets.apps -n $NS" "update redisupgrades.redisupgrade.dev -n $NS" \
         "delete redisupgrades.redisupgrade.dev -n $NS" "update leases.coordination.k8s.io/other -n $OPNS" "create pods -n $NS"; do
  # shellcheck disable=SC2086
  can $a && fail "RBAC grants '$a'"
done
log "RBAC: granted and denied as expected"

# ---- the Redis instance --------------------------------------------------------
k create namespace "$NS" >/dev/null
sample_instance_yaml "$NS" "$SVC" 512Mi | k apply -f - >/dev/null
k -n "$NS" wait --for=condition=Ready pod/$SVC-0 --timeout=120s >/dev/null || fail "redis pod not Ready"
OLD_IP=$(jp pod/$SVC-0 '{.status.podIP}')
VIP=$(wait_vip "$NS" "$SVC")
seq 1 $KEYS | awk '{printf "*3\r\n$3\r\nSET\r\n$%d\r\nseed:%d\r\n$%d\r\nv%d\r\n", length($1)+5, $1, length($1)+1, $1}' |
  redis-cli -h "$OLD_IP" --pipe >/dev/null || fail "loading keys"
[ "$(redis-cli -h "$VIP" DBSIZE)" = $KEYS ] || fail "expected $KEYS keys through the VIP"
OLD_RUNID=$(redis-cli -h "$OLD_IP" INFO server | tr -d '\r' | sed -n 's/^run_id://p')
log "old instance $NS/$SVC-0 on $OLD_IP, VIP $VIP, $KEYS keys"

# ---- the upgrade ---------------------------------------------------------------
k apply -f - >/dev/null <<EOF
apiVersion: redisupgrade.dev/v1alpha1
kind: RedisUpgrade
metadata: {name: $RUP, namespace: $NS}
spec:
  instance: {service: $SVC}
  targetVersion: "7.0"
  allowSameVersion: true
  switchover: {mode: Immediate}
EOF
log "RedisUpgrade $RUP applied; waiting for the new master pod"
NEW_IP=""
for _ in $(seq 600); do
  STS=$(jp rup/$RUP '{.status.newStatefulSet}')
  [ -n "$STS" ] && NEW_IP=$(jp pod/$STS-0 '{.status.podIP}')
  [ -n "$NEW_IP" ] && break
  [ "$(jp rup/$RUP '{.status.phase}')" = Failed ] && fail "upgrade Failed: $(jp rup/$RUP '{.status.reason}: {.status.message}')"
  sleep 0.2
done
[ -n "$NEW_IP" ] || fail "no new master pod after 120 s"
log "new master $STS-0 on $NEW_IP; probe: 2000 writes/s for 25 s through $VIP:6379"
"$BIN" probe --addr "$VIP:6379" --rate 2000 --duration 25 --verify "$NEW_IP:6379" \
  > "$WORK/probe.json" 2> "$WORK/probe.err" &
PROBE_PID=$!
PROBE_START=$(date +%s)

k -n "$NS" wait --for=condition=Ready rup/$RUP --timeout=240s > "$WORK/wait.out" 2>&1 &
WAIT_PID=$!
while kill -0 "$WAIT_PID" 2>/dev/null; do
  if [ "$(jp rup/$RUP '{.status.phase}')" = Failed ]; then
    kill "$WAIT_PID" 2>/dev/null
    fail "upgrade Failed: $(jp rup/$RUP '{.status.reason}: {.status.message}')"
  fi
  sleep 1
done
wait "$WAIT_PID" || fail "kubectl wait --for=condition=Ready: $(cat "$WORK/wait.out")"
log "kubectl wait: $(cat "$WORK/wait.out")"
wait "$PROBE_PID" && PROBE_RC=0 || PROBE_RC=$?
PROBE_PID=""
cat "$WORK/probe.json" >&2

# ---- checks --------------------------------------------------------------------
PHASE=$(jp rup/$RUP '{.status.phase}')
[ "$PHASE" = Completed ] || fail "phase $PHASE"
SWITCHED_AT=$(date -d "$(jp rup/$RUP '{.status.switch.startedAt}')" +%s)
[ "$SWITCHED_AT" -ge "$PROBE_START" ] && [ "$SWITCHED_AT" -le $((PROBE_START + 25)) ] ||
  fail "the switch did not happen while the probe was writing"
read -r ACKED LOST GAP ERRORS < <(python3 -c '
import json,sys; p=json.load(open(sys.argv[1]))
print(p["acked"], p.get("lost", -1), p["max_gap_ms"], p["errors"])' "$WORK/probe.json")
[ "$LOST" = 0 ] || fail "acked writes lost: $LOST"
[ "$PROBE_RC" = 0 ] || fail "probe exited $PROBE_RC"
[ "$ACKED" -gt 0 ] || fail "probe acked nothing"
SELECTOR=$(k -n "$NS" get svc $SVC -o jsonpath='{.spec.selector}')
echo "$SELECTOR" | grep -q "\"$STS-0\"" || fail "Service selector is $SELECTOR, not $STS-0"
NEW_RUNID=$(redis-cli -h "$NEW_IP" INFO server | tr -d '\r' | sed -n 's/^run_id://p')
VIP_RUNID=$(redis-cli -h "$VIP" INFO server | tr -d '\r' | sed -n 's/^run_id://p')
[ "$VIP_RUNID" = "$NEW_RUNID" ] && [ "$VIP_RUNID" != "$OLD_RUNID" ] || fail "the VIP does not reach the new master"
redis-cli -h "$OLD_IP" SET after-switch x | grep -q READONLY || fail "the old master still takes writes"
NEW_KEYS=$(redis-cli -h "$NEW_IP" DBSIZE)
[ "$NEW_KEYS" -ge $((KEYS + ACKED)) ] || fail "new master has $NEW_KEYS keys, expected >= $((KEYS + ACKED))"
k -n "$NS" get events --field-selector involvedObject.name=$RUP -o jsonpath='{.items[*].reason}' |
  grep -qw SwitchCompleted || fail "no SwitchCompleted event"
if k -n "$OPNS" logs "$POD" | grep -i 'forbidden'; then fail "the operator was denied an API call (RBAC)"; fi
BLOCKED=$(jp rup/$RUP '{.status.switch.writeBlockedMillis}')
ATTEMPTS=$(jp rup/$RUP '{.status.switch.attempts}')
k -n "$NS" get rup >&2

# Deletion after Completed removes only the RedisUpgrade (the finalizer is lifted).
k -n "$NS" delete rup/$RUP --timeout=60s >/dev/null || fail "deleting the completed RedisUpgrade"
[ "$(jp sts/$STS '{.metadata.name}')" = "$STS" ] || fail "deletion after Completed removed the new StatefulSet"
"$HELM" uninstall "$RELEASE" --namespace "$OPNS" --wait --timeout 120s >/dev/null || fail "helm uninstall"

log "PASS: in-cluster operator (helm) upgraded $NS/$SVC: write-blocked ${BLOCKED} ms, attempts $ATTEMPTS," \
    "probe acked $ACKED, errors $ERRORS, longest gap ${GAP} ms, lost $LOST; keys $KEYS -> $NEW_KEYS"
