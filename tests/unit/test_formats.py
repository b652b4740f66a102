"""The wire formats: manifest bytes, pointer YAML, config INI, .gitignore lines."""

import io
import json

import pytest
from ruamel.yaml import YAML

from lode import config, yamlio
from lode.errors import MalformedError
from lode.store import gitignore, lockfile
from lode.store.hashinfo import HashInfo
from lode.store.manifest import manifest_bytes, manifest_md5, parse_manifest
from lode.store.outputs import Output
from lode.store.pointers import Pointer, load


def test_manifest_matches_json_dumps_and_code_point_order():
    entries = [("a/b", "1" * 32), ("a.b", "2" * 32), ("Z.txt", "3" * 32), ("a-b/c", "4" * 32),
               ("caf\u00e9", "5" * 32), ("raw\udcff", "6" * 32)]
    ref = json.dumps([{"md5": m, "relpath": r} for r, m in sorted(entries)], sort_keys=True)
    data = manifest_bytes(entries)
    assert data == ref.encode()
    assert [r for r, _ in parse_manifest(data)] == ["Z.txt", "a-b/c", "a.b", "a/b", "caf\u00e9",
                                                     "raw\udcff"]
    assert manifest_md5(data).endswith(".dir") and len(manifest_md5(data)) == 36


def test_manifest_of_empty_directory():
    assert manifest_bytes([]) == b"[]"
    assert manifest_md5(b"[]") == "d751713988987e9331980363e24189ce.dir"


def _ruamel(doc):
    y = YAML()
    y.default_flow_style = False
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


@pytest.mark.parametrize("path", ["data", "data dir", "d/f.csv", "yes", "on", "123", "1e3",
                                  "null", "a: b", "#x", "-x", "caf\u00e9.txt", "x ", "True",
                                  "~", "[a]", "a,b", "{x}", "*", "&a", "!b", "%c", "@d", "`e"])
def test_pointer_yaml_is_ruamel_bytes_and_round_trips(path):
    doc = {"outs": [{"md5": "3e2b31c72181b87149ff995e7202c0e3", "size": 10, "isexec": True,
                     "hash": "md5", "path": path}]}
    assert yamlio.dumps(doc) == _ruamel(doc)
    assert yamlio.loads(yamlio.dumps(doc)) == doc


def test_yes_and_on_read_as_strings():
    assert yamlio.loads("path: on\nx: yes\ny: true\n") == {"path": "on", "x": "yes", "y": True}


def test_pointer_key_order(tmp_path):
    p = Pointer(str(tmp_path / "d.dvc"),
                [Output("d", extra={"desc": "raw data"}).with_hash("ab" * 16 + ".dir", 9, 4)],
                {"desc": "top", "meta": {"owner": "me"}})
    text = p.to_text()
    assert text.splitlines()[:7] == ["desc: top", "outs:", "- md5: " + "ab" * 16 + ".dir",
                                     "  size: 9", "  nfiles: 4", "  hash: md5", "  path: d"]
    (tmp_path / "d.dvc").write_text(text)
    again = load(str(tmp_path / "d.dvc"), str(tmp_path))
    assert again.to_text() == text


def test_hash_info_names_a_file_or_a_manifest():
    f, d = HashInfo.parse("ab" * 16, "x"), HashInfo.parse("cd" * 16 + ".dir", "x")
    assert (f.md5, f.is_dir, f.value) == ("ab" * 16, False, "ab" * 16)
    assert (d.md5, d.is_dir, str(d)) == ("cd" * 16, True, "cd" * 16 + ".dir")
    assert d == HashInfo.of_manifest("cd" * 16) and len({d, HashInfo.of_manifest("cd" * 16)}) == 1
    with pytest.raises(AttributeError):
        d.value = "x"  # type: ignore[misc]
    for bad in ["../../etc/passwd", "AB" * 16, "ab" * 16 + ".dir", None]:
        with pytest.raises(MalformedError):
            HashInfo.parse(bad, "x", allow_dir=bad != "ab" * 16 + ".dir")


def test_one_output_record_for_pointers_and_lock_files():
    d = {"md5": "ab" * 16, "size": 3, "isexec": True, "hash": "md5", "path": "f",
         "desc": "kept"}
    out = Output.from_dict(d, "f.dvc")
    assert out.to_pointer_dict() == d and list(out.to_pointer_dict()) == list(d)
    assert list(out.to_lock_dict().items()) == [("path", "f"), ("hash", "md5"),
                                                ("md5", "ab" * 16), ("size", 3),
                                                ("isexec", True)]
    assert lockfile.item("f", "ab" * 16, 3, None, True) == out.to_lock_dict()
    assert Output.from_dict(out.to_lock_dict(), "dvc.lock").hash_info == HashInfo("ab" * 16)


def test_legacy_entry_keeps_no_hash_key(tmp_path):
    f = tmp_path / "x.dvc"
    f.write_text("outs:\n- md5: " + "c" * 32 + "\n  path: x\n")
    p = load(str(f), str(tmp_path))
    assert p.outs[0].hash_name == "md5-dos2unix"
    assert p.to_text() == f.read_text()


@pytest.mark.parametrize("text", ["outs: []\n", "outs:\n- md5: x\n", "foo: [\n", "- a\n", ""])
def test_malformed_pointer_is_one_clear_error(tmp_path, text):
    from lode.errors import LodeError

    f = tmp_path / "bad.dvc"
    f.write_text(text)
    with pytest.raises(LodeError) as e:
        load(str(f), str(tmp_path))
    assert "bad.dvc" in str(e.value)


def test_config_round_trip_in_configobj_dialect():
    text = "[core]\n    remote = loc\n['remote \"loc\"']\n    url = /tmp/x\n"
    sections = config.parse(text, "config")
    assert sections == {"core": {"remote": "loc"}, 'remote "loc"': {"url": "/tmp/x"}}
    assert config.render(sections) == text
    assert config.split_name("remote.loc.url") == ('remote "loc"', "url")
    with pytest.raises(config.ConfigError):
        config.split_name("nosection")


def test_gitignore_entries_escape_pattern_characters():
    assert gitignore.entry_for("data") == "/data"
    assert gitignore.entry_for("a*b") == "/a\\*b"
    assert gitignore.entry_for("#x") == "/\\#x"
    assert gitignore.entry_for("!x") == "/\\!x"


def test_gitignore_upkeep_is_idempotent(tmp_path):
    (tmp_path / ".gitignore").write_text("*.pyc")
    assert gitignore.ensure_ignored(str(tmp_path / "data"))
    assert not gitignore.ensure_ignored(str(tmp_path / "data"))
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n/data\n"


@pytest.mark.parametrize("text", [
    "outs:\n- md5: 3e2b31c72181b87149ff995e7202c0e3\n  size: 10\n  isexec: true\n  hash: md5\n"
    "  path: tool.sh\n",
    "outs:\n- md5: 4499f05b2302e11b5dd432e281e01581.dir\n  size: 9\n  nfiles: 4\n  hash: md5\n"
    "  path: data dir\n",
    "outs:\n- md5: '12345678901234567890123456789012'\n  size: 1\n  hash: md5\n  path: x\n",
    "outs:\n- md5: 12345678901234567890123456789012\n  size: 1\n  hash: md5\n  path: x\n",
    "outs:\n- md5: 1234567890123456789012345678e901\n  size: 1\n  hash: md5\n  path: x\n",
    "outs:\n- md5: 3e2b31c72181b87149ff995e7202c0e3\n  size: 1\n  hash: md5\n  path: 'yes'\n",
    "outs:\n- md5: 3e2b31c72181b87149ff995e7202c0e3\n  path: a # comment\n",
    "outs:\n- md5: 3e2b31c72181b87149ff995e7202c0e3\n  size: 1\n  path: x\n  cache: false\n",
    "desc: d\nouts:\n- path: x\n",
])
def test_fast_pointer_reader_agrees_with_yaml(text):
    from lode.store.pointers import _fast_parse

    fast = _fast_parse(text)
    assert fast is None or fast == yamlio.loads(text)
