"""An HTTP(S) remote in DVC 3's layout (`<url>/files/md5/xx/yyyy`), as dvc-http reads it.

Decisions, and why:
- requests is imported inside methods: CLI start-up is measured and most commands never
  open a remote.
- One `requests.Session` per thread (threading.local), not one shared: requests does not
  promise that a Session is thread-safe (its cookie jar and adapters are shared mutable
  state), and the transfer engine calls us from its worker threads. Each session keeps its
  own small keep-alive pool; every session made is remembered so `close()` ends them all.
- `exists_many` HEADs each key on a pool owned by the remote (`jobs` threads, kept for the
  remote's life so their sessions and connections are reused): HTTP has no batch query,
  and the engine asks for a whole push in one call, so doing it sequentially would cost
  one round trip per object. The batch is all-or-nothing, so a 5xx on one key is retried
  here, per key, a few times; connection failures are not (a dead server would only be
  waited for again), and the first hard failure cancels the rest of the batch.
- Uploads and downloads are not retried here: the engine retries TransientError.
- Uploads never follow redirects: a 301/302 turns requests' POST into a GET that "succeeds"
  without storing anything, and a 307/308 would need the file sent again to a place the
  user never configured.
- Credentials stay with their origin (scheme, host, port of the remote's url). Redirects
  are followed here, hop by hop (`allow_redirects=False` and a small loop, not requests'
  own following: requests drops only `Authorization` on a cross-host hop, keeps a custom
  header and the session's cookies, re-sends digest answers to whoever asks, and keeps
  `Authorization` on an http->https hop of the same host). A hop to the same origin is
  made with the credentials; a hop to another origin (a CDN, a presigned object store) is
  followed by a second, bare session: no auth, no custom header, no cookie. A hop from
  https to plain http is refused outright, credentials or not: it would expose the data
  and let anyone on the path answer for the server.
- DVC refuses run-cache on HTTP remotes and HTTP cannot list or delete, so the
  capabilities say so, and `list`/`delete` raise RemoteError (parsing a server's HTML
  index page would be a guess, not a listing).
- Secrets: `password` only. With `auth = custom` the header's *value* is `password`, as in
  DVC; `custom_auth_header` is just the header's name. A url's user-info
  (`https://user:pass@host`) is taken out of the url and used as basic auth (unless
  another auth is configured), so it is never part of a URL that is requested, logged or
  followed. Error messages show the URL without its user-info and never quote a request
  or an exception that could carry credentials.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from lode.plugins.remote import (
    FILES_PREFIX,
    Capabilities,
    Option,
    Remote,
    RemoteError,
    RemoteMissing,
    TransientError,
)
from lode.retry import Backoff
from lode.store.hashing import SMALL

CHUNK = 1 << 20
DEFAULT_TIMEOUT = 60.0  # dvc-http's REQUEST_TIMEOUT, for both connect and read
# a HEAD that met a busy server (5xx, 408, 429) is asked again after 0.05 s, then 0.1 s
HEAD_RETRY = Backoff(attempts=3, first=0.05)
MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


class HTTPRemote(Remote):
    schemes = ("http", "https")
    options = (
        Option("auth", "basic, digest or custom"),
        Option("user", "the user name of basic or digest auth"),
        Option("password", "the password, or with auth = custom the header's value",
               secret=True),
        Option("ask_password", "DVC's: prompt for the password (lode does not prompt)"),
        Option("custom_auth_header", "the header's name with auth = custom"),
        Option("ssl_verify", "true, false, or a CA bundle's path"),
        Option("read_timeout", f"seconds (default {DEFAULT_TIMEOUT:g})"),
        Option("connect_timeout", f"seconds (default {DEFAULT_TIMEOUT:g})"),
        Option("method", "the upload method: POST (the default) or PUT"),
    )
    capabilities = Capabilities(jobs=16, upload=True, delete=False, run_cache=False)

    def __init__(self, name: str, url: str, config: dict[str, str]) -> None:
        super().__init__(name, url, config)
        parts = urlsplit(url)
        if parts.scheme.lower() not in self.schemes or not parts.hostname:
            raise RemoteError(f"remote '{name}' has no usable http(s) URL.",
                              "Expected http(s)://host/path.")
        # Requested and shown: the URL without any user:password@ it may carry.
        self.where = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
        self.base = self.where.rstrip("/")
        self.origin = origin(self.where)
        if self.origin is None:
            raise RemoteError(f"remote '{name}' has no usable http(s) URL ({self.where}).",
                              "Expected http(s)://host[:port]/path.")
        self._userinfo = (unquote(parts.username or ""), unquote(parts.password or "")) \
            if "@" in parts.netloc else None
        self.method = str(config.get("method") or "POST").upper()  # DVC's default
        if self.method not in ("POST", "PUT"):
            raise RemoteError(f"remote '{name}': upload method '{self.method}' is not "
                              "supported.", "Set 'method' to POST or PUT.")
        self.timeout = (self._seconds("connect_timeout"), self._seconds("read_timeout"))
        self.verify = self._ssl_verify()
        self.auth, self.headers = self._credentials()
        self.jobs = self.configured_jobs(self.capabilities.jobs)
        # the remote's `jobs` also sets how many transfers run at once, as in DVC
        self.capabilities = Capabilities(jobs=self.jobs, upload=True, delete=False,
                                         run_cache=False)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list = []
        self._pool = None

    # ---- configuration

    def _seconds(self, key: str) -> float:
        raw = self.config.get(key)
        try:
            value = DEFAULT_TIMEOUT if raw in (None, "") else float(raw)
        except (TypeError, ValueError):
            value = -1.0
        if value <= 0:
            raise RemoteError(f"remote '{self.name}': '{key}' must be a positive number of "
                              f"seconds, not '{raw}'.")
        return value

    def _ssl_verify(self) -> bool | str:
        raw = self.config.get("ssl_verify", True)
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in _TRUE | _FALSE:
            return str(raw).lower() in _TRUE
        # a CA bundle; DVC resolves a relative path against the config's directory
        base = self.config.get("_config_dir", os.getcwd())
        return os.path.join(base, os.path.expanduser(str(raw)))

    def _credentials(self) -> tuple[object, dict[str, str]]:
        method = (self.config.get("auth") or "").lower()
        if not method:
            # as requests and DVC would: user-info in the url is basic auth
            return (("basic", *self._userinfo) if self._userinfo else None), {}
        user, password = self.config.get("user"), self.config.get("password")
        header = self.config.get("custom_auth_header")
        fix = (f"Set it with 'lode remote modify --local {self.name} password ...' "
               "(lode does not prompt for passwords).")
        if method in ("basic", "digest"):
            if not user or password is None:
                missing = "user" if not user else "password"
                raise RemoteError(f"remote '{self.name}': HTTP '{method}' authentication "
                                  f"needs both 'user' and 'password'; '{missing}' is not set.",
                                  fix if missing == "password" else None)
            return (method, user, password), {}
        if method == "custom":
            if not header or password is None:
                missing = "custom_auth_header" if not header else "password"
                raise RemoteError(f"remote '{self.name}': HTTP 'custom' authentication needs "
                                  f"'custom_auth_header' (the header's name) and 'password' "
                                  f"(its value); '{missing}' is not set.",
                                  fix if missing == "password" else None)
            basic = ("basic", *self._userinfo) if self._userinfo else None
            return basic, {header: password}
        raise RemoteError(f"remote '{self.name}': unknown HTTP auth '{method}'.",
                          "Use basic, digest or custom.")

    # ---- plumbing

    def _session(self):
        """This thread's session for the remote's own origin: it carries the credentials."""
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._new_session()
            session.headers.update(self.headers)
            if self.auth is not None:
                kind, user, password = self.auth  # type: ignore[misc]
                auth_cls = (requests.auth.HTTPBasicAuth if kind == "basic"
                            else requests.auth.HTTPDigestAuth)
                session.auth = auth_cls(user, password)
            self._local.session = session
        return session

    def _bare(self):
        """This thread's session for other origins a redirect leads to: no auth, no
        custom header, and a cookie jar that keeps and sends nothing."""
        session = getattr(self._local, "bare", None)
        if session is None:
            session = self._new_session()
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            self._local.bare = session
        return session

    def _new_session(self):
        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        # one thread uses one connection at a time; a second covers a redirect hop
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=2)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = self.verify
        with self._lock:
            self._sessions.append(session)
        return session

    def _fetch(self, method: str, key: str, stream: bool):
        """A GET or HEAD of `key`, following redirects hop by hop: the credentials go only
        to the remote's own origin (see the module's docstring)."""
        url, session = self._url(key), self._session()
        for _ in range(MAX_REDIRECTS + 1):
            r = session.request(method, url, timeout=self.timeout, stream=stream,
                                allow_redirects=False)
            location = r.headers.get("Location")
            if r.status_code not in REDIRECTS or not location:
                return r
            r.close()
            url = urljoin(url, location)
            session = self._session_for(url)
        raise RemoteError(f"remote '{self.name}' ({self.where}) redirected more than "
                          f"{MAX_REDIRECTS} times for '{key}'.")

    def _session_for(self, url: str):
        target = origin(url)
        if target == self.origin:
            return self._session()
        if target is None:
            raise RemoteError(f"remote '{self.name}' ({self.where}) redirected to an address "
                              "that is not http(s); lode does not follow it.")
        if self.origin[0] == "https" and target[0] == "http":
            raise RemoteError(f"remote '{self.name}' ({self.where}) redirected from https to "
                              f"plain {show_origin(target)}; lode does not follow a redirect "
                              "that drops TLS.", "Ask the server's owner to keep its "
                              "redirects on https.")
        return self._bare()

    def _url(self, key: str) -> str:
        return f"{self.base}/{quote(key, safe='/')}"

    @contextmanager
    def _network(self, doing: str) -> Iterator[None]:
        """Turn requests' exceptions into ours, with a reason that carries no URL."""
        import requests.exceptions as rex

        try:
            yield
        except rex.SSLError:
            raise RemoteError(f"TLS failed with remote '{self.name}' ({self.where}) while "
                              f"{doing}.", "Set 'ssl_verify' to a CA bundle path, or to "
                              "false for a server you trust.") from None
        except (rex.ConnectionError, rex.Timeout, rex.ChunkedEncodingError) as e:
            raise TransientError(f"cannot reach remote '{self.name}' ({self.where}) while "
                                 f"{doing}: {_why(e)}.") from None
        except rex.RequestException as e:
            raise RemoteError(f"remote '{self.name}' ({self.where}) failed while {doing}: "
                              f"{type(e).__name__}.") from None

    def _check(self, r, key: str, doing: str) -> None:
        s = r.status_code
        if s < 300:
            return
        if s in (404, 410):
            raise RemoteMissing(f"'{key}' is not on remote '{self.name}'.")
        said = f"remote '{self.name}' ({self.where}) answered HTTP {s} while {doing}"
        if s in (401, 403):
            hint = (f"Check 'user' and 'password': 'lode remote modify --local {self.name} "
                    "password ...'." if self.auth or self.headers else
                    f"The server wants credentials: set 'auth', 'user' and 'password' on "
                    f"remote '{self.name}' (the password with --local).")
            raise RemoteError(f"authentication failed: {said}.", hint)
        if s in (408, 429) or s >= 500:
            raise _Busy(f"{said}.")
        raise RemoteError(f"{said}.")

    # ---- the interface

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        if len(keys) <= 4:
            return {k for k in keys if self._exists(k)}
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="lode-http")
        futures = [self._pool.submit(self._exists, k) for k in keys]
        try:
            return {k for k, f in zip(keys, futures, strict=True) if f.result()}
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def _exists(self, key: str) -> bool:
        # only a server that answered 5xx is worth asking again; a dead one stays dead
        return HEAD_RETRY.call(self._head, key, retry_on=(_Busy,))

    def _head(self, key: str) -> bool:
        doing = f"checking '{key}'"
        with self._network(doing):
            with self._fetch("HEAD", key, stream=False) as r:
                if r.status_code not in (405, 501):
                    return self._present(r, key, doing)
            # a server without HEAD: start a GET and drop it after the status line
            with self._fetch("GET", key, stream=True) as r:
                return self._present(r, key, doing)

    def _present(self, r, key: str, doing: str) -> bool:
        try:
            self._check(r, key, doing)
        except RemoteMissing:
            return False
        return True

    def upload(self, local_path: str, key: str) -> None:
        doing = f"uploading '{key}'"
        with open(local_path, "rb") as f, self._network(doing):
            # an empty file as bytes, else requests would send it chunked, which simple
            # servers refuse
            body = f if os.fstat(f.fileno()).st_size else b""
            with self._session().request(self.method, self._url(key), data=body,
                                         timeout=self.timeout, allow_redirects=False) as r:
                s = r.status_code
                if s in (405, 501):
                    raise RemoteError(f"remote '{self.name}' ({self.where}): this HTTP "
                                      f"remote is read-only (the server refuses "
                                      f"{self.method}).", "Push to a remote that accepts "
                                      "uploads, or set 'method' to the one this server takes.")
                if 300 <= s < 400:
                    raise RemoteError(f"remote '{self.name}' ({self.where}) redirected an "
                                      f"upload (HTTP {s}).", "Set the remote's url to the "
                                      "address the server redirects to.")
                if s == 404:
                    raise RemoteError(f"remote '{self.name}' ({self.where}) has no place for "
                                      f"'{key}' (HTTP 404).", "Check the remote's url.")
                self._check(r, key, doing)

    def download(self, key: str, local_path: str) -> None:
        doing = f"downloading '{key}'"
        try:
            with self._network(doing):
                with self._fetch("GET", key, stream=True) as r:
                    self._check(r, key, doing)
                    with open(local_path, "wb") as f:
                        for chunk in r.iter_content(CHUNK):
                            f.write(chunk)
        except BaseException:
            try:  # never leave half an object for a caller to mistake for a whole one
                os.unlink(local_path)
            except OSError:
                pass
            raise

    def read_small(self, key: str) -> bytes | None:
        doing = f"downloading '{key}'"
        with self._network(doing):
            with self._fetch("GET", key, stream=True) as r:
                self._check(r, key, doing)
                size = r.headers.get("Content-Length", "")
                if not size.isdigit() or int(size) >= SMALL:
                    return None  # unknown or large: download() streams it to a file
                return r.content

    def list(self, prefix: str = FILES_PREFIX) -> Iterator[str]:
        raise RemoteError(f"remote '{self.name}' is an HTTP remote, and HTTP cannot list "
                          "what a server holds.", "Commands that need a listing (such as "
                          "gc --cloud) do not work on HTTP remotes.")

    def delete(self, key: str) -> None:
        raise RemoteError(f"remote '{self.name}' is an HTTP remote, which cannot delete "
                          "objects.", "Clean it up on the server itself.")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            sessions, self._sessions = self._sessions, []
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for session in sessions:
            session.close()


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, the port made explicit; None for any other
    URL, or one whose port cannot be read."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def show_origin(target: tuple[str, str, int]) -> str:
    scheme, host, port = target
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


class _Busy(TransientError):
    """The server answered, with a 5xx, 408 or 429: it may well answer the next time."""


_PHRASES = ("timed out", "refused", "reset", "closed connection", "aborted", "broken",
            "name or service not known", "no route to host", "unreachable")


def _why(e: Exception) -> str:
    """A short reason for a network failure, without the URL requests puts in its text."""
    import requests.exceptions as rex

    if isinstance(e, rex.ConnectTimeout):
        return "connecting timed out (connect_timeout)"
    if isinstance(e, rex.ReadTimeout):
        return "no answer in time (read_timeout)"
    text = str(e)
    m = re.search(r"\[Errno -?\d+\] ([A-Za-z ,'-]+)", text)
    if m:
        return m.group(1).strip().lower()
    low = text.lower()
    found = next((p for p in _PHRASES if p in low), None)
    if found == "timed out":
        return "timed out (read_timeout)"
    return f"connection {found}" if found else type(e).__name__
