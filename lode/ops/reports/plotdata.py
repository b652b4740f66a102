"""A plot's data: the records of its JSON, YAML, CSV or TSV files, flattened into the
`{x, y[, series]}` records a chart draws, with DVC 3's rules for `x` and `y`: a field,
a list of fields, or `{file: field(s)}`; no `x` is each record's position (`step`), no
`y` the last field of the plot's own file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

from lode import yamlio
from lode.ops.reports import ReportError
from lode.ops.reports.metrics import number

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".gif", ".svg")
DATA_EXTS = (".json", ".yaml", ".yml", ".csv", ".tsv")
INDEX = "step"  # the x of a plot that declares none: each record's position, as DVC
DEFAULT_TEMPLATE = "linear"


class PlotsError(ReportError):
    """A plot that cannot be read or drawn as declared."""


# -- reading one data file ------------------------------------------------------------
def _rows(text: str, delimiter: str, header: bool) -> list[dict]:
    names = None
    if not header:
        first = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        names = [str(i) for i in range(len(first))]
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, fieldnames=names)
    return [{k: number(v) for k, v in row.items() if k is not None and v is not None}
            for row in reader]


def datapoints(doc: Any) -> list[dict]:
    """The records of a JSON or YAML document: a list of mappings, or the lists of
    mappings a mapping holds (at any depth), merged position by position as DVC merges
    them (`{"train": [{"loss": ..}], "val": [{"acc": ..}]}` gives records with both)."""
    merged: list[dict] = []
    for lst in _lists(doc):
        if lst and all(isinstance(item, dict) for item in lst):
            for i, item in enumerate(lst):
                if len(merged) <= i:
                    merged.append({})
                merged[i].update(item)
    return merged


def _lists(doc: Any):
    if isinstance(doc, list):
        yield doc
    elif isinstance(doc, dict):
        for value in doc.values():
            if isinstance(value, (dict, list)):
                yield from _lists(value)


def parse_data(raw: bytes, path: str, header: bool = True) -> list[dict]:
    """The records of a JSON, YAML, CSV or TSV plot file (numbers in CSV/TSV cells
    become numbers). PlotsError names a file that is not one of those or holds none."""
    name = os.path.basename(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in DATA_EXTS:
        raise PlotsError(f"'{name}' is not a plot file (JSON, YAML, CSV, TSV or an image).")
    kind = "YAML" if ext in (".yaml", ".yml") else ext[1:].upper()
    try:
        text = raw.decode("utf-8")
        if ext in (".csv", ".tsv"):
            records = _rows(text, "\t" if ext == ".tsv" else ",", header)
        elif ext == ".json":
            records = datapoints(json.loads(text))
        else:
            records = datapoints(yamlio.loads(text))
    except Exception as e:  # noqa: BLE001 - any parser's failure is this file's error
        why = " ".join(str(e).split())  # YAML's messages span lines; a warning is one
        raise PlotsError(f"'{name}' is not valid {kind}: {why}") from None
    if not records:
        raise PlotsError(f"'{name}' holds no records (a list of fields and values).")
    return records


# -- flattening a plot's files into records -------------------------------------------
def _pairs(spec: Any, default_file: str) -> list[tuple[str, str]]:
    """(file, field) for an axis given as a field, a list of fields or {file: field(s)}."""
    if isinstance(spec, dict):
        return [(f, v) for f, fields in spec.items()
                for v in (fields if isinstance(fields, list) else [fields])]
    return [(default_file, v) for v in (spec if isinstance(spec, list) else [spec])]


def _short_names(files: list[str]) -> dict[str, str]:
    if len(set(files)) < 2:
        return {f: f for f in files}
    common = os.path.commonpath(files)
    return {f: f[len(common):].lstrip("/") or f for f in files}


def series(plot_id: str, props: dict, files: dict[str, list[dict]]) -> tuple[list[dict], dict]:
    """Records `{x, y[, series]}` and the props that name their fields and labels, from
    the records of each file a plot reads (by path from the root; `plot_id` is the file
    of a plot whose y names no file). Files absent from `files` are left out."""
    y_spec = props.get("y")
    if y_spec is None:  # DVC draws the last field of the plot's own file
        first = (files.get(plot_id) or [{}])[0]
        ys = [(plot_id, list(first)[-1])] if first else []
    else:
        ys = _pairs(y_spec, plot_id)
    x_spec = props.get("x")
    if x_spec is None:
        xs: list[tuple[str, str] | None] = [None] * len(ys)
    elif isinstance(x_spec, dict):
        given = _pairs(x_spec, plot_id)
        if len(given) not in (1, len(ys)):
            raise PlotsError(f"plot '{plot_id}' has {len(given)} x sources for {len(ys)} y "
                             "sources; give one x, or one per y.")
        xs = list(given) * len(ys) if len(given) == 1 else list(given)
    else:
        xs = [(f, str(x_spec)) for f, _ in ys]
    pairs = [(y, x) for y, x in zip(ys, xs, strict=True) if y[0] in files]
    x_fields = sorted({x[1] for _, x in pairs if x is not None})
    y_fields = list(dict.fromkeys(y[1] for y, _ in pairs))
    x_key = INDEX if not x_fields else x_fields[0] if len(x_fields) == 1 else "x"
    y_key = y_fields[0] if len(y_fields) == 1 else "value"
    if y_key == x_key:
        y_key = "y_value"
    y_files = list(dict.fromkeys(y[0] for y, _ in pairs))
    short = _short_names(y_files)
    records: list[dict] = []
    for (y_file, y_field), x in pairs:
        recs = files[y_file]
        _check_field(recs, y_field, y_file)
        x_recs = recs
        if x is not None:
            if x[0] not in files:
                continue
            x_recs = files[x[0]]
            _check_field(x_recs, x[1], x[0])
            if len(x_recs) != len(recs):
                raise PlotsError(f"cannot pair x '{x[1]}' of '{x[0]}' with y '{y_field}' of "
                                 f"'{y_file}': they have {len(x_recs)} and {len(recs)} records.")
        label = (f"{short[y_file]}: {y_field}" if len(y_files) > 1 and len(y_fields) > 1
                 else short[y_file] if len(y_files) > 1 else y_field if len(y_fields) > 1
                 else None)
        for i, rec in enumerate(recs):
            x_value = i if x is None else x_recs[i].get(x[1])
            if y_field not in rec or x_value is None:
                continue
            point = {x_key: x_value, y_key: rec[y_field]}
            if label is not None:
                point["series"] = label
            records.append(point)
    shown = {
        "template": props.get("template") or DEFAULT_TEMPLATE,
        "title": props.get("title") or plot_id,
        "x": x_key,
        "y": y_key,
        "x_label": props.get("x_label") or (x_fields[0] if len(x_fields) == 1 else
                                            INDEX if not x_fields else "x"),
        "y_label": props.get("y_label") or ", ".join(y_fields) or "y",
        "series": len(y_files) > 1 or len(y_fields) > 1,
    }
    return records, shown


def _check_field(records: list[dict], name: str, path: str) -> None:
    if not any(name in r for r in records):
        fields = ", ".join(dict.fromkeys(k for r in records[:20] for k in r))
        raise PlotsError(f"'{path}' has no field '{name}' (its fields: {fields}).")
