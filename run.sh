#!/usr/bin/env bash
# Installs what is missing, builds, and starts Pulseboard on the embedded stack: the headless
# demo (embedded Kafka + Redis + simulator + aggregator, live numbers every second).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh
echo "starting the headless demo (Ctrl-C stops it): pulseboard-cli demo $*"
exec build/release/src/cli/pulseboard-cli demo "$@"
