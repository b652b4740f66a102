"""The remote stage protocol through the real CLI, without an engine: `lode stage run` as
a worker runs it (a clone of the bare repository, a local-directory data remote) and
`lode stage merge` as an exported workflow's last task runs it; and the small pure parts."""

from __future__ import annotations

import json

import pytest

from lode.ops.coordinator import _job_name, options
from lode.ops.settle import _differs
from lode.ops.worker import ProtocolError, read_result
from lode.pipeline.dvcfile import DvcfileError, _resources, mem_mib
from lode.plugins.executor import ExecutorError, Job
from tests.executors.conftest import git_out


def stage_run(lode, project, stage, rev, *args, check=True):
    return lode("stage", "run", stage, "--rev", rev, "--repo", project.bare, *args,
                cwd=project, check=check)


def remote_files(project) -> set[str]:
    from pathlib import Path

    return {str(p) for p in Path(project.store).rglob("*") if p.is_file()}


def test_a_worker_runs_restores_and_takes_upstream_results(lode, churn, tmp_path):
    project = churn()
    sha = git_out(project.root, "rev-parse", "HEAD")
    load = tmp_path / "load.json"
    stage_run(lode, project, "load", sha, "--result", load)
    doc = json.loads(load.read_text())
    assert doc["status"] == "ran" and doc["rev"] == sha and doc["protocol"] == 1
    assert [o["path"] for o in doc["entry"]["outs"]] == ["data/test.csv", "data/train.csv"]
    pushed = remote_files(project)
    assert any("/runs/" in p for p in pushed)  # the run-cache entry went up with the data

    # the same stage again, in another fresh clone: restored from the remote's run
    # cache, and nothing more moves
    again = json.loads(stage_run(lode, project, "load", sha, "--result", "-").stdout)
    assert again["status"] == "restored" and again["entry"] == doc["entry"]
    assert remote_files(project) == pushed

    # train reads load's output: the commit records no run of load, so without its
    # result the worker cannot know which data to pull
    proc = stage_run(lode, project, "train", sha, "--result", tmp_path / "t.json",
                     check=False)
    assert proc.returncode == 2
    assert "upstream stage 'load' are not recorded" in proc.stderr
    assert json.loads((tmp_path / "t.json").read_text())["status"] == "error"
    train = tmp_path / "train.json"
    stage_run(lode, project, "train", sha, "--upstream", load, "--result", train)
    assert json.loads(train.read_text())["status"] == "ran"

    # the coordinator's last step: merged in pipeline order whatever the argument order,
    # outputs fetched from the remote and checked out; eval, with no result, is named
    proc = lode("stage", "merge", f"train={train}", str(load), "eval=", cwd=project,
                check=False)
    assert proc.returncode == 1
    assert "stage 'eval' failed: no result" in proc.stdout
    lock = (project.root / "dvc.lock").read_text()
    assert lock.index("  load:") < lock.index("  train:") and "eval:" not in lock
    assert (project.root / "model.pkl").exists()
    status = lode("status", cwd=project).stdout
    assert "eval" in status and "load" not in status and "train:" not in status


def test_worker_refusals_are_sentences(lode, churn, tmp_path):
    project = churn()
    proc = stage_run(lode, project, "load", "0" * 40, check=False)
    assert proc.returncode == 2 and "is not in" in proc.stderr and "git push" in \
        proc.stderr
    sha = git_out(project.root, "rev-parse", "HEAD")
    proc = stage_run(lode, project, "nope", sha, check=False)
    assert proc.returncode == 2 and "nope" in proc.stderr
    proc = stage_run(lode, project, "train", sha, "--upstream", "{not json", check=False)
    assert proc.returncode == 2 and "not a stage result" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_read_result():
    doc = {"protocol": 1, "stage": "a", "status": "ran", "entry": {}}
    assert read_result(json.dumps(doc)) == doc
    for bad in ("[1]", json.dumps({**doc, "protocol": 9}), "/nonexistent/result.json"):
        with pytest.raises(ProtocolError):
            read_result(bad)


def test_job_argv_and_names():
    job = Job("sub/dvc.yaml:train@1", "train-1", "abc", "/git", remote="s3",
              upstream_results=['{"x": 1}'], force=True, run_cache=False)
    argv = job.argv("/spool/r.json", ["/spool/up.json"])
    assert argv[:4] == ["-m", "lode", "stage", "run"]
    assert argv[-2:] == ["--", "sub/dvc.yaml:train@1"]  # last: a name is never an option
    assert argv[argv.index("--remote") + 1] == "s3"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--upstream"] == [
        '{"x": 1}', "/spool/up.json"]
    assert "--force" in argv and "--no-run-cache" in argv


def test_job_names_are_safe_and_unique(tmp_path):
    from lode.pipeline.stage import Stage

    taken: set[str] = set()
    a = Stage("train@1", str(tmp_path / "sub" / "dvc.yaml"), str(tmp_path), "x")
    b = Stage("train_1", str(tmp_path / "sub" / "dvc.yaml"), str(tmp_path), "x")
    assert _job_name(a, str(tmp_path), taken) == "sub-dvc.yaml-train-1"
    assert _job_name(b, str(tmp_path), taken) == "sub-dvc.yaml-train_1"
    assert _job_name(a, str(tmp_path), taken) == "sub-dvc.yaml-train-1-2"


class FakeConfig:
    def __init__(self, repo: dict, local: dict) -> None:
        self.levels = {"repo": repo, "local": local}

    def level(self, name: str) -> dict:
        return self.levels[name]


class FakeRepo:
    def __init__(self, repo: dict, local: dict | None = None) -> None:
        self.config = FakeConfig(repo, local or {})


def test_executor_options_from_config_and_command_line():
    repo = FakeRepo({"feature": {"executor.name": "dask", "executor.address": "tcp://a:1",
                                 "notifier.slack.url": "x"}},
                    {"feature": {"executor.workers": "4"}})
    assert options(repo, [], None) == ("dask", {"address": "tcp://a:1", "workers": "4"})
    assert options(repo, ["workers=2"], "dask") == ("dask", {"address": "tcp://a:1",
                                                              "workers": "2"})
    # another executor than the configured one does not inherit its options
    assert options(repo, ["partition=gpu"], "slurm") == ("slurm", {"partition": "gpu"})
    assert options(FakeRepo({}), [], None) == ("local", {})
    with pytest.raises(ExecutorError, match="is not KEY=VALUE"):
        options(repo, ["workers"], None)


def test_resources_under_meta():
    assert _resources({"resources": {"cpus": 2, "mem": "4G", "gpus": 1}}, "s") == {
        "cpus": 2, "mem": "4G", "gpus": 1}
    assert _resources(None, "s") == {} and _resources({"owner": "x"}, "s") == {}
    for bad in ({"resources": {"cpu": 2}}, {"resources": {"cpus": "two"}},
                {"resources": {"mem": "lots"}}, {"resources": [1]}):
        with pytest.raises(DvcfileError):
            _resources(bad, "dvc.yaml: stage 's'")
    assert [mem_mib(v) for v in ("512M", "2G", "1.5GiB", 300, "1T")] == [
        512, 2048, 1536, 300, 1048576]


def test_merge_names_what_the_worker_saw_differently():
    dep = {"path": "a.csv", "hash": "md5", "md5": "1"}
    here = {"cmd": "x", "deps": [dep], "params": {}}
    assert _differs(dict(here), here) == ""
    assert _differs({**here, "deps": [{**dep, "md5": "2"}]}, here) == "deps a.csv"
    assert _differs({**here, "cmd": "y"}, here) == "cmd"


@pytest.mark.dvc
def test_executor_config_is_kept_where_dvc_accepts_it(lode, dvc, failing):
    lode("config", "executor.name", "dask", cwd=failing)
    lode("config", "--local", "executor.workers", "2", cwd=failing)
    assert "executor.name = dask" in (failing.root / ".dvc" / "config").read_text()
    listed = lode("config", "-l", cwd=failing).stdout
    assert "executor.name=dask" in listed and "executor.workers=2" in listed
    assert dvc("status", cwd=failing).returncode == 0  # DVC refuses unknown sections
    proc = lode("repro", "--executor-opt", "colour=red", cwd=failing, check=False)
    assert "executor 'dask' has no option 'colour'" in proc.stderr
