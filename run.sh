#!/usr/bin/env bash
# Installs what is missing, builds, and starts Pulseboard on the embedded stack: the desktop
# dashboard when there is a display, the headless demo (live numbers every second) when not.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ] || [ "${QT_QPA_PLATFORM:-}" = offscreen ]; then
    echo "starting the dashboard: build/release/src/gui/pulseboard $*"
    exec build/release/src/gui/pulseboard "$@"
fi
echo "no display (DISPLAY is not set): starting the headless demo instead (Ctrl-C stops it)."
echo "For the dashboard, run ./run.sh from a desktop session, or: xvfb-run ./run.sh"
exec build/release/src/cli/pulseboard-cli demo "$@"
