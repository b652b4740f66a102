"""Files of the repository as they are in the workspace or at a Git revision.

A tree's `read(abs_path) -> str | None` has the shape `lode.pipeline.dvcfile.load` and
`lode.pipeline.params.load` take, so a revision's pipeline parses with the same code as
the workspace's. Outputs that DVC caches instead of committing are read from the cache
through the md5 that the same tree's dvc.lock records, as DVC's own file system does; the
workspace falls back to the cache the same way when such a file was deleted.

Nothing here touches the workspace: a revision is read from Git's object database.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from lode import git, yamlio
from lode.errors import LodeError, MalformedError, UnsafePathError
from lode.paths import within
from lode.pipeline import dvcfile
from lode.pipeline.stage import OutSpec, Stage
from lode.store.hashinfo import is_dir_md5
from lode.store.manifest import parse_manifest
from lode.store.objects import CorruptObject, MissingObject

WORKSPACE = "workspace"
_SKIP_DIRS = {".git", ".dvc"}


class RevisionError(LodeError):
    """A Git revision that does not exist or cannot be read."""


class CacheReadError(LodeError):
    """A cache object that does not match its name."""


class Tree:
    """The files of one revision; paths are absolute, as if checked out at `root`."""

    name: str = WORKSPACE

    def __init__(self, repo) -> None:
        self.repo = repo
        self.root = repo.root
        self._locks: dict[str, dict] = {}

    # -- what each kind of tree provides -----------------------------------------------
    def read_bytes(self, path: str) -> bytes | None:
        raise NotImplementedError

    def isdir(self, path: str) -> bool:
        raise NotImplementedError

    def files_under(self, path: str) -> list[str]:
        """Every file below directory `path`, sorted."""
        raise NotImplementedError

    def _all_files(self) -> list[str]:
        """Every file that can hold a pipeline, outside .git and .dvc."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------
    def read(self, path: str) -> str | None:
        data = self.read_bytes(path)
        return None if data is None else data.decode("utf-8")

    def list_dvcfiles(self) -> list[str]:
        """Every dvc.yaml of this tree, sorted."""
        return sorted(p for p in self._all_files() if os.path.basename(p) == dvcfile.DVCFILE)

    @cached_property
    def pipelines(self) -> list[tuple[str, list[Stage], dict]]:
        """(dvc.yaml path, its stages, its document) for every dvc.yaml; DvcfileError
        when one cannot be parsed."""
        return [(p, *dvcfile.load(p, self.root, read=self.read)) for p in self.list_dvcfiles()]

    def lock_entry(self, stage: Stage) -> dict | None:
        path = os.path.join(os.path.dirname(stage.dvcfile), dvcfile.LOCKFILE)
        if path not in self._locks:
            self._locks[path] = _lock_stages(self.read(path))
        entry = self._locks[path].get(stage.name)
        return entry if isinstance(entry, dict) else None

    def output_record(self, stage: Stage, out: OutSpec) -> dict | None:
        """The lock record (path, md5, ...) of one of the stage's outputs."""
        for item in (self.lock_entry(stage) or {}).get("outs") or []:
            if isinstance(item, dict) and item.get("path") == out.path:
                return item
        return None

    def read_output(self, path: str, stage: Stage | None, out: OutSpec | None) -> bytes | None:
        """File `path` (an output of `stage`, or inside one), from the tree or else from
        the cache; None when it is in neither. CacheReadError names a corrupt object."""
        data = self.read_bytes(path)
        if data is not None or stage is None or out is None or not out.cache:
            return data
        record = self.output_record(stage, out)
        if record is None or not isinstance(record.get("md5"), str):
            return None
        legacy = record.get("hash") != "md5"  # DVC 2 records live at the cache's top
        md5 = record["md5"]
        top = stage.abspath(out.path)
        if path != top:
            if not is_dir_md5(md5):
                return None
            md5 = self._manifest(md5, legacy).get(os.path.relpath(path, top).replace(os.sep, "/"))
            if md5 is None:
                return None
        return self._cache_object(md5, legacy)

    def cached_files(self, stage: Stage, out: OutSpec) -> list[str]:
        """The files of a cached directory output, as its lock record's manifest lists them."""
        record = self.output_record(stage, out)
        md5 = (record or {}).get("md5")
        if not isinstance(md5, str) or not is_dir_md5(md5):
            return []
        top = stage.abspath(out.path)
        names = self._manifest(md5, record.get("hash") != "md5")  # type: ignore[union-attr]
        return sorted(os.path.join(top, *rel.split("/")) for rel in names)

    def _manifest(self, md5: str, legacy: bool) -> dict[str, str]:
        data = self._cache_object(md5, legacy)
        if data is None:
            return {}
        try:
            return dict(parse_manifest(data, f"directory manifest {md5}"))
        except MalformedError:
            raise CacheReadError(f"the cache object of directory {md5} is corrupt.") from None

    def _cache_object(self, md5: str, legacy: bool) -> bytes | None:
        try:
            return self.repo.objects.read_verified(md5, legacy)
        except MissingObject:
            return None
        except CorruptObject as e:
            raise CacheReadError(
                f"cache object {md5} is corrupt ({e.path}).", "Run 'lode cache verify'."
            ) from None


def _lock_stages(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        doc = yamlio.loads(text)
    except Exception:  # a broken lock file records nothing; reports must still run
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    return stages if isinstance(stages, dict) else {}


def _readable(repo, path: str) -> bool:
    if "\x00" in path:
        return False
    real = os.path.realpath(path)
    if within(real, os.path.realpath(repo.cache_dir)):
        return True
    root = os.path.realpath(repo.root)
    first = os.path.relpath(real, root).split(os.sep, 1)[0]
    return within(real, root) and first.lower() not in (".git", ".dvc")


class WorkspaceTree(Tree):
    """The files on disk."""

    def read_bytes(self, path: str) -> bytes | None:
        # What is read here ends up in a table, an HTML report or a pull request: a path
        # a dvc.yaml names, or a committed symlink, must not pull in ~/.aws/credentials or
        # .git/config. Judged on the real path: links within the workspace, and a symlink
        # cache's links into the cache, still work.
        if not _readable(self.repo, path):
            raise UnsafePathError(f"'{os.path.relpath(path, self.repo.root)}' leads outside "
                                  "the workspace (or into .git/.dvc); lode does not read it.")
        try:
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def files_under(self, path: str) -> list[str]:
        return sorted(
            os.path.join(d, f) for d, _, files in os.walk(path) for f in files
        )

    def _all_files(self) -> list[str]:
        found: list[str] = []
        ignore = self.repo.ignore
        for d, dirs, files in os.walk(self.root):
            ignored = ignore.matcher(d)
            dirs[:] = [s for s in dirs
                       if s not in _SKIP_DIRS and not (ignored and ignored(s, True))]
            found.extend(os.path.join(d, f) for f in files
                         if not (ignored and ignored(f, False)))
        return found


class GitTree(Tree):
    """The files of one commit, read from Git's object database."""

    def __init__(self, repo, git_repo, name: str, commit) -> None:
        super().__init__(repo)
        self.name = name
        self.commit = commit
        self.sha: str = commit.hexsha
        self._git = git_repo
        self._git_root = os.path.realpath(git_repo.working_tree_dir)
        self._real_root = os.path.realpath(self.root)

    def _git_path(self, path: str) -> str | None:
        # The DVC root may sit below the Git root (a `dvc init --subdir` repository).
        rel = os.path.relpath(path, self.root)
        if rel == ".." or rel.startswith(".." + os.sep):
            return None
        full = os.path.normpath(os.path.join(self._real_root, rel))
        rel = os.path.relpath(full, self._git_root)
        return "" if rel == "." else rel.replace(os.sep, "/")

    def _entry(self, path: str):
        rel = self._git_path(path)
        if rel is None:
            return None
        if rel == "":
            return self.commit.tree
        try:
            return self.commit.tree[rel]
        except KeyError:
            return None

    def read_bytes(self, path: str) -> bytes | None:
        obj = self._entry(path)
        if obj is None or obj.type != "blob":
            return None
        return obj.data_stream.read()

    def isdir(self, path: str) -> bool:
        obj = self._entry(path)
        return obj is not None and obj.type == "tree"

    def files_under(self, path: str) -> list[str]:
        obj = self._entry(path)
        if obj is None or obj.type != "tree":
            return []
        return sorted(os.path.join(path, *b.path[len(obj.path):].lstrip("/").split("/"))
                      for b in obj.traverse() if b.type == "blob")

    def _all_files(self) -> list[str]:
        # One `git ls-tree` beats walking GitPython's tree objects by far on big trees.
        out = self._git.git.ls_tree("-r", "--name-only", "-z", self.sha)
        prefix = os.path.relpath(self._real_root, self._git_root)
        prefix = "" if prefix == "." else prefix.replace(os.sep, "/") + "/"
        found = []
        for rel in out.split("\0"):
            if not rel.startswith(prefix):
                continue
            rel = rel[len(prefix):]
            if rel and rel.split("/", 1)[0] not in _SKIP_DIRS:
                found.append(os.path.join(self.root, *rel.split("/")))
        return found


class Scm:
    """The repository's Git history: trees of revisions, branches, tags and commits.
    A context manager: GitPython keeps `git cat-file` processes that must be closed."""

    def __init__(self, repo) -> None:
        self.repo = repo
        self._git_repo = None

    def __enter__(self) -> Scm:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._git_repo is not None:
            self._git_repo.close()
            self._git_repo = None

    def git(self, rev: str = ""):
        if self._git_repo is None:
            what = f"cannot read revision '{rev}'" if rev else "cannot read Git history"
            try:
                self._git_repo = git.open_repo(self.repo.root, search_parent=True)
            except git.NotAGitRepo:
                raise RevisionError(f"{what}: this repository is not in Git.") from None
        return self._git_repo

    def has_commits(self) -> bool:
        """RevisionError outside Git: comparing revisions needs them."""
        return self.git().head.is_valid()

    def tree(self, rev: str, name: str | None = None) -> Tree:
        """The workspace for 'workspace', else the commit `rev` names (branch, tag, sha,
        HEAD~2, ...); RevisionError when it names none."""
        if rev == WORKSPACE:
            return WorkspaceTree(self.repo)
        return GitTree(self.repo, self.git(rev), name or rev, self.commit(rev))

    def commit(self, rev: str):
        commit = git.commit_of(self.git(rev), rev)
        if commit is None:
            raise RevisionError(
                f"unknown Git revision '{rev}'.",
                "Name a branch, a tag or a commit ('git log --oneline' lists them).",
            )
        return commit

    def active_branch(self) -> str | None:
        try:
            return self.git().active_branch.name
        except (TypeError, RevisionError):  # detached HEAD, or no Git
            return None

    def branches(self) -> list[str]:
        return sorted(h.name for h in self.git().heads)

    def tags(self) -> list[str]:
        return sorted(t.name for t in self.git().tags)

    def all_commits(self) -> list[str]:
        out = self.git().git.rev_list("--all")
        return [line for line in out.splitlines() if line]

    def trees(self, revs: list[str] | None = None, all_branches: bool = False,
              all_tags: bool = False, all_commits: bool = False) -> list[Tree]:
        """The workspace, then each commit once, named as DVC names it: the revisions
        that point at one commit joined by commas ('feature,main'); full shas for -A."""
        trees: list[Tree] = [WorkspaceTree(self.repo)]
        names = [r for r in revs or [] if r != WORKSPACE]
        if all_commits:
            names += self.all_commits()
        else:
            if all_branches:
                names += self.branches()
            if all_tags:
                names += self.tags()
        by_sha: dict[str, list[str]] = {}
        commits = {}
        for name in names:
            commit = self.commit(name)
            commits.setdefault(commit.hexsha, commit)
            group = by_sha.setdefault(commit.hexsha, [])
            if name not in group:
                group.append(name)
        for sha, group in by_sha.items():
            trees.append(GitTree(self.repo, self.git(), ",".join(group), commits[sha]))
        return trees
