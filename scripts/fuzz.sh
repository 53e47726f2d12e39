#!/usr/bin/env bash
# Builds the fuzz preset (clang, ASan + UBSan + libFuzzer) and fuzzes its targets from their
# seed corpus, one after the other:
#   scripts/fuzz.sh [--seconds N] [--no-build] [TARGET...]   (default: all targets, 60 s each)
# TARGET is a folder name under tests/fuzz/corpus (event_validator, iso8601, ...). Prints one
# line per target (executions, coverage, crashes); exits non-zero if any target crashed.
# A crash leaves its input in build/fuzz/tests/fuzz/work/TARGET/; once the bug is fixed, copy
# that file into tests/fuzz/corpus/TARGET/ so that every later run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build=1
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --seconds)
        seconds=${2:?--seconds needs a number}
        shift 2
        ;;
    --no-build)
        build=0
        shift
        ;;
    -h | --help)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "fuzz.sh: unknown option $1 (see --help)" >&2
        exit 2
        ;;
    *)
        targets+=("$1")
        shift
        ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    for dir in tests/fuzz/corpus/*/; do
        targets+=("$(basename "$dir")")
    done
fi
for t in "${targets[@]}"; do
    if [ ! -d "tests/fuzz/corpus/$t" ]; then
        echo "fuzz.sh: no target $t (have: $(ls tests/fuzz/corpus | tr '\n' ' '))" >&2
        exit 2
    fi
done

if [ "$build" = 1 ]; then
    cmake --preset fuzz >/dev/null
    cmake --build build/fuzz --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}"
fi

crashed=()
for t in "${targets[@]}"; do
    work=build/fuzz/tests/fuzz/work/$t
    mkdir -p "$work"
    log=$work/last-run.log
    status=0
    tests/fuzz/run_fuzz.sh "build/fuzz/tests/fuzz/fuzz_$t" "tests/fuzz/corpus/$t" "$seconds" \
        "$work" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -1 || true)
    if [ "$status" -eq 0 ]; then
        printf '%-18s %5ss  %10s runs  %7s/s  %s  no crash\n' "$t" "$seconds" "${runs:-?}" \
            "${rate:-?}" "${cov:-}"
    else
        crashed+=("$t")
        printf '%-18s CRASHED (exit %s) after %s runs; log: %s\n' "$t" "$status" "${runs:-?}" "$log"
        { grep -E 'ERROR:|runtime error|oracle failed|SUMMARY|Test unit written' "$log" || true; } |
            head -8 | sed 's/^/    /'
    fi
done
if [ ${#crashed[@]} -gt 0 ]; then
    echo "crashed: ${crashed[*]}" >&2
    exit 1
fi
