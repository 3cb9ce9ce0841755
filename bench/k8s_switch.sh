#!/usr/bin/env bash
# Switch in Kubernetes benchmark (see bench/k8s_switch.py and docs/benchmarks.md).
# Build first (hack/build.sh); BUILD_DIR or --build-dir points at the build.
# Brings up its own local cluster in ${RUO_CLUSTER_DIR:-/tmp/ruo-bench-cluster}
# (or --cluster-dir) and takes it down at the end.
set -euo pipefail
exec python3 "$(dirname "$0")/k8s_switch.py" "$@"
