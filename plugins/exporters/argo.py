"""`lode export argo`: the pipeline as an Argo Workflows Workflow (or CronWorkflow).

One DAG task per stage runs the remote stage protocol (`lode stage run ADDRESS --rev SHA
--repo URL`) in its own pod, taking its upstream stages' results as `--upstream`; a last
task, which runs however the stages ended, merges the results (`lode stage merge`) and
fails when one is missing. Data passes only through the data remote; credentials come from
a Kubernetes Secret by reference. Built with hera, whose models come from Argo's API spec.
What to export (stages, order, resources, the commit or branch, the data remote, the
recipe) is the core's plan (`lode.plugins.exporter.ExportPlan`); this writes it for Argo.

A failed stage's downstream tasks are Omitted; since the merge task is the DAG's only leaf
and has not run yet, Argo keeps starting every task whose `depends` holds, so the
independent stages run whatever failFast says (`-k` sets it false, for clarity).

No value of the project reaches the workflow as template syntax: Argo evaluates `{{...}}`
(and `{{=...}}` expressions) in every string of a template, a second time in the values
it substitutes, and has no escape for it; Kubernetes expands `$(VAR)` in a container's
command and args from its environment, which holds the remote's credentials. So a stage
address (its dvc.yaml's directory and its name), the repository URL, a branch, the image,
the secret's or the recipe's name holding `{{` or `$(` is refused (`check_plan`), naming
it, before anything is written.

hera is imported inside `build` only: `hera.workflows` costs 0.6 s and registers PyYAML
representers for the whole process (so nothing here dumps lode's own files with PyYAML).
"""

from __future__ import annotations

import re

from lode.plugins.exporter import Exported, Exporter, ExportError, ExportPlan, Option

RESULT_FILE = "/tmp/lode-result.json"  # where `lode stage run --result` writes, in the pod
REV_FILE = "/tmp/lode-rev"
DEFAULT_SECRET = "lode-remote-credentials"
# Our own templates and tasks; a stage whose name sanitises to one of these gets a suffix.
DAG_NAME, MERGE_NAME, REV_NAME = "lode-pipeline", "lode-merge", "lode-rev"
# Argo allows 128 characters for task and template names; 63 keeps them valid as the
# Kubernetes label values and pod-name parts Argo derives from them.
NAME_MAX = 63
ENDED = ("Succeeded", "Failed", "Errored", "Omitted")
# Environment variables each data remote's scheme reads its credentials from (key in the
# Secret = variable name; optional ones may be absent from the Secret).
CREDENTIALS: dict[str, tuple[tuple[str, bool], ...]] = {
    "s3": (("AWS_ACCESS_KEY_ID", False), ("AWS_SECRET_ACCESS_KEY", False),
           ("AWS_SESSION_TOKEN", True)),
}
# A CronWorkflow follows a branch: each run first resolves its tip once, so every task of
# the run sees the same commit even if the branch moves meanwhile. Plain argv, no shell.
RESOLVE_REV = """import subprocess, sys
url, branch, out = sys.argv[1:4]
p = subprocess.run(['git', 'ls-remote', '--exit-code', url, 'refs/heads/' + branch],
                   capture_output=True, text=True)
if p.returncode:
    sys.exit(f'branch {branch} not found on {url}: {p.stderr.strip()}')
open(out, 'w').write(p.stdout.split()[0])
"""


class StageTask:
    """One stage as a DAG task: its address (what `lode stage run` takes), its Argo name,
    the names of the tasks it waits for, and its Kubernetes resources."""

    def __init__(self, address: str, name: str, upstream: list[str], resources: dict | None
                 ) -> None:
        self.address, self.name, self.upstream, self.resources = address, name, upstream, \
            resources


class ArgoPlan:
    """Everything the workflow holds, decided before hera is imported: the options (cron,
    secret) and the core's plan in Argo's terms."""

    def __init__(self, *, name: str, image: str, secret: str, cron: str | None,
                 recipe: str | None, keep_going: bool, repo_url: str, rev: str | None,
                 branch: str | None, env: list[tuple[str, bool]],
                 merge_env: list[tuple[str, bool]], tasks: list[StageTask], force: bool
                 ) -> None:
        self.cron, self.secret, self.recipe, self.keep_going = cron, secret, recipe, keep_going
        self.name, self.image, self.repo_url, self.rev, self.branch = \
            name, image, repo_url, rev, branch
        self.env, self.merge_env, self.tasks, self.force = env, merge_env, tasks, force


# ------------------------------------------------------------------ pure decisions


def sanitise(text: str) -> str:
    """An Argo task/template name: lower-case letters, digits and '-'; `dvc.yaml:` dropped
    (`sub/dvc.yaml:train_model@1` -> `sub-train-model-1`)."""
    text = text.replace("dvc.yaml:", "/").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:NAME_MAX].strip("-") or "stage"


def task_names(addresses: list[str]) -> dict[str, str]:
    """address -> a unique, valid task name (a clash gets `-2`, `-3` ...)."""
    taken = {DAG_NAME, MERGE_NAME, REV_NAME}
    names: dict[str, str] = {}
    for address in addresses:
        base = name = sanitise(address)
        n = 1
        while name in taken:
            n += 1
            suffix = f"-{n}"
            name = base[:NAME_MAX - len(suffix)].rstrip("-") + suffix
        taken.add(name)
        names[address] = name
    return names


def k8s_resources(cpus: int | None = None, mem_mib: int | None = None,
                  gpus: int | None = None) -> dict | None:
    """A stage's resources as a container's requests and limits. CPU is only requested (a
    CPU limit throttles); memory is requested and limited alike (a stage over it is
    stopped rather than starving its neighbours); GPUs go in both, as Kubernetes requires
    for extended resources. Memory comes in MiB, as the core parsed `mem` (a bare number
    is MiB, as Slurm reads it)."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if cpus:
        requests["cpu"] = str(cpus)
    if mem_mib:
        requests["memory"] = limits["memory"] = f"{mem_mib}Mi"
    if gpus:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(gpus)
    if not requests:
        return None
    return {"requests": requests, **({"limits": limits} if limits else {})}


def credential_env(scheme: str) -> list[tuple[str, bool]]:
    """(variable, optional) the data remote's type reads its credentials from."""
    return list(CREDENTIALS.get(scheme, ()))


def check_name(name: str, cron: bool) -> str:
    """A Workflow's generateName prefix or a CronWorkflow's name (Argo appends a
    timestamp to a CronWorkflow's runs, so it allows 52 characters there)."""
    most = 52 if cron else 57
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) or len(name) > most:
        raise ExportError(f"'{name}' is not a valid workflow name: lower-case letters, digits "
                          f"and '-', starting and ending with a letter or digit, at most "
                          f"{most} characters.")
    return name


def default_name(project: str) -> str:
    """`lode-` and the repository directory's name."""
    return ("lode-" + sanitise(project))[:52].rstrip("-")


# ------------------------------------------------------------------ the plan in Argo's terms


def check_data_remote(plan: ExportPlan) -> None:
    """Pods cannot reach a directory of this machine."""
    url = plan.remote.url
    if "://" not in url or url.lower().startswith("file://"):
        raise ExportError(f"the data remote '{plan.remote.name}' is a local directory "
                          f"({url}), which the workers' pods cannot reach.",
                          "Use a remote they can, such as s3://BUCKET/PATH.")


def _image(image: str | None) -> str:
    """Required: a plain Python image would lack git, lode and the project's requirements,
    so no default would run. (Not an `executor.image` setting: `lode repro --executor`
    hands every `executor.*` option to the executor, which refuses those it lacks.)"""
    if not image:
        raise ExportError("the workers' container image is not set.", "Pass --image IMAGE "
                          "(one with git, lode and the project's requirements).")
    return image


def argo_plan(plan: ExportPlan, *, image: str, secret: str = DEFAULT_SECRET,
              cron: str | None = None, name: str | None = None) -> ArgoPlan:
    check_data_remote(plan)
    names = task_names([s.address for s in plan.stages])
    tasks = [StageTask(s.address, names[s.address], [names[u] for u in s.upstream],
                       k8s_resources(s.cpus, s.mem_mib, s.gpus)) for s in plan.stages]
    env = credential_env(plan.remote.scheme)
    return ArgoPlan(name=name or default_name(plan.project), image=image, secret=secret,
                    cron=cron, recipe=plan.recipe, keep_going=plan.keep_going,
                    repo_url=plan.source.url, rev=plan.source.commit,
                    branch=plan.source.branch, env=env,
                    merge_env=env + [(v, True) for v in plan.post_env], tasks=tasks,
                    force=plan.force)


# Argo's template syntax (no escape exists), and Kubernetes' `$(VAR)` expansion
_TEMPLATED = ("{{", "$(")


def check_literal(value: str, what: str) -> str:
    """`value` unchanged, or ExportError when Argo or Kubernetes would read it as syntax."""
    found = next((t for t in _TEMPLATED if t in value), None)
    if found is not None:
        reader = "Argo would evaluate it as a template expression" if found == "{{" else \
            "Kubernetes would expand it from the container's environment"
        raise ExportError(f"{what} {value!r} holds '{found}': {reader}, and there is no way "
                          "to escape it.", "Rename it without that sequence.")
    return value


def check_plan(plan: ArgoPlan) -> None:
    """Every project value the workflow's strings will hold, checked by check_literal."""
    values = [(plan.repo_url, "the repository URL"), (plan.image, "the image"),
              (plan.secret, "the secret name"), (plan.name, "the workflow name")]
    values += [(v, w) for v, w in ((plan.rev, "the revision"), (plan.branch, "the branch"),
                                   (plan.recipe, "the recipe name"),
                                   (plan.cron, "the schedule")) if v]
    for t in plan.tasks:
        values.append((t.address, "the stage"))
        for kind in (t.resources or {}).values():
            values += [(str(v), f"a resource of stage {t.address!r}") for v in kind.values()]
    for value, what in values:
        check_literal(str(value), what)


def _ref(expression: str) -> str:
    """An Argo template expression: `{{expression}}`."""
    return "{{" + expression + "}}"


def _result(task: str) -> str:
    return _ref(f"tasks.{task}.outputs.parameters.result")


def build(plan: ArgoPlan):
    """The hera Workflow or CronWorkflow (`.to_yaml()`, `.to_dict()`)."""
    check_plan(plan)  # before hera: nothing is built from a value Argo would evaluate
    from hera.workflows import DAG, Container, CronWorkflow, Parameter, SecretEnv, Workflow
    from hera.workflows.models import ResourceRequirements

    def env(pairs: list[tuple[str, bool]]) -> list:
        return [SecretEnv(name=var, secret_name=plan.secret, secret_key=var,
                          optional=True if optional else None) for var, optional in pairs]

    params = [Parameter(name="repo", value=plan.repo_url)]
    if plan.rev:
        params.append(Parameter(name="rev", value=plan.rev))
    if plan.branch:
        params.append(Parameter(name="branch", value=plan.branch))
    common = dict(entrypoint=DAG_NAME, arguments=params,
                  labels={"app.kubernetes.io/managed-by": "lode"})
    if plan.cron:
        # `schedules` (Argo >= 3.6; hera deprecates the singular form); a fixed name, as
        # kubectl apply and GitOps need; a run never overlaps the previous one
        wf = CronWorkflow(name=plan.name, schedules=[plan.cron], concurrency_policy="Forbid",
                          timezone="UTC", **common)
        rev = _ref(f"tasks.{REV_NAME}.outputs.parameters.rev")
    else:
        wf = Workflow(generate_name=f"{plan.name}-", **common)
        rev = _ref("workflow.parameters.rev")
    with wf:
        templates = {}
        for t in plan.tasks:
            args = ["stage", "run", "--rev", "{{inputs.parameters.rev}}",
                    "--repo", "{{workflow.parameters.repo}}", "--result", RESULT_FILE]
            for up in t.upstream:
                args += ["--upstream", _ref(f"inputs.parameters.upstream-{up}")]
            if plan.force:
                args.append("--force")
            args += ["--", t.address]  # a stage named '-x' is not an option
            templates[t.name] = Container(
                name=t.name, image=plan.image, command=["lode"], args=args, env=env(plan.env),
                inputs=[Parameter(name="rev")]
                + [Parameter(name=f"upstream-{up}") for up in t.upstream],
                resources=ResourceRequirements(**t.resources) if t.resources else None,
                # a stage that writes no result still leaves the parameter resolvable
                outputs=[Parameter(name="result",
                                   value_from={"path": RESULT_FILE, "default": ""})])
        merge_args = ["stage", "merge",
                      # ADDRESS=RESULT: an empty result (a stage that never ran) is named
                      *(f"{t.address}=" + _ref(f"inputs.parameters.result-{t.name}")
                        for t in plan.tasks),
                      "--repo", "{{workflow.parameters.repo}}",
                      "--rev", "{{inputs.parameters.rev}}"]
        if plan.branch:
            merge_args += ["--branch", "{{workflow.parameters.branch}}"]
        if plan.recipe:
            merge_args += ["--recipe", plan.recipe]
        merge = Container(name=MERGE_NAME, image=plan.image, command=["lode"], args=merge_args,
                          env=env(plan.merge_env),
                          inputs=[Parameter(name="rev")]
                          + [Parameter(name=f"result-{t.name}") for t in plan.tasks])
        if plan.cron:
            resolve = Container(
                name=REV_NAME, image=plan.image, command=["python3", "-c", RESOLVE_REV],
                args=["{{workflow.parameters.repo}}", "{{workflow.parameters.branch}}",
                      REV_FILE],
                outputs=[Parameter(name="rev", value_from={"path": REV_FILE})])
        with DAG(name=DAG_NAME, fail_fast=False if plan.keep_going else None):
            if plan.cron:
                resolve(name=REV_NAME)
            for t in plan.tasks:  # upstream first: plan_stages orders them so
                ups = t.upstream or ([REV_NAME] if plan.cron else [])
                templates[t.name](
                    name=t.name, depends=" && ".join(ups) or None,
                    arguments={"rev": rev,
                               **{f"upstream-{up}": _result(up) for up in t.upstream}})
            # runs however the stages ended (a plain `a && b` would be Omitted after any
            # failure and lose the others' results); an Omitted task's outputs read as ""
            ended = ["(" + " || ".join(f"{t.name}.{e}" for e in ENDED) + ")"
                     for t in plan.tasks]
            if plan.cron:
                ended.insert(0, f"({REV_NAME}.Succeeded || {REV_NAME}.Failed || "
                                f"{REV_NAME}.Errored)")
            merge(name=MERGE_NAME, depends=" && ".join(ended),
                  arguments={"rev": rev,
                             **{f"result-{t.name}": _result(t.name) for t in plan.tasks}})
    return wf


def to_yaml(plan: ArgoPlan) -> str:
    try:
        return build(plan).to_yaml()
    except ImportError as e:
        if not (e.name or "").startswith(("hera", "yaml")):
            raise
        raise ExportError("exporting to Argo needs hera, which is not installed.",
                          "Install it: pip install 'lode[argo]'.") from None


class ArgoExporter(Exporter):
    """`lode export argo`: a Workflow, or with `cron` a CronWorkflow."""

    name = "argo"
    options = (
        Option("image", "the workers' container image, with git, lode and the project's "
                        "requirements (required)"),
        Option("cron", "a CronWorkflow on this schedule (UTC); each run takes the branch's "
                       "newest commit"),
        Option("name", "the workflow's name (default: lode-DIRECTORY)"),
        Option("secret", "the Kubernetes Secret holding the data remote's credentials "
                         f"(default: {DEFAULT_SECRET})"),
    )

    def __init__(self, settings: dict[str, str]) -> None:
        super().__init__(settings)
        if settings.get("name") is not None:
            check_name(settings["name"], bool(settings.get("cron")))
        self.image = _image(settings.get("image"))

    @property
    def follows_branch(self) -> bool:
        return bool(self.settings.get("cron"))

    def export(self, plan: ExportPlan) -> Exported:
        argo = argo_plan(plan, image=self.image,
                         secret=self.settings.get("secret") or DEFAULT_SECRET,
                         cron=self.settings.get("cron"), name=self.settings.get("name"))
        text = to_yaml(argo)
        kind = "CronWorkflow" if argo.cron else "Workflow"
        at = f"branch {argo.branch}" if argo.cron else f"commit {(argo.rev or '')[:8]}"
        return Exported(text, f"an Argo {kind} '{argo.name}' of {len(argo.tasks)} stage(s) "
                        f"at {at} of {argo.repo_url}; credentials from the Secret "
                        f"'{argo.secret}'")
