"""Run records: what `lode runs` shows. One directory `.dvc/tmp/lode/runs/<id>/` per run,
holding `run.json` (written atomically, read-modify-written under a small file lock so the
starter, the run and `lode stop` never lose each other's fields) and `log`.

A record that says running is believed only while its pid still names the same process
(the start time in /proc/<pid>/stat guards against pid reuse); otherwise it shows as dead.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from lode.atomic import write_text_atomic
from lode.flock import try_flock
from lode.recipes import RecipeError

STATES = ("running", "succeeded", "failed", "stopped", "dead", "skipped")

# --------------------------------------------------------------------------- pure parts
class ProcFacts(NamedTuple):
    state: str  # R, S, D, Z (zombie), ...
    ppid: int
    pgrp: int
    start: int  # clock ticks after boot: with the pid, names one process for good


def safe_name(recipe: str) -> str:
    """`recipe` as a file-name part (recipe names are keys of a YAML file: anything goes)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", recipe) or "_"


def make_run_id(recipe: str, when: datetime, token: str) -> str:
    """`compute_metrics-20261124-101500-3f2a`: readable, and sortable within a recipe."""
    return f"{safe_name(recipe)}-{when:%Y%m%d-%H%M%S}-{token}"


def parse_proc_stat(text: str) -> ProcFacts:
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = text[text.rindex(")") + 2 :].split()
    return ProcFacts(rest[0], int(rest[1]), int(rest[2]), int(rest[19]))


def effective_state(record: dict, facts: ProcFacts | None, host: str, boot: str | None) -> str:
    """The state to show: a running record whose process is gone, a zombie, or another
    process under the same pid (other start time), is dead. A run on another host cannot
    be checked from here and keeps what its record says."""
    state = record.get("state") or "dead"
    if state != "running":
        return state
    if record.get("host") not in (None, host):
        return "running"
    if record.get("boot_id") and boot and record["boot_id"] != boot:
        return "dead"
    if facts is None or facts.state in ("Z", "X"):
        return "dead"
    if record.get("proc_start") is not None and facts.start != record["proc_start"]:
        return "dead"
    return "running"


def duration_seconds(record: dict, state: str, now: datetime) -> float | None:
    """Seconds from start to end (to now while running); None when unknown (dead)."""
    try:
        started = datetime.fromisoformat(record["started"])
        if record.get("ended"):
            return max(0.0, (datetime.fromisoformat(record["ended"]) - started).total_seconds())
    except (KeyError, TypeError, ValueError):
        return None
    if state == "running":
        return max(0.0, (now - started).total_seconds())
    return None


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- the system
def proc_facts(pid: int | None) -> ProcFacts | None:
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            return parse_proc_stat(f.read())
    except (OSError, ValueError, IndexError):
        return None


def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def all_procs() -> dict[int, ProcFacts]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            facts = proc_facts(int(name))
            if facts is not None and facts.state not in ("Z", "X"):
                out[int(name)] = facts
    return out


def alive(pid: int, start: int | None) -> bool:
    facts = proc_facts(pid)
    return facts is not None and facts.state not in ("Z", "X") and (
        start is None or facts.start == start
    )


# --------------------------------------------------------------------------- records
def runs_dir(repo) -> str:
    return os.path.join(repo.state_dir, "runs")


def _record_path(run_dir: str) -> str:
    return os.path.join(run_dir, "run.json")


def read_record(run_dir: str) -> dict | None:
    try:
        with open(_record_path(run_dir), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def update_record(run_dir: str, change: Callable[[dict], None]) -> dict:
    """Read, change and atomically rewrite run.json, one writer at a time."""
    fd = os.open(os.path.join(run_dir, ".record.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        # Held only around one read and one write; should a holder hang (stopped with
        # SIGSTOP), writing without it after a while beats waiting forever.
        try_flock(fd, wait=5, delay=0.02, max_delay=0.02)
        record = read_record(run_dir) or {}
        change(record)
        write_text_atomic(_record_path(run_dir), json.dumps(record, indent=2) + "\n")
        return record
    finally:
        os.close(fd)


def with_state(record: dict, host: str | None = None, boot: str | None = None) -> dict:
    """A copy of `record` with the state computed from the process table, and its duration."""
    host = host or socket.gethostname()
    out = dict(record)
    out["state"] = effective_state(record, proc_facts(record.get("pid")), host, boot or boot_id())
    out["duration"] = duration_seconds(record, out["state"], datetime.now().astimezone())
    return out


def list_runs(repo) -> list[dict]:
    """Every run's record (state computed), newest first."""
    root = runs_dir(repo)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    host, boot = socket.gethostname(), boot_id()
    records = []
    for name in names:
        rec = read_record(os.path.join(root, name))
        if rec is not None:
            rec.setdefault("id", name)
            records.append(with_state(rec, host, boot))
    records.sort(key=lambda r: (_started_key(r), r["id"]), reverse=True)
    return records


def _started_key(record: dict) -> float:
    try:
        return datetime.fromisoformat(record["started"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return 0.0


def find_run(repo, ref: str | None) -> dict:
    """The run `ref` names: a run id, or a recipe (its newest run); none: the newest run."""
    runs = list_runs(repo)
    if not runs:
        raise RecipeError("there are no recipe runs yet; start one with 'lode run RECIPE'.")
    if ref is None:
        return runs[0]
    for rec in runs:
        if rec["id"] == ref:
            return rec
    for rec in runs:
        if rec.get("recipe") == ref:
            return rec
    raise RecipeError(f"there is no run '{ref}'; 'lode runs' lists them.")


def run_dir_of(repo, run_id: str) -> str:
    return os.path.join(runs_dir(repo), run_id)


def new_run_dir(repo, recipe: str) -> tuple[str, str]:
    os.makedirs(runs_dir(repo), exist_ok=True)
    while True:
        run_id = make_run_id(recipe, datetime.now(), os.urandom(2).hex())
        path = run_dir_of(repo, run_id)
        try:
            os.mkdir(path)
            return run_id, path
        except FileExistsError:  # same second, same token: draw again
            continue


def base_record(run_id: str, recipe: str, argv: list[str], pid: int, repo, *,
                 detached: bool, scheduled: bool) -> dict:
    facts = proc_facts(pid)
    return {
        "id": run_id, "recipe": recipe, "argv": argv, "pid": pid,
        "proc_start": facts.start if facts else None, "boot_id": boot_id(),
        "pgid": os.getpgid(pid) if facts else None, "host": socket.gethostname(),
        "cwd": repo.root, "state": "running", "started": now_iso(), "ended": None,
        "exit_code": None, "detached": detached, "scheduled": scheduled,
    }
