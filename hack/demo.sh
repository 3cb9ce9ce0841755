#!/usr/bin/env bash
# The main job, end to end on a real Kubernetes control plane on this machine:
#   1. builds the project (hack/build.sh);
#   2. brings up the local cluster (hack/cluster: etcd, kube-apiserver,
#      kube-controller-manager, node agent) in its own state dir, with the
#      operator's image mapped to the binary just built;
#   3. installs the operator with its Helm chart (it runs in-cluster, with its
#      ServiceAccount and the chart's RBAC);
#   4. creates a Redis instance of an old version (StatefulSet redis:2.8 — a
#      real Redis 2.8.19 — + a Service, the VIP) and loads it with data;
#   5. applies a RedisUpgrade to a newer major (8.2: a real Redis 8.2.3) while
#      `redis-upgrade-operator probe --mix` writes SET, EVAL, MULTI/EXEC and
#      expiring keys through the VIP, and prints its progress as it goes;
#   6. prints a report: each phase and its duration, the write-blocked time,
#      the probe's longest gap and acknowledged writes lost, key counts.
# Cleans up after itself (cluster down, every process gone) unless
# DEMO_KEEP_CLUSTER=1. Exit 0 only if the upgrade Completed and lost = 0.
#
# Knobs (environment): DEMO_SOURCE (2.8) and DEMO_TARGET (8.2), any pair of
# the servers hack/setup-servers.sh installs (2.8, 6.2, 7.0, 8.2), DEMO_KEYS (100000), DEMO_VALUE_BYTES (100),
# DEMO_PROBE_RATE (2000/s), DEMO_PROBE_SECONDS (30), DEMO_CLUSTER_DIR
# (/tmp/ruo-demo-cluster), BUILD_DIR (build), DEMO_KEEP_CLUSTER (0: bring the
# cluster down at the end), DEMO_SKIP_BUILD (0: run hack/build.sh first).
# The servers are real Redis builds from registry packages (hack/servers.lock);
# the node agent runs redis:<line> images as those binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. "$ROOT/hack/lib/sample-instance.sh"
BUILD_DIR=${BUILD_DIR:-build}
SOURCE=${DEMO_SOURCE:-2.8}
TARGET=${DEMO_TARGET:-8.2}
KEYS=${DEMO_KEYS:-100000}
VALUE_BYTES=${DEMO_VALUE_BYTES:-100}
PROBE_RATE=${DEMO_PROBE_RATE:-2000}
PROBE_SECONDS=${DEMO_PROBE_SECONDS:-30}
export RUO_CLUSTER_DIR=${DEMO_CLUSTER_DIR:-/tmp/ruo-demo-cluster}
RELEASE=ruo
OPNS=ruo-system
NS=demo
SVC=orders-redis
RUP=orders-to-${TARGET%%.*}
T0=$SECONDS
WORK=$(mktemp -d /tmp/ruo-demo.XXXXXX)
PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
info() { printf '   %s\n' "$*"; }
die() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" != 0 ] && [ -n "${KUBECONFIG:-}" ]; then
    echo "---- for diagnosis: the RedisUpgrade, events, operator log (tail) ----" >&2
    "$KUBECTL" -n "$NS" get rup -o yaml >&2 2>/dev/null || true
    "$KUBECTL" -n "$NS" get events --sort-by=.lastTimestamp >&2 2>/dev/null | tail -n 20 || true
    "$KUBECTL" -n "$OPNS" logs deploy/$RELEASE-redis-upgrade-operator --tail=30 >&2 2>/dev/null || true
  fi
  if [ "${DEMO_KEEP_CLUSTER:-0}" = 1 ] && [ -n "${KUBECONFIG:-}" ]; then
    printf '\nThe cluster is still up: . %s/env; kubectl -n %s get rup,pods,svc\n' "$RUO_CLUSTER_DIR" "$NS"
    printf 'Bring it down with: RUO_CLUSTER_DIR=%s hack/cluster/down.sh\n' "$RUO_CLUSTER_DIR"
  else
    [ -n "${KUBECONFIG:-}" ] && echo "== cleaning up: cluster down ($RUO_CLUSTER_DIR)"
    "$ROOT/hack/cluster/down.sh" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. build ----------------------------------------------------------------
if [ "${DEMO_SKIP_BUILD:-0}" = 1 ]; then
  say "using the existing build in $BUILD_DIR (DEMO_SKIP_BUILD=1)"
else
  say "building the project (hack/build.sh; log $WORK/build.log)"
  BUILD_DIR="$BUILD_DIR" ./hack/build.sh > "$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log" >&2; die "build failed"; }
fi
case "$BUILD_DIR" in /*) BIN="$BUILD_DIR" ;; *) BIN="$ROOT/$BUILD_DIR" ;; esac
BIN="$BIN/src/cmd/redis-upgrade-operator"
[ -x "$BIN" ] || die "no binary at $BIN"
info "$("$BIN" version) built in $((SECONDS - T0)) s"
eval "$(hack/cluster/build.sh --print-paths 2>/dev/null | grep '^RUO_BIN_DIR=')"
KUBECTL="$RUO_BIN_DIR/kubectl"
HELM="$RUO_BIN_DIR/helm"
CHART="$ROOT/charts/redis-upgrade-operator"
k() { "$KUBECTL" "$@"; }

# ---- 2. cluster --------------------------------------------------------------
IMAGE=$("$HELM" template "$RELEASE" "$CHART" | sed -n 's/^ *image: "\(.*\)"$/\1/p' | head -n1)
cat > "$WORK/image-map" <<EOF
$IMAGE=$BIN
EOF
say "bringing up the local Kubernetes cluster ($RUO_CLUSTER_DIR)"
info "node agent image map: $IMAGE -> $BIN"
"$ROOT/hack/cluster/down.sh" >/dev/null 2>&1 || true
t=$SECONDS
KUBECONFIG=$(LOCAL_CLUSTER_IMAGE_MAP="$WORK/image-map" hack/cluster/up.sh 2> "$WORK/up.log") ||
  { tail -n 30 "$WORK/up.log" >&2; die "the cluster did not come up"; }
export KUBECONFIG
info "up in $((SECONDS - t)) s: $(k version 2>/dev/null | grep -i server || true)"

vip() {  # namespace service -> the Service's loopback VIP
  local v=""
  for _ in $(seq 100); do
    v=$(awk -v k="$1/$2" '$1 == k {print $2}' "$RUO_CLUSTER_DIR/vips" 2>/dev/null)
    [ -n "$v" ] && break
    sleep 0.1
  done
  [ -n "$v" ] || die "no VIP for Service $1/$2"
  echo "$v"
}
jp() { k -n "$NS" get "$1" -o "jsonpath=$2" 2>/dev/null; }

# ---- 3. operator -------------------------------------------------------------
say "installing the operator: helm install $RELEASE charts/redis-upgrade-operator -n $OPNS"
t=$SECONDS
"$HELM" install "$RELEASE" "$CHART" --namespace "$OPNS" --create-namespace \
  --set listenHost='$(POD_IP)' --wait --timeout 180s > "$WORK/helm.log" 2>&1 ||
  { cat "$WORK/helm.log" >&2; die "helm install failed"; }
k -n "$OPNS" wait --for=condition=Ready pod -l app.kubernetes.io/instance=$RELEASE --timeout=120s >/dev/null ||
  die "the operator pod is not Ready"
info "Ready in $((SECONDS - t)) s (in-cluster, ServiceAccount $RELEASE-redis-upgrade-operator, RBAC from the chart):"
k -n "$OPNS" get deploy,pods -o wide | sed 's/^/   /'

# ---- 4. the Redis instance ---------------------------------------------------
say "creating the Redis instance $NS/$SVC (StatefulSet redis:$SOURCE + Service) and loading $KEYS keys"
k create namespace "$NS" >/dev/null
sample_instance_yaml "$NS" "$SVC" 1Gi "redis:$SOURCE" | k apply -f - >/dev/null
k -n "$NS" wait --for=condition=Ready pod/$SVC-0 --timeout=120s >/dev/null || die "redis pod not Ready"
OLD_IP=$(jp pod/$SVC-0 '{.status.podIP}')
VIP=$(vip "$NS" "$SVC")
# A pipeline of SETs (DEBUG POPULATE is off by default on redis 7, and 2.8's takes no size).
PAD=$(head -c "$VALUE_BYTES" /dev/zero | tr '\0' 'x')
seq 1 "$KEYS" | awk -v pad="$PAD" '{v = $1 ":" pad; k = "demo:key:" $1;
  printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v}' |
  redis-cli -h "$OLD_IP" --pipe > "$WORK/load.log" 2>&1 || die "loading keys: $(cat "$WORK/load.log")"
KEYS_BEFORE=$(redis-cli -h "$VIP" DBSIZE)
OLD_VERSION=$(redis-cli -h "$OLD_IP" INFO server | tr -d '\r' | sed -n 's/^redis_version://p')
USED=$(redis-cli -h "$OLD_IP" INFO memory | tr -d '\r' | sed -n 's/^used_memory_human://p')
info "pod $SVC-0 on $OLD_IP (redis $OLD_VERSION), Service VIP $VIP:6379, $KEYS_BEFORE keys, $USED used"

# ---- 5. the upgrade ----------------------------------------------------------
say "applying the RedisUpgrade (Immediate switch) and watching it"
cat > "$WORK/rup.yaml" <<EOF
apiVersion: redisupgrade.dev/v1alpha1
kind: RedisUpgrade
metadata: {name: $RUP, namespace: $NS}
spec:
  instance: {service: $SVC}
  targetVersion: "$TARGET"
  switchover: {mode: Immediate, maxLagBytes: 10485760, maxReadOnlySeconds: 60}
EOF
sed 's/^/   /' "$WORK/rup.yaml"
echo
# Progress, like `kubectl get rup -w`: a line whenever the phase, the lag, the
# link or the switch step changes, stamped with the time since the apply.
mkfifo "$WORK/watch.fifo"; : > "$WORK/progress.log"
k get rup -n "$NS" -w --request-timeout=0 -o jsonpath='{.status.phase}|{.status.sync.lagBytes}|{.status.sync.masterLinkStatus}|{.status.switch.step}|{.status.switch.attempts}|{.status.reason}{"\n"}' \
  > "$WORK/watch.fifo" 2>/dev/null &
WATCH_PID=$!
PIDS+=($WATCH_PID)
T_APPLY=${EPOCHREALTIME/./}
(
  printf '   %8s  %-17s %10s  %-5s %-13s %-8s %s\n' TIME PHASE "LAG(B)" LINK SWITCH-STEP ATTEMPTS REASON
  last=""
  while IFS='|' read -r phase lag link step attempts reason; do
    [ -n "$phase" ] || continue
    cur="$phase|$lag|$link|$step|$attempts|$reason"
    [ "$cur" = "$last" ] && continue
    last=$cur
    cs=$(( (${EPOCHREALTIME/./} - T_APPLY) / 10000 ))   # centiseconds since apply
    printf '   %5d.%02ds  %-17s %10s  %-5s %-13s %-8s %s\n' $((cs / 100)) $((cs % 100)) "$phase" "${lag:--}" \
      "${link:--}" "${step:--}" "${attempts:-0}" "$reason" | tee -a "$WORK/progress.log"
  done < "$WORK/watch.fifo"
) &
PIDS+=($!)
k apply -f "$WORK/rup.yaml" >/dev/null

# The probe verifies on the new master, so it starts once that pod has an address.
NEW_IP=""
for _ in $(seq 900); do
  STS=$(jp rup/$RUP '{.status.newStatefulSet}')
  [ -n "$STS" ] && NEW_IP=$(jp pod/$STS-0 '{.status.podIP}')
  [ -n "$NEW_IP" ] && break
  [ "$(jp rup/$RUP '{.status.phase}')" = Failed ] && break
  sleep 0.2
done
if [ -n "$NEW_IP" ]; then
  printf '   (probe: %s writes/s of SET, EVAL, MULTI/EXEC and SET EX through the VIP %s:6379 for %s s, verifying on the new master %s)\n' \
    "$PROBE_RATE" "$VIP" "$PROBE_SECONDS" "$NEW_IP"
  "$BIN" probe --addr "$VIP:6379" --rate "$PROBE_RATE" --duration "$PROBE_SECONDS" --mix \
    --verify "$NEW_IP:6379" > "$WORK/probe.json" 2> "$WORK/probe.err" &
  PROBE_PID=$!
  PIDS+=($PROBE_PID)
  PROBE_START=$(date +%s)
fi

k -n "$NS" wait --for=condition=Ready rup/$RUP --timeout=600s > "$WORK/wait.log" 2>&1 &
WAIT_PID=$!
PIDS+=($WAIT_PID)
while kill -0 "$WAIT_PID" 2>/dev/null; do
  [ "$(jp rup/$RUP '{.status.phase}')" = Failed ] && { kill "$WAIT_PID" 2>/dev/null || true; break; }
  sleep 1
done
wait "$WAIT_PID" 2>/dev/null || true
PHASE=$(jp rup/$RUP '{.status.phase}')
PROBE_RC=1
if [ -n "${PROBE_PID:-}" ]; then
  wait "$PROBE_PID" && PROBE_RC=0 || PROBE_RC=$?
fi
sleep 0.5   # let the watch print the last status
kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true

# ---- 6. report ---------------------------------------------------------------
say "result"
k -n "$NS" get rup "$RUP" | sed 's/^/   /'
echo
k -n "$NS" get pods,svc -o wide | sed 's/^/   /'
echo
info "events:"
k -n "$NS" get events --field-selector involvedObject.name=$RUP --sort-by=.lastTimestamp \
  -o custom-columns='TYPE:.type,REASON:.reason,MESSAGE:.message' 2>/dev/null | sed 's/^/     /'
echo
k -n "$NS" get rup "$RUP" -o json > "$WORK/rup.json"
NEW_KEYS=""; VIP_KEYS=""; OLD_ROLE=""
if [ -n "$NEW_IP" ]; then NEW_KEYS=$(redis-cli -h "$NEW_IP" DBSIZE 2>/dev/null || true); fi
VIP_KEYS=$(redis-cli -h "$VIP" DBSIZE 2>/dev/null || true)
# INFO still answers on the sealed old master; DBSIZE gets MASTERDOWN (no stale reads).
OLD_KEYS=$(redis-cli -h "$OLD_IP" INFO keyspace 2>/dev/null | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\).*/\1/p' || true)
OLD_READ=$(redis-cli -h "$OLD_IP" GET demo:key:1 2>&1 | head -c 60 || true)
OLD_ROLE=$(redis-cli -h "$OLD_IP" ROLE 2>/dev/null | head -n 3 | tr '\n' ' ' || true)

set +e
python3 - "$WORK/rup.json" "$WORK/probe.json" "$WORK/progress.log" "${PROBE_START:-0}" "$PROBE_SECONDS" \
  "$KEYS_BEFORE" "$NEW_KEYS" "$VIP_KEYS" "$OLD_KEYS" "$OLD_ROLE" "$PROBE_RC" "$((SECONDS - T0))" \
  "$OLD_READ" <<'PY'
import json, sys, datetime
(rup_f, probe_f, progress_f, probe_start, probe_secs, keys_before, new_keys, vip_keys,
 old_keys, old_role, probe_rc, wall, old_read) = sys.argv[1:]
u = json.load(open(rup_f)); st = u.get("status", {})
try:
    p = json.load(open(probe_f))
except Exception:
    p = {}
def ts(s): return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
order = ["Pending", "Validating", "Provisioning", "Syncing", "WaitingForSwitch", "Switching", "Completed", "Failed"]
times = sorted(((ts(v), k) for k, v in st.get("phaseTimes", {}).items()), key=lambda x: (x[0], order.index(x[1]) if x[1] in order else 99))
# When the demo's watch first saw each phase (sub-second resolution).
seen = {}
for line in open(progress_f):
    f = line.split()
    if len(f) >= 2 and f[1] in order and f[1] not in seen:
        seen[f[1]] = float(f[0].rstrip("s"))
print(f"   upgrade:            {st.get('phase')}  {st.get('sourceVersion', '?')} -> {st.get('targetVersion', '?')}"
      f"  (new StatefulSet {st.get('newStatefulSet', '?')})")
if st.get("phase") == "Failed":
    print(f"   reason:             {st.get('reason')}: {st.get('message')}")
print("   phases: entered at (status.phaseTimes, whole seconds) and how long each lasted,")
print("   from status.phaseTimes and as seen by the demo's watch (sub-second):")
print(f"     {'PHASE':<18} {'ENTERED':<9} {'STATUS':>7} {'WATCH':>8}")
for i, (t, k) in enumerate(times):
    nxt = times[i + 1][1] if i + 1 < len(times) else None
    d = f"{(times[i + 1][0] - t).total_seconds():.0f} s" if nxt else "-"
    w = f"{seen[nxt] - seen[k]:.2f} s" if nxt and k in seen and nxt in seen else "-"
    print(f"     {k:<18} {t.strftime('%H:%M:%S'):<9} {d:>7} {w:>8}")
if times:
    first, last = times[0][1], times[-1][1]
    w = f"{seen[last] - seen[first]:.2f} s" if first in seen and last in seen else "-"
    print(f"     {'total':<18} {'':<9} {(times[-1][0] - times[0][0]).total_seconds():.0f} s {w:>8}")
sw = st.get("switch", {})
print(f"   write-blocked:      {sw.get('writeBlockedMillis', '?')} ms  (status.switch.writeBlockedMillis; attempts {sw.get('attempts', '?')})")
methods = {
    "fence": "fence: min-slaves-to-write above the replica count (Redis 2.8 has no CLIENT PAUSE; the offsets prove no script slipped through)",
    "multi-fence-pause": "MULTI { fence, CLIENT PAUSE, INFO } (3.0-6.0: a pause cannot be ended early)",
    "pause-write": "CLIENT PAUSE WRITE, then the fence (6.2+)",
}
m = sw.get("record", {}).get("blockMethod", "")
print(f"   write blocking:     {methods.get(m, m or '?')}  (source {st.get('sourceVersion', '?')})")
lost = p.get("lost")
if p:
    print(f"   probe:              {p.get('acked')} writes acked, {p.get('errors')} errors, longest gap without a successful write {p.get('max_gap_ms')} ms")
    mix = p.get("mix", {})
    if mix:
        print("                       acked by kind: " + ", ".join(f"{k} {v.get('acked')}" for k, v in sorted(mix.items())))
    print(f"   acked writes lost:  {lost}" + (f"; expiring keys that lost their TTL: {p.get('ttl_lost')}" if "ttl_lost" in p else ""))
    started = sw.get("startedAt")
    ps = int(probe_start)
    if started and ps and not (ps <= ts(started).timestamp() <= ps + int(probe_secs)):
        print("   NOTE: the switch did not happen while the probe was writing (raise DEMO_PROBE_SECONDS)")
else:
    print("   probe:              no report")
print(f"   keys:               before {keys_before}; after: new master {new_keys or '?'}, through the VIP {vip_keys or '?'}"
      f" (= before + the probe's keys);\n                       old master {old_keys or '?'} (frozen at the switch)")
r = old_role.split()
if len(r) >= 3 and r[0] == "slave":
    print(f"   old master:         now a read-only replica of {r[1]}:{r[2]} (nothing listens there): sealed, it refuses writes"
          f"\n                       and stale reads (GET: {old_read.split(' ')[0] or '?'})")
else:
    print(f"   old master:         ROLE {old_role.strip() or '?'}")
ok = st.get("phase") == "Completed" and lost == 0 and p.get("ttl_lost", 0) == 0 and probe_rc == "0"
print(f"\n   {'OK' if ok else 'NOT OK'}: {'Completed, no acknowledged write lost' if ok else 'see above'}; demo wall time {wall} s")
sys.exit(0 if ok else 1)
PY
RC=$?
set -e
exit $RC
