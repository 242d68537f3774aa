#!/usr/bin/env python3
"""Independent DKIM/ARC signer for Palisade's interop tests (dkimpy, not mail-auth).

  dkim_tool.py sign   --domain D --selector S --key FILE [--algo rsa|ed25519]
                      [--canon relaxed/relaxed] [--length] [--all-headers] < msg > signed
  dkim_tool.py arc    --domain D --selector S --key FILE --srv-id ID < msg > sealed
  dkim_tool.py verify < msg        (exit 0 when every DKIM signature verifies; uses DNS
                                    given by --dns HOST:PORT)
  dkim_tool.py arc-verify < msg    (exit 0 when the ARC chain validates, cv=pass; prints
                                    the chain validation; --dns as for verify)

Keys: RSA as PEM, Ed25519 as the base64 32-byte seed (dkimpy's format).
"""
import argparse
import sys

import dkim


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sign", "arc", "verify", "arc-verify"])
    ap.add_argument("--domain")
    ap.add_argument("--selector")
    ap.add_argument("--key")
    ap.add_argument("--algo", default="rsa")
    ap.add_argument("--canon", default="relaxed/relaxed")
    ap.add_argument("--length", action="store_true")
    ap.add_argument("--all-headers", action="store_true", help="sign every field present")
    ap.add_argument("--headers", help="the fields to sign, colon-separated (h=)")
    ap.add_argument("--srv-id")
    ap.add_argument("--dns")
    a = ap.parse_args()
    msg = sys.stdin.buffer.read()
    if a.mode in ("verify", "arc-verify"):
        import dns.resolver

        host, port = a.dns.rsplit(":", 1)
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [host]
        r.port = int(port)
        r.lifetime = 3

        def dnsfunc(name, timeout=5):
            try:
                ans = r.resolve(name.decode().rstrip("."), "TXT")
            except Exception:
                return None
            return b"".join(b"".join(rd.strings) for rd in ans)

        if a.mode == "arc-verify":
            cv, _results, comment = dkim.arc_verify(msg, dnsfunc=dnsfunc)
            print(cv.decode(), comment)
            sys.exit(0 if cv == dkim.CV_Pass else 1)
        d = dkim.DKIM(msg)
        n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
        ok = all(d.verify(idx=i, dnsfunc=dnsfunc) for i in range(n)) and n > 0
        print("pass" if ok else "fail")
        sys.exit(0 if ok else 1)
    key = open(a.key, "rb").read()
    if a.mode == "sign":
        ch, cb = a.canon.split("/")
        sig = dkim.sign(
            msg,
            a.selector.encode(),
            a.domain.encode(),
            key,
            canonicalize=(ch.encode(), cb.encode()),
            signature_algorithm=b"ed25519-sha256" if a.algo == "ed25519" else b"rsa-sha256",
            include_headers=header_list(a, msg),
            length=a.length,
        )
    else:
        sig = b"".join(
            dkim.arc_sign(
                msg,
                a.selector.encode(),
                a.domain.encode(),
                key,
                a.srv_id.encode(),
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
            )
        )
    sys.stdout.buffer.write(sig + msg)


def header_list(a, msg):
    if a.all_headers:
        return all_names(msg)
    if a.headers:
        return [h.encode().lower() for h in a.headers.split(":")]
    return [b"from", b"to", b"subject", b"date", b"message-id"]


def all_names(msg):
    """Every field name of the header section, once each."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    names = [l.split(b":", 1)[0].lower() for l in head.split(b"\r\n") if l[:1] not in (b" ", b"\t")]
    return list(dict.fromkeys(names))


if __name__ == "__main__":
    main()
