"""Bring stage results made elsewhere into this workspace, as if the stages had run here:
their outputs fetched from the remote (verified) and checked out, their entries written
to dvc.lock in pipeline order (so the file is byte for byte what a local run writes), the
run cache and .gitignore updated.

Used by `lode repro --executor` once its workers are done, and by `lode stage merge`
(the final task of an exported Argo workflow)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable

from lode.ops.remotes import open_remote
from lode.ops.used import Used
from lode.ops.worker import ProtocolError, git, read_result
from lode.pipeline.graph import load_project
from lode.pipeline.run import INPUTS, Runner, StageFailed
from lode.pipeline.stage import Stage
from lode.repo import Repo, find_root
from lode.store.transfer import fetch

# What runs in the merged workspace once every result is recorded (a recipe's
# post-tasks, which the CLI passes in): (the repository, {stage address: "ran" |
# "restored"}) -> lines to report.
AfterMerge = Callable[[Repo, dict[str, str]], list[str]]


def _differs(entry: dict, inputs: dict) -> str:
    """Which inputs the worker saw differently from this workspace ("" if none)."""
    for key in INPUTS:
        if entry.get(key) != inputs.get(key):
            if key == "deps":
                here = {d.get("path"): d for d in inputs.get("deps", [])}
                paths = [d.get("path") for d in entry.get("deps", [])
                         if here.get(d.get("path")) != d]
                return f"deps {', '.join(map(str, paths))}" if paths else "deps"
            return key
    return ""


def settle(repo, project, runner: Runner, remote, results: list[tuple[Stage, dict]]
           ) -> tuple[dict[Stage, str], list[StageFailed]]:
    """Apply successful results (stage, result document), upstream first. Returns each
    applied stage's outcome ("ran" or "restored") and the errors of those that could not
    be applied (their downstream stages are then skipped too)."""
    order = {s: i for i, s in enumerate(project.topological())}
    results = sorted(results, key=lambda r: order.get(r[0], 0))
    used = Used()
    for stage, doc in results:
        declared = {o.path for o in stage.outs}
        for rec in doc["entry"].get("outs") or []:
            if rec["path"] not in declared or "md5" not in rec:
                raise ProtocolError(f"the result of stage '{stage.address()}' records an "
                                    f"output '{rec['path'][:80]}' the stage does not declare.")
            used.add(rec["md5"], repo.rel(stage.abspath(rec["path"])))
    missing: dict[str, str] = {}
    if len(used):
        got = fetch(repo, remote, used, remote.capabilities.jobs)
        missing = {md5: why for md5, _, why in got.failed}
    outcomes: dict[Stage, str] = {}
    errors: list[StageFailed] = []
    broken: set[Stage] = set()
    for stage, doc in results:
        entry = doc["entry"]
        if any(u in broken for u in project.upstream[stage]):
            broken.add(stage)
            continue
        problem = _problem(runner, remote, stage, entry, missing)
        if problem:
            errors.append(StageFailed(stage, problem))
            broken.add(stage)
            continue
        runner.save(stage, entry)
        outcomes[stage] = doc["status"]
    return outcomes, errors


def _problem(runner: Runner, remote, stage: Stage, entry: dict, missing: dict[str, str]
             ) -> str:
    for rec in entry.get("outs") or []:
        if rec["md5"] in missing:
            return (f"its output {rec['path']} cannot be fetched from '{remote.name}': "
                    f"{missing[rec['md5']]}.")
    try:
        inputs = runner.inputs(stage)
    except StageFailed as e:
        return e.message.split(" failed: ", 1)[-1]
    differs = _differs(entry, inputs)
    if differs:
        return (f"the worker saw other {differs} than this workspace has (uncommitted "
                "changes?); its result is not recorded.")
    if not runner.place(stage, entry):
        return "its outputs could not be checked out."
    return ""


class MergeOutcome:
    def __init__(self) -> None:
        self.ok = True
        self.lines: list[str] = []


def merge(results: list[str], repo_url: str | None = None, rev: str | None = None,
          branch: str | None = None, remote_name: str | None = None,
          workdir: str | None = None, after: AfterMerge | None = None) -> MergeOutcome:
    """`lode stage merge`: each RESULT is `ADDRESS=DOC` or a bare DOC (a result file or
    its JSON); an empty DOC is a stage that produced no result (failed, or never ran).
    `after` runs when every result was recorded, in the workspace (a clone of `repo_url`
    is still there), its lines added to the outcome's."""
    made = repo_url is not None and workdir is None
    root = None
    try:
        if repo_url is not None:
            root = workdir or tempfile.mkdtemp(prefix="lode-merge-")
            _clone_branch(repo_url, branch, rev, root)
        else:
            root = find_root()
        docs: list[tuple[str, dict | None]] = []
        for item in results:
            address, sep, doc = item.partition("=")
            if not sep or address.lstrip().startswith("{"):
                address, doc = "", item
            if not doc.strip():
                docs.append((address, None))
            else:
                parsed = read_result(doc)
                docs.append((address or parsed["stage"], parsed))
        return _merge_in(root, docs, remote_name, after)
    finally:
        if made and root:
            shutil.rmtree(root, ignore_errors=True)


def _clone_branch(url: str, branch: str | None, rev: str | None, dest: str) -> None:
    git("clone", "--quiet", *(["--branch", branch] if branch else []), url, dest)
    if rev:
        head = git("rev-parse", "HEAD", cwd=dest)
        full = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=dest)
        if head != full:
            raise ProtocolError(f"the branch moved on from {rev[:8]} (now {head[:8]}) while "
                                "the stages ran; their results are for the older commit.",
                                "Rerun the workflow.")


def _merge_in(root: str, docs: list[tuple[str, dict | None]], remote_name: str | None,
              after: AfterMerge | None) -> MergeOutcome:
    out = MergeOutcome()
    repo = Repo(root)
    try:
        project = load_project(repo)
        runner = Runner(repo, project, scm=repo.scm)
        ok: list[tuple[Stage, dict]] = []
        for address, doc in docs:
            if doc is None or doc.get("status") not in ("ran", "restored"):
                out.ok = False
                why = "no result" if doc is None else (doc.get("error") or doc.get("status"))
                out.lines.append(f"stage '{address or '?'}' failed: {why}")
                continue
            (stage,) = project.resolve_targets([address], cwd=root)
            if not isinstance(doc.get("entry"), dict):
                out.ok = False
                out.lines.append(f"stage '{address}': its result has no lock entry")
                continue
            ok.append((stage, doc))
        remote = open_remote(repo, remote_name)
        try:
            outcomes, errors = settle(repo, project, runner, remote, ok)
        finally:
            remote.close()
        runner.finish()
        for stage, outcome in outcomes.items():
            out.lines.append(f"stage '{stage.address(root)}': {outcome}, recorded in dvc.lock")
        for err in errors:
            out.ok = False
            out.lines.append(str(err))
        if after is not None and out.ok:
            out.lines += after(repo, {s.address(root): o for s, o in outcomes.items()})
    finally:
        repo.close()
    return out
