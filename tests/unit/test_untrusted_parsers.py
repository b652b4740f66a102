"""Every parser of a file that comes from outside (a commit, a clone, a remote) gives a
result or a LodeError, never another exception, whatever the bytes or the structure; and
what a pointer, a lock file or a dvc.yaml it accepts names stays inside the repository,
out of .git and .dvc.

Covered: `.dvc` pointers, `.dir` manifests, `dvc.lock`, `dvc.yaml`, params files (YAML,
JSON, TOML, Python), `recipes.yaml`, `.dvc/config`, run-cache entries (remote keys and
the local run cache), and the path and md5 checks they rest on. Minimal failing examples
hypothesis found are kept as `@example`s.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lode import paths
from lode.config import Config, executor_options, notifier_options
from lode.errors import LodeError
from lode.ops import runs_transfer as runs
from lode.pipeline import dvcfile, params
from lode.recipes import spec
from lode.store import hashinfo as hashes
from lode.store import manifest as tree
from lode.store import pointers
from lode.store.lockfile import Lockfile
from lode.store.runcache import RunCache, entry_name, run_key

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FEW = settings(SETTINGS, max_examples=60)

# ---------------------------------------------------------------------------- strategies

# Paths an attacker would write, beside whatever hypothesis makes up.
NASTY_PATHS = [
    "", ".", "./", "..", "../x", "../../etc/passwd", "/etc/passwd", "/", "//x", "a/../..",
    "sub/../../x", "a\x00b", "\x00", ".git", ".git/config", ".git/hooks/post-checkout",
    "a/.git/x", ".GIT/config", ".Git", ".dvc", ".dvc/config", ".dvc/cache/files/md5/ab",
    "./.dvc/tmp", "a/../.dvc", "~", "~/.ssh/id_rsa", "$HOME/x", "${HOME}", "C:\\x",
    "a\\..\\..\\x", "x/", "a//b", "\n", " ", "\u202e", "a\nb", "\x1b[2J", "é/ü", "...",
    "a" * 300, "/".join(["a"] * 200),
]
paths_st = st.sampled_from(NASTY_PATHS) | st.text(max_size=20) | st.from_regex(
    r"(\.\.|\.git|\.dvc|[a-z.]{1,3})(/(\.\.|\.git|\.dvc|[a-z.]{1,3})){0,4}/?", fullmatch=True)

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(NASTY_PATHS) | st.binary(max_size=8)
)
keys = st.text(max_size=8) | st.integers() | st.booleans() | st.none()
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
json_anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(NASTY_PATHS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)


def maybe(value_st, other=anything):
    """Mostly well-typed values (seven in eight), now and then anything at all."""
    return st.sampled_from([True] * 7 + [False]).flatmap(
        lambda typed: value_st if typed else other)


MD5 = "d41d8cd98f00b204e9800998ecf8427e"
md5_st = maybe(st.from_regex(r"[0-9a-f]{32}(\.dir)?", fullmatch=True), (
    st.sampled_from([MD5, MD5 + ".dir", MD5.upper(), MD5[:31], MD5 + "0", MD5 + ".DIR",
                     "../../" + MD5, MD5 + "/..", MD5 + "\x00", "", "0" * 32 + ".dir.dir"])
    | st.text(max_size=40)
))

record = st.fixed_dictionaries(
    {"path": maybe(paths_st)},
    optional={
        "md5": maybe(md5_st),
        "size": maybe(st.integers(min_value=-2, max_value=2**70)),
        "nfiles": maybe(st.integers(min_value=-2, max_value=10)),
        "hash": maybe(st.sampled_from(["md5", "md5-dos2unix"])),
        "isexec": anything,
        "cache": anything,
        "etag": anything,
    },
)
records = st.lists(maybe(record, scalars), max_size=4)

# Characters YAML reads specially, so that text reaches its corners.
yamlish = st.text(
    alphabet=st.sampled_from(list(":-[]{}&*!|>'\"%@`#?,<=\\ \t\n.~0123456789abcdeoutspmd")
                             + ["\x00", "\x1b", "\ud800", "\ufeff", "é"]),
    max_size=80,
)


def dump(doc: Any) -> str:
    """`doc` as YAML text (binary values become !!binary, as a hostile file may hold)."""
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


# -------------------------------------------------------------------------------- checks


def refused(e: LodeError) -> None:
    """A refusal a CLI can render: a sentence, not an empty or non-text message."""
    assert isinstance(e.message, str) and e.message.strip(), repr(e)
    str(e)


def call(fn, *args, **kwargs):
    """fn's result, or None when it refused with a LodeError; anything else it raises
    fails the property."""
    try:
        return fn(*args, **kwargs)
    except LodeError as e:
        refused(e)
        return None


def assert_confined(root: str, path: str, what: str) -> None:
    """`path` is absolute, strictly inside `root`, and not in .git (at any depth) or .dvc."""
    assert isinstance(path, str) and os.path.isabs(path), (what, path)
    rel = os.path.relpath(os.path.normpath(path), root)
    parts = rel.split(os.sep)
    assert rel != "." and parts[0] != "..", f"{what} {path!r} is outside {root}"
    assert parts[0].lower() != ".dvc", f"{what} {path!r} is inside .dvc"
    assert ".git" not in (p.lower() for p in parts), f"{what} {path!r} is inside .git"
    assert "\x00" not in path, f"{what} {path!r} holds a NUL byte"


@pytest.fixture(scope="module")
def root():
    """A repository root (a real directory) with a subdirectory the files are put in, so
    that `..` has somewhere to go while staying inside."""
    with tempfile.TemporaryDirectory() as d:
        r = os.path.realpath(d)
        for sub in ("sub", ".git", ".dvc"):
            os.mkdir(os.path.join(r, sub))
        yield r


def put(path: str, data: bytes | str) -> str:
    Path(path).write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str)
                           else data)
    return path


# ------------------------------------------------------------------------------ pointers


def load_pointer(root: str, data: bytes | str) -> None:
    path = put(os.path.join(root, "sub", "x.dvc"), data)
    pointer = call(pointers.load, path, root)
    if pointer is None:
        return
    assert pointer.outs
    for out in pointer.outs:
        assert_confined(root, pointer.out_abspath(out), "pointer output")
        assert out.md5 is None or hashes.is_md5(out.md5), out.md5


@SETTINGS
@given(data=st.binary(max_size=200))
@example(data=b"outs:\n- path: a\n  md5: " + MD5.encode() + b"\n")
@example(data=b"\xff\xfe")
@example(data=b"outs: [{path: !!python/object/apply:os.system [true]}]\n")
def test_pointer_bytes(root, data):
    load_pointer(root, data)


@SETTINGS
@given(text=yamlish)
def test_pointer_yamlish_text(root, text):
    load_pointer(root, text)


pointer_docs = st.fixed_dictionaries(
    {"outs": maybe(records)},
    optional={"wdir": maybe(paths_st), "md5": anything, "deps": anything, "frozen": anything},
)


@SETTINGS
@given(doc=maybe(pointer_docs))
@example(doc={"outs": [{"path": "../x"}]})
@example(doc={"outs": [{"path": "ok"}], "wdir": ".."})
@example(doc={"outs": [{"path": "x"}], "wdir": "../.git"})
@example(doc={"outs": [{"path": "x", "md5": MD5, "size": True}]})
def test_pointer_structures(root, doc):
    load_pointer(root, dump(doc))


# ----------------------------------------------------------------------------- manifests


def parse_manifest(data: bytes) -> None:
    entries = call(tree.parse_manifest, data, "m.dir")
    if entries is None:
        return
    top = "/r/dir"
    for rel, md5 in entries:
        assert hashes.is_file_md5(md5), md5
        full = os.path.normpath(os.path.join(top, rel))
        assert full.startswith(top + "/"), rel
        assert ".git" not in (p.lower() for p in rel.split("/")), rel


manifest_entry = st.fixed_dictionaries(
    {"md5": maybe(md5_st, json_anything), "relpath": maybe(paths_st, json_anything)},
    optional={"extra": json_anything},
)


@SETTINGS
@given(data=st.binary(max_size=200))
@example(data=b"[" * 100_000)
@example(data=b'"\\ud800"')
@example(data=b"\xef\xbb\xbf[]")
def test_manifest_bytes(data):
    parse_manifest(data)


@SETTINGS
@given(doc=st.lists(maybe(manifest_entry, json_anything), max_size=5) | json_anything)
@example(doc=[{"md5": MD5, "relpath": "a"}, {"md5": MD5, "relpath": "a/b"}])
@example(doc=[{"md5": MD5, "relpath": "a/../../x"}])
def test_manifest_structures(doc):
    parse_manifest(json.dumps(doc).encode())


# ------------------------------------------------------------------------------ dvc.lock


def read_lock(root: str, data: bytes | str) -> None:
    path = put(os.path.join(root, "sub", "dvc.lock"), data)
    lock = call(Lockfile, path, "sub/dvc.lock")
    if lock is None:
        return
    # A lock record's path is relative to its stage's wdir, which only dvc.yaml knows:
    # it is used only where it equals an output dvc.yaml declares (Project.recorded_outs),
    # which dvcfile.load confines. Here: a path string without NUL, and a valid md5.
    for name, entry in lock.entries.items():
        assert isinstance(entry, dict)
        assert lock.get(name) is entry
        for out in entry.get("outs") or []:
            assert isinstance(out["path"], str) and out["path"] and "\0" not in out["path"]
            if "md5" in out:
                assert hashes.is_md5(out["md5"]), out


lock_stage = st.fixed_dictionaries(
    {},
    optional={
        "cmd": anything,
        "deps": maybe(records),
        "outs": maybe(records),
        "params": maybe(st.dictionaries(st.text(max_size=8), anything, max_size=3)),
    },
)
lock_docs = st.fixed_dictionaries(
    {"schema": maybe(st.just("2.0")),
     "stages": maybe(st.dictionaries(keys, maybe(lock_stage), max_size=3))},
)


@SETTINGS
@given(data=st.binary(max_size=200))
@example(data=b"schema: '2.0'\nstages:\n  s:\n    outs:\n    - path: ../../x\n")
def test_lock_bytes(root, data):
    read_lock(root, data)


@SETTINGS
@given(text=yamlish)
def test_lock_yamlish_text(root, text):
    read_lock(root, "schema: '2.0'\n" + text)


@SETTINGS
@given(doc=maybe(lock_docs))
@example(doc={"schema": "2.0", "stages": {"s": {"outs": [{"path": "../../etc/x"}]}}})
@example(doc={"schema": "2.0", "stages": {"s": {"outs": [{"path": "../.git/config"}]}}})
@example(doc={"schema": "2.0", "stages": {"s": {"outs": [{"path": "/etc/passwd"}]}}})
def test_lock_structures(root, doc):
    read_lock(root, dump(doc))


# ------------------------------------------------------------------------------ dvc.yaml


def load_dvcyaml(root: str, data: bytes | str, params_text: bytes | str = b"") -> None:
    base = os.path.join(root, "sub")
    put(os.path.join(base, "params.yaml"), params_text)
    path = put(os.path.join(base, "dvc.yaml"), data)
    loaded = call(dvcfile.load, path, root)
    if loaded is None:
        return
    stages, _doc = loaded
    for stage in stages:
        for out in stage.outs:
            assert_confined(root, os.path.normpath(os.path.join(stage.wdir, out.path)),
                            f"output of stage {stage.name!r}")
        for p in stage.params:
            assert_confined(root, os.path.normpath(os.path.join(stage.wdir, p.path)),
                            f"params file of stage {stage.name!r}")


interpolated = st.sampled_from(["${x}", "${item}", "${key}", "${a.b}", "${x[0]}", "${",
                                "${}", "$${x}", "${x}${x}", "${item.path}", "${../x}"])
stage_body = st.fixed_dictionaries(
    {"cmd": maybe(st.text(max_size=10) | interpolated)},
    optional={
        "outs": maybe(st.lists(maybe(paths_st | interpolated, st.dictionaries(
            paths_st, anything, max_size=1)), max_size=3)),
        "deps": maybe(st.lists(paths_st | interpolated, max_size=3)),
        "params": maybe(st.lists(st.text(max_size=8) | st.dictionaries(
            paths_st, maybe(st.lists(st.text(max_size=5), max_size=2)), max_size=1),
            max_size=3)),
        "metrics": maybe(st.lists(paths_st, max_size=2)),
        "wdir": maybe(paths_st | interpolated),
        "vars": anything,
        "frozen": anything,
        "meta": anything,
    },
)
generator = st.fixed_dictionaries(
    {"do": maybe(stage_body)},
    optional={"foreach": anything, "matrix": anything},
)
dvcyaml_docs = st.fixed_dictionaries(
    {"stages": maybe(st.dictionaries(keys, maybe(stage_body | generator), max_size=3))},
    optional={"vars": maybe(st.lists(st.dictionaries(st.text(max_size=4), anything,
                                                     max_size=2), max_size=2))},
)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_dvcyaml_bytes(root, data):
    load_dvcyaml(root, data)


@SETTINGS
@given(text=yamlish)
def test_dvcyaml_yamlish_text(root, text):
    load_dvcyaml(root, "stages:\n  s:\n    " + text)


@SETTINGS
@given(doc=maybe(dvcyaml_docs), params_doc=anything)
@example(doc={"stages": {"s": {"cmd": "x", "outs": ["../../x"]}}}, params_doc=None)
@example(doc={"stages": {"s": {"cmd": "x", "outs": ["x"], "wdir": "../.."}}}, params_doc=None)
@example(doc={"vars": [{"p": "../../x"}], "stages": {"s": {"cmd": "x", "outs": ["${p}"]}}},
         params_doc=None)
@example(doc={"stages": {"s": {"foreach": ["../../x", ".git/x"], "do": {
    "cmd": "x", "outs": ["${item}"]}}}}, params_doc=None)
@example(doc={"stages": {"s": {"cmd": "x", "outs": ["${x}"]}}}, params_doc={"x": "/etc"})
@example(doc={"": None, 0: None}, params_doc=None)  # keys of two types: TypeError in sorted()
@example(doc={"stages": {"s": {0: None, "x": None}}}, params_doc=None)  # the same in a stage
@example(doc={"vars": [{"x": b""}], "stages": {"s": {"cmd": "c", "vars": [{}]}}},
         params_doc=None)  # a !!binary value: TypeError copying the context through JSON
def test_dvcyaml_structures(root, doc, params_doc):
    load_dvcyaml(root, dump(doc), dump(params_doc))


# -------------------------------------------------------------------------------- params

PARAMS_EXTS = [".yaml", ".yml", ".json", ".toml", ".py", ""]


def load_params(root: str, ext: str, data: bytes | str) -> None:
    path = put(os.path.join(root, "sub", "params" + ext), data)
    text = call(params.read_file, path)
    assert text is None or isinstance(text, str)
    doc = call(params.load, path, "params" + ext)
    assert doc is None or isinstance(doc, dict)


@SETTINGS
@given(ext=st.sampled_from(PARAMS_EXTS), data=st.binary(max_size=200))
@example(ext=".json", data=b"[" * 100_000)
@example(ext=".toml", data=b"a = " + b"[" * 100_000)
@example(ext=".py", data=b"x = " + b"(" * 300 + b")" * 300)
@example(ext=".py", data=b"x = " + b"[" * 100_000)
@example(ext=".json", data=b"1" * 5000)
@example(ext=".py", data=b"x = 1" + b"0" * 5000)
def test_params_bytes(root, ext, data):
    load_params(root, ext, data)


def _py_literal(doc: Any) -> str:
    return "\n".join(f"{k} = {v!r}" for k, v in doc.items()) if isinstance(doc, dict) \
        else repr(doc)


def _toml(doc: Any) -> str:
    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) \
                + "}"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v) if v is not None else '""'
    if not isinstance(doc, dict):
        return value(doc)
    return "\n".join(f"{json.dumps(str(k))} = {value(v)}" for k, v in doc.items())


@SETTINGS
@given(fmt=st.sampled_from(["yaml", "json", "toml", "py"]), doc=json_anything)
def test_params_structures(root, fmt, doc):
    text = {"yaml": dump, "json": json.dumps, "toml": _toml, "py": _py_literal}[fmt](doc)
    load_params(root, "." + fmt, text)


@FEW
@given(ext=st.sampled_from(PARAMS_EXTS), text=yamlish | st.text(max_size=60))
def test_params_text(root, ext, text):
    load_params(root, ext, text)


# ------------------------------------------------------------------------------- recipes


def parse_recipes(text: str) -> None:
    recipes = call(spec.parse, text)
    if recipes is None:
        return
    for recipe in recipes.values():
        assert isinstance(recipe, spec.Recipe)
        for step in recipe.steps:
            assert isinstance(step, spec.Step)


step_st = (
    st.sampled_from(list(spec.OPTIONS) + ["repro", "nope"])
    | st.dictionaries(st.sampled_from(list(spec.OPTIONS) + ["x"]), maybe(
        st.dictionaries(st.sampled_from(["remote", "message", "untracked", "to", "x"]),
                        anything, max_size=2)), max_size=2)
    | st.fixed_dictionaries({"name": maybe(st.text(max_size=6))},
                            optional={"cmd": anything, "python": anything, "x": anything})
)
recipe_body = st.fixed_dictionaries({}, optional={
    "desc": anything, "targets": anything, "force": anything, "executor": anything,
    "pre": maybe(st.lists(maybe(step_st), max_size=3)),
    "post": maybe(st.lists(maybe(step_st), max_size=3)),
})
recipe_docs = st.fixed_dictionaries(
    {"recipes": maybe(st.dictionaries(keys, maybe(recipe_body), max_size=2))})


@SETTINGS
@given(doc=maybe(recipe_docs))
@example(doc={"recipes": {"r": {"pre": [{"pull": {"remote": ["x"]}}]}}})
@example(doc={"recipes": {"r": {"executor": {"name": ["dask"]}}}})
def test_recipes_structures(doc):
    parse_recipes(dump(doc))


@SETTINGS
@given(text=yamlish | st.text(max_size=60))
def test_recipes_text(text):
    parse_recipes(text)


@FEW
@given(data=st.binary(max_size=120))
def test_recipes_file_bytes(data):
    with tempfile.TemporaryDirectory() as d:
        put(os.path.join(d, spec.RECIPES_FILE), data)
        call(spec.load, d)


# -------------------------------------------------------------------------------- config


def read_config(data: bytes | str) -> None:
    with tempfile.TemporaryDirectory() as d:
        put(os.path.join(d, "config"), data)
        cfg = Config(d)
        for level in ("repo", "local"):
            sections = call(cfg.level, level)
            if sections is None:
                continue
            call(notifier_options, sections)
            call(executor_options, sections)
            for section, values in sections.items():
                for key in values:
                    value = call(cfg.get, section, key)
                    assert value is None or isinstance(value, str)
        call(cfg.get, "core", "remote")


ini_text = st.lists(
    st.sampled_from(["[core]", "['remote \"s\"']", '[remote "s"]', "[feature]", "[", "]",
                     "[]", "['x\"]", "remote = s", "    url = /x", "a=", "=b", "; c", "# d",
                     "notifier.slack.url = x", "[executor]", "name = dask", "\x00", "\t",
                     "url = '", "x = 'a'b'", "   [core]   "])
    | st.text(max_size=20),
    max_size=8,
).map("\n".join)


@SETTINGS
@given(data=st.binary(max_size=200) | ini_text)
@example(data=b"\xff")
@example(data="[core]\nremote = x\n\x00")
def test_config(data):
    read_config(data)


# ------------------------------------------------------------------------------ run cache

SHA = "a" * 64


def _entry_text(entry: Any) -> tuple[str, str, str]:
    """(run key, entry name, text) of `entry`, named as lode names a sound one when it
    can be, else with a made-up name."""
    text = dump(entry)
    try:
        back = yaml.safe_load(text)
        return run_key(back), entry_name(back), text
    except Exception:  # noqa: BLE001 - not an entry a key can be computed for
        return SHA, "b" * 64, text


run_entry = st.fixed_dictionaries(
    {"cmd": maybe(st.text(max_size=8)), "outs": maybe(records)},
    optional={"deps": maybe(records), "params": anything},
)


@SETTINGS
@given(key=st.sampled_from([f"runs/aa/{SHA}/{SHA}", f"runs/ab/{SHA}/{SHA}", "runs/", "",
                            f"runs/aa/{SHA}/../{SHA}", f"runs/aa/{SHA}"]) | st.text(max_size=30),
       text=yamlish | st.text(max_size=60))
def test_run_entry_text(key, text):
    entry = call(runs.parse_entry, key, text)
    assert entry is None or isinstance(entry, dict)


@SETTINGS
@given(entry=maybe(run_entry))
def test_run_entry_structures(entry):
    key, name, text = _entry_text(entry)
    got = call(runs.parse_entry, f"runs/{key[:2]}/{key}/{name}", text)
    if got is not None:
        assert all(hashes.is_md5(o["md5"]) for o in got["outs"])


@FEW
@given(
    out_paths=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=3, unique=True),
    files=st.lists(st.binary(max_size=80) | run_entry.map(dump), max_size=3),
    sound=st.lists(run_entry, max_size=2),
)
def test_run_cache_lookup(out_paths, files, sound):
    inputs = {"cmd": "python train.py", "deps": [{"path": "d", "md5": MD5}],
              "outs": [{"path": p} for p in sorted(out_paths)]}
    key = run_key(inputs)
    with tempfile.TemporaryDirectory() as cache:
        d = os.path.join(cache, "runs", key[:2], key)
        os.makedirs(d)
        for i, data in enumerate(files):  # whatever files sit under the run's key
            name = hashlib.sha256(str(i).encode()).hexdigest()
            put(os.path.join(d, name), data)
        for body in sound:  # and entries named as sound ones, with hostile outputs
            entry = {**inputs, **{k: v for k, v in body.items() if k != "outs"},
                     "outs": body["outs"]}
            _key, name, text = _entry_text(entry)
            put(os.path.join(d, name), text)
        got = call(RunCache(cache).lookup, inputs)
    if got is not None:
        assert sorted(o["path"] for o in got["outs"]) == sorted(out_paths)
        assert all(hashes.is_md5(o["md5"]) for o in got["outs"])


# --------------------------------------------------------------------- paths and hashes

values = st.sampled_from(NASTY_PATHS) | paths_st | anything


@SETTINGS
@given(base=st.sampled_from(["", "sub", "sub/deeper", "..", ".git"]), value=values)
@example(base="sub", value="..")
@example(base="sub", value="../.GIT/x")
def test_confine(root, base, value):
    got = call(paths.confine, root, os.path.normpath(os.path.join(root, base)), value,
               "f", "path")
    if got is not None:
        assert_confined(root, got, "confined path")


@SETTINGS
@given(value=values)
def test_check_relpath(value):
    got = call(paths.check_relpath, value, "m.dir")
    if got is not None:
        full = os.path.normpath(os.path.join("/r/dir", got))
        assert full.startswith("/r/dir/") and "\x00" not in got, got
        assert ".git" not in (p.lower() for p in got.split("/")), got


@SETTINGS
@given(rels=st.lists(values, max_size=5))
@example(rels=["a", "a/b"])
@example(rels=["a", "a"])
@example(rels=["a\x00b"])
def test_check_entries(rels):
    entries = [(rel, MD5) for rel in rels]
    try:
        paths.check_entries(entries, "m.dir")
    except LodeError as e:
        refused(e)
        return
    for rel in rels:  # accepted: every one plain, none twice, none a parent of another
        assert paths.check_relpath(rel, "m.dir") == rel
    assert len(set(rels)) == len(rels)
    parents = {rel.rsplit("/", n)[0] for rel in rels for n in range(1, rel.count("/") + 1)}
    assert not set(rels) & parents


@SETTINGS
@given(value=md5_st | anything, allow_dir=st.booleans())
def test_check_md5(value, allow_dir):
    got = call(hashes.check_md5, value, "f", allow_dir)
    if got is not None:
        assert hashes.is_md5(got) if allow_dir else hashes.is_file_md5(got)
        assert "/" not in got and "." not in got.removesuffix(".dir")
