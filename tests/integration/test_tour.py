"""The README's main job, run as a new user runs it: `bash pipelines/tour/run.sh`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_tour_runs_end_to_end(base_env, tmp_path):
    pytest.importorskip("sklearn", reason="the tour's churn pipeline needs the demo extra")
    work = tmp_path / "tour"
    env = dict(base_env)
    # this interpreter's `python3 -m lode` when no `lode` is on PATH, as on a fresh checkout
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(["bash", str(REPO_ROOT / "pipelines" / "tour" / "run.sh"), str(work)],
                          env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Tour finished" in proc.stdout and "Traceback" not in proc.stderr
    assert "is cached - skipping run" in proc.stdout  # the run cache restored train and eval
    clone = Path(f"{work}.clone")
    # the teammate's clone got data, model and the pipeline's outputs from the remote
    assert len(list((clone / "data" / "images").iterdir())) == 1000
    assert (clone / "churn" / "metrics.json").read_bytes() == \
        (work / "churn" / "metrics.json").read_bytes()
