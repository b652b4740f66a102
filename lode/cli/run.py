"""run, runs, logs, stop, schedule: recipes in the foreground, detached, and from cron."""

from __future__ import annotations

import argparse

from lode.repo import Repo


def configure(subs: dict) -> None:
    p = subs["run"]
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="the recipe to run "
                   "(without one: list the recipes)")
    p.add_argument("doit_args", nargs="*", metavar="-- DOIT_OPTION",
                   help="after '--': options passed to doit (e.g. -- -n 2)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background, in "
                   "its own session: survives the terminal closing; prints the run id")
    # internal: the detached child and cron entries pass these
    p.add_argument("--run-id", help=argparse.SUPPRESS)
    p.add_argument("--scheduled", action="store_true", help=argparse.SUPPRESS)

    p = subs["runs"]
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-n", "--limit", type=int, metavar="N", help="only the N newest runs")

    p = subs["logs"]
    p.add_argument("run", nargs="?", metavar="RUN", help="run id (default: the newest run)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the run "
                   "ends")

    p = subs["stop"]
    p.add_argument("run", metavar="RUN", help="run id")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds "
                   "between TERM and KILL (default 10)")

    p = subs["schedule"]
    p.add_argument("recipe", nargs="?", metavar="RECIPE")
    p.add_argument("--cron", metavar="EXPR", help='when, in crontab syntax, e.g. "0 3 * * *"')
    p.add_argument("--remove", action="store_true", help="remove the recipe's entry")
    p.add_argument("--print", action="store_true", help="show the entry, install nothing")
    p.add_argument("--list", action="store_true", help="this project's scheduled recipes")


def run_run(args) -> int:
    from lode.recipes.execute import list_recipes, run_recipe

    repo = Repo.find()
    if not args.recipe:
        for name, desc in list_recipes(repo):
            print(f"{name:<20} {desc}")
        return 0
    # TODO(runner): --detach, --run-id records, --scheduled
    return run_recipe(repo, args.recipe, args.doit_args)


def run_runs(args) -> int:
    raise NotImplementedError


def run_logs(args) -> int:
    raise NotImplementedError


def run_stop(args) -> int:
    raise NotImplementedError


def run_schedule(args) -> int:
    raise NotImplementedError
