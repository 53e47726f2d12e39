#!/usr/bin/env bash
# Installs what is missing, builds, and runs the test suite with ctest: the whole suite on the
# release build, then the sanitizer tree (build/fuzz: clang with ASan + UBSan, no GUI): the
# unit and integration tests under the sanitizers and each fuzz target for a few seconds.
# Pass ctest arguments through, e.g. ./test.sh -L unit: they go to the release run, and the
# sanitizer run is then skipped unless PULSEBOARD_SANITIZERS=1 (=0 skips it in any case).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh
sanitizers=${PULSEBOARD_SANITIZERS:-$([ $# -eq 0 ] && echo 1 || echo 0)}
status=0
(cd build/release && ctest --output-on-failure --parallel 2 --timeout 600 "$@") || status=$?
if [ "$sanitizers" = 1 ]; then
    echo "== the sanitizer tree (build/fuzz): unit, integration and fuzz tests under ASan + UBSan"
    scripts/build.sh fuzz
    ctest --preset fuzz --parallel 2 --timeout 600 || status=$?
fi
exit "$status"
