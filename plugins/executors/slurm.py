"""The Slurm executor: one `sbatch` job per stage, the graph as `afterok` dependencies.

Each job runs the remote stage protocol (`python -m lode stage run ...`) in a clone of
its own on a compute node; data moves only through the remote. What the nodes must see
of this machine is the spool directory: each job writes its result JSON and its log
there, and the coordinator reads them back (`shares_filesystem`).

Status comes from `squeue -t all` (which lists finished jobs for MinJobAge seconds), with
`scontrol show job` when a job is no longer listed; the result file is what decides
success, so a job purged from the controller's memory still reports how it ended.
A job whose upstream failed is cancelled by Slurm itself (`--kill-on-invalid-dep=yes`;
without it the job would stay PENDING for ever).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from lode.plugins.executor import Ended, Executor, ExecutorError, Job, Option, read_log

POLL_SECONDS = 0.25
COMMAND_TIMEOUT = 30.0  # squeue, sinfo and sbatch hang ~9 s when the controller is down
RESULT_GRACE = 3.0  # a shared filesystem may show the result file a moment after the end
LOG_TAIL_LINES = 30

ACTIVE_STATES = frozenset({
    "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
    "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
    "RESV_DEL_HOLD"})
FAILED_STATES = frozenset({
    "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
    "DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT"})
NEVER_SATISFIED = "DependencyNeverSatisfied"


# -- pure functions: resources, arguments, parsing -----------------------------------------
def _count(resources: dict, key: str, stage: str, minimum: int) -> int | None:
    value = resources.get(key)
    if value is None:
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        n = minimum - 1
    if isinstance(value, bool) or n < minimum:
        raise ExecutorError(f"stage '{stage}' has an invalid {key} resource '{value}'.",
                            f"It must be a whole number of at least {minimum}.")
    return n


def requested(job: Job) -> tuple[int | None, int | None, int]:
    """(cpus, mem in MB, gpus) of a job: its `cpus` and `gpus` resources and its memory
    (which sbatch reads as MB and the core gives in MiB, as Slurm means it)."""
    cpus = _count(job.resources, "cpus", job.stage, 1)
    return cpus, job.mem_mib, _count(job.resources, "gpus", job.stage, 0) or 0


def resource_args(job: Job) -> list[str]:
    """sbatch options for `cpus`, `mem` and `gpus`."""
    cpus, mem, gpus = requested(job)
    args = []
    if cpus is not None:
        args.append(f"--cpus-per-task={cpus}")
    if mem is not None:
        args.append(f"--mem={mem}M")
    if gpus:
        args.append(f"--gres=gpu:{gpus}")
    return args


def sbatch_argv(job: Job, spool: str, python: str, options: dict[str, str],
                depends_on: list[str], upstream_files: list[str]) -> list[str]:
    """The whole `sbatch` command for one job (depends_on: Slurm ids still to wait for)."""
    log, result = spool_paths(spool, job.name)
    argv = ["sbatch", "--parsable", f"--job-name=lode-{job.name}",
            f"--output={output_pattern(log)}", f"--chdir={spool}"]
    if depends_on:
        argv += [f"--dependency=afterok:{':'.join(depends_on)}", "--kill-on-invalid-dep=yes"]
    argv += resource_args(job)
    for opt in ("partition", "time", "account"):
        if options.get(opt):
            argv.append(f"--{opt}={options[opt]}")
    argv += shlex.split(options.get("sbatch_args", ""))
    command = [python, *job.argv(result=result, upstream_files=upstream_files)]
    return [*argv, "--wrap", shlex.join(command)]


def output_pattern(path: str) -> str:
    """`path` as sbatch's --output reads it: a filename pattern, where `%j`, `%x` ... are
    replaced and `%%` is `%` (a spool directory with a `%` in its name must stay itself).
    A backslash turns the pattern off and is dropped by Slurm, with no escape for it: such
    a path is refused."""
    check_spool(path)
    return path.replace("%", "%%")


def check_spool(path: str) -> None:
    if "\\" in path:
        raise ExecutorError(f"the spool directory {path!r} holds a backslash, which Slurm "
                            "drops from a job's output path.", "Set executor.spool to a "
                            "directory without one.")


def spool_paths(spool: str, name: str) -> tuple[str, str]:
    """(log file, result file) of a job in the spool directory."""
    return os.path.join(spool, f"{name}.log"), os.path.join(spool, f"{name}.json")


def parse_job_id(stdout: str) -> str:
    """The id `sbatch --parsable` printed ("12", or "12;cluster" on a federation)."""
    lines = stdout.strip().splitlines()
    job_id = lines[-1].split(";")[0].strip() if lines else ""
    if not re.fullmatch(r"\d+(_\d+)?", job_id):
        raise ExecutorError(f"sbatch printed no job id (it printed '{stdout.strip()[:80]}').")
    return job_id


def parse_squeue(text: str) -> dict[str, tuple[str, str]]:
    """{id: (state, reason)} from `squeue -h -t all -o "%i %T %r"`."""
    states = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2:
            states[parts[0]] = (parts[1], parts[2].strip() if len(parts) > 2 else "None")
    return states


def parse_scontrol_job(text: str) -> tuple[str, str] | None:
    """(state, reason) from `scontrol show job ID`, None if the text holds no job."""
    fields = dict(re.findall(r"(\w+)=(\S*)", text))
    if "JobState" not in fields:
        return None
    return fields["JobState"], fields.get("Reason", "None")


def parse_sinfo(text: str) -> list[tuple[int, int, int]]:
    """[(cpus, memory MB, gpus)] per node from `sinfo -h -N -o "%c %m %G"`."""
    nodes = []
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) < 2:
            continue
        try:  # "+" marks a group of nodes of which some have more
            cpus, mem = int(parts[0].rstrip("+")), int(parts[1].rstrip("+"))
        except ValueError:
            continue
        gres = parts[2] if len(parts) > 2 else ""
        gpus = sum(int(n) for n in re.findall(r"\bgpu(?::[^:,(\s]+)?:(\d+)", gres))
        nodes.append((cpus, mem, gpus))
    return nodes


def unmet(nodes: list[tuple[int, int, int]], want: tuple[int | None, int | None, int],
          stage: str) -> str | None:
    """Why no node can run the request (a sentence), or None when one can."""
    cpus, mem, gpus = want[0] or 1, want[1] or 0, want[2]
    if any(cpus <= c and mem <= m and gpus <= g for c, m, g in nodes):
        return None
    if not nodes:
        return f"stage '{stage}' cannot run: Slurm reports no node."
    if cpus > max(c for c, _, _ in nodes):
        return (f"stage '{stage}' asks for {cpus} CPUs, but no Slurm node has more than "
                f"{max(c for c, _, _ in nodes)}.")
    if mem > max(m for _, m, _ in nodes):
        return (f"stage '{stage}' asks for {mem} MB of memory, but no Slurm node has more "
                f"than {max(m for _, m, _ in nodes)} MB.")
    most = max(g for _, _, g in nodes)
    if gpus > most:
        return (f"stage '{stage}' asks for {gpus} GPU{'s' if gpus > 1 else ''}, but no "
                f"Slurm node has more than {most}.")
    return (f"stage '{stage}' asks for {cpus} CPUs, {mem} MB and {gpus} GPUs, but no "
            f"single Slurm node has them all.")


def outcome(state: str, reason: str) -> str:
    """"active", "completed", "failed" or "upstream_failed" for a job's state and reason."""
    if state == "COMPLETED":
        return "completed"
    if reason == NEVER_SATISFIED and state in ("CANCELLED", "PENDING"):
        return "upstream_failed"
    if state in FAILED_STATES:
        return "failed"
    return "active"


def read_result(path: str) -> dict | None:
    """The result document at `path`, None if it is missing or not a result."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and "status" in doc else None


def tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _message(proc: subprocess.CompletedProcess) -> str:
    """Slurm's error lines as one sentence fragment ("sbatch: error: " prefixes dropped)."""
    lines = [re.sub(r"^\w+: (error|fatal): ", "", line).strip()
             for line in (proc.stderr or proc.stdout or "").splitlines() if line.strip()]
    text = "; ".join(lines) or f"exit status {proc.returncode}"
    return text if len(text) <= 300 else text[:297] + "..."


# -- the executor --------------------------------------------------------------------------
class SlurmExecutor(Executor):
    name = "slurm"
    shares_filesystem = True  # the spool directory (results, logs); data via the remote
    options = (
        Option("partition", "the partition to submit to (default: the cluster's default)"),
        Option("account", "the account to charge (sbatch --account)"),
        Option("time", "each job's time limit (sbatch --time, e.g. 1:00:00)"),
        Option("python", "the Python interpreter on the nodes, with lode installed "
                         "(default: this one)"),
        Option("sbatch_args", "extra sbatch arguments, shell-quoted (e.g. '--qos=high')"),
        Option("spool", "a directory the nodes can see, for result files and logs "
                        "(default: this run's work directory)"),
    )

    def __init__(self, settings: dict[str, str], workdir: str) -> None:
        super().__init__(settings, workdir)
        self.spool = os.path.abspath(settings.get("spool") or workdir)
        check_spool(self.spool)
        self.python = settings.get("python") or sys.executable
        self._jobs: dict[str, Job] = {}
        self._failed: set[str] = set()  # ids that ended without success
        self._done: set[str] = set()  # ids that completed
        self._missing_since: dict[str, float] = {}
        self._nodes: list[tuple[int, int, int]] | None = None
        try:
            shlex.split(settings.get("sbatch_args", ""))
        except ValueError as e:
            raise ExecutorError(f"the slurm option sbatch_args cannot be split: {e}.") from None

    # the thin I/O edge: every Slurm command goes through here
    def _run(self, argv: list[str], timeout: float = COMMAND_TIMEOUT
             ) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise ExecutorError(f"Slurm's '{argv[0]}' command is not installed here.",
                                "Run lode where the Slurm client is (a login node).") from None
        except subprocess.TimeoutExpired:
            raise ExecutorError(f"Slurm's '{argv[0]}' did not answer within "
                                f"{timeout:.0f} s.") from None

    def start(self) -> None:
        if shutil.which("sbatch") is None:
            raise ExecutorError("Slurm's sbatch is not on PATH.",
                                "Run lode where the Slurm client is (a login node).")
        conf = os.environ.get("SLURM_CONF")
        if conf and not os.path.isfile(conf):  # Slurm would then try DNS for a long while
            raise ExecutorError(f"SLURM_CONF names {conf}, which is not a file.")
        # scontrol ping fails at once when the controller is down; squeue would hang
        proc = self._run(["scontrol", "ping"])
        if proc.returncode != 0 or "is UP" not in proc.stdout:
            raise ExecutorError(f"the Slurm controller does not answer ({_message(proc)}).",
                                "Check that slurmctld runs and SLURM_CONF points at its "
                                "configuration.")
        try:
            os.makedirs(self.spool, exist_ok=True)
        except OSError as e:
            raise ExecutorError(f"cannot create the spool directory {self.spool}: "
                                f"{e.strerror}.") from None

    def check_resources(self, job: Job) -> None:
        want = requested(job)
        if self._nodes is None:
            argv = ["sinfo", "-h", "-N", "-o", "%c %m %G"]
            if self.settings.get("partition"):
                argv += ["-p", self.settings["partition"]]
            proc = self._run(argv)
            if proc.returncode != 0:
                raise ExecutorError(f"sinfo failed: {_message(proc)}.")
            self._nodes = parse_sinfo(proc.stdout)
            if not self._nodes and self.settings.get("partition"):
                raise ExecutorError(f"Slurm has no nodes in partition "
                                    f"'{self.settings['partition']}'.")
        why = unmet(self._nodes, want, job.stage)
        if why:
            raise ExecutorError(why)

    def submit(self, job: Job) -> str:
        log, result = spool_paths(self.spool, job.name)
        for stale in (log, result):  # a result left by an earlier run must not count
            if os.path.exists(stale):
                os.unlink(stale)
        for up in job.upstream:
            if up in self._failed:
                raise ExecutorError(f"stage '{job.stage}' cannot start: its upstream job "
                                    f"{up} failed.")
        # a finished upstream may already be purged, and Slurm takes a dependency on an
        # unknown job as satisfied: only jobs not yet seen ending are named
        depends_on = [up for up in job.upstream if up not in self._done]
        upstream_files = [spool_paths(self.spool, self._jobs[up].name)[1]
                          for up in job.upstream if up in self._jobs]
        argv = sbatch_argv(job, self.spool, self.python, self.settings, depends_on,
                           upstream_files)
        proc = self._run(argv)
        if proc.returncode != 0:  # Slurm may record a failed submission: no id to keep
            raise ExecutorError(f"sbatch refused stage '{job.stage}': {_message(proc)}.")
        job_id = parse_job_id(proc.stdout)
        self._jobs[job_id] = job
        return job_id

    def check(self, ids: list[str], timeout: float) -> list[Ended]:
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            ended = self._poll(ids)
            left = deadline - time.monotonic()
            if ended or left <= 0:
                for end in ended:  # the job's whole output, before the spool goes
                    if not end.upstream_failed:
                        end.log = read_log(self._paths(end.job_id)[0])
                return ended
            time.sleep(min(POLL_SECONDS, left))

    def cancel(self, ids: list[str]) -> None:
        if not ids:
            return
        proc = self._run(["scancel", *ids])  # unknown ids are not an error for scancel
        if proc.returncode != 0:
            raise ExecutorError(f"scancel failed: {_message(proc)}.")

    # -- status ---------------------------------------------------------------------------
    def _poll(self, ids: list[str]) -> list[Ended]:
        if not ids:
            return []
        proc = self._run(["squeue", "-h", "-t", "all", "-j", ",".join(ids),
                          "-o", "%i %T %r"])
        if proc.returncode != 0 and "Invalid job id" not in proc.stderr:
            raise ExecutorError(f"squeue failed: {_message(proc)}.")
        states = parse_squeue(proc.stdout)
        ended = []
        for job_id in ids:
            state = states.get(job_id) or self._scontrol_state(job_id)
            one = self._ended(job_id, *state) if state else self._purged(job_id)
            if one is not None:
                (self._done if one.ok else self._failed).add(job_id)
                ended.append(one)
        stuck = [e.job_id for e in ended if e.upstream_failed and
                 states.get(e.job_id, ("", ""))[0] == "PENDING"]
        if stuck:  # on a cluster that ignores --kill-on-invalid-dep they would wait for ever
            self.cancel(stuck)
        return ended

    def _scontrol_state(self, job_id: str) -> tuple[str, str] | None:
        proc = self._run(["scontrol", "show", "job", job_id])
        return parse_scontrol_job(proc.stdout) if proc.returncode == 0 else None

    def _purged(self, job_id: str) -> Ended:
        """A job the controller no longer knows: its result file tells how it ended."""
        result = self._result(job_id)
        if result is None:
            return Ended(job_id, error=f"Slurm no longer knows job {job_id} "
                                       f"{self._about(job_id)}and it left no result.",
                         log_tail=tail(self._paths(job_id)[0]))
        return self._from_result(job_id, result, f"Slurm job {job_id} "
                                 f"{self._about(job_id)}ended without success.")

    def _ended(self, job_id: str, state: str, reason: str) -> Ended | None:
        kind = outcome(state, reason)
        job = self._jobs.get(job_id)
        if kind == "active":
            return None
        if kind == "upstream_failed" or (state == "CANCELLED" and job is not None and
                                         any(up in self._failed for up in job.upstream)):
            return Ended(job_id, error="not started: a job it depends on failed.",
                         upstream_failed=True)
        result = self._result(job_id)
        if kind == "completed" and result is None:
            # the file may reach a shared filesystem's client a moment after the job ends
            first = self._missing_since.setdefault(job_id, time.monotonic())
            if time.monotonic() - first < RESULT_GRACE:
                return None
            return Ended(job_id, error=f"Slurm job {job_id} {self._about(job_id)}completed "
                                       f"but wrote no result file.",
                         log_tail=tail(self._paths(job_id)[0]))
        return self._from_result(job_id, result, f"Slurm job {job_id} "
                                 f"{self._about(job_id)}ended {state} ({reason}).")

    def _from_result(self, job_id: str, result: dict | None, why: str) -> Ended:
        if result is None:
            return Ended(job_id, error=why, log_tail=tail(self._paths(job_id)[0]))
        if result.get("status") in ("ran", "restored"):
            return Ended(job_id, result=result)
        return Ended(job_id, result=result, error=result.get("error") or why,
                     log_tail=result.get("log_tail") or tail(self._paths(job_id)[0]))

    def _paths(self, job_id: str) -> tuple[str, str]:
        job = self._jobs.get(job_id)
        return spool_paths(self.spool, job.name) if job else ("", "")

    def _result(self, job_id: str) -> dict | None:
        path = self._paths(job_id)[1]
        return read_result(path) if path else None

    def _about(self, job_id: str) -> str:
        job = self._jobs.get(job_id)
        return f"(stage '{job.stage}') " if job else ""
