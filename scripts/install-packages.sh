#!/usr/bin/env bash
# Builds the Debian packages and installs them on this machine (as root), as a user would:
#   scripts/install-packages.sh            # build, cpack, apt-get install ./pulseboard*.deb
#   apt-get remove pulseboard pulseboard-cli  # removes them again
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
out=$(mktemp -d)
(cd build/release && cpack -G DEB -B "$out" >/dev/null)
apt-get install -y "$out"/pulseboard-cli_*.deb "$out"/pulseboard_*.deb
echo "installed: $(pulseboard-cli --version); pulseboard is in the menu (Network ▸ Pulseboard)"
