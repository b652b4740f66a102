"""Projects for the executor tests: each with a bare Git repository as its `origin` (what
workers clone) and a data remote (a local directory, or a bucket on the moto server).

- ``churn``: the churn template, committed and pushed.
- ``wide``: eight independent 2-second stages (a `foreach`), and one that gathers them;
  each records when it started and ended under ``$LODE_TEST_TIMES`` (outside its outputs,
  which stay deterministic).
- ``failing``: `ok` (independent), `bad` (prints `boom`, exits 3), `after_bad` (reads
  `bad`'s output).
- ``local_lock(project)``: dvc.lock as a plain local `lode repro` of the same commit
  writes it, in a fresh clone.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

# the moto S3 server of the remote tests (one per session in this directory too)
from tests.remotes.conftest import s3_bucket, s3_client, s3_endpoint  # noqa: F401

WIDE = 8

WIDE_DVC = """\
stages:
  work:
    foreach: [1, 2, 3, 4, 5, 6, 7, 8]
    do:
      cmd: python3 work.py ${item}
      deps: [work.py]
      outs:
        - out/${item}.txt
  gather:
    cmd: python3 gather.py
    deps: [gather.py, out/1.txt, out/2.txt, out/3.txt, out/4.txt, out/5.txt, out/6.txt,
           out/7.txt, out/8.txt]
    metrics:
      - total.json:
          cache: false
"""

WORK_PY = """\
import os, sys, time
item = sys.argv[1]
times = os.environ.get("LODE_TEST_TIMES")
start = time.time()
time.sleep(2)
os.makedirs("out", exist_ok=True)
with open(f"out/{item}.txt", "w") as f:
    f.write(f"stage {item}\\n" * int(item))
if times:
    with open(os.path.join(times, item), "w") as f:
        f.write(f"{start} {time.time()}")
"""

GATHER_PY = """\
import json, os
total = sum(len(open(os.path.join("out", n)).read()) for n in sorted(os.listdir("out")))
with open("total.json", "w") as f:
    json.dump({"total": total}, f)
"""

FAILING_DVC = """\
stages:
  ok:
    cmd: python3 -c "open('ok.txt', 'w').write('fine')"
    deps: [params.yaml]
    outs: [ok.txt]
  bad:
    cmd: python3 -c "print('boom'); raise SystemExit(3)"
    deps: [params.yaml]
    outs: [bad.txt]
  after_bad:
    cmd: cp bad.txt after.txt
    deps: [bad.txt]
    outs: [after.txt]
"""


class Project:
    def __init__(self, root: Path, bare: Path, store: str) -> None:
        self.root, self.bare, self.store = root, bare, store

    def __fspath__(self) -> str:
        return str(self.root)

    __str__ = __fspath__

    @property
    def lock(self) -> bytes:
        return (self.root / "dvc.lock").read_bytes()


def _push(git, proj: Path) -> None:
    git("push", "-q", "-u", "origin", "main", cwd=proj)


@pytest.fixture
def new_project(lode, git, tmp_path):
    """new_project(files, remote=None, env=None) -> Project: lode init, the files
    committed, pushed to a bare `origin`."""

    def make(files: dict[str, str], remote: str | None = None,
             env: dict | None = None) -> Project:
        bare = tmp_path / "origin.git"
        git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
        proj = tmp_path / "proj"
        proj.mkdir()
        git("init", "-q", "-b", "main", cwd=proj)
        git("remote", "add", "origin", str(bare), cwd=proj)
        lode("init", cwd=proj)
        store = remote or str(tmp_path / "store")
        lode("remote", "add", "-d", "storage", store, cwd=proj, env=env)
        for name, text in files.items():
            path = proj / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        git("add", "-A", cwd=proj)
        git("commit", "-q", "-m", "the project", cwd=proj)
        _push(git, proj)
        return Project(proj, bare, store)

    return make


@pytest.fixture
def churn(lode, git, tmp_path):
    """churn(remote=None, env=None) -> Project from the churn template."""
    pytest.importorskip("sklearn", reason="the churn pipeline needs the demo extra")

    def make(remote: str | None = None, env: dict | None = None,
             endpoint: str | None = None) -> Project:
        bare = tmp_path / "origin.git"
        git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
        proj = tmp_path / "churn"
        store = remote or str(tmp_path / "store")
        lode("init", "--template", "churn", str(proj), "--git-remote", str(bare),
             "--data-remote", store, cwd=tmp_path, env=env)
        if endpoint:
            lode("remote", "modify", "storage", "endpointurl", endpoint, cwd=proj)
            git("commit", "-q", "-am", "the team's S3 endpoint", cwd=proj)
        _push(git, proj)
        return Project(proj, bare, store)

    return make


@pytest.fixture
def wide(new_project):
    return new_project({"dvc.yaml": WIDE_DVC, "work.py": WORK_PY, "gather.py": GATHER_PY})


@pytest.fixture
def failing(new_project):
    return new_project({"dvc.yaml": FAILING_DVC, "params.yaml": "x: 1\n"})


@pytest.fixture
def local_lock(lode, git, tmp_path):
    """local_lock(project) -> dvc.lock bytes of a local `lode repro` in a fresh clone."""

    def make(project: Project, env: dict | None = None) -> bytes:
        clone = tmp_path / "local-clone"
        git("clone", "-q", "-b", "main", str(project.bare), str(clone), cwd=tmp_path)
        lode("repro", "-q", cwd=clone, env=env)
        return (clone / "dvc.lock").read_bytes()

    return make


def git_out(cwd, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


def assert_bad_failed_alone(proc, project: Project) -> None:
    """What a `-k` run of the `failing` project must leave, whatever the executor: `bad`
    named with its last output and its whole log kept, `after_bad` never started (and not
    a failure of its own), `ok` recorded."""
    assert proc.returncode == 1
    assert "stage 'bad' failed" in proc.stderr and "exited with 3" in proc.stderr
    assert "boom" in proc.stderr  # the log tail
    assert "after_bad" not in proc.stderr
    assert "Traceback" not in proc.stderr
    log = project.root / ".dvc" / "tmp" / "lode" / "logs" / "bad.log"
    assert "boom" in log.read_text()  # the worker's own files are gone with it
    assert "All of it: .dvc/tmp/lode/logs/bad.log" in proc.stderr
    lock = (project.root / "dvc.lock").read_text()
    assert "ok:" in lock and "bad:" not in lock
    assert not (project.root / "after.txt").exists()
