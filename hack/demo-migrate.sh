#!/usr/bin/env bash
# The engine alone, without Kubernetes: two local redis-server processes (the
# "old" instance with data and a "new" one), a VIP modelled by a TCP forwarder, a
# live probe writing through the VIP, and `migrate` moving the instance to the new
# server. Prints both JSON reports and a short summary. Cleans up after itself.
# (The full Kubernetes demo, operator installed with Helm, is hack/demo.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
./hack/build.sh >/dev/null

BIN="$BUILD_DIR/src/cmd/redis-upgrade-operator"
FWD="$BUILD_DIR/tests/tools/tcp_forwarder"
WORK=$(mktemp -d /tmp/ruo-demo.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_redis() {  # name port
  mkdir -p "$WORK/$1"
  redis-server --port "$2" --bind 127.0.0.1 --dir "$WORK/$1" --save "" --appendonly no \
    --logfile "$WORK/$1/redis.log" --daemonize no &
  PIDS+=($!)
  for _ in $(seq 100); do redis-cli -p "$2" PING >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "demo: redis-server $1 did not start" >&2; exit 1
}

OLD=$(free_port); start_redis old "$OLD"
NEW=$(free_port); start_redis new "$NEW"
VIP=$(free_port)
echo "127.0.0.1:$OLD" > "$WORK/backend"
"$FWD" --listen "127.0.0.1:$VIP" --backend-file "$WORK/backend" &
PIDS+=($!)
sleep 0.2

echo "== old instance 127.0.0.1:$OLD ($(redis-cli -p "$OLD" INFO server | tr -d '\r' | grep redis_version)), new 127.0.0.1:$NEW, VIP 127.0.0.1:$VIP"
redis-cli -p "$OLD" DEBUG POPULATE 200000 demo 64 >/dev/null
echo "== loaded $(redis-cli -p "$OLD" DBSIZE) keys into the old instance"

echo "== probe: writing 5000/s through the VIP for 12 s"
"$BIN" probe --addr "127.0.0.1:$VIP" --rate 5000 --duration 12 --verify "127.0.0.1:$NEW" \
  > "$WORK/probe.json" 2> "$WORK/probe.log" &
PROBE=$!
sleep 2

echo "== migrate (progress below)"
set +e
"$BIN" migrate --source "127.0.0.1:$OLD" --target "127.0.0.1:$NEW" \
  --switch-hook "echo \$RUO_NEW_MASTER > $WORK/backend" > "$WORK/migrate.json"
MIGRATE_RC=$?
wait "$PROBE"; PROBE_RC=$?
set -e

echo "== migrate report"; cat "$WORK/migrate.json"; echo
echo "== probe report"; cat "$WORK/probe.json"; echo
python3 - "$WORK/migrate.json" "$WORK/probe.json" "$OLD" "$NEW" <<'PY'
import json, subprocess, sys
m = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
def cli(port, *a): return subprocess.run(["redis-cli", "-p", port, *a], capture_output=True, text=True).stdout.strip()
print("== summary")
print(f"result:              {m.get('result')} ({m.get('source_version')} -> {m.get('target_version')})")
print(f"write blocked:       {m.get('write_blocked_ms')} ms, attempts {m.get('attempts')}")
print(f"probe:               {p.get('acked')} acked, {p.get('errors')} errors, longest gap {p.get('max_gap_ms')} ms")
print(f"acked writes lost:   {p.get('lost')}")
print(f"keys old/new:        {cli(sys.argv[3], 'DBSIZE')} / {cli(sys.argv[4], 'DBSIZE')}")
print(f"old master role:     {cli(sys.argv[3], 'ROLE').splitlines()[0] if cli(sys.argv[3], 'ROLE') else '?'} (sealed)")
PY
[ "$MIGRATE_RC" = 0 ] && [ "$PROBE_RC" = 0 ]
