"""Exporters: the pipeline written out for another engine to run (an Argo Workflow, ...).

The core decides everything that depends on the repository — which stages, in which
order, with what resources; which Git commit or branch the engine's workers clone; the
data remote they pass data through; a recipe's post-tasks — and hands it to the
exporter as an `ExportPlan` of plain values. The exporter only writes that plan in its
engine's terms: it never reads the repository, dvc.yaml or the configuration.

Each task of an exported pipeline runs the remote stage protocol (see
`lode.plugins.executor`): `lode stage run --rev SHA --repo URL --result FILE [--upstream
RESULT ...] -- ADDRESS`, and a last task `lode stage merge ADDRESS=RESULT ... --repo URL
--rev SHA [--branch B] [--recipe NAME]`.

Exporters register through the `lode.exporters` entry-point group; the core never
imports one by name.
"""

from __future__ import annotations

from lode.errors import LodeError
from lode.plugins import Option, Plugin, Registry

__all__ = ["EXPORTERS", "GROUP", "DataRemote", "ExportError", "ExportPlan", "Exported",
           "Exporter", "GitSource", "Option", "StagePlan", "load", "names"]

GROUP = "lode.exporters"


class ExportError(LodeError):
    """The pipeline cannot be exported as asked (no Git remote, dirty workspace, an
    option the engine cannot take, ...)."""


class StagePlan:
    """One stage to run. `address` is what `lode stage run` takes (relative to the
    repository root); `upstream` the addresses of the exported stages it reads from.
    `resources` is the stage's `meta.resources` (`cpus`, `gpus` whole numbers); its
    memory, parsed by the core, is `mem_mib` (MiB, None when not given)."""

    def __init__(self, address: str, *, commands: list[str], deps: list[str],
                 outs: list[str], upstream: list[str], resources: dict | None = None,
                 mem_mib: int | None = None) -> None:
        self.address, self.commands, self.deps, self.outs = address, commands, deps, outs
        self.upstream = upstream
        self.resources = resources or {}
        self.mem_mib = mem_mib

    @property
    def cpus(self) -> int | None:
        return self.resources.get("cpus")

    @property
    def gpus(self) -> int | None:
        return self.resources.get("gpus")


class GitSource:
    """Where workers get the code: `url` to clone, at `commit` (a full SHA), or, for a
    schedule (`commit` None), the tip of `branch` when each run starts. `branch` is also
    where a recipe's post-tasks push (None: the remote's HEAD)."""

    def __init__(self, url: str, commit: str | None, branch: str | None) -> None:
        self.url, self.commit, self.branch = url, commit, branch

    @property
    def follows_branch(self) -> bool:
        return self.commit is None


class DataRemote:
    """The data remote workers pass data through, as the tracked .dvc/config names it
    (its credentials are never part of a plan)."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url

    @property
    def scheme(self) -> str:
        """`s3`, `http`, ...; "" for a path."""
        return self.url.split("://", 1)[0].lower() if "://" in self.url else ""


class ExportPlan:
    """Everything an exporter writes. `stages` are in pipeline order (upstream first),
    frozen stages left out. `recipe` is the recipe whose post-tasks the merge task runs
    (None: none); `post_env` the environment variables those post-tasks may read as
    secrets (the notifiers' webhook URLs), each optional. `force` runs every stage even
    when cached; `keep_going` asks the engine to keep starting independent stages after
    a failure."""

    def __init__(self, *, stages: list[StagePlan], source: GitSource, remote: DataRemote,
                 project: str, recipe: str | None = None, post_env: list[str] | None = None,
                 force: bool = False, keep_going: bool = False) -> None:
        self.stages, self.source, self.remote = stages, source, remote
        self.project = project  # the repository directory's name, for default names
        self.recipe, self.post_env = recipe, post_env or []
        self.force, self.keep_going = force, keep_going


class Exported:
    """What an exporter made: the document's text, and one line saying what it is (the
    CLI prints "Wrote FILE: SUMMARY.")."""

    def __init__(self, text: str, summary: str) -> None:
        self.text, self.summary = text, summary


class Exporter(Plugin):
    """The interface. `options`: the engine's own options (`Option`s of lode.plugins),
    given as strings into `settings`; `__init__` refuses unknown ones, and should refuse
    bad values, so that nothing of the repository is read for an export that cannot be
    made."""

    name = "?"

    def __init__(self, settings: dict[str, str]) -> None:
        known = self.option_names()
        unknown = sorted(set(settings) - known)
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise ExportError(f"exporter '{self.name}' has no option '{unknown[0]}'.",
                              f"Its options: {valid}.")
        self.settings = settings

    @property
    def follows_branch(self) -> bool:
        """Whether these options ask for a schedule, which follows a branch rather than
        pinning a commit (the core resolves the `GitSource` accordingly)."""
        return False

    def export(self, plan: ExportPlan) -> Exported:
        """The document for the plan; ExportError when the plan cannot be written for
        this engine (naming what)."""
        raise NotImplementedError


EXPORTERS: Registry[Exporter] = Registry(GROUP, Exporter, "exporter")


def names() -> list[str]:
    """The installed exporters' names; none imported."""
    return EXPORTERS.names()


def load(name: str) -> type[Exporter]:
    """The exporter class registered as `name`; ExportError when there is none, or it
    cannot be loaded (a missing package: which one, and the extra that installs it)."""
    return EXPORTERS.load_as(name, ExportError)
