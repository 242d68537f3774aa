#!/usr/bin/env bash
# AUTH under load (issue 5): successful AUTH PLAIN over implicit TLS at 10 connections,
# and the message rate of legitimate clients (plain SMTP, 10 KiB, 10 connections) alone
# and while an attacker floods AUTH with wrong passwords from 50 connections over
# implicit TLS, never banned (loopback is in security.never_ban: the worst case, a
# botnet that stays below the ban thresholds). Alternating, same run, same generator.
# Usage: bench/auth.sh [ROUNDS] [MESSAGES]     (from the repository root)
# Every loop is bounded (ROUNDS x runs, each run by its message count and --max-seconds).
set -euo pipefail
ROUNDS=${1:-3}
MSGS=${2:-5000}
WORK=/var/tmp/palisade-bench-auth-flood
PLAIN=2825
IMPLICIT=2826
PW="violet ferry granite spoon"

cargo build --release -q -p palisade -p palisade-bench
BIN=target/release
. "$(dirname "$0")/pids.sh"
pids_init "$WORK"
rm -rf "$WORK"
mkdir -p "$WORK"
cat > "$WORK/palisade.toml" <<TOML
hostname = "localhost"
[listener.inbound]
address = "127.0.0.1:$PLAIN"
[listener.submissions]
address = "127.0.0.1:$IMPLICIT"
kind = "submissions"
[smtp]
max_connections_per_ip = 5000
[policy]
sender_checks = false
[security]
connections_per_ip_per_minute = 0
messages_per_ip_per_hour = 0
TOML
$BIN/palisade --data "$WORK" domain add example.test >/dev/null
echo "$PW" | $BIN/palisade --data "$WORK" user add a@example.test >/dev/null
RUST_LOG=warn $BIN/palisade --data "$WORK" serve >/dev/null 2>&1 &
SERVER=$!
record $SERVER
FLOOD=
trap 'kill $SERVER $FLOOD 2>/dev/null || true' EXIT
sleep 1
CERT="$WORK/tls/self-signed-cert.pem"
pick() { grep -o 'messages=[0-9]* errors=[0-9]* seconds=[0-9.]* msg_per_s=[0-9.]*' | tail -1; }
tls=(--implicit-tls --cafile "$CERT" --sni localhost)
# Warm-up, not counted (a fresh data directory is slower at first: see BENCHMARKS.md).
$BIN/palisade-bench --port $PLAIN -c 10 -m 8000 --to a@example.test >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  printf '%-36s %s\n' "AUTH ok, implicit TLS, 10 conns" \
    "$($BIN/palisade-bench --port $IMPLICIT "${tls[@]}" --auth-only --auth "a@example.test:$PW" -c 10 -m 500 | pick)"
  printf '%-36s %s\n' "legit mail alone" \
    "$($BIN/palisade-bench --port $PLAIN -c 10 -m "$MSGS" --to a@example.test | pick)"
  $BIN/palisade-bench --port $IMPLICIT "${tls[@]}" --auth-only --auth "ghost$r@example.test:wrong guess" \
    --auth-expect 535 -c 50 -m 10000000 --max-seconds 8 > "$WORK/flood.out" 2>&1 &
  FLOOD=$!
  record $FLOOD
  sleep 2
  printf '%-36s %s\n' "legit mail during the AUTH flood" \
    "$($BIN/palisade-bench --port $PLAIN -c 10 -m "$MSGS" --to a@example.test | pick)"
  wait $FLOOD 2>/dev/null || true
  FLOOD=
  echo "   the flood (8 s, 50 connections, wrong passwords): $(pick < "$WORK/flood.out" || true)"
done
