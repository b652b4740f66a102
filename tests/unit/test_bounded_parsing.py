"""Input from files is read within fixed bounds, and what cannot be read is a sentence:
YAML (duplicate keys, alias bombs, recursive aliases, deep nesting, characters that are
not text), params in every format, recipes, config, .dvcignore, and writes that fail."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lode import atomic, config, yamlio
from lode.errors import ConfigError, LodeError, MalformedError
from lode.pipeline import params
from lode.recipes import RecipeError, spec
from lode.store import hashing, ignore


def refused(text: str, where: str = "f.yaml") -> yamlio.YamlError:
    with pytest.raises(yamlio.YamlError) as info:
        yamlio.loads(text, where)
    assert info.value.message.startswith(f"{where} is not valid YAML"), info.value.message
    return info.value


# -- duplicate keys ----------------------------------------------------------------------
def test_duplicate_key_is_refused_with_its_line_and_name():
    e = refused("stages:\n  s:\n    cmd: a\n    cmd: b\n", "dvc.yaml")
    assert e.problem_mark == (3, 4)  # 0-based, as PyYAML's marks: callers add 1
    assert "line 4, column 5" in e.message and "'cmd'" in e.message


def test_duplicate_key_in_a_flow_mapping_inside_a_list():
    assert refused("a: [{x: 1, x: 2}]\n").problem_mark.line == 0


def test_a_key_overriding_a_merged_one_is_no_duplicate():
    doc = yamlio.loads("base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  x: 3\n")
    assert doc["mine"] == {"x": 3, "y": 2}
    refused("base: &b {x: 1}\nmine:\n  <<: *b\n  y: 3\n  y: 4\n")


# -- aliases -----------------------------------------------------------------------------
def laughs(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_it_is_built():
    e = refused(laughs(9))  # 10**9 nodes
    assert "alias bomb" in e.message and e.problem_mark is not None


def test_a_few_aliases_are_read_as_shared_values():
    doc = yamlio.loads(laughs(4))  # 10,000 nodes
    assert len(doc["a3"]) == 10 and doc["a3"][0] == doc["a2"]


def test_only_the_copies_aliases_make_count(monkeypatch):
    monkeypatch.setattr(yamlio, "MAX_NODES", 50)
    # many plain nodes, and a '*' and an '&' in strings: nothing is expanded
    big = "cmd: ls *.csv && true\nitems:\n" + "".join(f"- {i}\n" for i in range(500))
    assert len(yamlio.loads(big)["items"]) == 500
    assert len(yamlio.loads("a: &a [" + ", ".join("1" * 40) + "]\nb: *a\n")["b"]) == 40
    refused("a: &a [" + ", ".join("1" * 40) + "]\nb: [*a, *a]\n")


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {k: *a}\n", "- &x\n  - 1\n  - *x\n"])
def test_a_recursive_alias_is_refused(text):
    assert "recursive alias" in refused(text).message


def test_an_undefined_alias_is_a_sentence():
    assert "alias" in refused("a: *nope\nb: '&'\n").message


# -- nesting -----------------------------------------------------------------------------
def flow(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


def block(depth: int) -> str:
    return "".join(" " * i + "k:\n" for i in range(depth)) + " " * depth + "k: 1\n"


def compact(depth: int) -> str:
    return "- " * depth + "x\n"


@pytest.mark.parametrize("shape", [flow, block, compact])
def test_nesting_is_read_up_to_max_depth_and_refused_past_it(shape):
    yamlio.loads(shape(yamlio.MAX_DEPTH - 1))
    assert "levels deep" in refused(shape(yamlio.MAX_DEPTH + 1)).message


@pytest.mark.parametrize("text", ["[" * 200_000 + "]" * 200_000, "[" * 200_000,
                                  "{a: " * 100_000, "- " * 200_000 + "x"],
                         ids=["flow", "unclosed", "mappings", "compact"])
def test_extreme_nesting_is_refused_without_crashing_the_process(text):
    # libyaml's composer recurses on the C stack: past ~30,000 levels it kills the process,
    # so the check runs in a child, where a crash is a failed test, not a dead session
    code = ("import sys; from lode import yamlio\n"
            "try: yamlio.loads(sys.stdin.read(), 'deep.yaml')\n"
            "except yamlio.YamlError as e: print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("deep.yaml is not valid YAML") and "levels deep" in proc.stdout


nested = st.recursive(
    st.integers(0, 9) | st.text("ab", max_size=2),
    lambda inner: st.lists(inner, min_size=1, max_size=2)
    | st.dictionaries(st.text("xyz", min_size=1, max_size=2), inner, min_size=1, max_size=2),
    max_leaves=200,
)


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()))
    if isinstance(value, list):
        return 1 + max(map(depth_of, value))
    return 0


@settings(max_examples=150, deadline=None)
@given(nested, st.integers(0, 120), st.sampled_from([False, True, None]))
def test_the_cheap_precheck_never_lets_a_deep_document_through(doc, wrap, style):
    """Whatever the layout, a document is read iff it nests at most MAX_DEPTH levels."""
    for _ in range(wrap):
        doc = [doc] if wrap % 2 else {"k": doc}
    text = yaml.safe_dump(doc, default_flow_style=style, width=1_000_000)
    if depth_of(doc) <= yamlio.MAX_DEPTH:
        assert yamlio.loads(text) == doc
    else:
        assert "levels deep" in refused(text).message


# -- characters --------------------------------------------------------------------------
@pytest.mark.parametrize("text,where", [
    ("a: b\x00c\n", (0, 4)),
    ("a: \ud800\n", (0, 3)),  # a str a lenient reader could have made
    ('a: "\\ud800"\n', (0, 6)),  # libyaml refuses the escape of a lone surrogate
])
def test_a_character_that_is_not_text_is_refused_with_its_place(text, where):
    assert refused(text).problem_mark == where


def test_a_value_its_constructor_cannot_build_is_a_sentence():
    assert "month" in refused("date: 2021-13-45\n").message


def test_every_yaml_failure_is_one_lode_error_without_a_file_name_too():
    with pytest.raises(MalformedError) as info:
        yamlio.loads("a: [\n")
    assert str(info.value).startswith("the document is not valid YAML at line")


def test_check_tree_refuses_deep_documents_and_lone_surrogates():
    yamlio.check_tree({"a": ["ünïcode", {"b": 1}]}, "p.json")
    with pytest.raises(MalformedError, match="p.json holds '\\\\ud800'"):
        yamlio.check_tree({"a": ["\ud800"]}, "p.json")
    with pytest.raises(MalformedError, match="surrogate"):
        yamlio.check_tree({"\udcff": 1}, "p.json")
    deep: list = []
    for _ in range(yamlio.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(MalformedError, match="levels deep"):
        yamlio.check_tree(deep, "p.json")


# -- params in every format --------------------------------------------------------------
PARAMS_REFUSED = [
    ("params.yaml", b"a: 1\na: 2\n", "line 2, column 1: found duplicate key 'a'"),
    ("params.yaml", b"a: \xff\n", "params.yaml is not UTF-8 text (line 1)"),
    ("params.yaml", b"a: 1\nb: \x00\n", "holds a NUL byte at line 2"),
    ("params.yaml", laughs(9).encode(), "alias bomb"),
    ("params.json", b'{"a": "\\ud800"}', "lone surrogate"),
    ("params.json", b"[" * 100_000 + b"]" * 100_000, "levels deep"),
    ("params.json", b'{"a": ' + b"[" * 150 + b"]" * 150 + b"}", "levels deep"),
    ("params.json", b'{"a": ' + b"1" * 5000 + b"}", "more digits than Python reads"),
    ("params.json", b'{"a": 1', "is malformed at line 1"),
    ("params.toml", b"a = " + b"[" * 5000 + b"]" * 5000, "levels deep"),
    ("params.toml", b"a." * 200 + b"b = 1", "levels deep"),
    ("params.toml", b'a = "\\ud800"', "is malformed"),
    ("params.toml", b"a = 1\na = 2\n", "is malformed"),
    ("params.py", b'a = "\\ud800"\n', "lone surrogate"),
    ("params.py", b"a = " + b"[" * 150 + b"]" * 150 + b"\n", "levels deep"),
    ("params.py", b"a = (\n", "is not valid Python"),
    ("params.py", b"a = 1\x00\n", "NUL byte"),
]


@pytest.mark.parametrize("name,data,says", PARAMS_REFUSED,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PARAMS_REFUSED)])
def test_params_that_cannot_be_read_are_a_sentence(tmp_path, monkeypatch, name, data, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(data)
    with pytest.raises(params.ParamsError) as info:
        params.load(str(tmp_path / name), name)
    assert says in str(info.value) and name in str(info.value)


def test_python_params_are_parsed_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "params.py"
    path.write_text(f"import os\nos.mkdir({str(marker)!r})\nlr = 0.1\nbad = {{[1]: 2}}\n"
                    f"class Train:\n    epochs = 3\n    seed = len('x')\n")
    assert params.load(str(path), "params.py") == {"lr": 0.1, "Train": {"epochs": 3}}
    assert not marker.exists()


def test_json_edge_values_stay_values(tmp_path):
    path = tmp_path / "params.json"
    path.write_text('{"a": NaN, "b": 1e999999, "c": 123456789012345678901234567890}')
    doc = params.load(str(path), "params.json")
    assert doc["a"] != doc["a"] and doc["b"] == float("inf")
    assert doc["c"] == 123456789012345678901234567890


# -- recipes, config, .dvcignore ---------------------------------------------------------
def test_recipes_yaml_problems_are_recipe_errors_naming_the_file(tmp_path):
    with pytest.raises(RecipeError, match=r"recipes.yaml is not valid YAML at line 4.*'desc'"):
        spec.parse("recipes:\n  r:\n    desc: a\n    desc: b\n")
    (tmp_path / "recipes.yaml").write_bytes(b"recipes:\n  r:\n    desc: \xff\n")
    with pytest.raises(RecipeError, match=r"recipes.yaml is not UTF-8 text \(line 3\)"):
        spec.load(str(tmp_path))
    (tmp_path / "recipes.yaml").write_text(laughs(9))
    with pytest.raises(RecipeError, match="alias bomb"):
        spec.load(str(tmp_path))


def test_config_that_is_not_text_is_a_config_error(tmp_path):
    (tmp_path / "config").write_bytes(b"[core]\n    remote = \xff\n")
    with pytest.raises(ConfigError, match="config line 2 is not UTF-8 text"):
        config.Config(str(tmp_path)).level("repo")
    with pytest.raises(ConfigError, match="line 2 holds a NUL byte"):
        config.parse("[core]\n    remote = a\x00b\n", ".dvc/config.local")


@pytest.mark.parametrize("data,says", [
    (b"*.tmp\nf\xff\n", ".dvcignore line 2 is not UTF-8 text"),
    (b"*.tmp\x00\n", ".dvcignore line 1 holds a NUL byte"),
    (b"ok\n!\n", ".dvcignore: invalid git pattern: '!'"),
])
def test_dvcignore_that_cannot_be_read_is_a_sentence(tmp_path, data, says):
    (tmp_path / ".dvcignore").write_bytes(data)
    (tmp_path / "d").mkdir()
    with pytest.raises(MalformedError) as info:
        ignore.Ignore(str(tmp_path)).matcher(str(tmp_path / "d"))
    assert str(info.value) == says + "."


# -- writes ------------------------------------------------------------------------------
def test_text_that_is_not_unicode_is_never_written(tmp_path):
    path = tmp_path / "dvc.lock"
    path.write_text("old\n")
    with pytest.raises(LodeError, match="line 2 would hold '\\\\udcff'"):
        atomic.write_text_atomic(str(path), "schema: '2.0'\npath: \udcff.csv\n")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["dvc.lock"]


def test_a_temporary_name_says_which_file_it_stands_for(tmp_path):
    final = str(tmp_path / "data.bin")
    assert atomic.final_name(atomic.tmp_name(final)) == final
    assert atomic.final_name(final) == final


@pytest.mark.parametrize("size", [1000, hashing.SMALL + 3 * hashing.BLOCK + 17])
def test_a_full_disk_during_a_copy_is_enospc_naming_the_file(tmp_path, size):
    """/dev/full fails every write with ENOSPC: the large path's writer thread must hand
    back that error, not a secondary one (a BufferError from the mapping it held)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(size))
    with open(src, "rb") as fsrc, open("/dev/full", "wb") as fdst:
        with pytest.raises(OSError) as info:
            hashing.copy_with_md5(fsrc.fileno(), fdst.fileno(), size)
        os.lseek(fsrc.fileno(), 0, os.SEEK_SET)
        with pytest.raises(OSError) as named:
            hashing.copy_with_md5(fsrc.fileno(), fdst.fileno(), size, dst_name="out.bin")
    assert info.value.errno == errno.ENOSPC and info.value.filename == "/dev/full"
    assert named.value.errno == errno.ENOSPC and named.value.filename == "out.bin"


def test_python_params_keep_only_what_dvc_lock_can_record(tmp_path):
    from lode.pipeline import params

    f = tmp_path / "p.py"
    f.write_text("A = {1, 2}\nB = 1j\nC = (1, 2)\nD = {'x': b'y'}\nE = 3\nF = [None, 'x']\n")
    assert params.load(str(f), "p.py") == {"C": [1, 2], "E": 3, "F": [None, "x"]}


@pytest.mark.parametrize("kind", ["device", "fifo", "huge"])
def test_a_params_or_vars_path_that_is_no_small_regular_file_is_refused(tmp_path, kind):
    from lode.pipeline import params

    path = "/dev/zero"
    if kind == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)  # opening it for reading would block without O_NONBLOCK
    elif kind == "huge":
        path = str(tmp_path / "big.yaml")
        with open(path, "wb") as f:
            f.truncate(params.MAX_BYTES + 1)
    with pytest.raises(LodeError) as e:
        params.read_file(path)
    assert "regular file" in e.value.message or "larger than" in e.value.message
