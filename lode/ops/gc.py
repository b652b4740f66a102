"""`lode gc`: remove cache (and optionally remote) objects that no chosen scope references.

A scope is the workspace, every branch, every tag or every commit; what each references is
read from its `.dvc` files and `dvc.lock` files (straight from Git with GitPython, no
checkout), directories expanded through their manifests. Objects named by any run-cache
entry are kept too, so a run cache never points at nothing.

`plan` makes every decision (what the scopes keep, what goes, on which remote) before the
first deletion; `confirm_needed` says whether to ask; `remove` deletes. Deleting is the
one thing that cannot be undone, so gc never deletes on doubt: a file that
could reference data and cannot be read whole (conflict markers after a merge, malformed
YAML, a bad md5, an unreadable directory or revision), a referenced directory manifest that
is missing or corrupt, or a remote key that is not an object's, stops gc before anything is
removed, locally or on the remote, naming the file and the problem.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from lode.errors import LodeError, MalformedError, UsageError
from lode.ops.remotes import open_remote
from lode.pipeline.revisions import GitTree, Scm, WorkspaceTree
from lode.plugins.remote import FILES_PREFIX, Remote, object_key
from lode.store.hashinfo import is_dir_md5, is_md5
from lode.store.objects import CorruptObject, MissingObject
from lode.store.references import file_refs, may_reference, run_entry_refs
from lode.store.transfer import download_object

_SKIP_DIRS = {".git", ".dvc"}
_SYMLINK_MODE = 0o120000
_NOTHING = "gc removed nothing"


class GcError(LodeError):
    pass


# -- the flow: decide, confirm, remove -------------------------------------------------
class GcPlan:
    """What gc would delete: cache objects as (md5, path, size), and object keys on
    `remote` (None: the cache only). (A plain class: every data command imports this
    module, and a dataclass is compiled at import.)"""

    def __init__(self, local: list[tuple[str, str, int]], remote: Remote | None = None,
                 keys: list[str] | None = None) -> None:
        self.local, self.remote, self.keys = local, remote, keys or []

    @property
    def local_size(self) -> int:
        return sum(size for _, _, size in self.local)

    @property
    def empty(self) -> bool:
        return not (self.local or self.keys)


def plan(repo, workspace: bool, all_branches: bool, all_tags: bool, all_commits: bool,
         cloud: bool = False, remote_name: str | None = None) -> GcPlan:
    """What the chosen scopes leave unused, in the cache and, with `cloud`, on the remote
    (`remote_name`, or the default). Everything that can refuse runs here, before the
    first deletion (and for --dry too)."""
    refs = referenced(repo, workspace, all_branches, all_tags, all_commits)
    unknown = expand_dirs(repo, refs)
    remote, keys = None, []
    if cloud:
        remote = open_remote(repo, remote_name)
        if not remote.capabilities.delete:
            raise GcError(f"remote '{remote.name}' cannot delete objects.")
        expand_dirs_from(repo, remote, refs, unknown)
        keys = unused_remote(remote, refs)
    else:
        refuse_unknown(refs, unknown)
    return GcPlan(unused_local(repo, refs), remote, keys)


def confirm_needed(gc_plan: GcPlan, force: bool, can_ask: Callable[[], bool]) -> bool:
    """Whether to ask the user before `remove`: there is something to delete and no
    --force. GcError when it must ask and `can_ask()` says nobody can (no terminal)."""
    if gc_plan.empty or force:
        return False
    if not can_ask():
        raise GcError("gc deletes data and needs confirmation: rerun with -f "
                      "(or --dry to see what would go).")
    return True


def remove(gc_plan: GcPlan) -> None:
    remove_local(gc_plan.local)
    if gc_plan.keys:
        gc_plan.remote.delete_many(gc_plan.keys)  # type: ignore[union-attr]


# -- what the scopes reference ---------------------------------------------------------
class Refs:
    """Object md5s the scopes keep, where each was first named (for messages), the
    directories recorded the DVC 3 way (whose manifests gc must read), and every problem
    that forbids deleting."""

    def __init__(self) -> None:
        self.where: dict[str, str] = {}
        self.dirs: set[str] = set()
        self.problems: list[str] = []

    @property
    def keep(self) -> set[str]:
        return set(self.where)

    def __contains__(self, md5: str) -> bool:
        return md5 in self.where

    def add(self, records: list[tuple[str, bool]], where: str) -> None:
        for md5, legacy in records:
            self.where.setdefault(md5, where)
            if is_dir_md5(md5) and not legacy:
                self.dirs.add(md5)

    def read(self, name: str, data: bytes | None, where: str) -> None:
        """Take in the references of one file (`data` None: not a file after all)."""
        if data is None:
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.problems.append(f"{where} is not UTF-8 text.")
            return
        try:
            self.add(file_refs(name, text, where), where)
        except LodeError as e:
            self.problems.append(e.message)

    def refuse_if_any(self) -> None:
        if self.problems:
            more = len(self.problems) - 1
            raise GcError(
                f"{_NOTHING}: {self.problems[0].rstrip('.')}"
                + (f" (and {more} more problem{'s' if more > 1 else ''})." if more else "."),
                "Nothing is deleted while what a file references is unknown: fix it, then "
                "run gc again.",
            )


def _workspace(repo, refs: Refs) -> None:
    """Every pointer, lock and pipeline file on disk, ignored directories included (a
    pointer there still names data someone may check out); a directory that cannot be
    listed is a problem, since what it holds is unknown."""

    def unreadable(e: OSError) -> None:
        refs.problems.append(f"cannot read directory '{repo.rel(e.filename)}' "
                             f"({e.strerror or e}), which may hold .dvc or dvc.lock files.")

    for d, dirs, files in os.walk(repo.root, onerror=unreadable):
        dirs[:] = [s for s in dirs if s not in _SKIP_DIRS]
        for f in files:
            if not may_reference(f):
                continue
            path = os.path.join(d, f)
            where = repo.rel(path)
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    continue  # a fifo would block the read; no such file holds a pointer
                with open(path, "rb") as fh:
                    data = fh.read()
            except (FileNotFoundError, IsADirectoryError):
                continue  # gone meanwhile, or a dangling link: holds nothing
            except OSError as e:
                refs.problems.append(f"cannot read {where} ({e.strerror or e}).")
                continue
            refs.read(f, data, where)


def _revision(tree: GitTree, refs: Refs) -> None:
    # GitTree's listing and entries: the one view of a commit that knows a `dvc init
    # --subdir` root; a symlink's blob holds its target's name, not a pointer.
    try:
        paths = [p for p in tree._all_files() if may_reference(os.path.basename(p))]  # noqa: SLF001
        for path in paths:
            obj = tree._entry(path)  # noqa: SLF001
            if obj is None or obj.type != "blob" or obj.mode == _SYMLINK_MODE:
                continue
            where = f"{os.path.relpath(path, tree.root)} in revision '{tree.name}'"
            refs.read(os.path.basename(path), obj.data_stream.read(), where)
    except Exception as e:  # noqa: BLE001 - git or gitdb failing to read a commit's objects
        refs.problems.append(f"cannot read revision '{tree.name}' ({_git_why(e)}).")


def _git_why(e: Exception) -> str:
    """Git's own sentence (`fatal: ...`) when it gave one, else the exception's first line."""
    text = str(getattr(e, "stderr", "") or "").strip()
    if text.startswith("stderr:"):
        text = text[len("stderr:"):].strip().strip("'")
    text = text or str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200].rstrip(".")


def _run_cache(repo, refs: Refs) -> None:
    runs = os.path.join(repo.cache_dir, "runs")

    def unreadable(e: OSError) -> None:
        if not isinstance(e, FileNotFoundError) or e.filename != runs:
            refs.problems.append(f"cannot read run-cache directory '{e.filename}' "
                                 f"({e.strerror or e}).")

    for d, _, files in os.walk(runs, onerror=unreadable):
        for f in files:
            if f.startswith(".") or f.endswith(".tmp"):
                continue  # a write that never finished: nobody reads it
            path = os.path.join(d, f)
            where = f"run-cache entry {os.path.relpath(path, repo.root)}"
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as e:
                refs.problems.append(f"cannot read {where} ({e.strerror or e}).")
                continue
            try:
                refs.add(run_entry_refs(data.decode("utf-8"), where), where)
            except UnicodeDecodeError:
                refs.problems.append(f"{where} is not UTF-8 text.")
            except LodeError as e:
                refs.problems.append(e.message.rstrip(".") + " (delete it: a run-cache "
                                     "entry only spares a rerun).")


def referenced(repo, workspace: bool, all_branches: bool, all_tags: bool,
               all_commits: bool) -> Refs:
    """Every object md5 the scopes and the run cache reference (manifests not yet
    expanded: see `expand_dirs`); GcError naming the first file that cannot be read."""
    if not (workspace or all_branches or all_tags or all_commits):
        raise UsageError(
            "say which references to keep: -w (workspace), -a (branches), -T (tags) or "
            "-A (all commits).",
            "gc deletes everything else from the cache.",
        )
    refs = Refs()
    # the workspace is always kept, as DVC keeps it: its data is what you work on
    _workspace(repo, refs)
    if all_branches or all_tags or all_commits:
        with Scm(repo) as scm:
            try:
                trees = scm.trees(all_branches=all_branches, all_tags=all_tags,
                                  all_commits=all_commits)
            except LodeError as e:
                raise GcError(f"{_NOTHING}: {e.message}", e.hint) from None
            except Exception as e:  # noqa: BLE001 - git failing to list refs or commits
                raise GcError(f"{_NOTHING}: cannot read the Git history ({_git_why(e)}).",
                              "Nothing is deleted while what history references is unknown."
                              ) from None
            for tree in trees:
                if not isinstance(tree, WorkspaceTree):
                    _revision(tree, refs)
    _run_cache(repo, refs)
    refs.refuse_if_any()
    return refs


def expand_dirs(repo, refs: Refs) -> dict[str, str]:
    """Add the files of every referenced directory to `refs`; return {md5: why} for the
    manifests that cannot be read from the cache (missing or corrupt), whose files
    therefore cannot be told apart from unused ones. A DVC 2 directory (md5-dos2unix)
    lives in the cache's old layout, which gc never collects: its manifest is read there
    (or where `dvc cache migrate` put it) when it can be, and is not needed otherwise."""
    unknown: dict[str, str] = {}
    for md5 in sorted(m for m in refs.keep if is_dir_md5(m)):
        modern = md5 in refs.dirs
        why = ""
        for legacy in ((False,) if modern else (True, False)):
            try:
                entries = repo.objects.read_manifest(md5, legacy=legacy)
            except MissingObject:
                why = why or "missing from the cache"
            except CorruptObject:
                why = "corrupt in the cache (its bytes do not match its name)"
            except MalformedError as e:
                why = f"unreadable ({e.message.rstrip('.')})"
            else:
                refs.add([(m, legacy) for _, m in entries], refs.where[md5])
                break
        else:
            if modern:
                unknown[md5] = why
    return unknown


def refuse_unknown(refs: Refs, unknown: dict[str, str], remote_name: str | None = None) -> None:
    """GcError naming the first manifest in `unknown` (nothing when it is empty)."""
    if not unknown:
        return
    md5 = sorted(unknown)[0]
    more = len(unknown) - 1
    place = f" and not readable on remote '{remote_name}'" if remote_name else ""
    raise GcError(
        f"{_NOTHING}: the manifest {md5} of directory {refs.where[md5]} is "
        f"{unknown[md5]}{place}, so the files it lists cannot be told from unused ones"
        + (f" (and {more} more)." if more else "."),
        "Bring it back ('lode fetch' at the revision that records it), or narrow the scope.",
    )


def expand_dirs_from(repo, remote, refs: Refs, unknown: dict[str, str]) -> None:
    """Bring the manifests missing (or corrupt) in the cache from `remote` and expand
    them; a remote gc that could not read one would delete that directory's files, so it
    refuses."""
    for md5 in sorted(unknown):
        download_object(repo, remote, md5)  # verified before it replaces anything
    refuse_unknown(refs, expand_dirs(repo, refs), remote.name)


def unused_local(repo, keep: Refs | set[str]) -> list[tuple[str, str, int]]:
    """(md5, path, size) of cache objects not in `keep`; only regular files whose name is
    an md5 (a DVC 2 `.dir.unpacked` directory or a stray file is never an object)."""
    out = []
    for md5, path in repo.objects.iter_objects():
        if md5 in keep or not is_md5(md5) or path != repo.objects.path(md5):
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            out.append((md5, path, st.st_size))
    return out


def remove_local(items: list[tuple[str, str, int]]) -> None:
    for _, path, _ in items:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def remote_md5(key: str) -> str | None:
    """The md5 of an object key `files/md5/<2>/<30>[.dir]`; None for any other key."""
    if not key.startswith(FILES_PREFIX):
        return None
    prefix, sep, rest = key[len(FILES_PREFIX):].partition("/")
    md5 = prefix + rest
    if not sep or len(prefix) != 2 or not is_md5(md5) or object_key(md5) != key:
        return None
    return md5


def _leftover(key: str) -> bool:
    """A temporary an interrupted upload left (DVC's `<name>.<uuid>.tmp`, lode's dotted
    names): never an object, never deleted, no reason to stop."""
    name = key.rsplit("/", 1)[-1]
    return name.startswith(".") or name.endswith(".tmp")


def unused_remote(remote, keep: Refs | set[str]) -> list[str]:
    """Object keys on the remote not in `keep`, each rebuilt from its validated md5 (run-
    cache entries under `runs/` are not listed: only `files/md5/` is ever collected). A
    listed key that is not an object's means the listing is not what gc takes it for:
    GcError before anything is deleted."""
    keys = []
    for key in remote.list(FILES_PREFIX):
        md5 = remote_md5(key) if isinstance(key, str) else None
        if md5 is None:
            if isinstance(key, str) and _leftover(key):
                continue
            raise GcError(
                f"{_NOTHING}: remote '{remote.name}' lists {str(key)[:200]!r} under "
                f"{FILES_PREFIX}, which is not an object key (files/md5/<2>/<30>).",
                "Check the remote's URL; remove that key by hand if it is debris.",
            )
        if md5 not in keep:
            keys.append(object_key(md5))
    return keys
