"""The CLI edge: one sentence per error, tracebacks only with -v, exit codes."""

import errno
import subprocess
import sys

from lode.cli import COMMANDS, _render, build_parser, command_of
from lode.errors import LockedError


def test_errors_render_as_one_line(capsys):
    assert _render(LockedError("the repository is locked by process 7.", "Wait."), 0) == 1
    assert capsys.readouterr().err == "ERROR: the repository is locked by process 7. Wait.\n"
    assert _render(OSError(errno.ENOSPC, "No space left", "/x/y"), 0) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: no space left on the device '/x/y'") and "Traceback" not in err
    assert _render(OSError(errno.EACCES, "Permission denied", "/p"), 0) == 1
    assert "permission denied '/p'" in capsys.readouterr().err


def test_unexpected_errors_name_minus_v_and_show_traceback_only_with_it(capsys):
    try:
        raise ValueError("boom")
    except ValueError as e:
        assert _render(e, 0) == 255
        assert "rerun with -v" in capsys.readouterr().err.lower()
        assert _render(e, 1) == 255
        assert "Traceback" in capsys.readouterr().err


def parse(argv: list[str]):
    return build_parser(command_of(argv)).parse_args(argv)


def test_verbose_and_quiet_work_before_and_after_the_command():
    assert parse(["-v", "status"]).verbose == 1
    assert parse(["status", "-v"]).verbose == 1
    assert parse(["-q", "add", "x"]).quiet is True
    assert parse(["cache", "verify", "-q"]).quiet is True


def test_the_command_is_the_first_word_that_is_not_a_top_level_flag():
    assert command_of(["-v", "-q", "status", "-c"]) == "status"
    assert command_of(["--version"]) is None
    assert command_of(["frobnicate"]) is None
    assert command_of(["--", "status"]) is None


def test_a_command_line_imports_the_module_of_its_command_only():
    code = ("import sys; from lode.cli import build_parser; build_parser('status'); "
            "print(' '.join(m for m in sys.modules if m.startswith(('lode', 'doit'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert "lode.cli.status" in loaded
    assert not [m for m in loaded if m.startswith((
        "lode.cli.run", "lode.cli.plots", "lode.cli.add", "lode.ops.gc", "lode.ops.add",
        "lode.recipes", "lode.ops.reports", "lode_plugins", "doit"))]


def test_every_command_configures_from_its_own_module():
    """Each command's parser builds (its module imports, its configure runs) and --help
    of every command parses."""
    for name in COMMANDS:
        parser = build_parser(name)
        try:
            parser.parse_args([name, "--help"])
        except SystemExit as e:
            assert e.code == 0, name
