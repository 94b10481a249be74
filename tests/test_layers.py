"""The package's layers: every import (module level and inside functions) goes down or sideways, never up, no set
of modules imports itself in a cycle, and no two packages side by side import each other (sideways imports go one
way: a two-way pair is one idea in two rooms, or two ideas each holding a piece of the other).

Layers, lowest first (DESIGN.md §2, "Layers"): errors → skeleton/sequence → io/metrics/preprocess/augment (with the
synthetic infant, the mesh helpers, the compilation cache and the backend policy, which use nothing above them) → nn →
models → infer (stacked inference, the trained-model base and format, the family registry) → train →
ensemble/nas/protocols → clinical/explain → report/pipelines/deploy → commands/cli/bench/aot. Every package's
``__init__`` is checked like any module; the package facade ``infantjax`` itself (``infantjax/__init__.py``: lazy
submodules and ``infantjax.load``) belongs to the top layer, so a module below it that imports it (``import
infantjax``, ``from infantjax import lazy_submodules``) imports upward: what it needs lives in a module of its own
(``infantjax._lazy``, ``infantjax._version``, ``infantjax.infer.registry.load``).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "infantjax"

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "_jsonconfig", "_lazy", "_moved", "_version"}),
    frozenset({"skeleton", "sequence"}),
    frozenset({"io", "metrics", "preprocess", "augment", "synth", "parallel", "cache", "backend", "targets"}),
    frozenset({"nn"}),
    frozenset({"models"}),
    frozenset({"infer"}),
    frozenset({"train"}),
    frozenset({"ensemble", "nas", "protocols"}),
    frozenset({"clinical", "explain"}),
    frozenset({"report", "pipelines", "deploy"}),
    frozenset({"commands", "cli", "__main__", "bench", "aot"}),
)


def layer_of(module: str) -> int:
    """The layer of ``infantjax.<part>...`` (by its first component under the package); the facade ``infantjax``
    is in the top layer."""
    if "." not in module:
        return len(LAYERS) - 1
    part = module.split(".")[1]
    for i, names in enumerate(LAYERS):
        if part in names:
            return i
    raise AssertionError(f"{module}: its package {part!r} has no layer; add it to LAYERS in tests/test_layers.py")


def _modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
    out = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, pathlib.Path]) -> str | None:
    """The longest existing module prefix of a dotted name (``a.b.c`` → ``a.b`` when c is an attribute)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(root: pathlib.Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the package modules it imports anywhere in its source (module level and inside functions)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                if target.split(".")[0] != root.name:
                    continue
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != module:
                    edges.add(resolved)
        graph[module] = edges
    return graph


def upward_imports(graph: dict[str, set[str]], layer=layer_of) -> list[str]:
    """Every import from a lower layer to a higher one, the facade ``infantjax`` a target in the top layer (its
    own imports are lazy and not checked)."""
    problems = []
    for module, targets in sorted(graph.items()):
        if "." not in module:
            continue
        for target in sorted(targets):
            if layer(target) > layer(module):
                problems.append(f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # iterative enough for this package's depth
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def two_way_pairs(graph: dict[str, set[str]]) -> list[str]:
    """Every pair of packages side by side — children of one package: ``infantjax.aot`` and ``infantjax.bench``,
    ``infantjax.models.gcn`` and ``infantjax.models.pose`` — where a module anywhere in each (at any depth, an import
    at module level or inside a function) imports a module of the other. A module counts as a package of one
    module (``infantjax.backend``); the package facade ``infantjax`` is skipped."""
    edges: dict[tuple[str, str], tuple[str, str]] = {}
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = module.split("."), target.split(".")
            common = 0
            while common < min(len(a), len(b)) and a[common] == b[common]:
                common += 1
            if common == 0 or common >= min(len(a), len(b)):
                continue  # another root, or one contains the other (a package and its own modules)
            pair = (".".join(a[:common + 1]), ".".join(b[:common + 1]))
            edges.setdefault(pair, (module, target))
    problems = []
    for (x, y), (module, target) in sorted(edges.items()):
        if x < y and (y, x) in edges:
            back_module, back_target = edges[(y, x)]
            problems.append(f"{x} <-> {y}: {module} imports {target}; {back_module} imports {back_target}")
    return problems


def test_no_module_imports_a_higher_layer():
    problems = upward_imports(import_graph())
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_no_two_packages_import_each_other():
    found = two_way_pairs(import_graph())
    assert not found, "packages that import each other:\n" + "\n".join(found)


def test_models_hold_networks_only():
    """Nothing in models/ trains, reads or writes files, or knows the synthetic infant (DESIGN.md)."""
    graph = import_graph()
    banned = ("infantjax.io", "infantjax.synth", "infantjax.train", "infantjax.clinical", "infantjax.pipelines")
    bad = [f"{m} imports {t}" for m, ts in graph.items() if m.startswith("infantjax.models")
           for t in ts if t.startswith(banned)]
    assert not bad, "\n".join(bad)
    for path in (PACKAGE / "models").rglob("*.py"):
        text = path.read_text()
        for call in ("open(", "np.save", "np.load(", "os.replace", "tempfile"):
            assert call not in text, f"{path} calls {call!r}: file access belongs to io/ or pipelines/"


def test_inference_imports_no_optimiser_and_no_training():
    """infer/ (below train/) imports neither optax nor infantjax.train, at module level or inside functions."""
    bad = []
    for path in (PACKAGE / "infer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.name}:{node.lineno} imports {n}" for n in names
                    if n.split(".")[0] == "optax" or n.startswith("infantjax.train")]
    assert not bad, "\n".join(bad)


def test_the_checks_fail_on_a_cycle_and_an_upward_import(tmp_path):
    """A test of the test: a fake package with a cycle (at function level) and an upward import."""
    root = tmp_path / "infantjax"
    (root / "models").mkdir(parents=True)
    (root / "train").mkdir()
    (root / "__init__.py").write_text("")
    (root / "models" / "__init__.py").write_text("")
    (root / "train" / "__init__.py").write_text("")
    (root / "models" / "a.py").write_text("def f():\n    from infantjax.models import b\n")
    (root / "models" / "b.py").write_text("import infantjax.models.a\nfrom infantjax.train import loop\n")
    (root / "train" / "loop.py").write_text("from infantjax.models.a import f\n")
    graph = import_graph(root)
    assert graph["infantjax.models.a"] == {"infantjax.models.b"}
    assert ["infantjax.models.a", "infantjax.models.b", "infantjax.train.loop"] in cycles(graph)
    assert upward_imports(graph) == ["infantjax.models.b (layer 4) imports infantjax.train.loop (layer 6)"]
    with pytest.raises(AssertionError, match="has no layer"):
        layer_of("infantjax.newpackage.x")


def test_the_check_finds_a_two_way_pair_of_packages_at_any_depth(tmp_path):
    """A test of the test: packages importing each other through different modules (no module cycle), one of the
    imports inside a function, at the top and inside a package; one-way imports and a package's own modules pass."""
    root = tmp_path / "infantjax"
    for folder in ("aot", "bench", "models", "models/gcn", "models/pose"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "backend.py").write_text("")
    (root / "aot" / "compile.py").write_text("from infantjax.bench.peaks import x\nimport infantjax.backend\n")
    (root / "aot" / "programs.py").write_text("from infantjax.aot.compile import y\n")
    (root / "bench" / "peaks.py").write_text("x = 1\n")
    (root / "bench" / "harness.py").write_text("def f():\n    from infantjax.aot.programs import z\n")
    (root / "models" / "gcn" / "spec.py").write_text("from infantjax.models.pose import w\n")
    (root / "models" / "pose" / "net.py").write_text("import infantjax.models.gcn.spec\n")
    graph = import_graph(root)
    assert not cycles(graph)
    found = two_way_pairs(graph)
    assert [line.split(":")[0] for line in found] == ["infantjax.aot <-> infantjax.bench",
                                                      "infantjax.models.gcn <-> infantjax.models.pose"]
    assert "infantjax.bench.harness imports infantjax.aot.programs" in found[0]
    (root / "bench" / "harness.py").write_text("")
    (root / "models" / "pose" / "net.py").write_text("")
    assert two_way_pairs(import_graph(root)) == []
