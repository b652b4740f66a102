"""`lode report`: one self-contained HTML file comparing revisions — the table of params,
metrics and data hashes, the metric deltas against a baseline, the plots of every
revision, and what each revision is (commit, author, date, stage hashes). It opens
offline: styles, scripts and images are inline."""

from __future__ import annotations

import datetime
import os

from lode.ops.reports import Report, ReportError
from lode.ops.reports.compare import is_number
from lode.ops.reports.history import compare
from lode.ops.reports.html import escape, page, require_bundle
from lode.ops.reports.plots import collect, render
from lode.ops.reports.table import compact
from lode.pipeline.revisions import WORKSPACE, Scm

GROUP_TITLES = {"params": "Parameters", "metrics": "Metrics", "deps": "Data (md5 of stage deps)"}


def metric_deltas(rows: list[dict], baseline: str) -> list[dict]:
    """For every row but the baseline: each metric's baseline value, value, difference
    and relative change (None where either side is not a number)."""
    base = next((r for r in rows if r["rev"] == baseline), None)
    if base is None:
        return []
    out = []
    for row in rows:
        if row is base:
            continue
        for name in sorted({*base["metrics"], *row["metrics"]}):
            old, new = base["metrics"].get(name), row["metrics"].get(name)
            diff = new - old if is_number(old) and is_number(new) else None
            rel = diff / abs(old) * 100 if diff is not None and old else None
            out.append({"rev": row["rev"], "metric": name, "baseline": old, "value": new,
                        "diff": diff, "percent": rel})
    return out


def _table(comparison) -> str:
    groups = [g for g in ("params", "metrics", "deps") if any(c[0] == g for c in
                                                                 comparison.columns)]
    head1 = ['<th rowspan="2">Revision</th><th rowspan="2">Commit</th>',
             '<th rowspan="2">Date</th>']
    head2 = []
    for g in groups:
        cols = [c for c in comparison.columns if c[0] == g]
        head1.append(f'<th colspan="{len(cols)}" class="group">{GROUP_TITLES[g]}</th>')
        head2 += [f"<th>{escape(name)}</th>" for _, name in cols]
    body = []
    for row in comparison.rows:
        changed = set(row.get("changed") or [])
        cells = [f"<td class='rev'>{escape(row['rev'])}</td>",
                 f"<td><code>{escape((row.get('sha') or '')[:8] or '-')}</code></td>",
                 f"<td>{escape(_day(row.get('date')))}</td>"]
        for g in groups:
            for _, name in (c for c in comparison.columns if c[0] == g):
                value = row[g].get(name)
                cls = " class='changed'" if name in changed or f"{g}:{name}" in changed else ""
                text = compact(value)
                if g == "deps" and isinstance(value, str):  # the full md5 on hover
                    cells.append(f"<td{cls} title='{escape(value)}'><code>"
                                 f"{escape(value[:8])}</code></td>")
                    continue
                cells.append(f"<td{cls}>{escape(text)}</td>")
        body.append(f"<tr data-rev='{escape(row['rev'])}'>{''.join(cells)}</tr>")
    return ("<table class='compare'><thead><tr>" + "".join(head1) + "</tr><tr>"
            + "".join(head2) + "</tr></thead><tbody>" + "".join(body) + "</tbody></table>")


def _day(date: str | None) -> str:
    if not date:
        return "-"
    try:
        return datetime.datetime.fromisoformat(date).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return date


def _deltas(deltas: list[dict], baseline: str) -> str:
    if not deltas:
        return "<p>No metrics to compare.</p>"
    rows = []
    for d in deltas:
        sign = "" if d["diff"] is None else ("up" if d["diff"] > 0 else
                                            "down" if d["diff"] < 0 else "same")
        pct = "-" if d["percent"] is None else f"{d['percent']:+.2f} %"
        diff = "-" if d["diff"] is None else f"{d['diff']:+.5g}"
        rows.append(f"<tr><td>{escape(d['rev'])}</td><td>{escape(d['metric'])}</td>"
                    f"<td>{escape(compact(d['baseline']))}</td><td>{escape(compact(d['value']))}</td>"
                    f"<td class='{sign}'>{escape(diff)}</td><td class='{sign}'>{pct}</td></tr>")
    return (f"<table class='deltas'><thead><tr><th>Revision</th><th>Metric</th>"
            f"<th>{escape(baseline)} (baseline)</th><th>Value</th><th>Change</th>"
            f"<th>Change %</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _revisions(rows: list[dict]) -> str:
    """Who made each revision, when, and why."""
    body = "".join(
        f"<tr><td class='rev'>{escape(r['rev'])}</td>"
        f"<td><code>{escape(r.get('sha') or 'uncommitted')}</code></td>"
        f"<td>{escape(r.get('author') or '-')}</td><td>{escape(_day(r.get('date')))}</td>"
        f"<td>{escape(r.get('message') or '-')}</td></tr>" for r in rows)
    return ("<table class='revisions'><thead><tr><th>Revision</th><th>Commit</th>"
            "<th>Author</th><th>Date</th><th>Message</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _stage_table(rows: list[dict], stages: dict[str, dict[str, list]]) -> str:
    """Every stage's deps and outs × revisions, as short md5s; a hash that differs from
    the next older revision's is highlighted."""
    names = [r["rev"] for r in rows]
    keys: dict[tuple[str, str, str], dict[str, str]] = {}
    for rev in names:
        for stage, items in stages.get(rev, {}).items():
            for kind, path, md5 in items:
                keys.setdefault((stage, kind, path), {})[rev] = md5
    if not keys:
        return "<p>No stage has run in these revisions.</p>"
    older = _older(rows)
    body = []
    for (stage, kind, path), by_rev in keys.items():
        cells = []
        for rev in names:
            md5 = by_rev.get(rev)
            prev = by_rev.get(older[rev], md5) if rev in older else md5
            cls = " class='changed'" if md5 and prev and md5 != prev else ""
            cells.append(f"<td{cls} title='{escape(md5 or '')}'><code>"
                         f"{escape(md5[:8] if md5 else '-')}</code></td>")
        body.append(f"<tr><td>{escape(stage)}</td><td>{kind}</td><td><code>{escape(path)}"
                    f"</code></td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    return ("<table class='stages'><thead><tr><th>Stage</th><th></th><th>Path</th>"
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _older(rows: list[dict]) -> dict[str, str]:
    """Each revision's next older one, by the rows' age (Git's date order: never a
    parent before its child, even within one second; the workspace is the newest)."""
    by_age = sorted(rows, key=lambda r: r["age"])
    return {by_age[i]["rev"]: by_age[i + 1]["rev"] for i in range(len(by_age) - 1)}


def oldest(rows: list[dict]) -> str:
    return max(rows, key=lambda r: r["age"])["rev"]


def stage_hashes(tree) -> dict[str, list[tuple[str, str, str]]]:
    """{stage: [(dep|out, path, md5)]} as the revision's dvc.lock files record them."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for _, stages, _ in tree.pipelines:
        for stage in stages:
            entry = tree.lock_entry(stage) or {}
            items = []
            for kind in ("deps", "outs"):
                for rec in entry.get(kind) or []:
                    if isinstance(rec, dict) and isinstance(rec.get("md5"), str):
                        items.append((kind[:-1], str(rec.get("path")), rec["md5"]))
            if items:
                found[stage.address(tree.root)] = items
    return found


def _relabel(data: dict, names: dict[str, str]) -> None:
    """Plots are collected by sha; the report names revisions as its table does."""
    data["revisions"] = [names.get(r, r) for r in data.get("revisions", [])]
    for plot in data.get("plots", []):
        plot["revisions"] = {names.get(r, r): v for r, v in plot["revisions"].items()}


def build(repo, revs: list[str] | None = None, all_branches: bool = False,
          all_tags: bool = False, n: int | None = None, baseline: str | None = None,
          title: str | None = None, pull: bool = False) -> Report:
    """The report's HTML in `.data["html"]`, with the rows and deltas beside it. With
    `pull`, the revisions' cached metric and plot files missing here are fetched from
    the default remote first."""
    require_bundle()  # before the revisions are read (and, with `pull`, fetched)

    comparison = compare(repo, revs, all_branches=all_branches, all_tags=all_tags, n=n,
                         pull=pull)
    rows = comparison.rows
    if not rows:
        raise ReportError("there is no revision to report on.",
                          "Commit the pipeline's results first, or name revisions.")
    names = [r["rev"] for r in rows]
    baseline = baseline or oldest(rows)
    if baseline not in names:
        raise ReportError(f"the baseline '{baseline}' is not one of the revisions reported "
                          f"({', '.join(names)}).")
    warnings = list(comparison.warnings)
    # rows are labelled as Scm names them ('main,feature' for one commit two branches
    # name); each is read back by its sha and relabelled
    refs = {r["rev"]: (r.get("sha") or WORKSPACE) for r in rows}
    with Scm(repo) as scm:
        stages = {name: stage_hashes(scm.tree(ref, name)) for name, ref in refs.items()}
    plots = collect(repo, [ref for ref in refs.values() if ref != WORKSPACE],
                    workspace=WORKSPACE in refs.values())
    _relabel(plots.data, {ref: name for name, ref in refs.items()})
    warnings += plots.warnings
    deltas = metric_deltas(rows, baseline)
    project = os.path.basename(repo.root)
    title = title or f"{project}: {len(rows)} revision(s) compared"
    body = (
        f"<header><h1>{escape(title)}</h1><p>Made by lode on "
        f"{datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; baseline "
        f"<b>{escape(baseline)}</b>. Changed cells are highlighted against the next older "
        f"revision.</p></header>"
        f"<section><h2>Comparison</h2>{_table(comparison)}</section>"
        f"<section><h2>Metric deltas against {escape(baseline)}</h2>"
        f"{_deltas(deltas, baseline)}</section>"
        f"<section><h2>Plots</h2>{render(plots.data)}</section>"
        f"<section><h2>Revisions</h2>{_revisions(rows)}"
        f"<h3>Stage hashes (dvc.lock)</h3>{_stage_table(rows, stages)}</section>"
    )
    html = page(title, body, cache_dir=repo.state_dir)  # the Vega bundle, cached on disk
    return Report({"html": html, "rows": rows, "deltas": deltas, "baseline": baseline},
                  warnings)

