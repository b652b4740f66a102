"""YAML in and out, shaped like DVC's.

Reading uses PyYAML's C loader with YAML 1.2 booleans (DVC writes with ruamel.yaml, which
leaves `yes`/`on` unquoted; a YAML 1.1 reader would turn a file named `on` into True).
Writing takes a fast path for the block shapes lode writes (maps, lists of maps, scalars
that ruamel writes plain, long ones folded at column 80 exactly as ruamel 0.19 folds them;
tested against ruamel on random input) and hands anything else to ruamel.yaml, DVC's own
emitter, so the bytes match DVC's either way. ruamel is imported only on that slow path.
"""

from __future__ import annotations

import io
import re
from functools import cache
from typing import Any, NamedTuple

from lode.errors import MalformedError

# Deeper than this is refused. DVC itself stops reading a file about 130 levels deep
# (ruamel's composer recurses in Python), so nothing deeper is a DVC file; lode's own
# walkers (interpolation, run-cache keys, the dumper) stay far inside Python's recursion
# limit; and libyaml's C composer, which recurses on the C stack, crashes the process
# some 30,000 levels down, before any Python check could run.
MAX_DEPTH = 100
# How many nodes aliases may add to a document (PyYAML shares an aliased node, but all
# that walks the result afterwards, interpolation, run-cache keys, the dumper, pays for
# every copy). Real files alias a few defaults; a million nodes walks in about a second;
# "billion laughs" needs a thousand times more. Nodes written out in the text are not
# counted: a large file costs what its size says.
MAX_NODES = 1_000_000


class Mark(NamedTuple):
    """Where a problem is: 0-based, as PyYAML's marks (callers add 1)."""

    line: int
    column: int


class YamlError(MalformedError):
    """A YAML document lode refuses to read. `problem_mark` (line, column; 0-based, None
    when the whole document is at fault) and `problem` (what is wrong, no file) let a
    caller write its own sentence; the message alone is one already."""

    def __init__(self, problem: str, mark: Any = None, where: str | None = None) -> None:
        self.problem = problem
        self.problem_mark = Mark(mark.line, mark.column) if mark is not None else None
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        super().__init__(f"{where or 'the document'} is not valid YAML{at}: {problem}.")


def _duplicate_key(loader: Any, pairs: list) -> None:
    """Raise for the first key that occurs twice among a mapping's own (key, value) nodes:
    a key that overrides one merged in with `<<` is not a duplicate, as in ruamel."""
    seen: set = set()
    for key_node, _ in pairs:
        key = loader.construct_object(key_node)
        if key in seen:
            raise YamlError(f"found duplicate key '{key}' (DVC refuses it too)",
                            key_node.start_mark)
        seen.add(key)


def _construct_mapping(self: Any, node: Any, deep: bool = False) -> dict:
    own = node.value  # flatten_mapping drops merge keys from this very list
    mapping = self._base_construct_mapping(node, deep=deep)
    if len(mapping) != len(node.value):  # fewer keys than pairs: a repeat, or an override
        _duplicate_key(self, own)
    return mapping


@cache
def _loader() -> type:
    import yaml  # imported on first use: start-up is measured

    # the C loader is 10x faster; fall back where libyaml is missing
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("Loader12", (base,), {
        "_base_construct_mapping": base.construct_mapping,
        "construct_mapping": _construct_mapping,
    })
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


def loads(text: str, where: str | None = None) -> Any:
    """The document in `text`; YamlError (naming `where`, the file) for anything that is
    not one: a syntax error, a duplicate key, nesting past MAX_DEPTH, aliases that expand
    past MAX_NODES or refer to themselves, a character that is not Unicode."""
    import yaml

    try:
        if _suspicious(text):
            _scan(text)
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a safe loader subclass
    except YamlError as e:
        raise YamlError(e.problem, e.problem_mark, where) from None
    except yaml.MarkedYAMLError as e:
        problem = e.problem or e.context or "it cannot be parsed"
        raise YamlError(problem, e.problem_mark, where) from None
    except yaml.reader.ReaderError as e:  # libyaml's: a control character such as NUL
        char = chr(e.character) if isinstance(e.character, int) else e.character
        at = _mark(text, e.position) if isinstance(text, str) else None
        raise YamlError(f"it holds the character {char!r}, which YAML does not allow",
                        at, where) from None
    except UnicodeEncodeError as e:  # a lone surrogate: never valid Unicode text
        raise YamlError(f"it holds {e.object[e.start]!r}, which is not a Unicode character",
                        _mark(text, e.start), where) from None
    except yaml.YAMLError as e:
        raise YamlError(str(e).splitlines()[0] or "it cannot be parsed", None, where) from None
    except (ValueError, TypeError, OverflowError) as e:  # a constructor's: e.g. 2021-13-45
        raise YamlError(f"a value cannot be read ({e})", None, where) from None
    except RecursionError:  # only without libyaml, whose composer is C
        raise YamlError(f"it nests more than {MAX_DEPTH} levels deep", None, where) from None


def _mark(text: str, pos: int) -> Mark:
    line = text.count("\n", 0, pos)
    return Mark(line, pos - (text.rfind("\n", 0, pos) + 1))


def _suspicious(text: str) -> bool:
    """Whether the text may hold an alias or nest past MAX_DEPTH: only then is it scanned.
    Cheap and conservative. Flow nesting needs a `[` or `{` per level; block nesting needs
    more indentation per level, or a `- `/`? `/`: ` indicator on the way (`- - - x`), and a
    block sequence may sit at its mapping's own indentation: at most two levels per
    column of the line's leading run of spaces and indicators."""
    if "*" in text and "&" in text:
        return True
    if len(text) <= MAX_DEPTH:
        return False
    room = MAX_DEPTH - text.count("[") - text.count("{")
    if room <= 2:
        return True
    width = room // 2 - 1
    deep = _deep_block(width)  # led by a newline: the regex engine then skips to each one
    return bool(deep.search(text) or deep.match("\n" + text[:width]))


@cache
def _deep_block(width: int) -> re.Pattern:
    return re.compile(r"\n[ \t?:-]{" + str(width) + "}")


def _scan(text: str) -> None:
    """Walk the parse events once (no nodes are built): depth, and the size each anchor
    expands to, so that an alias bomb is refused before it is built or walked."""
    import yaml

    loader = _loader()(text)
    sizes: dict[str, int | None] = {}  # anchor -> expanded size; None while it is open
    stack: list[list] = []  # per open collection: [anchor, size so far]
    copies = 0  # nodes the aliases add
    try:
        while (event := loader.get_event()) is not None:
            kind = type(event)
            if kind in (yaml.SequenceStartEvent, yaml.MappingStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise YamlError(f"it nests more than {MAX_DEPTH} levels deep",
                                    event.start_mark)
                if event.anchor is not None:
                    sizes[event.anchor] = None
                stack.append([event.anchor, 1])
                continue
            if kind in (yaml.SequenceEndEvent, yaml.MappingEndEvent):
                anchor, n = stack.pop()
                if anchor is not None:
                    sizes[anchor] = n
            elif kind is yaml.ScalarEvent:
                n = 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif kind is yaml.AliasEvent:
                if event.anchor in sizes and sizes[event.anchor] is None:
                    raise YamlError(f"the alias *{event.anchor} refers to a node it is "
                                    "inside (a recursive alias)", event.start_mark)
                n = sizes.get(event.anchor) or 1  # an undefined one: the loader says so
                copies += n
                if copies > MAX_NODES:
                    raise YamlError(f"its aliases expand it by more than {MAX_NODES:,} "
                                    "nodes (a YAML alias bomb)", event.start_mark)
            else:
                continue
            if stack:
                stack[-1][1] += n
    finally:
        loader.dispose()


def check_tree(doc: Any, where: str) -> None:
    """Refuse a parsed document (JSON, TOML, Python literals) that nests past MAX_DEPTH or
    holds a string that is not Unicode text (a lone surrogate, as JSON's "\\ud800" gives):
    lode would write it into dvc.lock and could never read that back."""
    todo = [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise MalformedError(f"{where} holds {value[e.start]!r}, which is not a "
                                         "Unicode character (a lone surrogate).") from None
        elif isinstance(value, (dict, list, tuple)):
            if depth > MAX_DEPTH:
                raise MalformedError(f"{where} nests more than {MAX_DEPTH} levels deep.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                todo.append((k, depth))
                todo.append((v, depth + 1))


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
