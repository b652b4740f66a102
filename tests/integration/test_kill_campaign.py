"""A kill campaign: SIGKILL at random points of add, checkout, pull, push, gc and repro.

One project (3,000 small files in a tracked directory, two larger files, a three-stage
pipeline whose first stage reads the tracked directory and writes 2,000 files, a local
data remote, a real Git repository with two versions of the data) is built once and saved
as one template per operation. For each operation, a reference run on a copy of its
template gives the duration and the expected end state; then, many times, a fresh copy
gets the same command started as `python -m lode` in its own session and killed with
SIGKILL (the whole process group, as a closed terminal or the OOM killer would take
lode, its workers and a running stage) after a delay drawn from a seeded RNG, spread over
the measured duration from the very start to the very end. After each real kill the same
command is run again to completion and nothing may differ from the reference: the rerun
succeeds, `lode cache verify` passes, every object a pointer or dvc.lock names is in the
cache (and on the remote for push), the remote holds only objects whose bytes match their
name and manifests whose files are all there, the workspace is byte for byte the
reference's, `lode status` is clean, and no temporary file shows up as data.

`LODE_KILL_SEED` and `LODE_KILLS` (kills per operation) change the draw; `pytest -s`
prints the table of kills tried / real / survived per operation.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import init_git_repo, make_tree, snapshot_dir

SEED = int(os.environ.get("LODE_KILL_SEED", "1616"))
KILLS = int(os.environ.get("LODE_KILLS", "5"))
N_FILES = 3000
N_PARTS = 2000
OBJECTS = Path(".dvc") / "cache" / "files" / "md5"
# lode's temporaries (`.NAME.<pid>-<hex>.<n>.tmp`) and DVC's (`NAME.<uuid>.tmp`).
_TMP = re.compile(r"(^\..*\.\d+-[0-9a-f]{8}\.\d+\.tmp$)|(\.tmp$)")
_OBJECT = re.compile(r"^[0-9a-f]{30}(\.dir)?$")

PY = sys.executable
DVC_YAML = f"""\
stages:
  split:
    cmd: {PY} split.py ${{split.salt}}
    deps: [split.py, data]
    params: [split.salt]
    outs: [parts]
  count:
    cmd: {PY} count.py
    deps: [count.py, parts]
    outs: [summary.txt]
  report:
    cmd: {PY} report.py
    deps: [report.py, summary.txt, big1.bin]
    outs: [report.txt]
"""
SCRIPTS = {
    "split.py": f"""\
        import os, sys
        salt = sys.argv[1]
        names = sorted(
            os.path.relpath(os.path.join(d, f), "data")
            for d, _s, fs in os.walk("data") for f in fs
        )
        for i in range({N_PARTS}):
            d = os.path.join("parts", f"p{{i // 100:02d}}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"part{{i:04d}}.txt"), "w") as fh:
                fh.write(f"{{salt}} {{i}} {{names[i % len(names)]}}\\n")
        """,
    "count.py": """\
        import hashlib, os
        h, n = hashlib.sha256(), 0
        for d, ds, fs in os.walk("parts"):
            ds.sort()
            for f in sorted(fs):
                with open(os.path.join(d, f), "rb") as fh:
                    h.update(fh.read())
                n += 1
        with open("summary.txt", "w") as fh:
            fh.write(f"{n} {h.hexdigest()}\\n")
        """,
    "report.py": """\
        import os
        with open("summary.txt") as fh:
            summary = fh.read().strip()
        with open("report.txt", "w") as fh:
            fh.write(f"{summary} {os.path.getsize('big1.bin')}\\n")
        """,
}

# the command each template is made for (see build_project for the state it starts from)
OPERATIONS = {
    "add": ("add", "data", "big1.bin", "big2.bin"),
    "checkout": ("checkout",),
    "pull": ("pull",),
    "push": ("push",),
    "gc": ("gc", "-w", "-f"),
    "repro": ("repro",),
}


# ------------------------------------------------------------------------------ project


@dataclass
class Project:
    """The templates of one campaign, and the one place every run happens (`work`)."""

    base: Path
    templates: dict[str, Path] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.base / "run"

    @property
    def repo(self) -> Path:
        return self.work / "repo"

    @property
    def remote(self) -> Path:
        return self.work / "remote"

    def save(self, name: str) -> None:
        self.templates[name] = self.base / "templates" / name
        shutil.copytree(self.work, self.templates[name], symlinks=True)

    def restore(self, name: str) -> None:
        """A fresh copy of template `name` at `work` (the remote's path in .dvc/config
        is absolute, so every copy lives at the same place). Objects are content-addressed
        and read-only, written by rename and never in place, so the copy hardlinks them
        (`template_sound` checks they stayed whole); everything else is copied."""
        if self.work.exists():
            shutil.rmtree(self.work)
        tpl = self.templates[name]
        shutil.copytree(tpl, self.work, symlinks=True, ignore=_objects_of(tpl))
        for objects_dir in _OBJECT_DIRS:
            if (tpl / objects_dir).is_dir():
                subprocess.run(
                    ["cp", "-al", str(tpl / objects_dir), str((self.work / objects_dir).parent)],
                    check=True,
                )

    def template_problems(self, name: str) -> list[str]:
        """Objects of template `name` that no longer hold their bytes (a run wrote
        through a hardlink)."""
        tpl = self.templates[name]
        return [f"template {name}: {p}" for d in _OBJECT_DIRS for p in sound_objects(tpl / d)]


_OBJECT_DIRS = (Path("repo") / OBJECTS.parent, Path("remote") / "files")


def _objects_of(tpl: Path):
    skip = {tpl / d for d in _OBJECT_DIRS}

    def ignore(directory: str, names: list[str]) -> list[str]:
        return [n for n in names if Path(directory, n) in skip]

    return ignore


def _write_v2(data: Path) -> None:
    """The second version of the data: files changed, removed and added."""
    rng = random.Random(2)
    files = sorted(p for p in data.rglob("*") if p.is_file())
    for p in files[::30]:
        p.write_bytes(rng.randbytes(rng.randint(1, 1024)))
    for p in files[7::60]:
        p.unlink()
    new = data / "new"
    new.mkdir()
    for i in range(50):
        (new / f"n{i:03d}.bin").write_bytes(rng.randbytes(rng.randint(1, 1024)))


def build_project(lode, git, base: Path) -> Project:
    proj = Project(base)
    repo = init_git_repo(git, proj.repo)
    lode("init", "-q", cwd=repo)
    lode("remote", "add", "-d", "store", str(proj.remote), cwd=repo)
    make_tree(repo / "data", N_FILES, seed=16, max_size=1024)
    rng = random.Random(3)
    # just over lode.store.hashing.SMALL (4 MiB): these go the copy-while-hashing way
    (repo / "big1.bin").write_bytes(rng.randbytes(5 << 20))
    (repo / "big2.bin").write_bytes(rng.randbytes(5 << 20))
    proj.save("add")  # before the pipeline exists: a clean status is add's alone

    lode("add", "data", "big1.bin", "big2.bin", cwd=repo)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "params.yaml").write_text("split:\n  salt: v1\n")
    for name, text in SCRIPTS.items():
        (repo / name).write_text(textwrap.dedent(text))
    lode("repro", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "data v1", cwd=repo)
    _write_v2(repo / "data")
    (repo / "big2.bin").write_bytes(rng.randbytes(5 << 20))
    lode("add", "data", "big2.bin", cwd=repo)
    lode("repro", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "data v2", cwd=repo)
    lode("push", cwd=repo)
    assert lode("status", "--json", cwd=repo).stdout.strip() == "{}"
    # v2 everywhere, v1 objects still in the cache but unreferenced by the workspace
    proj.save("gc")

    (repo / "params.yaml").write_text("split:\n  salt: fresh\n")  # a run never cached
    proj.save("repro")
    (repo / "params.yaml").write_text("split:\n  salt: v1\n")

    shutil.rmtree(proj.remote)
    proj.save("push")
    proj.restore("gc")

    git("checkout", "-q", "HEAD~1", cwd=repo)  # the v1 pointers over v2 data, and then
    shutil.rmtree(repo / "data" / "d03")  # some of it deleted
    shutil.rmtree(repo / "parts" / "p04")
    (repo / "big1.bin").unlink()
    proj.save("checkout")
    proj.restore("gc")

    shutil.rmtree(repo / ".dvc" / "cache")
    for name in ("data", "parts"):
        shutil.rmtree(repo / name)
    for name in ("big1.bin", "big2.bin", "summary.txt", "report.txt"):
        (repo / name).unlink()
    proj.save("pull")
    return proj


# ------------------------------------------------------------------------------- state


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def workspace(repo: Path) -> dict[str, str]:
    """sha256 of every file of the repository outside .git and .dvc."""
    return {
        rel: digest
        for rel, digest in snapshot_dir(repo).items()
        if not rel.startswith((".git/", ".dvc/"))
    }


def objects(root: Path) -> tuple[set[str], list[str]]:
    """(md5 names of the objects under root, the other files there: temporaries)."""
    names, others = set(), []
    if not root.is_dir():
        return names, others
    for prefix in sorted(os.listdir(root)):
        for name in sorted(os.listdir(root / prefix)):
            if len(prefix) == 2 and _OBJECT.match(name):
                names.add(prefix + name)
            else:
                others.append(f"{prefix}/{name}")
    return names, others


def object_path(root: Path, md5: str) -> Path:
    return root / md5[:2] / md5[2:]


def referenced(repo: Path) -> set[str]:
    """md5s of every output the pointers and dvc.lock name, directories expanded through
    the manifests in the cache (a missing manifest stands for itself only)."""
    outs: list[dict] = []
    for pointer in repo.rglob("*.dvc"):
        if ".git" not in pointer.parts and pointer.is_file():
            outs += yaml.safe_load(pointer.read_text()).get("outs") or []
    lock = repo / "dvc.lock"
    if lock.is_file():
        for stage in (yaml.safe_load(lock.read_text()).get("stages") or {}).values():
            outs += stage.get("outs") or []
    refs = {out["md5"] for out in outs}
    for md5 in [m for m in refs if m.endswith(".dir")]:
        manifest = object_path(repo / OBJECTS, md5)
        if manifest.is_file():
            refs |= {entry["md5"] for entry in json.loads(manifest.read_bytes())}
    return refs


def remote_problems(remote: Path) -> list[str]:
    return sound_objects(remote / "files")


def sound_objects(files: Path, complete: bool = True) -> list[str]:
    """Objects under `files` (a cache's or a remote's) whose bytes do not match their
    name, and (with `complete`) manifests whose files are missing there."""
    root = files / "md5"
    names, _temporaries = objects(root)
    problems = []
    for md5 in sorted(names):
        path = object_path(root, md5)
        if _md5(path) != md5.removesuffix(".dir"):
            problems.append(f"object {md5} does not hold its bytes")
        elif complete and md5.endswith(".dir"):
            missing = [e["relpath"] for e in json.loads(path.read_bytes()) if e["md5"] not in names]
            if missing:
                problems.append(f"manifest {md5} lacks {len(missing)} files: {missing[:3]}")
    return problems


@dataclass
class Outcome:
    workspace: dict[str, str]
    cache: set[str]
    remote: set[str]
    git_status: str


def outcome(proj: Project, git) -> Outcome:
    return Outcome(
        workspace=workspace(proj.repo),
        cache=objects(proj.repo / OBJECTS)[0],
        remote=objects(proj.remote / "files" / "md5")[0],
        git_status=git("status", "--porcelain", cwd=proj.repo).stdout,
    )


def _diff(what: str, got: set, want: set) -> list[str]:
    lost, extra = sorted(want - got), sorted(got - want)
    out = []
    if lost:
        out.append(f"{what}: {len(lost)} missing, e.g. {lost[:3]}")
    if extra:
        out.append(f"{what}: {len(extra)} unexpected, e.g. {extra[:3]}")
    return out


def check_after_rerun(op: str, proj: Project, lode, git, rerun, ref: Outcome) -> list[str]:
    """Everything that differs from the reference after a kill and a rerun."""
    repo = proj.repo
    problems = []
    if rerun.returncode != 0:
        problems.append(f"rerun exited {rerun.returncode}: {rerun.stderr.strip()[-400:]}")
    if "Traceback" in rerun.stdout + rerun.stderr:
        problems.append(f"rerun printed a traceback: {rerun.stderr.strip()[-400:]}")
    verify = lode("cache", "verify", cwd=repo, check=False)
    if verify.returncode != 0:
        problems.append(f"cache verify exited {verify.returncode}: {verify.stderr.strip()[-400:]}")
    got = outcome(proj, git)
    refs = referenced(repo)
    missing = sorted(refs - got.cache)
    if missing:
        problems.append(f"{len(missing)} referenced objects not in the cache, e.g. {missing[:3]}")
    if op == "push":
        missing = sorted(refs - got.remote)
        if missing:
            problems.append(f"{len(missing)} referenced objects not on the remote: {missing[:3]}")
    problems += remote_problems(proj.remote)
    # gc must have finished its job; every other command must have lost no object
    problems += _diff("cache", got.cache, ref.cache) if op == "gc" else _diff(
        "cache", got.cache | ref.cache, ref.cache
    )
    problems += _diff("remote", got.remote, ref.remote)
    leftovers = sorted(rel for rel in got.workspace if _TMP.search(rel.rsplit("/", 1)[-1]))
    if leftovers:
        problems.append(f"temporary files in the workspace: {leftovers[:5]}")
    problems += _diff("workspace files", set(got.workspace), set(ref.workspace))
    changed = sorted(
        rel for rel in set(got.workspace) & set(ref.workspace)
        if got.workspace[rel] != ref.workspace[rel]
    )
    if changed:
        problems.append(f"workspace: {len(changed)} files hold other bytes, e.g. {changed[:3]}")
    if got.git_status != ref.git_status:
        problems.append(f"git status differs:\n{got.git_status}\nwanted:\n{ref.git_status}")
    status = lode("status", "--json", cwd=repo, check=False)
    if status.returncode != 0 or status.stdout.strip() != "{}":
        problems.append(f"status not clean (exit {status.returncode}): {status.stdout[:400]}")
    return problems


def leftover_count(proj: Project) -> int:
    """Temporaries a kill left in the cache or on the remote (garbage, not data)."""
    return len(objects(proj.repo / OBJECTS)[1]) + len(objects(proj.remote / "files" / "md5")[1])


# ------------------------------------------------------------------------------- kills


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies excepted: nobody may reap
    them in a container)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def kill_at(lode, proj: Project, cmd: tuple[str, ...], delay: float) -> bool:
    """Start `lode CMD`, SIGKILL its process group after `delay` s; whether it was killed
    (False: it had exited by then)."""
    proc = lode.popen(*cmd, cwd=proj.repo, start_new_session=True)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid):
        assert time.monotonic() < deadline, f"processes of lode {cmd} outlived SIGKILL"
        time.sleep(0.01)
    if proc.returncode != -signal.SIGKILL:
        assert proc.returncode == 0, f"lode {' '.join(cmd)} failed unkilled: {err}"
        return False
    return True


def delays(rng: random.Random, duration: float, n: int) -> list[float]:
    """`n` delays, one in each of `n` equal slices of [0, duration): the first within the
    interpreter's start, the last near the end."""
    return [duration * (k + rng.random()) / n for k in range(n)]


@dataclass
class Tally:
    duration: float = 0.0
    tried: int = 0
    killed: int = 0
    survived: int = 0
    leftovers: int = 0
    spent: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


TABLE: dict[str, Tally] = {}


def table() -> str:
    lines = [
        f"kill campaign (seed {SEED}, {KILLS} per operation)",
        f"{'operation':<10} {'run s':>6} {'tried':>6} {'killed':>7} {'survived':>9} "
        f"{'tmp left':>9}",
    ]
    for op, t in TABLE.items():
        lines.append(
            f"{op:<10} {t.duration:>6.2f} {t.tried:>6} {t.killed:>7} {t.survived:>9} "
            f"{t.leftovers:>9}"
        )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, lode, git):
    t0 = time.monotonic()
    proj = build_project(lode, git, tmp_path_factory.mktemp("kills"))
    yield proj
    print(f"\n{table()}\n(the whole campaign: {time.monotonic() - t0:.0f}s)")


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_kill_then_rerun_loses_nothing(campaign: Project, lode, git, op):
    cmd = OPERATIONS[op]
    tally = TABLE[op] = Tally()
    campaign.restore(op)
    t0 = time.monotonic()
    lode(*cmd, cwd=campaign.repo)
    tally.duration = time.monotonic() - t0
    ref = outcome(campaign, git)
    assert not remote_problems(campaign.remote)

    rng = random.Random(f"{SEED}-{op}")
    clock = time.monotonic()

    def spent(phase: str) -> None:
        nonlocal clock
        now = time.monotonic()
        tally.spent[phase] = tally.spent.get(phase, 0.0) + now - clock
        clock = now

    for delay in delays(rng, tally.duration, KILLS):
        tally.tried += 1
        campaign.restore(op)
        spent("restore")
        killed = kill_at(lode, campaign, cmd, delay)
        spent("kill")
        if not killed:
            continue
        tally.killed += 1
        tally.leftovers += leftover_count(campaign)
        # right after the kill: no object under its name holds other bytes, and the
        # remote has no manifest whose files did not all go up before it
        problems = [f"after the kill: {p}" for p in
                    sound_objects(campaign.repo / OBJECTS.parent, complete=False)
                    + remote_problems(campaign.remote)]
        rerun = lode(*cmd, cwd=campaign.repo, check=False)
        spent("rerun")
        problems += check_after_rerun(op, campaign, lode, git, rerun, ref)
        spent("check")
        if problems:
            kept = campaign.base / "failed" / f"{op}-{tally.tried}"
            if len(tally.failures) < 2:
                shutil.copytree(campaign.work, kept, symlinks=True)
            tally.failures.append(
                f"lode {' '.join(cmd)} killed at {delay:.3f}s of {tally.duration:.2f}s "
                f"(seed {SEED}, kill {tally.tried}), rerun; kept in {kept}:\n  "
                + "\n  ".join(problems)
            )
        else:
            tally.survived += 1
    print(f"\n{op}: {tally.killed} killed of {tally.tried} tried, {tally.survived} survived; "
          + ", ".join(f"{k} {v:.1f}s" for k, v in tally.spent.items()))
    assert not tally.failures, table() + "\n\n" + "\n\n".join(tally.failures)
    assert not campaign.template_problems(op)
    assert tally.killed >= KILLS // 2, (
        f"only {tally.killed} of {tally.tried} kills landed while lode ran\n{table()}"
    )
