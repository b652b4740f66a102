"""A small real HTTP server for remote tests: serves a directory on 127.0.0.1.

GET and HEAD read files; PUT and POST write them atomically (temporary file + rename).
Switches, settable while it runs: `fail_first` (answer 500 to the next N requests),
`read_only` (405 on PUT/POST), `delay` (seconds to wait before answering), `basic_auth`
(user, password) and `header_auth` (name, value). It binds loopback only, on a port the
OS picks, runs in a daemon thread, and `stop()` (or leaving the `with`) ends it.
"""

from __future__ import annotations

import base64
import os
import posixpath
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

# A stuck client must not hold a handler thread longer than this (seconds).
SOCKET_TIMEOUT = 10


class HTTPTestServer:
    def __init__(self, root: str | os.PathLike, *, basic_auth: tuple[str, str] | None = None,
                 header_auth: tuple[str, str] | None = None, read_only: bool = False,
                 fail_first: int = 0, delay: float = 0.0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.basic_auth, self.header_auth = basic_auth, header_auth
        self.read_only, self.fail_first, self.delay = read_only, fail_first, delay
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._address: tuple[str, int] | None = None
        self._thread: threading.Thread | None = None
        self.gone = False

    @property
    def url(self) -> str:
        """Its address; still known after `stop()`, for tests of a server that is gone."""
        assert self._address is not None, "the server was never started"
        host, port = self._address
        return f"http://{host}:{port}"

    def start(self) -> HTTPTestServer:
        self.gone = False
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._address = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        # shutdown() stops accepting, but handler threads keep serving their keep-alive
        # connections: a server that "went away" must drop those too
        self.gone = True
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> HTTPTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def take_failure(self) -> bool:
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return True
            return False

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((method, path, status))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 drops the SYNs of a client opening 16 connections at
    # once, which then waits a second to retransmit
    request_queue_size = 64


class _Handler(BaseHTTPRequestHandler):
    server_state: HTTPTestServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    timeout = SOCKET_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean

    # ---- helpers

    def _drain(self) -> bytes:
        # read the whole body before answering, even a refusal: a client still sending
        # would otherwise see a reset connection instead of our status
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return b""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: bytes = b"",
                headers: dict[str, str] | None = None) -> None:
        self.server_state.record(self.command, self.path, status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # a body after a HEAD answer would be read as the next answer on this connection
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _target(self) -> Path | None:
        rel = posixpath.normpath(unquote(urlsplit(self.path).path)).lstrip("/")
        if rel.startswith("..") or rel in ("", "."):
            return None
        return self.server_state.root / rel

    def _gate(self) -> bool:
        """False when the request was answered already (failure switch, auth)."""
        state = self.server_state
        if state.gone:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        if state.delay:
            time.sleep(state.delay)
        if state.take_failure():
            self._answer(500, b"injected failure\n")
            return False
        if state.basic_auth is not None:
            token = base64.b64encode(":".join(state.basic_auth).encode()).decode()
            if self.headers.get("Authorization") != f"Basic {token}":
                self._answer(401, b"who are you?\n",
                             {"WWW-Authenticate": 'Basic realm="lode-test"'})
                return False
        if state.header_auth is not None:
            name, value = state.header_auth
            if self.headers.get(name) != value:
                self._answer(403, b"forbidden\n")
                return False
        return True

    # ---- methods

    def _read(self, send_body: bool) -> None:
        self._drain()
        if not self._gate():
            return
        target = self._target()
        if target is None or not target.is_file():
            self._answer(404, b"not found\n")
            return
        size = target.stat().st_size
        self.server_state.record(self.command, self.path, 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if send_body:
            with open(target, "rb") as f:
                shutil.copyfileobj(f, self.wfile, 1 << 20)

    def _write(self) -> None:
        data = self._drain()
        if not self._gate():
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._answer(411, b"send a Content-Length\n")
            return
        if self.server_state.read_only:
            self._answer(405, b"read-only\n", {"Allow": "GET, HEAD"})
            return
        target = self._target()
        if target is None:
            self._answer(403, b"outside the served directory\n")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        self._answer(201)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._read(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._read(send_body=False)

    def do_PUT(self) -> None:  # noqa: N802
        self._write()

    def do_POST(self) -> None:  # noqa: N802
        self._write()
