#!/usr/bin/env bash
# How long one batch keeps Redis busy while an aggregator catches up with a backlog of distinct
# users (the worst case: every event a new user). Prints the slowest pb_apply calls Redis saw
# (SLOWLOG, microseconds) and the batches' count. Usage: bench/redis_call_time.sh [events]
# [extra aggregate flags...]. Needs the release build, redis-server, redis-cli, kcat, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=build/release/src/cli/pulseboard-cli
EVENTS=${1:-1000000}
shift || true
. bench/stack.sh
start_stack calls
python3 -c "
import sys
for i in range($EVENTS):
    sys.stdout.write('u%d\t{\"user_id\":%d,\"action\":\"view\",\"page\":\"/p%d\"}\n' % (i, i, i % 500))
" | kcat -P -b "$B" -t calls -K '\t' -X queue.buffering.max.messages=1000000
redis-cli -p "$PORT" config set slowlog-log-slower-than 20000 >/dev/null
redis-cli -p "$PORT" config set slowlog-max-len 10000 >/dev/null
start=$(date +%s.%N)
"$CLI" aggregate --brokers "$B" --topic calls --redis "127.0.0.1:$PORT" --idle-exit 2s "$@" 2>/dev/null
end=$(date +%s.%N)
echo "events_total $(redis-cli -p "$PORT" get 'pulseboard:{all}:events_total') in $(echo "$end - $start" | bc) s (incl. 2 s idle)"
echo "pb_apply calls over 20 ms (microseconds, slowest first):"
redis-cli --no-raw -p "$PORT" slowlog get 10000 | grep -A3 -E '^ *[0-9]+\) 1\) \(integer\)' | awk '/3\) \(integer\)/{print $3}' | sort -rn | head -10 | tr '\n' ' '
echo
redis-cli -p "$PORT" info commandstats | grep fcall
