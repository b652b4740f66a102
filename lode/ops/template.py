"""`lode init --template NAME DIR`: a ready project from a template packaged with lode.

A template is a directory under templates/ (package data, so an installed lode has
them) holding the project's files and a `template.yaml` that describes it. Scaffolding
builds the whole project -- files, Git repository, `.dvc/`, the default data remote, the
first commit -- in a hidden sibling of DIR and moves it into place only at the end, so a
failure midway leaves nothing that would block a rerun.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING

from lode import git
from lode.atomic import write_bytes_atomic
from lode.errors import InitError
from lode.ops.init import init
from lode.ops.remotes import add as add_remote
from lode.plugins.remote import plugin_for
from lode.repo import Repo
from lode.yamlio import loads

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

META = "template.yaml"  # the template's description; not copied into projects
SKIPPED = {META, "__pycache__", ".DS_Store"}
BRANCH = "main"
REMOTE_NAME = "storage"
COMMIT_MESSAGE = "Scaffold the {name} project from lode's template"


class TemplateError(InitError):
    pass


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    next: tuple[str, ...] = ()  # the commands to run in a new project, in order


@dataclass(frozen=True)
class Scaffold:
    """What `scaffold` made: the project's directory, its files (relative, sorted), the
    data remote's URL (as written to .dvc/config), the Git remote, the first commit and
    the commands to run next."""

    root: str
    files: list[str]
    data_remote: str
    git_remote: str | None
    commit: str
    next: tuple[str, ...]


def _root() -> Traversable:
    return files("lode_templates")


def _describe(directory: Traversable) -> Template:
    meta = loads((directory / META).read_text(encoding="utf-8"))
    meta = meta if isinstance(meta, dict) else {}
    text = " ".join(str(meta.get("description", "")).split())
    return Template(directory.name, text, tuple(str(c) for c in meta.get("next") or ()))


def templates() -> list[Template]:
    """The templates packaged with lode, by name."""
    found = [d for d in _root().iterdir() if d.is_dir() and (d / META).is_file()]
    return sorted((_describe(d) for d in found), key=lambda t: t.name)


def find(name: str) -> Traversable:
    directory = _root() / name
    if "/" in name or name.startswith(".") or not (directory / META).is_file():
        known = ", ".join(t.name for t in templates()) or "none"
        raise TemplateError(f"there is no template '{name}' (templates: {known}).")
    return directory


def template_files(directory: Traversable, prefix: str = "") -> dict[str, bytes]:
    """{relative posix path: bytes} of a template's files, without its metadata and any
    byte-code a run in place may have left."""
    out: dict[str, bytes] = {}
    for entry in directory.iterdir():
        if entry.name in SKIPPED or entry.name.endswith(".pyc"):
            continue
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            out.update(template_files(entry, rel + "/"))
        else:
            out[rel] = entry.read_bytes()
    return dict(sorted(out.items()))


# ----------------------------------------------------------------------------------- git


def _git(*args: str, cwd: str) -> str:
    try:
        return git.run(*args, cwd=cwd, why="a template project is a Git repository")
    except git.GitFailed as e:
        if "Please tell me who you are" in e.stderr or "unable to auto-detect email" in e.stderr:
            raise TemplateError(
                "Git does not know who you are, so it cannot make the project's first commit.",
                "Run 'git config --global user.name \"Your Name\"' and 'git config --global "
                "user.email you@example.com', then rerun.",
            ) from None
        raise TemplateError(f"'git {args[0]}' failed: {e.last}") from None


def _check_git_remote(url: str, cwd: str) -> None:
    """Only an empty remote (or none) is accepted: the project's first commit has no
    common history with anything already there."""
    refs = _git("ls-remote", url, cwd=cwd)
    if refs.strip():
        raise TemplateError(
            f"the Git remote '{url}' has commits already.",
            "A template project starts a new history: give an empty repository, or none "
            "and 'git remote add origin URL' later.",
        )


# ------------------------------------------------------------------------------ scaffold


def _check_dest(dest: str) -> bool:
    """Whether dest exists (then it is an empty directory)."""
    if not os.path.lexists(dest):
        return False
    if not os.path.isdir(dest):
        raise TemplateError(f"'{dest}' exists and is not a directory.")
    if os.listdir(dest):
        raise TemplateError(f"'{dest}' is not empty.",
                            "Give a new or an empty directory for the project.")
    return True


def _write(build: str, content: dict[str, bytes]) -> None:
    for rel, data in content.items():
        path = os.path.join(build, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_bytes_atomic(path, data)


def _move_into_place(build: str, dest: str, exists: bool) -> None:
    if not exists:
        os.rename(build, dest)
        return
    # dest may be the user's working directory: fill it rather than replace it
    moved: list[str] = []
    try:
        for name in os.listdir(build):
            os.rename(os.path.join(build, name), os.path.join(dest, name))
            moved.append(name)
    except BaseException:
        for name in moved:  # back into build, which the caller removes
            os.rename(os.path.join(dest, name), os.path.join(build, name))
        raise
    os.rmdir(build)


def _local_path(url: str) -> bool:
    return "://" not in url and ":" not in url.split("/", 1)[0]


def scaffold(name: str, dest: str, data_remote: str | None = None,
             git_remote: str | None = None) -> Scaffold:
    """Create the project of template `name` in `dest` (new or empty): its files, a Git
    repository on `main`, `.dvc/`, the default data remote (`data_remote`, else the
    directory `<dest>.storage` beside it), `origin` = `git_remote` (an empty repository),
    and one commit holding all of it."""
    directory = find(name)
    template = _describe(directory)
    content = template_files(directory)
    dest = os.path.abspath(dest)
    exists = _check_dest(dest)
    parent = os.path.dirname(dest)
    url = data_remote or dest + ".storage"
    plugin_for(url)  # an unknown scheme is refused before anything is written
    if git_remote is not None:
        if _local_path(git_remote) and os.path.exists(git_remote):
            git_remote = os.path.abspath(git_remote)  # as typed here, not from the project
        _check_git_remote(git_remote, cwd=os.getcwd())
    os.makedirs(parent, exist_ok=True)

    build = os.path.join(parent, f".{os.path.basename(dest)}.lode-init-{secrets.token_hex(4)}")
    storage = None if data_remote else url
    made_storage = storage is not None and not os.path.exists(storage)
    os.mkdir(build)
    try:
        _write(build, content)
        _git("init", "-q", "-b", BRANCH, cwd=build)
        init(build)
        # the build directory is a sibling of dest, so a relative URL stays right after the move
        add_remote(Repo(build), REMOTE_NAME, url, default=True, local=False, force=False)
        stored = Repo(build).config.get(f'remote "{REMOTE_NAME}"', "url") or url
        if git_remote is not None:
            _git("remote", "add", "origin", git_remote, cwd=build)
        _git("add", "-A", cwd=build)
        _git("commit", "-q", "-m", COMMIT_MESSAGE.format(name=name), cwd=build)
        commit = _git("rev-parse", "HEAD", cwd=build).strip()
        tracked = sorted(_git("ls-files", "-z", cwd=build).split("\0")[:-1])
        if made_storage:
            os.makedirs(storage)
        _move_into_place(build, dest, exists)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        if made_storage and os.path.isdir(storage) and not os.listdir(storage):
            os.rmdir(storage)
        raise
    return Scaffold(dest, tracked, stored, git_remote, commit, template.next)
