"""The Slurm cluster the Slurm executor's tests run on (a session fixture).

Uses the cluster of the environment when `SLURM_CONF` is set and `scontrol ping` answers
(.ci/run starts one with .ci/slurm-up.sh), else starts the private single-node cluster
of .ci/slurm-up.sh itself and stops it (by PID, .ci/slurm-down.sh) at the end of the
session, unless it was already running. Skips, with the reason, only when the cluster
cannot start (not root, packages missing, or .ci/run's `LODE_SLURM_UNAVAILABLE`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UP = REPO_ROOT / ".ci" / "slurm-up.sh"
DOWN = REPO_ROOT / ".ci" / "slurm-down.sh"
PACKAGES = "slurmctld slurmd slurm-client munge"


def controller_answers(conf: str) -> bool:
    """`scontrol ping` against `conf` (instant; squeue would hang ~9 s on a dead one)."""
    if not conf or not Path(conf).is_file():
        return False
    try:
        proc = subprocess.run(["scontrol", "ping"], env={**os.environ, "SLURM_CONF": conf},
                              capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "is UP" in proc.stdout


def _exports(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            out[key] = shlex.split(value)[0]
    return out


@pytest.fixture(scope="session")
def slurm_conf():
    """The path of a running cluster's slurm.conf, exported as SLURM_CONF for the session
    (sbatch, and so every job, inherits it)."""
    reason = os.environ.get("LODE_SLURM_UNAVAILABLE")
    if reason:
        pytest.skip(f"the Slurm cluster could not start: {reason}")
    missing = [c for c in ("sbatch", "slurmctld", "slurmd", "munged") if not shutil.which(c)]
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} missing): "
                    f"apt-get install {PACKAGES}")
    conf = os.environ.get("SLURM_CONF", "")
    if controller_answers(conf):
        yield conf
        return
    env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
    default = os.path.join(env.get("LODE_SLURM_DIR", "/tmp/lode-slurm"), "slurm.conf")
    was_up = controller_answers(default)
    proc = subprocess.run(["bash", str(UP)], env=env, capture_output=True, text=True,
                          timeout=180)
    if proc.returncode != 0:
        why = next((ln.split("ERROR: ", 1)[1] for ln in proc.stderr.splitlines()
                    if "ERROR: " in ln), proc.stderr.strip()[-300:])
        pytest.skip(f"the Slurm cluster cannot start: {why}")
    exports = _exports(proc.stdout)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in exports.items():
            mp.setenv(key, value)
        try:
            yield exports["SLURM_CONF"]
        finally:
            if not was_up:
                subprocess.run(["bash", str(DOWN), "--purge"], env={**env, **exports},
                               capture_output=True, timeout=120)
