"""`lode repro --executor dask`, for real: a LocalCluster of process workers started by
lode, each stage run by `lode stage run` in a clone of its own (never the project's
working tree), data only through the remote: a local directory, or a bucket on the moto
S3 server. The results must be what a local `lode repro` of the same commit writes."""

from __future__ import annotations

import json

import pytest

from lode.testing.executor import ExecutorContract
from tests.executors.conftest import WIDE, assert_bad_failed_alone, git_out
from tests.remotes.conftest import ENV

pytest.importorskip("distributed", reason="the Dask executor needs lode[dask]")


class TestContract(ExecutorContract):
    """The executor contract on a LocalCluster of two process workers, started by the
    executor as `lode repro --executor dask` starts it."""

    @pytest.fixture
    def make_executor(self):
        from lode_plugins.executors.dask import DaskExecutor

        return lambda workdir: DaskExecutor({"workers": "2"}, workdir)


def repro(lode, project, *args, check=True, env=None):
    return lode("repro", "--executor", "dask", *args, cwd=project, check=check,
                env=env)


def assert_clean(lode, project, env=None):
    assert lode("status", cwd=project, env=env).stdout.strip() == \
        "Data and pipelines are up to date."


@pytest.mark.dvc
def test_churn_through_dask_equals_a_local_run_then_restores_from_the_remote(
        lode, git, dvc, churn, local_lock):
    project = churn()
    proc = repro(lode, project)
    assert "Submitted stage 'train' (never ran; to dask)" in proc.stdout
    assert "Ran stage 'train'" in proc.stdout and "3 stages: 3 ran" in proc.stdout
    assert project.lock == local_lock(project)
    assert_clean(lode, project)
    assert dvc("status", cwd=project).stdout.strip() in ("Data and pipelines are up to date.",
                                                         "")
    # the workers' clones and caches are gone; the project's own working tree was never
    # a worker's: the only files it gained are the merged outputs
    assert sorted(git_out(project.root, "status", "--porcelain").splitlines()) == [
        "?? confusion.csv", "?? dvc.lock", "?? metrics.json"]

    # a teammate's commit changes a parameter, then reverts it: the second run restores
    # both stages from the remote's run cache (no command runs, no local run cache)
    git("add", "dvc.lock", "metrics.json", "confusion.csv", cwd=project)
    git("commit", "-q", "-m", "first run", cwd=project)
    params = project.root / "params.yaml"
    original = params.read_text()
    params.write_text(original.replace("C: 0.5", "C: 2.0"))
    git("commit", "-q", "-am", "C 2.0", cwd=project)
    git("push", "-q", cwd=project)
    assert "2 ran" in repro(lode, project).stdout
    params.write_text(original)
    git("commit", "-q", "-am", "C back", cwd=project)
    git("push", "-q", cwd=project)
    for runs in (project.root / ".dvc" / "cache" / "runs").iterdir():
        for entry in runs.rglob("*"):
            if entry.is_file():
                entry.unlink()
    proc = repro(lode, project)
    assert "1 skipped, 2 restored" in proc.stdout
    assert_clean(lode, project)
    assert git_out(project.root, "diff", "--stat", "HEAD~2", "--", "dvc.lock") == ""


def test_wide_pipeline_overlaps_and_equals_a_local_run(lode, wide, local_lock, tmp_path):
    times = tmp_path / "times"
    times.mkdir()
    proc = repro(lode, wide, "--executor-opt", "workers=2",
                 env={"LODE_TEST_TIMES": str(times)})
    assert f"{WIDE + 1} stages: {WIDE + 1} ran" in proc.stdout
    spans = sorted(tuple(map(float, (times / str(i)).read_text().split()))
                   for i in range(1, WIDE + 1))
    overlapping = sum(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert overlapping >= WIDE // 2 - 1, spans  # two workers: pairs run side by side
    assert wide.lock == local_lock(wide)
    assert_clean(lode, wide)
    assert json.loads((wide.root / "total.json").read_text()) == {"total": 288}


def test_a_failing_stage_stops_its_downstream_and_is_named(lode, failing):
    proc = repro(lode, failing, "-k", check=False)
    assert_bad_failed_alone(proc, failing)

    (failing.root / "dvc.lock").unlink()
    (failing.root / "ok.txt").unlink()
    proc = repro(lode, failing, check=False)  # without -k: nothing after the failure
    assert proc.returncode == 1 and "stage 'bad' failed" in proc.stderr
    assert "after_bad:" not in (failing.root / "dvc.lock").read_text() \
        if (failing.root / "dvc.lock").exists() else True


def test_churn_through_dask_on_s3(lode, churn, local_lock, s3_endpoint, s3_bucket,
                                  s3_client):
    project = churn(remote=f"s3://{s3_bucket}/store", env=ENV, endpoint=s3_endpoint)
    repro(lode, project, env=ENV)
    assert project.lock == local_lock(project, env=ENV)
    assert_clean(lode, project, env=ENV)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert sum(k.startswith("store/runs/") for k in keys) == 3


def test_refusals_are_sentences(lode, git, failing):
    proc = repro(lode, failing, "--executor-opt", "colour=blue", check=False)
    assert proc.returncode == 1 and "executor 'dask' has no option 'colour'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = lode("repro", "--executor", "nope", cwd=failing, check=False)
    assert "unknown executor 'nope'" in proc.stderr and "dask" in proc.stderr

    (failing.root / "params.yaml").write_text("x: 2\n")
    proc = repro(lode, failing, check=False)
    assert "uncommitted changes in params.yaml" in proc.stderr
    git("commit", "-q", "-am", "x 2", cwd=failing)
    proc = repro(lode, failing, check=False)
    assert "is not on the remote 'origin'" in proc.stderr and "git push" in proc.stderr

    # a relative data remote would be another directory in each worker's clone
    lode("remote", "add", "-d", "near", "../near-store", cwd=failing)
    git("commit", "-q", "-am", "a relative remote", cwd=failing)
    git("push", "-q", cwd=failing)
    proc = repro(lode, failing, check=False)
    assert "the data remote 'near' is a relative path" in proc.stderr
    assert f"lode remote modify near url {failing.root.parent / 'near-store'}" in proc.stderr


def test_a_recipe_runs_its_repro_through_dask_and_publishes(lode, git, churn, local_lock):
    project = churn()
    recipes = project.root / "recipes.yaml"
    recipes.write_text(recipes.read_text().replace(
        "  compute_metrics:\n", "  compute_metrics:\n    executor: {name: dask, workers: 2}\n",
        1))
    git("commit", "-q", "-am", "compute_metrics on Dask", cwd=project)
    git("push", "-q", cwd=project)
    proc = lode("run", "compute_metrics", cwd=project)
    assert "to dask" in proc.stdout and "compute_metrics succeeded" in proc.stdout
    # the recipe committed and pushed the lock Dask's workers made
    assert git_out(project.bare, "rev-parse", "main") == git_out(project.root, "rev-parse",
                                                                  "HEAD")
    assert project.lock == local_lock(project)


def test_a_running_scheduler_by_address_and_resources_it_cannot_meet(
        lode, git, failing, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.remotes.conftest import free_port

    port = free_port()
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}",
             "--nworkers", "1", "--nthreads", "1", "--resources", "cpus=1", "--no-dashboard",
             "--local-directory", str(tmp_path / "worker"), "--death-timeout", "20"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        address = f"address=tcp://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # until the worker has joined: a stage then has somewhere to run
            proc = lode("repro", "ok", "--executor", "dask", "--executor-opt", address,
                        cwd=failing, check=False)
            if proc.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert proc.returncode == 0, proc.stderr
        assert "Ran stage 'ok'" in proc.stdout and "ok:" in (failing.root / "dvc.lock").read_text()

        dvc_yaml = failing.root / "dvc.yaml"
        dvc_yaml.write_text(dvc_yaml.read_text().replace(
            "    outs: [ok.txt]", "    outs: [ok.txt]\n    meta: {resources: {cpus: 4}}"))
        (failing.root / "params.yaml").write_text("x: 2\n")
        git("commit", "-q", "-am", "ok wants 4 cpus", cwd=failing)
        git("push", "-q", cwd=failing)
        proc = lode("repro", "ok", "--executor", "dask", "--executor-opt", address,
                    cwd=failing, check=False)
        assert proc.returncode == 1
        assert "stage 'ok' asks for cpus=4, and no Dask worker has that much (the most is 1)" \
            in proc.stderr
    finally:
        for p in reversed(procs):  # workers first, then the scheduler; by PID
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=20)


def test_a_persistent_output_continues_on_the_worker(lode, git, new_project):
    project = new_project({
        "dvc.yaml": """\
            stages:
              count:
                cmd: python3 count.py
                deps: [params.yaml]
                outs:
                  - n.txt:
                      persist: true
            """,
        "count.py": """\
            import os
            n = int(open("n.txt").read()) if os.path.exists("n.txt") else 0
            open("n.txt", "w").write(str(n + 1))
            """,
        "params.yaml": "x: 1\n"})
    lode("repro", cwd=project)  # a local run first: n = 1
    git("add", "dvc.lock", cwd=project)
    git("commit", "-q", "-m", "first count", cwd=project)
    (project.root / "params.yaml").write_text("x: 2\n")
    git("commit", "-q", "-am", "x 2", cwd=project)
    git("push", "-q", cwd=project)
    repro(lode, project)
    assert (project.root / "n.txt").read_text() == "2"  # not 1: it continued
    assert_clean(lode, project)


def test_ctrl_c_cancels_the_run_and_stops_the_stage_on_its_worker(lode, new_project):
    import signal
    import subprocess
    import time
    import uuid

    marker = f"lode-ctrl-c-{uuid.uuid4().hex[:12]}"
    project = new_project({
        "dvc.yaml": f"""\
            stages:
              slow:
                cmd: python3 slow.py {marker}
                deps: [slow.py]
                outs: [out.txt]
            """,
        "slow.py": "import time\ntime.sleep(120)\nopen('out.txt', 'w').write('late')\n"})

    def running() -> bool:
        return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0

    proc = lode.popen("repro", "--executor", "dask", cwd=project)
    try:
        deadline = time.monotonic() + 60
        while not running():  # the stage's command has started on a worker
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err
    time.sleep(0.5)
    assert not running()  # no orphan left computing on the worker
    assert not (project.root / "dvc.lock").exists()


def test_tracked_data_is_pushed_for_the_workers_and_pulled_by_them(lode, git, new_project):
    project = new_project({
        "dvc.yaml": """\
            stages:
              count:
                cmd: python3 count.py
                deps: [count.py, images]
                outs: [count.txt]
            """,
        "count.py": "import os\nopen('count.txt', 'w').write(str(len(os.listdir('images'))))\n"})
    images = project.root / "images"
    images.mkdir()
    for i in range(5):
        (images / f"{i}.png").write_bytes(bytes([i]) * 100)
    lode("add", "images", cwd=project)  # tracked, never pushed by the user
    git("add", "images.dvc", ".gitignore", cwd=project)
    git("commit", "-q", "-m", "images", cwd=project)
    git("push", "-q", cwd=project)
    proc = repro(lode, project)
    assert "1 stages: 1 ran" in proc.stdout
    assert (project.root / "count.txt").read_text() == "5"
    assert_clean(lode, project)
    # the worker got the directory from the remote, so a fresh clone can pull it too
    clone = project.root.parent / "teammate"
    git("clone", "-q", "-b", "main", str(project.bare), str(clone), cwd=project.root.parent)
    lode("pull", cwd=clone)
    assert sorted(p.name for p in (clone / "images").iterdir()) == [f"{i}.png" for i in range(5)]
