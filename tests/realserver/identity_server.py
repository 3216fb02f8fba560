"""A tiny HTTP backend for the real-server tests: it answers with its own name.

Run as ``python identity_server.py HOST PORT NAME``. It stands in for an
application service (not for the server under test): haproxy, nginx and pdns
route or health-check towards it, and the body tells which replica answered.

Paths: ``/health`` → 200; ``/big`` → 4 KiB of text (gzip tests); ``/nostore``
→ ``Cache-Control: no-store``; anything else → ``NAME <counter>`` so a cached
response is recognisable by its stale counter.
"""

import itertools
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST, PORT, NAME = sys.argv[1], int(sys.argv[2]), sys.argv[3]
COUNTER = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's naming
        headers = {"Content-Type": "text/plain; charset=utf-8", "X-Backend": NAME}
        if self.path == "/health":
            body = b"ok\n"
        elif self.path == "/big":
            body = (f"{NAME} " + "lorem ipsum dolor sit amet " * 160).encode()
        else:
            body = f"{NAME} {next(COUNTER)}\n".encode()
            if self.path.startswith("/nostore"):
                headers["Cache-Control"] = "no-store"
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer((HOST, PORT), Handler).serve_forever()
