#!/usr/bin/env bash
# The cost of the phishing engine on the inbound accept rate: Palisade with
# [phishing] enabled (the default) against Palisade with it off, same machine, same
# run, alternating, same generator and message: the typical message of the engine's
# micro-benchmark (a 50 KiB HTML newsletter with 200 links, a text alternative, a PDF
# and an XLSX attachment; 93 KiB), from a domain whose SPF and DMARC pass. Sender
# checks are on in both; with the engine off only the trust-header hygiene runs.
# Usage: bench/phishing.sh [ROUNDS] [MESSAGES]     (from the repository root)
# Every loop is bounded (ROUNDS x 2 x MESSAGES, and palisade-bench's own bounds).
set -euo pipefail
ROUNDS=${1:-3}
MSGS=${2:-4000}
WORK=/var/tmp/palisade-bench-phish
DNS=127.0.0.1:5354
ON=2635
OFF=2636

cargo build --release -q -p palisade -p palisade-bench -p palisade-testkit
BIN=target/release
. "$(dirname "$0")/pids.sh"
pids_init "$WORK"
rm -rf "$WORK"
mkdir -p "$WORK"

cargo bench -q -p palisade-phish --bench engine -- --write-sample "$WORK/sample.eml"
# The sample's sender domain (shop.example) passes SPF and DMARC.
cat > "$WORK/zone" <<ZONE
shop.example TXT v=spf1 ip4:127.0.0.1 -all
_dmarc.shop.example TXT v=DMARC1; p=reject
ZONE
$BIN/dns-authority --listen $DNS --zone "$WORK/zone" 2>/dev/null &
DNS_PID=$!
record $DNS_PID

start() { # name port enabled
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
[reports]
dmarc_interval_secs = 0
[phishing]
enabled = $3
TOML
  $BIN/palisade --data "$d" domain add northwind.example >/dev/null
  echo "correct horse battery staple" | $BIN/palisade --data "$d" user add alice@northwind.example >/dev/null
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
  printf '%-20s %s\n' "$1" "$($BIN/palisade-bench --port "$2" -c 10 -m "$MSGS" \
      --message "$WORK/sample.eml" --from news@shop.example --to alice@northwind.example 2>/dev/null | pick)"
}
# Warm both (Maildir creation, page cache), and check the setup once.
$BIN/palisade-bench --port $ON -c 2 -m 200 --message "$WORK/sample.eml" --from news@shop.example --to alice@northwind.example >/dev/null
$BIN/palisade-bench --port $OFF -c 2 -m 200 --message "$WORK/sample.eml" --from news@shop.example --to alice@northwind.example >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  run "engine on" $ON
  run "engine off" $OFF
done
sleep 2
echo "-- a delivered message from the engine-on server:"
grep -m1 -A3 '^X-Palisade-Verdict' "$(ls -d $WORK/on/mail/northwind.example/alice/new/* | head -1)"
