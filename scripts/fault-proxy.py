#!/usr/bin/env python3
"""A fault front for a registry, on loopback only: it forwards every request to the
registry behind it, except the ones a test told it to spoil, the way throttled and
flaky registries do:

  429   answer 429 Too Many Requests with Retry-After (seconds, `retry_after`)
  502, 503, 504   answer that status (503 with Retry-After too)
  reset close the connection with a TCP reset, answering nothing
  slow  wait `slow_seconds`, then forward

POST /_stackplan/faults?match=TEXT&pattern=429,ok,503,reset&limit=N&retry_after=1&slow_seconds=2
arms faults for the requests whose path contains TEXT (a test's own namespace): they
cycle through `pattern` (`ok` forwards), at most `limit` faults in all (20), so a front
never fails forever; `&method=PUT` spoils only the requests of that method (the writes).
POST /_stackplan/faults?match=TEXT&pattern= disarms. Every request whose path matches an
armed TEXT is logged, with the fault served and the time, at GET /_stackplan/log?match=TEXT
(JSON lines) and on stdout. A TLS hello (a client trying HTTPS first) is answered with a
plain-HTTP 400, as a registry without TLS answers it.

Usage: fault-proxy.py PORT UPSTREAM_HOST:PORT
"""
import http.client
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream = sys.argv[1], sys.argv[2]
lock = threading.Lock()
rules = {}   # match -> {"pattern": [...], "next": 0, "left": N, "retry_after": s, "slow": s}
log_lines = []
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate"}


def fault_for(path, method):
    with lock:
        for match, rule in rules.items():
            if match and match in path and rule["method"] in ("", method):
                if rule["left"] <= 0 or not rule["pattern"]:
                    return match, "ok", rule
                kind = rule["pattern"][rule["next"] % len(rule["pattern"])]
                rule["next"] += 1
                if kind != "ok":
                    rule["left"] -= 1
                return match, kind, rule
    return None, "ok", None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        # A TLS ClientHello (a client trying HTTPS first) gets the plain-HTTP 400 a
        # registry without TLS answers, at once: a client takes that answer for "no TLS
        # here" and falls back to HTTP (containerd does; a closed connection is only an
        # EOF to it). Peeked here, in the connection's own thread: peeked in the accept
        # loop, a connection that says nothing yet (an HTTP client's spare pooled
        # connection) held up every connection after it until the client's read timeout
        # (20 s for stackplan).
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":
            self.close_connection = True
            try:
                self.connection.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                                        b"Content-Length: 0\r\n\r\n")
            except OSError:
                pass
            return
        if first:
            super().handle()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body=b"", extra=None):
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def admin(self, url):
        query = urllib.parse.parse_qs(url.query)
        match = query.get("match", [""])[0]
        if url.path == "/_stackplan/log":
            with lock:
                lines = [l for l in log_lines if not match or l["match"] == match]
            self.reply(200, json.dumps(lines).encode(), {"Content-Type": "application/json"})
            return
        pattern = [p for p in query.get("pattern", [""])[0].split(",") if p]
        with lock:
            rules[match] = {"pattern": pattern, "next": 0,
                            "left": min(int(query.get("limit", ["20"])[0]), 100),
                            "retry_after": query.get("retry_after", ["1"])[0],
                            "slow": min(float(query.get("slow_seconds", ["2"])[0]), 30),
                            "method": query.get("method", [""])[0].upper()}
        self.reply(200, b"armed\n")

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if url.path.startswith("/_stackplan/"):
            self.admin(url)
            return
        match, kind, rule = fault_for(url.path, self.command)
        if match:
            line = {"time": round(time.time(), 3), "method": self.command, "path": url.path,
                    "fault": kind, "match": match}
            with lock:
                log_lines.append(line)
            print(json.dumps(line), flush=True)
        if kind == "reset":
            # Linger 0: the close sends a TCP reset. The socket closes only once its file
            # objects do, so close them first.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
            return
        if kind == "429":
            self.reply(429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                       {"Retry-After": rule["retry_after"], "Content-Type": "application/json"})
            return
        if kind in ("502", "503", "504"):
            extra = {"Retry-After": rule["retry_after"]} if kind == "503" else {}
            self.reply(int(kind), b"", extra)
            return
        if kind == "slow":
            time.sleep(rule["slow"])
        conn = http.client.HTTPConnection(upstream, timeout=60)
        # Every header line as sent: a client may repeat one (Accept, once per media type).
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP and k.lower() != "content-length":
                conn.putheader(k, v)
        if body or self.command in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        # A HEAD answer says the length of the body a GET would have.
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server(("127.0.0.1", int(port)), Handler).serve_forever()
