# Sourced by the bench scripts (after pids.sh and pids_init): Postfix with the rspamd
# milter doing SPF, DKIM, DMARC and ARC checks, the "everything on" peer for Palisade.
#
#   rspamd_milter_start WORKDIR DNS_ADDR PORT [MILTER_TCP]
#       WORKDIR     rspamd's own config/run/db/log directories (wiped and rewritten);
#                   put it under the bench work directory so pids.sh recognises the PID
#       DNS_ADDR    the test DNS authority, e.g. 127.0.0.1:5353 (rspamd's only resolver)
#       PORT        the extra Postfix listener, 127.0.0.1:PORT, delivering like 3525
#       MILTER_TCP  e.g. 127.0.0.1:11390: Postfix talks to the milter over TCP instead of
#                   the default Unix socket WORKDIR/run/milter.sock
#   rspamd_milter_stop    stops that rspamd (by its recorded PID), removes the listener
#   RSPAMD_MILTER_OFF="m1 m2"   extra rspamd modules to turn off (e.g. hfilter)
# e.g.  . bench/pids.sh; . bench/rspamd-milter.sh; pids_init "$WORK"
#       rspamd_milter_start "$WORK/rspamd" 127.0.0.1:5353 3527; trap rspamd_milter_stop EXIT
#
# Needs: postfix-setup.sh run before (Postfix up, Maildir delivery to example.test),
# Debian's rspamd package (its system service and /etc/rspamd are left alone: we run a
# separate instance with our own top-level config that includes the stock rules and
# module defaults from /etc/rspamd, and our overrides in WORKDIR/conf/local.d).
# Hyperscan's compiled regexps are cached in RSPAMD_HS_CACHE, kept across runs: the
# first start compiles them (about 5 s here); until then rspamd would scan with slower
# PCRE, so start waits for the compiled database to be loaded.

RSPAMD_HS_CACHE=${RSPAMD_HS_CACHE:-/var/tmp/palisade-rspamd-hs}

rspamd_milter_start() {
  local dir=${1:?WORKDIR} dns=${2:?DNS_ADDR} port=${3:?PORT} tcp=${4:-}
  local milter="$dir/run/milter.sock" i
  RSPAMD_MILTER_DIR=$dir RSPAMD_MILTER_PORT=$port
  rm -rf "$dir"
  mkdir -p "$dir/conf/local.d" "$dir/run" "$dir/db" "$dir/log" "$RSPAMD_HS_CACHE"
  chown _rspamd:_rspamd "$dir/run" "$dir/db" "$dir/log" "$RSPAMD_HS_CACHE"
  local bind="$milter mode=0660 owner=_rspamd group=postfix" postfix_milter="unix:$milter"
  [ -n "$tcp" ] && bind=$tcp postfix_milter="inet:$tcp"

  # Top level: the stock rspamd.conf minus the controller and fuzzy workers.
  cat >"$dir/conf/rspamd.conf" <<EOF
.include "\$CONFDIR/common.conf"   # stock rules, scores, modules.d/* (+ our local.d)
options {
  pidfile = "\$RUNDIR/rspamd.pid";
  .include "\$CONFDIR/options.inc"
  .include(priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "file";
  filename = "\$LOGDIR/rspamd.log";
  .include "\$CONFDIR/logging.inc"   # level info: one line per scanned message
}
# The scanner: stock worker count (one process on this 2-core machine), reached by the
# proxy only, over a Unix socket.
worker "normal" {
  bind_socket = "\$RUNDIR/normal.sock mode=0600 owner=_rspamd";
  .include "\$CONFDIR/worker-normal.inc"
}
# The milter: Postfix's smtpd speaks the milter protocol to this proxy, which hands
# each message to a scanner over HTTP and turns the verdict (and the headers to add)
# back into milter replies. One process, as in the stock config.
worker "rspamd_proxy" {
  bind_socket = "$bind";
  milter = yes;
  timeout = 120s;   # the stock values (worker-proxy.inc, whose upstream we replace)
  count = 1;
  upstream "local" { default = yes; hosts = "\$RUNDIR/normal.sock"; }
}
EOF

  cat >"$dir/conf/local.d/options.inc" <<EOF
# The test authority is the only resolver: /etc/resolv.conf is not read when
# nameservers are given. rspamd has no DNS cache of its own (it expects a local caching
# resolver): only SPF records and DKIM keys are cached, by their modules; the DMARC
# record and the PTR are asked again for every message.
dns { nameserver = ["$dns"]; enable_dnssec = false; }
hs_cache_dir = "$RSPAMD_HS_CACHE";
# The load comes from 127.0.0.1, which rspamd treats as local and skips in SPF, DMARC,
# etc. by default: check local senders like any other.
check_local = true;
check_authed = true;
EOF
  # SPF, DKIM, DMARC, ARC: on by default in the stock config; make local explicit.
  for m in spf dkim dmarc; do echo 'check_local = true; check_authed = true;' \
      >"$dir/conf/local.d/$m.conf"; done
  # DMARC: enforce the published policy (stock rspamd only scores it), as Palisade does.
  echo 'actions { reject = "reject"; quarantine = "add header"; }' >>"$dir/conf/local.d/dmarc.conf"
  # ARC: verify only (the module would also seal when it finds a key; we have none).
  echo 'sign_inbound = false; sign_local = false; sign_authenticated = false;' \
      >"$dir/conf/local.d/arc.conf"
  # Add Authentication-Results (spf, dkim per signature, dmarc, arc) to every message,
  # local senders included.
  echo 'use = ["authentication-results"]; skip_local = false; skip_authenticated = false;' \
      >"$dir/conf/local.d/milter_headers.conf"
  # Off: modules that would go off the machine (fuzzy_check: UDP to rspamd.com's fuzzy
  # servers; rbl, whitelist, phishing, multimap, mime_types: maps fetched from
  # maps.rspamd.com over HTTPS; url_redirector: HTTP to URLs in the message; asn and
  # emails: DNS lists, pointless against the test authority; mid: a Message-ID map from
  # maps.rspamd.com) and DKIM signing (we are the receiving side). Modules that need
  # Redis (bayes, neural, greylist, ratelimit, replies, reputation, history) disable
  # themselves: no Redis is configured.
  # RSPAMD_MILTER_OFF: more modules to turn off, e.g. "hfilter" (HELO/hostname
  # heuristics: 6 of the 8 uncached DNS queries rspamd makes per message).
  for m in fuzzy_check rbl whitelist phishing multimap mime_types url_redirector \
      asn emails mid dkim_signing ${RSPAMD_MILTER_OFF:-}; do
    echo 'enabled = false;' >"$dir/conf/local.d/$m.conf"
  done

  # rspamd retitles its main process ("rspamd: main process"), which pids.sh could then
  # not tell from another rspamd: run it under a shell whose command line names WORKDIR
  # and which passes TERM on (the main process then stops its workers).
  bash -c 'rspamd "$@" & r=$!; trap "kill $r; wait $r" TERM; wait $r' rspamd-milter \
    -f -u _rspamd -g _rspamd -c "$dir/conf/rspamd.conf" \
    --var "LOCAL_CONFDIR=$dir/conf" --var "RUNDIR=$dir/run" --var "DBDIR=$dir/db" \
    --var "LOGDIR=$dir/log" >"$dir/log/stdout" 2>&1 &
  RSPAMD_MILTER_PID=$!
  record $RSPAMD_MILTER_PID

  # Postfix: a second delivering listener, like 3525, with the milter. Not chrooted,
  # so the socket path is the same for smtpd as for rspamd. tempfail: if rspamd is
  # down, mail is deferred (4xx), never accepted unchecked.
  postconf -M "127.0.0.1:$port/inet=127.0.0.1:$port inet n - n - - smtpd \
-o syslog_name=postfix/rspamd -o smtpd_milters=$postfix_milter \
-o milter_protocol=6 -o milter_default_action=tempfail"
  postfix reload 2>/dev/null || { echo "rspamd-milter: Postfix not running" >&2; return 1; }

  # Ready: the milter socket and the Postfix port listen, and the scanners use hyperscan:
  # loaded from the cache at start (hs_helper then compiles 0), or, on a first start,
  # once hs_helper has compiled it (bounded: 300 s).
  for i in $(seq 1 600); do
    kill -0 $RSPAMD_MILTER_PID 2>/dev/null || { cat "$dir/log/stdout" >&2; return 1; }
    if [ -n "$tcp" ]; then ss -ltnH "sport = :${tcp##*:}" | grep -q .; else [ -S "$milter" ]; fi &&
      ss -ltnH "sport = :$port" | grep -q . &&
      grep -q 'compiled 0 regular expressions to the hyperscan\|(normal).*hyperscan database .*loaded' \
        "$dir/log/rspamd.log" && return 0
    sleep 0.5
  done
  echo "rspamd-milter: not ready after 300 s (see $dir/log/rspamd.log)" >&2
  return 1
}

rspamd_milter_stop() {
  local i
  if [ -n "${RSPAMD_MILTER_PID:-}" ] && tr '\0' ' ' <"/proc/$RSPAMD_MILTER_PID/cmdline" \
      2>/dev/null | grep -qF -- "$RSPAMD_MILTER_DIR"; then
    kill "$RSPAMD_MILTER_PID"      # the wrapper: it stops rspamd and waits for it
    for i in $(seq 1 50); do kill -0 "$RSPAMD_MILTER_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  RSPAMD_MILTER_PID=
  [ -n "${RSPAMD_MILTER_PORT:-}" ] || return 0
  postconf -MX "127.0.0.1:$RSPAMD_MILTER_PORT/inet" 2>/dev/null || true
  postfix reload 2>/dev/null || true
}
