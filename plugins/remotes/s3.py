"""An S3 (or S3-compatible: MinIO, Ceph, R2 ...) remote, with dvc-s3's option names.

`s3://bucket/prefix` holds objects at `prefix/files/md5/xx/yyyy`, as DVC 3 lays them out,
so `dvc pull` reads what lode pushed. boto3 is imported on first use: start-up is measured.
One client serves every thread (botocore clients are thread-safe, sessions are not).
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from lode.plugins.remote import (
    FILES_PREFIX,
    Capabilities,
    Option,
    Remote,
    RemoteError,
    RemoteMissing,
    TransientError,
)
from lode.store.hashing import SMALL

MiB = 1024 * 1024
LARGE = 8 * MiB  # from here on: multipart upload, ranged parallel download
CHUNK = 16 * MiB
LARGE_CONCURRENCY = 8  # requests in flight for large files, all of them together
PAGE = 1000  # S3's largest listing page
HEAD_MAX = 100  # up to this many keys one HEAD each beats reading a listing page
LIST_RATIO = 20  # list when asking about more than 1/20 of the objects still unlisted

_MISSING = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                    "ExpiredToken", "TokenRefreshRequired", "InvalidClientTokenId"}
_TRANSIENT = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
              "InternalError", "ServiceUnavailable"}
_UPLOAD_ARGS = {"sse": "ServerSideEncryption", "sse_kms_key_id": "SSEKMSKeyId", "acl": "ACL",
                "grant_read": "GrantRead", "grant_read_acp": "GrantReadACP",
                "grant_write_acp": "GrantWriteACP", "grant_full_control": "GrantFullControl"}
_CREDENTIALS_HINT = ("Check access_key_id / secret_access_key (in .dvc/config.local), "
                     "profile, or the AWS_* environment variables.")


def _flag(value: str | None, default: bool) -> bool:
    return default if not value else value.strip().lower() in ("true", "1", "yes", "on")


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _position(key: str) -> float | None:
    """Where `files/md5/ab/cd...` sits in the md5 key space, 0..1 (None: not an md5)."""
    digits = key[len(FILES_PREFIX):].replace("/", "")[:8].ljust(8, "0")
    try:
        return int(digits, 16) / 16**8
    except ValueError:
        return None


def _boundary(pos: float) -> str:
    h = f"{min(int(pos * 16**4), 16**4 - 1):04x}"
    return f"{FILES_PREFIX}{h[:2]}/{h[2:]}"


class S3Remote(Remote):
    schemes = ("s3",)
    options = (
        Option("endpointurl", "an S3-compatible store's endpoint"),
        Option("region", "the bucket's region"),
        Option("profile", "a profile of the AWS config files"),
        Option("credentialpath", "the AWS credentials file"),
        Option("configpath", "the AWS config file"),
        Option("access_key_id", "the access key's id", secret=True),
        Option("secret_access_key", "the access key's secret", secret=True),
        Option("session_token", "a temporary session's token", secret=True),
        Option("use_ssl", "https to the endpoint (default true)"),
        Option("ssl_verify", "verify the endpoint's certificate, or a CA bundle's path"),
        Option("allow_anonymous_login", "unsigned requests when no credentials are found"),
        Option("read_timeout", "seconds"),
        Option("connect_timeout", "seconds"),
        Option("sse", "server-side encryption: AES256 or aws:kms"),
        Option("sse_kms_key_id", "the KMS key of sse = aws:kms"),
        Option("sse_customer_algorithm", "SSE-C's algorithm (default AES256)"),
        Option("sse_customer_key", "SSE-C's key, base64"),
        Option("acl", "a canned ACL for uploads"),
        Option("grant_read", "uploads' grant"),
        Option("grant_read_acp", "uploads' grant"),
        Option("grant_write_acp", "uploads' grant"),
        Option("grant_full_control", "uploads' grant"),
        Option("listobjects", "DVC's: list with ListObjects v1"),
        Option("cache_regions", "DVC's: cache bucket regions"),
        Option("checksum_jobs", "DVC's: hashing jobs"),
        Option("no_traverse", "DVC's: no listing for existence"),
    )
    capabilities = Capabilities(jobs=16)

    def __init__(self, name: str, url: str, config: dict[str, str]) -> None:
        super().__init__(name, url, config)
        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not url.lower().startswith("s3://") or not bucket:
            raise RemoteError(f"remote '{name}': '{url}' is not an s3://BUCKET/PATH URL.")
        self.bucket = bucket
        self.root = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.jobs = max(1, _int(config.get("jobs"), type(self).capabilities.jobs))
        # the remote's `jobs`, as in DVC; spread over one process per core (lode.parallel)
        self.capabilities = Capabilities(jobs=self.jobs, processes=True)
        self._where = f"remote '{name}' (s3://{bucket}/{self.root})"
        self._put_args = {arg: config[opt] for opt, arg in _UPLOAD_ARGS.items() if config.get(opt)}
        self._sse_c: dict[str, Any] = {}
        if config.get("sse_customer_key"):
            self._sse_c = {"SSECustomerKey": base64.b64decode(config["sse_customer_key"]),
                           "SSECustomerAlgorithm": config.get("sse_customer_algorithm")
                           or "AES256"}
        self._put_args.update(self._sse_c)
        # Values that must never reach a message, whatever botocore puts into one.
        self._secret_values = [v for k, v in config.items()
                               if v and (k in self.secrets or k == "sse_customer_key")]
        self._lock = threading.Lock()
        self._client: Any = None
        self._pid = 0
        self._transfers: Any = None

    # -- the client ------------------------------------------------------------------

    @property
    def _s3(self) -> Any:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                # a forked transfer worker (lode.parallel) must not share its parent's
                # pooled connections: it makes its own client
                with self._mapped("connect"):
                    self._client, self._pid = self._make_client(), os.getpid()
                    self._transfers = None
            return self._client

    def _make_client(self) -> Any:
        import boto3.session
        import botocore.session
        from botocore import UNSIGNED
        from botocore.config import Config

        c = self.config
        core = botocore.session.Session()
        for option, variable in (("credentialpath", "credentials_file"),
                                 ("configpath", "config_file")):
            if c.get(option):  # DVC reads these relative to the config file's directory
                core.set_config_variable(variable, os.path.join(
                    c.get("_config_dir", ""), os.path.expanduser(c[option])))
        session = boto3.session.Session(
            botocore_session=core, profile_name=c.get("profile") or None,
            aws_access_key_id=c.get("access_key_id") or None,
            aws_secret_access_key=c.get("secret_access_key") or None,
            aws_session_token=c.get("session_token") or None)
        settings: dict[str, Any] = dict(
            # a connection for every thread that may be in a request at once (the caller's
            # -j, up to 64, or exists_many's pool; large-file parts), so none waits and
            # urllib3 never discards one with a logged warning
            max_pool_connections=max(self.jobs, 64) + LARGE_CONCURRENCY,
            retries={"mode": "standard", "total_max_attempts": 3},
            connect_timeout=_int(c.get("connect_timeout"), 10),
            read_timeout=_int(c.get("read_timeout"), 60))
        if _flag(c.get("allow_anonymous_login"), False):
            settings["signature_version"] = UNSIGNED
        if c.get("endpointurl"):
            # boto3 >= 1.36 sends CRC checksums that many S3-compatible stores reject.
            settings.update(request_checksum_calculation="when_required",
                            response_checksum_validation="when_required")
        try:
            config = Config(**settings)
        except TypeError:  # a botocore older than those two settings
            settings.pop("request_checksum_calculation", None)
            settings.pop("response_checksum_validation", None)
            config = Config(**settings)
        verify = c.get("ssl_verify")
        if verify is not None and verify.strip().lower() in ("true", "false", "1", "0", ""):
            verify = _flag(verify, True)  # otherwise: a CA bundle path
        return session.client(
            "s3", endpoint_url=c.get("endpointurl") or None, region_name=c.get("region") or None,
            use_ssl=_flag(c.get("use_ssl"), True), verify=verify, config=config)

    def _manager(self) -> Any:
        """One transfer manager for every large file, so their parts share one limit."""
        client = self._s3
        with self._lock:
            if self._transfers is None:
                from s3transfer.manager import TransferConfig, TransferManager

                self._transfers = TransferManager(client, TransferConfig(
                    multipart_threshold=LARGE, multipart_chunksize=CHUNK,
                    max_request_concurrency=LARGE_CONCURRENCY))
            return self._transfers

    # -- errors ------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        for secret in self._secret_values:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _mapped(self, doing: str, key: str | None = None) -> Iterator[None]:
        """botocore's exceptions -> RemoteMissing / TransientError / RemoteError."""
        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import RetriesExceededError  # a large download's stream

        try:
            yield
        except ClientError as e:
            raise self._client_error(e, doing, key) from None
        except BotoCoreError as e:
            raise self._core_error(e, doing) from None
        except RetriesExceededError as e:
            raise TransientError(f"{doing} on {self._where} kept failing: "
                                 f"{self._clean(str(e))}.") from None

    def _client_error(self, e: Any, doing: str, key: str | None) -> RemoteError:
        err, meta = e.response.get("Error", {}), e.response.get("ResponseMetadata", {})
        code, status = str(err.get("Code", "")), int(meta.get("HTTPStatusCode") or 0)
        detail = self._clean(f"{code}: {err.get('Message', '')}".strip(": "))
        if code == "NoSuchBucket":
            return RemoteError(f"bucket '{self.bucket}' of {self._where} does not exist.",
                               "Create it, or fix the remote's URL or endpointurl.")
        if code in _MISSING and key is not None:
            return RemoteMissing(f"'{key}' is not on {self._where}.")
        if code in _BAD_CREDENTIALS:
            return RemoteError(f"{self._where} refused the credentials ({code}).",
                               _CREDENTIALS_HINT)
        if code in _DENIED:
            return RemoteError(f"access denied to {self._where} during {doing} ({code}).",
                               "The credentials in use may not do this there. "
                               + _CREDENTIALS_HINT)
        if code in _TRANSIENT or status >= 500:
            return TransientError(f"{self._where} is unavailable during {doing} ({detail}).")
        return RemoteError(f"{doing} on {self._where} failed ({detail}).")

    def _core_error(self, e: Any, doing: str) -> RemoteError:
        from botocore import exceptions as x

        if isinstance(e, x.SSLError):
            return RemoteError(f"TLS to {self._where} failed: {self._clean(str(e))}.",
                               "Check ssl_verify (true, false or a CA bundle path).")
        transient = (x.ConnectionError, x.HTTPClientError, x.IncompleteReadError,
                     getattr(x, "ResponseStreamingError", x.HTTPClientError))
        if isinstance(e, transient):
            return TransientError(f"cannot reach {self._where} during {doing}: "
                                  f"{self._clean(str(e))}.")
        credentials = (x.NoCredentialsError, x.PartialCredentialsError, x.ProfileNotFound,
                       x.CredentialRetrievalError)
        if isinstance(e, credentials):
            return RemoteError(f"no usable credentials for {self._where}: "
                               f"{self._clean(str(e))}.", _CREDENTIALS_HINT)
        return RemoteError(f"{doing} on {self._where} failed: {self._clean(str(e))}.")

    # -- the interface -----------------------------------------------------------------

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        want = set(keys)
        listable = {k for k in want if k.startswith(FILES_PREFIX)}
        found, unknown = set(), want - listable  # run-cache keys: one HEAD each
        if len(listable) > HEAD_MAX:
            found, listable = self._by_listing(listable)
        return found | self._head_many(unknown | listable)

    def _head_many(self, keys: set[str]) -> set[str]:
        if not keys:
            return set()

        ordered = sorted(keys)
        with ThreadPoolExecutor(min(self.jobs, len(ordered))) as pool:
            return {k for k, ok in zip(ordered, pool.map(self._head, ordered), strict=True) if ok}

    def _head(self, key: str) -> bool:
        try:
            with self._mapped("an existence check", key):
                self._s3.head_object(Bucket=self.bucket, Key=self.root + key, **self._sse_c)
            return True
        except RemoteMissing:
            return False

    def _by_listing(self, keys: set[str]) -> tuple[set[str], set[str]]:
        """(found, still unknown): the first listing page shows how big the remote is;
        listing the rest beats HEADs unless we ask about a small share of it."""
        names, last = self._list_range(None, None, PAGE, pages=1)
        found = keys & names
        if last is None:
            return found, set()
        rest = {k for k in keys if k > last}
        pos = _position(last)
        if pos is None or pos <= 0:
            return found, rest
        remaining = PAGE * (1 - pos) / pos
        if len(rest) * LIST_RATIO < remaining:
            return found, rest
        # Equal slices of the key space listed in parallel; each asks for about the
        # keys its slice should hold, so the last page reads little beyond its end.
        n = max(1, min(self.jobs, round(remaining / PAGE)))
        cuts = [last] + [_boundary(pos + (1 - pos) * i / n) for i in range(1, n)] + [None]

        with ThreadPoolExecutor(n) as pool:
            parts = pool.map(lambda i: self._list_range(cuts[i], cuts[i + 1], remaining / n)[0],
                             range(n))
            for part in parts:
                found |= rest & part
        return found, set()

    def _list_range(self, after: str | None, stop: str | None, expect: float,
                    pages: int | None = None) -> tuple[set[str], str | None]:
        """Keys in (after, stop), from `pages` pages at most; and the last key read when
        more remain (None when the range was read to its end)."""
        names: set[str] = set()
        args = {"Bucket": self.bucket, "Prefix": self.root + FILES_PREFIX}
        if after is not None:
            args["StartAfter"] = self.root + after
        with self._mapped("a listing"):
            while True:
                size = min(PAGE, max(100, int((expect - len(names)) * 1.2) + 50))
                page = self._s3.list_objects_v2(MaxKeys=size, **args)
                for obj in page.get("Contents", ()):
                    rel = obj["Key"][len(self.root):]
                    if stop is not None and rel >= stop:
                        return names, None
                    names.add(rel)
                if not page.get("IsTruncated") or not page.get("Contents"):
                    return names, None
                args["StartAfter"] = page["Contents"][-1]["Key"]
                if pages is not None:
                    pages -= 1
                    if pages == 0:
                        return names, args["StartAfter"][len(self.root):]

    def upload(self, local_path: str, key: str) -> None:
        size = os.path.getsize(local_path)
        with self._mapped("an upload", key):
            if size < LARGE:
                with open(local_path, "rb") as f:
                    self._s3.put_object(Bucket=self.bucket, Key=self.root + key, Body=f,
                                        **self._put_args)
            else:
                self._manager().upload(local_path, self.bucket, self.root + key,
                                       extra_args=self._put_args).result()

    def download(self, key: str, local_path: str) -> None:
        with self._mapped("a download", key):
            resp = self._s3.get_object(Bucket=self.bucket, Key=self.root + key, **self._sse_c)
            body = resp["Body"]
            if resp.get("ContentLength", 0) >= LARGE:
                body.close()  # ranged GETs in parallel move a large object faster
                self._manager().download(self.bucket, self.root + key, local_path,
                                         extra_args=self._sse_c).result()
                return
            with body, open(local_path, "wb") as f:
                for chunk in body.iter_chunks(MiB):
                    f.write(chunk)

    def read_small(self, key: str) -> bytes | None:
        with self._mapped("a download", key):
            resp = self._s3.get_object(Bucket=self.bucket, Key=self.root + key, **self._sse_c)
            with resp["Body"] as body:
                if resp.get("ContentLength", SMALL) >= SMALL:
                    return None  # download() streams it to a file, ranged when large
                return body.read()

    def list(self, prefix: str = FILES_PREFIX) -> Iterator[str]:
        with self._mapped("a listing"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.root + prefix)
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield obj["Key"][len(self.root):]

    def delete(self, key: str) -> None:
        with self._mapped("a delete", key):
            self._s3.delete_object(Bucket=self.bucket, Key=self.root + key)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete in batches of 1,000 (S3's limit per request); absent keys are fine."""
        todo = sorted(set(keys))
        for i in range(0, len(todo), 1000):
            batch = [{"Key": self.root + k} for k in todo[i:i + 1000]]
            with self._mapped("a delete"):
                resp = self._s3.delete_objects(Bucket=self.bucket,
                                               Delete={"Objects": batch, "Quiet": True})
            errors = resp.get("Errors") or []
            if errors:
                first = errors[0]
                raise RemoteError(f"{len(errors)} objects could not be deleted from "
                                  f"{self._where} ({first.get('Code')}: "
                                  f"{self._clean(str(first.get('Message', '')))}).")

    def close(self) -> None:
        with self._lock:
            transfers, client = self._transfers, self._client
            self._transfers = self._client = None
        if transfers is not None:
            transfers.shutdown()
        if client is not None and hasattr(client, "close"):
            client.close()
