#!/usr/bin/env bash
# The cost of encryption at rest on the inbound accept rate: two Palisade servers on the
# same machine, alternating, same generator and message (the phishing benchmark's 93 KiB
# newsletter with a PDF and an XLSX attachment), defaults otherwise (sender checks and the
# phishing engine on in both). On one, alice has a Curve25519 key (made by gpg) and
# encryption at rest on, so every message is sealed (PGP/MIME) before it is stored.
# Sealing happens at delivery, after the 250, so besides the accept rate the script
# reports how long each server took until the last message was in the Maildir.
# Usage: bench/encryption.sh [ROUNDS] [MESSAGES]     (from the repository root)
# Every loop is bounded (ROUNDS x 2 x MESSAGES, and palisade-bench's own bounds; the wait
# for delivery gives up after 120 s).
set -euo pipefail
ROUNDS=${1:-3}
MSGS=${2:-3000}
WORK=/var/tmp/palisade-bench-crypt
DNS=127.0.0.1:5355
ON=2637
OFF=2638

cargo build --release -q -p palisade -p palisade-bench -p palisade-testkit
BIN=target/release
. "$(dirname "$0")/pids.sh"
pids_init "$WORK"
rm -rf "$WORK"
mkdir -p "$WORK"

cargo bench -q -p palisade-phish --bench engine -- --write-sample "$WORK/sample.eml"
cat > "$WORK/zone" <<ZONE
shop.example TXT v=spf1 ip4:127.0.0.1 -all
_dmarc.shop.example TXT v=DMARC1; p=reject
ZONE
$BIN/dns-authority --listen $DNS --zone "$WORK/zone" 2>/dev/null &
DNS_PID=$!
record $DNS_PID

mkdir -p "$WORK/gnupg" && chmod 700 "$WORK/gnupg"
gpg --homedir "$WORK/gnupg" --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key 'Alice <alice@northwind.example>' future-default default never 2>/dev/null
gpg --homedir "$WORK/gnupg" --armor --export alice@northwind.example > "$WORK/alice.asc"

start() { # name port
  local d="$WORK/$1"
  mkdir -p "$d"
  cat > "$d/palisade.toml" <<TOML
hostname = "mx.example.test"
[listener.inbound]
address = "127.0.0.1:$2"
[smtp]
max_connections_per_ip = 5000
[security]
connections_per_ip_per_minute = 0
messages_per_ip_per_hour = 0
[dns]
nameservers = ["$DNS"]
[reports]
dmarc_interval_secs = 0
TOML
  $BIN/palisade --data "$d" domain add northwind.example >/dev/null
  echo "correct horse battery staple" | $BIN/palisade --data "$d" user add alice@northwind.example >/dev/null
  RUST_LOG=warn $BIN/palisade --data "$d" serve >/dev/null 2>&1 &
  record $!
  echo $!
}
PID_ON=$(start on $ON)
PID_OFF=$(start off $OFF)
trap 'kill $PID_ON $PID_OFF $DNS_PID 2>/dev/null || true' EXIT
$BIN/palisade --data "$WORK/on" user key import alice@northwind.example "$WORK/alice.asc" >/dev/null
$BIN/palisade --data "$WORK/on" user encrypt-at-rest alice@northwind.example on >/dev/null
sleep 1

count() { ls "$WORK/$1/mail/northwind.example/alice/new" 2>/dev/null | wc -l; }
run() { # name port dir
  local before t0 res now
  before=$(count "$3")
  t0=$(date +%s.%N)
  res=$($BIN/palisade-bench --port "$2" -c 10 -m "$MSGS" --message "$WORK/sample.eml" \
      --from news@shop.example --to alice@northwind.example 2>/dev/null \
      | grep -o 'msg_per_s=[0-9.]* p50_ms=[0-9.]* p99_ms=[0-9.]*' | tail -1)
  for _ in $(seq 1 1200); do
    [ "$(count "$3")" -ge $((before + MSGS)) ] && break
    sleep 0.1
  done
  now=$(date +%s.%N)
  printf '%-22s %s delivered_per_s=%.0f\n' "$1" "$res" \
    "$(echo "($(count "$3") - $before) / ($now - $t0)" | bc -l)"
  # Every acknowledged message must reach the Maildir (the generator counts 250s).
  local missing=$((before + MSGS - $(count "$3")))
  [ "$missing" -le 0 ] || echo "MISSING $missing message(s) not in the Maildir after 120 s"
}
$BIN/palisade-bench --port $ON -c 2 -m 200 --message "$WORK/sample.eml" --from news@shop.example --to alice@northwind.example >/dev/null
$BIN/palisade-bench --port $OFF -c 2 -m 200 --message "$WORK/sample.eml" --from news@shop.example --to alice@northwind.example >/dev/null
sleep 2
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  run "encryption at rest" $ON on
  run "stored as received" $OFF off
done
echo "-- a stored message from the encrypting server:"
head -c 1200 "$(ls -d $WORK/on/mail/northwind.example/alice/new/* | head -1)" | grep -E '^(Subject|Content-Type|From|To):'
