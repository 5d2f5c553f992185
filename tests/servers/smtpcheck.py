#!/usr/bin/env python3
"""smtpcheck.py - check one message crmetl sent, with Python's email package.

    smtpcheck.py MSG [--header NAME=VALUE]... [--text S]... [--html S]...
                     [--attachment OUT] [--filename NAME] [--crlf]

Parses MSG (a Maildir file or an .eml), checks each --header exactly, that
Date is an RFC 5322 date, that the body is multipart/mixed holding a
multipart/alternative (text/plain + text/html, UTF-8) and one
application/pdf attachment, that every base64 line of the raw message is at
most 76 characters, and that the decoded text (and HTML) contain each --text
(--html) string. --attachment writes the decoded PDF to OUT (for cmp);
--crlf requires every line of the raw file to end in CRLF (an .eml from the
outbox; a Maildir stores lines with LF). Prints what failed; exit 1 if any.
"""
import argparse
import email
import email.policy
import email.utils
import re
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("msg")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--text", action="append", default=[])
    ap.add_argument("--html", action="append", default=[])
    ap.add_argument("--attachment")
    ap.add_argument("--filename")
    ap.add_argument("--crlf", action="store_true")
    a = ap.parse_args()
    raw = open(a.msg, "rb").read()
    bad = []
    if a.crlf and re.search(rb"(?<!\r)\n", raw):
        bad.append("a line does not end in CRLF")
    for line in raw.split(b"\n"):
        line = line.rstrip(b"\r")
        if re.fullmatch(rb"[A-Za-z0-9+/=]{77,}", line):
            bad.append("base64 line of %d characters" % len(line))
            break
    for line in raw.split(b"\n"):
        if len(line.rstrip(b"\r")) > 998:
            bad.append("a line longer than 998 characters")
            break
    m = email.message_from_bytes(raw, policy=email.policy.default)
    for h in a.header:
        name, want = h.split("=", 1)
        got = str(m.get(name, ""))
        if got != want:
            bad.append("header %s: got %r, want %r" % (name, got, want))
    if email.utils.parsedate_to_datetime(str(m["Date"])) is None:
        bad.append("bad Date %r" % m["Date"])
    if m.get_content_type() != "multipart/mixed":
        bad.append("top type %s" % m.get_content_type())
    parts = list(m.iter_parts()) if m.is_multipart() else []
    alt = [p for p in parts if p.get_content_type() == "multipart/alternative"]
    pdf = [p for p in parts if p.get_content_type() == "application/pdf"]
    if len(alt) != 1 or len(pdf) != 1:
        bad.append("parts: %s" % [p.get_content_type() for p in parts])
    else:
        sub = {p.get_content_type(): p for p in alt[0].iter_parts()}
        text, html = sub.get("text/plain"), sub.get("text/html")
        if text is None or html is None:
            bad.append("alternative parts: %s" % list(sub))
        else:
            for p in (text, html):
                if p.get_content_charset() != "utf-8":
                    bad.append("charset %s" % p.get_content_charset())
            t, h = text.get_content(), html.get_content()
            for s in a.text:
                if s not in t:
                    bad.append("text lacks %r:\n%s" % (s, t))
            for s in a.html:
                if s not in h:
                    bad.append("html lacks %r:\n%s" % (s, h))
        att = pdf[0]
        if att.get_content_disposition() != "attachment":
            bad.append("disposition %s" % att.get_content_disposition())
        if a.filename and att.get_filename() != a.filename:
            bad.append("filename %r" % att.get_filename())
        if att["Content-Transfer-Encoding"] != "base64":
            bad.append("transfer encoding %s" % att["Content-Transfer-Encoding"])
        if a.attachment:
            open(a.attachment, "wb").write(att.get_content())
    for b in bad:
        print("smtpcheck: %s: %s" % (a.msg, b), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
