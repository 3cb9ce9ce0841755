#!/usr/bin/env bash
# Switch in Kubernetes benchmark (see bench/k8s_switch.py and docs/benchmarks.md):
# write-blocked ms and the probe's longest client gap by source version and write rate.
#   bench/k8s_switch.sh [--sources 7.0] [--target 7.0|8.2] [--rates 1000,5000,10000] [--runs 5] ...
# The default, --sources 7.0, is the 7.0 -> 7.0 benchmark; other sources
# (e.g. --sources 2.8,6.2,7.0, target 8.2 by default) need the real servers and
# their image map from hack/setup-servers.sh. --help lists every flag.
# Build first (hack/build.sh); BUILD_DIR or --build-dir points at the build.
# Brings up its own local cluster in ${RUO_CLUSTER_DIR:-/tmp/ruo-bench-cluster}
# (or --cluster-dir) and takes it down at the end.
set -euo pipefail
exec python3 "$(dirname "$0")/k8s_switch.py" "$@"
