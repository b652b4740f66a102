"""The lode project's own developer tasks, run with doit (a dependency of lode):

    doit list                       # the tasks, one line each
    doit lint                       # ruff, then the import layers (lint-imports)
    doit test                       # the whole test suite
    doit test -- -x tests/unit      # pytest's arguments after `--`
    doit test_dvc                   # the interoperability tests with the real dvc
    doit bench --scale quick --only startup,status-noop

`bash .ci/run` installs everything these need and runs `doit lint`, `doit slurm_up`,
`doit test` and `doit slurm_down`. Every task runs from this directory, whatever the
caller's. The lode repository is not itself a lode project (no .dvc/), so this file is
only ever read by `doit`, never by lode's pipeline machinery.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from doit.exceptions import TaskFailed

ROOT = Path(__file__).resolve().parent
PYTHON = sys.executable
LINTED = ["lode", "tests", "plugins", "templates", "dodo.py"]
DVC_VENV = Path(os.environ.get("LODE_TEST_DVC_VENV",
                               Path.home() / ".cache" / "lode-test" / "dvc-venv"))
SLURM_DIR = Path(os.environ.get("LODE_SLURM_DIR", "/tmp/lode-slurm"))
# where `doit slurm_up` leaves the cluster's `export` lines for a shell to eval
SLURM_ENV = SLURM_DIR / "env.sh"
BENCH = Path(os.environ.get("LODE_BENCH", ROOT.parent / "shared" / "bench" / "bench.py"))

# doit's record of task runs goes under build/ (ignored by Git) instead of the top level.
# None of these tasks has file dependencies: each runs whenever it is asked for.
(ROOT / "build").mkdir(exist_ok=True)
DOIT_CONFIG = {
    "default_tasks": ["lint"],
    "backend": "json",
    "dep_file": str(ROOT / "build" / "doit-tasks.json"),
    "verbosity": 2,
}


def _run(argv: list[str], env: dict[str, str] | None = None) -> TaskFailed | None:
    """Run one command in the checkout, output straight to the terminal."""
    print("$", shlex.join(argv), flush=True)
    try:
        rc = subprocess.run(argv, cwd=ROOT, env={**os.environ, **(env or {})}).returncode
    except FileNotFoundError as e:
        return TaskFailed(f"{argv[0]}: not found ({e.strerror}); `bash .ci/run` installs it")
    if rc:
        return TaskFailed(f"{shlex.join(argv)} exited with {rc}")
    return None


def _pytest(args: list[str], env: dict[str, str] | None = None) -> TaskFailed | None:
    argv = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    print("$", shlex.join(argv), flush=True)
    rc = subprocess.run(argv, cwd=ROOT, env={**os.environ, **(env or {})}).returncode
    if rc == 5:  # a typo in a path or -k selects nothing: that is not a pass
        return TaskFailed("pytest collected no tests")
    if rc:
        return TaskFailed(f"pytest exited with {rc}")
    return None


def _dvc_env() -> dict[str, str]:
    """LODE_DVC for the interoperability tests: the caller's, else the side venv's."""
    dvc = DVC_VENV / "bin" / "dvc"
    env = {"DVC_NO_ANALYTICS": "1"}
    if "LODE_DVC" not in os.environ and dvc.exists():
        env["LODE_DVC"] = str(dvc)
    return env


def task_lint():
    """ruff on lode, tests, plugins and templates; then lint-imports (the layers)."""

    def lint() -> TaskFailed | None:
        failed = _run([PYTHON, "-m", "ruff", "check", *LINTED])
        # the console script may live beside another python than this one: call it here
        layers = _run([PYTHON, "-c", "import sys; from importlinter.cli import "
                       "lint_imports_command; sys.exit(lint_imports_command())"])
        return failed or layers

    return {"actions": [lint]}


def task_test():
    """pytest, the whole suite (arguments after `--` go to pytest: doit test -- -x tests/unit)."""

    def test(args: list[str]) -> TaskFailed | None:
        return _pytest(args, _dvc_env())

    return {"actions": [test], "pos_arg": "args"}


def task_test_dvc():
    """The interoperability tests with the real dvc (marked `dvc`), in its side venv."""

    def test_dvc(args: list[str]) -> TaskFailed | None:
        env = _dvc_env()
        if "LODE_DVC" not in env and "LODE_DVC" not in os.environ:
            return TaskFailed(f"no dvc in {DVC_VENV}: set LODE_DVC or run `bash .ci/run`")
        return _pytest(["-m", "dvc", *args], env)

    return {"actions": [test_dvc], "pos_arg": "args"}


def _script(path: str, what: str) -> dict:
    """A task running a pipelines/ script, with its optional DIR as --dir."""
    return {"actions": [lambda dir: _run(["bash", path, *([dir] if dir else [])])],
            "params": [{"name": "dir", "long": "dir", "default": "",
                        "help": f"a fresh directory for the {what}'s files "
                                "(default: a temporary one)"}]}


def task_demo():
    """The README's main job: a team recipe end to end (pipelines/demo/run.sh)."""
    return _script("pipelines/demo/run.sh", "demo")


def task_tour():
    """A longer tour of the data layer (pipelines/tour/run.sh)."""
    return _script("pipelines/tour/run.sh", "tour")


def task_bench():
    """The benchmarks against dvc (../shared/bench/bench.py), of the installed lode."""

    def bench(scale: str, only: str, runs: str) -> TaskFailed | None:
        if not BENCH.is_file():
            return TaskFailed(f"{BENCH} not found: set LODE_BENCH to bench.py's path")
        argv = [PYTHON, str(BENCH), "--tool", "lode", "--scale", scale]
        argv += ["--only", only] if only else []
        argv += ["--runs", runs] if runs else []
        return _run(argv)

    return {"actions": [bench],
            "params": [{"name": "scale", "long": "scale", "default": "quick",
                        "choices": [(s, "") for s in ("quick", "full", "large", "huge")],
                        "help": "fixture sizes (default: quick)"},
                       {"name": "only", "long": "only", "default": "",
                        "help": "comma-separated workloads (default: all)"},
                       {"name": "runs", "long": "runs", "default": "",
                        "help": "timed runs per tool and workload (default: bench.py's)"}]}


def task_slurm_up():
    """Start the private single-node Slurm cluster on 127.0.0.1 (.ci/slurm-up.sh)."""

    def up() -> TaskFailed | None:
        print("$ bash .ci/slurm-up.sh", flush=True)
        # stdout holds only the `export` lines; the reason of a failure is on stderr
        proc = subprocess.run(["bash", ".ci/slurm-up.sh"], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
        if proc.returncode:
            return TaskFailed(".ci/slurm-up.sh failed (its reason is above)")
        SLURM_ENV.parent.mkdir(parents=True, exist_ok=True)
        SLURM_ENV.write_text(proc.stdout, encoding="utf-8")
        print(f"the cluster is up; for sbatch and the tests: eval \"$(cat {SLURM_ENV})\"")
        return None

    return {"actions": [up]}


def task_slurm_down():
    """Stop slurm_up's cluster by the PIDs in its pid files (.ci/slurm-down.sh)."""
    return {"actions": [lambda purge: _run(["bash", ".ci/slurm-down.sh",
                                            *(["--purge"] if purge else [])])],
            "params": [{"name": "purge", "long": "purge", "type": bool, "default": False,
                        "help": f"also delete {SLURM_DIR}"}]}
