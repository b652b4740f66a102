"""run, runs, logs, stop, schedule: recipes in the foreground, detached, and from cron."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from lode.errors import UsageError
from lode.recipes import runner, schedule
from lode.recipes.execute import check_doit_args, find, list_recipes
from lode.recipes.runner import Skipped, log_chunks, stop_run
from lode.recipes.runs import duration_seconds, find_run, list_runs
from lode.recipes.schedule import ScheduleError
from lode.repo import Repo
from lode.timefmt import format_duration


def configure_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="the recipe to run "
                   "(without one: list the recipes)")
    p.add_argument("doit_args", nargs="*", metavar="-- DOIT_OPTION",
                   help="after '--': options passed to doit (e.g. -- -n 2)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background, in "
                   "its own session: survives the terminal closing; prints the run id")
    # internal: the detached child and cron entries pass these
    p.add_argument("--run-id", help=argparse.SUPPRESS)
    p.add_argument("--scheduled", action="store_true", help=argparse.SUPPRESS)


def configure_runs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-n", "--limit", type=int, metavar="N", help="only the N newest runs")


def configure_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", metavar="RUN", help="run id (default: the newest run)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the run "
                   "ends")


def configure_stop(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds "
                   "between TERM and KILL (default 10)")


def configure_schedule(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", metavar="RECIPE")
    p.add_argument("--cron", metavar="EXPR", help='when, in crontab syntax, e.g. "0 3 * * *"')
    p.add_argument("--remove", action="store_true", help="remove the recipe's entry")
    p.add_argument("--print", action="store_true", help="show the entry, install nothing")
    p.add_argument("--list", action="store_true", help="this project's scheduled recipes")


def run_run(args) -> int:
    repo = Repo.find()
    if not args.recipe:
        found = list_recipes(repo)
        for name, desc in found:
            print(f"{name:<20} {desc}")
        if not found and not args.quiet:
            print("no recipes yet: declare them in recipes.yaml (see 'lode templates' for a "
                  "project that has some)", file=sys.stderr)
        return 0
    if args.run_id:  # the detached child: stdout and stderr are the run's log
        if args.detach:
            raise UsageError("--run-id is lode's own, for the detached run; drop it.")
        outcome = runner.run_attached(repo, args.recipe, args.doit_args, run_id=args.run_id,
                                      scheduled=args.scheduled, on_start=_header)
        return _ended(outcome, sys.stdout, args.quiet)
    find(repo, args.recipe)  # an unknown recipe: one sentence, and no run record
    check_doit_args(args.recipe, args.doit_args)  # nor for options doit would misread
    if args.detach:
        outcome = runner.start_detached(repo, args.recipe, args.doit_args, args.scheduled)
        if isinstance(outcome, runner.Skipped):
            return _ended(outcome, sys.stdout, args.quiet)
        run_id = outcome["id"]
        print(run_id)
        if not args.quiet:
            print(f"started recipe '{args.recipe}' in the background (pid {outcome['pid']}); "
                  f"follow it: lode logs {run_id} -f; stop it: lode stop {run_id}",
                  file=sys.stderr)
        return 0
    # In the foreground the output stays on the terminal, not teed into the log: stage
    # commands keep a real terminal (progress bars, colours, prompts, Ctrl-C), and stdout
    # and stderr keep their order; --detach is the way to keep a log.
    outcome = runner.run_attached(repo, args.recipe, args.doit_args,
                                  scheduled=args.scheduled)
    return _ended(outcome, sys.stderr, args.quiet)


def _header(record: dict) -> None:
    print(f"== lode run {record['id']}: recipe '{record['recipe']}', pid {record['pid']} on "
          f"{record['host']}, started {record['started']}", flush=True)


def _ended(outcome, out, quiet: bool) -> int:
    if isinstance(outcome, Skipped):
        print(f"skipped: {outcome.reason}; recorded as {outcome.record['id']}.", file=out)
        return 0
    code = outcome.get("exit_code")
    if not quiet:
        secs = _seconds(outcome)
        print(f"== run {outcome['id']} {outcome['state']} (exit {code}) after "
              f"{format_duration(secs)}", file=out, flush=True)
    return code if isinstance(code, int) else 1


def _seconds(record: dict) -> float | None:
    return duration_seconds(record, record.get("state", ""), datetime.now().astimezone())


# --------------------------------------------------------------------------- rendering
def format_start(iso: str | None) -> str:
    """The start in local time, to the second: '2026-11-24 10:15:00'."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return "-"


def render_runs(records: list[dict]) -> str:
    """The table of `lode runs`: one line per run, in the order given."""
    header = ("ID", "RECIPE", "STATE", "STARTED", "DURATION", "EXIT")
    rows = [header] + [
        (r.get("id", "?"), str(r.get("recipe", "?")), r.get("state", "?"),
         format_start(r.get("started")), format_duration(r.get("duration")),
         "-" if r.get("exit_code") is None else str(r["exit_code"]))
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


# --------------------------------------------------------------------------- commands
def run_runs(args) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"-n takes a positive number of runs, not {args.limit}.")
    records = list_runs(Repo.find())[: args.limit]
    if args.json:
        print(json.dumps(records, indent=2))
    elif records:
        print(render_runs(records))
    elif not args.quiet:
        print("no recipe runs yet; start one with 'lode run RECIPE'.", file=sys.stderr)
    return 0


def run_logs(args) -> int:
    repo = Repo.find()
    record = find_run(repo, args.run)
    out = sys.stdout.buffer
    for chunk in log_chunks(repo, record, args.follow):
        out.write(chunk)
        out.flush()
    return 0


def run_stop(args) -> int:
    if args.timeout < 0:
        raise UsageError(f"--timeout takes seconds (0 or more), not {args.timeout}.")
    record, stopped = stop_run(Repo.find(), args.run, args.timeout)
    # Not running is not an error: what the caller wants (the run not running) holds, so
    # scripts can stop unconditionally. A run id that does not exist is an error.
    if not stopped:
        print(f"run {record['id']} is not running ({record['state']}); nothing to stop.",
              file=sys.stderr)
    elif not args.quiet:
        print(f"stopped run {record['id']} ({record['state']}, exit {record['exit_code']}).")
    return 0


def run_schedule(args) -> int:
    repo = Repo.find()
    if args.list:
        entries = schedule.list_entries(repo)
        for e in entries:
            print(f"{e.recipe:<20} {e.when}")
        if not entries and not args.quiet:
            print("no recipe of this project is scheduled.", file=sys.stderr)
        return 0
    if not args.recipe:
        raise UsageError("name the recipe to schedule (or use --list).")
    if args.remove:
        if args.cron or args.print:
            raise UsageError("--remove takes no --cron or --print.")
        if not schedule.remove(repo, args.recipe):
            raise ScheduleError(f"recipe '{args.recipe}' of this project is not scheduled; "
                                "'lode schedule --list' shows what is.")
        if not args.quiet:
            print(f"removed the crontab entry of recipe '{args.recipe}'.")
        return 0
    if not args.cron:
        raise UsageError('say when with --cron, e.g. --cron "0 3 * * *" (every day at '
                            "03:00), or --remove, or --list.")
    when = schedule.normalize_when(args.cron)
    line = schedule.entry_for(repo, args.recipe, when)
    find(repo, args.recipe)
    if args.print:
        print(line)
        return 0
    schedule.install(repo, args.recipe, line)
    if not args.quiet:
        print(f"scheduled recipe '{args.recipe}' at '{when}' in the "
              f"crontab:\n{line}")
    return 0
