#!/usr/bin/env python3
"""httpd.py - a scriptable, misbehaving HTTP(S) server for the fetch tests.

Binds 127.0.0.1 on a free port, writes the port number to --port-file (atomically,
once listening) and serves files from --root. The path chooses the behaviour:

  /plain/F             F with ETag and Last-Modified; 304 on If-None-Match or
                       If-Modified-Since that matches
  /flaky/F?fail=N&after=S&code=C
                       C (default 503) with Retry-After: S (default 1; omitted when
                       S is "none") for the first N (default 2) requests of this exact
                       path+query in this server run, then like /plain
  /status/C            status C with a short body (404, 500, ...)
  /cut/F               chunked encoding; sends half of F, then closes the connection
  /liar/F              Content-Length 1000 bytes larger than F; sends F, then closes
  /stall/F?s=S         sleeps S seconds (default 30) before answering
  /slow/F?s=S          sleeps S seconds (default 1), then like /plain
  /drip/F?s=S          F with its Content-Length, sent in 20 pieces over S seconds
                       (default 4); ETag and 304 as /plain
  /chunked/F           F in chunked encoding (no Content-Length), 4 KiB chunks;
                       ETag and 304 as /plain
  /redirect/N/F        302 to /redirect/N-1/F; /redirect/0/F is /plain/F
  /redirect-to?u=URL   302 to URL (any scheme)
  /auth/F              401 unless "Authorization: Bearer $CRM_TOKEN", then like /plain
  /gz/F                F gzip-compressed with Content-Encoding: gzip when the request
                       accepts gzip, else like /plain

Every request is logged as one line to --log (never the Authorization value):
  <method> <path> inm=<If-None-Match or -> ims=<If-Modified-Since or -> auth=yes|no
  ae=<Accept-Encoding or -> inflight=<requests being served, this one included>
  t=<arrival, Unix seconds with milliseconds>

--tls-cert/--tls-key serve HTTPS instead (handshake in the request's thread).
"""
import argparse
import email.utils
import gzip
import hashlib
import http.server
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
COUNTS = {}
INFLIGHT = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "crmetl-test-httpd"

    def log_message(self, fmt, *args):  # quiet: our own log says what matters
        pass

    def log_request_line(self, inflight):
        h = self.headers
        line = "%s %s inm=%s ims=%s auth=%s ae=%s inflight=%d t=%.3f\n" % (
            self.command, self.path,
            h.get("If-None-Match", "-"), h.get("If-Modified-Since", "-").replace(" ", "_"),
            "yes" if h.get("Authorization") else "no",
            h.get("Accept-Encoding", "-").replace(" ", ""), inflight, time.time())
        with LOCK:
            with open(self.server.log_path, "a") as f:
                f.write(line)

    def do_GET(self):
        with LOCK:
            INFLIGHT[0] += 1
            inflight = INFLIGHT[0]
        try:
            self.log_request_line(inflight)
            self.route()
        finally:
            with LOCK:
                INFLIGHT[0] -= 1

    # ---- helpers ----
    def read_file(self, name):
        path = os.path.join(self.server.root, name)
        if "/" in name or name.startswith(".") or not os.path.isfile(path):
            return None, None
        with open(path, "rb") as f:
            return f.read(), os.stat(path).st_mtime

    def send_body(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, extra=()):
        self.send_body(code, ("status %d\n" % code).encode(), extra)

    def validators(self, data, mtime):
        """(ETag, Last-Modified) of a file, and whether the request's validators match."""
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
        lm = email.utils.formatdate(mtime, usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        match = False
        if inm is not None:
            match = etag in [t.strip() for t in inm.split(",")]
        elif ims:
            match = int(mtime) <= email.utils.parsedate_to_datetime(ims).timestamp()
        return etag, lm, match

    def plain(self, name, gz=False):
        data, mtime = self.read_file(name)
        if data is None:
            return self.status(404)
        etag, lm, match = self.validators(data, mtime)
        if match:
            return self.send_body(304, b"", [("ETag", etag), ("Last-Modified", lm)])
        headers = [("ETag", etag), ("Last-Modified", lm), ("Content-Type", "text/csv")]
        if gz and "gzip" in self.headers.get("Accept-Encoding", ""):
            data = gzip.compress(data)
            headers.append(("Content-Encoding", "gzip"))
        self.send_body(200, data, headers)

    def close_now(self):
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- behaviours ----
    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        parts = u.path.split("/")[1:]
        kind = parts[0] if parts else ""
        rest = "/".join(parts[1:])
        if kind == "plain":
            return self.plain(rest)
        if kind == "gz":
            return self.plain(rest, gz=True)
        if kind == "flaky":
            with LOCK:
                n = COUNTS.get(self.path, 0)
                COUNTS[self.path] = n + 1
            if n < int(q.get("fail", "2")):
                extra = []
                if q.get("after", "1") != "none":
                    extra.append(("Retry-After", q.get("after", "1")))
                return self.status(int(q.get("code", "503")), extra)
            return self.plain(rest)
        if kind == "status":
            return self.status(int(rest))
        if kind == "cut":
            data, _ = self.read_file(rest)
            if data is None:
                return self.status(404)
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = data[: len(data) // 2]
            self.wfile.write(b"%x\r\n" % len(data) + half)
            return self.close_now()
        if kind == "liar":
            data, _ = self.read_file(rest)
            if data is None:
                return self.status(404)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data) + 1000))
            self.end_headers()
            self.wfile.write(data)
            return self.close_now()
        if kind == "stall":
            time.sleep(float(q.get("s", "30")))
            return self.plain(rest)
        if kind == "slow":
            time.sleep(float(q.get("s", "1")))
            return self.plain(rest)
        if kind == "drip" or kind == "chunked":
            data, mtime = self.read_file(rest)
            if data is None:
                return self.status(404)
            etag, lm, match = self.validators(data, mtime)
            if match:
                return self.send_body(304, b"", [("ETag", etag)])
            self.send_response(200)
            self.send_header("ETag", etag)
            if kind == "drip":
                self.send_header("Content-Length", str(len(data)))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 4096 if kind == "chunked" else max(1, -(-len(data) // 20))
            for i in range(0, len(data), step):
                piece = data[i:i + step]
                if kind == "chunked":
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(float(q.get("s", "4")) / 20)
            if kind == "chunked":
                self.wfile.write(b"0\r\n\r\n")
            return
        if kind == "redirect":
            n = int(parts[1])
            name = "/".join(parts[2:])
            loc = "/plain/%s" % name if n <= 0 else "/redirect/%d/%s" % (n - 1, name)
            return self.status(302, [("Location", loc)])
        if kind == "redirect-to":
            return self.status(302, [("Location", q["u"])])
        if kind == "auth":
            want = "Bearer " + os.environ.get("CRM_TOKEN", "\0")
            if self.headers.get("Authorization") != want:
                return self.status(401, [("WWW-Authenticate", 'Bearer realm="crm"')])
            return self.plain(rest)
        return self.status(404)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs of parallel clients: 1 s stalls
    tls = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # refused handshakes and closed connections are the point of some tests


class TLSHandler(Handler):
    def setup(self):
        self.request.do_handshake()
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, OSError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    handler = TLSHandler if a.tls_cert else Handler
    srv = Server(("127.0.0.1", 0), handler)
    srv.root = os.path.abspath(a.root)
    srv.log_path = os.path.abspath(a.log)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.tls = ctx
    open(srv.log_path, "a").close()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
