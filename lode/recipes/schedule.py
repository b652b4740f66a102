r"""Scheduled retraining: one entry in the user's crontab per (project, recipe).

The entry starts the detached runner with `--scheduled` from the project root, with the
interpreter lode runs under now (and its directory first on PATH, so stage commands find
the same tools without the login shell's environment cron does not have). Its comment
tags it with the project root and the recipe, so it is found again to replace or remove.

python-crontab validates the expression, but the crontab text is edited line by line: its
parser rewrites lines it reads ("0 0 1 1 *" comes back as "@yearly", runs of spaces
collapse), and the other entries of the crontab must stay exactly as their owners wrote them.

What cron runs is exactly what was meant: every value is shell-quoted, and cron's own
rewriting of the line is made harmless. Cron ends the command at the first `%` not escaped
by a backslash (the rest becomes its stdin), and cron implementations disagree about a
backslash before another backslash (kept as two, or read as one escaped), so no
escaping of a backslash means the same to every cron: a `%` is written `\%`, and a path,
interpreter or recipe name with a backslash, a newline or another control character is
refused. Without other backslashes on the line, each `\%` reads back as exactly `%`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from typing import NamedTuple

from lode.errors import LodeError
from lode.recipes.runs import runs_dir

TAG = "lode-schedule:"


class ScheduleError(LodeError):
    """A cron expression, or a crontab, lode cannot use."""


class Entry(NamedTuple):
    recipe: str
    when: str  # the cron expression
    line: str  # the whole crontab line, as installed


# --------------------------------------------------------------------------- pure parts
def cron_escape(text: str) -> str:
    # cron turns an unescaped % into a newline (the rest becomes the command's stdin)
    return text.replace("%", "\\%")


def check_schedulable(what: str, value: str) -> None:
    """ScheduleError for a value cron cannot carry unchanged (see the module's docstring)."""
    bad = next((c for c in value if c == "\\" or ord(c) < 32 or ord(c) == 127
                or c in "\x85\u2028\u2029"), None)
    if bad is not None:
        shown = "a backslash" if bad == "\\" else f"the control character {bad!r}"
        raise ScheduleError(f"{what} {value!r} holds {shown}, which a crontab line cannot "
                            "carry unchanged; it cannot be scheduled.")


def entry_tag(root: str, recipe: str) -> str:
    return f"{TAG}{root}:{recipe}"


def normalize_when(expr: str) -> str:
    """`expr` with single spaces, or ScheduleError when cron would not accept it."""
    when = " ".join(expr.split())
    fields = when.split(" ")
    ok = bool(when) and (len(fields) == 5 or (len(fields) == 1 and when.startswith("@")))
    if ok:
        from crontab import CronSlices  # python-crontab: only when scheduling

        ok = CronSlices.is_valid(when)
    if not ok:
        raise ScheduleError(
            f"'{expr}' is not a cron expression; give five fields, minute hour day month "
            "weekday (e.g. \"0 3 * * *\": every day at 03:00), or @daily, @hourly, @weekly."
        )
    return when


def cron_command(root: str, python: str, recipe: str, runs_dir: str) -> str:
    """The shell command of the entry (run by cron's /bin/sh, with PATH=/usr/bin:/bin)."""
    q = shlex.quote
    return (
        f"cd {q(root)} && mkdir -p {q(runs_dir)} && "
        f"PATH={q(os.path.dirname(python))}:\"$PATH\" {q(python)} -m lode run --detach "
        f"--scheduled {q(recipe)} >> {q(os.path.join(runs_dir, 'cron.log'))} 2>&1"
    )


def cron_line(when: str, root: str, python: str, recipe: str, runs_dir: str) -> str:
    for what, value in (("the project path", root), ("the recipe name", recipe),
                        ("the interpreter path", python), ("the runs directory", runs_dir)):
        check_schedulable(what, value)
    command = cron_command(root, python, recipe, runs_dir)
    return f"{when} {cron_escape(command)} # {cron_escape(entry_tag(root, recipe))}"


def _is_entry(line: str, root: str, recipe: str) -> bool:
    # a line the user commented out is theirs now: left alone
    return line.endswith(f" # {cron_escape(entry_tag(root, recipe))}") and not (
        line.lstrip().startswith("#"))


def replace_entry(text: str, line: str, root: str, recipe: str) -> str:
    """`text` without the recipe's old entry, with `line` appended; the rest untouched."""
    kept = [x for x in text.splitlines(keepends=True) if not _is_entry(x.rstrip("\n"), root,
                                                                        recipe)]
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    return "".join(kept) + line + "\n"


def remove_entry(text: str, root: str, recipe: str) -> tuple[str, int]:
    """`text` without the recipe's entry, and how many lines went."""
    lines = text.splitlines(keepends=True)
    kept = [x for x in lines if not _is_entry(x.rstrip("\n"), root, recipe)]
    return "".join(kept), len(lines) - len(kept)


def project_entries(text: str, root: str) -> list[Entry]:
    prefix = f" # {cron_escape(TAG + root)}:"
    out = []
    for line in text.splitlines():
        head, sep, recipe = line.rpartition(prefix)
        if not sep or ":" in recipe or head.lstrip().startswith("#"):
            continue
        fields = head.split()
        when = fields[0] if fields[0].startswith("@") else " ".join(fields[:5])
        out.append(Entry(recipe.replace("\\%", "%"), when, line))
    return out


# --------------------------------------------------------------------------- the crontab
def _crontab(*args: str, input: str | None = None) -> subprocess.CompletedProcess:  # noqa: A002
    exe = shutil.which("crontab")
    if exe is None:
        raise ScheduleError("the 'crontab' command is not installed; install cron "
                            "(Debian, Ubuntu: apt-get install cron) and rerun.")
    return subprocess.run([exe, *args], input=input, capture_output=True, text=True,
                          timeout=30)


def read_crontab() -> str:
    proc = _crontab("-l")
    if proc.returncode != 0:
        if "no crontab" in proc.stderr.lower():
            return ""
        raise ScheduleError(f"'crontab -l' failed: {_first_line(proc.stderr)}")
    return proc.stdout


def write_crontab(text: str) -> None:
    proc = _crontab("-", input=text)
    if proc.returncode != 0:
        raise ScheduleError(f"the crontab was not changed: 'crontab -' said: "
                            f"{_first_line(proc.stderr)}")


def _first_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[0] if lines else "(no message)"


# --------------------------------------------------------------------------- operations
def entry_for(repo, recipe: str, expr: str, python: str | None = None) -> str:
    """The crontab line that runs `recipe` of `repo` at `expr`."""
    return cron_line(normalize_when(expr), repo.root, python or sys.executable, recipe,
                     runs_dir(repo))


def install(repo, recipe: str, line: str) -> None:
    """Put `line` in the crontab in place of the recipe's previous entry, if any."""
    write_crontab(replace_entry(read_crontab(), line, repo.root, recipe))


def remove(repo, recipe: str) -> bool:
    """Remove the recipe's entry; False when there was none."""
    text, removed = remove_entry(read_crontab(), repo.root, recipe)
    if removed:
        write_crontab(text)
    return bool(removed)


def list_entries(repo) -> list[Entry]:
    return project_entries(read_crontab(), repo.root)
