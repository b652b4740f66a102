"""Helpers for the pipeline tests: small projects on disk, reading `lode repro`'s report,
a `doit` runner in the same scrubbed environment as `lode`, and the churn demo pipeline.

The tests define their fixtures from these functions (conftest.py stays shared).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHURN = REPO_ROOT / "templates" / "churn"
CHURN_FILES = ("dvc.yaml", "params.yaml", "load.py", "train.py", "eval.py")
DVC_CLEAN = "Data and pipelines are up to date."

_RUNNING = re.compile(r"^Running stage '([^']+)'", re.M)
_RESTORED = re.compile(r"^Stage '([^']+)' is cached - skipping run", re.M)
_SKIPPED = re.compile(r"^Stage '([^']+)' didn't change, skipping", re.M)


# ------------------------------------------------------------------------------- files


def write(root: Path, files: dict[str, str]) -> None:
    """Write `{relative path: text}` under root (text is dedented)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def project(lode, repo: Path, dvc_yaml: str, files: dict[str, str] | None = None) -> Path:
    """`lode init` in the git repository, then dvc.yaml and the other files."""
    lode("init", "-q", cwd=repo)
    write(repo, {"dvc.yaml": dvc_yaml, **(files or {})})
    return repo


def log_lines(log: Path) -> list[str]:
    """The lines stage commands appended to a run log (`echo NAME >> LOG`)."""
    return log.read_text().split() if log.exists() else []


def cache_snapshot(repo: Path) -> dict[str, str]:
    """sha256 of every file under .dvc/cache (objects and run-cache entries)."""
    cache = repo / ".dvc" / "cache"
    return {
        p.relative_to(cache).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(cache.rglob("*"))
        if p.is_file()
    }


def lock_stages(path: Path) -> list[str]:
    """Stage names in a dvc.lock, in file order; [] when there is none."""
    if not path.exists():
        return []
    return re.findall(r"^  (\S[^:\n]*):$", path.read_text(), re.M)


# ------------------------------------------------------------------------ repro output


def ran(proc: subprocess.CompletedProcess) -> list[str]:
    """Stages whose command `lode repro` / `dvc repro` ran, in the order they started."""
    return _RUNNING.findall(proc.stdout)


def restored(proc: subprocess.CompletedProcess) -> list[str]:
    """Stages restored from the run cache instead of being run."""
    return _RESTORED.findall(proc.stdout)


def skipped(proc: subprocess.CompletedProcess) -> list[str]:
    """Stages reported as unchanged."""
    return _SKIPPED.findall(proc.stdout)


def status_json(runner, repo: Path, *targets: str) -> dict:
    proc = runner("status", "--json", *targets, cwd=repo, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail(
            f"status --json printed no JSON (exit {proc.returncode})\n"
            f"stdout: {proc.stdout!r}\nstderr: {proc.stderr}"
        )


def assert_one_error(proc: subprocess.CompletedProcess) -> str:
    """A refused command: non-zero exit, exactly one `ERROR:` line, no traceback. The line."""
    assert proc.returncode != 0, proc
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


# --------------------------------------------------------------------------------- doit


def doit_runner(lode):
    """`python -m doit ...` with the same scrubbed environment (and PYTHONPATH) as `lode`."""
    return type(lode)([sys.executable, "-m", "doit"], lode.env, "doit")


# -------------------------------------------------------------------------------- churn


def churn_python(lode) -> str:
    """The interpreter the churn stage commands name (`python3 load.py`) as found on the
    PATH lode runs them with; skips the test when it cannot import scikit-learn."""
    cmds = re.findall(r"^\s*cmd:\s*(\S+)", (CHURN / "dvc.yaml").read_text(), re.M)
    names = set(cmds)
    assert len(names) == 1, f"the churn stages use several interpreters: {names}"
    exe = shutil.which(names.pop(), path=lode.env["PATH"])
    if exe is None:
        pytest.skip(f"{cmds[0]} is not on PATH: the churn pipeline cannot run")
    probe = subprocess.run(
        [exe, "-c", "import sklearn, numpy, yaml"],
        env=lode.env,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"{exe} cannot import scikit-learn (pip install -e '.[demo]')")
    return exe


def copy_churn(dest: Path, log: Path | None = None) -> Path:
    """The churn pipeline's files in `dest`; with `log`, each stage command first appends
    the stage's name to that file, so a test can see which commands really ran."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in CHURN_FILES:
        shutil.copy(CHURN / name, dest / name)
    if log is not None:
        text = (dest / "dvc.yaml").read_text()
        text, n = re.subn(
            r"^(\s*cmd:\s*)(\S+ (\w+)\.py)$",
            lambda m: f"{m[1]}echo {m[3]} >> {log} && {m[2]}",
            text,
            flags=re.M,
        )
        assert n == 3, text
        (dest / "dvc.yaml").write_text(text)
    return dest
