#!/usr/bin/env bash
# Switch latency benchmark (see bench/switch_latency.py and docs/benchmarks.md).
# Build first (hack/build.sh); BUILD_DIR or --build-dir points at the build.
set -euo pipefail
exec python3 "$(dirname "$0")/switch_latency.py" "$@"
