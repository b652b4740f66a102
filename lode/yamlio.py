"""YAML in and out, shaped like DVC's.

Reading uses PyYAML's C loader with YAML 1.2 booleans (DVC writes with ruamel.yaml, which
leaves `yes`/`on` unquoted; a YAML 1.1 reader would turn a file named `on` into True).
Writing takes a fast path for the fixed shapes lode writes (flat maps and lists of flat
maps of plain scalars) and hands anything else to ruamel.yaml, DVC's own emitter, so the
bytes match DVC's either way. ruamel is imported only on that slow path.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any


@cache
def _loader() -> type:
    import yaml  # imported on first use: start-up is measured

    # the C loader is 10x faster; fall back where libyaml is missing
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("Loader12", (base,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    return loader


def loads(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=_loader())  # noqa: S506 - a safe loader subclass


# A scalar that ruamel writes plain and that reads back as the same string.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*(?: [A-Za-z0-9_./-]+)*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def plain_scalar(value: str) -> str | None:
    """`value` itself when it is a string ruamel writes plain and YAML reads back as that
    same string; None otherwise."""
    return _plain(value) if isinstance(value, str) else None


def _plain(value: Any) -> str | None:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return None


def _fast_dump(doc: dict) -> str | None:
    lines: list[str] = []
    for key, value in doc.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            for item in value:
                if not isinstance(item, dict) or not item:
                    return None
                prefix = "- "
                for k, v in item.items():
                    s = _plain(v)
                    if s is None:
                        return None
                    lines.append(f"{prefix}{k}: {s}")
                    prefix = "  "
        else:
            s = _plain(value)
            if s is None:
                return None
            lines.append(f"{key}: {s}")
    if any(len(line) > 80 for line in lines):
        return None  # ruamel folds long lines; let it
    return "\n".join(lines) + "\n"


def dumps(doc: dict) -> str:
    """Serialise `doc` (insertion-ordered) byte-for-byte as DVC's ruamel.yaml would."""
    fast = _fast_dump(doc)
    if fast is not None:
        return fast
    import io

    from ruamel.yaml import YAML

    y = YAML()
    y.default_flow_style = False
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()
