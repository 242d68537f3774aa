#!/usr/bin/env bash
# Everything on, side by side (issue 20): Palisade with every check on (SPF, DKIM with
# two signatures, ARC, DMARC p=reject with rua, the phishing engine with its classifier)
# against the Postfix of ../shared/bench (no milter) and against that Postfix with the
# rspamd milter doing SPF/DKIM/DMARC/ARC (bench/rspamd-milter.sh: a proxy worker in
# milter mode over a Unix socket, milter_protocol 6, tempfail on milter failure). Same
# machine, same run, alternating; same generator (palisade-bench, the cheapest on these
# two shared cores), same message: 10 KiB, DKIM-signed by dkimpy with RSA-2048 and
# Ed25519, ARC-sealed once; 10 connections, one message per connection, durable accept
# into the Maildir on every side.
#
# CPU per message: the machine's busy time from the first message until the last one is
# in the Maildir, minus the generator's own CPU time, divided by the messages. It counts
# every process of the side measured (Postfix's smtpd, cleanup, qmgr and virtual; rspamd's
# proxy and scanner; the DNS authority's share), the same way for each. Palisade's rows
# add its own process's CPU per message (less noisy, for comparing two builds).
#
# Usage: bench/all-on.sh [ROUNDS] [MESSAGES]     (from the repository root)
#        PALISADE=BINARY (default target/release/palisade) and COMPARE=BINARY (a second
#        build, measured in the same rounds) to compare two builds side by side;
#        JOURNALED=1 puts every side's queue and Maildir on a journaled ext4 image
#        (bench/journaled.sh; this machine's root file system has no journal).
# Every loop is bounded (ROUNDS x 3 x MESSAGES, palisade-bench's own bounds, and a
# 120 s wait for each Maildir to fill).
set -euo pipefail
ROUNDS=${1:-3}
MSGS=${2:-5000}
SHARED=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
WORK=/var/tmp/palisade-bench-allon
DNS=127.0.0.1:5353
PAL=2627
PAL_CMP=2628
PF=3525
PF_RSPAMD=3527
PF_MAIL=/var/tmp/palisade-mail/bench/new

cargo build --release -q -p palisade -p palisade-bench -p palisade-testkit
BIN=target/release
PALISADE=${PALISADE:-$BIN/palisade}
COMPARE=${COMPARE:-}
. "$(dirname "$0")/journaled.sh"
# JOURNALED=1: the queues and Maildirs of every side on a journaled ext4 (journaled.sh).
if [ -n "${JOURNALED:-}" ]; then
  trap journaled_stop EXIT
  journaled_start
fi
# Debian's postfix installed with "No configuration" has no main.cf for postconf to edit.
[ -f /etc/postfix/main.cf ] || cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
bash "$SHARED/postfix-setup.sh" >/dev/null

. "$(dirname "$0")/pids.sh"
. "$(dirname "$0")/rspamd-milter.sh"
. "$(dirname "$0")/signed-message.sh"
pids_init "$WORK"
# Whatever was started, however the run ends: stopped by recorded PID (pids.sh checks
# each one still is ours), and the milter listener taken out of Postfix.
trap 'rspamd_milter_stop; pids_stop; [ -z "${JOURNALED:-}" ] || journaled_stop' EXIT
rm -rf "$WORK"
mkdir -p "$WORK"

# Keys, zone, and the signed and sealed 10 KiB message.
signed_message "$WORK"
arc_sealed "$WORK"

$BIN/dns-authority --listen $DNS --zone "$WORK/zone" 2>/dev/null &
DNS_PID=$!
record $DNS_PID

# Palisade: every check on (the defaults, with sender_checks and the phishing engine).
start_palisade() { # name port binary
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
sender_checks = true
[phishing]
enabled = true
[reports]
dmarc_interval_secs = 0
TOML
  "$3" --data "$d" domain add example.test >/dev/null
  echo "correct horse battery staple" | "$3" --data "$d" user add b@example.test >/dev/null
  RUST_LOG=warn "$3" --data "$d" serve >/dev/null 2>&1 &
  record $!
  echo $!
}
PAL_PID=$(start_palisade palisade $PAL "$PALISADE")
PAL_MAIL="$WORK/palisade/mail/example.test/b/new"
# COMPARE=path/to/another/palisade: that build too, alternating with the first.
CMP_PID=
if [ -n "$COMPARE" ]; then
  CMP_PID=$(start_palisade compare $PAL_CMP "$COMPARE")
fi

rspamd_milter_start "$WORK/rspamd" "$DNS" $PF_RSPAMD
sleep 1

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# One run: the generator's figures, then the server CPU per message once the Maildir
# holds every message (bounded wait).
proc_cpu() { # pid: its user+system clock ticks so far (threads included)
  [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

run() { # name port maildir [server pid]
  local name=$1 port=$2 dir=$3 pid=${4:-} before start out gen end i own0 own1
  # An empty Maildir each run: counting a large one would cost CPU in the measurement.
  find "$dir" -maxdepth 1 -type f -delete 2>/dev/null || true
  before=$(count "$dir")
  own0=$(proc_cpu "$pid")
  start=$(busy)
  out=$( { TIMEFORMAT='%U %S'; time $BIN/palisade-bench --port "$port" -c 10 -m "$MSGS" \
      --message "$WORK/sealed.eml" --from bench@sender.test --to b@example.test \
      2>/dev/null; } 2>&1 )
  for i in $(seq 1 240); do
    [ "$(count "$dir")" -ge $((before + MSGS)) ] && break
    sleep 0.5
  done
  end=$(busy)
  own1=$(proc_cpu "$pid")
  gen=$(echo "$out" | tail -1)
  local figures delivered cpu
  figures=$(echo "$out" | grep -o 'errors=[0-9]* .*msg_per_s=[0-9.]* p50_ms=[0-9.]* p99_ms=[0-9.]*' \
      | sed 's/seconds=[0-9.]* //' | tail -1)
  delivered=$(( $(count "$dir") - before ))
  cpu=$(awk -v b="$((end - start))" -v hz="$HZ" -v g="$gen" -v n="$MSGS" \
      'BEGIN { split(g, t, " "); printf "%.2f", (b / hz - t[1] - t[2]) * 1000 / n }')
  local own=""
  [ -z "$pid" ] || own=$(awk -v t="$((own1 - own0))" -v hz="$HZ" -v n="$MSGS" \
      'BEGIN { printf " process_cpu_ms_per_msg=%.2f", t / hz * 1000 / n }')
  printf '%-36s %s delivered=%s cpu_ms_per_msg=%s%s\n' "$name" "$figures" "$delivered" "$cpu" "$own"
}

# Check the setup once: every side must accept the message and mark it passing.
find "$PF_MAIL" -maxdepth 1 -type f -delete 2>/dev/null || true
for port in $PAL $PF $PF_RSPAMD ${CMP_PID:+$PAL_CMP}; do
  $BIN/palisade-bench --port $port -c 1 -m 1 --message "$WORK/sealed.eml" \
    --from bench@sender.test --to b@example.test | grep -q 'errors=0 ' \
    || { echo "port $port refused the benchmark message"; exit 1; }
done
sleep 2
echo "-- Palisade's verdict on the benchmark message:"
grep -h -m1 -A5 '^Authentication-Results: mx.example.test' "$PAL_MAIL"/*
echo "-- rspamd's:"
grep -h -m1 -A5 '^Authentication-Results: palisade-bench.test' \
  "$(grep -l 'Authentication-Results: palisade-bench.test' "$PF_MAIL"/* | head -1)"

for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  run "palisade  all on" $PAL "$PAL_MAIL" "$PAL_PID"
  [ -z "$COMPARE" ] || run "palisade  all on ($(basename "$(dirname "$COMPARE")"))" $PAL_CMP \
    "$WORK/compare/mail/example.test/b/new" "$CMP_PID"
  run "postfix   plain" $PF "$PF_MAIL"
  run "postfix + rspamd milter (unix)" $PF_RSPAMD "$PF_MAIL"
done
echo "-- queue left: $(count "$WORK/palisade/queue/active")"
