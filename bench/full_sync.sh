#!/usr/bin/env bash
# Full-sync benchmark (see bench/full_sync.py and docs/benchmarks.md).
# Build first (hack/build.sh); BUILD_DIR or --build-dir points at the build.
set -euo pipefail
exec python3 "$(dirname "$0")/full_sync.py" "$@"
