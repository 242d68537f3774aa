#!/usr/bin/env bash
# The cost of sender authentication: Palisade with every check on (SPF, DKIM with two
# signatures, ARC, DMARC p=reject with rua, Authentication-Results, DMARC evaluation
# recorded for reports; DNS answers cached after the first message) against Palisade
# with sender_checks = false, same machine, same run, alternating, same generator and
# message (10 KiB, DKIM-signed by dkimpy with RSA-2048 and Ed25519).
# Usage: bench/sender-auth.sh [ROUNDS] [MESSAGES]     (from the repository root)
# Every loop is bounded (ROUNDS x 2 x MESSAGES, and palisade-bench's own bounds).
set -euo pipefail
ROUNDS=${1:-3}
MSGS=${2:-10000}
WORK=/var/tmp/palisade-bench-auth
DNS=127.0.0.1:5353
ON=2625
OFF=2626

cargo build --release -q -p palisade -p palisade-bench -p palisade-testkit
BIN=target/release

. "$(dirname "$0")/pids.sh"
. "$(dirname "$0")/signed-message.sh"
pids_init "$WORK"
rm -rf "$WORK"
mkdir -p "$WORK"

# Keys, zone and a signed 10 KiB message.
signed_message "$WORK"

$BIN/dns-authority --listen $DNS --zone "$WORK/zone" 2>/dev/null &
DNS_PID=$!
record $DNS_PID

start() { # name port checks
  local d="$WORK/$1"
  mkdir -p "$d"
  cat > "$d/palisade.toml" <<TOML
hostname = "mx.example.test"
[listener.inbound]
address = "127.0.0.1:$2"
[smtp]
max_connections_per_ip = 5000
[security]
# Like the Postfix peer (anvil off by default): no per-address rate limits.
connections_per_ip_per_minute = 0
messages_per_ip_per_hour = 0
[dns]
nameservers = ["$DNS"]
[policy]
sender_checks = $3
[reports]
dmarc_interval_secs = 0
TOML
  $BIN/palisade --data "$d" domain add example.test >/dev/null
  echo "correct horse battery staple" | $BIN/palisade --data "$d" user add b@example.test >/dev/null
  RUST_LOG=warn $BIN/palisade --data "$d" serve >/dev/null 2>&1 &
  record $!
  echo $!
}
PID_ON=$(start on $ON true)
PID_OFF=$(start off $OFF false)
trap 'kill $PID_ON $PID_OFF $DNS_PID 2>/dev/null || true' EXIT
sleep 1

pick() { grep -o 'msg_per_s=[0-9.]* p50_ms=[0-9.]* p99_ms=[0-9.]*' | tail -1; }
run() { # name port
  printf '%-34s %s\n' "$1" "$($BIN/palisade-bench --port "$2" -c 10 -m "$MSGS" \
      --message "$WORK/signed.eml" --from bench@sender.test --to b@example.test 2>/dev/null | pick)"
}
# Check the setup once: the checks must pass (no 550) and record results.
$BIN/palisade-bench --port $ON -c 1 -m 1 --message "$WORK/signed.eml" --from bench@sender.test --to b@example.test >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  run "checks on  (SPF+DKIMx2+ARC+DMARC)" $ON
  run "checks off" $OFF
done
sleep 2
echo "-- a delivered message from the checks-on server:"
grep -m1 -A4 '^Authentication-Results' "$(ls -d $WORK/on/mail/example.test/b/new/* | head -1)"
