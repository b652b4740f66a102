"""`lode dag`: the pipeline as a graph, and the three ways to print it.

The graph is DVC's: a node per stage and per `.dvc` file (with `--outs`, a node per
output instead), and an edge from whatever produces a path to each stage that reads it.
Unlike `lode repro`, a frozen stage keeps its upstream edges here, because `dvc dag`
shows them.

Text (the default) is one block per independent pipeline, blocks separated by a blank
line, one line per node, upstream first::

    1  data/raw.csv.dvc
    2  load              <- data/raw.csv.dvc
    3  train             <- load
    4  eval              <- load, train

    1  lint

The number is the node's layer: 1 for a node that reads nothing the graph makes,
otherwise one more than its deepest upstream node, so nodes of one layer never depend on
each other. After `<-` come the nodes it reads from. DVC draws boxes with grandalf
instead; this needs no layout engine and stays legible however wide the graph is.

DOT is what `dvc dag --dot` writes through networkx and pydot: `strict digraph {`, a
line per node, then a line per edge `"upstream" -> "downstream"`, ordered by the
upstream node, then the downstream one. Mermaid is what `dvc dag --mermaid` writes:
`flowchart TD`, then per pipeline its nodes sorted by name as `nodeN["name"]` (numbered
across pipelines) and its sorted edges; `--md` wraps that in a ```mermaid fence.

Node order is DVC's: the order a walk of the repository finds the files (a directory's
files before its subdirectories), stages in file order, and with `--outs` the outputs
grouped by directory in that order. DVC takes names in the file system's order where
lode sorts them, so only repositories with several pipeline files in one directory
can differ, and only in DOT, which shows the order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from lode.errors import TargetError
from lode.pipeline.graph import PipelineError, Project
from lode.pipeline.graph import find_cycle as graph_find_cycle


@dataclass(frozen=True)
class Dag:
    """Node names in display order and (upstream, downstream) edges between them."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]


def make_dag(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> Dag:
    """A Dag with duplicates dropped and edges in DVC's order (by upstream node, then
    downstream node, as networkx's reverse() of DVC's graph yields them)."""
    names = tuple(dict.fromkeys(nodes))
    pos = {n: i for i, n in enumerate(names)}
    unique = {(a, b) for a, b in edges if a in pos and b in pos and a != b}
    return Dag(names, tuple(sorted(unique, key=lambda e: (pos[e[0]], pos[e[1]]))))


def upstream_map(dag: Dag) -> dict[str, list[str]]:
    """Each node's upstream nodes, in node order."""
    ups: dict[str, list[str]] = {n: [] for n in dag.nodes}
    for a, b in dag.edges:
        ups[b].append(a)
    return ups


def subgraph(dag: Dag, keep: Iterable[str]) -> Dag:
    kept = set(keep)
    return Dag(tuple(n for n in dag.nodes if n in kept),
               tuple(e for e in dag.edges if e[0] in kept and e[1] in kept))


def select(dag: Dag, targets: list[str], full: bool = False) -> Dag:
    """The targets and everything upstream of them; with `full`, every pipeline (weakly
    connected part) a target belongs to, as `dvc dag --full`."""
    links: dict[str, list[str]] = upstream_map(dag)
    if full:
        for a, b in dag.edges:
            links[a].append(b)
    keep = {t for t in targets if t in links}
    todo = list(keep)
    while todo:
        for n in links[todo.pop()]:
            if n not in keep:
                keep.add(n)
                todo.append(n)
    return subgraph(dag, keep)


def pipelines(dag: Dag) -> list[Dag]:
    """The independent parts, ordered by their first node (as DVC's get_pipelines)."""
    links: dict[str, list[str]] = {n: [] for n in dag.nodes}
    for a, b in dag.edges:
        links[a].append(b)
        links[b].append(a)
    seen: set[str] = set()
    parts = []
    for start in dag.nodes:
        if start in seen:
            continue
        part, todo = {start}, [start]
        while todo:
            for n in links[todo.pop()]:
                if n not in part:
                    part.add(n)
                    todo.append(n)
        seen |= part
        parts.append(subgraph(dag, part))
    return parts


def layers(dag: Dag) -> dict[str, int]:
    """Each node's layer (1 + its deepest upstream node's); nodes on a cycle get none."""
    ups = upstream_map(dag)
    downs: dict[str, list[str]] = {n: [] for n in dag.nodes}
    for a, b in dag.edges:
        downs[a].append(b)
    waiting = {n: len(ups[n]) for n in dag.nodes}
    ready = [n for n in dag.nodes if not waiting[n]]
    depth: dict[str, int] = {}
    while ready:
        n = ready.pop()
        depth[n] = 1 + max((depth[u] for u in ups[n]), default=0)
        for d in downs[n]:
            waiting[d] -= 1
            if not waiting[d]:
                ready.append(d)
    return depth


def find_cycle(dag: Dag) -> list[str]:
    """One cycle, upstream first and closed (`a, b, a`), or [] for an acyclic graph."""
    return graph_find_cycle(dag.nodes, upstream_map(dag))


# -- rendering -----------------------------------------------------------------------------
def render_text(dag: Dag) -> str:
    """The layered listing described in the module docstring; '' for an empty graph."""
    blocks = []
    for part in pipelines(dag):
        depth, ups = layers(part), upstream_map(part)
        pos = {n: i for i, n in enumerate(part.nodes)}
        order = sorted(part.nodes, key=lambda n: (depth.get(n, 0), pos[n]))
        num = len(str(max(depth.values(), default=0)))
        name = max(len(n) for n in part.nodes)
        lines = []
        for n in order:
            line = f"{depth.get(n, '?'):>{num}}  {n}"
            if ups[n]:
                line = f"{line:<{num + 2 + name}}  <- {', '.join(ups[n])}"
            lines.append(line)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _dot_id(name: str) -> str:
    # Always quoted, as DVC does, since `:` in `dvc.yaml:stage` is a port separator in DOT.
    return '"' + name.replace('"', '\\"') + '"'


def render_dot(dag: Dag) -> str:
    """Graphviz DOT, byte for byte what `dvc dag --dot` writes (pipe it to `dot -Tpng`)."""
    lines = ["strict digraph {"]
    lines += [f"{_dot_id(n)};" for n in dag.nodes]
    lines += [f"{_dot_id(a)} -> {_dot_id(b)};" for a, b in dag.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_mermaid(dag: Dag, markdown: bool = False) -> str:
    """A Mermaid flowchart as `dvc dag --mermaid` (or `--md`, fenced) writes it."""
    lines = ["flowchart TD"]
    count = 0
    for part in pipelines(dag):
        ids: dict[str, str] = {}
        for n in sorted(part.nodes):
            count += 1
            ids[n] = f"node{count}"
            # DVC writes the name raw; a `"` would end Mermaid's label, so use its entity.
            label = n.replace('"', "#quot;")
            lines.append(f'\t{ids[n]}["{label}"]')
        lines += [f"\t{ids[a]}-->{ids[b]}" for a, b in sorted(part.edges)]
    text = "\n".join(lines)
    return f"```mermaid\n{text}\n```" if markdown else text


# -- building the graph from a project -----------------------------------------------------
@dataclass
class _Node:
    name: str
    outs: list[str]  # absolute paths
    reads: list[str]  # absolute paths of deps and params files
    file: str | None = None  # a .dvc file's absolute path; None for a stage


def _walk_key(path: str, root: str) -> tuple:
    # Sorts paths as a top-down walk meets them: a directory's files before its subdirs.
    parts = os.path.relpath(path, root).split(os.sep)
    return (*((1, p) for p in parts[:-1]), (0, parts[-1]))


def _nodes(project: Project, pointers: list, cwd: str) -> list[_Node]:
    root = project.repo.root
    keyed = []
    for i, s in enumerate(project.stages):
        reads = s.dep_paths + [s.abspath(p.path) for p in s.params]
        node = _Node(s.address(cwd), s.out_paths, reads)
        keyed.append(((_walk_key(s.dvcfile, root), i), node))
    for p in pointers:
        node = _Node(os.path.relpath(p.path, cwd), [p.out_abspath(o) for o in p.outs], [], p.path)
        keyed.append(((_walk_key(p.path, root), 0), node))
    keyed.sort(key=lambda t: t[0])
    return [node for _, node in keyed]


class _Owners:
    """Who declares each output, to find what a path overlaps as DVC's outs trie does:
    the output itself, an output directory holding it, or outputs inside it."""

    def __init__(self, nodes: list[_Node], root: str) -> None:
        self.root = root
        self.exact: dict[str, list[tuple[_Node, str]]] = {}
        self.under: dict[str, list[tuple[_Node, str]]] = {}
        for node in nodes:
            for out in node.outs:
                self.exact.setdefault(out, []).append((node, out))
                for d in self._parents(out):
                    self.under.setdefault(d, []).append((node, out))

    def _parents(self, path: str):
        d = os.path.dirname(path)
        while len(d) > len(self.root):
            yield d
            d = os.path.dirname(d)

    def overlapping(self, path: str) -> list[tuple[_Node, str]]:
        found = list(self.exact.get(path, []))
        for d in self._parents(path):
            found += self.exact.get(d, [])
        return found + self.under.get(path, [])


def _trie_order(paths: list[str]) -> list[str]:
    """Paths grouped by directory, each group where its first member was (DVC lists
    outputs from a trie of path components, pre-order, in insertion order)."""
    trie: dict = {}
    for p in paths:
        at = trie
        for part in p.split(os.sep):
            at = at.setdefault(part, {})
        at.setdefault(None, p)  # None is never a path component
    found: list[str] = []
    todo = [trie]
    while todo:
        at = todo.pop()
        if None in at:
            found.append(at[None])
        todo += [child for k, child in reversed(at.items()) if k is not None]
    return found


def build(project: Project, pointers: list, cwd: str, outs: bool = False) -> Dag:
    """The whole graph of the project's stages and `.dvc` files (`pointers`, as
    load_project collects them), or with `outs` of their outputs. Names are relative to
    `cwd`, as DVC prints them."""
    nodes = _nodes(project, pointers, cwd)
    owners = _Owners(nodes, project.repo.root)
    links = [(up, src, n) for n in nodes for dep in n.reads
             for up, src in owners.overlapping(dep) if up is not n]
    stages = make_dag((n.name for n in nodes), ((up.name, n.name) for up, _, n in links))
    # The project refuses cycles already, except through a frozen stage, whose upstream
    # edges repro ignores but dag draws; DVC refuses to draw such a graph, and so do we.
    cycle = find_cycle(stages)
    if cycle:
        raise PipelineError(f"the pipeline has a cycle: {' -> '.join(cycle)}.",
                            "A frozen stage's dependencies count here too.")
    if not outs:
        return stages
    rel = {o: os.path.relpath(o, cwd) for n in nodes for o in n.outs}
    order = _trie_order([o for n in nodes for o in n.outs])
    edges = [(rel[src], rel[out]) for _, src, n in links for out in n.outs]
    return make_dag((rel[o] for o in order), edges)


def target_names(project: Project, pointers: list, target: str, cwd: str,
                 outs: bool = False) -> list[str]:
    """The nodes TARGET names: a stage, a group, a dvc.yaml (as `lode repro` reads them),
    else a `.dvc` file or a path that some stage or `.dvc` file outputs (as DVC does)."""
    try:
        stages = project.resolve_targets([target], cwd)
    except TargetError as e:
        path = os.path.normpath(os.path.join(cwd, target))
        nodes = _nodes(project, pointers, cwd)
        hits = [(n, o) for n in nodes if n.file == path for o in n.outs]
        hits += _Owners(nodes, project.repo.root).overlapping(path)
        named = [n.name for n in nodes if n.file == path] + [n.name for n, _ in hits]
        if not named:
            if ":" in target:
                raise
            raise TargetError(f"'{target}' is not a stage, a .dvc file or an output.",
                              e.hint) from None
        if outs:
            return list(dict.fromkeys(os.path.relpath(o, cwd) for _, o in hits))
        return list(dict.fromkeys(named))
    if outs:
        return [os.path.relpath(o, cwd) for s in stages for o in s.out_paths]
    return [s.address(cwd) for s in stages]


def project_dag(project: Project, pointers: list, cwd: str, target: str | None = None,
                full: bool = False, outs: bool = False) -> Dag:
    """What `lode dag [TARGET] [--full] [--outs]` shows."""
    dag = build(project, pointers, cwd, outs)
    if target is None:
        return dag
    return select(dag, target_names(project, pointers, target, cwd, outs), full)
