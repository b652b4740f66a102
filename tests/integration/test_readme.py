"""The README's first command, as a new user on a fresh machine runs it: a fresh virtual
environment, `pip install -e '.[demo]'`, then `bash pipelines/demo/run.sh`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _readme_first_command() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line.strip() for line in text.splitlines() if line.startswith("    python3 -m pip")]
    return commands[0]


def test_the_readme_main_job_runs_in_a_fresh_virtual_environment(base_env, tmp_path):
    command = _readme_first_command()
    assert "pipelines/demo/run.sh" in command
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = dict(base_env)
    env.pop("PYTHONPATH", None)  # lode must come from the venv's install, not this checkout
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # pip's download cache is the machine's (a fresh venv, not a fresh download of everything)
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR",
                                          str(Path.home() / ".cache" / "pip"))
    # the command as written, with the demo's files in the test's directory
    command = command.replace("pipelines/demo/run.sh", f"pipelines/demo/run.sh {tmp_path / 'demo'}")
    proc = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Demo finished" in proc.stdout and "Traceback" not in out
    lode_path = subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import lode; print(lode.__file__)"], env=env,
                               capture_output=True, text=True).stdout
    assert lode_path.startswith(str(REPO_ROOT))  # the editable install the README asks for
    assert (venv / "bin" / "lode").exists()
    origin = tmp_path / "demo" / "origin.git"
    log = subprocess.run(["git", "log", "--format=%s", "main"], cwd=origin,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log[0].startswith("[lode] compute_metrics: accuracy 0.788 → ")
    assert log[1] == "train.C 0.5 -> 0.05"
    assert "succeeded" in proc.stdout and "roc_auc" in proc.stdout
