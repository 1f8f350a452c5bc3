#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build a Debug build with ASan
# and UBSan, build the demo guest (cached), and run every test with ctest.
#   scripts/test.sh [ctest arguments...]     e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBULWARK_TESTS=ON >/dev/null
ninja -C build
# Integration tests boot TCG guests: two at a time fit two cores.
ctest --test-dir build --output-on-failure -j2 "$@"
