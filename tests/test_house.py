"""The house (STYLE.md): data flows one way; each room imports only the rooms upstream.

Read from the source (every import statement, also those inside functions), so a
lazy import cannot hide a cycle or a room reaching downstream.
"""

import ast
from functools import cache
from pathlib import Path

import mace_outcomes

PACKAGE = Path(mace_outcomes.__file__).parent

# upstream first; the private modules at the top level (_frames, _format, _stats, ...)
# and errors are the foundation every room may import
# scale/ (the Dask engine) builds on the estimators' kernels and results and is used by
# the report's Dask engine
RANK = {"records": 1, "datasets": 2, "survival": 2, "regression": 3, "weighting": 4,
        "outcomes": 5, "scale": 5, "tables": 6, "plots": 7, "report": 8, "cli": 9}
# A public estimator hands a Dask frame to scale/ (API.md "Scale-out"): the one import
# that reaches downstream, made inside the estimator (scale/ imports the rooms' kernels
# and results).
DISPATCH = {"kaplan_meier", "logrank", "cox", "propensity", "compare_arms", "time_to_event",
            "read_cohort"}


def _dispatch(b: str, func) -> bool:
    return b.split(".")[:2] == ["mace_outcomes", "scale"] and func in DISPATCH


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(name: str) -> bool:
    p = PACKAGE.parent / name.replace(".", "/")
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


@cache
def _imports() -> tuple:
    """(importer, imported module, inside which function or None) for every import."""
    out = []
    for path in PACKAGE.rglob("*.py"):
        mod = _module(path)
        pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom | ast.Import):
                continue
            func, up = None, parents.get(node)
            while up is not None and func is None:
                if isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef):
                    func = up.name
                up = parents.get(up)
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = pkg.split(".")
                base = base[:len(base) - node.level + 1] if node.level else []
                stem = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{stem}.{a.name}" if _exists(f"{stem}.{a.name}") else stem
                           for a in node.names]
            out += [(mod, t, func) for t in targets
                    if t.startswith("mace_outcomes.") and t != mod]
    return tuple(out)


def _room(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None  # None: foundation


def test_the_graph_is_read():
    # the reader finds imports both at module level and inside functions
    edges = {(a, b) for a, b, _ in _imports()}
    assert ("mace_outcomes.tables.table_one", "mace_outcomes._stats") in edges
    assert ("mace_outcomes.survival.kaplan_meier", "mace_outcomes.plots") in edges


def test_no_module_imports_one_that_imports_it():
    graph: dict[str, set] = {}
    for a, b, func in _imports():
        if not _dispatch(b, func):
            graph.setdefault(a, set()).add(b)
    # depth-first search for a cycle (packages count: importing one runs its __init__)
    cycles, state = [], {}

    def visit(node, path):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_rooms_import_only_upstream():
    wrong = []
    for a, b, func in _imports():
        ra, rb = _room(a), _room(b)
        if ra is None and rb is not None:
            wrong.append((a, b))  # the foundation knows no room
        elif ra is not None and rb is not None and ra != rb and RANK[rb] >= RANK[ra]:
            # a result's .plot() hands itself to plots/ (STYLE.md: "A kernel and its result")
            if not (rb == "plots" and func == "plot") and not _dispatch(b, func):
                wrong.append((a, b))
    assert wrong == []


def test_the_statistics_kernels_live_upstream_of_every_room():
    assert not (PACKAGE / "tables" / "_tests.py").exists()
    users = {a for a, b, _ in _imports() if b == "mace_outcomes._stats"}
    assert {"mace_outcomes.tables.table_one", "mace_outcomes.outcomes.compare"} <= users
