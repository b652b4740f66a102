"""The executor contract: what every executor plugin must do, as tests a plugin's own test
module runs against a real engine (a local cluster, a private Slurm cluster, ...).

    from lode.testing.executor import ExecutorContract

    class TestContract(ExecutorContract):
        @pytest.fixture
        def make_executor(self):
            return lambda workdir: MyExecutor({"queue": "test"}, workdir)

`make_executor(workdir)` returns the executor, configured but not started, its run
directory `workdir` made by the suite. The jobs are real: a tiny pipeline committed to
a bare Git repository, its data remote a local directory, each job the remote stage
protocol (`python -m lode stage run ...`) that the engine's workers run — so they must
see this machine's files (the repository, the remote) and have lode installed. A stage
that succeeds, one that fails, one downstream of each, and one cancelled while it runs.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lode.plugins.executor import Ended, Executor, ExecutorError, Job, load

DEADLINE = 300.0  # seconds a job may take before the suite gives up (a clone, a run, a push)
GIT_ID = ["-c", "user.name=Lode Contract", "-c", "user.email=contract@example.invalid",
          "-c", "commit.gpgsign=false"]

PIPELINE = """\
stages:
  ok:
    cmd: python3 -c "open('ok.txt', 'w').write('fine')"
    outs: [ok.txt]
  after_ok:
    cmd: python3 -c "open('after.txt', 'w').write(open('ok.txt').read() + '!')"
    deps: [ok.txt]
    outs: [after.txt]
  bad:
    cmd: python3 -c "print('boom'); raise SystemExit(3)"
    outs: [bad.txt]
  after_bad:
    cmd: python3 -c "open('after-bad.txt', 'w').write(open('bad.txt').read())"
    deps: [bad.txt]
    outs: [after-bad.txt]
  slow:
    cmd: python3 -c "import time; time.sleep(120)" MARKER
    outs: [slow.txt]
"""


class Pipeline:
    """The tiny project: `root` (a clone), `bare` (what workers clone), `store` (the data
    remote), `rev` (the commit), `marker` (in the slow stage's command line)."""

    def __init__(self, where: Path) -> None:
        self.root, self.bare, self.store = where / "proj", where / "origin.git", where / "store"
        self.marker = f"lode-contract-{uuid.uuid4().hex[:12]}"
        _run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], where)
        self.root.mkdir()
        _run(["git", "init", "-q", "-b", "main"], self.root)
        _run([sys.executable, "-m", "lode", "init", "-q"], self.root)
        _run([sys.executable, "-m", "lode", "remote", "add", "-d", "storage", str(self.store)],
             self.root)
        (self.root / "dvc.yaml").write_text(PIPELINE.replace("MARKER", self.marker))
        _run(["git", "add", "-A"], self.root)
        _run(["git", *GIT_ID, "commit", "-q", "-m", "the contract's pipeline"], self.root)
        _run(["git", "remote", "add", "origin", str(self.bare)], self.root)
        _run(["git", "push", "-q", "-u", "origin", "main"], self.root)
        self.rev = _run(["git", "rev-parse", "HEAD"], self.root).strip()

    def job(self, stage: str, upstream: list[str] | None = None, **kwargs) -> Job:
        """A job as the coordinator makes it (`upstream`: job ids to wait for)."""
        return Job(stage, stage, self.rev, str(self.bare), upstream=upstream, **kwargs)

    def running(self) -> bool:
        """Whether the slow stage's command runs on this machine."""
        return subprocess.run(["pgrep", "-f", self.marker],
                              capture_output=True).returncode == 0


def _run(argv: list[str], cwd: Path) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode:
        raise AssertionError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc.stdout


class Run:
    """The jobs of one test on a started executor; what is still active at the end is
    cancelled."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.active: set[str] = set()

    def submit(self, job: Job) -> str:
        job_id = self.executor.submit(job)
        assert isinstance(job_id, str) and job_id not in self.active
        self.active.add(job_id)
        return job_id

    def wait(self, ids: list[str], deadline: float = DEADLINE) -> dict[str, Ended]:
        """Every job of `ids` ended, by id (each reported exactly once)."""
        ended: dict[str, Ended] = {}
        until = time.monotonic() + deadline
        while len(ended) < len(ids):
            left = [i for i in ids if i not in ended]
            assert time.monotonic() < until, f"still active after {deadline:.0f} s: {left}"
            for end in self.executor.check(left, 2.0):
                assert end.job_id in left, f"{end.job_id} reported twice or never submitted"
                ended[end.job_id] = end
                self.active.discard(end.job_id)
        return ended


class ExecutorContract:
    """Subclass it (as `Test...`) and provide the `make_executor` fixture."""

    # whether the engine's workers run on this machine, so that the suite can see a
    # cancelled stage's command stop
    SAME_MACHINE = True

    @pytest.fixture
    def make_executor(self):
        raise NotImplementedError("an ExecutorContract subclass provides the "
                                  "'make_executor' fixture")

    @pytest.fixture
    def pipeline(self, tmp_path) -> Pipeline:
        return Pipeline(tmp_path)

    @pytest.fixture
    def run(self, make_executor, tmp_path):
        workdir = tmp_path / "executor-run"
        workdir.mkdir()
        executor = make_executor(str(workdir))
        executor.start()
        run = Run(executor)
        try:
            yield run
        finally:
            try:
                if run.active:  # nothing of a failed test keeps running on the engine
                    executor.cancel(sorted(run.active))
            finally:
                executor.close()

    # -- the tests ---------------------------------------------------------------------
    def test_registered_under_its_name(self, make_executor, tmp_path):
        executor = make_executor(str(tmp_path))
        assert isinstance(executor, load(executor.name))
        assert not executor.in_place  # only the local runner runs stages in place

    def test_unknown_options_are_refused(self, make_executor, tmp_path):
        cls = type(make_executor(str(tmp_path)))
        with pytest.raises(ExecutorError, match=f"executor '{cls.name}' has no option "
                                                "'no-such-option'"):
            cls({"no-such-option": "1"}, str(tmp_path))

    def test_a_stage_that_succeeds(self, run, pipeline):
        run.executor.check_resources(pipeline.job("ok"))
        job_id = run.submit(pipeline.job("ok"))
        (end,) = run.wait([job_id]).values()
        assert end.ok and not end.upstream_failed, end.error or end.log_tail
        assert end.result["stage"] == "ok" and end.result["rev"] == pipeline.rev
        assert end.result["status"] == "ran"
        assert [o["path"] for o in end.result["entry"]["outs"]] == ["ok.txt"]

    def test_a_downstream_stage_gets_its_upstream_result(self, run, pipeline):
        up = run.submit(pipeline.job("ok"))
        down = run.submit(pipeline.job("after_ok", upstream=[up]))
        ended = run.wait([up, down])
        assert ended[up].ok and ended[down].ok, ended[down].error or ended[down].log_tail
        made = ended[up].result["entry"]["outs"][0]["md5"]
        deps = {d["path"]: d["md5"] for d in ended[down].result["entry"]["deps"]}
        assert deps == {"ok.txt": made}  # it ran on what its upstream made

    def test_a_failing_stage_says_why_and_its_downstream_never_starts(self, run, pipeline):
        bad = run.submit(pipeline.job("bad"))
        after = run.submit(pipeline.job("after_bad", upstream=[bad]))
        good = run.submit(pipeline.job("ok"))
        ended = run.wait([bad, after, good])
        failed = ended[bad]
        assert not failed.ok and not failed.upstream_failed
        assert "exited with 3" in failed.error, failed.error
        assert "boom" in failed.log_tail  # the last lines the stage printed
        assert "boom" in failed.log  # and all of it, which the coordinator keeps
        assert not ended[after].ok and ended[after].upstream_failed
        assert ended[good].ok  # an independent stage is not stopped by the failure

    def test_check_waits_and_cancel_stops_a_running_stage(self, run, pipeline):
        job_id = run.submit(pipeline.job("slow"))
        if self.SAME_MACHINE:
            until = time.monotonic() + DEADLINE
            while not pipeline.running():  # its command has started on a worker
                assert not run.executor.check([job_id], 0.5), "the slow stage ended"
                assert time.monotonic() < until, "the slow stage never started"
        assert run.executor.check([job_id], 0.5) == []  # active: not reported
        run.executor.cancel([job_id])
        (end,) = run.wait([job_id], deadline=60).values()
        assert not end.ok
        if self.SAME_MACHINE:
            until = time.monotonic() + 30
            while pipeline.running():
                assert time.monotonic() < until, "the cancelled stage's command still runs"
                time.sleep(0.2)

