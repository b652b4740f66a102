"""lode and the real DVC 3 on the same repositories: each reads what the other wrote.

Every test drives real processes: git, `python -m lode` and the `dvc` installed in the
side virtual environment by .ci/run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import status_json

pytestmark = pytest.mark.dvc

DVC_CLEAN = "Data and pipelines are up to date."
N_DIR_FILES = 1000




def assert_lode_clean(lode, repo: Path) -> None:
    proc = lode("status", cwd=repo)
    assert "up to date" in proc.stdout + proc.stderr, proc
    assert status_json(lode, repo) == {}


def assert_dvc_clean(dvc, repo: Path) -> None:
    proc = dvc("status", cwd=repo)
    assert DVC_CLEAN in proc.stdout, proc
    assert status_json(dvc, repo) == {}


def make_targets(repo: Path, tree, *, n_files: int = N_DIR_FILES, seed: int = 1) -> None:
    """A single file, a nested directory and a file in a subdirectory."""
    (repo / "data.bin").write_bytes(bytes(range(256)) * 257)
    tree(repo / "datadir", n_files, seed=seed)
    (repo / "models").mkdir()
    (repo / "models" / "model.pt").write_bytes(b"weights\n" * 1000)


TARGETS = ("data.bin", "datadir", "models/model.pt")


def remove_targets(repo: Path) -> None:
    (repo / "data.bin").unlink()
    shutil.rmtree(repo / "datadir")
    (repo / "models" / "model.pt").unlink()


def workspace(snapshot, repo: Path) -> dict:
    """sha256 of every tracked workspace file (the targets only)."""
    out = {"data.bin": snapshot(repo)["data.bin"]}
    out["models/model.pt"] = snapshot(repo / "models")["model.pt"]
    out.update({f"datadir/{k}": v for k, v in snapshot(repo / "datadir").items()})
    return out


def commit_all(git, repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)


def assert_git_ignores_targets(git, repo: Path) -> None:
    """The data itself never shows up as untracked in git (only the .dvc files do)."""
    out = git("status", "--porcelain", "-z", "--untracked-files=all", cwd=repo).stdout
    paths = [entry[3:] for entry in out.split("\0") if entry]
    leaked = [p for p in paths if p.startswith("datadir/") or p in ("data.bin", "models/model.pt")]
    assert not leaked, f"git sees tracked data: {leaked[:5]}"
    assert "data.bin.dvc" in paths and "datadir.dvc" in paths, paths


DELETED = {
    "data.bin.dvc": [{"changed outs": {"data.bin": "deleted"}}],
    "datadir.dvc": [{"changed outs": {"datadir": "deleted"}}],
    "models/model.pt.dvc": [{"changed outs": {"models/model.pt": "deleted"}}],
}


# ----------------------------------------------------------------------------- 1


def test_dvc_tracks_lode_reads(git_repo, git, dvc, lode, tree, snapshot):
    repo = git_repo
    dvc("init", "-q", cwd=repo)
    make_targets(repo, tree)
    dvc("add", "-q", *TARGETS, cwd=repo)
    assert_git_ignores_targets(git, repo)
    commit_all(git, repo, "dvc add")
    before = workspace(snapshot, repo)
    assert len(before) == N_DIR_FILES + 2

    assert_lode_clean(lode, repo)

    remove_targets(repo)
    assert status_json(lode, repo) == DELETED
    # ... which is exactly what dvc says about the same workspace, from the root
    assert status_json(lode, repo) == status_json(dvc, repo)
    # ... and from a subdirectory (dvc prints paths relative to the working directory)
    assert status_json(lode, repo / "models") == status_json(dvc, repo / "models")

    lode("checkout", cwd=repo)
    assert workspace(snapshot, repo) == before
    assert_lode_clean(lode, repo)
    assert_dvc_clean(dvc, repo)


def test_dvc_tracks_lode_reports_modified(git_repo, git, dvc, lode, tree):
    repo = git_repo
    dvc("init", "-q", cwd=repo)
    make_targets(repo, tree, n_files=50)
    dvc("add", "-q", *TARGETS, cwd=repo)
    commit_all(git, repo, "dvc add")

    victim = repo / "datadir" / "d03" / "d00" / "f00003.bin"
    assert victim.exists()
    victim.unlink()  # dvc's link may be read-only: replace rather than write in place
    victim.write_bytes(b"changed")
    (repo / "data.bin").unlink()
    (repo / "data.bin").write_bytes(b"changed too")

    ours = status_json(lode, repo)
    assert ours == {
        "data.bin.dvc": [{"changed outs": {"data.bin": "modified"}}],
        "datadir.dvc": [{"changed outs": {"datadir": "modified"}}],
    }
    assert ours == status_json(dvc, repo)


# ----------------------------------------------------------------------------- 2


def test_lode_tracks_dvc_reads(git_repo, git, dvc, lode, tree, snapshot):
    repo = git_repo
    lode("init", cwd=repo)
    make_targets(repo, tree)
    lode("add", *TARGETS, cwd=repo)
    assert_git_ignores_targets(git, repo)
    commit_all(git, repo, "lode add")
    before = workspace(snapshot, repo)

    assert_dvc_clean(dvc, repo)
    assert_lode_clean(lode, repo)

    remove_targets(repo)
    assert status_json(dvc, repo) == DELETED
    dvc("checkout", "-q", cwd=repo)
    assert workspace(snapshot, repo) == before
    assert_dvc_clean(dvc, repo)
    assert_lode_clean(lode, repo)


# ----------------------------------------------------------------------------- 3


def cache_files(repo: Path) -> dict[str, tuple[bytes, int]]:
    """{relative path under .dvc/cache: (bytes, permission bits)} of every cache file."""
    root = repo / ".dvc" / "cache"
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
    return out


def test_byte_identity_with_dvc(tmp_path, make_git_repo, git, dvc, lode, tree):
    a = make_git_repo(tmp_path / "by-dvc")
    b = make_git_repo(tmp_path / "by-lode")
    for repo in (a, b):
        make_targets(repo, tree, n_files=300, seed=7)
        (repo / "models" / ".gitignore").write_text("# already here\n*.tmp\n")
    dvc("init", "-q", cwd=a)
    dvc("add", "-q", *TARGETS, cwd=a)
    lode("init", cwd=b)
    lode("add", *TARGETS, cwd=b)

    for name in (
        "data.bin.dvc",
        "datadir.dvc",
        "models/model.pt.dvc",
        ".gitignore",
        "models/.gitignore",
    ):
        assert (b / name).read_bytes() == (a / name).read_bytes(), name

    ca, cb = cache_files(a), cache_files(b)
    assert sorted(cb) == sorted(ca)
    dirs = [k for k in ca if k.endswith(".dir")]
    assert len(dirs) == 1 and dirs[0].startswith("files/md5/")
    for rel in ca:
        assert cb[rel][0] == ca[rel][0], f"cache object {rel} differs"
        mode_a, mode_b = ca[rel][1], cb[rel][1]
        assert mode_b == mode_a, f"cache object {rel}: mode {mode_b:o}, dvc's {mode_a:o}"
    # the .dir object's name is the md5 of its bytes
    md5 = hashlib.md5(ca[dirs[0]][0]).hexdigest()
    assert dirs[0] == f"files/md5/{md5[:2]}/{md5[2:]}.dir"


def test_init_scaffolding_matches_dvc(tmp_path, make_git_repo, dvc, lode):
    a = make_git_repo(tmp_path / "by-dvc")
    b = make_git_repo(tmp_path / "by-lode")
    dvc("init", "-q", cwd=a)
    lode("init", cwd=b)
    assert (b / ".dvc" / ".gitignore").read_bytes() == (a / ".dvc" / ".gitignore").read_bytes()
    assert (b / ".dvc" / "config").read_bytes() == (a / ".dvc" / "config").read_bytes()
    assert (b / ".dvcignore").is_file()


CONFIG_SEQUENCES = {
    "set-and-unset": [
        ("cache.type", "hardlink"),
        ("core.autostage", "true"),
        ("--unset", "core.autostage"),
    ],
    "comma-list": [("cache.type", "hardlink,symlink")],
    "remote-then-core": [("remote.store.url", "/tmp/store"), ("core.remote", "store")],
    "local": [("--local", "cache.dir", "/tmp/elsewhere"), ("--local", "core.autostage", "true")],
}


@pytest.mark.parametrize("steps", list(CONFIG_SEQUENCES.values()), ids=list(CONFIG_SEQUENCES))
def test_config_bytes_match_dvc(tmp_path, make_git_repo, dvc, lode, steps):
    a = make_git_repo(tmp_path / "by-dvc")
    b = make_git_repo(tmp_path / "by-lode")
    dvc("init", "-q", cwd=a)
    lode("init", cwd=b)
    for args in steps:
        dvc("config", *args, cwd=a)
        lode("config", *args, cwd=b)
        for name in ("config", "config.local"):
            theirs, ours = a / ".dvc" / name, b / ".dvc" / name
            assert ours.exists() == theirs.exists(), (args, name)
            if theirs.exists():
                assert ours.read_text() == theirs.read_text(), (args, name)
        # dvc can load what lode wrote, and both read back the same values
        dvc("config", "--list", cwd=b)
        if args[-2] != "--unset":
            name = args[-2]
            loc = ("--local",) if "--local" in args else ()
            assert (
                lode("config", *loc, name, cwd=b).stdout == dvc("config", *loc, name, cwd=a).stdout
            )


# ----------------------------------------------------------------------------- 4


def test_round_trip_through_git_history(git_repo, git, dvc, lode, tree, snapshot):
    repo = git_repo
    lode("init", cwd=repo)
    tree(repo / "datadir", 200, seed=3)
    lode("add", "datadir", cwd=repo)
    commit_all(git, repo, "v1")
    v1 = snapshot(repo / "datadir")

    # v2: one file changed (replaced, as a link may be read-only), one added, one removed
    changed = repo / "datadir" / "d01" / "d00" / "f00001.bin"
    changed.unlink()
    changed.write_bytes(b"version two\n")
    (repo / "datadir" / "new.txt").write_text("new in v2\n")
    (repo / "datadir" / "a.b").unlink()
    lode("add", "datadir", cwd=repo)
    commit_all(git, repo, "v2")
    v2 = snapshot(repo / "datadir")
    assert v2 != v1
    assert_dvc_clean(dvc, repo)

    git("checkout", "-q", "HEAD~1", cwd=repo)
    assert status_json(lode, repo) == {"datadir.dvc": [{"changed outs": {"datadir": "modified"}}]}
    lode("checkout", cwd=repo)
    assert snapshot(repo / "datadir") == v1
    assert_lode_clean(lode, repo)
    assert_dvc_clean(dvc, repo)

    git("checkout", "-q", "main", cwd=repo)
    lode("checkout", cwd=repo)
    assert snapshot(repo / "datadir") == v2
    assert_lode_clean(lode, repo)
    assert_dvc_clean(dvc, repo)


# ----------------------------------------------------------------------------- 5


def cache_path(repo: Path, content: bytes) -> Path:
    md5 = hashlib.md5(content).hexdigest()
    return repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def assert_not_writable(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, f"{path} is writable"
    if os.geteuid() != 0:  # root writes through any mode bits
        with pytest.raises(PermissionError):
            with open(path, "ab"):
                pass


@pytest.mark.parametrize("link_type", ["hardlink", "symlink"])
def test_link_types_and_unprotect(git_repo, dvc, lode, tree, link_type):
    repo = git_repo
    lode("init", cwd=repo)
    lode("config", "cache.type", link_type, cwd=repo)
    assert dvc("config", "cache.type", cwd=repo).stdout.strip() == link_type
    (repo / "data.bin").write_bytes(b"single file\n" * 100)
    tree(repo / "datadir", 30, seed=5)
    lode("add", "data.bin", "datadir", cwd=repo)

    files = [repo / "data.bin", *sorted(p for p in (repo / "datadir").rglob("*") if p.is_file())]
    for ws in files:
        obj = cache_path(repo, ws.read_bytes())
        assert obj.is_file(), ws
        if link_type == "hardlink" and ws.stat().st_size == 0:
            continue  # like DVC, an empty file is copied rather than hardlinked
        if link_type == "hardlink":
            assert not ws.is_symlink()
            assert ws.stat().st_ino == obj.stat().st_ino, f"{ws} is not a hardlink to {obj}"
        else:
            assert ws.is_symlink(), f"{ws} is not a symlink"
            assert ws.resolve() == obj.resolve()
        assert_not_writable(ws)
    assert_lode_clean(lode, repo)
    assert_dvc_clean(dvc, repo)

    lode("unprotect", "data.bin", "datadir", cwd=repo)
    for ws in files:
        obj = cache_path(repo, ws.read_bytes())
        assert not ws.is_symlink(), ws
        assert ws.stat().st_ino != obj.stat().st_ino, ws
        assert ws.stat().st_mode & stat.S_IWUSR, f"{ws} still read-only after unprotect"
    assert_lode_clean(lode, repo)  # unprotect changes no content

    objects = {ws: cache_path(repo, ws.read_bytes()) for ws in files}
    originals = {ws: obj.read_bytes() for ws, obj in objects.items()}
    for ws in files:
        with open(ws, "ab") as fh:  # edit in place: must not reach the cache
            fh.write(b"edited\n")
    for ws, obj in objects.items():
        assert obj.read_bytes() == originals[ws], f"editing {ws} changed {obj}"
    lode("cache", "verify", cwd=repo)
    assert status_json(lode, repo) == {
        "data.bin.dvc": [{"changed outs": {"data.bin": "modified"}}],
        "datadir.dvc": [{"changed outs": {"datadir": "modified"}}],
    }


# ------------------------------------------------------------- more of the same contract

ODD_NAMES = (
    "123",
    "yes",
    "a: b",
    "#hash",
    "日本.bin",
    "with space",
    "!bang",
    "x[1]",
    "tab\tt",
    "q'uote",
)


def test_byte_identity_odd_names_and_exec_bit(tmp_path, make_git_repo, dvc, lode):
    """YAML quoting of `path:`, gitignore escaping and `isexec` as DVC writes them."""
    a = make_git_repo(tmp_path / "by-dvc")
    b = make_git_repo(tmp_path / "by-lode")
    names = [*ODD_NAMES, "run.sh"]
    for repo in (a, b):
        for name in ODD_NAMES:
            (repo / name).write_text(f"content of {name}\n")
        (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
        (repo / "run.sh").chmod(0o755)
    dvc("init", "-q", cwd=a)
    dvc("add", "-q", *names, cwd=a)
    lode("init", cwd=b)
    lode("add", *names, cwd=b)
    for name in names:
        assert (b / f"{name}.dvc").read_bytes() == (a / f"{name}.dvc").read_bytes(), name
    assert (b / ".gitignore").read_bytes() == (a / ".gitignore").read_bytes()
    assert sorted(cache_files(b)) == sorted(cache_files(a))


def test_dvcignore_respected_like_dvc(tmp_path, make_git_repo, dvc, lode, tree):
    a = make_git_repo(tmp_path / "by-dvc")
    b = make_git_repo(tmp_path / "by-lode")
    for repo in (a, b):
        tree(repo / "datadir", 40, seed=9)
        (repo / "datadir" / "run.log").write_text("log\n")
        (repo / "datadir" / "d01" / "scratch").mkdir()
        (repo / "datadir" / "d01" / "scratch" / "x.bin").write_bytes(b"x")
    dvc("init", "-q", cwd=a)
    lode("init", cwd=b)
    for repo in (a, b):
        (repo / ".dvcignore").write_text("*.log\nscratch/\n")
    dvc("add", "-q", "datadir", cwd=a)
    lode("add", "datadir", cwd=b)
    assert (b / "datadir.dvc").read_bytes() == (a / "datadir.dvc").read_bytes()
    assert cache_files(b).keys() == cache_files(a).keys()
    # an ignored file changing is no change at all
    (b / "datadir" / "run.log").write_text("more log\n")
    assert_lode_clean(lode, b)


def test_status_matches_dvc_for_many_kinds_of_change(git_repo, git, dvc, lode, tree):
    """One repository, one target per kind of change; lode's JSON must equal dvc's."""
    repo = git_repo
    dvc("init", "-q", cwd=repo)
    files = [
        "f_clean.bin",
        "f_touched.bin",
        "f_mod.bin",
        "f_del.bin",
        "f_nocache.bin",
        "f_exec.bin",
        "f_became_dir.bin",
    ]
    dirs = ["d_clean", "d_mod", "d_new", "d_del", "d_emptied", "d_nocache", "d_gone"]
    for i, name in enumerate(files):
        (repo / name).write_bytes(f"file {name}\n".encode() * (i + 1))
    for i, name in enumerate(dirs):
        tree(repo / name, 12, seed=100 + i, special=False)
    dvc("add", "-q", *files, *dirs, cwd=repo)
    commit_all(git, repo, "tracked")
    assert status_json(lode, repo) == {}

    def replace(path: Path, data: bytes) -> None:
        path.unlink()
        path.write_bytes(data)

    os.utime(repo / "f_touched.bin", (1_000_000_000, 1_000_000_000))
    replace(repo / "f_mod.bin", b"modified\n")
    (repo / "f_del.bin").unlink()
    cache_path(repo, (repo / "f_nocache.bin").read_bytes()).unlink()
    (repo / "f_exec.bin").chmod(0o755)
    (repo / "f_became_dir.bin").unlink()
    (repo / "f_became_dir.bin").mkdir()
    (repo / "f_became_dir.bin" / "inner").write_bytes(b"inner")
    replace(repo / "d_mod" / "d00" / "d00" / "f00000.bin", b"modified\n")
    (repo / "d_new" / "added.bin").write_bytes(b"new file\n")
    (repo / "d_del" / "d01" / "d00" / "f00001.bin").unlink()
    shutil.rmtree(repo / "d_emptied")
    (repo / "d_emptied").mkdir()
    cache_path(repo, (repo / "d_nocache" / "d02" / "d00" / "f00002.bin").read_bytes()).unlink()
    shutil.rmtree(repo / "d_gone")

    theirs = status_json(dvc, repo)
    assert "f_clean.bin.dvc" not in theirs and "d_clean.dvc" not in theirs
    assert status_json(lode, repo) == theirs
    for target in ("d_mod", "f_mod.bin", "d_clean.dvc", "d_nocache"):
        assert status_json(lode, repo, target) == status_json(dvc, repo, target), target


def test_commit_matches_dvc(tmp_path, make_git_repo, dvc, lode, tree):
    a = make_git_repo(tmp_path / "by-dvc")
    b = make_git_repo(tmp_path / "by-lode")
    for repo in (a, b):
        tree(repo / "datadir", 60, seed=12)
        (repo / "data.bin").write_bytes(b"v1\n" * 100)
    dvc("init", "-q", cwd=a)
    dvc("add", "-q", "datadir", "data.bin", cwd=a)
    lode("init", cwd=b)
    lode("add", "datadir", "data.bin", cwd=b)
    for repo in (a, b):
        changed = repo / "datadir" / "d00" / "d00" / "f00000.bin"
        changed.unlink()
        changed.write_bytes(b"v2\n")
        (repo / "datadir" / "extra.txt").write_text("extra\n")
        (repo / "data.bin").unlink()
        (repo / "data.bin").write_bytes(b"v2\n" * 100)
    dvc("commit", "-f", "-q", cwd=a)
    lode("commit", cwd=b)
    for name in ("datadir.dvc", "data.bin.dvc"):
        assert (b / name).read_bytes() == (a / name).read_bytes(), name
    assert sorted(cache_files(b)) == sorted(cache_files(a))
    assert_lode_clean(lode, b)
    assert_dvc_clean(dvc, b)


@pytest.mark.parametrize("command", ["add", "commit"])
def test_update_keeps_user_edits_of_pointer_like_dvc(
    tmp_path, make_git_repo, dvc, lode, tree, command
):
    """Re-adding/committing changes md5/size/nfiles and keeps comments, desc, meta, order."""
    a = make_git_repo(tmp_path / "by-dvc")
    b = make_git_repo(tmp_path / "by-lode")
    dvc("init", "-q", cwd=a)
    lode("init", cwd=b)
    for tool, repo in ((dvc, a), (lode, b)):
        tree(repo / "datadir", 10, seed=13)
        tool("add", "datadir", cwd=repo)
        text = (repo / "datadir.dvc").read_text()
        text = "# data for the churn model\ndesc: churn data\n" + text.replace(
            "outs:\n", "outs: # one output\n"
        )
        text = text.replace("  path: datadir\n", "  path: datadir\n  desc: raw tables\n")
        (repo / "datadir.dvc").write_text(text + "meta:\n  owner: data-team\n")
        (repo / "datadir" / "new.bin").write_bytes(b"new\n")
    edited = (a / "datadir.dvc").read_text()
    if command == "add":
        dvc("add", "-q", "datadir", cwd=a)
        lode("add", "datadir", cwd=b)
    else:
        dvc("commit", "-f", "-q", "datadir", cwd=a)
        lode("commit", "datadir", cwd=b)
    theirs = (a / "datadir.dvc").read_text()
    assert theirs != edited and "# data for the churn model" in theirs  # dvc's own behaviour
    assert (b / "datadir.dvc").read_text() == theirs


def test_targets_inside_a_tracked_directory_like_dvc(git_repo, git, dvc, lode, tree, snapshot):
    """DVC accepts a path inside a tracked directory as a status/checkout target."""
    repo = git_repo
    dvc("init", "-q", cwd=repo)
    tree(repo / "datadir", 60, seed=17)
    dvc("add", "-q", "datadir", cwd=repo)
    commit_all(git, repo, "tracked")
    before = snapshot(repo / "datadir")
    shutil.rmtree(repo / "datadir" / "d03")
    assert status_json(lode, repo, "datadir/d04") == status_json(dvc, repo, "datadir/d04")
    lode("checkout", "datadir/d03", cwd=repo)
    assert snapshot(repo / "datadir") == before
