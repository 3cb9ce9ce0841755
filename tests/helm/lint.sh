#!/usr/bin/env bash
# helm lint --strict on the chart with its default values and with the other
# shapes it supports, plus checks on what those render:
#   - the RBAC rules are exactly tests/helm/expected-rules.yaml (least privilege:
#     any change to them must be deliberate and match the API calls in the code);
#   - watchNamespaces renders one Role + RoleBinding per namespace, no ClusterRole;
#   - replicaCount > 1 without leader election is refused;
#   - metrics.enabled=false renders no metrics Service/port.
SRC=${1:?usage: lint.sh SOURCE_DIR}
. "$(dirname "$0")/lib.sh"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

lint() { log "helm lint --strict $*"; "$HELM" lint --strict "$CHART" "$@" > "$TMP/lint.out" 2>&1 || { cat "$TMP/lint.out" >&2; fail "helm lint $*"; }
  grep -E '^\[(WARNING|ERROR)\]' "$TMP/lint.out" && fail "helm lint $* reported warnings"; true; }
render() { "$HELM" template ruo "$CHART" --namespace ruo-system "$@"; }

lint
lint --set 'watchNamespaces={shop,billing}'
lint --set leaderElection.enabled=false --set metrics.enabled=false
lint --set replicaCount=3 --set listenHost='$(POD_IP)' --set metrics.serviceMonitor.enabled=true
lint --set logJson=false --set logLevel=debug --set serviceAccount.create=false --set serviceAccount.name=ops

# Default: cluster-wide RBAC with exactly the expected rules.
render > "$TMP/default.yaml"
# The rules of the ClusterRole: from "rules:" to the end of that document.
awk '/^kind: ClusterRole$/{inrole=1} inrole && /^rules:/{on=1; next} /^---/{on=0; inrole=0} on' \
  "$TMP/default.yaml" > "$TMP/rules.yaml"
diff -u "$(dirname "$0")/expected-rules.yaml" "$TMP/rules.yaml" ||
  fail "the ClusterRole's rules changed (see diff); update tests/helm/expected-rules.yaml only if the code really calls that"
grep -q '^kind: ClusterRoleBinding$' "$TMP/default.yaml" || fail "no ClusterRoleBinding"
grep -q -- '- --leader-elect=true' "$TMP/default.yaml" || fail "leader election not on by default"
grep -q -- '            - run$' "$TMP/default.yaml" || fail "the container does not run 'run'"
grep -q 'image: "ghcr.io/redis-upgrade-operator/redis-upgrade-operator:0.1.0"' "$TMP/default.yaml" ||
  fail "default image is not ghcr.io/redis-upgrade-operator/redis-upgrade-operator:<appVersion>"
if grep -nE '"\*"|\*' "$TMP/rules.yaml"; then fail "wildcard in RBAC rules"; fi

# watchNamespaces: namespaced RBAC only.
render --set 'watchNamespaces={shop,billing}' > "$TMP/ns.yaml"
grep -q '^kind: ClusterRole' "$TMP/ns.yaml" && fail "watchNamespaces still renders a ClusterRole(Binding)"
[ "$(grep -c '^kind: Role$' "$TMP/ns.yaml")" = 3 ] || fail "expected 2 watch Roles + 1 leader-election Role"
[ "$(grep -c '^kind: RoleBinding$' "$TMP/ns.yaml")" = 3 ] || fail "expected 3 RoleBindings"
grep -q -- '- --namespace=shop,billing' "$TMP/ns.yaml" || fail "--namespace not passed"

# Two active controllers are refused.
if render --set replicaCount=2 --set leaderElection.enabled=false > "$TMP/bad.yaml" 2> "$TMP/bad.err"; then
  fail "replicaCount=2 without leader election rendered"
fi
grep -q 'needs leaderElection.enabled' "$TMP/bad.err" || fail "unexpected error: $(cat "$TMP/bad.err")"

# Metrics off: no Service, no port, the endpoint disabled.
render --set metrics.enabled=false > "$TMP/nometrics.yaml"
grep -q -- '-metrics$' "$TMP/nometrics.yaml" && fail "metrics Service rendered with metrics.enabled=false"
grep -q -- '- --metrics-bind-address=0' "$TMP/nometrics.yaml" || fail "metrics endpoint not disabled"

# The schema rejects unknown values.
if render --set noSuchValue=1 > /dev/null 2>&1; then fail "values.schema.json accepted an unknown key"; fi
log "helm lint and renders: ok"
