#!/usr/bin/env bash
# Server-side dry run of everything the chart renders (CRD included), with the
# default values and with watchNamespaces, against the local cluster: the real
# kube-apiserver validates every object (schemas, RBAC objects, the CRD's
# structural schema and CEL rules). Then the examples/ manifests are
# dry-run-created against the installed CRD, so they stay valid.
# Needs RUO_KUBECONFIG (CTest's k8s_cluster fixture sets it).
SRC=${1:?usage: dry_run_server.sh SOURCE_DIR}
. "$(dirname "$0")/lib.sh"
: "${RUO_KUBECONFIG:?RUO_KUBECONFIG unset: run through ctest (fixture k8s_cluster) or point it at a kubeconfig}"
export KUBECONFIG="$RUO_KUBECONFIG"
NS="helm-dry-run-$RANDOM$RANDOM"
TMP=$(mktemp -d)
cleanup() { "$KUBECTL" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT

# Namespaced objects can only be dry-run-created in a namespace that exists.
"$KUBECTL" create namespace "$NS" >/dev/null

dry_run() {  # name, then helm values flags
  local name=$1; shift
  "$HELM" template ruo "$CHART" --namespace "$NS" --include-crds "$@" > "$TMP/$name.yaml"
  log "kubectl apply --dry-run=server: $name ($(grep -c '^kind:' "$TMP/$name.yaml") objects)"
  "$KUBECTL" apply --dry-run=server -f "$TMP/$name.yaml" > "$TMP/$name.out" 2>&1 ||
    { cat "$TMP/$name.out" >&2; fail "server-side dry run of the $name render"; }
  cat "$TMP/$name.out" >&2
  # (an object created before without kubectl apply draws a harmless warning)
  grep -i 'warning' "$TMP/$name.out" | grep -qv 'last-applied-configuration' &&
    fail "the apiserver warned about the $name render"
  true
}
dry_run default
dry_run namespaced --set "watchNamespaces={$NS}" --set replicaCount=2 --set listenHost='$(POD_IP)'
dry_run minimal --set leaderElection.enabled=false --set metrics.enabled=false --set serviceAccount.create=false

# The examples, against the CRD as installed (dry run cannot register a CRD).
"$KUBECTL" apply -f "$SRC/crds/" >/dev/null
"$KUBECTL" wait --for condition=established --timeout=60s crd/redisupgrades.redisupgrade.dev >/dev/null
for f in "$SRC"/examples/*.yaml; do
  log "kubectl create --dry-run=server: examples/$(basename "$f")"
  "$KUBECTL" create --dry-run=server -n "$NS" -f "$f" >&2 || fail "examples/$(basename "$f") is rejected"
done
# And the CRD's own rules reject what they should.
bad=$(printf 'apiVersion: redisupgrade.dev/v1alpha1\nkind: RedisUpgrade\nmetadata: {name: bad}\nspec:\n  instance: {service: x}\n  targetVersion: "7.0"\n  switchover: {mode: MaintenanceWindow}\n')
if echo "$bad" | "$KUBECTL" create --dry-run=server -n "$NS" -f - > "$TMP/bad.out" 2>&1; then
  fail "MaintenanceWindow without a window was accepted"
fi
grep -q 'maintenanceWindow is required' "$TMP/bad.out" || fail "unexpected rejection: $(cat "$TMP/bad.out")"
log "server-side dry runs: ok"
