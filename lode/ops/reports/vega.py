"""Vega-Lite specs for the plot templates DVC 3 knows, written for lode (not DVC's JSON):
linear, simple, scatter, smooth, bar_horizontal(_sorted), confusion(_normalized). Each
spec carries its data inline, every record tagged with its revision (`rev`), and is
readable on its own: a title, axis titles, a legend when several revisions or series
are drawn, tooltips. `render` lays the plots of `lode.ops.reports.plots.collect` out as HTML.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from lode.ops.reports import html

WIDTH, HEIGHT = 460, 280
REV = "rev"
LINE = "line"  # what the colour tells apart: the revision, the series, or both


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _records(plot: dict) -> list[dict]:
    out = []
    for rev, entry in plot["revisions"].items():
        for rec in entry.get("data") or []:
            out.append({**rec, REV: rev})
    return out


def spec(plot: dict) -> dict:
    """The Vega-Lite spec of one data plot of `collect`'s data."""
    props = plot["props"]
    template = props.get("template", "linear")
    records = _records(plot)
    if template.startswith("confusion"):
        return _confusion(props, records, normalized=template == "confusion_normalized")
    revs = list(dict.fromkeys(r[REV] for r in records))
    many_series = len({r.get("series") for r in records}) > 1
    legend = "revision" if len(revs) > 1 else None
    for r in records:
        if many_series and len(revs) > 1:
            r[LINE] = f"{r[REV]}: {r['series']}"
        else:
            r[LINE] = r.get("series") if many_series else r[REV]
    if many_series:
        legend = "revision: series" if len(revs) > 1 else "series"
    x, y = props["x"], props["y"]
    x_type = "quantitative" if _numeric([r[x] for r in records]) else "ordinal"
    tooltip = [{"field": REV, "type": "nominal", "title": "revision"}]
    if many_series:
        tooltip.append({"field": "series", "type": "nominal"})
    tooltip += [{"field": x, "type": x_type, "title": props["x_label"]},
                {"field": y, "title": props["y_label"], "type": "quantitative"}]
    color = ({"field": LINE, "type": "nominal", "title": legend,
              "legend": {"orient": "bottom", "columns": 2, "labelLimit": 320}}
             if legend else {"value": "#4c78a8"})
    base: dict[str, Any] = {
        "title": {"text": props["title"], "anchor": "start"},
        "width": WIDTH, "height": HEIGHT,
        "data": {"values": records},
    }
    if template.startswith("bar_horizontal"):
        encoding = {
            "x": {"field": x, "type": "quantitative", "title": props["x_label"]},
            "y": {"field": y, "type": "nominal", "title": props["y_label"],
                  "sort": "-x" if template.endswith("_sorted") else "ascending"},
            "color": color,
            "tooltip": tooltip[:-2] + [{**tooltip[-2], "type": "quantitative"},
                                       {**tooltip[-1], "type": "nominal"}],
        }
        if legend:  # the bars of each revision (or series) side by side in a category
            encoding["yOffset"] = {"field": LINE, "type": "nominal"}
        return {**base, "mark": {"type": "bar"}, "encoding": encoding}
    x_axis = {"tickMinStep": 1, "format": "d"} if all(
        isinstance(r[x], int) for r in records) else {}
    encoding = {
        "x": {"field": x, "type": x_type, "title": props["x_label"], "axis": x_axis},
        "y": {"field": y, "type": "quantitative", "title": props["y_label"],
              "scale": {"zero": False}},
        "color": color,
        "tooltip": tooltip,
    }
    if template == "scatter":
        return {**base, "mark": {"type": "point", "filled": True, "size": 50},
                "encoding": encoding}
    if template == "smooth" and x_type == "quantitative":
        return {**base, "encoding": encoding, "layer": [
            {"mark": {"type": "point", "opacity": 0.3, "size": 20}},
            {"transform": [{"loess": y, "on": x, "groupby": [LINE, REV] + (
                ["series"] if many_series else []), "bandwidth": 0.3}],
             "mark": {"type": "line", "strokeWidth": 2}},
        ]}
    return {**base, "mark": {"type": "line", "point": template != "simple",
                             "strokeWidth": 2}, "encoding": encoding}


def _confusion(props: dict, records: list[dict], normalized: bool) -> dict:
    """A heatmap of counts per (x, y) pair, one matrix per revision; every class pair is
    a cell (0 where it never occurs), so matrices of different revisions line up.
    Counted here rather than by Vega transforms: the page carries the counts, not each
    sample, and a test can read them."""
    x, y = props["x"], props["y"]
    revs = list(dict.fromkeys(r[REV] for r in records))
    classes_x = sorted({r[x] for r in records if x in r}, key=_order)
    classes_y = sorted({r[y] for r in records if y in r}, key=_order)
    counts: dict[tuple, int] = {}
    for r in records:
        if x in r and y in r:
            key = (r[REV], r[x], r[y])
            counts[key] = counts.get(key, 0) + 1
    cells = []
    for rev in revs:
        row_totals = {a: sum(counts.get((rev, a, b), 0) for b in classes_y) for a in classes_x}
        top = max([counts.get((rev, a, b), 0) for a in classes_x for b in classes_y] or [0])
        for a in classes_x:
            for b in classes_y:
                n = counts.get((rev, a, b), 0)
                cell = {REV: rev, x: a, y: b, "count": n,
                        "share": round(n / row_totals[a], 4) if row_totals[a] else 0.0}
                shown = cell["share"] if normalized else n
                cell["dark"] = bool(top) and shown > (0.5 if normalized else top / 2)
                cells.append(cell)
    value = "share" if normalized else "count"
    value_title = f"share of {props['x_label']}" if normalized else "count"
    step = max(28, min(80, 320 // max(len(classes_x), len(classes_y), 1)))
    sort_x = [_label(c) for c in classes_x]
    sort_y = [_label(c) for c in classes_y]
    for cell in cells:  # nominal axes: labels as text, in the classes' own order
        cell[x], cell[y] = _label(cell[x]), _label(cell[y])
    tooltip = [{"field": REV, "type": "nominal", "title": "revision"},
               {"field": x, "type": "nominal", "title": props["x_label"]},
               {"field": y, "type": "nominal", "title": props["y_label"]},
               {"field": "count", "type": "quantitative"},
               {"field": "share", "type": "quantitative", "format": ".1%"}]
    layer = {
        "width": {"step": step}, "height": {"step": step},
        "encoding": {
            "x": {"field": x, "type": "nominal", "sort": sort_x, "title": props["x_label"],
                  "axis": {"labelAngle": 0}},
            "y": {"field": y, "type": "nominal", "sort": sort_y, "title": props["y_label"]},
            "tooltip": tooltip,
        },
        "layer": [
            {"mark": {"type": "rect"},
             "encoding": {"color": {"field": value, "type": "quantitative",
                                    "title": value_title,
                                    "scale": {"scheme": "blues", "zero": True}}}},
            {"mark": {"type": "text", "fontSize": 13},
             "encoding": {"text": {"field": value, "type": "quantitative",
                                   "format": ".2f" if normalized else "d"},
                          "color": {"condition": {"test": "datum.dark", "value": "white"},
                                    "value": "black"}}},
        ],
    }
    return {
        "title": {"text": props["title"], "anchor": "start"},
        "data": {"values": cells},
        "facet": {"column": {"field": REV, "type": "nominal", "title": "revision",
                             "sort": revs, "header": {"labelFontSize": 12}}},
        "spec": layer,
        "resolve": {"scale": {"color": "shared"}},
    }


def _order(value: Any) -> tuple:
    # Numbers before text, each in its own order (classes may be 0/1 or "yes"/"no").
    return (0, value, "") if _numeric([value]) else (1, 0, str(value))


def _label(value: Any) -> str:
    return str(value)


# -- HTML -----------------------------------------------------------------------------
def _block_id(index: int, plot_id: str) -> str:
    return f"plot-{index}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", plot_id).strip("-")[:60]


def render(data: dict) -> str:
    """The HTML of every plot in `collect`'s data: a chart per data plot (all revisions
    in one chart), the images of each revision side by side; a note where a revision has
    no data or could not be read."""
    revs = data.get("revisions") or []
    parts = []
    for i, plot in enumerate(data.get("plots") or []):
        entries = plot["revisions"]
        drawn = [r for r in revs if r in entries and not entries[r].get("error")]
        notes = [f"{html.escape(r)}: {html.escape(entries[r]['error'])}"
                 for r in revs if entries.get(r, {}).get("error")]
        notes += [f"{html.escape(r)}: no such file" for r in revs if r not in entries]
        title = plot["props"].get("title") or plot["id"]
        body = ""
        if not drawn:
            body = "<p class='note'>Nothing to draw at any revision.</p>"
        elif plot["kind"] == "image":
            body = "<div class='images'>" + "".join(
                html.image_block(base64.b64decode(entries[r]["image_b64"]), plot["id"],
                                 caption=r) for r in drawn) + "</div>"
        else:
            body = html.vega_block(spec(plot), _block_id(i, plot["id"]))
        note = ("<p class='note'>Not drawn for " + "; ".join(notes) + ".</p>") if notes else ""
        # A chart carries its title; an image, or a titled chart, is named here too.
        heading = (f"<h3>{html.escape(title)}</h3>" if plot["kind"] == "image" else "")
        if title != plot["id"]:
            heading += f"<p class='note'>{html.escape(plot['id'])}</p>"
        parts.append(f"<section class='plot' data-plot-id='{html.escape(plot['id'])}'>"
                     f"{heading}{body}{note}</section>")
    if not parts:
        return "<p class='note'>No plots: no dvc.yaml declares any.</p>"
    return "<div class='plots'>" + "".join(parts) + "</div>"
