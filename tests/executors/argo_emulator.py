"""What Argo would do with an exported workflow, without a cluster: admit it (hera's models
and Argo's published JSON schema, both strict about unknown keys) and run it (a small DAG
emulator).

The emulator walks the entrypoint DAG in `depends` order with Argo's enhanced-depends
rules (`a` alone means a.Succeeded || a.Skipped || a.Daemoned; a task whose `depends` fails
is Omitted, and an Omitted task's outputs read as ""), substitutes {{workflow.parameters.*}},
{{inputs.parameters.*}} and {{tasks.T.outputs.parameters.P}}, takes secretKeyRef variables
from a dict standing in for the Kubernetes Secrets, and runs each container's argv (no
shell) in a fresh empty directory, reading output parameters from their valueFrom.path
(moved into that directory). failFast is not emulated: with the merge task as the DAG's
only leaf, Argo keeps scheduling every task whose `depends` holds.

hera's check imports `hera.workflows`, which changes PyYAML's representers for the whole
process: it runs in a subprocess (`python argo_emulator.py FILE` prints the problems).
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from graphlib import TopologicalSorter
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent / "fixtures" / "argo" / \
    "argo-workflows-v4.0.5-schema.json.gz"
ARGO_VERSION = "argo-workflows-4.0.5.json"  # hera's generated models name their source
RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned")
OPERAND = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)(?:\.(" + "|".join(RESULTS) + "))?")


# ----------------------------------------------------------------- admission


def hera_models_source() -> str:
    """The first lines of hera's generated Workflow models (found without importing
    hera.workflows)."""
    import importlib.util

    spec = importlib.util.find_spec("hera")
    assert spec and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0], "workflows", "models", "io", "argoproj",
                "workflow", "v1alpha1.py")
    return path.read_text()[:300]


def _diff(a, b, path: str = "$") -> list[str]:
    """What of `a` (the input) is missing or different in `b` (the model's round trip)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k, v in a.items():
            out += _diff(v, b[k], f"{path}.{k}") if k in b else [f"{path}.{k}: unknown field"]
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [p for i, (x, y) in pairs for p in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} became {b!r}"]


def hera_check(doc: dict) -> list[str]:
    """hera's models accept unknown keys silently (pydantic's extra="ignore"): validate,
    dump back, and report what the round trip lost or changed. Call in a subprocess."""
    import pydantic
    from hera.workflows.models import CronWorkflow, Workflow

    model = {"Workflow": Workflow, "CronWorkflow": CronWorkflow}[doc["kind"]]
    try:
        parsed = model.model_validate(doc)
    except pydantic.ValidationError as e:
        return [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
    return _diff(doc, parsed.model_dump(by_alias=True, exclude_unset=True, mode="json"))


def hera_problems(path: str | os.PathLike) -> list[str]:
    """hera_check of a YAML file, in a fresh interpreter."""
    proc = subprocess.run([sys.executable, __file__, str(path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _strict(schema: dict) -> dict:
    """additionalProperties: false on every object that lists its properties (Argo's
    schema has none, so by itself it accepts misspelt keys)."""
    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node \
                    and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    out = copy.deepcopy(schema)
    walk(out["definitions"])
    return out


_SCHEMAS: dict[bool, dict] = {}


def schema_problems(doc: dict, strict: bool = True) -> list[str]:
    """Errors of `doc` against the vendored schema's definition of its kind."""
    import jsonschema

    if strict not in _SCHEMAS:
        with gzip.open(SCHEMA, "rt", encoding="utf-8") as f:
            schema = json.load(f)
        _SCHEMAS[strict] = _strict(schema) if strict else schema
    wrapper = {"$schema": "http://json-schema.org/draft-07/schema#",
               "definitions": _SCHEMAS[strict]["definitions"],
               "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{doc['kind']}"}
    validator = jsonschema.Draft7Validator(wrapper)
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}"
            for e in validator.iter_errors(doc)]


# ----------------------------------------------------------------- execution


def depends_names(expr: str) -> set[str]:
    return {m.group(1) for m in OPERAND.finditer(expr or "")}


def depends_ok(expr: str, phases: dict[str, str]) -> bool:
    if not expr:
        return True

    def value(m: re.Match) -> str:
        phase = phases[m.group(1)]
        ok = phase == m.group(2) if m.group(2) else phase in ("Succeeded", "Skipped", "Daemoned")
        return f" {ok} "

    py = OPERAND.sub(value, expr).replace("&&", " and ").replace("||", " or ")
    return bool(eval(py.replace("!", " not "), {"__builtins__": {}}, {}))  # noqa: S307


def _subst(text: str, scopes: dict[str, str]) -> str:
    def rep(m: re.Match) -> str:
        key = m.group(1).strip()
        if key not in scopes:
            raise KeyError(f"unresolved {{{{{key}}}}}")
        return scopes[key]

    return re.sub(r"\{\{([^}]+)\}\}", rep, text)


class Task:
    """How one DAG task ended: phase, output parameters, argv it ran, its output."""

    def __init__(self, phase: str, outputs: dict | None = None, argv: list | None = None,
                 log: str = "", exit_code: int | None = None) -> None:
        self.phase, self.outputs, self.argv = phase, outputs or {}, argv or []
        self.log, self.exit_code = log, exit_code

    def __repr__(self) -> str:
        return f"Task({self.phase})"


def run(workflow: dict, secrets: dict[str, dict[str, str]], env: dict[str, str],
        workdir: Path, programs: dict[str, list[str]] | None = None,
        timeout: float = 300) -> dict[str, Task]:
    """Run the workflow's DAG; task name -> how it ended. `programs` maps a container's
    command[0] to an argv prefix (e.g. lode -> python -m lode)."""
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])  # a CronWorkflow too
    templates = {t["name"]: t for t in spec["templates"]}
    globals_ = {f"workflow.parameters.{p['name']}": str(p.get("value", ""))
                for p in spec.get("arguments", {}).get("parameters", [])}
    dag = {t["name"]: t for t in templates[spec["entrypoint"]]["dag"]["tasks"]}
    graph = {name: depends_names(t.get("depends", "")) for name, t in dag.items()}
    ended: dict[str, Task] = {}
    for name in TopologicalSorter(graph).static_order():
        task = dag[name]
        if not depends_ok(task.get("depends", ""), {u: ended[u].phase for u in graph[name]}):
            ended[name] = Task("Omitted")
            continue
        scopes = dict(globals_)
        for up, done in ended.items():
            outs = templates[dag[up]["template"]].get("outputs", {}).get("parameters", [])
            for p in outs:
                scopes[f"tasks.{up}.outputs.parameters.{p['name']}"] = \
                    done.outputs.get(p["name"], "")
        given = {p["name"]: _subst(str(p.get("value", "")), scopes)
                 for p in task.get("arguments", {}).get("parameters", [])}
        tpl = templates[task["template"]]
        inner = dict(globals_)
        for p in tpl.get("inputs", {}).get("parameters", []):
            inner[f"inputs.parameters.{p['name']}"] = given[p["name"]]
        ended[name] = _container(name, tpl, inner, secrets, env, workdir, programs or {},
                                 timeout)
    return ended


def _container(name: str, tpl: dict, scopes: dict[str, str], secrets: dict, env: dict,
               workdir: Path, programs: dict[str, list[str]], timeout: float) -> Task:
    c = tpl["container"]
    cwd = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
    (cwd / "outputs").mkdir()
    outputs = {p["name"]: p["valueFrom"] for p in tpl.get("outputs", {}).get("parameters", [])}
    moved = {v["path"]: str(cwd / "outputs" / Path(v["path"]).name) for v in outputs.values()}
    argv = [moved.get(a, a) for a in (_subst(x, scopes) for x in c["command"] + c["args"])]
    argv = [*programs.get(argv[0], argv[:1]), *argv[1:]]
    task_env = dict(env)
    for e in c.get("env", []):
        ref = e["valueFrom"]["secretKeyRef"]  # the export inlines no value
        value = secrets.get(ref["name"], {}).get(ref["key"])
        if value is None and not ref.get("optional"):
            return Task("Errored", log=f"secret {ref['name']}/{ref['key']} missing")
        if value is not None:
            task_env[e["name"]] = value
    proc = subprocess.run(argv, cwd=cwd, env=task_env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    values = {}
    for pname, vf in outputs.items():
        where = Path(moved[vf["path"]])
        if where.exists():
            values[pname] = where.read_text()
        elif "default" in vf:
            values[pname] = vf["default"]
        elif proc.returncode == 0:  # Argo fails a step whose output cannot be read
            return Task("Failed", argv=argv, log=f"output {pname} missing", exit_code=0)
    return Task("Succeeded" if proc.returncode == 0 else "Failed", values, argv,
                proc.stdout + proc.stderr, proc.returncode)


if __name__ == "__main__":
    import yaml

    with open(sys.argv[1], encoding="utf-8") as f:
        document = yaml.safe_load(f)
    print(json.dumps(hera_check(document)))
