"""`metrics show` and `metrics diff`: the metrics files every dvc.yaml declares, read at
any revision, in DVC 3's JSON shapes.

A metrics file is JSON, YAML or TOML, as DVC reads it. CSV and TSV are lode's addition
(DVC reads them as YAML and gets a string or an error): their last row, which is the
final epoch of a training log and the only row of a one-line summary.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

from lode.ops.reports import Report, ReportError, diff_revisions, error_record, load_revision
from lode.pipeline.params import parse_document
from lode.pipeline.revisions import WORKSPACE, Scm, Tree
from lode.pipeline.stage import OutSpec, Stage

Producer = tuple[Stage, OutSpec]


class MetricsParseError(ReportError):
    pass


# -- reading one file -----------------------------------------------------------------
def number(text: str) -> Any:
    """A CSV/TSV cell as int, float or the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _last_row(text: str, delimiter: str) -> dict:
    rows = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        return {}
    return {k: number(v) for k, v in rows[-1].items() if k is not None and v is not None}


def parse(text: str, path: str) -> Any:
    """The document in a metrics file, by its extension (YAML when unknown, as DVC)."""
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".tsv"):
        return _last_row(text, "\t" if ext == ".tsv" else ",")
    # a metrics file is never Python: DVC reads an unknown extension as YAML
    return parse_document(".yaml" if ext == ".py" else ext, text, None)


def extract(doc: Any) -> Any:
    """Numbers, strings and booleans, nested in mappings; lists and nulls are dropped
    (DVC's `_extract_metrics`)."""
    if isinstance(doc, (int, float, str)):
        return doc
    if not isinstance(doc, dict):
        return None
    out = {}
    for key, value in doc.items():
        v = extract(value)
        if v not in (None, {}):
            out[key] = v
    return out


def read_metric(tree: Tree, path: str, producer: Producer | None, where: str) -> dict:
    """`{"data": ...}` or `{"error": {...}}` for one file of a tree."""
    stage, out = producer if producer else (None, None)
    try:
        raw = tree.read_output(path, stage, out)
    except ReportError as e:
        return error_record(e)
    except Exception as e:  # noqa: BLE001 - e.g. a corrupt cache object; the report goes on
        return error_record(e)
    if raw is None:
        cached = producer is not None and producer[1].cache
        msg = f"'{where}' does not exist" + (" in the workspace or the cache" if cached else "")
        return error_record(f"{msg}.", "FileNotFoundError")
    try:
        doc = parse(raw.decode("utf-8"), path)
    except Exception as e:  # noqa: BLE001 - any parser's failure is this file's error
        return error_record(f"'{where}' is not valid {_kind(path)}: {e}", type(e).__name__)
    return {"data": extract(doc) or {}}


def _kind(path: str) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return ext.upper() if ext in ("json", "toml", "csv", "tsv") else "YAML"


# -- what a tree declares -------------------------------------------------------------
def producers(tree: Tree) -> dict[str, Producer]:
    """Every declared output of the tree's stages, by absolute path."""
    return {s.abspath(o.path): (s, o) for _, stages, _ in tree.pipelines
            for s in stages for o in s.outs}


def _producer_of(path: str, outs: dict[str, Producer]) -> Producer | None:
    d = path
    while True:
        if d in outs:
            return outs[d]
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def declared(tree: Tree) -> list[str]:
    """Stage `metrics:` outputs, then each dvc.yaml's top-level `metrics:`, once each."""
    paths = [s.abspath(o.path) for _, stages, _ in tree.pipelines
             for s in stages for o in s.outs if o.kind == "metrics"]
    for path, _, doc in tree.pipelines:
        base = os.path.dirname(path)
        for item in doc.get("metrics") or []:
            if isinstance(item, str):
                paths.append(os.path.normpath(os.path.join(base, item)))
    return list(dict.fromkeys(paths))


def _expand(tree: Tree, paths: list[str], outs: dict[str, Producer]) -> list[str]:
    """Directories become the files in them (from the tree, or a cached output's manifest)."""
    found: list[str] = []
    for path in paths:
        if tree.isdir(path):
            found.extend(tree.files_under(path))
            continue
        producer = outs.get(path)
        files = tree.cached_files(*producer) if producer and producer[1].cache else []
        found.extend(files or [path])
    return list(dict.fromkeys(found))


def gather(tree: Tree, targets: list[str] | None, cwd: str) -> dict[str, dict]:
    """`{path relative to cwd: {"data"|"error": ...}}` for the tree's metrics, or the
    files `targets` (absolute paths) name even when no dvc.yaml declares them."""
    outs = producers(tree)
    paths = _expand(tree, targets if targets else declared(tree), outs)
    result = {}
    for path in paths:
        where = os.path.relpath(path, cwd)
        result[where] = read_metric(tree, path, _producer_of(path, outs), where)
    return result


def resolve_targets(repo, targets: list[str] | None, cwd: str) -> list[str] | None:
    return [repo.resolve(t, cwd) for t in targets] if targets else None


def show(repo, targets: list[str] | None = None, all_branches: bool = False,
         all_tags: bool = False, all_commits: bool = False, cwd: str | None = None) -> Report:
    """DVC's `metrics show --json`: `{rev: {"data": {path: {"data": {...}}}}}`, rev ''
    for the workspace alone; with -a/-T/-A the workspace first (left out when it equals
    the checked-out branch), then each commit once."""
    cwd = cwd or os.getcwd()
    paths = resolve_targets(repo, targets, cwd)
    data: dict[str, Any] = {}
    warnings: dict[str, list[str]] = {}
    with Scm(repo) as scm:
        many = all_branches or all_tags or all_commits
        trees = scm.trees(None, all_branches, all_tags, all_commits) if many else [
            scm.tree(WORKSPACE)]
        for tree in trees:
            label = tree.name if many else ""
            data[label], warnings[label] = load_revision(
                tree, label, "metrics", lambda t: gather(t, paths, cwd))
        if many and _same_as_branch(data, scm.active_branch()):
            del data[WORKSPACE]
    return Report(data, [w for label in data for w in warnings[label]])


def _same_as_branch(data: dict[str, Any], branch: str | None) -> bool:
    """The workspace shows nothing the checked-out branch does not. (DVC looks the
    branch up by name alone, so it keeps the workspace when another branch shares the
    commit, as in 'feature,main'; lode does not.)"""
    if branch is None or WORKSPACE not in data:
        return False
    label = next((k for k in data if k != WORKSPACE and branch in k.split(",")), None)
    return label is not None and data[WORKSPACE] == data[label]


def diff(repo, a_rev: str = "HEAD", b_rev: str = WORKSPACE, targets: list[str] | None = None,
         all: bool = False, cwd: str | None = None) -> Report:  # noqa: A002 - DVC's name
    """DVC's `metrics diff --json`: `{path: {key: {"old", "new", "diff"}}}`; only changed
    keys unless `all`; {} in a repository without commits, as DVC."""
    cwd = cwd or os.getcwd()
    paths = resolve_targets(repo, targets, cwd)
    return diff_revisions(repo, a_rev, b_rev, "metrics", lambda t: gather(t, paths, cwd), all)
