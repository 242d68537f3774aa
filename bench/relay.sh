#!/usr/bin/env bash
# Outbound relay, end to end until delivered: a message goes in at the relay, which
# sends it over STARTTLS to the receiving server, which delivers it to a Maildir.
#   Palisade -> Palisade: the relay takes it by AUTH PLAIN (plain text allowed on this
#     loopback submission listener), binds the sender, DKIM-signs it (Ed25519 and
#     RSA-2048), resolves the MX through a loopback DNS server and relays it; the
#     receiver checks SPF, both DKIM signatures and DMARC before it accepts.
#   Postfix -> Postfix: a second Postfix instance (postmulti, "postfix-relay") takes it
#     from mynetworks and relays it with smtp_tls_security_level = encrypt to the
#     benchmark Postfix of ../shared/bench (Maildir). No DKIM on the Postfix side.
# Both, after an uncounted warm-up: 10 injection connections (kept open, --per-conn 0), 10 KiB messages, the same
# generator (loadgen.py), alternating, in one run. The time runs from the first
# message sent until the last one is in the receiver's Maildir.
# Usage: bench/relay.sh [ROUNDS] [MESSAGES]   (from the repository root)
# Every loop is bounded: ROUNDS x 2 runs, each waiting at most 300 s for delivery.
set -euo pipefail
trap 'echo "relay.sh: failed at line $LINENO" >&2' ERR
ROUNDS=${1:-3}
MSGS=${2:-5000}
SHARED=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
WORK=/var/tmp/palisade-bench-relay
DNS=127.0.0.1:5354
PAL_RELAY=2726
PAL_RECV=2725
PF_RELAY=3527
PF_RECV=3525
PF_MAILDIR=/var/tmp/palisade-mail/bench

cargo build --release -q -p palisade -p palisade-testkit
BIN=target/release
python3 -c "import uvloop" 2>/dev/null || python3 -m pip install -q uvloop || true

# --- the Postfix pair -------------------------------------------------------------
bash "$SHARED/postfix-setup.sh" >/dev/null || { sleep 2; bash "$SHARED/postfix-setup.sh" >/dev/null; }
if ! postmulti -l 2>/dev/null | grep -q '^postfix-relay '; then
  postmulti -e init
  postmulti -I postfix-relay -G bench -e create
fi
RELAY_CF=$(postmulti -i postfix-relay -x postconf -h config_directory)
postmulti -i postfix-relay -x postconf -e \
  "myhostname = relay.palisade-bench.test" \
  "inet_interfaces = 127.0.0.1" \
  "inet_protocols = ipv4" \
  "mydestination =" \
  "mynetworks = 127.0.0.0/8" \
  "smtpd_relay_restrictions = permit_mynetworks, reject" \
  "smtpd_peername_lookup = no" \
  "transport_maps = inline:{example.test=smtp:[127.0.0.1]:$PF_RECV}" \
  "default_transport = error:benchmark relay only" \
  "smtp_dns_support_level = disabled" \
  "smtp_tls_security_level = encrypt" \
  "smtp_tls_loglevel = 0" \
  "maillog_file = /var/tmp/palisade-bench/postfix-relay.log" \
  "master_service_disable ="
if [ -n "$(postconf -c "$RELAY_CF" -M smtp/inet 2>/dev/null)" ]; then
  postconf -c "$RELAY_CF" -MX smtp/inet
fi
postconf -c "$RELAY_CF" -M "127.0.0.1:$PF_RELAY/inet=127.0.0.1:$PF_RELAY inet n - y - - smtpd"
postmulti -i postfix-relay -e enable
postmulti -i postfix-relay -p stop >/dev/null 2>&1 || true
postmulti -i postfix-relay -p start
postfix reload >/dev/null 2>&1 || true

# --- the Palisade pair ------------------------------------------------------------
. "$(dirname "$0")/pids.sh"
pids_init "$WORK"
rm -rf "$WORK"
mkdir -p "$WORK/relay" "$WORK/recv"
cat > "$WORK/recv/palisade.toml" <<TOML
hostname = "mx.example.test"
[listener.inbound]
address = "127.0.0.1:$PAL_RECV"
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
TOML
cat > "$WORK/relay/palisade.toml" <<TOML
hostname = "relay.sender.test"
[listener.submission]
address = "127.0.0.1:$PAL_RELAY"
kind = "submission"
allow_plaintext_auth = true
[smtp]
max_connections_per_ip = 5000
[security]
# Like the Postfix peer (anvil off by default): no per-address rate limits.
connections_per_ip_per_minute = 0
messages_per_ip_per_hour = 0
[dns]
nameservers = ["$DNS"]
[delivery]
remote_port = $PAL_RECV
[submission]
max_messages_per_hour = 1000000
max_messages_per_day = 1000000
max_recipients_per_day = 100000000
# The anomaly checks would suspend a user who sends 5,000 messages in a minute.
burst_factor = 0
max_new_domains_per_hour = 0
[reports]
dmarc_interval_secs = 0
TOML
$BIN/palisade --data "$WORK/recv" domain add example.test >/dev/null
echo "correct horse battery staple" | $BIN/palisade --data "$WORK/recv" user add b@example.test >/dev/null
$BIN/palisade --data "$WORK/relay" domain add sender.test >/dev/null
echo "relay bench password 1" | $BIN/palisade --data "$WORK/relay" user add a@sender.test >/dev/null
$BIN/palisade --data "$WORK/relay" dkim keygen sender.test >/dev/null
{
  echo "example.test MX 10 mx.example.test"
  echo "mx.example.test A 127.0.0.1"
  echo "sender.test TXT v=spf1 ip4:127.0.0.1 -all"
  echo "_dmarc.sender.test TXT v=DMARC1; p=reject"
  # The DKIM records as `palisade dns records` prints them ("NAME TXT "v=DKIM1; ...").
  $BIN/palisade --data "$WORK/relay" dns records sender.test \
    | awk '$1 ~ /_domainkey/ && $2 == "TXT" { n=$1; sub(/\.$/, "", n); $1=""; $2=""; sub(/^  /, ""); gsub(/"/, ""); print n " TXT " $0 }'
} > "$WORK/zone"
[ "$(grep -c _domainkey "$WORK/zone")" = 2 ] || { echo "no DKIM records in the zone:"; cat "$WORK/zone"; exit 1; }
$BIN/dns-authority --listen $DNS --zone "$WORK/zone" 2>/dev/null &
DNS_PID=$!
record $DNS_PID
RUST_LOG=warn $BIN/palisade --data "$WORK/recv" serve >"$WORK/recv.log" 2>&1 &
RECV_PID=$!
record $RECV_PID
RUST_LOG=warn $BIN/palisade --data "$WORK/relay" serve >"$WORK/relay.log" 2>&1 &
RELAY_PID=$!
record $RELAY_PID
trap 'kill $RELAY_PID $RECV_PID $DNS_PID 2>/dev/null || true; postmulti -i postfix-relay -p stop >/dev/null 2>&1 || true' EXIT
sleep 1

count() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }
# name maildir-new-dir loadgen-args...: prints delivered/s end to end and the accept rate
run() {
  local name=$1 dir=$2; shift 2
  local before; before=$(count "$dir")
  local t0; t0=$(date +%s.%N)
  local accepted
  python3 "$SHARED/loadgen.py" "$@" -c 10 -m "$MSGS" -s 10240 --per-conn 0 >"$WORK/loadgen.out" 2>&1 || true
  accepted=$(grep -o 'ok=[0-9]* msg_err=[0-9]*\|msg_per_s=[0-9.]*' "$WORK/loadgen.out" | tr '\n' ' ')
  grep -i '^error' "$WORK/loadgen.out" || true
  local deadline=$((SECONDS + 300)) now
  while now=$(count "$dir"); [ $((now - before)) -lt "$MSGS" ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.05
  done
  local t1; t1=$(date +%s.%N)
  printf '%-22s delivered=%d end_to_end_msg_per_s=%.0f injection: %s\n' "$name" $((now - before)) \
    "$(echo "$MSGS / ($t1 - $t0)" | bc -l)" "$accepted"
}
# Warm-up, not counted: on a brand-new data directory the first ~6,000 messages run at
# about half speed, nearly all of it in ext4's inode allocator (find_inode_bit,
# recently_deleted: perf, see BENCHMARKS.md) while spool and Maildir files are created
# and deleted in fresh directories; the Postfix peer's queue directories are long grown.
echo "-- warm-up ($((MSGS + 2000)) messages each, not counted)"
FULL=$MSGS
MSGS=$((FULL + 2000))
run "palisade -> palisade" "$WORK/recv/mail/example.test/b/new" 127.0.0.1 $PAL_RELAY \
  --auth a@sender.test:"relay bench password 1" -f a@sender.test -t b@example.test >/dev/null
run "postfix  -> postfix" "$PF_MAILDIR/new" 127.0.0.1 $PF_RELAY -f a@sender.test -t b@example.test >/dev/null
MSGS=$FULL
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  run "palisade -> palisade" "$WORK/recv/mail/example.test/b/new" 127.0.0.1 $PAL_RELAY \
    --auth a@sender.test:"relay bench password 1" -f a@sender.test -t b@example.test
  run "postfix  -> postfix" "$PF_MAILDIR/new" 127.0.0.1 $PF_RELAY -f a@sender.test -t b@example.test
done
echo "-- checks at the receiving Palisade (last message):"
f=$(find "$WORK/recv/mail/example.test/b/new" -type f -print -quit)
sed -n '/^Authentication-Results/,/dmarc=/p' "$f"
