"""The detached runner: one run per recipe, runs in the foreground or in their own
session, and stopping them (records: lode.recipes.runs).

"One run per recipe" is an OS lock (flock) on `runs/<recipe>.lock` held for the run's
whole life: the kernel drops it when the process dies, so a killed run never blocks the
next one. A detached starter takes the lock itself (so two starters cannot both pass the
check), hands the very same open file to the child and exits; the lock is never free in
between.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

from lode.flock import try_flock
from lode.recipes import RecipeError
from lode.recipes.execute import notify_skipped, run_recipe
from lode.recipes.runs import (
    alive,
    all_procs,
    base_record,
    boot_id,
    find_run,
    new_run_dir,
    now_iso,
    read_record,
    run_dir_of,
    runs_dir,
    safe_name,
    update_record,
    with_state,
)

LOCK_FD_ENV = "LODE_RUN_LOCK_FD"  # the detached child finds its inherited lock here
STOPPED_EXIT = 128 + signal.SIGTERM


# --------------------------------------------------------------------------- the lock
class RecipeLock:
    """flock on `runs/<recipe>.lock`; the file notes the holder's run id and pid."""

    def __init__(self, repo, recipe: str) -> None:
        self.path = os.path.join(runs_dir(repo), f"{safe_name(recipe)}.lock")
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Not inheritable (os.open's default, kept explicit): a stage command that
        # outlived a killed run must not keep the recipe locked.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if not try_flock(fd):
            os.close(fd)
            return False
        self.fd = fd
        return True

    def adopt(self, fd: int) -> bool:
        """Take over the lock a detached starter passed down as `fd`, if it is ours."""
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            if not same or not try_flock(fd):  # ours already: a no-op
                return False
        except OSError:
            return False
        os.set_inheritable(fd, False)
        self.fd = fd
        return True

    def note(self, run_id: str, pid: int) -> None:
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{run_id} {pid}\n".encode(), 0)

    def holder(self) -> tuple[str | None, int | None]:
        try:
            with open(self.path, encoding="utf-8") as f:
                parts = f.read().split()
            return parts[0], int(parts[1])
        except (OSError, IndexError, ValueError):
            return None, None

    def release(self) -> None:
        # Only close: the note stays for whoever else holds this open file (the child).
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Skipped(NamedTuple):
    record: dict  # the 'skipped' record
    reason: str


def _busy(repo, recipe: str, lock: RecipeLock, scheduled: bool) -> Skipped:
    run_id, pid = lock.holder()
    who = f" as {run_id} (pid {pid})" if run_id else ""
    if not scheduled:
        stop = f"'lode stop {run_id}'" if run_id else "'lode stop RUN'"
        raise RecipeError(f"recipe '{recipe}' is already running{who}; {stop} or wait.")
    reason = f"recipe '{recipe}' was still running{who} when its scheduled run was due"
    skip_id, path = new_run_dir(repo, recipe)
    with open(os.path.join(path, "log"), "w", encoding="utf-8") as f:
        f.write(f"skipped: {reason}.\n")
    now = now_iso()
    record = {
        "id": skip_id, "recipe": recipe, "argv": sys.argv, "pid": None, "proc_start": None,
        "boot_id": boot_id(), "pgid": None, "host": socket.gethostname(), "cwd": repo.root,
        "state": "skipped", "started": now, "ended": now, "exit_code": None,
        "detached": True, "scheduled": True, "reason": reason, "running_run": run_id,
    }
    update_record(path, lambda r: r.update(record))
    notify_skipped(repo, recipe, reason, skip_id)
    return Skipped(record, reason)


# --------------------------------------------------------------------------- starting
def start_detached(repo, recipe: str, doit_args: list[str], scheduled: bool = False
                   ) -> dict | Skipped:
    """Start `recipe` in its own session and return its record at once (or Skipped)."""
    lock = RecipeLock(repo, recipe)
    if not lock.try_acquire():
        return _busy(repo, recipe, lock, scheduled)
    try:
        run_id, path = new_run_dir(repo, recipe)
        lock.note(run_id, os.getpid())
        argv = [sys.executable, "-m", "lode", "run", "--run-id", run_id, recipe, "--",
                *doit_args]
        log_fd = os.open(os.path.join(path, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                         0o644)
        try:
            # Own session: no controlling terminal, so a closing terminal's SIGHUP and the
            # shell's job control never reach the run (what nohup and & approximate).
            proc = subprocess.Popen(
                argv, cwd=repo.root, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
                start_new_session=True, pass_fds=(lock.fd,),
                env={**os.environ, LOCK_FD_ENV: str(lock.fd)},
            )
        except BaseException:
            os.close(log_fd)
            update_record(path, lambda r: r.update(id=run_id, recipe=recipe, state="failed",
                                                   started=now_iso(), ended=now_iso()))
            raise
        os.close(log_fd)
        lock.note(run_id, proc.pid)
        base = base_record(run_id, recipe, argv, proc.pid, repo, detached=True,
                           scheduled=scheduled)
        # setdefault: a child quick enough to have finished already keeps its final state.
        return update_record(path, lambda r: [r.setdefault(k, v) for k, v in base.items()])
    finally:
        lock.release()  # the child holds the same open file, hence the lock


def run_attached(repo, recipe: str, doit_args: list[str], *, run_id: str | None = None,
                 scheduled: bool = False, on_start: Callable[[dict], None] | None = None
                 ) -> dict | Skipped:
    """Run `recipe` in this process (foreground, or as the detached child `run_id`) and
    return its final record. `on_start` sees the record before the recipe starts."""
    lock = RecipeLock(repo, recipe)
    inherited = os.environ.pop(LOCK_FD_ENV, None)
    if not ((inherited and run_id and lock.adopt(int(inherited))) or lock.try_acquire()):
        return _busy(repo, recipe, lock, scheduled)
    try:
        if run_id is None:
            run_id, path = new_run_dir(repo, recipe)
            with open(os.path.join(path, "log"), "w", encoding="utf-8") as f:
                f.write("(a foreground run: its output went to the terminal; "
                        "'lode run --detach' keeps a log)\n")
        else:
            path = run_dir_of(repo, run_id)
            os.makedirs(path, exist_ok=True)
        lock.note(run_id, os.getpid())
        argv = [sys.executable, "-m", "lode", *sys.argv[1:]]
        base = base_record(run_id, recipe, argv, os.getpid(), repo,
                           detached=bool(inherited), scheduled=scheduled)
        mine = {k: base[k] for k in ("pid", "proc_start", "boot_id", "pgid", "host")}
        record = update_record(path, lambda r: ([r.setdefault(k, v) for k, v in base.items()],
                                                r.update(mine)))
        if on_start:
            on_start(record)
        return _execute(repo, path, run_id, recipe, doit_args)
    finally:
        lock.release()


class _StopSignal:
    """SIGTERM (from `lode stop`) becomes KeyboardInterrupt, so the run's cleanup paths
    (the same as Ctrl-C's) run; once the run is winding down it only takes note."""

    def __init__(self) -> None:
        self.terminated = False
        self.armed = True
        self.previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:
        self.terminated = True
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self.previous)


def _execute(repo, path: str, run_id: str, recipe: str, doit_args: list[str]) -> dict:
    stop = _StopSignal()
    state, code = "failed", 1
    try:
        code = run_recipe(repo, recipe, doit_args, run_id=run_id)
        state = "succeeded" if code == 0 else "failed"
    except KeyboardInterrupt:
        state, code = "stopped", 130
        if not stop.terminated:
            raise  # Ctrl-C: recorded below, then reported by the CLI as an interruption
    except BaseException as e:
        code = getattr(e, "exit_code", 1)
        raise
    finally:
        stop.armed = False
        if stop.terminated:
            state, code = "stopped", STOPPED_EXIT
        final = {"state": state, "exit_code": code, "ended": now_iso()}
        record = update_record(path, lambda r: r.update(final))
        stop.restore()
    return record


# --------------------------------------------------------------------------- stopping
def _targets(pid: int, pgid: int | None) -> tuple[Callable[[], list[int]], Callable[[int], None]]:
    """Who to signal, and how: the whole process group when the run leads one (always for
    a detached run; a foreground run from an interactive shell too); otherwise the run and
    its descendants (a foreground run inside someone else's group, e.g. a pipe)."""
    if pgid == pid:
        return (lambda: [p for p, f in all_procs().items() if f.pgrp == pgid],
                lambda sig: os.killpg(pgid, sig))
    procs = all_procs()
    family, todo = {pid: procs[pid].start} if pid in procs else {}, [pid]
    while todo:
        parent = todo.pop()
        for p, f in procs.items():
            if f.ppid == parent and p not in family:
                family[p] = f.start
                todo.append(p)

    def signal_all(sig: int) -> None:
        for p, start in family.items():
            if alive(p, start):
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass

    return (lambda: [p for p, s in family.items() if alive(p, s)]), signal_all


def _wait_gone(alive: Callable[[], list[int]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_run(repo, ref: str, timeout: float) -> tuple[dict, bool]:
    """TERM the run's processes, KILL what is left after `timeout` s; record it stopped.
    Returns the record and whether there was anything to stop."""
    record = find_run(repo, ref)
    if record["state"] != "running":
        return record, False
    if record.get("host") not in (None, socket.gethostname()):
        raise RecipeError(f"run {record['id']} runs on {record['host']}; stop it there.")
    alive, send = _targets(record["pid"], record.get("pgid"))
    try:
        send(signal.SIGTERM)
        if not _wait_gone(alive, max(0.0, timeout)):
            send(signal.SIGKILL)
            _wait_gone(alive, 5.0)
    except ProcessLookupError:
        pass  # gone between the check and the signal
    path = run_dir_of(repo, record["id"])

    def mark(r: dict) -> None:
        if r.get("state") == "running":  # the run did not get to record its end itself
            r.update(state="stopped", ended=now_iso())

    update_record(path, mark)
    return with_state(read_record(path) or record), True


# --------------------------------------------------------------------------- logs
def log_chunks(repo, record: dict, follow: bool, poll: float = 0.2) -> Iterator[bytes]:
    """The run's log; with `follow`, more as it grows, until the run is no longer running."""
    path = run_dir_of(repo, record["id"])
    try:
        f = open(os.path.join(path, "log"), "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with f:
        while True:
            data = f.read(1 << 16)
            if data:
                yield data
                continue
            if not follow:
                return
            if with_state(read_record(path) or record)["state"] != "running":
                yield from iter(lambda: f.read(1 << 16), b"")  # what came before its end
                return
            time.sleep(poll)
