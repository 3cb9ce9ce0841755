#!/usr/bin/env bash
# Builds the project and runs every test (unit, integration, e2e) with CTest.
# Extra arguments go to ctest, e.g. `hack/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
"$(dirname "$0")/build.sh"
# Format check: clang-format must leave every C++ file unchanged.
"$(dirname "$0")/format.sh" --check
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900 "$@"
