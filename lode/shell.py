"""Shell commands as a Makefile runs them: a stage's `cmd`, a recipe's shell step.

One place decides which shell (the user's $SHELL, else /bin/sh, as DVC runs stage
commands), how a command's output reaches its reader, and how an exit is described.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

Output = Callable[[bytes], None]  # receives each line of a command's merged stdout/stderr


def user_shell() -> str:
    return os.environ.get("SHELL") or "/bin/sh"


def run(cmd: str, cwd: str, output: Output | None = None) -> int:
    """Run `cmd` in the user's shell in `cwd`; its exit code (negative: the signal).

    Without `output` the command has this process's terminal (progress bars, prompts,
    Ctrl-C); with it, stdout and stderr are merged, each line goes to `output`, and stdin
    is closed (a worker has no one to answer)."""
    sys.stdout.flush()  # what we printed comes before what the command prints
    if output is None:
        return subprocess.run(cmd, shell=True, cwd=cwd, executable=user_shell()).returncode
    proc = subprocess.Popen(cmd, shell=True, cwd=cwd, executable=user_shell(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            output(raw)
    return proc.wait()


def describe_exit(code: int) -> str:
    """'exited with 3' or 'killed by signal 9'."""
    return f"killed by signal {-code}" if code < 0 else f"exited with {code}"
