#!/usr/bin/env bash
# Redis time of one dashboard / `stats` read with many distinct pages in the last hour (the
# security issue's bound: at most 5 ms with 1 M pages), against the read it replaced, a ZUNION of
# the hour's 60 per-minute sets, measured on the same data in the same run. Events carry payload
# times spread over the last 59 minutes, so each minute holds its share of the pages.
# Usage: bench/stats_read_time.sh [distinct pages, default 1000000] [reads, default 20].
# Needs the release build, redis-server, redis-cli, kcat, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=build/release/src/cli/pulseboard-cli
PAGES=${1:-1000000}
READS=${2:-20}
. bench/stack.sh
start_stack reads
# Every page once, plus 10 % of the events on 20 popular pages, times over the last 59 minutes.
python3 -c "
import random, sys, time
now = int(time.time() * 1000)
rng = random.Random(7)
pages = $PAGES
for i in range(pages + pages // 10):
    page = '/p%d' % i if i < pages else '/popular%d' % rng.randrange(20)
    ts = now - 30000 - rng.randrange(58 * 60000)
    sys.stdout.write('u%d\t{\"user_id\":%d,\"action\":\"view\",\"page\":\"%s\",\"timestamp\":%d}\n'
                     % (i % 50000, i % 50000, page, ts))
" | kcat -P -b "$B" -t reads -K '\t' -X queue.buffering.max.messages=2000000
"$CLI" aggregate --brokers "$B" --topic reads --redis "127.0.0.1:$PORT" --event-time payload \
    --idle-exit 3s 2>/dev/null
P='pulseboard:{all}:'
echo "pages in the hour set: $(redis-cli -p "$PORT" zcard "${P}pages:h"), used_memory: $(redis-cli -p "$PORT" info memory | grep '^used_memory_human' | cut -d: -f2 | tr -d '\r')"
usec() { redis-cli -p "$PORT" info commandstats | python3 -c "
import sys
total = 0
for line in sys.stdin:
    if line.startswith('cmdstat_'):
        total += int(line.split('usec=')[1].split(',')[0])
print(total)"; }
export PULSEBOARD_REDIS_PASSWORD=
redis-cli -p "$PORT" config resetstat >/dev/null
for _ in $(seq "$READS"); do "$CLI" stats --redis "127.0.0.1:$PORT" --json >/dev/null; done
read_us=$(usec)
"$CLI" stats --redis "127.0.0.1:$PORT" | sed -n '/last hour/,/^$/p' | head -6
# The reference is slow (seconds per read with a million pages): three reads.
REF_READS=$(( READS < 3 ? READS : 3 ))
redis-cli -p "$PORT" config resetstat >/dev/null
NOW_MIN=$(( $(date +%s) / 60 ))
KEYS=$(for m in $(seq $((NOW_MIN - 59)) "$NOW_MIN"); do printf '%spages:m:%s ' "$P" "$m"; done)
for _ in $(seq "$REF_READS"); do redis-cli -p "$PORT" zunion 60 $KEYS withscores >/dev/null; done
union_us=$(usec)
python3 -c "
r, n, u, m = $read_us, $READS, $union_us, $REF_READS
print(f'stats read inside Redis: {r / n / 1000:.2f} ms per read (all its commands, {n} reads)')
print(f'reference, the ZUNION of 60 minutes alone: {u / m / 1000:.1f} ms per read ({m} reads)')
print(f'ratio: {(u / m) / max(r / n, 1):.0f} x less Redis time')"
