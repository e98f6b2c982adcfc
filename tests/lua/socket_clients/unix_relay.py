#!/usr/bin/env python3
"""A unix-socket front for a TCP server, for tests/lua/socket_clients/nats.lua.

    python3 unix_relay.py UNIX_PATH TCP_PORT [WATCH_PID]

nats-server listens on TCP only, and lua-nats can connect to a unix socket
({scheme = "unix", path = ...}): this relay listens on UNIX_PATH and copies the bytes of
each connection to and from a connection of its own to 127.0.0.1:TCP_PORT, both ways, a
thread a direction. Exits when WATCH_PID is gone (checked every 0.5 s).
"""
import os
import socket
import sys
import threading

import fixture


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
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(conn, port):
    try:
        upstream = socket.create_connection(("127.0.0.1", port))
    except OSError:
        conn.close()
        return
    a = threading.Thread(target=pump, args=(conn, upstream), daemon=True)
    b = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
    a.start()
    b.start()
    a.join()
    b.join()
    conn.close()
    upstream.close()


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    fixture.watch_from_argv(sys.argv, 3)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(128)
    os.rename(path + ".tmp", path)  # the path appears once it accepts
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, port), daemon=True).start()


if __name__ == "__main__":
    main()
