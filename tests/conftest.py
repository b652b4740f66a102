"""Fixtures shared by the unit and integration tests.

- ``lode``: run ``python -m lode ...`` as a real subprocess in a scrubbed environment.
- ``dvc``: the same for the real ``dvc`` 3 from the side virtual environment.
- ``git``: the same for ``git``; ``git_repo``: a fresh repository with one empty commit.
- ``tree``: write a deterministic nested directory of small random files.
- ``snapshot``: ``{posix relpath: sha256}`` of every file under a directory.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Where the real dvc may live, in order of preference (the first one that exists wins).
DVC_CANDIDATES = (
    "~/.cache/lode-test/dvc-venv/bin/dvc",
    "~/.cache/lode-bench/venv/bin/dvc",
)

# Variables of the caller's environment passed on to the commands under test; everything
# else (GIT_DIR, DVC_*, PYTHON*, the caller's HOME ...) is dropped.
_KEPT_ENV = ("PATH", "TMPDIR", "TZ", "SYSTEMROOT")


def _find_dvc() -> str | None:
    env = os.environ.get("LODE_DVC")
    if env:
        path = Path(env).expanduser()
        return str(path) if path.exists() else None
    for cand in DVC_CANDIDATES:
        path = Path(cand).expanduser()
        if path.exists():
            return str(path)
    return None


class Runner:
    """Runs one program (``argv`` prefix) as a subprocess in a scrubbed environment."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], name: str):
        self.argv = list(argv)
        self.env = env
        self.name = name

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        merged = dict(self.env)
        if env:
            merged.update(env)
        return merged

    def __call__(
        self,
        *args: str | os.PathLike,
        cwd: str | os.PathLike,
        check: bool = True,
        env: dict[str, str] | None = None,
        input: str | None = None,  # noqa: A002 - mirrors subprocess.run
        timeout: float = 180,
    ) -> subprocess.CompletedProcess:
        cmd = [*self.argv, *map(str, args)]
        proc = subprocess.run(
            cmd,
            cwd=str(cwd),
            env=self._env(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert proc.returncode == 0, (
                f"{self.name} {' '.join(map(str, args))} (in {cwd}) exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return proc

    def popen(
        self,
        *args: str | os.PathLike,
        cwd: str | os.PathLike,
        env: dict[str, str] | None = None,
        **kwargs,
    ) -> subprocess.Popen:
        """Start the command without waiting (stdout/stderr captured as text)."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("text", True)
        return subprocess.Popen(
            [*self.argv, *map(str, args)], cwd=str(cwd), env=self._env(env), **kwargs
        )


@pytest.fixture(scope="session")
def base_env(tmp_path_factory) -> dict[str, str]:
    """A scrubbed environment: private HOME, no system/global git or dvc config."""
    root = tmp_path_factory.mktemp("env")
    home = root / "home"
    for sub in ("home", "xdg-config", "xdg-cache", "xdg-data", "dvc-site-cache", "dvc-system"):
        (root / sub).mkdir()
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(root / "xdg-config"),
        XDG_CACHE_HOME=str(root / "xdg-cache"),
        XDG_DATA_HOME=str(root / "xdg-data"),
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
        PYTHONPATH=str(REPO_ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUTF8="1",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Lode Test",
        GIT_AUTHOR_EMAIL="lode-test@example.invalid",
        GIT_COMMITTER_NAME="Lode Test",
        GIT_COMMITTER_EMAIL="lode-test@example.invalid",
        GIT_TERMINAL_PROMPT="0",
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(root / "dvc-site-cache"),
        DVC_SYSTEM_CONFIG_DIR=str(root / "dvc-system"),
        DVC_GLOBAL_CONFIG_DIR=str(root / "xdg-config" / "dvc"),
    )
    return env


@pytest.fixture(scope="session")
def lode(base_env) -> Runner:
    """``lode(*args, cwd=..., check=True, env=None, input=None)`` -> CompletedProcess."""
    return Runner([sys.executable, "-m", "lode"], base_env, "lode")


@pytest.fixture(scope="session")
def dvc(base_env) -> Runner:
    """The real dvc 3; fails under CI when it is missing, skips elsewhere."""
    path = _find_dvc()
    if path is None:
        msg = (
            "the real dvc was not found: set LODE_DVC or run .ci/run "
            "(it installs dvc into ~/.cache/lode-test/dvc-venv)"
        )
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return Runner([path], base_env, "dvc")


@pytest.fixture(scope="session")
def git(base_env) -> Runner:
    git_exe = shutil.which("git", path=base_env["PATH"])
    if git_exe is None:
        pytest.fail("git is not installed")
    return Runner([git_exe], base_env, "git")


def init_git_repo(git: Runner, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=path)
    git("config", "user.name", "Lode Test", cwd=path)
    git("config", "user.email", "lode-test@example.invalid", cwd=path)
    git("config", "commit.gpgsign", "false", cwd=path)
    git("commit", "-q", "--allow-empty", "-m", "initial", cwd=path)
    return path


@pytest.fixture
def git_repo(git, tmp_path) -> Path:
    """A fresh git repository (``tmp_path/"repo"``) with one empty commit on ``main``.

    It is a subdirectory so tests have room outside the repository in ``tmp_path``.
    """
    return init_git_repo(git, tmp_path / "repo")


@pytest.fixture
def make_git_repo(git):
    """``make_git_repo(path)``: another fresh repository, like ``git_repo``."""
    return lambda path: init_git_repo(git, Path(path))


# --------------------------------------------------------------------------- data

# Names that exercise sorting (code point order, "-" < "." < "/"), spaces and non-ASCII.
_SPECIAL_NAMES = (
    "empty.txt",
    "Zebra.txt",
    "a-b.txt",
    "a.b",
    "with space.txt",
    "données-é-ü-ß-日本.txt",
)


def make_tree(
    path: str | os.PathLike,
    n_files: int,
    *,
    seed: int = 0,
    fanout: int = 10,
    depth: int = 2,
    min_size: int = 1,
    max_size: int = 2048,
    special: bool = True,
) -> list[str]:
    """Write ``n_files`` files of random bytes under ``path``, deterministically.

    Files are spread over ``fanout ** depth`` leaf directories (``dNN/dNN/fNNNNN.bin``).
    With ``special`` (default) the first files are at the top level with the names in
    ``_SPECIAL_NAMES`` (an empty file, a non-ASCII name, ...). Returns the sorted posix
    relative paths written.
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    written = []
    specials = list(_SPECIAL_NAMES[: min(n_files, len(_SPECIAL_NAMES))]) if special else []
    for name in specials:
        size = 0 if name == "empty.txt" else rng.randint(min_size, max_size)
        (root / name).write_bytes(rng.randbytes(size))
        written.append(name)
    made_dirs: set[Path] = set()
    for i in range(n_files - len(specials)):
        parts = []
        k = i
        for _ in range(depth):
            parts.append(f"d{k % fanout:02d}")
            k //= fanout
        rel = "/".join([*parts, f"f{i:05d}.bin"])
        target = root / rel
        if target.parent not in made_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(target.parent)
        target.write_bytes(rng.randbytes(rng.randint(min_size, max_size)))
        written.append(rel)
    return sorted(written)


@pytest.fixture(scope="session")
def tree():
    """``tree(path, n_files, seed=0, ...)``: see :func:`make_tree`."""
    return make_tree


def snapshot_dir(path: str | os.PathLike) -> dict[str, str]:
    """``{posix relpath: sha256 hex}`` of every regular file (symlinks followed) under path."""
    root = Path(path)
    out = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            out[rel] = hashlib.sha256(full.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="session")
def snapshot():
    """``snapshot(path)``: see :func:`snapshot_dir`."""
    return snapshot_dir
