#!/usr/bin/env python3
"""The HTTP server of tests/lua/socket_clients/http.lua: a thread per connection.

    python3 http_server.py PORT_FILE [WATCH_PID]

Listens on 127.0.0.1, on a port the kernel picks, and writes that port to PORT_FILE
(atomically, once it listens). Exits when WATCH_PID is gone (checked every 0.5 s), so it
never outlives the test that started it.

    GET  /hello                     "hello world\n", with Content-Length
    GET  /bytes?n=N&seed=S          N bytes of the pattern of clients.lua's C.blob(N, S)
    GET  /chunked?n=N&size=K&seed=S the same bytes, Transfer-Encoding: chunked, K a chunk
                                    (the first chunk carries an extension, and a trailer
                                    header follows the last)
    GET  /close?n=N&seed=S          the same bytes, no length: the end is the close
    GET  /status/CODE               that status, body "status CODE"
    GET  /slow?ms=M                 "slow" after M milliseconds
    GET  /redirect                  302 to /hello
    GET  /headers                   the request's headers, one "name: value" a line
    POST /echo                      the request body back (Content-Length or chunked
                                    request), with X-Length and X-Chunked
    HEAD /hello                     the headers of GET /hello
"""
import http.server
import sys
import time
import urllib.parse

import fixture


def blob(n, seed):
    block = bytes(((i * 7 + seed * 13 + (i // 256) * 3) % 256) for i in range(1, 4097))
    full, rest = divmod(n, len(block))
    return block * full + block[:rest]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "luv-test-http/1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="application/octet-stream", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def args(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        return url.path, q

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path, q = self.args()
        n = int(q.get("n", "0"))
        seed = int(q.get("seed", "1"))
        if path == "/hello":
            self.reply(200, b"hello world\n", "text/plain")
        elif path == "/bytes":
            self.reply(200, blob(n, seed))
        elif path == "/chunked":
            size = int(q.get("size", "1000"))
            body = blob(n, seed)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Trailer")
            self.end_headers()
            first = True
            for i in range(0, len(body), size):
                part = body[i:i + size]
                ext = ";name=value" if first else ""
                first = False
                self.wfile.write(b"%x%s\r\n" % (len(part), ext.encode()) + part + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
        elif path == "/close":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(blob(n, seed))
            self.close_connection = True
        elif path.startswith("/status/"):
            code = int(path[len("/status/"):])
            self.reply(code, b"status %d" % code, "text/plain")
        elif path == "/slow":
            time.sleep(int(q.get("ms", "100")) / 1000.0)
            self.reply(200, b"slow", "text/plain")
        elif path == "/redirect":
            self.reply(302, b"", "text/plain", [("Location", "/hello")])
        elif path == "/headers":
            text = "".join("%s: %s\n" % (k.lower(), v) for k, v in self.headers.items())
            self.reply(200, text.encode(), "text/plain")
        else:
            self.reply(404, b"not found: " + path.encode(), "text/plain")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline(1000)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts), True
                parts.append(self.rfile.read(size))
                self.rfile.readline(10)
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n), False

    def do_POST(self):
        path, _ = self.args()
        body, chunked = self.read_body()
        if path == "/echo":
            self.reply(200, body, extra=[("X-Length", str(len(body))),
                                         ("X-Chunked", "yes" if chunked else "no")])
        else:
            self.reply(404, b"not found", "text/plain")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen()'s backlog: many fibers connect at once


def main():
    port_file = sys.argv[1]
    fixture.watch_from_argv(sys.argv, 2)
    server = Server(("127.0.0.1", 0), Handler)
    fixture.serve_with_port_file(server, port_file)


if __name__ == "__main__":
    main()
