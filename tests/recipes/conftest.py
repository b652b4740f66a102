"""Fixtures for the recipe tests.

- ``slack_server``: a factory, ``slack_server(fail_first=0, status=200, delay=0,
  fail_status=500, retry_after=None)`` -> a running :class:`SlackServer` (a subprocess
  on 127.0.0.1, stopped by PID when the test ends). Its ``.url`` looks like a Slack
  incoming webhook; ``.posts()`` are the JSON bodies it accepted (2xx), ``.requests()``
  every request with its path, headers and the status it answered; ``.wait_posts(n)``
  waits for n accepted posts (for runs in other processes).
- ``dead_url``: a webhook URL on a port where nothing listens.
- ``RECIPES``: a recipes.yaml of shell-step recipes (quick, sleepy, slow, stubborn, boom).
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Recipes of the runner and schedule tests: only shell steps, no pipeline.
RECIPES = """\
recipes:
  sleepy:
    desc: waits
    pre:
      - {name: wait, cmd: "sleep 30"}
  quick:
    desc: prints
    pre:
      - {name: hello, cmd: "echo hello from the recipe"}
  slow:
    desc: prints twice
    pre:
      - {name: two, cmd: "echo first line && sleep 1 && echo second line"}
  stubborn:
    desc: ignores TERM
    pre:
      - {name: deaf, cmd: "trap '' TERM; sleep 30; echo still here"}
  boom:
    pre:
      - {name: fail, cmd: "exit 3"}
"""

SCRIPT = Path(__file__).with_name("slack_server.py")
WEBHOOK_PATH = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
START_TIMEOUT = 15.0


class SlackServer:
    def __init__(self, workdir: Path, *, fail_first: int = 0, status: int = 200,
                 delay: float = 0.0, fail_status: int = 500, retry_after: str | None = None,
                 max_seconds: float = 120.0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "requests.jsonl"
        self.log.touch()
        cmd = [sys.executable, str(SCRIPT), str(self.log), "--fail-first", str(fail_first),
               "--status", str(status), "--delay", str(delay), "--fail-status",
               str(fail_status), "--max-seconds", str(max_seconds)]
        if retry_after is not None:
            cmd += ["--retry-after", retry_after]
        self._stderr = open(workdir / "server.stderr", "wb")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.port = self._read_port()
        self.url = f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def _read_port(self) -> int:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the test Slack server did not start (stdout {line!r}; "
                               f"stderr in {self._stderr.name})")
        return int(line)

    def requests(self) -> list[dict]:
        """Every request received: {"path", "headers", "body", "status"}."""
        text = self.log.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines(keepends=True)
                if line.endswith("\n")]

    def posts(self) -> list:
        """The bodies of the posts it accepted (answered 2xx), in order."""
        return [r["body"] for r in self.requests() if 200 <= r["status"] < 300]

    def wait_posts(self, n: int = 1, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while len(posts := self.posts()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return posts

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


@pytest.fixture
def slack_server(tmp_path):
    started: list[SlackServer] = []

    def start(**options) -> SlackServer:
        server = SlackServer(tmp_path / f"slack-server-{len(started)}", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def closed_port_url() -> str:
    """A webhook URL nothing listens on (the OS just handed the port out and took it back)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{WEBHOOK_PATH}"


@pytest.fixture
def dead_url() -> str:
    return closed_port_url()
