"""What the Slurm executor hands sbatch means exactly what it says: a spool directory with
`%` (sbatch's --output pattern syntax), spaces, quotes or `$(...)` in its name, and a
repository URL with shell syntax, reach the job unchanged (real cluster: slurm_cluster);
a spool with a backslash, which Slurm drops from the output path, is refused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lode_plugins.executors.slurm import SlurmExecutor, output_pattern, sbatch_argv

from lode.plugins.executor import ExecutorError, Job
from tests.executors.slurm_cluster import slurm_conf  # noqa: F401 - a fixture
from tests.executors.test_slurm import REV, STUB, TrackedSlurm, wait_all

TRICKY_URL = "file:///srv/$(touch /tmp/pwned)`id`;x'y\".git"


def test_output_pattern_keeps_percent_literal():
    assert output_pattern("/s/50%j/a.log") == "/s/50%%j/a.log"
    assert output_pattern("/plain/a.log") == "/plain/a.log"
    with pytest.raises(ExecutorError, match="holds a backslash"):
        output_pattern("/s\\x/5%j.log")


def test_a_spool_with_a_backslash_is_refused(tmp_path):
    with pytest.raises(ExecutorError, match="holds a backslash") as info:
        SlurmExecutor({"spool": str(tmp_path / "a\\b")}, str(tmp_path))
    assert "executor.spool" in info.value.hint


def test_the_wrapped_command_is_quoted_word_by_word():
    job = Job("st", "st", REV, TRICKY_URL, remote="store")
    argv = sbatch_argv(job, "/sp ool/50%x", "/opt/py thon", {}, [], [])
    assert "--output=/sp ool/50%%x/st.log" in argv
    import shlex

    words = shlex.split(argv[-1])
    assert words[0] == "/opt/py thon" and TRICKY_URL in words
    assert words[words.index("--result") + 1] == "/sp ool/50%x/st.json"


@pytest.mark.parametrize("name", ["50%j %x%%", "q 'q' \"d\" $(x)"])
def test_a_job_in_a_tricky_spool_logs_where_it_is_told(slurm_conf, tmp_path, name):  # noqa: F811
    spool = tmp_path / name
    spool.mkdir()
    stub = tmp_path / "stub.py"
    stub.write_text(STUB.format(python=sys.executable))
    stub.chmod(0o755)
    ex = TrackedSlurm({"python": str(stub)}, str(spool))
    ex.start()
    try:
        job_id = ex.submit(Job("ok-a", "ok-a", REV, TRICKY_URL, remote="store"))
        [ended] = wait_all(ex, [job_id]).values()
    finally:
        ex.cancel(ex.submitted)
    assert ended.ok, ended.error
    assert ended.result["cwd"] == str(spool)
    assert "stub: running ok-a" in (spool / "ok-a.log").read_text()
    assert sorted(p.name for p in spool.iterdir()) == ["ok-a.json", "ok-a.log"]
    assert not Path("/tmp/pwned").exists()
