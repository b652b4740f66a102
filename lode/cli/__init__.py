"""The `lode` command: parse, call an operation, print its result, render errors once.

Command modules are imported only when their command runs (start-up is measured), so
this file holds the whole argument table and nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from lode import __version__

# name -> (module under lode.cli, function, help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("init", "run_init", "Initialise lode (DVC-compatible) in this Git repository."),
    "add": ("data", "run_add", "Track files or directories: cache them and write .dvc pointers."),
    "commit": ("data", "run_commit", "Record changes to tracked outputs in their pointers."),
    "checkout": ("data", "run_checkout", "Restore tracked outputs from the cache."),
    "status": ("data", "run_status", "Show tracked outputs that changed."),
    "unprotect": ("data", "run_unprotect", "Make linked, read-only outputs editable."),
    "repro": ("pipeline", "run_repro", "Run the pipeline stages whose inputs changed."),
    "stage": ("stage", "run_stage", "Run one stage on a worker at a pinned commit (the remote "
              "stage protocol), or merge workers' results into dvc.lock."),
    "export": ("export", "run_export", "Export the pipeline to another engine: an Argo "
               "Workflows Workflow or CronWorkflow."),
    "dag": ("dag", "run_dag", "Show the pipeline's stages and their order."),
    "metrics": ("reports", "run_metrics", "Show metrics, or compare them between revisions."),
    "params": ("reports", "run_params", "Compare parameters between revisions."),
    "plots": ("plots", "run_plots", "Draw the pipeline's plots, or compare them between "
              "revisions, as one self-contained HTML file."),
    "compare": ("compare", "run_compare", "Compare params, metrics and data hashes across "
                "commits, branches and tags."),
    "report": ("report", "run_report", "Write one self-contained HTML report comparing "
               "revisions: table, metric deltas, plots."),
    "remote": ("remote", "run_remote", "Add, change, list or remove data remotes."),
    "push": ("remote", "run_push", "Upload the data the workspace references to a remote."),
    "pull": ("remote", "run_pull", "Download the data the workspace references, and check it out."),
    "fetch": ("remote", "run_fetch", "Download the data the workspace references into the cache."),
    "gc": ("data", "run_gc", "Remove cache (and remote) objects nothing references."),
    "doctor": ("remote", "run_doctor", "Check the setup: secrets in tracked files, remotes."),
    "run": ("run", "run_run", "Run a team recipe: pre-tasks, repro, post-tasks (--detach: "
            "in the background)."),
    "runs": ("run", "run_runs", "List recipe runs: state, start, duration, exit code."),
    "logs": ("run", "run_logs", "Show or follow the log of a recipe run."),
    "stop": ("run", "run_stop", "Stop a running recipe and every process it started."),
    "schedule": ("run", "run_schedule", "Install, show or remove the crontab entry that runs a "
                 "recipe."),
    "templates": ("init", "run_templates", "List the project templates of 'lode init "
                  "--template'."),
    "config": ("config", "run_config", "Get or set a configuration option."),
    "cache": ("config", "run_cache", "Cache location and integrity check."),
}


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    # Sub-commands must not reset what `lode -v CMD` set at the top, hence SUPPRESS there.
    g = p.add_mutually_exclusive_group()
    default = {} if top else {"default": argparse.SUPPRESS}
    g.add_argument("-v", "--verbose", action="count", help="more output; tracebacks", **default)
    g.add_argument("-q", "--quiet", action="store_true", help="only errors", **default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lode",
        description="Version data and models beside Git; run pipelines as team recipes.",
    )
    parser.add_argument("--version", action="version", version=f"lode {__version__}")
    _common(parser, top=True)
    parser.set_defaults(verbose=0, quiet=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subs = {}
    for name, (_, _, help_) in COMMANDS.items():
        subs[name] = p = sub.add_parser(name, help=help_, description=help_)
        _common(p)

    p = subs["init"]
    p.add_argument("--no-scm", action="store_true", help="use lode without Git")
    p.add_argument("-f", "--force", action="store_true", help="rewrite existing scaffolding")
    p.add_argument("--dodo", action="store_true", help="only add the dodo.py that shows the "
                   "pipeline to doit (in a repository DVC initialised)")
    p.add_argument("--template", metavar="NAME", help="scaffold a ready project from a "
                   "template into DIR (see 'lode templates')")
    p.add_argument("--data-remote", metavar="URL", help="with --template: the default data "
                   "remote (default: a local directory beside DIR)")
    p.add_argument("--git-remote", metavar="URL", help="with --template: the Git remote "
                   "'origin'")
    p.add_argument("dir", nargs="?", metavar="DIR", help="with --template: where to create "
                   "the project")

    from lode.cli.run import configure as configure_run  # argparse only: cheap at start-up

    configure_run(subs)

    subs["add"].add_argument("targets", nargs="+", metavar="TARGET")
    p = subs["commit"]
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("-f", "--force", action="store_true", help="accepted for DVC compatibility")
    p = subs["checkout"]
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("-f", "--force", action="store_true", help="overwrite local changes")
    p.add_argument("--relink", action="store_true", help="recreate links even if data matches")
    p = subs["status"]
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("--json", action="store_true", help="machine-readable output, DVC's shape")
    p.add_argument("-c", "--cloud", action="store_true", help="compare the cache with a remote")
    p.add_argument("-r", "--remote", help="the remote for -c (default: core.remote)")
    subs["unprotect"].add_argument("targets", nargs="+", metavar="TARGET")

    p = subs["repro"]
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help="stage, path/to/dvc.yaml or path/to/dvc.yaml:stage (default: ./dvc.yaml)")
    p.add_argument("-f", "--force", action="store_true", help="run even the stages up to date")
    p.add_argument("-s", "--single-item", action="store_true", help="only the targets, not "
                   "what they depend on")
    p.add_argument("--downstream", action="store_true", help="the targets and what depends "
                   "on them")
    p.add_argument("--dry", action="store_true", help="print what would run and why")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="stages at once (default: "
                   "the cores)")
    p.add_argument("-k", "--keep-going", action="store_true", help="run the independent "
                   "stages after a failure")
    p.add_argument("--no-run-cache", action="store_true", help="run stages even when their "
                   "outputs are cached for these inputs")
    p.add_argument("--pull", action="store_true", help="fetch missing inputs first")
    p.add_argument("--executor", metavar="NAME", help="who runs the stages: local (default), "
                   "dask, slurm, ... (config: executor.name)")
    p.add_argument("--executor-opt", action="append", default=[], metavar="K=V",
                   help="an executor option (config: executor.K); repeatable")

    from lode.cli.export import configure_export  # argparse only
    from lode.cli.stage import configure_stage  # argparse only

    configure_stage(subs["stage"])
    configure_export(subs["export"])

    from lode.cli.dag import configure as configure_dag  # argparse only: cheap at start-up

    configure_dag(subs["dag"])

    from lode.cli.reports import configure_metrics, configure_params  # argparse only

    configure_metrics(subs["metrics"])
    configure_params(subs["params"])

    from lode.cli.compare import configure_compare  # argparse only
    from lode.cli.plots import configure_plots  # argparse only
    from lode.cli.report import configure_report  # argparse only

    configure_plots(subs["plots"])
    configure_compare(subs["compare"])
    configure_report(subs["report"])

    from lode.cli.remote import configure_remote, configure_transfer  # argparse only

    p = subs["gc"]
    p.add_argument("-w", "--workspace", action="store_true", help="keep what the workspace uses")
    p.add_argument("-a", "--all-branches", action="store_true", help="… and every branch")
    p.add_argument("-T", "--all-tags", action="store_true", help="… and every tag")
    p.add_argument("-A", "--all-commits", action="store_true", help="… and every commit")
    p.add_argument("-c", "--cloud", action="store_true", help="delete from the remote too")
    p.add_argument("-r", "--remote", help="the remote for -c (default: core.remote)")
    p.add_argument("--dry", action="store_true", help="list what would go, remove nothing")
    p.add_argument("-f", "--force", action="store_true", help="do not ask")

    configure_remote(subs["remote"])
    configure_transfer(subs["push"])
    configure_transfer(subs["fetch"])
    configure_transfer(subs["pull"], pull=True)

    p = subs["config"]
    p.add_argument("--local", action="store_true", help="use .dvc/config.local (git-ignored)")
    p.add_argument("-u", "--unset", action="store_true", help="remove the option")
    p.add_argument("-l", "--list", action="store_true", help="list all options")
    p.add_argument("--show-secrets", action="store_true",
                   help="print secret values in --list instead of ***")
    p.add_argument("name", nargs="?", help="SECTION.OPTION, e.g. cache.type")
    p.add_argument("value", nargs="?")

    p = subs["cache"]
    csub = p.add_subparsers(dest="cache_command", metavar="SUBCOMMAND", required=True)
    c = csub.add_parser("dir", help="show or set the cache directory")
    _common(c)
    c.add_argument("value", nargs="?", metavar="PATH")
    c.add_argument("--local", action="store_true")
    c = csub.add_parser("verify", help="rehash every object; name the corrupt ones")
    _common(c)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.command:
        build_parser().print_help()
        return 0
    module, func, _ = COMMANDS[args.command]
    verbose = args.verbose
    try:
        from lode import progress

        progress.enable(not args.quiet)
        handler = getattr(importlib.import_module(f"lode.cli.{module}"), func)
        return handler(args) or 0
    except KeyboardInterrupt:
        print("ERROR: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # rendered once, here
        return _render(e, verbose)


def _render(e: Exception, verbose: int) -> int:
    from lode.errors import LodeError

    if verbose:
        import traceback

        traceback.print_exc()
    if isinstance(e, LodeError):
        print(f"ERROR: {e}", file=sys.stderr)
        return e.exit_code
    if isinstance(e, OSError):
        print(f"ERROR: {_os_error(e)}", file=sys.stderr)
        return 1
    print(
        f"ERROR: unexpected {type(e).__name__}: {e}. Rerun with -v for the traceback "
        "and report it.",
        file=sys.stderr,
    )
    return 255


def _os_error(e: OSError) -> str:
    import errno

    where = f" '{e.filename}'" if e.filename else ""
    if e.errno == errno.ENOSPC:
        return f"no space left on the device{where}; free some space and rerun (nothing was lost)."
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}; check the file's owner and mode."
    if e.errno == errno.EROFS:
        return f"read-only file system{where}."
    return f"{e.strerror or e}{where}."
