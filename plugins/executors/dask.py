"""The Dask executor: each stage one task on a `distributed` cluster, after the tasks of
the stages it reads from (their results are its arguments, so Dask orders them and never
starts a task whose upstream failed).

A task runs `lode stage run` as a subprocess in a directory of its own on the worker: a
clone, never a shared working tree. With no scheduler address a LocalCluster of process
workers is started here, one per core by default, each declaring its share of the cores
as the abstract resource `cpus` (and `gpus` only when given), so a stage's
`meta.resources` reserve them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import CancelledError

from lode.plugins.executor import Ended, Executor, ExecutorError, Job, Option, read_log

RESULT = "{result}"  # where the task puts its result file in the argv
LOG_KEY = "_log"  # the stage's output, beside the result the task returns
TAIL_LINES = 40
CANCEL_GRACE = 5.0  # seconds the tasks get to stop their stages


class StageTaskFailed(Exception):
    """Raised in a task (and re-raised by Dask for every task that waited on it): plain
    string arguments, so it pickles back to the coordinator."""

    def __init__(self, stage: str, error: str, log_tail: str, log: str = "") -> None:
        super().__init__(stage, error, log_tail, log)
        self.stage, self.error, self.log_tail, self.log = stage, error, log_tail, log


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-TAIL_LINES:])


def run_task(request: dict, *upstream: dict) -> dict:
    """On a worker: the protocol in a fresh directory; the result document, or
    StageTaskFailed. Stops the stage's whole process group when the coordinator sets the
    run's cancel event (Dask cannot stop a running task by itself)."""
    from distributed import Event, get_worker

    base = tempfile.mkdtemp(prefix="lode-", dir=get_worker().local_directory)
    result, log = os.path.join(base, "result.json"), os.path.join(base, "log")
    given = [result if a == RESULT else a for a in request["argv"]]
    extra = ["--workdir", os.path.join(base, "clone")]
    for doc in upstream:
        extra += ["--upstream", json.dumps(doc)]
    cut = given.index("--")  # options go before it: the stage's name comes last
    argv = [request["python"], *given[:cut], *extra, *given[cut:]]
    cancel = Event(request["cancel"])
    try:
        if cancel.is_set():  # queued before the run was cancelled: never start
            raise StageTaskFailed(request["stage"], "cancelled", "")
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, cwd=base, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        checked = time.monotonic()
        while proc.poll() is None:
            time.sleep(0.1)
            if time.monotonic() - checked > 0.5:
                checked = time.monotonic()
                if cancel.is_set():
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait()
                    raise StageTaskFailed(request["stage"], "cancelled", "")
        text = read_log(log)
        try:
            with open(result, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            raise StageTaskFailed(request["stage"], f"'lode stage run' exited with "
                                  f"{proc.returncode} without a result.", _tail(text),
                                  text) from None
        if doc.get("status") not in ("ran", "restored"):
            raise StageTaskFailed(request["stage"], doc.get("error") or doc.get("status"),
                                  doc.get("log_tail") or _tail(text), text)
        return {**doc, LOG_KEY: text}
    finally:
        shutil.rmtree(base, ignore_errors=True)


class DaskExecutor(Executor):
    name = "dask"
    options = (
        Option("address", "the scheduler, e.g. tcp://host:8786 (default: a local cluster here)"),
        Option("workers", "local cluster: how many worker processes (default: the cores)"),
        Option("python", "the interpreter that runs lode on the workers (default: this one)"),
    )

    def __init__(self, settings: dict[str, str], workdir: str) -> None:
        super().__init__(settings, workdir)
        # a local cluster's workers see this machine; a remote one's do not
        self.shares_filesystem = "address" not in settings
        self.client = self.cluster = None
        self.futures: dict = {}
        self.stages: dict[str, str] = {}
        self.event = f"lode-cancel-{uuid.uuid4().hex}"
        if "workers" in settings and not settings["workers"].isdigit():
            raise ExecutorError("executor option 'workers' must be a number.")

    def start(self) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError("executor 'dask' needs the 'distributed' package.",
                                "Install it: pip install 'lode[dask]'.") from None
        address = self.settings.get("address")
        if address:
            try:
                self.client = Client(address, timeout=10)
            except (OSError, TimeoutError) as e:
                raise ExecutorError(f"cannot reach the Dask scheduler at {address}: "
                                    f"{e}.") from None
            return
        n = int(self.settings.get("workers") or os.cpu_count() or 1)
        self.cluster = LocalCluster(
            n_workers=n, processes=True, threads_per_worker=1,
            resources={"cpus": max(1, (os.cpu_count() or 1) // n)},
            dashboard_address=None, silence_logs=logging.CRITICAL,
            local_directory=os.path.join(self.workdir, "dask"))
        self.client = Client(self.cluster)

    def _requests(self, job: Job) -> dict[str, float]:
        """The job's resources that the workers declare (a resource no worker knows
        cannot be reserved, only ignored)."""
        declared = self._worker_resources()
        want = {k: job.resources[k] for k in ("cpus", "gpus") if job.resources.get(k)}
        return {k: v for k, v in want.items() if any(k in d for d in declared)}

    def _worker_resources(self) -> list[dict]:
        workers = self.client.scheduler_info().get("workers", {})
        return [w.get("resources") or {} for w in workers.values()]

    def check_resources(self, job: Job) -> None:
        declared = self._worker_resources()
        for key, value in self._requests(job).items():
            most = max((d.get(key, 0) for d in declared), default=0)
            if most < value:
                raise ExecutorError(f"stage '{job.stage}' asks for {key}={value:g}, and no "
                                    f"Dask worker has that much (the most is {most:g}).")

    def submit(self, job: Job) -> str:
        request = {"stage": job.stage, "argv": job.argv(RESULT), "cancel": self.event,
                   "python": self.settings.get("python") or sys.executable}
        key = f"lode-{job.name}-{uuid.uuid4().hex[:8]}"
        deps = [self.futures[i] for i in job.upstream]
        self.futures[key] = self.client.submit(run_task, request, *deps, key=key, pure=False,
                                               resources=self._requests(job) or None)
        self.stages[key] = job.stage
        return key

    def check(self, ids: list[str], timeout: float) -> list[Ended]:
        from distributed import wait

        futures = [self.futures[i] for i in ids]
        if not any(f.done() for f in futures):
            try:
                wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
            except TimeoutError:
                return []
            except CancelledError:  # one was cancelled meanwhile: it has ended
                pass
        ended = []
        for key, fut in zip(ids, futures, strict=True):
            if not fut.done():
                continue
            if fut.status == "finished":
                doc = dict(fut.result())
                ended.append(Ended(key, result=doc, log=doc.pop(LOG_KEY, "")))
                continue
            exc = fut.exception() if fut.status == "error" else None
            if isinstance(exc, StageTaskFailed):
                upstream = exc.stage != self.stages[key]
                ended.append(Ended(key, error=exc.error, log_tail=exc.log_tail,
                                   upstream_failed=upstream, log="" if upstream else exc.log))
            elif fut.status == "cancelled":
                ended.append(Ended(key, error="the Dask task was cancelled."))
            else:
                ended.append(Ended(key, error=f"the Dask task {fut.status}: {exc!r}"))
        return ended

    def cancel(self, ids: list[str]) -> None:
        """Tell the tasks (they stop their stage's process group within half a second),
        give them the time to, then drop what is left: a worker closed under a task
        would leave its stage running, in a session of its own."""
        from distributed import Event, wait

        Event(self.event, client=self.client).set()
        futures = [self.futures[i] for i in ids]
        try:
            wait(futures, timeout=CANCEL_GRACE)
        except TimeoutError:
            pass
        self.client.cancel(futures, force=True)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
