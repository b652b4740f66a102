"""`plots show` and `plots diff`: the plots every dvc.yaml declares (stage `plots:` outputs
and the top-level `plots:` section), read at any revision, as JSON-able data that
lode/reports/vega.py draws.

`collect(...).data` has this shape:
    {"revisions": ["HEAD~1", "workspace"],          # the order the charts use
     "plots": [{
        "id": "confusion.csv",                      # a path from the repository root,
                                                    # or a top-level plot's name; as
                                                    # DVC, "dvc.yaml::ID" when one id
                                                    # comes from several dvc.yaml files
        "kind": "vega" | "image",
        "config": "dvc.yaml" | "",                  # declared where ("" = a stage's output)
        "sources": ["confusion.csv"],               # the files read
        "props": {"template": "confusion", "title": ..., "x": "actual", "y": "predicted",
                  "x_label": ..., "y_label": ..., "series": false},
        "revisions": {"HEAD~1": {"data": [{"actual": 0, "predicted": 1}, ...],
                                 "image_b64": null, "error": null}, ...}}]}

Records are flattened as DVC flattens them: `props.x` and `props.y` name the fields
every record has (`step`, the record's index, when no x is declared; `value` when
several y fields are drawn), and `series` labels each record's file and field when a
plot draws more than one. A revision where a plot's files are missing is absent from
its `revisions` (with a warning); one where they cannot be read has `error` set.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any

from lode.errors import LodeError
from lode.ops.reports import Report
from lode.ops.reports.metrics import producers
from lode.ops.reports.plotdata import (  # noqa: F401 - re-exported: the plots API in one place
    DATA_EXTS,
    DEFAULT_TEMPLATE,
    IMAGE_EXTS,
    INDEX,
    PlotsError,
    datapoints,
    parse_data,
    series,
)
from lode.ops.reports.vega import render as render_plots
from lode.pipeline.revisions import WORKSPACE, Scm

PLOT_PROPS = ("template", "x", "y", "x_label", "y_label", "title", "header")
TEMPLATES = ("linear", "simple", "scatter", "smooth", "confusion", "confusion_normalized",
             "bar_horizontal", "bar_horizontal_sorted")


# -- what a revision declares ---------------------------------------------------------
@dataclass
class Definition:
    """One plot as one revision declares it."""

    config: str  # its dvc.yaml, from the root; "" for a stage's `plots:` output
    name: str  # a path from the root, or a top-level plot's name
    props: dict
    sources: list[str] = field(default_factory=list)  # paths from the root

    @property
    def image(self) -> bool:
        return os.path.splitext(self.name)[1].lower() in IMAGE_EXTS


def _rel(tree, path: str) -> str:
    return os.path.relpath(path, tree.root).replace(os.sep, "/")


def _files(tree, path: str, outs: dict) -> list[str]:
    """A declared path's plot files: itself, or the data and image files of a directory
    (from the tree, or from a cached output's manifest)."""
    if tree.isdir(path):
        found = tree.files_under(path)
    else:
        producer = outs.get(path)
        found = (tree.cached_files(*producer) if producer and producer[1].cache else []) or [
            path]
    if len(found) == 1 and found[0] == path:
        return found
    return [f for f in found if os.path.splitext(f)[1].lower() in DATA_EXTS + IMAGE_EXTS]


def _top_item(item: Any, where: str) -> tuple[str, dict]:
    if isinstance(item, str) and item:
        return item, {}
    if isinstance(item, dict) and len(item) == 1:
        name, props = next(iter(item.items()))
        if isinstance(name, str) and isinstance(props, (dict, type(None))):
            return name, dict(props or {})
    raise PlotsError(f"{where}: a 'plots' entry must be a path or {{ID: {{x, y, ...}}}}.")


def definitions(tree) -> list[Definition]:
    """Every plot a tree declares: each dvc.yaml's top-level `plots:`, then the stages'
    `plots:` outputs; a directory gives one plot per file in it."""

    outs = producers(tree)
    found: list[Definition] = []
    for path, _, doc in tree.pipelines:
        config, base = _rel(tree, path), os.path.dirname(path)
        items = doc.get("plots") or []
        if not isinstance(items, list):
            raise PlotsError(f"{config}: 'plots' must be a list.")
        for item in items:
            name, props = _top_item(item, config)
            props = {k: v for k, v in props.items() if k in PLOT_PROPS}
            if not isinstance(props.get("y"), dict):  # the id is a file or a directory
                for f in _files(tree, os.path.normpath(os.path.join(base, name)), outs):
                    found.append(Definition(config, _rel(tree, f), props, [_rel(tree, f)]))
                continue
            for axis in ("x", "y"):  # {file: field} names files from this dvc.yaml
                if isinstance(props.get(axis), dict):
                    props[axis] = {_rel(tree, os.path.normpath(os.path.join(base, f))): v
                                   for f, v in props[axis].items()}
            sources = list(props["y"]) + list(props.get("x") or {}) * isinstance(
                props.get("x"), dict)
            found.append(Definition(config, name, props, list(dict.fromkeys(sources))))
    for _, stages, _ in tree.pipelines:
        for stage in stages:
            for out in stage.outs:
                if out.kind != "plots":
                    continue
                props = {k: v for k, v in out.options.items() if k in PLOT_PROPS}
                for f in _files(tree, stage.abspath(out.path), outs):
                    found.append(Definition("", _rel(tree, f), props, [_rel(tree, f)]))
    return found


def _owner(path: str, outs: dict):
    d = path
    while d not in outs:
        parent = os.path.dirname(d)
        if parent == d:
            return None, None
        d = parent
    return outs[d]


# -- reading a plot at one revision ---------------------------------------------------
def _at(tree) -> str:
    return "in the workspace" if tree.name == WORKSPACE else f"at revision '{tree.name}'"


def read_plot(tree, defn: Definition, outs: dict,
              plot_id: str | None = None) -> tuple[dict | None, dict | None, list[str]]:
    """(entry, shown props, warnings) of one plot at one revision; entry None when its
    files are all missing there."""
    warnings: list[str] = []
    contents: dict[str, bytes] = {}
    try:
        for rel in defn.sources:
            path = os.path.join(tree.root, *rel.split("/"))
            raw = tree.read_output(path, *_owner(path, outs))
            if raw is None:
                warnings.append(f"'{rel}' does not exist {_at(tree)}.")
            else:
                contents[rel] = raw
        if not contents:
            return None, None, warnings
        if defn.image:
            b64 = base64.b64encode(contents[defn.sources[0]]).decode("ascii")
            return _entry(image_b64=b64), {"title": defn.props.get("title") or defn.name}, []
        header = defn.props.get("header", True) is not False
        files = {rel: parse_data(raw, rel, header) for rel, raw in contents.items()}
        records, shown = series(defn.name, defn.props, files)
    except LodeError as e:
        warnings.append(f"cannot draw plot '{plot_id or defn.name}' {_at(tree)}: {e}")
        return _entry(error=str(e)), None, warnings
    return _entry(data=records), shown, warnings


def _entry(data: list | None = None, image_b64: str | None = None,
           error: str | None = None) -> dict:
    return {"data": data, "image_b64": image_b64, "error": error}


# -- the revisions, the targets, the whole report -------------------------------------
def _trees(scm, revs: list[str] | None, workspace: bool) -> list:
    revs = list(revs or [])
    workspace = workspace or WORKSPACE in revs or not revs
    if not [r for r in revs if r != WORKSPACE]:
        return [scm.tree(WORKSPACE)]
    trees = scm.trees(revs)  # the workspace first, then each commit once
    return trees[1:] + trees[:1] if workspace else trees[1:]


def _ids(keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """DVC's plot ids: the name, or "dvc.yaml::name" when several files declare it."""
    configs: dict[str, set[str]] = {}
    for config, name in keys:
        configs.setdefault(name, set()).add(config)
    return {(c, n): f"{c}::{n}" if len(configs[n]) > 1 and c else n for c, n in keys}


def _matches(target: str, rel: str, key: tuple[str, str], plot_id: str) -> bool:
    config, name = key
    return (target in (name, plot_id) or rel in (name, config)
            or name.startswith(rel.rstrip("/") + "/"))


def collect(repo, revs: list[str] | None = None, targets: list[str] | None = None,
            workspace: bool = True, cwd: str | None = None) -> Report:
    """The plots of the revisions `revs` (Git revisions; none: the workspace alone) and,
    with `workspace`, the workspace last; only those `targets` name (plot ids, files or
    directories from `cwd`, dvc.yaml files) when given. A target that names no plot but a
    file is drawn with the defaults; one that names neither is a PlotsError."""

    cwd = cwd or os.getcwd()
    warnings: list[str] = []
    with Scm(repo) as scm:
        trees = _trees(scm, revs, workspace)
        declared: list[tuple[Any, list[Definition]]] = []
        for tree in trees:
            try:
                declared.append((tree, definitions(tree)))
            except LodeError as e:
                if tree.name == WORKSPACE:
                    raise
                warnings.append(f"cannot read the plots {_at(tree)}: {e}")
                declared.append((tree, []))
        keys = list(dict.fromkeys((d.config, d.name) for _, defs in declared for d in defs))
        ids = _ids(keys)
        if targets:
            declared = _select(repo, declared, ids, targets, cwd)
            keys = list(dict.fromkeys((d.config, d.name) for _, defs in declared for d in defs))
            ids = _ids(keys)
        plots: dict[tuple[str, str], dict] = {}
        for key in keys:
            plots[key] = {"id": ids[key], "kind": "vega", "config": key[0], "sources": [],
                          "props": {}, "revisions": {}}
        for tree, defs in declared:
            outs = producers(tree)
            for defn in defs:
                plot = plots[(defn.config, defn.name)]
                if not plot["sources"]:
                    plot["sources"] = defn.sources
                    plot["kind"] = "image" if defn.image else "vega"
                entry, shown, found = read_plot(tree, defn, outs, plot["id"])
                warnings.extend(found)
                if entry is not None:
                    plot["revisions"][tree.name] = entry
                if shown and not plot["props"]:
                    plot["props"] = shown
        for (_, name), plot in plots.items():
            if not plot["props"]:
                props = next(d.props for _, defs in declared for d in defs if d.name == name)
                plot["props"] = {"title": props.get("title") or plot["id"]}
                if plot["kind"] == "vega":
                    plot["props"]["template"] = props.get("template") or DEFAULT_TEMPLATE
            template = plot["props"].get("template")
            if plot["kind"] == "vega" and template not in TEMPLATES:
                warnings.append(f"plot '{plot['id']}' asks for template '{template}', which "
                                f"lode does not draw; it is drawn as '{DEFAULT_TEMPLATE}'.")
                plot["props"]["template"] = DEFAULT_TEMPLATE
    return Report({"revisions": [t.name for t in trees], "plots": list(plots.values())},
                  warnings)


def _select(repo, declared: list, ids: dict, targets: list[str], cwd: str) -> list:
    """Only the plots the targets name; a target naming a plot file nothing declares
    becomes a plot with the defaults."""
    rels = {t: _rel(repo, repo.resolve(t, cwd)) for t in targets}
    hit: set[str] = set()
    chosen = []
    for tree, defs in declared:
        keep = []
        for d in defs:
            key = (d.config, d.name)
            names = [t for t in targets if _matches(t, rels[t], key, ids[key])]
            hit.update(names)
            if names:
                keep.append(d)
        chosen.append((tree, keep))
    for target in targets:
        if target in hit:
            continue
        rel = rels[target]
        path = os.path.join(repo.root, *rel.split("/"))
        found = False
        for tree, keep in chosen:
            files = tree.files_under(path) if tree.isdir(path) else (
                [path] if tree.read_bytes(path) is not None else [])
            for f in files:
                if os.path.splitext(f)[1].lower() in DATA_EXTS + IMAGE_EXTS:
                    keep.append(Definition("", _rel(tree, f), {}, [_rel(tree, f)]))
                    found = True
        if not found:
            raise PlotsError(f"unknown plot '{target}': no dvc.yaml declares it and no "
                             "plot file (JSON, YAML, CSV, TSV or image) is there.",
                             "'lode plots show --json' lists the plots.")
    return chosen


def show(repo, targets: list[str] | None = None, cwd: str | None = None) -> Report:
    """`plots show`: the workspace's plots."""
    return collect(repo, None, targets, cwd=cwd)


def diff(repo, revs: list[str] | None = None, targets: list[str] | None = None,
         cwd: str | None = None) -> Report:
    """`plots diff`: no revision: HEAD and the workspace (the workspace alone before
    the first commit); one: it and the workspace; more: those revisions alone."""

    revs = list(revs or [])
    if not revs:
        with Scm(repo) as scm:
            revs = ["HEAD"] if scm.has_commits() else []
    return collect(repo, revs, targets, workspace=len(revs) <= 1, cwd=cwd)


def render(data: dict) -> str:
    """The HTML body (without the page around it) of every plot in `collect`'s data."""

    return render_plots(data)
