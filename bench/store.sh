#!/usr/bin/env bash
# The store's cost on the durable accept path (issue 21): the same server on the embedded
# SQLite store and on PostgreSQL (127.0.0.1:5432, a schema of its own), alternating in one
# run, then two nodes on that PostgreSQL schema side by side against one.
# Usage: bench/store.sh [ROUNDS] [MESSAGES]   (from the repository root)
# Every loop is bounded (ROUNDS x runs x MESSAGES, and each generator's own bound).
set -euo pipefail
ROUNDS=${1:-3}
MSGS=${2:-5000}
WORK=/var/tmp/palisade-bench-store
PG=${PALISADE_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
SCHEMA=palisade_bench_store
URL="$PG?options=-c%20search_path%3D$SCHEMA"

cargo build --release -q -p palisade -p palisade-bench
BIN=target/release
. "$(dirname "$0")/pids.sh"
pids_init "$WORK"
rm -rf "$WORK"
mkdir -p "$WORK"
psql -X -q -d "$PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA"
trap 'pids_stop; psql -X -q -d "$PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || true' EXIT

# node NAME PORT [URL]: a data directory with example.test and b@example.test.
node() {
  local d=$WORK/$1
  mkdir -p "$d"
  cat > "$d/palisade.toml" <<TOML
hostname = "localhost"
node_id = "$1"
[listener.inbound]
address = "127.0.0.1:$2"
[smtp]
max_connections_per_ip = 5000
[security]
connections_per_ip_per_minute = 0
messages_per_ip_per_hour = 0
[policy]
sender_checks = false
TOML
  if [ -n "${3:-}" ]; then printf '[store]\nurl = "%s"\n' "$3" >> "$d/palisade.toml"; fi
}
node sqlite 2601
node pg-a 2602 "$URL"
node pg-b 2603 "$URL"
for n in sqlite pg-a; do
  $BIN/palisade --data "$WORK/$n" domain add example.test >/dev/null
  echo "correct horse battery staple" | $BIN/palisade --data "$WORK/$n" user add b@example.test >/dev/null
done
# Every node of a cluster has the same secret key.
cp "$WORK/pg-a/secret.key" "$WORK/pg-b/secret.key"

start() { # NAME: starts the node, records it, waits for its port
  RUST_LOG=warn $BIN/palisade --data "$WORK/$1" serve >/dev/null 2>&1 &
  record $!
  eval "PID_${1//-/_}=$!"
  sleep 1.5
}
stop() { # NAME
  local var="PID_${1//-/_}"
  kill "${!var}" 2>/dev/null || true
  wait "${!var}" 2>/dev/null || true
}
pick() { grep -o 'msg_per_s=[0-9.]* p50_ms=[0-9.]* p99_ms=[0-9.]*' | tail -1; }
gen() { # PORT CONNECTIONS MESSAGES
  $BIN/palisade-bench --port "$1" -c "$2" -m "$3" -s 10240 --to b@example.test 2>/dev/null | pick
}

for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  for n in sqlite pg-a; do
    port=$([ "$n" = sqlite ] && echo 2601 || echo 2602)
    start "$n"
    printf '%-34s %s\n' "one node, $n, 10 conn" "$(gen "$port" 10 "$MSGS")"
    stop "$n"
  done
  start pg-a
  start pg-b
  t0=$(date +%s.%N)
  gen 2602 5 $((MSGS / 2)) > "$WORK/a.out" &
  ga=$!
  gen 2603 5 $((MSGS / 2)) > "$WORK/b.out" &
  gb=$!
  wait $ga $gb
  t1=$(date +%s.%N)
  printf '%-34s a: %s | b: %s | together %.0f msg/s\n' "two nodes, pg, 5+5 conn" \
    "$(cat "$WORK/a.out")" "$(cat "$WORK/b.out")" \
    "$(echo "$MSGS / ($t1 - $t0)" | bc -l)"
  stop pg-a
  stop pg-b
done
echo "-- queues left: sqlite $(ls "$WORK/sqlite/queue/active" | wc -l), pg-a $(ls "$WORK/pg-a/queue/active" | wc -l), pg-b $(ls "$WORK/pg-b/queue/active" | wc -l)"
