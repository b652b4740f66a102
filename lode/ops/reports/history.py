"""`lode compare`: revisions side by side -- the params, metrics and data hashes each one
records -- with the cells that changed from the revision before.

Values are read as `params diff` and `metrics diff` read them (same files, same
flattening, paths relative to the current directory), so the two always agree.

Data hashes: the md5 that a revision's dvc.lock records for each stage dependency that is
data -- an output of another stage, or a path a `.dvc` file tracks. Code dependencies
(train.py) are left out: the commit itself shows how code changed, and their hashes would
crowd out the data's.

`compare()` reads (the I/O edge); `build()` and the renderers are pure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from lode.errors import LodeError
from lode.ops.reports import ReportError, load_revision, metrics, params
from lode.ops.reports.compare import file_data, flatten, is_number
from lode.ops.targeted import fetch_outputs
from lode.pipeline.revisions import WORKSPACE, Scm

GROUPS = ("params", "metrics", "deps")
DEFAULT_N = 10
SHORT_HASH = 8
SHORT_SHA = 7
INFO = ("rev", "sha", "date", "author", "message")
FILL = "-"


class CompareError(ReportError):
    """A comparison that cannot be made as asked (an unknown --sort-by column, ...)."""


@dataclass
class Revision:
    """What one revision records: `{file: {flattened key: value}}` of params and metrics,
    `{dep path: md5}` of its data dependencies, and its commit (None for the workspace)."""

    label: str
    sha: str | None = None
    author: str | None = None
    date: str | None = None  # ISO 8601, the author's date
    message: str | None = None  # the subject line
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    deps: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    """`rows`: one dict per revision (rev, sha, date, author, message, params, metrics,
    deps -- `{column: value or None}` -- and `changed`, the column names whose value differs
    from the next older revision); `columns`: (group, name) in display order."""

    rows: list[dict[str, Any]]
    columns: list[tuple[str, str]]
    warnings: list[str] = field(default_factory=list)
    # other names --sort-by accepts ('metrics.json:roc_auc' for 'roc_auc')
    aliases: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)


# -- columns --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
    group: str
    name: str
    file: str
    key: str | None  # None for deps: `file` is the dep's path

    def value(self, rev: Revision) -> Any:
        if self.key is None:
            return rev.deps.get(self.file)
        return getattr(rev, self.group).get(self.file, {}).get(self.key)


def _qualified(file: str, key: str) -> str:
    return f"{file}:{key}" if key else file


def _columns(revisions: list[Revision]) -> list[_Column]:
    """Params and metrics by file then key (sorted), deps in order of appearance; the file
    prefixes a key only when its group has several files, or the bare key would be
    another group's column name too."""
    cols: list[tuple[str, str, str | None, bool]] = []
    for group in ("params", "metrics"):
        keys: dict[str, set[str]] = {}
        for rev in revisions:
            for file, values in getattr(rev, group).items():
                keys.setdefault(file, set()).update(values)
        several = len(keys) > 1
        cols += [(group, f, k, several) for f in sorted(keys) for k in sorted(keys[f])]
    deps = list(dict.fromkeys(p for rev in revisions for p in rev.deps))
    cols += [("deps", p, None, False) for p in deps]

    def short(f: str, k: str | None) -> str:
        return f if k is None else (k or f)

    groups_of: dict[str, set[str]] = {}
    for group, f, k, _ in cols:
        groups_of.setdefault(short(f, k), set()).add(group)
    out = []
    for group, f, k, several in cols:
        clash = len(groups_of[short(f, k)]) > 1
        name = _qualified(f, k) if k is not None and (several or clash) else short(f, k)
        out.append(_Column(group, name, f, k))
    return out


def _aliases(cols: list[_Column]) -> dict[str, tuple[str, str]]:
    """'file:key' of every column, and a bare key when it names one column: of the
    metrics if any has that key, else of the params."""
    found: dict[str, tuple[str, str]] = {}
    bare: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for c in cols:
        if c.key is None:
            continue
        found[_qualified(c.file, c.key)] = (c.group, c.name)
        if c.key:
            bare.setdefault(c.key, {}).setdefault(c.group, []).append((c.group, c.name))
    for key, by_group in bare.items():
        named = by_group.get("metrics") or by_group["params"]
        if len(named) == 1:
            found.setdefault(key, named[0])
    return {k: v for k, v in found.items() if k != v[1]}


# -- rows -----------------------------------------------------------------------------
def build(revisions: list[Revision], chronology: list[int] | None = None,
          sort_by: str | None = None) -> Comparison:
    """The comparison of `revisions` (in display order). `chronology[i]` ranks revision i
    by age, 0 the newest (default: the display order); a cell is changed when it differs
    from the same column of the next older revision."""
    cols = _columns(revisions)
    rows = []
    for rev in revisions:
        row: dict[str, Any] = {"rev": rev.label, "sha": rev.sha, "date": rev.date,
                               "author": rev.author, "message": rev.message}
        for group in GROUPS:
            row[group] = {c.name: c.value(rev) for c in cols if c.group == group}
        row["changed"] = []
        rows.append(row)
    ranks = chronology if chronology is not None else list(range(len(revisions)))
    for row, rank in zip(rows, ranks, strict=True):
        row["age"] = rank  # 0 the newest: the report picks its baseline by it
    by_age = sorted(range(len(rows)), key=lambda i: ranks[i])
    for newer, older in zip(by_age, by_age[1:], strict=False):
        rows[newer]["changed"] = [
            c.name for c in cols
            if rows[newer][c.group][c.name] != rows[older][c.group][c.name]]
    warnings = list(dict.fromkeys(w for rev in revisions for w in rev.warnings))
    result = Comparison(rows, [(c.group, c.name) for c in cols], warnings, _aliases(cols))
    return sort_rows(result, sort_by) if sort_by else result


def find_column(c: Comparison, name: str) -> tuple[str, str]:
    """The (group, name) that `name` names; CompareError listing the columns if none."""
    for column in c.columns:
        if column[1] == name:
            return column
    if name in c.aliases:
        return c.aliases[name]
    known = ", ".join(n for _, n in c.columns) or "none (no revision has params, metrics " \
                                                     "or data dependencies)"
    raise CompareError(f"there is no column '{name}' to sort by; the columns are: {known}.")


def sort_rows(c: Comparison, name: str) -> Comparison:
    """Rows by one column: metrics best (highest) first, params and hashes ascending;
    numbers before text, missing values last."""
    group, col = find_column(c, name)

    def value(row: dict) -> Any:
        return row[group].get(col)

    descending = group == "metrics"
    numbers = sorted((r for r in c.rows if is_number(value(r))), key=value, reverse=descending)
    texts = sorted((r for r in c.rows if value(r) is not None and not is_number(value(r))),
                   key=lambda r: str(value(r)), reverse=descending)
    missing = [r for r in c.rows if value(r) is None]
    return Comparison(numbers + texts + missing, c.columns, c.warnings, c.aliases)


def only_changed(c: Comparison) -> Comparison:
    """Only the columns with a changed cell in some row."""
    changed = {n for row in c.rows for n in row["changed"]}
    cols = [col for col in c.columns if col[1] in changed]
    rows = [{**row, **{g: {n: v for n, v in row[g].items() if n in changed} for g in GROUPS}}
            for row in c.rows]
    return Comparison(rows, cols, c.warnings, c.aliases)


# -- reading revisions (the I/O edge) -------------------------------------------------
def compare(repo, revs: list[str] | None = None, all_branches: bool = False,
            all_tags: bool = False, n: int | None = None, sort_by: str | None = None,
            cwd: str | None = None, pull: bool = False) -> Comparison:
    """With `revs`: those revisions ('workspace' names the workspace), in that order.
    Without: the workspace when it differs from HEAD, then the newest `n` (default 10)
    commits of HEAD's first-parent history that have a dvc.lock, newest first. Branches
    (`all_branches`) and tags (`all_tags`) are added; each commit appears once. With
    `pull`, their cached metric files missing here are fetched from the default remote
    before they are read."""

    cwd = cwd or os.getcwd()
    n = DEFAULT_N if n is None else n
    with Scm(repo) as scm:
        explicit = list(dict.fromkeys(revs or []))
        has_commits = scm.has_commits()
        names = explicit or (_history(scm, n) if has_commits else [])
        trees = scm.trees(names, all_branches, all_tags) if has_commits or explicit else \
            [scm.tree(WORKSPACE)]
        workspace, commits = trees[0], trees[1:]
        pulled: list[str] = []
        if pull:
            pulled = fetch_outputs(repo, [WORKSPACE, *(t.sha for t in commits)])
        revisions = [read_revision(t, t.name, cwd) for t in commits]
        if WORKSPACE in explicit or not explicit:
            ws = read_revision(workspace, WORKSPACE, cwd)
            if explicit or not has_commits or _differs(scm, ws, revisions, cwd):
                revisions.insert(0, ws)
        ages = _ages(scm, revisions)
        if explicit:
            order = _explicit_order(scm, explicit, revisions, ages)
        else:
            order = sorted(range(len(revisions)), key=lambda i: ages[i])
    revisions = [revisions[i] for i in order]
    result = build(revisions, [ages[i] for i in order], sort_by)
    result.warnings[:0] = pulled
    if not revisions:
        result.warnings.append("nothing to compare: no recent commit of HEAD has a dvc.lock "
                               "('lode repro', then commit it), and the workspace matches HEAD.")
    return result


def _history(scm, n: int) -> list[str]:
    """HEAD~k names of the newest `n` first-parent commits with a dvc.lock; at most
    10n + 100 commits are looked at, so a long history before the pipeline stays cheap."""
    shas = scm.git().git.rev_list("--first-parent", f"--max-count={10 * n + 100}", "HEAD")
    found = []
    for k, sha in enumerate(shas.split()):
        if len(found) >= n:
            break
        tree = scm.tree(sha)
        if any(tree.read_bytes(os.path.join(os.path.dirname(p), "dvc.lock")) is not None
               for p in tree.list_dvcfiles()):
            found.append("HEAD" if k == 0 else f"HEAD~{k}")
    return found


def _differs(scm, workspace: Revision, revisions: list[Revision], cwd: str) -> bool:
    """Whether the workspace records other params, metrics or data than HEAD."""
    head = scm.commit("HEAD").hexsha
    found = next((r for r in revisions if r.sha == head), None)
    if found is None:
        found = read_revision(scm.tree("HEAD"), "HEAD", cwd)
    return any(getattr(workspace, g) != getattr(found, g) for g in GROUPS)


def _ages(scm, revisions: list[Revision]) -> list[int]:
    """Rank of each revision by age, 0 the newest: the workspace, then commits in Git's
    date order (never a parent before its child, even within one second)."""
    shas = [r.sha for r in revisions if r.sha]
    listed = scm.git().git.rev_list("--date-order", *shas).split() if shas else []
    position = {sha: i for i, sha in enumerate(listed)}
    return [position.get(r.sha, -1) + 1 if r.sha else 0 for r in revisions]


def _explicit_order(scm, explicit: list[str], revisions: list[Revision], ages: list[int]
                    ) -> list[int]:
    """The order the revisions were named in; branches and tags added by -a/-T after
    them, newest first."""

    first: dict[str | None, int] = {}
    for i, name in enumerate(explicit):
        sha = None if name == WORKSPACE else scm.commit(name).hexsha
        first.setdefault(sha, i)
    return sorted(range(len(revisions)),
                  key=lambda i: (first.get(revisions[i].sha, len(explicit)), ages[i]))


def read_revision(tree, label: str, cwd: str) -> Revision:
    """One revision's params, metrics and data hashes; what cannot be read is a warning."""
    p, warn_p = load_revision(tree, label, "params", lambda t: params.gather(t, None, False, cwd))
    m, warn_m = load_revision(tree, label, "metrics", lambda t: metrics.gather(t, None, cwd))
    rev = Revision(label, params=_by_file(p), metrics=_by_file(m), deps=_deps(tree, cwd),
                   warnings=warn_p + warn_m)
    commit = getattr(tree, "commit", None)
    if commit is not None:
        rev.sha = commit.hexsha
        rev.author = commit.author.name
        rev.date = commit.authored_datetime.isoformat()
        message = commit.message if isinstance(commit.message, str) else \
            commit.message.decode("utf-8", "replace")
        rev.message = (message.strip().splitlines() or [""])[0]
    return rev


def _by_file(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{file: {flattened key: value}}` from `{"data": {file: {"data": ...}}}`, flattened
    as `diff` flattens (a file holding one value is key ''); failed files left out."""
    out = {}
    for path, found in (result.get("data") or {}).items():
        if "data" not in found:
            continue
        data = file_data(found)
        out[path] = flatten(data) if isinstance(data, dict) else {"": data}
    return out


def _deps(tree, cwd: str) -> dict[str, str]:
    """`{path relative to cwd: md5}` of the data dependencies dvc.lock records."""
    try:
        pipelines = tree.pipelines
    except LodeError:
        if tree.name == "workspace":
            raise
        return {}  # the params and metrics readers have warned about this dvc.yaml
    outs = {s.abspath(o.path) for _, stages, _ in pipelines for s in stages for o in s.outs}
    found: dict[str, str] = {}
    for _, stages, _ in pipelines:
        for stage in stages:
            for dep in (tree.lock_entry(stage) or {}).get("deps") or []:
                if not isinstance(dep, dict) or not isinstance(dep.get("path"), str):
                    continue
                md5, path = dep.get("md5"), stage.abspath(dep["path"])
                if isinstance(md5, str) and _is_data(tree, path, outs):
                    found.setdefault(os.path.relpath(path, cwd), md5)
    return found


def _is_data(tree, path: str, outs: set[str]) -> bool:
    """An output of a stage, or tracked by a .dvc file (of it or of a directory above)."""
    d = path
    while d != tree.root and d.startswith(tree.root):
        if d in outs or tree.read_bytes(d + ".dvc") is not None:
            return True
        d = os.path.dirname(d)
    return False
