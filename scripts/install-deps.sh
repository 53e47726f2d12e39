#!/usr/bin/env bash
# Installs the Debian packages Pulseboard needs to build, test and run, if any are missing.
# Shared by run.sh and test.sh. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
    g++ cmake ninja-build pkg-config
    qt6-base-dev qt6-charts-dev qt6-svg-dev libqt6opengl6-dev libgl-dev qtkeychain-qt6-dev
    librdkafka-dev libhiredis-dev libsimdjson-dev libssl-dev openssl
    prometheus-cpp-dev libcivetweb-dev
    redis-server prometheus prometheus-alertmanager
    kcat python3 python3-kafka python3-redis python3-matplotlib docker-compose
    dpkg-dev lintian desktop-file-utils appstream help2man librsvg2-bin
    xvfb xauth
    # the sanitizer and fuzz tree (fuzz preset): clang, its ASan/UBSan/libFuzzer runtimes, and
    # llvm-symbolizer for the stack traces in their reports
    clang libclang-rt-dev llvm
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: not root and no sudo; install these as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
# The redis-server package starts a system service on 6379; Pulseboard starts its own.
# prometheus-alertmanager likewise on 9093: the tests start theirs on free loopback ports.
