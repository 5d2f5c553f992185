#!/usr/bin/env python3
"""smtptls.py - an SMTP server (aiosmtpd) with TLS and required AUTH.

    smtptls.py --mode starttls|smtps --port P --maildir DIR --cert PEM --key PEM
               --user U --password-file F --ready R

starttls: plain SMTP on 127.0.0.1:P that offers STARTTLS and refuses MAIL
before it (require_starttls). smtps: TLS from the first byte (port 465
style). Either way AUTH (PLAIN or LOGIN) is offered only under TLS and is
required before MAIL; the one account is U with the password in F.
Accepted messages go to the Maildir DIR. Each AUTH attempt and each
stored message is logged to stderr as "smtptls: auth ok|refused USER" and
"smtptls: stored tls=yes|no auth=USER", which the tests read. R is created
once the server listens.
"""
import argparse
import mailbox
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def log(msg):
    print("smtptls: " + msg, file=sys.stderr, flush=True)


class Store:
    def __init__(self, maildir):
        self.box = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server, session, envelope):
        self.box.add(envelope.original_content)
        user = session.auth_data.decode() if isinstance(session.auth_data, bytes) else "-"
        tls = session.ssl or server.transport.get_extra_info("ssl_object")
        log("stored tls=%s auth=%s" % ("yes" if tls else "no", user))
        return "250 OK"


class Account:
    """aiosmtpd authenticator: one user name and password."""

    def __init__(self, user, password):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == self.user and auth_data.password == self.password
        log("auth %s %s" % ("ok" if ok else "refused", auth_data.login.decode(errors="replace")))
        # auth_data becomes session.auth_data: the user name, for the log.
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("starttls", "smtps"), required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--ready", required=True)
    a = ap.parse_args()
    with open(a.password_file) as f:
        password = f.read().rstrip("\n")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    smtp = dict(authenticator=Account(a.user, password), auth_required=True,
                auth_require_tls=True)
    if a.mode == "starttls":
        c = Controller(Store(a.maildir), hostname="127.0.0.1", port=a.port,
                       tls_context=ctx, require_starttls=True, **smtp)
    else:
        # aiosmtpd 1.4 counts only STARTTLS as TLS for auth_require_tls;
        # here every byte is under TLS already.
        smtp["auth_require_tls"] = False
        c = Controller(Store(a.maildir), hostname="127.0.0.1", port=a.port,
                       ssl_context=ctx, server_hostname="127.0.0.1", **smtp)
    c.start()
    open(a.ready, "w").close()
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
