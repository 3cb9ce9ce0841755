#!/usr/bin/env bash
# Compacts the local cluster's etcd (${RUO_CLUSTER_DIR:-/tmp/ruo-cluster}) up to
# its current revision through etcd's v3 JSON gateway, so every resourceVersion
# older than that is gone: a watch that resumes from one gets 410 Gone once the
# apiserver's watch cache no longer holds it (e.g. after restart-apiserver.sh).
# Prints the revision it compacted to.
#
# Usage: hack/cluster/compact-etcd.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DIR="$RUO_CLUSTER_DIR"
[ -f "$DIR/ports.env" ] || ruo_die "no cluster in $DIR (run up.sh)"
# shellcheck source=/dev/null
. "$DIR/ports.env"
url="http://127.0.0.1:$ETCD_PORT"

# Any key: the reply's header carries the store's current revision.
reply="$(curl -sS --max-time 10 -X POST "$url/v3/kv/range" -d '{"key":"AA==","limit":"1"}')"
rev="$(printf '%s' "$reply" | grep -o '"revision":"[0-9]*"' | head -n1 | grep -o '[0-9]*')"
[ -n "$rev" ] || ruo_die "no revision in etcd's reply: $reply"
out="$(curl -sS --max-time 30 -X POST "$url/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}")"
case "$out" in
  *'"error"'*|*'"code"'*) ruo_die "compaction to $rev failed: $out" ;;
esac
ruo_log "etcd compacted to revision $rev"
echo "$rev"
