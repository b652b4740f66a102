"""Executors: who runs a pipeline's stages when one machine is not enough.

An executor receives stages one at a time (`submit`), reports which submitted stages are
still active and how the finished ones ended (`check`), and can cancel them. Every
non-local executor runs the same remote stage protocol on its workers:

    lode stage run STAGE --rev SHA --repo URL --result FILE [--upstream FILE ...]

which clones the pinned commit into a directory of its own, pulls exactly the stage's
inputs from the data remote (the remote's run cache first), runs the command, pushes the
outputs and the run-cache entry, and writes the stage's lock entry as JSON. The
coordinating `lode repro --executor NAME` merges those entries into dvc.lock in pipeline
order, exactly as a local run writes it; data moves only through the remote.

Executors register through the `lode.executors` entry-point group; the core never
imports one by name. The default, `local`, is the in-process parallel runner: `in_place`
tells `lode.ops.repro` to run the stages here with doit rather than through the
coordinator. `lode.testing.executor` holds the contract suite an executor's tests run.
"""

from __future__ import annotations

import os

from lode.errors import LodeError
from lode.plugins import Option, Plugin, Registry

__all__ = ["EXECUTORS", "GROUP", "Ended", "Executor", "ExecutorError", "Job", "LocalExecutor",
           "Option", "load", "names", "read_log"]

GROUP = "lode.executors"


class ExecutorError(LodeError):
    """An executor cannot be chosen, configured or reached."""


class Job:
    """One stage to run remotely: everything a worker's `lode stage run` needs.

    `upstream` holds the job ids this one must wait for (the executor maps them to its
    engine's dependencies); `upstream_results` the paths of result files (or JSON
    texts) of upstream stages that did not run in this run, for `--upstream`.

    `resources` is the stage's `meta.resources` as dvc.yaml has it (`cpus` and `gpus`
    whole numbers, checked when dvc.yaml was read); its memory, parsed by the core, is
    `mem_mib` (MiB, None when not given): an executor never parses `mem` itself."""

    def __init__(self, stage: str, name: str, rev: str, repo_url: str, *,
                 remote: str | None = None, resources: dict | None = None,
                 mem_mib: int | None = None, upstream: list[str] | None = None,
                 upstream_results: list[str] | None = None, force: bool = False,
                 run_cache: bool = True) -> None:
        self.stage = stage  # the stage's address relative to the repository root
        self.name = name  # a short name, safe for job names and file names
        self.rev, self.repo_url, self.remote = rev, repo_url, remote
        self.resources = resources or {}
        self.mem_mib = mem_mib
        self.upstream = upstream or []
        self.upstream_results = upstream_results or []
        self.force, self.run_cache = force, run_cache
        self.upstream_stages: list = []  # the coordinator's own bookkeeping

    def argv(self, result: str, upstream_files: list[str] | None = None) -> list[str]:
        """`lode stage run` arguments after the interpreter: `python -m lode stage run ...`.
        `upstream_files`: result files of the upstream jobs, which the executor knows."""
        args = ["-m", "lode", "stage", "run", "--rev", self.rev,
                "--repo", self.repo_url, "--result", result]
        if self.remote:
            args += ["--remote", self.remote]
        for up in [*self.upstream_results, *(upstream_files or [])]:
            args += ["--upstream", up]
        if self.force:
            args.append("--force")
        if not self.run_cache:
            args.append("--no-run-cache")
        return [*args, "--", self.stage]  # a stage named '-x' is not an option


class Ended:
    """How a job ended: `result` is the protocol's result document (a dict with
    "status" "ran" or "restored", and "entry") when it succeeded; else `error` says why
    in a sentence and `log_tail` holds the last lines the stage printed. `upstream_failed`
    marks a job the engine dropped because a job it waited for failed."""

    def __init__(self, job_id: str, result: dict | None = None, error: str = "",
                 log_tail: str = "", upstream_failed: bool = False, log: str = "") -> None:
        self.job_id, self.result, self.error = job_id, result, error
        self.log_tail, self.upstream_failed = log_tail, upstream_failed
        self.log = log  # everything the stage printed (its end), kept by the coordinator

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.get("status") in ("ran", "restored")


LOG_LIMIT = 1 << 20  # bytes of a stage's output the coordinator keeps (the end of it)


def read_log(path: str, limit: int = LOG_LIMIT) -> str:
    """The end of a log file ("" when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Executor(Plugin):
    """The interface. Its options (`options`, `Option`s of lode.plugins) come from
    `--executor-opt K=V` and the `[executor]` config section (`executor.OPTION`), as
    strings, into `settings`; unknown ones are refused by `__init__` with an ExecutorError
    naming the valid ones."""

    name = "?"
    in_place = False  # True only for the local runner: stages run in this workspace
    # whether workers see this machine's files (a spool directory for results); data
    # still passes only through the remote either way
    shares_filesystem = False

    def __init__(self, settings: dict[str, str], workdir: str) -> None:
        """`workdir`: a directory of this run on the coordinator (for spool files and
        logs); it exists and is removed by the caller."""
        known = self.option_names()
        unknown = sorted(set(settings) - known)
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise ExecutorError(f"executor '{self.name}' has no option '{unknown[0]}'.",
                                f"Its options: {valid}; and, for every executor, repo "
                                "and remote.")
        self.settings, self.workdir = settings, workdir

    def start(self) -> None:
        """Connect to the engine (or start a local one)."""

    def check_resources(self, job: Job) -> None:
        """Raise ExecutorError if no worker could ever meet the job's resources (an
        engine would otherwise keep it queued for ever)."""

    def submit(self, job: Job) -> str:
        """Hand the job to the engine, after the jobs in `job.upstream`; its id."""
        raise NotImplementedError

    def check(self, ids: list[str], timeout: float) -> list[Ended]:
        """The jobs among `ids` that have ended, waiting up to `timeout` seconds for at
        least one; those not returned are still active."""
        raise NotImplementedError

    def cancel(self, ids: list[str]) -> None:
        """Stop these jobs, queued or running (their stage commands too)."""
        raise NotImplementedError

    def close(self) -> None:
        """Disconnect (and stop what `start` started)."""


class LocalExecutor(Executor):
    """The default: stages in this workspace, in parallel where the graph allows. Never
    submitted to: `in_place` makes `lode.ops.repro` run them with doit itself."""

    name = "local"
    in_place = True
    shares_filesystem = True


EXECUTORS: Registry[Executor] = Registry(GROUP, Executor, "executor")


def names() -> list[str]:
    """The installed executors' names; none imported."""
    return EXECUTORS.names()


def load(name: str) -> type[Executor]:
    """The executor class registered as `name`; ExecutorError when there is none, or it
    cannot be loaded (a missing package: which one, and the extra that installs it)."""
    return EXECUTORS.load_as(name, ExecutorError)
