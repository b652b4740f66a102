"""`lode export argo`: the Workflow and CronWorkflow it writes pass hera's models and Argo's
published JSON schema (both strict about unknown keys), hold no credential, name their
tasks as Argo allows; bad input is one sentence; and an emulated Argo runs the exported
DAG (each task's argv in an empty directory, data through a moto S3 server, the code from
a bare Git repository) to the same dvc.lock a local `lode repro` writes."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lode_plugins.exporters.argo import k8s_resources, sanitise, task_names

from tests.executors.argo_emulator import (
    ARGO_VERSION,
    hera_models_source,
    hera_problems,
    run,
    schema_problems,
)
from tests.executors.conftest import FAILING_DVC
from tests.integration.pipeline_helpers import assert_one_error, write
from tests.remotes.conftest import ENV

IMAGE = "registry.example.com/team/churn-lode:1.0"
ARGO_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
ENDED = ("Succeeded", "Failed", "Errored", "Omitted")

needs_hera = pytest.mark.skipif(importlib.util.find_spec("hera") is None,
                                reason="hera is not installed (pip install 'lode[argo]')")


def push_new_project(git, proj: Path, bare: Path) -> Path:
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=bare.parent)
    git("remote", "add", "origin", str(bare), cwd=proj)
    git("push", "-q", "-u", "origin", "main", cwd=proj)
    return proj


def scaffold_churn(lode, git, where: Path, data_remote: str = "s3://lode-argo/churn") -> Path:
    """The churn template as a new project, pushed to a bare repository."""
    where.mkdir(parents=True, exist_ok=True)
    lode("init", "--template", "churn", "proj", "--data-remote", data_remote, cwd=where)
    proj = where / "proj"
    git("config", "commit.gpgsign", "false", cwd=proj)
    return push_new_project(git, proj, where / "origin.git")


SMALL = {
    "dvc.yaml": """\
        stages:
          prep_data:
            cmd: echo prep > prep.txt
            outs: [prep.txt]
            meta: {resources: {cpus: 2, mem: 4G, gpus: 1}}
          train:
            foreach: [lr_1, Big]
            do:
              cmd: echo ${item} > model-${item}.txt
              deps: [prep.txt]
              outs:
                - model-${item}.txt
          lode-merge:
            cmd: echo m > m.txt
            deps: [prep.txt]
            outs: [m.txt]
          old:
            cmd: echo o > o.txt
            outs: [o.txt]
            frozen: true
        """,
    "sub/dvc.yaml": """\
        stages:
          train_model:
            cmd: echo sub > sub.txt
            deps: [../prep.txt]
            outs: [sub.txt]
        """,
}


def small(lode, git, where: Path, data_remote: str | None = "s3://lode-argo/small",
          remote: bool = True) -> Path:
    """A pipeline of odd stage names (foreach, `_`, a sub-directory dvc.yaml, one named
    like the merge task, a frozen one) that needs nothing but echo."""
    proj = where / "small"
    proj.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=proj)
    lode("init", "-q", cwd=proj)
    write(proj, SMALL)
    if data_remote:
        lode("remote", "add", "-d", "storage", data_remote, cwd=proj)
    git("add", "-A", cwd=proj)
    git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "small pipeline", cwd=proj)
    return push_new_project(git, proj, where / "small.git") if remote else proj


def export(lode, proj: Path, *args: str, env: dict | None = None) -> tuple[dict, Path]:
    out = proj.parent / f"wf-{len(list(proj.parent.glob('wf-*.yaml')))}.yaml"
    lode("export", "argo", "--image", IMAGE, "-o", out, *args, cwd=proj, env=env)
    return yaml.safe_load(out.read_text()), out


def admitted(doc: dict, path: Path) -> None:
    """What Argo's API would check: hera's models (round trip) and the JSON schema."""
    assert hera_problems(path) == []
    assert schema_problems(doc) == []


def dag(doc: dict) -> tuple[dict, dict]:
    spec = doc["spec"].get("workflowSpec", doc["spec"])
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = {t["name"]: t for t in templates[spec["entrypoint"]]["dag"]["tasks"]}
    return templates, tasks


def params(doc: dict) -> dict[str, str]:
    spec = doc["spec"].get("workflowSpec", doc["spec"])
    return {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}


@pytest.fixture(scope="module")
def churn_proj(lode, git, tmp_path_factory) -> Path:
    return scaffold_churn(lode, git, tmp_path_factory.mktemp("churn"))


# ---------------------------------------------------------------- pure decisions


def test_task_names_are_argo_names_unique_and_keep_their_order():
    addresses = ["sub/dvc.yaml:train_model@1", "a_b", "a-b", "A.B", "lode-merge", "@@",
                 "x" * 200, "x" * 200 + "y"]
    names = task_names(addresses)
    assert list(names) == addresses
    assert names["sub/dvc.yaml:train_model@1"] == "sub-train-model-1"
    assert [names["a_b"], names["a-b"], names["A.B"]] == ["a-b", "a-b-2", "a-b-3"]
    assert names["lode-merge"] == "lode-merge-2"  # the merge task keeps its own name
    assert names["@@"] == "stage"
    assert len(set(names.values())) == len(names)
    for name in names.values():
        assert ARGO_NAME.fullmatch(name) and len(name) <= 63 and name == name.lower(), name
    assert sanitise("dvc.yaml:x") == "x"


def test_resources_become_requests_and_limits():
    assert k8s_resources() is None
    assert k8s_resources(cpus=2, mem_mib=4096, gpus=1) == {
        "requests": {"cpu": "2", "memory": "4096Mi", "nvidia.com/gpu": "1"},
        "limits": {"memory": "4096Mi", "nvidia.com/gpu": "1"},
    }
    assert k8s_resources(cpus=1) == {"requests": {"cpu": "1"}}
    assert k8s_resources(mem_mib=512)["requests"] == {"memory": "512Mi"}


@needs_hera
def test_the_vendored_schema_is_the_argo_version_of_heras_models():
    assert ARGO_VERSION in hera_models_source()


def test_the_strict_schema_rejects_a_misspelt_key():
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
           "metadata": {"generateName": "x-"},
           "spec": {"entrypoint": "a", "templates": [
               {"name": "a", "container": {"image": "i", "imagePullPolice": "Always"}}]}}
    assert schema_problems(doc, strict=False) == []
    assert any("imagePullPolice" in p for p in schema_problems(doc))


# ---------------------------------------------------------------- the export


@needs_hera
def test_the_churn_workflow_is_valid_and_runs_the_protocol(lode, git, churn_proj):
    doc, path = export(lode, churn_proj)
    admitted(doc, path)
    assert doc["kind"] == "Workflow"
    assert doc["metadata"]["generateName"] == "lode-proj-"
    head = git("rev-parse", "HEAD", cwd=churn_proj).stdout.strip()
    assert params(doc) == {"repo": str(churn_proj.parent / "origin.git"), "rev": head,
                           "branch": "main"}
    templates, tasks = dag(doc)
    assert list(tasks) == ["load", "train", "eval", "lode-merge"]
    assert "depends" not in tasks["load"]
    assert tasks["train"]["depends"] == "load"
    assert set(tasks["eval"]["depends"].split(" && ")) == {"train", "load"}
    eval_tpl = templates["eval"]
    assert eval_tpl["container"]["command"] == ["lode"]
    args = eval_tpl["container"]["args"]
    assert args[:8] == ["stage", "run", "--rev", "{{inputs.parameters.rev}}", "--repo",
                        "{{workflow.parameters.repo}}", "--result", "/tmp/lode-result.json"]
    assert args[-2:] == ["--", "eval"]
    assert sorted(args[8:-2]) == sorted(["--upstream", "{{inputs.parameters.upstream-train}}",
                                       "--upstream", "{{inputs.parameters.upstream-load}}"])
    given = {p["name"]: p["value"] for p in tasks["eval"]["arguments"]["parameters"]}
    assert given == {"rev": "{{workflow.parameters.rev}}",
                     "upstream-train": "{{tasks.train.outputs.parameters.result}}",
                     "upstream-load": "{{tasks.load.outputs.parameters.result}}"}
    assert eval_tpl["outputs"]["parameters"] == [
        {"name": "result", "valueFrom": {"path": "/tmp/lode-result.json", "default": ""}}]
    # the merge runs however each stage ended, and gets every result named by its stage
    merge = tasks["lode-merge"]
    for stage in ("load", "train", "eval"):
        assert "(" + " || ".join(f"{stage}.{e}" for e in ENDED) + ")" in merge["depends"]
    assert templates["lode-merge"]["container"]["args"] == [
        "stage", "merge", "load={{inputs.parameters.result-load}}",
        "train={{inputs.parameters.result-train}}", "eval={{inputs.parameters.result-eval}}",
        "--repo", "{{workflow.parameters.repo}}", "--rev", "{{inputs.parameters.rev}}",
        "--branch", "{{workflow.parameters.branch}}"]
    assert "failFast" not in str(doc)


@needs_hera
def test_the_cron_workflow_follows_the_branch_resolved_once_per_run(lode, churn_proj):
    doc, path = export(lode, churn_proj, "--cron", "0 3 * * 1", "--name", "churn-weekly",
                       "-k", "--recipe", "retrain")
    admitted(doc, path)
    assert doc["kind"] == "CronWorkflow"
    assert doc["metadata"]["name"] == "churn-weekly"
    assert doc["spec"]["schedules"] == ["0 3 * * 1"]
    assert doc["spec"]["concurrencyPolicy"] == "Forbid"
    assert params(doc) == {"repo": str(churn_proj.parent / "origin.git"), "branch": "main"}
    templates, tasks = dag(doc)
    assert list(tasks) == ["lode-rev", "load", "train", "eval", "lode-merge"]
    assert tasks["load"]["depends"] == "lode-rev"
    for name in ("load", "train", "eval", "lode-merge"):
        given = {p["name"]: p["value"] for p in tasks[name]["arguments"]["parameters"]}
        assert given["rev"] == "{{tasks.lode-rev.outputs.parameters.rev}}"
    assert "lode-rev.Failed" in tasks["lode-merge"]["depends"]
    # the recipe: its force on every stage, its post-tasks after the merge, and the
    # notifiers' webhook URLs (secrets) by reference, optional
    assert "--force" in templates["train"]["container"]["args"][:-2]
    merge = templates["lode-merge"]["container"]
    assert merge["args"][-2:] == ["--recipe", "retrain"]
    assert {e["name"] for e in merge["env"]} >= {"AWS_SECRET_ACCESS_KEY",
                                                "LODE_SLACK_WEBHOOK_URL"}
    spec = doc["spec"]["workflowSpec"]
    assert spec["templates"][-1]["dag"]["failFast"] is False


@needs_hera
def test_no_credential_is_written_only_references_to_the_secret(lode, git, tmp_path):
    proj = scaffold_churn(lode, git, tmp_path)
    lode("remote", "modify", "--local", "storage", "secret_access_key", "S3CR3T-IN-CONFIG",
         cwd=proj)
    lode("remote", "modify", "--local", "storage", "access_key_id", "KEY-IN-CONFIG", cwd=proj)
    doc, path = export(lode, proj, "--secret", "team-s3",
                       env={"AWS_SECRET_ACCESS_KEY": "S3CR3T-IN-ENV",
                            "AWS_ACCESS_KEY_ID": "KEY-IN-ENV"})
    text = path.read_text()
    for value in ("S3CR3T-IN-CONFIG", "KEY-IN-CONFIG", "S3CR3T-IN-ENV", "KEY-IN-ENV"):
        assert value not in text
    templates, _ = dag(doc)
    for tpl in templates.values():
        for env in tpl.get("container", {}).get("env", []):
            assert set(env) == {"name", "valueFrom"}
            ref = env["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "team-s3" and ref["key"] == env["name"]
    names = {e["name"]: e["valueFrom"]["secretKeyRef"].get("optional", False)
             for e in templates["train"]["container"]["env"]}
    assert names == {"AWS_ACCESS_KEY_ID": False, "AWS_SECRET_ACCESS_KEY": False,
                     "AWS_SESSION_TOKEN": True}


@needs_hera
def test_odd_stage_names_are_sanitised_and_the_addresses_kept(lode, git, tmp_path):
    proj = small(lode, git, tmp_path)
    doc, path = export(lode, proj, "dvc.yaml", "sub/dvc.yaml")
    admitted(doc, path)
    templates, tasks = dag(doc)
    addresses = {name: templates[name]["container"]["args"][-1]
                 for name in tasks if name != "lode-merge"}
    assert addresses == {"prep-data": "prep_data", "train-lr-1": "train@lr_1",
                         "train-big": "train@Big", "lode-merge-2": "lode-merge",
                         "sub-train-model": "sub/dvc.yaml:train_model"}  # 'old' is frozen
    for name in tasks:
        assert ARGO_NAME.fullmatch(name) and len(name) <= 63
    assert tasks["sub-train-model"]["depends"] == "prep-data"
    assert templates["prep-data"]["container"]["resources"] == {
        "requests": {"cpu": "2", "memory": "4096Mi", "nvidia.com/gpu": "1"},
        "limits": {"memory": "4096Mi", "nvidia.com/gpu": "1"}}
    assert "resources" not in templates["train-big"]["container"]
    # a target: the stage and what it depends on, nothing else
    doc, _ = export(lode, proj, "sub/dvc.yaml:train_model")
    assert list(dag(doc)[1]) == ["prep-data", "sub-train-model", "lode-merge"]


@pytest.mark.parametrize(("case", "words"), [
    ("unknown target", "'nope' is not a stage of dvc.yaml"),
    ("no image", "container image is not set"),
    ("bad name", "'Bad_Name' is not a valid workflow name"),
    ("unknown rev", "'no-such-rev' names no commit"),
    ("dirty", "uncommitted changes in sub/dvc.yaml"),
    ("not pushed", "is not on the remote 'origin'"),
    ("no git remote", "there is no Git remote for the workers to clone"),
    ("branch not pushed", "branch 'topic' is not on the remote 'origin'"),
    ("local data remote", "is a local directory"),
    ("no data remote", "there is no default data remote"),
])
def test_bad_input_is_one_sentence(lode, git, tmp_path, case, words):
    args = ["--image", IMAGE]
    proj = small(lode, git, tmp_path, remote=case != "no git remote",
                 data_remote={"local data remote": str(tmp_path / "store"),
                              "no data remote": None}.get(case, "s3://lode-argo/small"))
    if case == "unknown target":
        args.append("nope")
    elif case == "no image":
        args = []
    elif case == "bad name":
        args += ["--name", "Bad_Name"]
    elif case == "unknown rev":
        args += ["--rev", "no-such-rev"]
    elif case == "dirty":
        (proj / "sub" / "dvc.yaml").write_text("stages: {}\n")
    elif case == "not pushed":
        git("-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", "local",
            cwd=proj)
    elif case == "branch not pushed":
        git("checkout", "-q", "-b", "topic", cwd=proj)
        args += ["--cron", "0 3 * * *"]
    error = assert_one_error(lode("export", "argo", *args, cwd=proj, check=False))
    assert words in error, error
    assert not list(tmp_path.glob("*.yaml"))


def test_starting_lode_imports_neither_hera_nor_distributed(lode, tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "lode", "--version"],
                          env=lode.env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    assert "lode.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in ("hera", "distributed", "dask")}


# ---------------------------------------------------------------- the emulated run

SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def emulate(lode, doc: dict, workdir: Path) -> dict:
    """Run the workflow as Argo would, the credentials only in the Secret (the pods'
    environment has the rest: region, no ~/.aws)."""
    secret = {k: ENV[k] for k in SECRET_KEYS}
    env = {**lode.env, **{k: v for k, v in ENV.items() if k not in SECRET_KEYS}}
    workdir.mkdir()
    return run(doc, {"lode-remote-credentials": secret}, env, workdir,
               programs={"lode": [sys.executable, "-m", "lode"]})


def phases(ended: dict) -> dict[str, str]:
    return {name: task.phase for name, task in ended.items()}


@needs_hera
def test_the_emulated_workflow_equals_a_local_repro(lode, git, churn, local_lock, tmp_path,
                                                     s3_endpoint, s3_bucket, s3_client):
    project = churn(remote=f"s3://{s3_bucket}/store", env=ENV, endpoint=s3_endpoint)
    expected = local_lock(project, env=ENV)  # before the workflow pushes anything
    doc, _ = export(lode, project.root, "--recipe", "compute_metrics")
    ended = emulate(lode, doc, tmp_path / "pods")
    assert phases(ended) == {"load": "Succeeded", "train": "Succeeded", "eval": "Succeeded",
                             "lode-merge": "Succeeded"}, ended["lode-merge"].log
    # each pod ran in an empty directory of its own, the code cloned from the bare repo
    assert ended["train"].argv[:5] == [sys.executable, "-m", "lode", "stage", "run"]
    head = git("rev-parse", "HEAD", cwd=project.root).stdout.strip()
    assert all(f"at {head[:8]}" in ended[s].log for s in ("load", "train", "eval"))
    # the recipe's post-tasks committed the merged dvc.lock and pushed it to the branch
    assert git("rev-parse", "main~1", cwd=project.bare).stdout.strip() == head
    merged = git("show", "main:dvc.lock", cwd=project.bare).stdout.encode()
    assert merged == expected
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert sum(k.startswith("store/runs/") for k in keys) == 3


@needs_hera
def test_a_failed_stage_omits_its_downstream_and_fails_the_merge_on_a_schedule(
        lode, git, new_project, tmp_path, s3_endpoint, s3_bucket):
    project = new_project({"dvc.yaml": FAILING_DVC, "params.yaml": "x: 1\n"},
                          remote=f"s3://{s3_bucket}/store", env=ENV)
    lode("remote", "modify", "storage", "endpointurl", s3_endpoint, cwd=project.root)
    git("commit", "-q", "-am", "the team's S3 endpoint", cwd=project.root)
    git("push", "-q", cwd=project.root)
    # a schedule: its first task resolves the branch to the commit every stage then runs
    doc, _ = export(lode, project.root, "-k", "--cron", "0 3 * * *")
    ended = emulate(lode, doc, tmp_path / "pods")
    assert phases(ended) == {"lode-rev": "Succeeded", "ok": "Succeeded", "bad": "Failed",
                             "after-bad": "Omitted", "lode-merge": "Failed"}
    head = git("rev-parse", "HEAD", cwd=project.root).stdout.strip()
    assert ended["lode-rev"].outputs == {"rev": head}
    for task in ("ok", "bad", "lode-merge"):
        argv = ended[task].argv
        assert argv[argv.index("--rev") + 1] == head
    assert ended["bad"].exit_code == 1 and "boom" in ended["bad"].log
    merge = ended["lode-merge"]
    assert merge.exit_code == 1
    assert "stage 'bad' failed" in merge.log and "stage 'after_bad' failed: no result" \
        in merge.log, merge.log
    assert "stage 'ok': ran" in merge.log
