"""The CLI edge: one sentence per error, tracebacks only with -v, exit codes."""

import errno

from lode.cli import _render, build_parser
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


def test_verbose_and_quiet_work_before_and_after_the_command():
    p = build_parser()
    assert p.parse_args(["-v", "status"]).verbose == 1
    assert p.parse_args(["status", "-v"]).verbose == 1
    assert p.parse_args(["-q", "add", "x"]).quiet is True
    assert p.parse_args(["cache", "verify", "-q"]).quiet is True
