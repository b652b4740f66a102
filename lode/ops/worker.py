"""The worker's side of the remote stage protocol: `lode stage run STAGE --rev SHA`.

In a clone of its own at the pinned commit, a worker pulls exactly the stage's inputs
from the data remote, restores the stage when the commit's dvc.lock or the remote's run
cache already records these inputs (no transfer at all: the outputs are on the remote),
else runs the command, pushes the outputs (`cache: false` ones too: the coordinator
checks them out from there) and the run-cache entry, and reports the stage's lock entry.

Nothing here reads the coordinator's files: the code comes from Git, the data from the
remote, and the upstream stages' entries from `--upstream` results.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque

from lode import git as lode_git
from lode.errors import LodeError
from lode.ops import runs_transfer as runs
from lode.ops.checkout import checkout
from lode.ops.remotes import open_remote
from lode.ops.source import WHY
from lode.ops.targeted import missing_from
from lode.ops.used import Used
from lode.pipeline.graph import load_project
from lode.pipeline.run import Output, Runner, StageFailed, same_inputs
from lode.repo import Repo
from lode.store.lockfile import check_entry
from lode.store.outputs import build
from lode.store.runcache import entry_name, inputs_key, run_key
from lode.store.targets import pointer_for
from lode.store.transfer import fetch, push

PROTOCOL = 1
TAIL_LINES = 40


class ProtocolError(LodeError):
    """The protocol itself failed (clone, input, transfer): not the stage's command."""

    exit_code = 2


# -- results -------------------------------------------------------------------------------
def result_doc(stage: str, rev: str, status: str, entry: dict | None = None,
               seconds: float = 0.0, error: str = "", log_tail: str = "") -> dict:
    return {"protocol": PROTOCOL, "stage": stage, "rev": rev, "status": status,
            "entry": entry, "seconds": round(seconds, 3), "error": error,
            "log_tail": log_tail}


def read_result(value: str) -> dict:
    """A result given as its JSON text (starting with `{`) or as a file holding it."""
    text = value
    if not value.lstrip().startswith("{"):
        try:
            with open(value, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ProtocolError(f"cannot read the result '{value}': {e.strerror}.") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise ProtocolError(f"'{_short(value)}' is not a stage result (not JSON).") from None
    if not isinstance(doc, dict) or doc.get("protocol") != PROTOCOL or not isinstance(
            doc.get("stage"), str):
        raise ProtocolError(f"'{_short(value)}' is not a stage result of protocol "
                            f"{PROTOCOL}.")
    entry = doc.get("entry")
    if entry is not None:  # what a worker reports is checked like a lock file's entry
        check_entry(doc["stage"], entry, f"the result '{_short(value)}'")
    return doc


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


# -- the clone -----------------------------------------------------------------------------
def git(*args: str, cwd: str | None = None) -> str:
    """git's stdout; a ProtocolError with git's own last line when it fails."""
    try:
        return lode_git.run(*args, cwd=cwd, why=WHY).strip()
    except lode_git.GitFailed as e:
        raise ProtocolError(f"{e}.") from None


def clone(url: str, rev: str, dest: str) -> str:
    """`dest` holding `url` at `rev`, detached; the commit's full SHA."""
    git("clone", "--quiet", "--no-checkout", url, dest)
    try:
        git("checkout", "--quiet", "--detach", rev, cwd=dest)
    except ProtocolError:
        raise ProtocolError(f"revision '{rev}' is not in {url}.",
                            "Push the commit first (git push).") from None
    return git("rev-parse", "HEAD", cwd=dest)


# -- the stage -----------------------------------------------------------------------------
def logged(tail: deque) -> Output:
    """The stage runner's output sink for a worker: the command's output streamed to our
    stderr (a Slurm log, a Dask task's log), its last lines kept in `tail` for the
    result."""

    def sink(raw: bytes) -> None:
        sys.stderr.buffer.write(raw)
        sys.stderr.flush()
        tail.append(raw.decode("utf-8", "replace").rstrip("\n"))

    return sink


def entry_used(repo, stage, entry: dict | None, used=None):
    """The objects of every output a lock entry records (`cache: false` ones too)."""
    used = used if used is not None else Used()
    for rec in (entry or {}).get("outs") or []:
        if isinstance(rec, dict) and isinstance(rec.get("md5"), str):
            used.add(rec["md5"], repo.rel(stage.abspath(rec["path"])))
    return used


def inputs_used(repo, project, stage, used):
    """What the stage reads that is not in Git: its objects join `used`; (the .dvc files
    to check out, the upstream stages whose recorded outputs to place)."""
    pointers, producers = [], []
    for dep in stage.dep_paths:
        owner = project.tracked_by(dep)
        if owner:
            path = os.path.join(repo.root, owner)
            if path not in pointers:
                pointers.append(path)
                used.add_pointer(repo, pointer_for(repo, path)[0])
        for up in project.producers_of(dep):
            if up not in producers:
                producers.append(up)
                entry_used(repo, up, project.lockfile(up).get(up.name), used)
    return pointers, producers


def _missing(repo, remote, outs: list[dict]) -> list[tuple[str, str]]:
    used = Used()
    for o in outs:
        if not isinstance(o, dict) or not isinstance(o.get("md5"), str):
            return [("?", "?")]
        used.add(o["md5"], o.get("path", "?"))
    return missing_from(repo, remote, used)


def _restorable(repo, remote, runner, stage, inputs: dict, use_run_cache: bool
                ) -> dict | None:
    """The entry that already holds this stage's outputs for these inputs, on the remote:
    the commit's own lock entry, or the remote's run cache."""
    if stage.always_changed:
        return None
    entry = runner.project.lockfile(stage).get(stage.name)
    if same_inputs(entry, inputs):
        outs = entry.get("outs") or []
        if {o.get("path") for o in outs if isinstance(o, dict)} == {o.path for o in stage.outs} \
                and not _missing(repo, remote, outs):
            return {**inputs, "outs": outs}
    if not (use_run_cache and stage.run_cacheable and remote.capabilities.run_cache):
        return None
    runs.download_entries(repo, remote, Used(),
                          keys=[inputs_key(inputs, [o.path for o in stage.outs])])
    found = runner.cached_run(stage, inputs)
    if found and not _missing(repo, remote, found["outs"]):
        return {**inputs, "outs": found["outs"]}
    return None


def _restore_persisted(repo, remote, runner, stage) -> None:
    """`persist: true` outputs are the command's to continue from (checkpoints): a local
    run keeps them, so a worker starts from the ones the lock records."""
    keep = {o.path for o in stage.outs if o.persist}
    entry = runner.project.lockfile(stage).get(stage.name) if keep else None
    recs = [r for r in (entry or {}).get("outs") or []
            if isinstance(r, dict) and r.get("path") in keep and isinstance(r.get("md5"), str)]
    if not recs:
        return
    used = entry_used(repo, stage, {"outs": recs})
    if not fetch(repo, remote, used, remote.capabilities.jobs).failed:
        runner.place(stage, {"outs": recs})


def _push(repo, remote, stage, entry: dict, use_run_cache: bool) -> None:
    for spec in stage.outs:
        if not spec.cache:  # the coordinator checks these out from the remote too
            build(repo, stage.abspath(spec.path), insert=True)
    used = entry_used(repo, stage, entry)
    result = push(repo, remote, used, remote.capabilities.jobs)
    if result.failed:
        md5, path, why = result.failed[0]
        raise ProtocolError(f"cannot push the output {path} to '{remote.name}': {why}.")
    if use_run_cache and stage.run_cacheable and remote.capabilities.run_cache:
        key = run_key(entry)
        path = os.path.join(repo.cache_dir, "runs", key[:2], key, entry_name(entry))
        if os.path.exists(path):
            _, problems = runs.upload_entries(
                remote, {f"{runs.PREFIX}{key[:2]}/{key}/{entry_name(entry)}": (path, entry)},
                set(), repo)
            if problems:
                raise ProtocolError(f"cannot push the run-cache entry of stage "
                                    f"'{stage.name}': {problems[0][1]}.")


def run_in(root: str, address: str, upstream: list[dict], remote_name: str | None,
           force: bool, use_run_cache: bool, tail: deque) -> tuple[str, dict]:
    """In the checkout at `root`: ("ran" | "restored", the stage's lock entry)."""
    repo = Repo(root)
    try:
        project = load_project(repo)
        (stage,) = project.resolve_targets([address], cwd=root)
        for doc in upstream:
            (up,) = project.resolve_targets([doc["stage"]], cwd=root)
            if isinstance(doc.get("entry"), dict):
                project.lockfile(up).update(up.name, doc["entry"])
        remote = open_remote(repo, remote_name)
        try:
            used = Used()
            pointers, producers = inputs_used(repo, project, stage, used)
            if len(used):
                got = fetch(repo, remote, used, remote.capabilities.jobs)
                if got.failed:
                    md5, path, why = got.failed[0]
                    raise ProtocolError(f"cannot fetch the input {path} ({md5[:8]}) from "
                                        f"'{remote.name}': {why}.")
            if pointers:
                checkout(repo, pointers, force=True)
            runner = Runner(repo, project, run_cache=use_run_cache, scm=False)
            for up in producers:
                entry = project.lockfile(up).get(up.name)
                if entry is None or not runner.place(up, entry):
                    raise ProtocolError(f"the outputs of the upstream stage '{up.name}' are "
                                        "not recorded; run it first.")
            runner = Runner(repo, project, run_cache=use_run_cache, scm=False)
            inputs = runner.inputs(stage)
            if not force:
                found = _restorable(repo, remote, runner, stage, inputs, use_run_cache)
                if found is not None:
                    return "restored", found
            _restore_persisted(repo, remote, runner, stage)
            entry = runner.run_command(stage, inputs, logged(tail))
            _push(repo, remote, stage, entry, use_run_cache)
            return "ran", entry
        finally:
            remote.close()
    finally:
        repo.close()


def run_stage(address: str, rev: str, repo_url: str, upstream: list[str],
              remote_name: str | None = None, workdir: str | None = None, keep: bool = False,
              force: bool = False, use_run_cache: bool = True) -> dict:
    """The whole protocol; always a result document (status "error" for a protocol
    failure, "failed" for the stage's own)."""
    started = time.monotonic()
    tail: deque = deque(maxlen=TAIL_LINES)
    made = workdir is None
    dest = workdir or tempfile.mkdtemp(prefix="lode-stage-")
    try:
        docs = [read_result(u) for u in upstream]
        sha = clone(repo_url, rev, dest)
        status, entry = run_in(dest, address, docs, remote_name, force, use_run_cache, tail)
        return result_doc(address, sha, status, entry, time.monotonic() - started)
    except StageFailed as e:
        return result_doc(address, rev, "failed", None, time.monotonic() - started,
                          e.message, "\n".join(tail))
    except LodeError as e:
        return result_doc(address, rev, "error", None, time.monotonic() - started,
                          str(e), "\n".join(tail))
    except ValueError:  # resolve_targets gave more than one stage
        return result_doc(address, rev, "error", None, time.monotonic() - started,
                          f"'{address}' names more than one stage.")
    finally:
        if made and not keep:
            shutil.rmtree(dest, ignore_errors=True)
