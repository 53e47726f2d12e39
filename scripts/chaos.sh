#!/usr/bin/env bash
# Builds pulseboard-cli if needed and runs the chaos soak (tests/chaos/chaos.py).
#   scripts/chaos.sh                      10 minutes of faults (the same as --minutes 10)
#   scripts/chaos.sh --minutes 30 --seed 42
#   scripts/chaos.sh --short              the ctest run
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f build/release/build.ninja ]]; then
    cmake --preset release >/dev/null
fi
cmake --build build/release --target pulseboard-cli
mode=(--minutes 10)
for arg in "$@"; do
    if [[ "$arg" == --short || "$arg" == --minutes* ]]; then
        mode=()
    fi
done
exec python3 tests/chaos/chaos.py --cli build/release/src/cli/pulseboard-cli "${mode[@]}" "$@"
