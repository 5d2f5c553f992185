#!/usr/bin/env python3
"""smtpflaky.py - an SMTP server (aiosmtpd) that refuses on purpose.

    smtpflaky.py --maildir DIR --port P --ready F [--fail N] [--code "451 4.3.0 ..."]

Answers the DATA of the first N messages with CODE (default a transient
451), then stores messages in the Maildir DIR like aiosmtpd's Mailbox
handler. --fail -1 refuses every message (e.g. a permanent 554). Listens on
127.0.0.1:P, creates F once it does, and logs each answer to stderr.
"""
import argparse
import mailbox
import sys
import time

from aiosmtpd.controller import Controller


class Flaky:
    def __init__(self, maildir, fail, code):
        self.box = mailbox.Maildir(maildir, create=True)
        self.fail, self.code, self.seen = fail, code, 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.fail < 0 or self.seen <= self.fail:
            print("smtpflaky: message %d: %s" % (self.seen, self.code), file=sys.stderr, flush=True)
            return self.code
        self.box.add(envelope.original_content)
        print("smtpflaky: message %d: stored" % self.seen, file=sys.stderr, flush=True)
        return "250 OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--fail", type=int, default=1)
    ap.add_argument("--code", default="451 4.3.0 try again later")
    a = ap.parse_args()
    c = Controller(Flaky(a.maildir, a.fail, a.code), hostname="127.0.0.1", port=a.port)
    c.start()
    open(a.ready, "w").close()
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
