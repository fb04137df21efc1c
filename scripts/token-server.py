#!/usr/bin/env python3
"""A bearer-token server for the test registry with `auth: token` (distribution's token
auth spec), on loopback only. It is what ghcr.io, Docker Hub and quay.io put in front of
their registries, reduced to what clients do with it:

  GET  /token?service=S&scope=repository:NAME:pull,push[&offline_token=true]
       with Basic user:password (the docker CLI, stackplan), or anonymous (refused: 401);
  POST /token  grant_type=password (username, password) or grant_type=refresh_token
       (refresh_token), with service, scope, client_id, access_type=offline for a refresh
       token: the OAuth2 form containerd and BuildKit use.

Tokens are JWTs (RS256) signed with the key env-up.sh made, with the `kid` distribution
2.8 derives from the certificate in the registry's rootcertbundle; every repository scope
asked is granted to the one user. `expires_in` is STACKPLAN_TOKEN_TTL seconds (300).

Every token request is logged, one JSON line each, on stdout and at GET /_stackplan/log
(the tests count token requests per scope); a `?match=TEXT` keeps the lines whose scopes
contain TEXT. POST /_stackplan/exp?seconds=N makes the JWTs of the next tokens expire
after N seconds while `expires_in` still says the TTL (a token that expires early, as a
clock skew or a revocation makes it): 0 restores the normal expiry.

Usage: token-server.py PORT KEY.pem CERT.pem USER PASSWORD ISSUER
"""
import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, key_file, cert_file, user, password, issuer = sys.argv[1:7]
ttl = int(os.environ.get("STACKPLAN_TOKEN_TTL", "300"))
lock = threading.Lock()
log_lines = []
refresh_tokens = set()
early_exp = 0


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_kid(cert_file):
    """The key id distribution 2.8 gives the certificate's public key (libtrust's)."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_file, "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


kid = libtrust_kid(cert_file)


def sign(payload):
    header = {"typ": "JWT", "alg": "RS256", "kid": kid}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(payload).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_file], input=signing_input,
                         check=True, capture_output=True).stdout
    return signing_input.decode() + "." + b64url(sig)


def access_of(scopes):
    out = []
    for scope in scopes:
        for one in scope.split(" "):
            parts = one.split(":")
            if len(parts) >= 3 and parts[0] == "repository":
                actions = [a for a in parts[-1].split(",") if a in ("pull", "push", "delete", "*")]
                out.append({"type": "repository", "name": ":".join(parts[1:-1]), "actions": actions})
    return out


def token_for(service, scopes):
    now = int(time.time())
    exp = now + (early_exp or ttl)
    return sign({"iss": issuer, "sub": user, "aud": service, "exp": exp, "nbf": now - 5,
                 "iat": now, "jti": secrets.token_hex(8), "access": access_of(scopes)})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        # A TLS ClientHello (a client trying HTTPS first) is closed at once, not read as
        # HTTP. Peeked in the connection's own thread, not the accept loop: there, a
        # connection that says nothing yet (a client's spare pooled connection) held up
        # every connection after it.
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first and first != b"\x16":
            super().handle()

    def reply(self, status, body, content_type="application/json", extra=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self, grant, scopes, status):
        line = {"time": round(time.time(), 3), "method": self.command, "grant": grant,
                "scopes": scopes, "status": status}
        with lock:
            log_lines.append(line)
        print(json.dumps(line), flush=True)

    def basic_user(self):
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            return base64.b64decode(auth[6:]).decode().split(":", 1)
        except Exception:
            return ["", ""]

    def issue(self, grant, service, scopes, ok, offline):
        if not ok:
            self.record(grant, scopes, 401)
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication failed"}]},
                       extra={"WWW-Authenticate": 'Basic realm="stackplan-token-server"'})
            return
        body = {"token": token_for(service, scopes), "expires_in": ttl,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        body["access_token"] = body["token"]
        if offline:
            refresh = secrets.token_urlsafe(24)
            with lock:
                refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        self.record(grant, scopes, 200)
        self.reply(200, body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/_stackplan/log":
            match = query.get("match", [""])[0]
            with lock:
                lines = [l for l in log_lines if not match or any(match in s for s in l["scopes"])]
            self.reply(200, lines)
            return
        if url.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        scopes = query.get("scope", [])
        service = query.get("service", [""])[0]
        creds = self.basic_user()
        ok = creds == [user, password]
        self.issue("basic" if creds else "anonymous", service, scopes, ok,
                   query.get("offline_token", [""])[0] == "true")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        if url.path == "/_stackplan/exp":
            global early_exp
            early_exp = int(urllib.parse.parse_qs(url.query).get("seconds", ["0"])[0])
            self.reply(200, {"exp_seconds": early_exp})
            return
        if url.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        grant = form.get("grant_type", [""])[0]
        scopes = form.get("scope", [])
        service = form.get("service", [""])[0]
        offline = form.get("access_type", [""])[0] == "offline"
        if grant == "password":
            ok = [form.get("username", [""])[0], form.get("password", [""])[0]] == [user, password]
        elif grant == "refresh_token":
            with lock:
                ok = form.get("refresh_token", [""])[0] in refresh_tokens
        else:
            self.record(grant or "none", scopes, 400)
            self.reply(400, {"error": "unsupported_grant_type"})
            return
        self.issue(grant, service, scopes, ok, offline)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server(("127.0.0.1", int(port)), Handler).serve_forever()
