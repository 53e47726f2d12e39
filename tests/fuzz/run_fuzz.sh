#!/usr/bin/env bash
# Runs one libFuzzer target: every seed once, then SECONDS of fuzzing from them.
#   run_fuzz.sh BINARY SEED_DIR SECONDS WORK_DIR
# New inputs go to WORK_DIR/corpus (the seeds stay as they are), crashes to WORK_DIR/crash-*.
# Exit status: libFuzzer's (non-zero on a crash, leak or sanitizer report).
set -euo pipefail
binary=$1 seeds=$2 seconds=$3 work=$4
mkdir -p "$work/corpus"
# A UBSan report is fatal (the preset builds with -fno-sanitize-recover) and shows its stack.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# Inputs of up to 8 KiB: bigger ones only slow the search (the limits it checks are smaller).
exec "$binary" "$work/corpus" "$seeds" -max_total_time="$seconds" -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" 2>&1
