"""Read one dvc.yaml into stages: fields checked, `${}` resolved, `foreach`/`matrix` expanded."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from typing import Any

from lode import yamlio
from lode.errors import LodeError, UnsafePathError
from lode.paths import confine, within
from lode.pipeline import interpolate, params
from lode.pipeline.stage import OutSpec, ParamsSpec, Stage

DVCFILE = "dvc.yaml"
LOCKFILE = "dvc.lock"
GENERATED = "@"
_STAGE_KEYS = {
    "cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
    "always_changed", "desc", "meta", "vars",
}
_TOP_KEYS = {"stages", "vars", "plots", "metrics", "params", "artifacts", "datasets"}
_OUT_FLAGS = {"cache", "persist"}


class DvcfileError(LodeError):
    """A dvc.yaml that cannot be read, or a stage in it that is not valid."""


def read_yaml(path: str, where: str, read=params.read_file) -> Any:
    try:
        text = read(path)
    except (OSError, UnicodeDecodeError) as e:
        raise DvcfileError(f"cannot read {where}: {e}.") from None
    if text is None:
        raise DvcfileError(f"{where} does not exist.")
    try:
        return yamlio.loads(text)
    except Exception as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None)
        why = f": {problem}" if problem else ""
        raise DvcfileError(f"{where} is not valid YAML{line}{why}.") from None


def load(path: str, root: str, read=params.read_file) -> tuple[list[Stage], dict]:
    """The stages of the dvc.yaml at absolute `path`, and its top-level document. `read`
    returns a file's text or None (a Git revision's reader reads history instead)."""
    where = os.path.relpath(path, root)
    read = _confined(read, root, where)
    doc = read_yaml(path, where, read)
    if doc is None:
        return [], {}
    if not isinstance(doc, dict):
        raise DvcfileError(f"{where} must be a mapping with a 'stages' section.")
    unknown = sorted(map(str, set(doc) - _TOP_KEYS))
    if unknown:
        raise DvcfileError(f"{where}: unknown top-level key '{unknown[0]}'.")
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise DvcfileError(f"{where}: 'stages' must be a mapping of stage names.")
    base = os.path.dirname(path)
    try:
        context = _global_context(doc.get("vars") or [], base, where, read)
        out: list[Stage] = []
        for name, body in stages.items():
            problem = _name_problem(name)
            if problem:
                raise DvcfileError(f"{where}: {problem}.")
            out.extend(_expand(name, body, context, base, path, where, read))
    except interpolate.InterpolationError as e:
        raise DvcfileError(f"{where}: {e.message}") from None
    seen: set[str] = set()
    for stage in out:
        group, sep, key = stage.name.partition(GENERATED)
        if sep and (not key or GENERATED in key):
            raise DvcfileError(
                f"{where}: stage '{group}' generates the name '{stage.name}'; a foreach or "
                f"matrix key must be non-empty and without '{GENERATED}'.")
        if stage.name in seen:
            raise DvcfileError(f"{where}: stage '{stage.name}' is declared twice.")
        seen.add(stage.name)
        _confine(stage, root, where)
    return out, doc


def _name_problem(key: object) -> str | None:
    """Why DVC refuses a key of `stages:` as a stage name (None: it accepts it). DVC takes
    any other string: '@' joins a foreach/matrix group to its keys, so a plain name with
    it is never found again."""
    if key is None:
        return "a stage name is null (an empty key)"
    if not isinstance(key, str):
        return f"the stage name {key!r} is not a string (quote it)"
    if not key:
        return "a stage name is empty"
    if GENERATED in key:
        return f"the stage name '{key}' holds '{GENERATED}', which DVC keeps for foreach/matrix"
    return None


_KIND_NAMES = {"outs": "output", "metrics": "metrics file", "plots": "plots file"}


def _confine(stage: Stage, root: str, where: str) -> None:
    """What a stage writes (outputs) and records (params values go into dvc.lock, which a
    recipe commits and pushes) must be inside the repository; what it reads may be outside,
    as DVC allows, but a path is never a NUL-holding string."""
    here = f"{where}: stage '{stage.name}'"
    rel = os.path.relpath(stage.wdir, root)
    if rel.split(os.sep)[0] == ".." or "\x00" in stage.wdir:
        raise UnsafePathError(f"{here}: 'wdir' is outside the repository.")
    for out in stage.outs:
        confine(root, stage.wdir, out.path, here, _KIND_NAMES[out.kind])
    for p in stage.params:
        confine(root, stage.wdir, p.path, here, "params file")
    for dep in stage.deps:
        if "\x00" in dep:
            raise UnsafePathError(f"{here}: the dependency {dep[:80]!r} holds a NUL byte.")


def _confined(read, root: str, where: str):
    """`read` for the files a dvc.yaml loads (params.yaml, `vars` files) that refuses one
    outside the repository, by name or through a link: their values reach `cmd` and
    dvc.lock, which a recipe commits and pushes (`vars: [~/.config/gh/hosts.yml]`)."""
    real_root = os.path.realpath(root)

    def reader(path: str):
        real = os.path.realpath(path)
        if not within(real, real_root):
            raise UnsafePathError(f"{where}: '{os.path.relpath(path, root)}' is outside the "
                                  "repository; lode reads vars and params only from inside.")
        return read(path)

    return reader


def _copy(context: dict, where: str) -> dict:
    """A private copy to merge a stage's vars into; vars are data (a `!!binary` or other
    tagged value is refused, as DVC's schema refuses it)."""
    try:
        return json.loads(json.dumps(context))
    except (TypeError, ValueError):
        raise DvcfileError(f"{where}: vars may hold text, numbers, lists and mappings "
                           "only.") from None


def _global_context(vars_: Any, base: str, where: str, read) -> dict:
    context: dict = {}
    default = os.path.join(base, params.DEFAULT_PARAMS)
    if read(default) is not None:
        context.update(params.load(default, os.path.relpath(default), read))
    _load_vars(context, vars_, base, f"{where}: vars", read)
    return context


def _load_vars(context: dict, vars_: Any, base: str, where: str, read) -> None:
    if not isinstance(vars_, list):
        raise DvcfileError(f"{where} must be a list of files or mappings.")
    for item in vars_:
        if isinstance(item, dict):
            interpolate.merge_vars(context, item, where)
        elif isinstance(item, str):
            file, _, keys = item.partition(":")
            if os.path.normpath(file) == params.DEFAULT_PARAMS and not keys:
                continue  # loaded already, as DVC does by default
            data = params.load(os.path.join(base, file), file, read)
            if keys:
                data = {k: params.lookup(data, k) for k in keys.split(",")}
                missing = [k for k, v in data.items() if params.is_missing(v)]
                if missing:
                    raise DvcfileError(f"{where}: '{missing[0]}' is not in '{file}'.")
            interpolate.merge_vars(context, data, f"'{file}'")
        else:
            raise DvcfileError(f"{where}: each entry must be a file name or a mapping.")


def _key(value: Any) -> str:
    return interpolate.to_str(value) if not isinstance(value, (dict, list)) else ""


def _expand(name: str, body: Any, context: dict, base: str, path: str, where: str, read):
    if not isinstance(body, dict):
        raise DvcfileError(f"{where}: stage '{name}' must be a mapping.")
    if "foreach" in body:
        if "do" not in body or set(body) - {"foreach", "do"}:
            raise DvcfileError(f"{where}: stage '{name}' needs exactly 'foreach' and 'do'.")
        items = interpolate.resolve(body["foreach"], context, "foreach")
        if isinstance(items, dict):
            pairs = [(_key(k), {"item": v, "key": k}) for k, v in items.items()]
        elif isinstance(items, list):
            composite = any(isinstance(v, (dict, list)) for v in items)
            pairs = [
                (str(i) if composite else _key(v), {"item": v}) for i, v in enumerate(items)
            ]
        else:
            raise DvcfileError(f"{where}: 'foreach' of stage '{name}' must be a list or mapping.")
        for key, extra in pairs:
            yield _stage(f"{name}{GENERATED}{key}", body["do"], {**context, **extra}, base, path,
                         where, read)
        return
    if "matrix" in body:
        matrix = interpolate.resolve(body["matrix"], context, "matrix")
        if not isinstance(matrix, dict) or not all(isinstance(v, list) for v in matrix.values()):
            raise DvcfileError(f"{where}: 'matrix' of stage '{name}' must map names to lists.")
        template = {k: v for k, v in body.items() if k != "matrix"}
        for combo in itertools.product(*(list(enumerate(v)) for v in matrix.values())):
            item = {k: v for k, (_, v) in zip(matrix, combo, strict=True)}
            key = "-".join(
                f"{k}{i}" if isinstance(v, (dict, list)) else _key(v)
                for k, (i, v) in zip(matrix, combo, strict=True)
            )
            yield _stage(f"{name}{GENERATED}{key}", template, {**context, "item": item,
                         "key": key}, base, path, where, read)
        return
    yield _stage(name, body, context, base, path, where, read)


def _stage(name: str, body: Any, context: dict, base: str, path: str, where: str, read
           ) -> Stage:
    if not isinstance(body, dict):
        raise DvcfileError(f"{where}: stage '{name}' must be a mapping.")
    unknown = sorted(map(str, set(body) - _STAGE_KEYS))
    if unknown:
        raise DvcfileError(
            f"{where}: stage '{name}' has an unknown field '{unknown[0]}'.",
            f"Valid fields: {', '.join(sorted(_STAGE_KEYS))}.",
        )
    if body.get("vars"):
        context = _copy(context, f"{where}: stage '{name}' vars")
        _load_vars(context, body["vars"], base, f"{where}: stage '{name}' vars", read)
    try:
        body = {k: interpolate.resolve(v, context, k) for k, v in body.items() if k != "vars"}
    except interpolate.InterpolationError as e:
        raise DvcfileError(f"{where}: stage '{name}': {e.message}") from None
    here = f"{where}: stage '{name}'"
    cmd = body.get("cmd")
    if isinstance(cmd, list) and cmd and all(isinstance(c, str) and c for c in cmd):
        pass
    elif not isinstance(cmd, str) or not cmd.strip():
        raise DvcfileError(f"{here} needs a 'cmd' (a string or a list of strings).")
    wdir = body.get("wdir") or "."
    if not isinstance(wdir, str):
        raise DvcfileError(f"{here}: 'wdir' must be a path.")
    deps = body.get("deps") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) and d for d in deps):
        raise DvcfileError(f"{here}: 'deps' must be a list of paths.")
    outs: list[OutSpec] = []
    for kind in ("outs", "metrics", "plots"):
        outs.extend(_outs(body.get(kind) or [], kind, here))
    for flag in ("frozen", "always_changed"):
        if not isinstance(body.get(flag, False), bool):
            raise DvcfileError(f"{here}: '{flag}' must be true or false.")
    desc = body.get("desc")
    stage = Stage(
        name=name,
        dvcfile=path,
        wdir=os.path.normpath(os.path.join(base, wdir)),
        cmd=cmd,
        deps=[os.path.normpath(d) if not d.endswith("/") else d for d in deps],
        params=_params(body.get("params"), here),
        outs=outs,
        frozen=body.get("frozen", False),
        always_changed=body.get("always_changed", False),
        desc=str(desc) if desc is not None else None,
    )
    stage.resources = _resources(body.get("meta"), here)
    return stage


RESOURCES = ("cpus", "mem", "gpus")


def _resources(meta: Any, here: str) -> dict:
    """`meta: {resources: {cpus: 4, mem: 8G, gpus: 1}}`: what an executor should reserve.
    Under `meta`, which DVC keeps and ignores (it refuses unknown stage fields)."""
    res = meta.get("resources") if isinstance(meta, dict) else None
    if res is None:
        return {}
    if not isinstance(res, dict):
        raise DvcfileError(f"{here}: 'meta.resources' must be a mapping.")
    unknown = sorted(set(res) - set(RESOURCES))
    if unknown:
        raise DvcfileError(f"{here}: 'meta.resources' has an unknown resource "
                           f"'{unknown[0]}'.", f"Known: {', '.join(RESOURCES)}.")
    for key in ("cpus", "gpus"):
        if key in res and (not isinstance(res[key], int) or isinstance(res[key], bool)
                           or res[key] < 0):
            raise DvcfileError(f"{here}: 'meta.resources.{key}' must be a whole number.")
    if "mem" in res and not _is_mem(res["mem"]):
        raise DvcfileError(f"{here}: 'meta.resources.mem' must be a size such as 512M or 8G.")
    return dict(res)


def _is_mem(value: Any) -> bool:
    try:
        mem_mib(value)
    except ValueError:
        return False
    return True


def mem_mib(value: Any) -> int:
    """A `mem` resource in MiB, rounded up: a bare number is MiB (as Slurm reads it), or
    a size such as 512M, 2G, 1.5GiB; ValueError for anything else."""

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    text = str(value).strip().upper().removesuffix("B").removesuffix("I")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)", text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(value)
    scale = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}[m.group(2)]
    return max(1, math.ceil(float(m.group(1)) * scale))


def _outs(items: Any, kind: str, here: str) -> list[OutSpec]:
    if not isinstance(items, list):
        raise DvcfileError(f"{here}: '{kind}' must be a list.")
    out = []
    for item in items:
        if isinstance(item, str) and item:
            out.append(OutSpec(item, kind))
        elif isinstance(item, dict) and len(item) == 1:
            path, opts = next(iter(item.items()))
            opts = opts or {}
            if not isinstance(path, str) or not isinstance(opts, dict):
                raise DvcfileError(f"{here}: a '{kind}' entry must be a path or {{path: flags}}.")
            for flag in _OUT_FLAGS & set(opts):
                if not isinstance(opts[flag], bool):
                    raise DvcfileError(f"{here}: '{flag}' of '{path}' must be true or false.")
            rest = {k: v for k, v in opts.items() if k not in _OUT_FLAGS}
            out.append(OutSpec(path, kind, opts.get("cache", True), opts.get("persist", False),
                               rest))
        else:
            raise DvcfileError(f"{here}: a '{kind}' entry must be a path or {{path: flags}}.")
    return out


def _params(items: Any, here: str) -> list[ParamsSpec]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise DvcfileError(f"{here}: 'params' must be a list.")
    by_file: dict[str, list[str] | None] = {}
    for item in items:
        if isinstance(item, str) and item:
            keys = by_file.setdefault(params.DEFAULT_PARAMS, [])
            if keys is not None and item not in keys:
                keys.append(item)
        elif isinstance(item, dict):
            for file, keys in item.items():
                if keys is None or keys == []:
                    by_file[file] = None  # the whole file
                elif isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                    have = by_file.setdefault(file, [])
                    if have is not None:
                        have.extend(k for k in keys if k not in have)
                else:
                    raise DvcfileError(f"{here}: params of '{file}' must be a list of keys.")
        else:
            raise DvcfileError(f"{here}: a 'params' entry must be a key or {{file: [keys]}}.")
    return [ParamsSpec(f, k) for f, k in by_file.items()]
