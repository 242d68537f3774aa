#!/usr/bin/env python3
"""Builds common-passwords.bin from Django's list of common passwords.

Usage: python3 make_common_passwords.py DJANGO_WHEEL_OR_TXT_GZ > common-passwords.bin

The input is Django's django/contrib/auth/common-passwords.txt.gz (in the wheel from
PyPI: `pip download --no-deps Django`): 20,000 common passwords compiled by Royce
Williams, lowercased and deduplicated by Django (19,640 lines in Django 5.2).
The output is the first 8 bytes of SHA-256 of each lowercased, stripped password,
sorted and deduplicated, big-endian: palisade-access binary-searches it.
"""
import gzip, hashlib, io, struct, sys, zipfile

path = sys.argv[1]
if path.endswith(".whl"):
    raw = zipfile.ZipFile(path).read("django/contrib/auth/common-passwords.txt.gz")
else:
    raw = open(path, "rb").read()
words = gzip.GzipFile(fileobj=io.BytesIO(raw)).read().decode().splitlines()
keys = sorted({hashlib.sha256(w.strip().lower().encode()).digest()[:8] for w in words if w.strip()})
sys.stdout.buffer.write(b"".join(keys))
print(f"{len(keys)} passwords", file=sys.stderr)
