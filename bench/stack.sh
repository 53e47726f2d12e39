# Sourced by the bench scripts: `start_stack TOPIC` starts an embedded broker with TOPIC (64
# partitions: it keeps about 5 MB of each) and a throwaway redis-server, both gone on exit.
# Sets W (a work dir), PORT (Redis's) and B (the bootstrap address). Needs CLI set.
start_stack() {
    W=$(mktemp -d)
    trap 'kill "$BROKER" "$REDIS" 2>/dev/null || true; rm -rf "$W"' EXIT
    "$CLI" broker --topic "$1" --partitions 64 >"$W/broker.out" 2>/dev/null &
    BROKER=$!
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$PORT" --save '' --appendonly no --dir "$W" >/dev/null &
    REDIS=$!
    for _ in $(seq 50); do
        [ -s "$W/broker.out" ] && redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.2
    done
    B=$(head -1 "$W/broker.out")
}
