#!/usr/bin/env bash
# The chart ships the CRD in charts/redis-upgrade-operator/crds/; it must be the
# very file of crds/ (copy it over after changing the CRD).
set -euo pipefail
SRC=${1:?usage: crd_in_sync.sh SOURCE_DIR}
if diff -ru "$SRC/crds" "$SRC/charts/redis-upgrade-operator/crds"; then
  echo "chart CRDs identical to crds/"
else
  echo "FAIL: charts/redis-upgrade-operator/crds differs from crds/; fix with:" >&2
  echo "  cp crds/*.yaml charts/redis-upgrade-operator/crds/" >&2
  exit 1
fi
