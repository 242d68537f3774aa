# Sourced by the bench scripts: the sender the benchmarks authenticate, in DIR.
#   signed_message DIR   keys (RSA-2048, Ed25519), DIR/zone for dns-authority (SPF
#                        ip4:127.0.0.1 -all, DMARC p=reject with rua, both DKIM keys) and
#                        DIR/signed.eml: 10 KiB from bench@sender.test, DKIM-signed by
#                        dkimpy with both keys (not mail-auth: an independent signer)
#   arc_sealed DIR       DIR/sealed.eml: signed.eml with an Authentication-Results
#                        field and one ARC set over it (sealed by sender.test)
BENCH_DKIM_TOOL=crates/palisade/tests/support/dkim_tool.py

signed_message() {
  local dir=${1:?DIR} rsa_p ed_p
  python3 -c "import dkim, nacl" 2>/dev/null || python3 -m pip install -q dkimpy pynacl
  openssl genrsa -traditional -out "$dir/rsa.pem" 2048 2>/dev/null
  openssl genpkey -algorithm ed25519 -out "$dir/ed.pem"
  openssl pkey -in "$dir/ed.pem" -outform DER | tail -c 32 | base64 > "$dir/ed.seed"
  rsa_p=$(openssl rsa -in "$dir/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
  ed_p=$(openssl pkey -in "$dir/ed.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
  cat > "$dir/zone" <<ZONE
sender.test TXT v=spf1 ip4:127.0.0.1 -all
_dmarc.sender.test TXT v=DMARC1; p=reject; rua=mailto:dmarc@sender.test
rsa._domainkey.sender.test TXT v=DKIM1; k=rsa; p=$rsa_p
ed._domainkey.sender.test TXT v=DKIM1; k=ed25519; p=$ed_p
ZONE
  {
    printf 'From: Bench <bench@sender.test>\r\nTo: b@example.test\r\nSubject: benchmark\r\n'
    printf 'Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <bench@sender.test>\r\n\r\n'
    for _ in $(seq 1 128); do printf '%s\r\n' "$(printf 'x%.0s' $(seq 1 76))"; done
  } > "$dir/plain.eml"
  python3 "$BENCH_DKIM_TOOL" sign --domain sender.test --selector rsa --key "$dir/rsa.pem" \
    < "$dir/plain.eml" > "$dir/once.eml"
  python3 "$BENCH_DKIM_TOOL" sign --domain sender.test --selector ed --key "$dir/ed.seed" \
    --algo ed25519 < "$dir/once.eml" > "$dir/signed.eml"
}

arc_sealed() {
  local dir=${1:?DIR}
  {
    printf 'Authentication-Results: sender.test; dkim=pass header.d=sender.test;'
    printf ' spf=pass smtp.mailfrom=bench@sender.test\r\n'
    cat "$dir/signed.eml"
  } > "$dir/results.eml"
  python3 "$BENCH_DKIM_TOOL" arc --domain sender.test --selector rsa --key "$dir/rsa.pem" \
    --srv-id sender.test < "$dir/results.eml" > "$dir/sealed.eml"
}
