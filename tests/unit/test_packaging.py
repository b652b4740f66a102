"""What the `lode` distribution ships: every package of the tree, the templates (hidden
files too), the plugins with their entry points, and a regular (not editable) install of
the wheel that scaffolds a project; and the `report` extra, which start-up never needs."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
# the folders of the three import packages, as package-dir maps them
PACKAGE_DIRS = {"lode": "lode", "lode_plugins": "plugins", "lode_templates": "templates"}


def packages_in_tree() -> set[str]:
    found = set()
    for name, folder in PACKAGE_DIRS.items():
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO_ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    return found


def test_package_dir_maps_the_three_import_packages():
    assert SETUPTOOLS["package-dir"] == PACKAGE_DIRS


def test_the_packages_list_names_every_package_in_the_tree():
    listed = set(SETUPTOOLS["packages"])
    in_tree = packages_in_tree()
    assert sorted(in_tree - listed) == [], "packages missing from [tool.setuptools] packages"
    assert sorted(listed - in_tree) == [], "listed packages without a folder and __init__.py"


def test_the_templates_are_package_data_hidden_files_included():
    assert set(SETUPTOOLS["package-data"]["lode_templates"]) >= {"**/*", "**/.*"}


# --------------------------------------------------------------------------- the wheel


def _wheel_build_args() -> list[str]:
    """Without build isolation when this python can build a wheel itself (setuptools
    70.1+, or the `wheel` package): offline and fast; else pip fetches the build
    requirements from its configured index, as any `pip install .` does."""
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None:
        return ["--no-build-isolation"]
    return []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a copy of the checkout's sources (the checkout's build/ is left alone,
    and no stale file of an earlier build gets in)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src / name)
    for name in PACKAGE_DIRS.values():
        shutil.copytree(REPO_ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = root / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *_wheel_build_args(),
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("lode-*.whl")
    return built


def _entry_points(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # entry point names are case-sensitive
    parser.read_string(text)
    return {group: dict(parser[group]) for group in parser.sections()}


@pytest.mark.timeout(600)  # slow-ish: a wheel build, a venv and two CLI runs
def test_the_wheel_ships_templates_plugins_and_entry_points(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        shipped = _entry_points(z.read(entry_points).decode("utf-8"))
    churn = REPO_ROOT / "templates" / "churn"
    template_files = {f"lode_templates/churn/{p.relative_to(churn).as_posix()}"
                      for p in churn.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert "lode_templates/churn/.gitignore" in template_files  # a hidden one is in the test
    assert sorted(template_files - names) == []
    assert "lode_plugins/remotes/s3.py" in names
    assert "lode/cli/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "pipelines/", "dodo.py"))]
    expected = {group: dict(table) for group, table in PYPROJECT["project"]["entry-points"].items()}
    expected["console_scripts"] = dict(PYPROJECT["project"]["scripts"])
    assert shipped == expected


@pytest.mark.timeout(600)
def test_a_regular_install_of_the_wheel_lists_and_scaffolds_the_templates(
        wheel, base_env, tmp_path):
    venv = tmp_path / "venv"
    # the dependencies come from this python's site-packages; lode itself from the wheel
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         "--no-index", "--ignore-installed", str(wheel)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {k: v for k, v in base_env.items() if k != "PYTHONPATH"}  # not this checkout
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    site = subprocess.run(
        [str(py), "-c", "import lode, lode_plugins, lode_templates as t; "
         "print(lode.__file__, lode_plugins.__file__, t.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(path.startswith(str(venv)) for path in site), site
    lode = str(venv / "bin" / "lode")
    listed = subprocess.run([lode, "templates"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("churn ")
    made = subprocess.run([lode, "init", "--template", "churn", "proj"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    proj = tmp_path / "proj"
    churn = REPO_ROOT / "templates" / "churn"
    for name in ("dvc.yaml", "recipes.yaml", "dodo.py", ".gitignore"):
        assert (proj / name).read_bytes() == (churn / name).read_bytes(), name
    assert (proj / ".dvc" / "config").is_file()


# --------------------------------------------------------------------- the report extra

_WITHOUT_VL_CONVERT = ("import sys; sys.modules['vl_convert'] = None; "  # as if not installed
                       "from lode.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.mark.parametrize("command", [["plots", "show"], ["report"]])
def test_plots_and_reports_without_the_report_extra_say_so_in_one_sentence(
        command, lode, git_repo):
    lode("init", cwd=git_repo)
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_VL_CONVERT, *command],
                          cwd=git_repo, env=lode.env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == ("ERROR: plots and reports need the 'report' extra: "
                           "pip install 'lode[report]'\n")
    assert proc.stdout == ""


def test_the_report_extra_holds_vl_convert_and_the_core_does_not():
    assert not [d for d in PYPROJECT["project"]["dependencies"] if "vl-convert" in d]
    assert [d for d in PYPROJECT["project"]["optional-dependencies"]["report"]
            if d.startswith("vl-convert-python")]


def test_start_up_does_not_import_vl_convert(lode, git_repo):
    lode("init", cwd=git_repo)
    probe = ("import sys; from lode.cli import main; code = main(['status']); "
             "print(sorted(m for m in sys.modules if m.startswith('vl_convert')))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=git_repo, env=lode.env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"
