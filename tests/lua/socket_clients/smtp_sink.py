#!/usr/bin/env python3
"""The SMTP sink of tests/lua/socket_clients/smtp.lua: a thread per connection.

    python3 smtp_sink.py OUT_DIR PORT_FILE [WATCH_PID]

Listens on 127.0.0.1, on a port the kernel picks, and writes that port to PORT_FILE once
it listens. Exits when WATCH_PID is gone (checked every 0.5 s).

Speaks just enough ESMTP for LuaSocket's socket.smtp: 220 greeting, EHLO/HELO, MAIL,
RCPT, DATA, RSET, NOOP, QUIT. Each message accepted is recorded as two files in OUT_DIR:
msg-N.env (the EHLO domain, MAIL FROM, then each RCPT TO, one per line) and msg-N.data
(the data exactly as received, dot-stuffing undone, CRLFs kept), written before the 250
reply to the final dot, .env first and .data by a rename, so a .data file is complete.

A recipient containing "reject" gets 550; one containing "slow" gets its 250 after
0.5 s (the concurrency cases of the test).
"""
import os
import socketserver
import sys
import threading
import time

import fixture

OUT = None
seq_lock = threading.Lock()
seq = [0]


class Handler(socketserver.StreamRequestHandler):
    def say(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.say("220 sink.test ESMTP luv-test-sink")
        helo, mail, rcpt = "", None, []
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            line = raw.rstrip(b"\r\n").decode("latin-1")
            verb = line[:4].upper()
            arg = line[5:] if len(line) > 5 else ""
            if verb == "EHLO":
                helo = arg
                self.wfile.write(b"250-sink.test\r\n250-8BITMIME\r\n250 SIZE 20000000\r\n")
                self.wfile.flush()
            elif verb == "HELO":
                helo = arg
                self.say("250 sink.test")
            elif verb == "MAIL":
                mail, rcpt = arg, []
                self.say("250 2.1.0 ok")
            elif verb == "RCPT":
                if mail is None:
                    self.say("503 5.5.1 MAIL first")
                elif "reject" in arg:
                    self.say("550 5.1.1 no such user")
                else:
                    if "slow" in arg:
                        time.sleep(0.5)
                    rcpt.append(arg)
                    self.say("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpt:
                    self.say("503 5.5.1 RCPT first")
                    continue
                self.say("354 end with <CRLF>.<CRLF>")
                parts = []
                while True:
                    raw = self.rfile.readline(1 << 20)
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    parts.append(raw)
                with seq_lock:
                    seq[0] += 1
                    n = seq[0]
                base = os.path.join(OUT, "msg-%d" % n)
                with open(base + ".env", "w", encoding="latin-1") as f:
                    f.write("\n".join([helo, mail] + rcpt) + "\n")
                with open(base + ".data.tmp", "wb") as f:
                    f.write(b"".join(parts))
                os.rename(base + ".data.tmp", base + ".data")
                mail, rcpt = None, []
                self.say("250 2.0.0 queued as %d" % n)
            elif verb == "RSET":
                mail, rcpt = None, []
                self.say("250 2.0.0 ok")
            elif verb == "NOOP":
                self.say("250 2.0.0 ok")
            elif verb == "QUIT":
                self.say("221 2.0.0 bye")
                return
            else:
                self.say("500 5.5.2 unknown command")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global OUT
    OUT = sys.argv[1]
    port_file = sys.argv[2]
    fixture.watch_from_argv(sys.argv, 3)
    server = Server(("127.0.0.1", 0), Handler)
    fixture.serve_with_port_file(server, port_file)


if __name__ == "__main__":
    main()
