#!/usr/bin/env bash
# docker-compose.yml as a user meets it, validated without a Docker engine: it refuses to start
# without REDIS_PASSWORD, publishes on 127.0.0.1 only, and no password reaches a command line.
set -euo pipefail
compose_file=$1
command -v docker-compose >/dev/null || { echo "FAIL: docker-compose is not installed (scripts/install-deps.sh installs it)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$compose_file" "$work/docker-compose.yml"
cd "$work"
if env -u REDIS_PASSWORD docker-compose config >/dev/null 2>"$work/err"; then
    echo "FAIL: docker-compose config passed without REDIS_PASSWORD"; exit 1
fi
grep -q 'REDIS_PASSWORD' "$work/err" || { echo "FAIL: the error does not name REDIS_PASSWORD:"; cat "$work/err"; exit 1; }
secret=s3cret-$RANDOM$RANDOM
REDIS_PASSWORD=$secret docker-compose config >"$work/config.yml"
# Published ports: each bound to an address, 127.0.0.1 by default.
ports=$(grep -E '^\s+- .*:[0-9]+:[0-9]+' "$work/config.yml" || true)
[ -n "$ports" ] || { echo "FAIL: no published ports found"; exit 1; }
if echo "$ports" | grep -vq '127\.0\.0\.1:'; then
    echo "FAIL: a port is published beyond 127.0.0.1:"; echo "$ports"; exit 1
fi
# The password only in environment entries, never in a command, entrypoint or healthcheck.
if grep -n -- "$secret" "$work/config.yml" | grep -v 'REDIS_PASSWORD: \|PULSEBOARD_REDIS_PASSWORD: '; then
    echo "FAIL: the password appears outside an environment entry"; exit 1
fi
if grep -nE -- '--requirepass|redis-cli -a|change-me' "$work/config.yml"; then
    echo "FAIL: a password on a command line or a default password"; exit 1
fi
echo "docker-compose.yml: needs REDIS_PASSWORD, publishes on 127.0.0.1 only, no password in argv"
