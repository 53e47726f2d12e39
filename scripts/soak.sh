#!/usr/bin/env bash
# Builds pulseboard-cli if needed and runs the soak (tests/soak/soak.py): the whole pipeline at a
# steady rate, sampling the aggregator's RSS, Redis's memory and keys, and the consumer lag.
#   scripts/soak.sh                                  10 minutes at 50,000 events/s
#   scripts/soak.sh --minutes 2 --rate 10000 --out /tmp/soak
# Writes samples.csv, soak.png, summary.txt and summary.json to --out (default: ./soak-DATE);
# exits 1 when the verdict fails. docs/reliability.md explains the method and the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [[ ! -f build/release/build.ninja ]]; then
    cmake --preset release >/dev/null
fi
cmake --build build/release --target pulseboard-cli
# Debian's python3 (python3-redis, python3-matplotlib), whatever python3 comes first on PATH.
exec /usr/bin/python3 tests/soak/soak.py --cli build/release/src/cli/pulseboard-cli "$@"
