"""Credentials stay with their origin, and nothing lode prints shows one.

Two loopback servers are two origins (127.0.0.1 on two ports): the first, where the remote
or the webhook is configured, answers every request with a redirect to the second (and
sets a cookie); the second records every header it receives and serves, or stores, files.
Through the real CLI (pull, push) and the real notifiers, the second must never see the
custom header, the Authorization, the cookie, or a payload; an https remote redirecting to
plain http is refused; `lode config -l` and `lode remote list` mask what is secret.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from lode.plugins.notifier import notify
from tests.integration.pipeline_helpers import assert_one_error

SECRET = "s3cret-T0ken-value"
PASSWORD = "hunter2-Pa55"
COOKIE = "sid-0f1e2d3c"
HOOK_PATH = "/services/T000/B000/XXXXSECRETPATH"
CREDENTIALS = ("Authorization", "X-Token", "Cookie")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class Origin:
    """A loopback HTTP(S) server in a thread. `redirect_to` set: every request is answered
    `status` with Location = that origin + the same path, and a cookie; otherwise files
    under `root` are served (GET, HEAD) and stored (PUT, POST). Every request is logged
    as (method, path, {header: value})."""

    def __init__(self, root: Path | None = None, *, redirect_to: str | None = None,
                 status: int = 302, tls: tuple[str, str] | None = None) -> None:
        self.root, self.redirect_to, self.status = root, redirect_to, status
        self.log: list[tuple[str, str, dict[str, str]]] = []
        handler = type("Handler", (_Handler,), {"origin": self})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def headers_seen(self) -> str:
        return json.dumps(self.log)


class _Handler(BaseHTTPRequestHandler):
    origin: Origin
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        o = self.origin
        o.log.append((self.command, self.path, dict(self.headers.items())))
        if o.redirect_to:
            self._answer(o.status, headers={"Location": o.redirect_to + self.path,
                                            "Set-Cookie": f"sid={COOKIE}; Path=/"})
            return
        assert o.root is not None
        target = o.root / unquote(urlsplit(self.path).path).lstrip("/")
        if self.command in ("PUT", "POST"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self._answer(201)
        elif target.is_file():
            self._answer(200, target.read_bytes())
        else:
            self._answer(404, b"not found")

    do_GET = do_HEAD = do_PUT = do_POST = _handle  # noqa: N815 - http.server's naming


@pytest.fixture
def other(tmp_path):
    """The second origin: the one nobody configured."""
    srv = Origin(tmp_path / "other")
    yield srv
    srv.stop()


@pytest.fixture
def redirector(other):
    """`redirector(status, tls=None)`: a first origin redirecting to `other`."""
    made: list[Origin] = []

    def make(status: int = 302, tls: tuple[str, str] | None = None) -> Origin:
        made.append(Origin(redirect_to=other.url, status=status, tls=tls))
        return made[-1]

    yield make
    for srv in made:
        srv.stop()


@pytest.fixture
def project(git_repo, lode):
    lode("init", cwd=git_repo)
    (git_repo / "data").mkdir()
    for i in range(6):  # more than 4 keys: exists_many goes through the thread pool
        (git_repo / "data" / f"f{i}.txt").write_text(f"content {i}\n")
    lode("add", "data", cwd=git_repo)
    return git_repo


def configure(lode, repo: Path, url: str, auth: str) -> None:
    lode("remote", "add", "-d", "web", url, cwd=repo)
    for key, value in (("connect_timeout", "3"), ("read_timeout", "3")):
        lode("remote", "modify", "web", key, value, cwd=repo)
    if auth == "custom":
        lode("remote", "modify", "--local", "web", "auth", "custom", cwd=repo)
        lode("remote", "modify", "--local", "web", "custom_auth_header", "X-Token", cwd=repo)
        lode("remote", "modify", "--local", "web", "password", SECRET, cwd=repo)
    elif auth == "basic":
        lode("remote", "modify", "--local", "web", "auth", "basic", cwd=repo)
        lode("remote", "modify", "--local", "web", "user", "alice", cwd=repo)
        lode("remote", "modify", "--local", "web", "password", PASSWORD, cwd=repo)


def assert_no_credential(srv: Origin) -> None:
    assert srv.log, "the other origin was never asked: the test proves nothing"
    for method, path, headers in srv.log:
        assert not set(headers) & set(CREDENTIALS), (method, path, headers)
    seen = srv.headers_seen()
    for secret in (SECRET, PASSWORD, COOKIE):
        assert secret not in seen


def assert_quiet(proc: subprocess.CompletedProcess) -> None:
    out = proc.stdout + proc.stderr
    for secret in (SECRET, PASSWORD, HOOK_PATH):
        assert secret not in out, out


def publish(repo: Path, store: Path) -> None:
    """The project's objects as a server holds them (DVC 3's layout under `store`)."""
    shutil.copytree(repo / ".dvc" / "cache" / "files", store / "files")


def wipe(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_pull_follows_a_redirect_to_another_origin_without_the_custom_header(
        lode, project, other, redirector, status):
    first = redirector(status)
    configure(lode, project, first.url + "/store", "custom")
    publish(project, other.root / "store")
    wanted = {p.name: p.read_text() for p in (project / "data").iterdir()}
    wipe(project)
    proc = lode("pull", cwd=project)
    assert_quiet(proc)
    assert {p.name: p.read_text() for p in (project / "data").iterdir()} == wanted
    # the configured origin had the header; the other never did, nor the cookie
    assert all(h.get("X-Token") == SECRET for _, _, h in first.log)
    assert_no_credential(other)
    assert {m for m, _, _ in other.log} <= {"GET", "HEAD"}


@pytest.mark.parametrize("auth", ["basic", "userinfo"])
def test_pull_sends_no_authorization_to_another_origin(lode, project, other, redirector,
                                                       auth):
    first = redirector(307)
    url = first.url + "/store"
    if auth == "userinfo":
        url = url.replace("://", f"://alice:{PASSWORD}@")
    configure(lode, project, url, auth)
    publish(project, other.root / "store")
    wipe(project)
    proc = lode("pull", cwd=project)
    assert_quiet(proc)
    assert len(list((project / "data").iterdir())) == 6
    # requests made at the origin carry the user-info as basic auth, not in the URL
    assert all(h.get("Authorization", "").startswith("Basic ") for _, _, h in first.log)
    assert all("@" not in path for _, path, _ in first.log)
    assert_no_credential(other)


@pytest.mark.parametrize("status", [302, 307, 308])
def test_push_to_a_redirecting_server_stores_nothing_elsewhere(lode, project, other,
                                                               redirector, status):
    first = redirector(status)
    configure(lode, project, first.url + "/store", "custom")
    proc = lode("push", cwd=project, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "redirected an upload" in proc.stderr
    assert_quiet(proc)
    assert_no_credential(other)  # it was asked whether objects exist (HEAD), bare
    assert {m for m, _, _ in other.log} == {"HEAD"}
    assert not (other.root / "store").exists()


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    where = tmp_path_factory.mktemp("tls")
    crt, key = str(where / "c.pem"), str(where / "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=60)
    return crt, key


def test_an_https_remote_redirecting_to_plain_http_is_refused(lode, project, other,
                                                              redirector, cert):
    first = redirector(302, tls=cert)
    configure(lode, project, first.url + "/store", "custom")
    lode("remote", "modify", "web", "ssl_verify", "false", cwd=project)
    publish(project, other.root / "store")
    wipe(project)
    proc = lode("pull", cwd=project, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"redirected from https to plain {other.url}" in proc.stderr
    assert_quiet(proc)
    assert other.log == []  # not one request went to it
    assert first.log and all(h.get("X-Token") == SECRET for _, _, h in first.log)


def test_a_verbose_failure_prints_no_credential(lode, project, redirector, other):
    first = redirector(302)
    url = first.url.replace("://", f"://alice:{PASSWORD}@") + "/store"
    configure(lode, project, url, "custom")
    other.stop()  # the redirect leads nowhere now
    wipe(project)
    proc = lode("-v", "pull", cwd=project, check=False)
    assert proc.returncode != 0
    assert_quiet(proc)


EVENT = {"recipe": "retrain", "outcome": "succeeded", "project": "p", "host": "h",
         "duration": 1.0, "metrics": [{"path": "m.json", "name": "auc", "old": 0.1,
                                       "new": 0.2}]}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("notifier", ["slack", "webhook"])
def test_a_notification_is_never_sent_on_after_a_redirect(monkeypatch, other, redirector,
                                                          notifier, status):
    first = redirector(status)
    url = first.url.replace("://", f"://hook:{PASSWORD}@") + HOOK_PATH
    var = {"slack": "LODE_SLACK_WEBHOOK_URL", "webhook": "LODE_WEBHOOK_URL"}[notifier]
    monkeypatch.setenv(var, url)
    problems = notify(None, EVENT, via=[notifier])
    assert len(problems) == 1 and "a redirect, which lode does not follow" in problems[0]
    assert not any(s in problems[0] for s in (PASSWORD, HOOK_PATH, "XXXXSECRETPATH"))
    assert len(first.log) == 1 and first.log[0][2]["Authorization"].startswith("Basic ")
    assert other.log == []  # neither the payload nor the credential went on


def test_config_list_and_remote_list_mask_secrets(lode, git_repo, monkeypatch, capsys):
    lode("init", cwd=git_repo)
    lode("remote", "add", "-d", "web", f"https://alice:{PASSWORD}@example.com/store",
         cwd=git_repo)
    lode("remote", "modify", "--local", "web", "auth", "custom", cwd=git_repo)
    lode("remote", "modify", "--local", "web", "custom_auth_header", "X-Token", cwd=git_repo)
    lode("remote", "modify", "--local", "web", "password", SECRET, cwd=git_repo)
    lode("remote", "add", "s3r", "s3://bucket/store", cwd=git_repo)
    lode("remote", "modify", "--local", "s3r", "secret_access_key", SECRET + "K",
         cwd=git_repo)
    lode("remote", "modify", "--local", "s3r", "session_token", SECRET + "T", cwd=git_repo)
    lode("config", "--local", "notifier.slack.url", "https://hooks.slack.com" + HOOK_PATH,
         cwd=git_repo)
    lode("config", "--local", "notifier.webhook.timeout", "5", cwd=git_repo)

    listed = lode("config", "-l", cwd=git_repo).stdout
    assert_quiet(subprocess.CompletedProcess([], 0, listed, ""))
    assert SECRET not in listed
    lines = dict(line.split("=", 1) for line in listed.splitlines())
    assert lines["remote.web.url"] == "https://alice:***@example.com/store"
    for key in ("remote.web.password", "remote.s3r.secret_access_key",
                "remote.s3r.session_token", "notifier.slack.url"):
        assert lines[key] == "***", key
    assert lines["notifier.webhook.timeout"] == "5"  # not a secret: shown
    assert lines["remote.s3r.url"] == "s3://bucket/store"

    remotes = lode("remote", "list", cwd=git_repo).stdout
    assert remotes == "web\thttps://alice:***@example.com/store\ns3r\ts3://bucket/store\n"
    # one option asked by name is printed, as git and DVC print it
    assert lode("config", "remote.web.password", cwd=git_repo).stdout == SECRET + "\n"

    # --show-secrets reveals them (the handler, as the CLI calls it)
    from lode.cli.config import run_config

    monkeypatch.chdir(git_repo)
    run_config(argparse.Namespace(list=True, show_secrets=True, quiet=False, verbose=0,
                                  name=None, value=None, local=False, unset=False))
    shown = capsys.readouterr().out
    assert f"remote.web.password={SECRET}" in shown
    assert f"notifier.slack.url=https://hooks.slack.com{HOOK_PATH}" in shown


def test_a_failed_config_command_prints_no_secret(lode, git_repo):
    lode("init", cwd=git_repo)
    lode("remote", "add", "-d", "web", "https://example.com/store", cwd=git_repo)
    # a secret refused for the tracked file is not echoed back
    proc = lode("remote", "modify", "web", "password", SECRET, cwd=git_repo, check=False)
    assert_one_error(proc)
    assert_quiet(proc)


def test_a_commit_moving_the_remote_elsewhere_gets_no_local_credential(lode, git, project,
                                                                       other, tmp_path):
    """The credentials live in .dvc/config.local under the remote's name; the URL in the
    tracked .dvc/config, which a teammate's commit can change. lode remembers the origin
    the credentials were used with and refuses to hand them to another one."""
    home = Origin(tmp_path / "home")
    try:
        configure(lode, project, home.url + "/store", "custom")
        publish(project, home.root / "store")
        publish(project, other.root / "store")
        wipe(project)
        lode("pull", cwd=project)  # first use: the credentials belong with `home`
        assert all(h.get("X-Token") == SECRET for _, _, h in home.log)
        config = project / ".dvc" / "config"
        config.write_text(config.read_text().replace(home.url, other.url))  # the commit
        wipe(project)
        proc = lode("pull", cwd=project, check=False)
        line = assert_one_error(proc)
        assert "remote 'web' now points at" in line and other.url.split("//")[1] in line, line
        assert_quiet(proc)
        assert other.log == []  # not even asked
        lode("remote", "modify", "--local", "web", "url", other.url + "/store", cwd=project)
        lode("pull", cwd=project)  # the user's own confirmation moves the credentials
        assert all(h.get("X-Token") == SECRET for _, _, h in other.log)
    finally:
        home.stop()
