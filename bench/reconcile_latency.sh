#!/usr/bin/env bash
# Watch event -> reconcile start latency (see bench/reconcile_latency.py and docs/benchmarks.md).
# Build first (hack/build.sh); BUILD_DIR or --build-dir points at the build;
# RUO_CLUSTER_DIR (default /tmp/ruo-bench-cluster) is the local cluster's state dir.
set -euo pipefail
exec python3 "$(dirname "$0")/reconcile_latency.py" "$@"
