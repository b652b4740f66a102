"""YAML in and out, shaped like DVC's.

Reading uses PyYAML's C loader with YAML 1.2 booleans (DVC writes with ruamel.yaml, which
leaves `yes`/`on` unquoted; a YAML 1.1 reader would turn a file named `on` into True).
Writing takes a fast path for the block shapes lode writes (maps, lists of maps, scalars
that ruamel writes plain, long ones folded at column 80 exactly as ruamel 0.19 folds them;
tested against ruamel on random input) and hands anything else to ruamel.yaml, DVC's own
emitter, so the bytes match DVC's either way. ruamel is imported only on that slow path.
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


_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def plain_scalar(value: str) -> str | None:
    """`value` itself when it is a string ruamel writes plain and YAML reads back as that
    same string; None otherwise."""
    return _scalar(value) if isinstance(value, str) else None


# What ruamel's emitter writes plain in block context (its analyze_scalar), kept narrow:
# anything outside this goes to ruamel itself.
_SAFE_CHARS = re.compile(r"[A-Za-z_/.][\x20-\x7e]*")
_HEX = re.compile(r"(?=[0-9]*[a-f])(?![0-9]+e[0-9]+(?:\.dir)?$)[0-9a-f]{32}(?:\.dir)?")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")


def _plain_text(value: str) -> bool:
    if _HEX.fullmatch(value):
        return True
    return bool(
        _SAFE_CHARS.fullmatch(value)
        and value[-1] not in " :"
        and not any(c in value for c in ",?[]{}\\")
        and ": " not in value
        and " #" not in value
        and value.lower() not in _RESERVED
        and value.lower() not in (".inf", ".nan", "null")
        and not (value[0] == "." and value[1:2] in tuple("0123456789_"))
    )


def _scalar(value: Any) -> str | None:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if _FLOAT.fullmatch(text) else None
    if isinstance(value, str) and value and _plain_text(value):
        return value
    return None


def _emit(value: Any, indent: int, lines: list[str], first: str | None = None) -> bool:
    """Block-style lines for a mapping at `indent`; `first` replaces the indentation of the
    first line (a sequence item's `- `). False when a value needs ruamel's judgement."""
    pad = " " * indent
    for key, v in value.items():
        k = _scalar(key) if isinstance(key, str) else None
        if k is None or isinstance(key, bool):
            return False
        lead, first = (first if first is not None else pad), None
        if isinstance(v, dict):
            if not v:
                return False
            lines.append(f"{lead}{k}:")
            if not _emit(v, indent + 2, lines):
                return False
        elif isinstance(v, list):
            if not v:
                return False
            lines.append(f"{lead}{k}:")
            for item in v:
                if isinstance(item, dict):
                    if not item or not _emit(item, indent + 2, lines, first=pad + "- "):
                        return False
                else:
                    s = _scalar(item)
                    if s is None:
                        return False
                    lines.append(f"{pad}- {s}")
        else:
            s = _scalar(v)
            if s is None:
                return False
            lines.extend(_fold(f"{lead}{k}: ", s, len(lead) + 2))
    return True


def _fold(head: str, text: str, indent: int, width: int = 80) -> list[str]:
    """Lines of a plain scalar after `head`, broken the way ruamel.yaml 0.19 breaks them:
    at a single space once the column has reached `width` (the space stays at the end of
    the line), and before a word that would cross `width`."""
    if len(head) + len(text) <= width:
        return [head + text]
    lines, cur, i = [], head, 0
    while i < len(text):
        j = i
        if text[i] == " ":
            while j < len(text) and text[j] == " ":
                j += 1
            if j - i == 1 and len(cur) >= width:
                lines.append(cur)
                cur = " " * indent
            else:
                cur += text[i:j]
        else:
            while j < len(text) and text[j] != " ":
                j += 1
            if len(cur) + j - i > width and len(cur) > indent:
                lines.append(cur)
                cur = " " * indent
            cur += text[i:j]
        i = j
    lines.append(cur)
    return lines


def dump_block(doc: dict, indent: int = 0) -> str:
    """`doc` as the block-style lines ruamel writes for it at `indent` (which matters:
    ruamel folds long scalars at column 80)."""
    lines: list[str] = []
    if _emit(doc, indent, lines):
        return "\n".join(lines) + "\n"
    import io

    from ruamel.yaml import YAML

    y = YAML()
    y.default_flow_style = False
    buf = io.StringIO()
    nest: Any = doc
    for level in range(indent // 2):
        nest = {f"k{level}": nest}
    y.dump(nest, buf)
    return "".join(buf.getvalue().splitlines(keepends=True)[indent // 2 :])


def dumps(doc: dict) -> str:
    """Serialise `doc` (insertion-ordered) byte-for-byte as DVC's ruamel.yaml would."""
    return dump_block(doc)
