#!/usr/bin/env bash
# Configures and builds Pulseboard into build/PRESET: scripts/build.sh [PRESET] (default
# release; fuzz is the clang ASan + UBSan + libFuzzer tree ./test.sh also runs).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
cmake --preset "$preset" >/dev/null
cmake --build "build/$preset" --parallel "$(nproc)"
