#!/usr/bin/env bash
# Side-by-side benchmark: Palisade vs the Postfix of ../shared/bench, same machine, same
# run, alternating, same generators, same message size. Both fsync before replying 250.
# Usage: bench/compare.sh [ROUNDS] [MESSAGES]   (from the repository root)
# Every loop is bounded (ROUNDS x generators x MESSAGES, and each generator's own bound).
set -euo pipefail
ROUNDS=${1:-3}
MSGS=${2:-10000}
SHARED=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
DATA=/var/tmp/palisade-bench-data
PAL=127.0.0.1:2525
PF_PORT=3525

cargo build --release -q -p palisade -p palisade-bench
BIN=target/release
bash "$SHARED/postfix-setup.sh" >/dev/null

. "$(dirname "$0")/pids.sh"
pids_init "$DATA"
rm -rf "$DATA"
mkdir -p "$DATA"
cat > "$DATA/palisade.toml" <<TOML
hostname = "localhost"
[listener.inbound]
address = "$PAL"
[smtp]
max_connections_per_ip = 5000
[security]
# Like the Postfix peer (anvil off by default): no per-address rate limits.
connections_per_ip_per_minute = 0
messages_per_ip_per_hour = 0
[policy]
# Like the Postfix peer (no SPF/DKIM/DMARC milters): the receive path alone.
# bench/sender-auth.sh measures the cost of the checks.
sender_checks = false
TOML
$BIN/palisade --data "$DATA" domain add example.test >/dev/null
echo "correct horse battery staple" | $BIN/palisade --data "$DATA" user add b@example.test >/dev/null
RUST_LOG=warn $BIN/palisade --data "$DATA" serve >/dev/null 2>&1 &
SERVER=$!
record $SERVER
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 1

pick() { grep -o 'msg_per_s=[0-9.]* p50_ms=[0-9.]* p99_ms=[0-9.]*' | tail -1; }
run() { # name cmd...
  local name=$1; shift
  printf '%-44s %s\n' "$name" "$("$@" 2>/dev/null | pick)"
}
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  run "palisade  plain  10KiB palisade-bench" $BIN/palisade-bench --port 2525 -c 10 -m "$MSGS" -s 10240 --to b@example.test
  run "postfix   plain  10KiB palisade-bench" $BIN/palisade-bench --port $PF_PORT -c 10 -m "$MSGS" -s 10240 --to b@example.test
  run "palisade  plain  10KiB loadgen.py" python3 "$SHARED/loadgen.py" 127.0.0.1 2525 -c 10 -m "$MSGS" -s 10240
  run "postfix   plain  10KiB loadgen.py" python3 "$SHARED/loadgen.py" 127.0.0.1 $PF_PORT -c 10 -m "$MSGS" -s 10240
  run "palisade  STARTTLS 10KiB loadgen.py" python3 "$SHARED/loadgen.py" 127.0.0.1 2525 -c 10 -m $((MSGS / 4)) -s 10240 \
      --starttls --cafile "$DATA/tls/self-signed-cert.pem" --sni localhost
  run "postfix   STARTTLS 10KiB loadgen.py" python3 "$SHARED/loadgen.py" 127.0.0.1 $PF_PORT -c 10 -m $((MSGS / 4)) -s 10240 \
      --starttls --cafile /etc/postfix/palisade-bench/cert.pem --sni palisade-bench.test
done

echo "-- memory: 1000 idle connections"
grep VmHWM /proc/$SERVER/status
( ulimit -n 4096; $BIN/palisade-bench --port 2525 --idle 1000 --hold 4 ) &
sleep 3
grep -E 'VmRSS|VmHWM' /proc/$SERVER/status
wait %2 2>/dev/null || true
echo "-- queue left: $(ls "$DATA/queue/active" | wc -l) (should reach 0 once delivery catches up)"
