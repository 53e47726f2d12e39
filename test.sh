#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
# Pass ctest arguments through, e.g. ./test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh
cd build/release
exec ctest --output-on-failure --parallel 2 --timeout 600 "$@"
