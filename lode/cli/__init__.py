"""The `lode` command: parse, call an operation, print its result, render errors once.

This file holds the table of commands and nothing heavy. A command's module (its
arguments, `configure_<command>`, and its handler) is imported only when a command line
names it: start-up is measured, and `lode status` has no business loading the recipes or
the reports.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from lode import __version__, progress
from lode.errors import LodeError

# name -> (module under lode.cli, function, help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("init", "run_init", "Initialise lode (DVC-compatible) in this Git repository."),
    "add": ("add", "run_add", "Track files or directories: cache them and write .dvc pointers."),
    "commit": ("add", "run_commit", "Record changes to tracked outputs in their pointers."),
    "checkout": ("checkout", "run_checkout", "Restore tracked outputs from the cache."),
    "status": ("status", "run_status", "Show tracked outputs that changed."),
    "unprotect": ("unprotect", "run_unprotect", "Make linked, read-only outputs editable."),
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
    "gc": ("gc", "run_gc", "Remove cache (and remote) objects nothing references."),
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


def common_flags(p: argparse.ArgumentParser, top: bool = False) -> None:
    """-v and -q, on the top parser and on every (sub-)command's."""
    # Sub-commands must not reset what `lode -v CMD` set at the top, hence SUPPRESS there.
    g = p.add_mutually_exclusive_group()
    default = {} if top else {"default": argparse.SUPPRESS}
    g.add_argument("-v", "--verbose", action="count", help="more output; tracebacks", **default)
    g.add_argument("-q", "--quiet", action="store_true", help="only errors", **default)


def command_of(argv: list[str]) -> str | None:
    """The command a command line names: its first word that is not a top-level flag."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command with its help line; the arguments of `command` only, from its module's
    `configure_<command>(parser)`: so a command line imports the module of the command it
    runs and no other (start-up is measured)."""
    parser = argparse.ArgumentParser(
        prog="lode",
        description="Version data and models beside Git; run pipelines as team recipes.",
    )
    parser.add_argument("--version", action="version", version=f"lode {__version__}")
    common_flags(parser, top=True)
    parser.set_defaults(verbose=0, quiet=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, _, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        common_flags(p)
        if name == command:
            configure = getattr(_module(module), f"configure_{name}", None)
            if configure is not None:
                configure(p)
    return parser


def _module(name: str):
    return importlib.import_module(f"lode.cli.{name}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbose = int("-v" in argv or "--verbose" in argv)  # until the arguments are parsed
    try:
        parser = build_parser(command_of(argv))
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 0
        module, func, _ = COMMANDS[args.command]
        verbose = args.verbose
        progress.enable(not args.quiet)
        return getattr(_module(module), func)(args) or 0
    except KeyboardInterrupt:
        print("ERROR: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # rendered once, here
        return _render(e, verbose)


def _render(e: Exception, verbose: int) -> int:
    if verbose:
        import traceback  # only for -v on an error: start-up is measured

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
    where = f" '{e.filename}'" if e.filename else ""
    if e.errno == errno.ENOSPC:
        return f"no space left on the device{where}; free some space and rerun (nothing was lost)."
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}; check the file's owner and mode."
    if e.errno == errno.EROFS:
        return f"read-only file system{where}."
    return f"{e.strerror or e}{where}."
