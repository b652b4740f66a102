"""Malformed input through the real CLI: one `ERROR:` line naming the file and the
problem, a non-zero exit, no traceback, nothing written; duplicate keys refused where the
real dvc refuses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli_errors import assert_user_error, files_under

DVC_YAML = ("stages:\n  s:\n    cmd: echo hi > out.txt\n    params:\n    - a\n"
            "    outs:\n    - out.txt\n")


def laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def repo(git_repo, lode):
    lode("init", cwd=git_repo)
    (git_repo / "dvc.yaml").write_text(DVC_YAML)
    (git_repo / "params.yaml").write_text("a: 1\n")
    return git_repo


def refused(lode, repo: Path, args: list[str], *mentions: str) -> None:
    before = files_under(repo)
    proc = lode(*args, cwd=repo, check=False)
    assert_user_error(proc)
    first = proc.stderr.splitlines()[0]
    for word in mentions:
        assert word in first, proc.stderr
    assert files_under(repo) == before, "something was written"


# (file, bytes, what the sentence must say)
PIPELINE_CASES = [
    ("params.yaml", b"a: 1\na: 2\n", ["params.yaml", "line 2", "duplicate key 'a'"]),
    ("params.yaml", laughs().encode(), ["params.yaml", "alias bomb"]),
    ("params.yaml", b"a: &x [*x]\n", ["params.yaml", "recursive alias"]),
    ("params.yaml", b"a: " + b"[" * 200_000 + b"]" * 200_000, ["params.yaml", "levels deep"]),
    ("params.yaml", b"a: \xff\n", ["params.yaml", "not UTF-8", "line 1"]),
    ("params.yaml", b"a: 1\x00\n", ["params.yaml", "NUL"]),
    ("params.yaml", b'a: "\\ud800"\n', ["params.yaml", "line 1"]),
    ("dvc.yaml", DVC_YAML.replace("    params:", "    cmd: again\n    params:").encode(),
     ["dvc.yaml", "line 4", "duplicate key 'cmd'"]),
    ("dvc.yaml", b"vars:\n- &v {a: *v}\n" + DVC_YAML.encode(), ["dvc.yaml", "recursive alias"]),
    ("dvc.yaml", b"stages: " + b"{s: " * 100_000, ["dvc.yaml", "levels deep"]),
    ("dvc.yaml", laughs().encode() + DVC_YAML.encode(), ["dvc.yaml", "alias bomb"]),
    ("dvc.yaml", DVC_YAML.replace("echo hi", "echo \xff").encode("latin-1"),
     ["dvc.yaml", "not UTF-8"]),
    ("dvc.lock", b"schema: '2.0'\nstages:\n  s:\n    cmd: a\n    cmd: b\n", ["dvc.lock", "line 5"]),
    ("dvc.lock", b"schema: '2.0'\nstages: &s {s: *s}\n", ["dvc.lock"]),
    (".dvcignore", b"*.tmp\n\xfe\n", [".dvcignore", "line 2", "not UTF-8"]),
]


@pytest.mark.parametrize("command", [["repro"], ["status"]])
@pytest.mark.parametrize("name,data,says", PIPELINE_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PIPELINE_CASES)])
def test_a_malformed_pipeline_file_is_one_sentence(repo, lode, command, name, data, says):
    (repo / name).write_bytes(data)
    refused(lode, repo, command, *says)


@pytest.mark.parametrize("name,data,says", [
    ("params.json", b'{"a": "\\ud800"}', ["params.json", "lone surrogate"]),
    ("params.json", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     ["params.json", "levels deep"]),
    ("params.toml", b"a = 1\na = 2\n", ["params.toml", "malformed"]),
    ("params.py", b'a = "\\ud800"\n', ["params.py", "lone surrogate"]),
], ids=["json-surrogate", "json-deep", "toml-duplicate", "py-surrogate"])
def test_other_params_formats_are_refused_before_any_run(repo, lode, name, data, says):
    (repo / name).write_bytes(data)
    (repo / "dvc.yaml").write_text(DVC_YAML.replace("    - a\n", f"    - {name}:\n      - a\n"))
    refused(lode, repo, ["repro"], *says)
    assert not (repo / "dvc.lock").exists()


def test_params_diff_names_a_malformed_params_file(repo, lode, git):
    lode("repro", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "ran", cwd=repo)
    (repo / "params.yaml").write_text("a: 1\na: 2\n")
    proc = lode("params", "diff", cwd=repo, check=False)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "duplicate key 'a'" in proc.stderr + proc.stdout, proc


@pytest.mark.parametrize("data,says", [
    (b"recipes:\n  r:\n    desc: a\n    desc: b\n", ["recipes.yaml", "line 4", "'desc'"]),
    (b"recipes:\n  r:\n    desc: \xff\n", ["recipes.yaml", "not UTF-8", "line 3"]),
    (laughs().encode(), ["recipes.yaml", "alias bomb"]),
    (b"recipes: " + b"[" * 200_000, ["recipes.yaml", "levels deep"]),
], ids=["duplicate", "utf8", "bomb", "deep"])
def test_a_malformed_recipes_file_is_one_sentence(repo, lode, data, says):
    (repo / "recipes.yaml").write_bytes(data)
    refused(lode, repo, ["run", "r"], *says)


@pytest.mark.parametrize("name,data,says", [
    ("config", b"[core]\n    remote = \xff\n", [".dvc/config", "line 2", "not UTF-8"]),
    ("config.local", b"[core]\n    remote = a\x00b\n", [".dvc/config.local", "line 2", "NUL"]),
], ids=["utf8", "nul"])
def test_a_malformed_config_is_one_sentence(repo, lode, name, data, says):
    (repo / ".dvc" / name).write_bytes(data)
    refused(lode, repo, ["config", "-l"], *says)


def test_a_malformed_dvcignore_stops_add_before_anything_is_cached(repo, lode):
    (repo / "d").mkdir()
    (repo / "d" / "f").write_text("x\n")
    (repo / ".dvcignore").write_bytes(b"ok\n!\n")
    refused(lode, repo, ["add", "d"], ".dvcignore", "'!'")
    assert not (repo / "d.dvc").exists()


@pytest.mark.parametrize("name,data,says", [
    ("dvc.yaml", DVC_YAML.replace("    params:", "    cmd: again\n    params:"), "duplicate key"),
    # lode.store.lockfile names the line only
    ("dvc.lock", "schema: '2.0'\nstages:\n  s:\n    cmd: a\n    cmd: b\n", "line 5"),
    ("params.yaml", "a: 1\na: 2\n", "duplicate key"),
], ids=["dvc.yaml", "dvc.lock", "params.yaml"])
def test_duplicate_keys_are_refused_where_dvc_refuses_them(repo, lode, dvc, name, data, says):
    (repo / name).write_text(data)
    ours = lode("status", cwd=repo, check=False)
    theirs = dvc("repro", cwd=repo, check=False)
    assert_user_error(ours, mentions=says)
    assert theirs.returncode != 0 and "duplicate key" in (theirs.stderr + theirs.stdout).lower()
    assert not (repo / "out.txt").exists()
