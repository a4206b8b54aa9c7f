"""The layers of DESIGN.md ("Layout") hold in the import graph, and no module imports itself round a circle.

The graph is read with :mod:`ast` from every ``.py`` file of the five Python layers, counting every import
statement wherever it stands (module level, inside functions, under ``if TYPE_CHECKING``), relative imports
resolved against their package. Nothing is imported, so the check sees imports that only run on some paths.

Hand-written rather than ``import-linter``/``grimp``: the walk is ~50 lines of :mod:`ast`, it needs no new pin,
and the rules below are the design's table verbatim; strongly connected components come from ``networkx``
(already installed with torch).

Rules (DESIGN.md "Layout"; a layer may always import itself and third-party libraries):

=================  =========================================================================================
``benchtrust``     nothing else of the project, and no ``dagster``/``dagster_*`` (the core library)
``data_contracts`` ``benchtrust``
``assets``         ``benchtrust``, ``data_contracts``, the assembly leaves (below)
``sensors``        ``pipelines``, ``benchtrust``
``pipelines``      everything, except that its leaves import only ``benchtrust`` and each other
=================  =========================================================================================

Where the rule differs from the table, and why:

* ``assets`` → the *leaves* of the assembly layer, not only ``pipelines.resources``: ``pipelines.partitions`` (the
  dynamic partition definitions the assets are partitioned by, which the jobs, sensors and schedules must name as
  the *same* objects), ``pipelines.instance`` (the pool names, INFERENCE_POOL / WAREHOUSE_POOL, declared beside the
  instance's concurrency limits they refer to: an asset names the pool it runs in) and ``pipelines.dbt_project``
  (the dbt project and translator, which DESIGN.md puts in ``pipelines/``; ``assets/dbt.py`` builds the dbt assets
  from them). The test holds these leaves to importing only ``benchtrust``, third-party libraries, each other and
  ``sensors.automation``, so an asset can never reach the Definitions, the jobs or the sensors through them.
* the assembly leaves → ``sensors.automation``: the dbt translator gives every dbt model the warehouse's
  automation condition, and DESIGN.md puts automation conditions in ``sensors/``. ``sensors.automation`` imports
  nothing of the project (held to that here), so this adds no path back into the assembly layer.
* ``sensors`` → ``benchtrust``: the table writes only ``pipelines``, but a sensor has to read the registries
  and the lake through the core library to see that an upstream model or dataset changed; the issue's brief
  lists the core library among a sensor's imports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parent.parent
LAYERS = ("benchtrust", "data_contracts", "assets", "sensors", "pipelines")
# modules of the assembly layer the assets may import; they import only benchtrust and each other
ASSEMBLY_LEAVES = ("pipelines.resources", "pipelines.partitions", "pipelines.instance", "pipelines.dbt_project")
# rule (a layer, or one module: the longest matching name wins) -> the project modules (prefixes) it may import
# besides itself; None: anything
ALLOWED: dict[str, tuple[str, ...] | None] = {
    "benchtrust": (),
    "data_contracts": ("benchtrust",),
    "assets": ("benchtrust", "data_contracts", *ASSEMBLY_LEAVES),
    "sensors": ("pipelines", "benchtrust"),
    "pipelines": None,
    **dict.fromkeys(ASSEMBLY_LEAVES, ("benchtrust", *ASSEMBLY_LEAVES, "sensors.automation")),
    "sensors.automation": (),  # the automation conditions: Dagster only
}
# third-party packages a layer must not import (the core library has no Dagster)
FORBIDDEN_THIRD_PARTY: dict[str, tuple[str, ...]] = {"benchtrust": ("dagster", "dagster_*")}


@dataclass
class ImportGraph:
    root: Path
    modules: dict[str, Path] = field(default_factory=dict)  # module name -> file
    packages: set[str] = field(default_factory=set)
    # (importer, imported module or package, line): project-internal edges
    edges: list[tuple[str, str, int]] = field(default_factory=list)
    # (importer, top-level third-party name, line)
    external: list[tuple[str, str, int]] = field(default_factory=list)


def _module_name(root: Path, path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def build_graph(root: Path, layers: tuple[str, ...] = LAYERS) -> ImportGraph:
    """Every import statement of every ``.py`` file under ``root/<layer>/``, resolved to a project module
    (the longest known module name the import names) or a third-party top-level package."""
    g = ImportGraph(root=root)
    trees: dict[str, tuple[ast.Module, bool]] = {}
    for layer in layers:
        for path in sorted((root / layer).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name, is_pkg = _module_name(root, path)
            g.modules[name] = path
            if is_pkg:
                g.packages.add(name)
            trees[name] = (ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), is_pkg)

    def resolve(target: str) -> str | None:
        """The longest project module that ``target`` names (``a.b.c`` may be a function ``c`` of ``a.b``)."""
        parts = target.split(".")
        for i in range(len(parts), 0, -1):
            cand = ".".join(parts[:i])
            if cand in g.modules:
                return cand
        return None

    for name, (tree, is_pkg) in trees.items():
        package = name if is_pkg else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = package.split(".") if package else []
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)] if node.level > 1 else base_parts
                    base = ".".join([*base_parts, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                # `from pkg import sub` imports the submodule when there is one, else a name of pkg
                targets = [f"{base}.{a.name}" if base else a.name for a in node.names if a.name != "*"] or [base]
            else:
                continue
            for t in targets:
                mod = resolve(t)
                if mod is not None:
                    g.edges.append((name, mod, node.lineno))
                elif t.split(".")[0] not in layers:
                    g.external.append((name, t.split(".")[0], node.lineno))
                else:  # a project module that does not exist in the checkout: still a layer crossing
                    g.edges.append((name, t, node.lineno))
    return g


def _layer(module: str) -> str:
    return module.split(".")[0]


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _rule(module: str, allowed: dict[str, tuple[str, ...] | None]) -> str:
    """The most specific rule for a module: its own name or a package above it, else its layer."""
    return max((k for k in allowed if _matches(module, k)), key=len, default=_layer(module))


def layer_violations(
    g: ImportGraph,
    allowed: dict[str, tuple[str, ...] | None] = ALLOWED,
    forbidden: dict[str, tuple[str, ...]] = FORBIDDEN_THIRD_PARTY,
) -> list[str]:
    """One line per import that crosses the layer rules: file, line, importer, imported module, the rule."""
    out = []
    for src, dst, line in sorted(set(g.edges)):
        rule = _rule(src, allowed)
        ok = allowed.get(rule, ())
        if ok is None or _matches(dst, rule) or any(_matches(dst, p) for p in ok):
            continue
        path = g.modules[src]
        out.append(
            f"{path.relative_to(g.root)}:{line}: {src} imports {dst} ({rule!r} may import only itself"
            f"{', ' + ', '.join(ok) if ok else ''} and third-party libraries)"
        )
    for src, pkg, line in sorted(set(g.external)):
        for pat in forbidden.get(_layer(src), ()):
            if pkg == pat or (pat.endswith("*") and pkg.startswith(pat[:-1])):
                out.append(
                    f"{g.modules[src].relative_to(g.root)}:{line}: {src} imports {pkg} (forbidden in {_layer(src)!r})"
                )
    return out


def import_cycles(g: ImportGraph) -> list[str]:
    """One line per strongly connected component of more than one module: its members and one circle in it."""
    dg = nx.DiGraph()
    dg.add_nodes_from(g.modules)
    for src, dst, _ in g.edges:
        if src != dst and dst in g.modules:
            dg.add_edge(src, dst)
    out = []
    for scc in nx.strongly_connected_components(dg):
        if len(scc) < 2:
            continue
        cycle = nx.find_cycle(dg.subgraph(scc))
        path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
        out.append(f"circle among {sorted(scc)}: {path}")
    return sorted(out)


def test_the_checkout_keeps_the_layers() -> None:
    g = build_graph(REPO)
    assert len(g.modules) > 50 and g.edges, "the walk found no modules: wrong root?"
    problems = layer_violations(g)
    assert not problems, "layer violations (DESIGN.md, Layout):\n" + "\n".join(problems)


def test_the_checkout_has_no_import_circles() -> None:
    cycles = import_cycles(build_graph(REPO))
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_the_checker_reports_a_violation_and_a_circle(tmp_path: Path) -> None:
    """A small tree with one violation of each kind and one circle: the checks above can fail."""
    files = {
        "benchtrust/__init__.py": "",
        "benchtrust/core.py": "def f():\n    from pipelines import run  # a function-level import\n",
        "benchtrust/sub/__init__.py": "",
        "benchtrust/sub/a.py": "from . import b\n",
        "benchtrust/sub/b.py": "from ..sub.c import thing\n",
        "benchtrust/sub/c.py": "import benchtrust.sub.a\nthing = 1\n",
        "benchtrust/ok.py": "import numpy\nfrom benchtrust.sub import c\n",
        "benchtrust/orch.py": "import dagster as dg\n",
        "data_contracts/__init__.py": "from benchtrust.ok import numpy\n",
        "assets/__init__.py": "from pipelines.resources import R\nfrom pipelines.jobs import J\n",
        "pipelines/__init__.py": "",
        "pipelines/resources.py": "R = 1\nif R:\n    from pipelines.run import go\n",
        "pipelines/run.py": "def go():\n    from sensors import x\n",
        "pipelines/jobs.py": "import assets\nJ = 1\n",
        "sensors/__init__.py": "from pipelines import jobs\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    g = build_graph(tmp_path)
    problems = layer_violations(g)
    assert len(problems) == 4, problems
    assert any(p.startswith("benchtrust/core.py:2: benchtrust.core imports pipelines.run") for p in problems)
    assert any("assets/__init__.py:2: assets imports pipelines.jobs" in p for p in problems), problems
    assert any("benchtrust.orch imports dagster" in p for p in problems), problems
    # a leaf of the assembly layer that reaches into the rest of it
    assert any("pipelines/resources.py:3: pipelines.resources imports pipelines.run" in p for p in problems), problems
    cycles = import_cycles(g)
    assert len(cycles) == 2, cycles
    assert any("benchtrust.sub.a" in c and "benchtrust.sub.b" in c and "benchtrust.sub.c" in c for c in cycles)
    assert any("'assets'" in c and "'pipelines.jobs'" in c for c in cycles), cycles
