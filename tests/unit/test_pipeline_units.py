"""The pure parts of the pipeline code: `${}` interpolation, dvc.yaml expansion, lock
entries and lock files, the ruamel-shaped YAML emitter, the run-cache key and the stage
graph. Expected values come from DVC 3.67.1 (names, commands, run-cache entries) or from
ruamel.yaml itself (bytes)."""

from __future__ import annotations

import io
import os
import random
import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from lode import yamlio
from lode.errors import LodeError, TargetError
from lode.pipeline import dvcfile, interpolate
from lode.pipeline.graph import PipelineError, load_project
from lode.repo import Repo
from lode.store import lockfile, runcache


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Stage addresses in messages are relative to the working directory, as DVC's are."""
    monkeypatch.chdir(tmp_path)


# ---------------------------------------------------------------------- interpolation

CONTEXT = {
    "n": 3,
    "lr": 0.5,
    "on": True,
    "off": False,
    "name": "run one",
    "models": ["small", "large"],
    "train": {"C": 0.5, "layers": [1, 2], "flag": True, "off": False, "name": "a b",
              "sub": {"k": 3}},
    "grid": {"a": [{"x": 1}, {"x": 2}]},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${n}", 3),  # a whole ${} keeps the type
        ("${lr}", 0.5),
        ("${on}", True),
        ("${models}", ["small", "large"]),
        ("${train.sub}", {"k": 3}),
        ("${ n }", 3),
        ("m-${n}.txt", "m-3.txt"),
        ("${on}/${off}", "true/false"),
        ("${lr}${n}", "0.53"),
        ("${models[1]}", "large"),
        ("${models.0}", "small"),
        ("${grid.a[1].x}", 2),
        ("${train.sub.k}", 3),
        ("no vars", "no vars"),
        ("\\${n} ${n}", "${n} 3"),  # escaped
        ("\\${n}", "${n}"),
        ("$n {n}", "$n {n}"),
    ],
)
def test_resolve(text, expected):
    got = interpolate.resolve(text, CONTEXT)
    assert got == expected and type(got) is type(expected)


def test_resolve_walks_lists_and_mappings_including_keys():
    value = {"outs": ["m-${n}.txt", {"${name}": {"cache": "${off}"}}], "${models[0]}": 1}
    assert interpolate.resolve(value, CONTEXT) == {
        "outs": ["m-3.txt", {"run one": {"cache": False}}],
        "small": 1,
    }


def test_dict_in_cmd_becomes_arguments_as_dvc_writes_them():
    # DVC 3.67.1 resolves `python train.py ${train}` with this `train` to exactly this
    got = interpolate.resolve("python train.py ${train}", CONTEXT, "cmd")
    assert got == "python train.py --C 0.5 --layers 1 2 --flag --name 'a b' --sub.k 3"
    assert interpolate.resolve("x ${train.sub}", CONTEXT, "cmd") == "x --k 3"  # DVC too


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("${missing}", None, ["missing"]),
        ("x-${train.nope}", None, ["train.nope"]),
        ("${models[5]}", None, ["models.5"]),
        ("a ${models} b", "cmd", ["models"]),  # a list inside a string
        ("a ${train} b", "outs", ["train"]),  # a dict inside a string outside cmd
        ("${}", None, []),
        ("${a b}", None, []),
    ],
)
def test_resolve_errors_name_the_expression(text, key, words):
    with pytest.raises(interpolate.InterpolationError) as e:
        interpolate.resolve(text, CONTEXT, key)
    for w in words:
        assert w in e.value.message


def test_merge_vars_merges_dicts_and_refuses_redefinition():
    ctx = {"train": {"lr": 1}}
    interpolate.merge_vars(ctx, {"train": {"epochs": 2}, "x": 1}, "vars")
    assert ctx == {"train": {"lr": 1, "epochs": 2}, "x": 1}
    with pytest.raises(interpolate.InterpolationError, match="'x'"):
        interpolate.merge_vars(ctx, {"x": 2}, "vars")
    with pytest.raises(interpolate.InterpolationError, match="'lr'"):
        interpolate.merge_vars(ctx, {"train": {"lr": 3}}, "vars")


# ---------------------------------------------------------------- dvc.yaml expansion

NAMES_YAML = """\
vars:
  - models: [small, large]
  - cfg: {us: 1, eu: 2}
stages:
  fl:
    foreach: ${models}
    do:
      cmd: echo ${item} > fl-${item}.txt
      outs:
      - fl-${item}.txt
  fd:
    foreach: ${cfg}
    do:
      cmd: echo ${key} ${item} > fd-${key}.txt
      outs:
      - fd-${key}.txt
  fn:
    foreach: [1, 2.5, true]
    do:
      cmd: echo ${item} > fn-${item}.txt
  fc:
    foreach:
      - {a: 1}
      - {a: 2}
    do:
      cmd: echo ${item.a}
  mx:
    matrix:
      model: [small, large]
      lr: [0.1, 1]
    cmd: echo ${item.model} ${item.lr} > mx-${item.model}-${item.lr}.txt
    outs:
    - mx-${item.model}-${item.lr}.txt
  md:
    matrix:
      conf: [{x: 1}, {x: 2}]
      flag: [true, false]
    cmd: echo ${item.conf.x} ${item.flag}
  plain:
    cmd: echo ${cfg.us}
"""

# `dvc stage list --all` and each stage's cmd, from DVC 3.67.1 on NAMES_YAML
DVC_NAMES = {
    "fl@small": "echo small > fl-small.txt",
    "fl@large": "echo large > fl-large.txt",
    "fd@us": "echo us 1 > fd-us.txt",
    "fd@eu": "echo eu 2 > fd-eu.txt",
    "fn@1": "echo 1 > fn-1.txt",
    "fn@2.5": "echo 2.5 > fn-2.5.txt",
    "fn@true": "echo true > fn-true.txt",
    "fc@0": "echo 1",
    "fc@1": "echo 2",
    "mx@small-0.1": "echo small 0.1 > mx-small-0.1.txt",
    "mx@small-1": "echo small 1 > mx-small-1.txt",
    "mx@large-0.1": "echo large 0.1 > mx-large-0.1.txt",
    "mx@large-1": "echo large 1 > mx-large-1.txt",
    "md@conf0-true": "echo 1 true",
    "md@conf0-false": "echo 1 false",
    "md@conf1-true": "echo 2 true",
    "md@conf1-false": "echo 2 false",
    "plain": "echo 1",
}


def _load(tmp_path: Path, text: str, files: dict[str, str] | None = None):
    for rel, body in {"dvc.yaml": text, **(files or {})}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    return dvcfile.load(str(tmp_path / "dvc.yaml"), str(tmp_path))[0]


def test_generated_stage_names_and_commands_are_dvcs(tmp_path):
    stages = _load(tmp_path, NAMES_YAML)
    assert {s.name: s.cmd for s in stages} == DVC_NAMES
    assert [s.name for s in stages] == list(DVC_NAMES)  # and in DVC's order
    mx = next(s for s in stages if s.name == "mx@large-0.1")
    assert [o.path for o in mx.outs] == ["mx-large-0.1.txt"]


def test_params_file_vars_and_stage_vars(tmp_path):
    stages = _load(
        tmp_path,
        textwrap.dedent("""\
            vars:
            - extra.yaml:train
            stages:
              s:
                vars:
                - local: 7
                cmd: echo ${seed} ${train.lr} ${local}
                wdir: sub
                deps:
                - ${train.data}
                params:
                - seed
                - extra.yaml:
                  - train.lr
                outs:
                - out-${local}.txt:
                    cache: false
            """),
        {"params.yaml": "seed: 42\n", "extra.yaml": "train:\n  lr: 0.1\n  data: d.csv\nx: 1\n"},
    )
    (s,) = stages
    assert s.cmd == "echo 42 0.1 7"
    assert s.wdir == str(tmp_path / "sub")
    assert s.deps == ["d.csv"]
    assert [(p.path, p.keys) for p in s.params] == [
        ("params.yaml", ["seed"]),
        ("extra.yaml", ["train.lr"]),
    ]
    assert [(o.path, o.cache) for o in s.outs] == [("out-7.txt", False)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("stages:\n  a:\n    cmd: x\n    outz: [o]\n", ["'outz'", "'a'"]),
        ("stages:\n  a:\n    deps: [x]\n", ["'a'", "cmd"]),
        ("stages:\n  a:\n    foreach: [1]\n    cmd: x\n", ["'a'", "foreach"]),
        ("stages:\n  a:\n    cmd: echo ${nope}\n", ["nope", "'a'"]),
        ("stages:\n  a:\n    cmd: x\n    frozen: maybe\n", ["frozen"]),
        ("stagez: {}\n", ["stagez"]),
        ("stages:\n  a: [1]\n", ["'a'"]),
        ("stages:\n  a:\n    cmd: x\n    outs: [o\n", ["line"]),
    ],
)
def test_invalid_dvcfile_is_one_clear_error(tmp_path, text, words):
    with pytest.raises(dvcfile.DvcfileError) as e:
        _load(tmp_path, text)
    for w in words:
        assert w in str(e.value), str(e.value)


# ------------------------------------------------------------------- lock entries


def test_lock_entry_orders_keys_files_params_deps_and_outs():
    deps = [lockfile.item(p, "0" * 32, 1, None, False) for p in ("b.txt", "a/z", "a.txt")]
    outs = [lockfile.item(p, "1" * 32 + ".dir", 5, 2, False) for p in ("out2", "out1")]
    params = {
        "z.yaml": {"b": 1, "a": 2},
        "params.yaml": {"train.lr": 0.1, "epochs": 3, "Zeta": 0},
        "conf/a.json": {"k": True},
    }
    e = lockfile.entry("cmd here", deps, params, outs)
    assert list(e) == ["cmd", "deps", "params", "outs"]
    assert [d["path"] for d in e["deps"]] == ["a.txt", "a/z", "b.txt"]
    assert [o["path"] for o in e["outs"]] == ["out1", "out2"]
    assert list(e["params"]) == ["params.yaml", "conf/a.json", "z.yaml"]
    assert list(e["params"]["params.yaml"]) == ["Zeta", "epochs", "train.lr"]
    assert list(e["params"]["z.yaml"]) == ["a", "b"]
    assert lockfile.entry(["a", "b"], [], {}, []) == {"cmd": ["a", "b"]}


def test_lock_item_key_order():
    assert list(lockfile.item("d", "x" * 32 + ".dir", 10, 2, True)) == [
        "path", "hash", "md5", "size", "nfiles", "isexec",
    ]
    assert lockfile.item("f", "x" * 32, None, None, False) == {
        "path": "f", "hash": "md5", "md5": "x" * 32,
    }


def _ruamel(doc) -> str:
    y = YAML()
    y.default_flow_style = False
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def _entry(cmd: str, md5: str = "a" * 32) -> dict:
    return lockfile.entry(cmd, [lockfile.item("in.txt", md5, 6, None, False)],
                          {"params.yaml": {"lr": 0.001}}, [lockfile.item("o", md5, 6, None, False)])


def test_lockfile_rewrites_only_the_changed_entry_in_pipeline_order(tmp_path):
    path = tmp_path / "dvc.lock"
    lock = lockfile.Lockfile(str(path), "dvc.lock", order=["a", "b", "c"])
    assert lock.update("c", _entry("make c"))
    assert lock.update("a", _entry("make a"))
    text = path.read_text()
    expected = {"schema": "2.0", "stages": {"a": _entry("make a"), "c": _entry("make c")}}
    assert text == _ruamel(expected)  # pipeline order, not the order they finished in

    assert not lock.update("a", _entry("make a"))  # unchanged: nothing written
    assert path.read_text() == text

    # entries already in the file keep their place and their bytes; new ones follow
    custom = text.replace("    cmd: make c\n", "    cmd: make   c\n")
    path.write_text(custom)
    lock = lockfile.Lockfile(str(path), "dvc.lock", order=["a", "b", "c"])
    assert lock.update("b", _entry("make b"))
    got = path.read_text()
    assert "    cmd: make   c\n" in got
    assert lockfile.Lockfile(str(path), "x").entries == {
        "a": _entry("make a"), "c": _entry("make   c"), "b": _entry("make b"),
    }


@pytest.mark.parametrize("text", ["schema: '1.0'\nstages: {}\n", "- a\n", "stages: [\n"])
def test_lockfile_that_is_not_dvc3_is_refused(tmp_path, text):
    (tmp_path / "dvc.lock").write_text(text)
    with pytest.raises(lockfile.LockfileError):
        lockfile.Lockfile(str(tmp_path / "dvc.lock"), "dvc.lock")


# -------------------------------------------------------------- the YAML emitter

_WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_./-="
_ODD = "'\"{}[],:#&*!|>%@`?~+$\\()"


def _word(rng: random.Random) -> str:
    k = rng.random()
    if k < 0.6:
        return "".join(rng.choice(_WORD_CHARS) for _ in range(rng.randint(1, 15)))
    if k < 0.75:
        return "".join(rng.choice(_ODD + "ab") for _ in range(rng.randint(1, 6)))
    if k < 0.85:
        return "x" * rng.randint(60, 100)  # longer than a line
    return rng.choice(["'q'", '"dq"', "a: b", "#c", "-", "--flag", "&&", ">", "é", "日本"])


def _text(rng: random.Random, words: int) -> str:
    out = _word(rng)
    for _ in range(words - 1):
        out += rng.choice([" "] * 8 + ["  ", "   "]) + _word(rng)
    if rng.random() < 0.05:
        out = " " + out
    if rng.random() < 0.05:
        out += " "
    return out


def _value(rng: random.Random):
    return rng.choice([
        _text(rng, rng.randint(1, 4)),
        rng.random() * 10 ** rng.randint(-12, 12),
        -rng.random(),
        rng.randint(-10**20, 10**20),
        1e-05, 1.5e-05, 0.0, 1e16, float("inf"),
        True, False, None, [1, "a", 0.5], {"n": 1, "m": [2]},
        "", " ", "0.5", "1e5", "yes", "on", "Null", "~", "2024-01-01", "1:30", ".inf", "007",
    ])


@pytest.mark.parametrize("seed", range(3))
def test_dump_block_is_ruamels_bytes_for_random_lock_entries(seed):
    rng = random.Random(seed)
    for _ in range(200):
        cmd = _text(rng, rng.randint(1, 40))
        if rng.random() < 0.1:
            cmd = [cmd, _text(rng, rng.randint(1, 20))]
        params = {f"k{j}": _value(rng) for j in range(rng.randint(1, 4))}
        outs = [lockfile.item(_text(rng, 2)[:40].strip() or "o", f"{rng.getrandbits(128):032x}",
                              rng.randint(0, 10**9), None, rng.random() < 0.1)]
        entry = lockfile.entry(cmd, [], {"params.yaml": params}, outs)
        name = rng.choice(["train", "a@b", "grid@small-0.1", "x@1.5", "s@true"])
        # as DVC writes it into dvc.lock (indented under `stages:`) and into the run cache
        assert lockfile.HEADER + yamlio.dump_block({name: entry}, indent=2) == _ruamel(
            {"schema": "2.0", "stages": {name: entry}}
        ), (cmd, params)
        assert yamlio.dump_block(entry) == _ruamel(entry), (cmd, params)


@pytest.mark.parametrize("seed", range(3))
def test_dump_block_fast_path_folds_long_commands_like_ruamel(seed):
    """Plain commands (the common case) never need ruamel, and fold at column 80 as it does."""
    rng = random.Random(seed)
    for _ in range(300):
        words = [
            "".join(rng.choice(_WORD_CHARS + "'\"") for _ in range(rng.randint(1, rng.choice(
                [8, 20, 90]))))
            for _ in range(rng.randint(1, 40))
        ]
        cmd = "python" + "".join(rng.choice(" " * 6 + "  ") + w for w in words)
        doc = {"stage": {"cmd": cmd, "params": {"params.yaml": {"lr": rng.random(),
                                                                  "epochs": rng.randint(0, 999)}}}}
        lines: list[str] = []
        assert yamlio._emit(doc, 2, lines), cmd  # handled without ruamel
        assert lockfile.HEADER + yamlio.dump_block(doc, indent=2) == _ruamel(
            {"schema": "2.0", "stages": doc}
        ), cmd


def test_dump_block_long_command_bytes_from_dvc():
    # dvc.lock bytes DVC 3.67.1 wrote for this command (folded at column 80)
    cmd = (
        "mkdir -p prepared && cp raw.txt prepared/one.txt && printf 'two\\n' > prepared/two.txt"
        ' && echo "this is a long command line that certainly goes well beyond eighty columns'
        ' of text" > /dev/null'
    )
    assert yamlio.dump_block({"prepare": {"cmd": cmd}}, indent=2) == (
        "  prepare:\n"
        "    cmd: mkdir -p prepared && cp raw.txt prepared/one.txt && printf 'two\\n' > \n"
        '      prepared/two.txt && echo "this is a long command line that certainly goes \n'
        '      well beyond eighty columns of text" > /dev/null\n'
    )


# --------------------------------------------------------------------- the run cache

# Entries DVC 3.67.1 wrote to .dvc/cache/runs/<key[:2]>/<key>/<value>
DVC_RUNS = [
    (
        "e80a287e99a665876e0f23c742d20a298c4c8c531532e53e0a05780c284eb8af",
        "38109c7185cc8783127294467822e502c1c003640ff7b4a0f757446f5d2e7efe",
        "cmd: python3 -c \"import shutil; shutil.copy('in.txt', 'out.txt'); \n"
        "  open('m.json','w').write('{}')\"\n"
        "deps:\n"
        "- path: in.txt\n"
        "  hash: md5\n"
        "  md5: b1946ac92492d2347c6235b4d2611184\n"
        "  size: 6\n"
        "params:\n"
        "  params.yaml:\n"
        "    lr: 0.001\n"
        "    name: run one\n"
        "    nested.size: 3\n"
        "outs:\n"
        "- path: m.json\n"
        "  hash: md5\n"
        "  md5: 99914b932bd37a50b983c5e7c90ae93b\n"
        "  size: 2\n"
        "- path: out.txt\n"
        "  hash: md5\n"
        "  md5: b1946ac92492d2347c6235b4d2611184\n"
        "  size: 6\n",
    ),
    (  # a directory output; a param literally named `size` drops out of both hashes
        "f197db53401f339d2113d1e75eeba07e6aa1971e794c7da3ee1237daded9365f",
        "2ecbba6c63983b4f98ef7efab231cd2edfc1fec2a23011063fdeea320291c67b",
        "cmd: mkdir -p out && cp in.txt out/a.txt && printf 'b\\n' > out/b.txt\n"
        "deps:\n"
        "- path: in.txt\n"
        "  hash: md5\n"
        "  md5: b1946ac92492d2347c6235b4d2611184\n"
        "  size: 6\n"
        "params:\n"
        "  params.yaml:\n"
        "    opts.nfiles: 2\n"
        "    rate: 2.5e-06\n"
        "    size: 3\n"
        "outs:\n"
        "- path: out\n"
        "  hash: md5\n"
        "  md5: 17e97176d7ad261ed87858ffedad902f.dir\n"
        "  size: 8\n"
        "  nfiles: 2\n",
    ),
]


@pytest.mark.parametrize(("key", "value", "text"), DVC_RUNS)
def test_run_key_and_entry_file_match_dvc(tmp_path, key, value, text):
    entry = yamlio.loads(text)
    assert runcache.run_key(entry) == key
    assert yamlio.dump_block(entry) == text

    cache = runcache.RunCache(str(tmp_path))
    cache.save(entry)
    files = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        f"runs/{key[:2]}/{key}/{value}"
    ]
    assert files[0].read_text() == text

    # what a stage knows before it runs (outs not hashed yet) finds the entry
    inputs = {k: v for k, v in entry.items() if k != "outs"}
    inputs["outs"] = [{"path": o["path"]} for o in entry["outs"]]
    assert cache.lookup(inputs) == entry
    inputs["params"] = {"params.yaml": {**entry["params"]["params.yaml"], "extra": 1}}
    assert cache.lookup(inputs) is None


def test_run_key_ignores_sizes_but_not_hashes():
    key, _, text = DVC_RUNS[0]
    entry = yamlio.loads(text)
    entry["deps"][0]["size"] = 999
    assert runcache.run_key(entry) == key
    entry["deps"][0]["md5"] = "0" * 32
    assert runcache.run_key(entry) != key


# ------------------------------------------------------------------------- the graph


def _project(root: Path, files: dict[str, str]):
    (root / ".dvc").mkdir(exist_ok=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return load_project(Repo(str(root)))


def _stage(name: str, deps=(), outs=(), frozen=False) -> str:
    lines = [f"  {name}:", f"    cmd: echo {name}"]
    if deps:
        lines += ["    deps:", *(f"    - {d}" for d in deps)]
    if outs:
        lines += ["    outs:", *(f"    - {o}" for o in outs)]
    if frozen:
        lines.append("    frozen: true")
    return "\n".join(lines) + "\n"


def _yaml(*stages: str) -> str:
    return "stages:\n" + "".join(stages)


@pytest.mark.parametrize(
    "stages",
    [
        [_stage("a", ["b.txt"], ["a.txt"]), _stage("b", ["a.txt"], ["b.txt"])],
        [_stage("a", ["c.txt"], ["a.txt"]), _stage("b", ["a.txt"], ["b.txt"]),
         _stage("c", ["b.txt"], ["c.txt"])],
        [_stage("a", ["d/x"], ["a.txt"]), _stage("b", ["a.txt"], ["d"])],  # through a dir
    ],
)
def test_cycle_is_refused_and_named(tmp_path, stages):
    with pytest.raises(PipelineError) as e:
        _project(tmp_path, {"dvc.yaml": _yaml(*stages)})
    msg = e.value.message
    assert "cycle" in msg
    names = {line.split(":")[0].strip() for line in stages}
    for name in names:
        assert name in msg, msg


@pytest.mark.parametrize(("deps", "outs"), [(["a.txt"], ["a.txt"]), (["d/x.csv"], ["d"])])
def test_dependency_that_is_the_stages_own_output_is_refused(tmp_path, deps, outs):
    # DVC: "Same item(s) are defined as both a dependency and an output in stage: a."
    with pytest.raises(LodeError) as e:
        _project(tmp_path, {"dvc.yaml": _yaml(_stage("a", deps, outs))})
    assert "'a'" in e.value.message


def test_frozen_stage_breaks_a_cycle(tmp_path):
    p = _project(tmp_path, {"dvc.yaml": _yaml(
        _stage("a", ["b.txt"], ["a.txt"], frozen=True), _stage("b", ["a.txt"], ["b.txt"]))})
    assert [s.name for s in p.topological()] == ["a", "b"]


@pytest.mark.parametrize(
    ("stages", "words"),
    [
        ([_stage("a", outs=["o"]), _stage("b", outs=["o"])], ["'o'", "'a'", "'b'"]),
        ([_stage("a", outs=["o", "o"])], ["'o'", "twice"]),
        ([_stage("a", outs=["d"]), _stage("b", outs=["d/e/f"])], ["d/e/f", "'d'"]),
        ([_stage("a", outs=["../x"])], ["outside"]),
    ],
)
def test_outputs_owned_once_and_not_nested(tmp_path, stages, words):
    with pytest.raises(LodeError) as e:
        _project(tmp_path, {"dvc.yaml": _yaml(*stages)})
    for w in words:
        assert w in e.value.message, e.value.message


DIAMOND = _yaml(
    _stage("load", ["raw"], ["data"]),
    _stage("feat", ["data/x.csv"], ["feat.csv"]),  # reads a file inside load's directory
    _stage("train", ["feat.csv", "data"], ["model"]),
    _stage("eval", ["model", "data"], ["metrics.json"]),
    _stage("lint", ["src"]),
)


def _names(stages) -> list[str]:
    """Addresses as seen from the repository root (the test's tmp_path)."""
    stages = list(stages)
    root = os.path.dirname(stages[0].dvcfile) if stages else ""
    while stages and not os.path.isdir(os.path.join(root, ".dvc")):
        root = os.path.dirname(root)
    return [s.address(root) for s in stages]


@pytest.fixture
def diamond(tmp_path):
    return _project(tmp_path, {
        "dvc.yaml": DIAMOND,
        "sub/dvc.yaml": _yaml(_stage("report", ["../metrics.json"], ["r.txt"]),
                              "  grp:\n    foreach: [x, y]\n    do:\n      cmd: echo ${item}\n"),
    })


def test_topological_order_and_upstream(diamond):
    order = _names(diamond.topological())
    for before, after in [("load", "feat"), ("feat", "train"), ("load", "train"),
                          ("train", "eval"), ("eval", "sub/dvc.yaml:report")]:
        assert order.index(before) < order.index(after), order
    up = {s.name: sorted(u.name for u in ups) for s, ups in diamond.upstream.items()}
    assert up["feat"] == ["load"]
    assert up["train"] == ["feat", "load"]
    assert up["report"] == ["eval"]
    assert up["lint"] == []


def test_plan_upstream_single_and_downstream(diamond, tmp_path):
    root = str(tmp_path)
    train = diamond.resolve_targets(["train"], root)
    assert _names(diamond.plan(train)) == ["load", "feat", "train"]
    assert _names(diamond.plan(train, single=True)) == ["train"]
    assert _names(diamond.plan(train, downstream=True)) == ["train", "eval", "sub/dvc.yaml:report"]
    feat = diamond.resolve_targets(["feat"], root)
    assert _names(diamond.plan(feat, downstream=True)) == [
        "feat", "train", "eval", "sub/dvc.yaml:report"
    ]


def test_resolve_targets(diamond, tmp_path):
    root, sub = str(tmp_path), str(tmp_path / "sub")
    assert _names(diamond.resolve_targets(None, root)) == ["load", "feat", "train", "eval", "lint"]
    assert _names(diamond.resolve_targets(["sub/dvc.yaml"], root)) == [
        "sub/dvc.yaml:report", "sub/dvc.yaml:grp@x", "sub/dvc.yaml:grp@y",
    ]
    assert _names(diamond.resolve_targets(["sub"], root)) == _names(
        diamond.resolve_targets(["sub/dvc.yaml"], root))
    assert _names(diamond.resolve_targets(["sub/dvc.yaml:grp"], root)) == [
        "sub/dvc.yaml:grp@x", "sub/dvc.yaml:grp@y",
    ]
    assert _names(diamond.resolve_targets(["grp@y", "report"], sub)) == [
        "sub/dvc.yaml:grp@y", "sub/dvc.yaml:report",
    ]
    assert _names(diamond.resolve_targets(["../dvc.yaml:eval"], sub)) == ["eval"]
    for bad, cwd in [("nope", root), ("report", root), ("x/dvc.yaml:a", root),
                     ("gr", sub)]:
        with pytest.raises(TargetError):
            diamond.resolve_targets([bad], cwd)


def test_no_dvcfile_in_the_directory_is_a_target_error(diamond, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TargetError):
        diamond.resolve_targets(None, str(tmp_path / "empty"))


def test_output_directories_are_not_searched_for_pipelines(tmp_path):
    p = _project(tmp_path, {
        "dvc.yaml": _yaml(_stage("a", outs=["data"])),
        "data/dvc.yaml": _yaml(_stage("inner")),
    })
    assert [s.name for s in p.stages] == ["a"]
    assert os.path.join(str(tmp_path), "data", "dvc.yaml") not in p.docs
