# Shared by the chart tests: tool paths and small helpers. Source it with the
# project's source dir in $SRC.
set -euo pipefail
CHART="$SRC/charts/redis-upgrade-operator"
eval "$("$SRC/hack/cluster/build.sh" --print-paths 2>/dev/null | grep '^RUO_BIN_DIR=')"
HELM="$RUO_BIN_DIR/helm"
KUBECTL="$RUO_BIN_DIR/kubectl"
[ -x "$HELM" ] && [ -x "$KUBECTL" ] || { echo "helm/kubectl not built: run hack/setup-cluster.sh" >&2; exit 1; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
