"""Make a workspace output match a recorded hash: plan first, refuse to lose data, then link.

Shared by checkout (restore from the cache) and add/commit (swap files for links when the
cache type is hardlink or symlink).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from lode.atomic import is_tmp_name, remove_stale_temps
from lode.parallel import parallel_map
from lode.paths import LinkGuard, check_no_links
from lode.store.hashing import md5_dos2unix_file, md5_file
from lode.store.listing import walk_files
from lode.store.objects import CorruptObject, MissingObject
from lode.store.outputs import Output, file_md5_cached
from lode.store.statcache import Stat


@dataclass
class Plan:
    path: str  # absolute output path
    md5: str
    is_dir: bool
    isexec: bool = False
    link: list[tuple[str, str, str]] = field(default_factory=list)  # (rel, abs, md5)
    remove: list[str] = field(default_factory=list)  # absolute paths of files not recorded
    lose: list[str] = field(default_factory=list)  # changes that exist nowhere else
    keep: list[tuple[str, Stat]] = field(default_factory=list)  # (rel, stat) already right
    replace_tree: bool = False  # a file or link stands where the directory must be
    created: bool = False  # the output did not exist at all
    legacy: bool = False  # a DVC 2.x entry: objects in the cache's legacy layout
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (path, md5, why)

    @property
    def changes(self) -> bool:
        return bool(self.link or self.remove or self.replace_tree)


def _is_linked(repo, md5: str, dest: str, st_dest: Stat) -> bool:
    """Already the right kind of link to the object (for --relink and hardlink/symlink add)."""
    kind = repo.link_types[0]
    obj = repo.objects.path(md5)
    if kind == "symlink":
        return os.path.islink(dest) and os.readlink(dest) == os.path.abspath(obj)
    if kind == "hardlink":
        try:
            return os.stat(obj).st_ino == st_dest[0] and not os.path.islink(dest)
        except OSError:
            return False
    return not os.path.islink(dest)


def plan_file(
    repo, path: str, md5: str, isexec: bool, relink: bool, legacy: bool = False
) -> Plan:
    check_no_links(repo.root, path)
    plan = Plan(path, md5, False, isexec, legacy=legacy)
    if os.path.isdir(path) and not os.path.islink(path):
        plan.replace_tree = True
        plan.lose.append(repo.rel(path) + "/")
        plan.link.append(("", path, md5))
        return plan
    cur = file_md5_cached(repo, path)
    plan.created = cur is None
    if cur is not None and cur != md5 and legacy and md5_dos2unix_file(path) == md5:
        cur = md5
    if cur == md5 and not (relink and not _is_linked(repo, md5, path, _stat(path))):
        plan.keep.append(("", _stat(path)))
        return plan
    if cur is not None and not repo.objects.exists(cur):
        plan.lose.append(repo.rel(path))
    plan.link.append(("", path, md5))
    return plan


def _under(rel: str, only: set[str]) -> bool:
    return any(rel == o or rel.startswith(o + "/") for o in only)


def plan_dir(
    repo,
    path: str,
    md5: str,
    relink: bool,
    entries=None,
    only: set[str] | None = None,
    legacy: bool = False,
) -> Plan:
    """`only`: restrict the plan to these paths inside the directory (checkout of d/sub)."""
    check_no_links(repo.root, path, is_dir=True)
    plan = Plan(path, md5, True, legacy=legacy)
    if entries is None:
        try:
            entries = repo.objects.read_manifest(md5, legacy)
        except (MissingObject, CorruptObject) as e:
            why = "missing from the cache" if isinstance(e, MissingObject) else "corrupt"
            plan.failed.append((repo.rel(path), md5, why))
            return plan
    if only is not None:
        entries = [(rel, m) for rel, m in entries if _under(rel, only)]
    wanted = dict(entries)
    rows = []
    if os.path.lexists(path) and not os.path.isdir(path):
        plan.replace_tree = True
        plan.lose.append(repo.rel(path))
    elif os.path.isdir(path):
        rows = walk_files(path, repo.ignore.matcher(path))
        if only is not None:
            rows = [r for r in rows if _under(r[0], only)]
    else:
        plan.created = True
    rel_root = repo.rel(path)
    known = repo.stat.get_prefix(rel_root) if rows else {}
    unknown = [r for r in rows if _known_md5(known, r) is None]
    digests = parallel_map(lambda r: md5_file(r[1]), unknown, "Hashing " + rel_root)
    hashed = {r[0]: m for r, m in zip(unknown, digests, strict=True)}
    fresh = []
    for rel, abspath, st in rows:
        cur = _known_md5(known, (rel, abspath, st)) or hashed[rel]
        if rel in hashed:
            fresh.append((f"{rel_root}/{rel}", st, cur))
        want = wanted.get(rel)
        if want == cur and not (relink and not _is_linked(repo, cur, abspath, st)):
            plan.keep.append((rel, st))
            continue
        if want is None and is_tmp_name(os.path.basename(rel)):
            plan.remove.append(abspath)  # a killed checkout's leftover, nobody's data
            continue
        if not repo.objects.exists(cur):
            plan.lose.append(f"{rel_root}/{rel}")
        if want is None:
            plan.remove.append(abspath)
    repo.stat.put_many(fresh)
    kept = {rel for rel, _ in plan.keep}
    plan.link = [(rel, os.path.join(path, rel), m) for rel, m in entries if rel not in kept]
    guard = LinkGuard(repo.root, path)
    for _, abspath, _ in plan.link:
        guard.check_parent(abspath)  # a directory inside replaced by a link to elsewhere
    return plan


def _known_md5(known, row) -> str | None:
    rel, _, st = row
    hit = known.get(rel.encode("utf-8", "surrogateescape"))
    return hit[3] if hit is not None and hit[:3] == st else None


def _stat(path: str) -> Stat:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def execute(repo, plan: Plan, link_types: list[str] | None = None) -> None:
    """Carry out a plan; files whose object is missing or corrupt land in plan.failed.
    `link_types` overrides the cache's (an uncached output is always a plain copy)."""
    if plan.replace_tree:
        if os.path.isdir(plan.path) and not os.path.islink(plan.path):
            shutil.rmtree(plan.path)
        else:
            os.unlink(plan.path)
    for p in plan.remove:
        os.unlink(p)
    if not plan.is_dir:
        remove_stale_temps(plan.path)  # what a killed run left beside the file
    store, types = repo.objects, link_types or repo.link_types
    parents = {os.path.dirname(a) for _, a, _ in plan.link}
    for d in sorted(parents):
        os.makedirs(d, exist_ok=True)

    def one(item):
        rel, abspath, md5 = item
        try:
            return rel, md5, store.link(md5, abspath, types, plan.isexec, plan.legacy), None
        except MissingObject:
            return rel, md5, None, "missing from the cache"
        except CorruptObject:
            return rel, md5, None, "corrupt in the cache (its bytes do not match its name)"

    results = parallel_map(one, plan.link, "Checking out " + repo.rel(plan.path), processes=True)
    done = [(rel, st) for rel, _, st, err in results if err is None]
    rel_root = repo.rel(plan.path)
    for rel, md5, _, err in results:
        if err is not None:
            plan.failed.append((f"{rel_root}/{rel}" if rel else rel_root, md5, err))
    by_rel = {rel: md5 for rel, _, md5 in plan.link}
    if plan.is_dir:
        # File rows only: the next status rebuilds the directory memo from them in walk
        # order without rereading a byte.
        repo.stat.put_trusted((f"{rel_root}/{rel}", st, by_rel[rel]) for rel, st in done)
    elif done:
        repo.stat.put_trusted([(rel_root, done[0][1], plan.md5)])


def link_workspace(repo, path: str, built: Output) -> None:
    """After add/commit: with a hardlink or symlink cache, turn the workspace files into
    links to their (read-only) objects. Copy and reflink leave the bytes where they are."""
    if repo.link_types[0] in ("copy", "reflink"):
        return
    if built.nfiles is None:
        plan = plan_file(repo, path, built.md5, built.isexec, relink=True)
    else:
        plan = plan_dir(repo, path, built.md5, relink=True, entries=built.entries or None)
    plan.lose.clear()  # the bytes were just stored: nothing can be lost
    execute(repo, plan)
