"""Run one stage: restore it from the cache when it ran before, else remove its outputs,
run its command in a shell in its wdir, cache the outputs and rewrite its dvc.lock entry.

A failed command leaves the lock file and the cache as they were.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from lode import shell
from lode.errors import LodeError
from lode.paths import check_no_links
from lode.pipeline.stage import Stage
from lode.pipeline.state import dep_item, params_values
from lode.store import gitignore, lockfile, materialize
from lode.store.hashinfo import is_dir_md5
from lode.store.outputs import build
from lode.store.runcache import RunCache

INPUTS = ("cmd", "deps", "params")  # the part of a lock entry a run starts from

# Where a stage's command output goes: a function called with each line as bytes (a
# worker streams it to its log and keeps the tail for its result); None where one is
# taken means the terminal, which the command inherits.
Output = shell.Output


def same_inputs(entry: dict | None, inputs: dict) -> bool:
    """Whether a lock entry records a run of exactly these inputs."""
    return bool(entry) and all(entry.get(k) == inputs.get(k) for k in INPUTS)


class StageFailed(LodeError):
    """A stage's command failed or did not produce what it declares."""

    def __init__(self, stage: Stage, message: str, hint: str | None = None) -> None:
        super().__init__(f"stage '{stage.address()}' failed: {message}", hint)
        self.stage = stage


class Runner:
    """What a repro run shares between stages (threads may call `run` at once)."""

    def __init__(self, repo, project, run_cache: bool = True, scm: bool = True) -> None:
        self.repo, self.project, self.scm = repo, project, scm
        self.run_cache = RunCache(repo.cache_dir) if run_cache else None
        self.lockfiles: set[str] = set()  # dvc.lock files this run rewrote
        # cached outputs, for one .gitignore pass at the end, in pipeline order
        self.to_ignore: list[tuple[int, str]] = []
        self._order = {s: i for i, s in enumerate(project.stages)}

    # -- inputs ------------------------------------------------------------------------
    def inputs(self, stage: Stage) -> dict:
        """The stage's lock entry without outputs, as the workspace is now."""
        deps = []
        for path in stage.deps:
            item = dep_item(self.repo, stage, path)
            if item is None:
                raise StageFailed(stage, f"its dependency '{path}' does not exist.")
            deps.append(item)
        values, missing = params_values(stage)
        for file, keys in missing.items():
            if keys is None:
                raise StageFailed(stage, f"its parameters file '{file}' does not exist.")
            raise StageFailed(stage, f"parameters {', '.join(map(repr, keys))} are missing "
                              f"from '{file}'.")
        return lockfile.entry(stage.cmd, deps, values, [])

    # -- restoring ---------------------------------------------------------------------
    def _outs_cached(self, stage: Stage, entry: dict) -> bool:
        recorded = {o.get("path"): o for o in entry.get("outs", []) if isinstance(o, dict)}
        if set(recorded) != {o.path for o in stage.outs}:
            return False
        for o in recorded.values():
            md5 = o.get("md5")
            if not isinstance(md5, str):
                return False
            ok = self.repo.objects.dir_complete(md5) if is_dir_md5(md5) else \
                self.repo.objects.exists(md5)
            if not ok:
                return False
        return True

    def restore(self, stage: Stage, inputs: dict, entry: dict | None) -> dict | None:
        """Check the outputs out of the cache when these inputs ran before: from the lock
        entry itself (only outputs changed) or from the run cache. The entry used, or None."""
        if not stage.run_cacheable:
            return None  # as DVC: such a stage always runs
        found = entry if same_inputs(entry, inputs) else self.cached_run(stage, inputs)
        if not found or not self._outs_cached(stage, found) or not self.place(stage, found):
            return None
        return {**inputs, "outs": found["outs"]}

    def cached_run(self, stage: Stage, inputs: dict) -> dict | None:
        """The run cache's newest entry for these inputs (None without a run cache)."""
        if self.run_cache is None:
            return None
        outs = [{"path": p} for p in sorted(o.path for o in stage.outs)]
        return self.run_cache.lookup({**inputs, "outs": outs})

    def place(self, stage: Stage, entry: dict) -> bool:
        """Check the entry's outputs out of the cache over whatever is there (`cache:
        false` ones as copies, the user's to edit); False if one could not be."""
        specs = {o.path: o for o in stage.outs}
        for rec in entry["outs"]:
            spec, path = specs[rec["path"]], stage.abspath(rec["path"])
            if is_dir_md5(rec["md5"]):
                plan = materialize.plan_dir(self.repo, path, rec["md5"], relink=False)
            else:
                plan = materialize.plan_file(self.repo, path, rec["md5"],
                                             bool(rec.get("isexec")), False)
            if plan.changes:
                materialize.execute(self.repo, plan, None if spec.cache else ["copy"])
            if plan.failed:
                return False
        return True

    # -- running -----------------------------------------------------------------------
    def _remove_outs(self, stage: Stage) -> None:
        for spec in stage.outs:
            if spec.persist:
                continue
            path = stage.abspath(spec.path)
            check_no_links(self.repo.root, path)  # never delete through a link
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)

    def execute(self, stage: Stage, output: Output | None = None) -> None:
        """Run the stage's commands in a shell in its wdir, one after the other; with
        `output`, their stdout and stderr (merged) go to it, and stdin is closed."""
        os.makedirs(stage.wdir, exist_ok=True)
        for cmd in stage.commands:
            code = shell.run(cmd, stage.wdir, output)
            if code != 0:
                raise StageFailed(stage, f"'{cmd}' {shell.describe_exit(code)}.")

    def commit(self, stage: Stage, inputs: dict) -> dict:
        outs = []
        for spec in stage.outs:
            path = stage.abspath(spec.path)
            if not os.path.lexists(path):
                raise StageFailed(stage, f"it did not produce its output '{spec.path}'.")
            built = build(self.repo, path, insert=spec.cache)
            if spec.cache:
                materialize.link_workspace(self.repo, path, built)
            outs.append(lockfile.item(spec.path, built.md5, built.size, built.nfiles,
                                      built.isexec))
        return {**inputs, **lockfile.entry(stage.cmd, [], {}, outs)} if outs else inputs

    def save(self, stage: Stage, entry: dict) -> None:
        """Record a finished stage: its lock entry, .gitignore lines, the run cache."""
        if self.scm:
            self.to_ignore += [(self._order.get(stage, 0), stage.abspath(o.path))
                               for o in stage.outs if o.cache]
        lock = self.project.lockfile(stage)
        if lock.update(stage.name, entry):
            self.lockfiles.add(lock.path)
        if self.run_cache is not None and stage.run_cacheable:
            self._save_run(stage, entry)

    def _save_run(self, stage: Stage, entry: dict) -> None:
        for spec in stage.outs:
            if not spec.cache:  # so that a restore can bring it back too
                build(self.repo, stage.abspath(spec.path), insert=True)
        self.run_cache.save(entry)  # type: ignore[union-attr]

    def finish(self) -> list[str]:
        """The .gitignore files that gained lines for the outputs of this run."""
        paths, self.to_ignore = [p for _, p in sorted(self.to_ignore)], []
        return gitignore.ensure_all_ignored(self.repo.root, paths) if paths else []

    def run(self, stage: Stage, force: bool = False,
            before_run: Callable[[], None] | None = None, output: Output | None = None) -> str:
        """Bring one out-of-date stage up to date: "ran" or "restored". `before_run` is
        called when the command is about to run; `output` takes what it prints."""
        if stage.frozen:
            missing = next(o.path for o in stage.outs if not os.path.lexists(stage.abspath(o.path)))
            raise StageFailed(stage, f"it is frozen and its output '{missing}' is missing.",
                              "Restore it with 'lode checkout', or unfreeze the stage.")
        lock = self.project.lockfile(stage)
        inputs = self.inputs(stage)
        if not force:
            restored = self.restore(stage, inputs, lock.get(stage.name))
            if restored is not None:
                self.save(stage, restored)
                return "restored"
        if before_run is not None:
            before_run()
        self.run_command(stage, inputs, output)
        return "ran"

    def run_command(self, stage: Stage, inputs: dict, output: Output | None = None) -> dict:
        """The running part of `run`, for a caller that decided a stage must run (a
        worker, after looking on the remote): its outputs removed (but `persist` ones),
        its commands run, the outputs cached and the entry saved. The entry."""
        self._remove_outs(stage)
        self.execute(stage, output)
        entry = self.commit(stage, inputs)
        self.save(stage, entry)
        return entry

