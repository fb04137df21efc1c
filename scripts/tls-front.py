#!/usr/bin/env python3
"""A TLS front that requires a client certificate, on loopback only: it terminates TLS
(ALPN h2, for gRPC) on 127.0.0.1:PORT, refuses clients without a certificate signed by
CLIENT_CA, and passes the bytes to a unix socket (the engine's BuildKit, as
scripts/buildkit-proxy.py exposes it). It stands for a buildkitd started with
--tlscacert: what `stackplan build --addr tcp://` meets on a CI's BuildKit sidecar.

Usage: tls-front.py PORT CERT KEY CLIENT_CA UNIX_SOCKET
"""
import socket
import ssl
import sys
import threading

port, cert, key, client_ca, upstream = sys.argv[1:6]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(client_ca)
context.verify_mode = ssl.CERT_REQUIRED
context.set_alpn_protocols(["h2"])


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(raw):
    try:
        conn = context.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print(f"handshake refused: {e}", flush=True)
        raw.close()
        return
    back = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        back.connect(upstream)
    except OSError as e:
        print(f"upstream {upstream}: {e}", flush=True)
        conn.close()
        return
    threading.Thread(target=pump, args=(back, conn), daemon=True).start()
    pump(conn, back)


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(port)))
listener.listen(64)
while True:
    client, _ = listener.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
