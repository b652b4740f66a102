"""The Slurm executor: its pure functions, then its mechanics on a real single-node
cluster (sbatch, afterok dependencies, squeue/scontrol status, scancel, sinfo limits).

The mechanics tests give the executor a stub for the nodes' Python (the `python` option):
it receives exactly the `-m lode stage run ...` arguments a job carries, records them in
its result file and succeeds, fails or crashes as its stage name says. The real protocol
runs through the executor in the end-to-end tests further down.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lode_plugins.executors.slurm import (
    SlurmExecutor,
    outcome,
    parse_job_id,
    parse_scontrol_job,
    parse_sinfo,
    parse_squeue,
    resource_args,
    sbatch_argv,
    unmet,
)

from lode.pipeline.dvcfile import DvcfileError, _resources, mem_mib
from lode.plugins.executor import Ended, ExecutorError, Job, load
from lode.testing.executor import ExecutorContract
from tests.executors.conftest import WIDE, assert_bad_failed_alone
from tests.executors.slurm_cluster import slurm_conf  # noqa: F401 - a fixture

REV = "0123456789abcdef0123456789abcdef01234567"


def make_job(name: str, upstream=(), resources=None, stage=None) -> Job:
    """A job as the coordinator makes it: the memory parsed into `mem_mib`."""
    resources = resources or {}
    mem = mem_mib(resources["mem"]) if "mem" in resources else None
    return Job(stage or name, name, REV, "file:///srv/repo.git", remote="store",
               resources=resources, mem_mib=mem, upstream=list(upstream))


# -- pure functions ------------------------------------------------------------------------
@pytest.mark.parametrize("value, mb", [(512, 512), ("512", 512), ("512M", 512), ("2G", 2048),
                                       ("2gb", 2048), ("1.5G", 1536), ("1T", 1048576),
                                       ("1536K", 2), ("100k", 1)])
def test_mem_to_megabytes(value, mb):
    assert resource_args(make_job("fit", resources={"mem": value})) == [f"--mem={mb}M"]


@pytest.mark.parametrize("value", ["lots", "", "-1G", "0", "2X", True])
def test_bad_mem_is_refused_when_dvc_yaml_is_read(value):
    with pytest.raises(DvcfileError, match=r"'meta.resources.mem' must be a size"):
        _resources({"resources": {"mem": value}}, "dvc.yaml:train")


def test_resources_to_sbatch_options():
    assert resource_args(make_job("fit")) == []
    assert resource_args(make_job("fit", resources={"cpus": 4, "mem": "2G", "gpus": 1,
                                                    "disk": "9G"})) == [
        "--cpus-per-task=4", "--mem=2048M", "--gres=gpu:1"]
    assert resource_args(make_job("fit", resources={"cpus": "2", "gpus": 0})) == [
        "--cpus-per-task=2"]
    for bad in ({"cpus": 0}, {"cpus": "two"}, {"gpus": -1}, {"cpus": 1.5}):
        with pytest.raises(ExecutorError, match="stage 'fit' has an invalid"):
            resource_args(make_job("fit", resources=bad))


def test_sbatch_command_line():
    job = make_job("train", upstream=["41", "42"], resources={"cpus": 2, "mem": 300},
                   stage="sub/dvc.yaml:train")
    argv = sbatch_argv(job, "/spool", "/opt/py/bin/python",
                       {"partition": "gpu", "time": "1:00:00", "account": "ml",
                        "sbatch_args": "--qos=high --comment 'two words'"},
                       depends_on=["42"], upstream_files=["/spool/a.json", "/spool/b c.json"])
    assert argv[:-1] == [
        "sbatch", "--parsable", "--job-name=lode-train", "--output=/spool/train.log",
        "--chdir=/spool", "--dependency=afterok:42", "--kill-on-invalid-dep=yes",
        "--cpus-per-task=2", "--mem=300M", "--partition=gpu", "--time=1:00:00",
        "--account=ml", "--qos=high", "--comment", "two words", "--wrap"]
    assert argv[-1] == (
        "/opt/py/bin/python -m lode stage run --rev " + REV
        + " --repo file:///srv/repo.git --result /spool/train.json --remote store"
        " --upstream /spool/a.json --upstream '/spool/b c.json' -- sub/dvc.yaml:train")
    plain = sbatch_argv(make_job("load"), "/s", "python3", {}, [], [])
    assert not any(a.startswith(("--dependency", "--kill-on", "--partition")) for a in plain)


def test_parse_sbatch_and_squeue_output():
    assert parse_job_id("12\n") == "12"
    assert parse_job_id("12;cluster\n") == "12"
    with pytest.raises(ExecutorError, match="sbatch printed no job id"):
        parse_job_id("Submitted batch job\n")
    assert parse_squeue("1 COMPLETED None\n7 PENDING DependencyNeverSatisfied\n"
                        "8 PENDING (Dependency)\n") == {
        "1": ("COMPLETED", "None"), "7": ("PENDING", "DependencyNeverSatisfied"),
        "8": ("PENDING", "(Dependency)")}


def test_parse_scontrol_show_job():
    text = ("JobId=1 JobName=slurm-up-probe\n   UserId=root(0) GroupId=root(0)\n"
            "   JobState=FAILED Reason=NonZeroExitCode Dependency=(null)\n"
            "   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0\n")
    assert parse_scontrol_job(text) == ("FAILED", "NonZeroExitCode")
    assert parse_scontrol_job("slurm_load_jobs error: Invalid job id specified") is None


def test_job_states():
    assert outcome("COMPLETED", "None") == "completed"
    for state in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED"):
        assert outcome(state, "None") == "active"
    for state in ("FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"):
        assert outcome(state, "NonZeroExitCode") == "failed"
    assert outcome("CANCELLED", "DependencyNeverSatisfied") == "upstream_failed"
    assert outcome("PENDING", "DependencyNeverSatisfied") == "upstream_failed"


def test_node_limits():
    nodes = parse_sinfo("2 24105 (null)\n64 512000+ gpu:a100:4(S:0-1),nvme:1\n"
                        "8 16000 gpu:2\n")
    assert nodes == [(2, 24105, 0), (64, 512000, 4), (8, 16000, 2)]
    assert unmet(nodes, (64, 500000, 4), "fit") is None
    assert unmet(nodes, (None, None, 0), "fit") is None
    assert unmet(nodes, (65, None, 0), "fit") == (
        "stage 'fit' asks for 65 CPUs, but no Slurm node has more than 64.")
    assert unmet(nodes, (1, 600000, 0), "fit") == (
        "stage 'fit' asks for 600000 MB of memory, but no Slurm node has more than "
        "512000 MB.")
    assert unmet(nodes, (1, None, 8), "fit") == (
        "stage 'fit' asks for 8 GPUs, but no Slurm node has more than 4.")
    assert unmet([(64, 1000, 0), (2, 512000, 4)], (8, 2000, 1), "fit") == (
        "stage 'fit' asks for 8 CPUs, 2000 MB and 1 GPUs, but no single Slurm node has "
        "them all.")


def test_registered_and_options_checked(tmp_path):
    assert load("slurm") is SlurmExecutor
    with pytest.raises(ExecutorError, match="has no option 'queue'.*partition"):
        SlurmExecutor({"queue": "x"}, str(tmp_path))
    with pytest.raises(ExecutorError, match="sbatch_args cannot be split"):
        SlurmExecutor({"sbatch_args": "--comment 'open"}, str(tmp_path))


# -- the executor contract, on the real cluster ---------------------------------------------
class TestContract(ExecutorContract):
    """The contract's real jobs (`python -m lode stage run`) as sbatch jobs on the private
    single-node cluster, their spool the run's directory."""

    @pytest.fixture
    def make_executor(self, slurm_conf):  # noqa: F811 - the fixture imported above
        return lambda workdir: SlurmExecutor({}, workdir)


# -- mechanics on the real cluster ----------------------------------------------------------
STUB = '''#!{python}
"""Stands in for `python -m lode stage run` on a node: records what it was given."""
import json, os, sys, time

args = sys.argv[1:]
assert args[:4] == ["-m", "lode", "stage", "run"] and args[-2] == "--", args
stage, rest = args[-1], args[4:-2]
opts, upstream = {{}}, []
for flag, value in zip(rest[::2], rest[1::2]):
    if flag == "--upstream":
        upstream.append(value)
    else:
        opts[flag] = value
start = time.time()
print(f"stub: running {{stage}}", file=sys.stderr, flush=True)
kind = stage.split("-")[0]
if kind == "sleep":
    time.sleep(float(stage.split("-")[1]))
if kind == "crash":
    print("stub: crashing without a result", file=sys.stderr)
    sys.exit(3)
doc = {{"protocol": 1, "stage": stage, "rev": opts["--rev"],
       "status": "failed" if kind == "fail" else "ran",
       "entry": {{"cmd": stage, "upstream": [json.load(open(u))["stage"] for u in upstream]}},
       "error": f"the command of stage '{{stage}}' exited 3." if kind == "fail" else "",
       "log_tail": "stub: the last words" if kind == "fail" else "",
       "start": start, "end": time.time(), "cwd": os.getcwd(),
       "job": os.environ.get("SLURM_JOB_ID"), "cpus": os.environ.get("SLURM_CPUS_PER_TASK"),
       "mem": os.environ.get("SLURM_MEM_PER_NODE"), "remote": opts.get("--remote")}}
with open(opts["--result"] + ".tmp", "w") as f:
    json.dump(doc, f)
os.replace(opts["--result"] + ".tmp", opts["--result"])
sys.exit(1 if kind == "fail" else 0)
'''


@pytest.fixture
def spool(tmp_path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


@pytest.fixture
def executor(slurm_conf, tmp_path, spool):  # noqa: F811 - the fixture imported above
    stub = tmp_path / "stub.py"
    stub.write_text(STUB.format(python=sys.executable))
    stub.chmod(0o755)
    ex = TrackedSlurm({"python": str(stub)}, str(spool))
    ex.start()
    yield ex
    ex.cancel(ex.submitted)  # nothing of a failed test keeps running on the cluster


class TrackedSlurm(SlurmExecutor):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.submitted: list[str] = []

    def submit(self, job: Job) -> str:
        self.submitted.append(super().submit(job))
        return self.submitted[-1]


def wait_all(ex: SlurmExecutor, ids: list[str], timeout: float = 30) -> dict[str, Ended]:
    done: dict[str, Ended] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(ids) and time.monotonic() < deadline:
        for ended in ex.check([i for i in ids if i not in done], timeout=2):
            assert ended.job_id not in done
            done[ended.job_id] = ended
    assert len(done) == len(ids), f"still active after {timeout}s: {set(ids) - set(done)}"
    return done


def squeue_field(job_id: str, field: str) -> str:
    return subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", field],
                          capture_output=True, text=True, timeout=30).stdout.strip()


def test_jobs_follow_the_graph_and_pass_upstream_results(executor, spool):
    a = executor.submit(make_job("sleep-1-a"))
    c = executor.submit(make_job("sleep-1-c"))
    b = executor.submit(make_job("ok-b", upstream=[a], resources={"cpus": 2, "mem": "100M"}))
    assert squeue_field(b, "%j") == "lode-ok-b"
    ended = wait_all(executor, [a, b, c])
    assert all(e.ok and not e.error for e in ended.values())
    ra, rb, rc = (ended[i].result for i in (a, b, c))
    assert rb["entry"]["upstream"] == ["sleep-1-a"]  # read from a's result in the spool
    assert rb["start"] >= ra["end"]
    assert ra["start"] < rc["end"] and rc["start"] < ra["end"]  # independent: overlapped
    assert (rb["job"], rb["cpus"], rb["mem"], rb["cwd"]) == (b, "2", "100", str(spool))
    assert (rb["rev"], rb["remote"]) == (REV, "store")
    assert "stub: running ok-b" in (spool / "ok-b.log").read_text()


def test_a_failed_stage_stops_its_downstream_jobs(executor):
    bad = executor.submit(make_job("fail-x"))
    child = executor.submit(make_job("ok-child", upstream=[bad]))
    grandchild = executor.submit(make_job("ok-grandchild", upstream=[child]))
    other = executor.submit(make_job("ok-other"))
    ended = wait_all(executor, [bad, child, grandchild, other])
    failed = ended[bad]
    assert not failed.ok and not failed.upstream_failed
    assert failed.error == "the command of stage 'fail-x' exited 3."
    assert failed.log_tail == "stub: the last words"
    assert failed.result["status"] == "failed"
    for dropped in (child, grandchild):
        assert ended[dropped].upstream_failed and not ended[dropped].ok
        assert squeue_field(dropped, "%T %r") == "CANCELLED DependencyNeverSatisfied"
    assert ended[other].ok
    with pytest.raises(ExecutorError, match=f"upstream job {bad} failed"):
        executor.submit(make_job("ok-late", upstream=[bad]))


def test_a_job_that_dies_without_a_result(executor):
    job_id = executor.submit(make_job("crash-z"))
    (ended,) = wait_all(executor, [job_id]).values()
    assert not ended.ok and ended.result is None
    assert ended.error == (f"Slurm job {job_id} (stage 'crash-z') ended FAILED "
                           f"(NonZeroExitCode).")
    assert "stub: crashing without a result" in ended.log_tail


def test_check_waits_then_cancel_stops_a_running_job(executor):
    job_id = executor.submit(make_job("sleep-60-q"))
    t0 = time.monotonic()
    assert executor.check([job_id], timeout=1.0) == []
    assert 1.0 <= time.monotonic() - t0 < 3
    executor.cancel([job_id])
    (ended,) = wait_all(executor, [job_id], timeout=15).values()
    assert not ended.ok and not ended.upstream_failed
    assert ended.error.startswith(f"Slurm job {job_id} (stage 'sleep-60-q') ended CANCELLED")


def test_a_job_slurm_does_not_know(executor):
    (ended,) = executor.check(["999999"], timeout=0)
    assert ended.error == "Slurm no longer knows job 999999 and it left no result."


def test_requests_no_node_can_meet_are_refused(executor):
    executor.check_resources(make_job("small", resources={"cpus": 1, "mem": "64M"}))
    cpus = os.cpu_count()
    with pytest.raises(ExecutorError, match=rf"stage 'big' asks for 999 CPUs, but no Slurm "
                                            rf"node has more than {cpus}\."):
        executor.check_resources(make_job("big", resources={"cpus": 999}))
    with pytest.raises(ExecutorError, match=r"stage 'big' asks for 104857600 MB of memory"):
        executor.check_resources(make_job("big", resources={"mem": "100T"}))
    with pytest.raises(ExecutorError, match=r"stage 'big' asks for 1 GPU, but no Slurm node "
                                            r"has more than 0\."):
        executor.check_resources(make_job("big", resources={"gpus": 1}))


def test_slurm_errors_are_sentences(slurm_conf, spool, monkeypatch):  # noqa: F811
    ex = SlurmExecutor({"partition": "nope"}, str(spool))
    ex.start()
    with pytest.raises(ExecutorError, match=r"^Slurm has no nodes in partition 'nope'\.$"):
        ex.check_resources(make_job("x"))
    with pytest.raises(ExecutorError, match=r"^sbatch refused stage 'x': invalid partition "
                                            r"specified: nope; .*\.$"):
        ex.submit(make_job("x"))
    # a controller that is not there: scontrol ping answers at once
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = spool / "dead.conf"
    dead.write_text(re.sub(r"(?m)^SlurmctldPort=\d+", f"SlurmctldPort={port}",
                           Path(slurm_conf).read_text()))
    monkeypatch.setenv("SLURM_CONF", str(dead))
    with pytest.raises(ExecutorError, match=r"^the Slurm controller does not answer \("):
        SlurmExecutor({}, str(spool)).start()
    monkeypatch.setenv("PATH", str(spool))
    with pytest.raises(ExecutorError, match=r"^Slurm's sbatch is not on PATH\."):
        SlurmExecutor({}, str(spool)).start()


# -- end to end: `lode repro --executor slurm` ----------------------------------------------
def slurm_jobs(since: int) -> dict[str, str]:
    """{job name: state} of the cluster's jobs with an id above `since`."""
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %j %T"], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return {name: state for job_id, name, state in (ln.split() for ln in out.splitlines())
            if int(job_id) > since}


def last_job_id() -> int:
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i"], capture_output=True,
                         text=True, timeout=30, check=True).stdout.split()
    return max(map(int, out), default=0)


def repro(lode, project, conf, *args, check=True, env=None):
    return lode("repro", "--executor", "slurm", *args, cwd=project, check=check,
                env={"SLURM_CONF": conf, **(env or {})})


def assert_clean(lode, project):
    assert lode("status", cwd=project).stdout.strip() == "Data and pipelines are up to date."


def test_churn_through_slurm_equals_a_local_run(lode, churn, local_lock, slurm_conf):  # noqa: F811
    project = churn()
    since = last_job_id()
    proc = repro(lode, project, slurm_conf)
    assert "Submitted stage 'train' (never ran; to slurm)" in proc.stdout
    assert "3 stages: 3 ran" in proc.stdout
    assert slurm_jobs(since) == {"lode-load": "COMPLETED", "lode-train": "COMPLETED",
                                 "lode-eval": "COMPLETED"}
    assert project.lock == local_lock(project)
    assert_clean(lode, project)
    # the spool (result files, logs) is this run's, and goes with it
    assert not any((project.root / ".dvc" / "tmp").rglob("*.json"))


def test_wide_pipeline_overlaps_and_equals_a_local_run(lode, wide, local_lock, tmp_path,
                                                       slurm_conf):  # noqa: F811
    times = tmp_path / "times"
    times.mkdir()
    proc = repro(lode, wide, slurm_conf, env={"LODE_TEST_TIMES": str(times)})
    assert f"{WIDE + 1} stages: {WIDE + 1} ran" in proc.stdout
    spans = sorted(tuple(map(float, (times / str(i)).read_text().split()))
                   for i in range(1, WIDE + 1))
    overlapping = sum(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert overlapping >= WIDE // 2 - 1, spans  # one CPU each on two: pairs side by side
    assert wide.lock == local_lock(wide)
    assert_clean(lode, wide)


def test_a_failing_stage_stops_its_downstream_and_is_named(lode, failing, slurm_conf):  # noqa: F811
    since = last_job_id()
    proc = repro(lode, failing, slurm_conf, "-k", check=False)
    assert_bad_failed_alone(proc, failing)
    assert slurm_jobs(since) == {"lode-ok": "COMPLETED", "lode-bad": "FAILED",
                                 "lode-after_bad": "CANCELLED"}

    # without -k the run stops at the failure, and leaves nothing queued or running
    (failing.root / "dvc.lock").unlink()
    (failing.root / "ok.txt").unlink()
    since = last_job_id()
    proc = repro(lode, failing, slurm_conf, check=False)
    assert proc.returncode == 1 and "stage 'bad' failed" in proc.stderr
    deadline = time.monotonic() + 10  # a cancelled job may be COMPLETING a moment
    while not set(slurm_jobs(since).values()) <= {"COMPLETED", "FAILED", "CANCELLED"}:
        assert time.monotonic() < deadline, slurm_jobs(since)
        time.sleep(0.2)


def test_refusals_are_sentences(lode, git, failing, slurm_conf, tmp_path):  # noqa: F811
    (failing.root / "dvc.yaml").write_text((failing.root / "dvc.yaml").read_text().replace(
        "  bad:\n", "  bad:\n    meta:\n      resources: {cpus: 999}\n"))
    git("commit", "-q", "-am", "greedy", cwd=failing)
    git("push", "-q", cwd=failing)
    since = last_job_id()
    proc = repro(lode, failing, slurm_conf, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "stage 'bad' asks for 999 CPUs, but no Slurm node has more than" in proc.stderr
    assert slurm_jobs(since) == {}  # refused before anything was submitted
    proc = repro(lode, failing, slurm_conf, "--executor-opt", "queue=x", check=False)
    assert "executor 'slurm' has no option 'queue'" in proc.stderr
    proc = lode("repro", "--executor", "slurm", cwd=failing, check=False,
                env={"SLURM_CONF": str(tmp_path / "none.conf")})
    assert proc.returncode == 1
    assert proc.stderr == f"ERROR: SLURM_CONF names {tmp_path}/none.conf, which is not a file.\n"
