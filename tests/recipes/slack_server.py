"""A stand-in for Slack's incoming webhooks (or any JSON webhook), run as its own process:

    python slack_server.py LOG [--fail-first N] [--fail-status 500] [--status 200]
                               [--retry-after S] [--delay S] [--max-seconds 120]

It binds 127.0.0.1 on a port the OS picks and prints that port alone on its first line of
standard output. Each POST is appended to LOG as one JSON line: {"path", "headers" (a few),
"body" (the parsed JSON, or the raw text when it is not JSON), "status" (what it answered)}.
The first N requests are answered `--fail-status` (with `--retry-after` when given), the
rest `--status`; `--delay` waits before every answer. It exits by itself after
`--max-seconds`, so a test that dies cannot leave it behind for long.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEPT_HEADERS = ("Content-Type", "User-Agent", "Content-Length")
BODIES = {200: b"ok", 404: b"no_service", 400: b"invalid_payload", 403: b"invalid_token",
          429: b"rate_limited", 500: b"internal_error"}


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.args = args
        self.failures_left = args.fail_first
        self.lock = threading.Lock()

    def next_status(self) -> int:
        with self.lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return self.args.fail_status
            return self.args.status

    def record(self, entry: dict) -> None:
        line = (json.dumps(entry) + "\n").encode()
        with self.lock:  # one write of a whole line: a reader never sees half of it
            fd = os.open(self.args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # a client that stops sending does not hold a thread for ever

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        status = self.server.next_status()
        self.server.record({"path": self.path, "status": status, "body": body,
                            "headers": {h: self.headers[h] for h in KEPT_HEADERS
                                        if h in self.headers}})
        if self.server.args.delay:
            time.sleep(self.server.args.delay)
        answer = BODIES.get(status, b"error" if status >= 400 else b"ok")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        if self.server.args.retry_after is not None and status != self.server.args.status:
            self.send_header("Retry-After", self.server.args.retry_after)
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log", help="file the requests are appended to, one JSON line each")
    p.add_argument("--fail-first", type=int, default=0, metavar="N")
    p.add_argument("--fail-status", type=int, default=500)
    p.add_argument("--status", type=int, default=200, help="the answer once N have failed")
    p.add_argument("--retry-after", default=None, help="Retry-After sent with the failures")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--max-seconds", type=float, default=120.0)
    args = p.parse_args(argv)
    httpd = Server(args)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    print(httpd.server_address[1], flush=True)
    time.sleep(args.max_seconds)
    httpd.shutdown()
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
