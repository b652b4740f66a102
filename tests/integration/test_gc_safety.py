"""`lode gc` never deletes on doubt, through the real CLI on real Git repositories: a file
that could reference data and cannot be read whole (conflict markers from a real merge, a
malformed pointer in an older revision, a bad md5, an unreadable revision or directory, a
broken run-cache entry), a referenced manifest missing or corrupt, or a remote key that is
not an object's, stops every scope (with and without -c, --dry too) before anything is
removed: one ERROR line naming the file, a non-zero exit, every object still there."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

PIPELINE = (
    "stages:\n"
    "  train:\n"
    "    cmd: cat params.yaml raw.txt > model.txt\n"
    "    deps: [raw.txt]\n"
    "    params: [seed]\n"
    "    outs: [model.txt]\n"
)
SCOPES = (["-w"], ["-a"], ["-T"], ["-A"])


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def objects(root: Path) -> dict[str, bytes]:
    """Every object under `root` (a cache or a remote) by its key, with its bytes."""
    base = root / "files" / "md5"
    if not base.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*")) if p.is_file()}


def cache(repo: Path) -> Path:
    return repo / ".dvc" / "cache"


def obj(repo: Path, h: str) -> Path:
    return cache(repo) / "files" / "md5" / h[:2] / h[2:]


def assert_refused(proc, *names: str) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1, proc.stderr
    for name in names:
        assert name in errors[0], errors[0]
    assert "Removed" not in proc.stdout
    return errors[0]


def gc_variants(lode, repo: Path, scopes=SCOPES, cloud: bool = False):
    """Run every scope, forced and --dry; yield each result."""
    for scope in scopes:
        for mode in ("-f", "--dry"):
            yield lode("gc", *scope, *(["-c"] if cloud else []), mode, cwd=repo, check=False)


@pytest.fixture
def project(git_repo, lode, git, tmp_path):
    """raw.txt and data/ tracked by pointers, model.txt made by a stage, a local remote
    holding everything, all committed and tagged v1."""
    repo = git_repo
    lode("init", cwd=repo)
    (repo / "raw.txt").write_text("raw v1\n")
    (repo / "data" / "sub").mkdir(parents=True)
    (repo / "data" / "a.txt").write_text("a\n")
    (repo / "data" / "sub" / "b.txt").write_text("b\n")
    (repo / "params.yaml").write_text("seed: 0\n")
    (repo / "dvc.yaml").write_text(PIPELINE)
    lode("add", "raw.txt", "data", cwd=repo)
    lode("repro", cwd=repo)
    lode("remote", "add", "-d", "store", str(tmp_path / "remote"), cwd=repo)
    lode("push", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "v1", cwd=repo)
    git("tag", "v1", cwd=repo)
    return repo


def branch_with_seed(lode, git, repo: Path, name: str, seed: int) -> None:
    git("checkout", "-qb", name, "main", cwd=repo)
    lode("checkout", "--force", cwd=repo)
    (repo / "params.yaml").write_text(f"seed: {seed}\n")
    lode("repro", cwd=repo)
    lode("push", cwd=repo)
    git("commit", "-qam", f"seed {seed}", cwd=repo)


def test_conflict_markers_from_a_real_merge_stop_every_scope(project, lode, git, tmp_path):
    repo = project
    branch_with_seed(lode, git, repo, "left", 1)
    branch_with_seed(lode, git, repo, "right", 2)
    git("checkout", "-q", "left", cwd=repo)
    lode("checkout", "--force", cwd=repo)
    merge = git("merge", "right", cwd=repo, check=False)
    assert merge.returncode != 0 and "dvc.lock" in merge.stdout  # a real conflict
    assert "<<<<<<<" in (repo / "dvc.lock").read_text()
    right_model = md5(b"seed: 2\nraw v1\n")
    assert obj(repo, right_model).exists()  # named only by the conflicted dvc.lock's side
    before, remote_before = objects(cache(repo)), objects(tmp_path / "remote")
    for proc in gc_variants(lode, repo):
        error = assert_refused(proc, "dvc.lock")
        assert "conflict markers" in error and "line " in error
    for proc in gc_variants(lode, repo, cloud=True):
        assert_refused(proc, "dvc.lock", "conflict markers")
    assert objects(cache(repo)) == before
    assert objects(tmp_path / "remote") == remote_before
    # once the conflict is resolved, gc runs (and keeps what the resolved lock names)
    git("checkout", "--theirs", "dvc.lock", "params.yaml", cwd=repo)
    lode("gc", "-w", "-f", cwd=repo)
    assert obj(repo, right_model).exists()


def test_a_malformed_pointer_in_an_older_revision_stops_history_scopes(project, lode, git,
                                                                        tmp_path):
    repo = project
    git("checkout", "-qb", "old", cwd=repo)
    good = (repo / "raw.txt.dvc").read_text()
    (repo / "raw.txt.dvc").write_text(good.replace("md5: ", "md5: ../../../", 1))
    git("commit", "-qam", "a pointer nobody can read", cwd=repo)
    git("tag", "broken", cwd=repo)
    sha = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    git("checkout", "-q", "main", cwd=repo)
    (repo / "raw.txt").chmod(0o644)
    (repo / "raw.txt").write_text("raw v2\n")
    lode("add", "raw.txt", cwd=repo)  # raw v1 now lives only in history
    git("commit", "-qam", "raw v2", cwd=repo)
    git("tag", "-d", "v1", cwd=repo)
    before, remote_before = objects(cache(repo)), objects(tmp_path / "remote")
    for scope, name in ((["-a"], "'old'"), (["-T"], "'broken'"), (["-A"], sha)):
        for proc in gc_variants(lode, repo, [scope]):
            assert_refused(proc, "raw.txt.dvc", name, "not an md5")
        for proc in gc_variants(lode, repo, [scope], cloud=True):
            assert_refused(proc, "raw.txt.dvc", name)
    assert objects(cache(repo)) == before
    assert objects(tmp_path / "remote") == remote_before
    # the workspace alone is sound: -w collects what only history named
    lode("gc", "-w", "-f", cwd=repo)
    assert not obj(repo, md5(b"raw v1\n")).exists()
    assert obj(repo, md5(b"raw v2\n")).exists()


def test_an_unreadable_revision_stops_gc(project, lode, git):
    repo = project
    git("checkout", "-qb", "lost", cwd=repo)
    (repo / "only-here.txt").write_text("a tree no other commit has\n")
    git("add", "only-here.txt", cwd=repo)
    git("commit", "-qm", "lost tree", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    tree = git("rev-parse", "lost^{tree}", cwd=repo).stdout.strip()
    loose = repo / ".git" / "objects" / tree[:2] / tree[2:]
    assert loose.exists()
    loose.unlink()  # as a broken clone or disk leaves it
    sha = git("rev-parse", "lost", cwd=repo).stdout.strip()
    before = objects(cache(repo))
    for scope, name in ((["-a"], "'lost'"), (["-A"], sha)):
        for proc in gc_variants(lode, repo, [scope]):
            assert_refused(proc, "cannot read revision", name, "fatal:")
    assert objects(cache(repo)) == before
    lode("gc", "-w", "--dry", cwd=repo)  # the workspace needs no history


@pytest.mark.parametrize("lock_text, problem", [
    ("schema: '2.0'\nstages:\n  train:\n    cmd: x\n    outs:\n    - path: model.txt\n"
     "      hash: md5\n      md5: 0123\n", "not an md5"),
    ("schema: '2.0'\nstages:\n  train: [not, a, mapping]\n", "mapping"),
    ("schema: '2.0'\nstages:\n  train:\n    outs: {path: model.txt}\n", "list"),
    ("schema: '2.0'\nstages:\n  train:\n    cmd: x\n  outs: [\n", "not valid YAML"),
    ("schema: '9.9'\nstages: {}\n", "schema"),
])
def test_a_lock_file_that_cannot_be_read_whole_stops_gc(project, lode, lock_text, problem):
    repo = project
    (repo / "dvc.lock").write_text(lock_text)
    before = objects(cache(repo))
    for proc in gc_variants(lode, repo, (["-w"], ["-a"])):
        assert_refused(proc, "dvc.lock", problem)
    assert objects(cache(repo)) == before


def test_a_malformed_dvc_yaml_or_pointer_in_the_workspace_stops_gc(project, lode):
    repo = project
    before = objects(cache(repo))
    (repo / "dvc.yaml").write_text(PIPELINE + "  oops: [\n")
    for proc in gc_variants(lode, repo, (["-w"],)):
        assert_refused(proc, "dvc.yaml", "not valid YAML")
    (repo / "dvc.yaml").write_text(PIPELINE)
    (repo / "nested").mkdir()
    (repo / "nested" / "data.dvc").write_text("- just\n- a list\n")
    for proc in gc_variants(lode, repo, (["-w"],)):
        assert_refused(proc, os.path.join("nested", "data.dvc"), "outs")
    (repo / "nested" / "data.dvc").write_bytes(b"outs:\n- path: \xff\xfe\n")
    for proc in gc_variants(lode, repo, (["-w"],)):
        assert_refused(proc, os.path.join("nested", "data.dvc"), "UTF-8")
    assert objects(cache(repo)) == before


def test_a_pointer_in_an_ignored_directory_keeps_its_data(project, lode):
    repo = project
    (repo / "scratch").mkdir()
    (repo / "scratch" / "keep.bin").write_bytes(b"only in scratch\n")
    lode("add", os.path.join("scratch", "keep.bin"), cwd=repo)
    (repo / ".dvcignore").write_text("scratch/\n")
    lode("gc", "-w", "-f", cwd=repo)
    assert obj(repo, md5(b"only in scratch\n")).exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a directory whatever its mode")
def test_an_unreadable_directory_stops_gc(project, lode):
    repo = project
    (repo / "locked").mkdir()
    (repo / "locked" / "x.dvc").write_text((repo / "raw.txt.dvc").read_text())
    (repo / "locked").chmod(0)
    try:
        before = objects(cache(repo))
        for proc in gc_variants(lode, repo, (["-w"],)):
            assert_refused(proc, "locked")
        assert objects(cache(repo)) == before
    finally:
        (repo / "locked").chmod(0o755)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_referenced_manifest_missing_or_corrupt_stops_gc(project, lode, damage, tmp_path):
    repo = project
    dir_md5 = next(line.split()[-1] for line in (repo / "data.dvc").read_text().splitlines()
                   if "md5:" in line)
    manifest = obj(repo, dir_md5)
    if damage == "missing":
        manifest.unlink()
    else:
        manifest.chmod(0o644)
        manifest.write_text('[{"md5": "00000000000000000000000000000000", "relpath": "a"}]')
    before = objects(cache(repo))
    for proc in gc_variants(lode, repo):
        assert_refused(proc, dir_md5, "data.dvc", damage)
    assert objects(cache(repo)) == before
    # -c reads the manifest from the remote (verified), and then may go on
    lode("gc", "-w", "-c", "-f", cwd=repo)
    assert obj(repo, dir_md5).read_bytes() == objects(tmp_path / "remote")[
        f"files/md5/{dir_md5[:2]}/{dir_md5[2:]}"]
    assert obj(repo, md5(b"a\n")).exists() and obj(repo, md5(b"b\n")).exists()


def test_a_manifest_missing_everywhere_stops_gc_on_the_remote_too(project, lode, tmp_path):
    repo = project
    dir_md5 = next(line.split()[-1] for line in (repo / "data.dvc").read_text().splitlines()
                   if "md5:" in line)
    obj(repo, dir_md5).unlink()
    (tmp_path / "remote" / "files" / "md5" / dir_md5[:2] / dir_md5[2:]).unlink()
    (tmp_path / "remote" / "files" / "md5" / "ff").mkdir(exist_ok=True)
    stray = tmp_path / "remote" / "files" / "md5" / "ff" / ("f" * 30)
    stray.write_bytes(b"unreferenced\n")  # what gc -c would delete, were it sure
    before, remote_before = objects(cache(repo)), objects(tmp_path / "remote")
    for proc in gc_variants(lode, repo, cloud=True):
        assert_refused(proc, dir_md5, "remote 'store'")
    assert objects(cache(repo)) == before
    assert objects(tmp_path / "remote") == remote_before


def test_a_run_cache_entry_that_cannot_be_read_stops_gc(project, lode):
    repo = project
    entries = [p for p in (cache(repo) / "runs").rglob("*") if p.is_file()]
    assert len(entries) == 1
    entries[0].chmod(0o644)
    entries[0].write_text("<<<<<<< HEAD\ncmd: x\n")
    before = objects(cache(repo))
    for proc in gc_variants(lode, repo, (["-w"], ["-A"])):
        assert_refused(proc, "run-cache entry", entries[0].name, "conflict markers")
    assert objects(cache(repo)) == before
    entries[0].write_text("outs:\n- path: model.txt\n  md5: '12'\n")
    for proc in gc_variants(lode, repo, (["-w"],)):
        assert_refused(proc, "run-cache entry", "not an md5")
    assert objects(cache(repo)) == before


def test_the_run_cache_keeps_what_it_names(project, lode):
    repo = project
    model_v1 = md5(b"seed: 0\nraw v1\n")
    (repo / "params.yaml").write_text("seed: 5\n")
    lode("repro", cwd=repo)  # dvc.lock now names the seed-5 model; the run cache both
    lode("gc", "-w", "-f", cwd=repo)
    assert obj(repo, model_v1).exists()


@pytest.mark.parametrize("bad_key", [
    "files/md5/ab/not-an-md5",
    "files/md5/AB/CDEF0123456789ABCDEF0123456789",
    "files/md5/abc/def0123456789abcdef0123456789",
    "files/md5/stray",
])
def test_a_remote_key_that_is_no_object_key_stops_gc_c(project, lode, tmp_path, bad_key):
    repo = project
    remote = tmp_path / "remote"
    (remote / "files" / "md5" / "ff").mkdir(exist_ok=True)
    (remote / "files" / "md5" / "ff" / ("f" * 30)).write_bytes(b"unreferenced\n")
    (remote / bad_key).parent.mkdir(parents=True, exist_ok=True)
    (remote / bad_key).write_bytes(b"who knows\n")
    remote_before = objects(remote)
    before = objects(cache(repo))
    for proc in gc_variants(lode, repo, cloud=True):
        assert_refused(proc, bad_key, "not an object key")
    assert objects(remote) == remote_before and objects(cache(repo)) == before
    # without -c nothing of the remote is read: local gc goes on
    lode("gc", "-w", "-f", cwd=repo)


def test_upload_leftovers_on_the_remote_are_neither_deleted_nor_a_reason_to_stop(
        project, lode, tmp_path):
    repo = project
    prefix = tmp_path / "remote" / "files" / "md5" / "ff"
    prefix.mkdir(exist_ok=True)
    unused = prefix / ("f" * 30)
    unused.write_bytes(b"unreferenced\n")
    leftover = prefix / ("f" * 30 + ".3c9a.tmp")  # DVC's name for an upload in flight
    leftover.write_bytes(b"half\n")
    lode("gc", "-w", "-c", "-f", cwd=repo)
    assert not unused.exists() and leftover.exists()


def test_a_clean_repository_still_collects_exactly_the_unreferenced(project, lode, git,
                                                                     tmp_path):
    repo = project
    (repo / "raw.txt").chmod(0o644)
    (repo / "raw.txt").write_text("raw v2\n")
    (repo / "data" / "a.txt").write_text("a v2\n")
    lode("add", "raw.txt", "data", cwd=repo)
    lode("repro", cwd=repo)
    lode("push", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "v2", cwd=repo)
    old_dir = next(line.split()[-1] for line in
                   git("show", "v1:data.dvc", cwd=repo).stdout.splitlines() if "md5:" in line)
    # the run cache still names the v1 model: it stays; the rest of v1 goes
    v1_only = {md5(b"raw v1\n"), md5(b"a\n"), old_dir}
    keys = {f"files/md5/{h[:2]}/{h[2:]}" for h in v1_only}
    before, remote_before = objects(cache(repo)), objects(tmp_path / "remote")
    assert keys <= set(before) and keys <= set(remote_before)
    lode("gc", "-T", "-c", "-f", cwd=repo)  # tag v1 keeps them
    assert objects(cache(repo)) == before and objects(tmp_path / "remote") == remote_before
    git("tag", "-d", "v1", cwd=repo)
    out = lode("gc", "-a", "-c", "-f", cwd=repo).stdout
    assert f"Removed {len(keys)} object(s) and {len(keys)} from 'store'" in out
    assert set(before) - set(objects(cache(repo))) == keys
    assert set(remote_before) - set(objects(tmp_path / "remote")) == keys
    shutil.rmtree(repo / "data")
    lode("checkout", cwd=repo)
    assert (repo / "data" / "a.txt").read_text() == "a v2\n"
    assert obj(repo, md5(b"seed: 0\nraw v1\n")).exists()


def test_a_dvc2_directory_pointer_keeps_the_files_its_manifest_lists(project, lode):
    repo = project
    pointer = repo / "data.dvc"
    dir_md5 = next(line.split()[-1] for line in pointer.read_text().splitlines()
                   if "md5:" in line)
    # a DVC 2 pointer (no `hash: md5`) whose objects `dvc cache migrate` moved into files/md5
    pointer.write_text("".join(line for line in pointer.read_text().splitlines(True)
                               if "hash: md5" not in line))
    lode("gc", "-w", "-f", cwd=repo)
    assert obj(repo, dir_md5).exists()
    assert obj(repo, md5(b"a\n")).exists() and obj(repo, md5(b"b\n")).exists()
