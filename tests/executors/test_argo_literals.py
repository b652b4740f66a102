"""`lode export argo` writes no value Argo or Kubernetes would evaluate: a stage (a foreach
key), an image, a branch or a recipe holding `{{...}}` (Argo's templates and expressions,
which cannot be escaped) or `$(...)` (Kubernetes' expansion from the container's
environment, where the remote's credentials are) is one ERROR sentence, and no YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from lode_plugins.exporters.argo import ExportError, check_literal

from tests.executors.test_argo import IMAGE, dag, export, needs_hera, push_new_project
from tests.integration.pipeline_helpers import assert_one_error, write

pytestmark = needs_hera

EVIL = ["{{workflow.parameters.repo}}", "{{=sprig.env('AWS_SECRET_ACCESS_KEY')}}",
        "$(AWS_SECRET_ACCESS_KEY)"]


def project(lode, git, where: Path, key: str) -> Path:
    proj = where / "proj"
    proj.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=proj)
    lode("init", "-q", cwd=proj)
    write(proj, {"dvc.yaml": """\
        stages:
          fit:
            foreach: ["ok", "KEY"]
            do:
              cmd: echo fit > "out-${item}.txt"
              outs: ["out-${item}.txt"]
        """.replace("KEY", key)})
    lode("remote", "add", "-d", "storage", "s3://lode-argo/literal", cwd=proj)
    git("add", "-A", cwd=proj)
    git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "p", cwd=proj)
    return push_new_project(git, proj, where / "proj.git")


def test_check_literal():
    assert check_literal("train@lr_1 {x} $HOME ${y}", "the stage") == "train@lr_1 {x} $HOME ${y}"
    for evil in EVIL:
        with pytest.raises(ExportError, match="there is no way to escape it"):
            check_literal(f"train@{evil}", "the stage")


@pytest.mark.parametrize("evil", EVIL)
def test_a_stage_address_argo_would_evaluate_is_refused(lode, git, tmp_path, evil):
    proj = project(lode, git, tmp_path, evil)
    proc = lode("export", "argo", "--image", IMAGE, "-o", tmp_path / "wf.yaml", cwd=proj,
                check=False)
    error = assert_one_error(proc)
    assert "the stage" in error and "fit@" in error and "there is no way to escape" in error
    assert not (tmp_path / "wf.yaml").exists()
    # the plain one alone still exports, its address as it is
    doc, _ = export(lode, proj, "fit@ok")
    templates, tasks = dag(doc)
    assert templates["fit-ok"]["container"]["args"][-2:] == ["--", "fit@ok"]


@pytest.mark.parametrize(("option", "value", "what"), [
    ("--image", "img:{{workflow.name}}", "the image"),
    ("--image", "img:$(AWS_SECRET_ACCESS_KEY)", "the image"),
    ("--secret", "creds-{{=sprig.env('X')}}", "the secret name"),
])
def test_options_argo_would_evaluate_are_refused(lode, git, tmp_path, option, value, what):
    proj = project(lode, git, tmp_path, "plain")
    args = ["--image", IMAGE, option, value] if option != "--image" else [option, value]
    proc = lode("export", "argo", *args, "-o", tmp_path / "wf.yaml", cwd=proj, check=False)
    error = assert_one_error(proc)
    assert what in error, error
    assert not (tmp_path / "wf.yaml").exists()


def test_a_branch_argo_would_evaluate_is_refused_on_a_schedule(lode, git, tmp_path):
    proj = project(lode, git, tmp_path, "plain")
    git("checkout", "-q", "-b", "x{{workflow.uid}}", cwd=proj)
    git("push", "-q", "-u", "origin", "HEAD", cwd=proj)
    proc = lode("export", "argo", "--image", IMAGE, "--cron", "0 3 * * *", "-o",
                tmp_path / "wf.yaml", cwd=proj, check=False)
    error = assert_one_error(proc)
    assert "the branch" in error, error
    assert not (tmp_path / "wf.yaml").exists()
