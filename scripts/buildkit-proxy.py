#!/usr/bin/env python3
"""Exposes the Docker engine's embedded BuildKit on a unix socket, as a buildkitd would.

The engine serves BuildKit's gRPC API only behind an HTTP upgrade (`POST /grpc`,
`Upgrade: h2c`). For every connection to SOCKET this proxy performs that upgrade on the
engine's socket and then copies bytes both ways, so BuildKit clients that expect a plain
buildkitd address work: buildx's `remote` driver (`docker buildx create --driver remote
unix://SOCKET`, which can push by digest) and `stackplan build --addr unix://SOCKET`.

Usage: buildkit-proxy.py SOCKET [ENGINE_SOCKET]   (default engine: /var/run/docker.sock)
"""
import os
import socket
import sys
import threading

UPGRADE = (b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
           b"Upgrade: h2c\r\nContent-Length: 0\r\n\r\n")


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client, engine_path):
    engine = socket.socket(socket.AF_UNIX)
    try:
        engine.connect(engine_path)
        engine.sendall(UPGRADE)
        head = b""
        while b"\r\n\r\n" not in head:
            byte = engine.recv(1)
            if not byte:
                raise OSError("the engine closed the connection during the upgrade")
            head += byte
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise OSError("the engine refused the upgrade: %r" % status)
    except OSError as e:
        print("buildkit-proxy: %s" % e, file=sys.stderr, flush=True)
        client.close()
        engine.close()
        return
    threading.Thread(target=pipe, args=(client, engine), daemon=True).start()
    pipe(engine, client)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    engine_path = sys.argv[2] if len(sys.argv) > 2 else "/var/run/docker.sock"
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    os.chmod(path, 0o660)
    server.listen(64)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client, engine_path), daemon=True).start()


if __name__ == "__main__":
    main()
