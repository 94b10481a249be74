"""The dependencies keep their promises: what ``pyproject.toml`` requires is what the package imports, the
extras cannot change the core's JAX, and no private name of Optuna is used."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import pathlib
import re
import sys
import tomllib

from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "infantjax"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


@functools.cache
def _imports() -> dict[str, list[str]]:
    """Top-level third-party module -> the package's files importing it (anywhere in the file; parsed once)."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "infantjax" and top not in sys.stdlib_module_names:
                    found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


@functools.cache
def _installed() -> dict[str, list[str]]:
    """Importable top-level name -> the installed distributions providing it (read once: each call of
    ``packages_distributions`` reads every installed distribution's file list, ~0.3 s)."""
    return importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    """The distributions that install ``module`` (its own name where none installed here does)."""
    mapped = _installed().get(module)
    return {_name(d) for d in mapped} if mapped else {_name(module)}


def _requirements_of(names: set[str]) -> set[str]:
    """``names`` and every distribution they require, transitively, as installed here."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [_name(Requirement(r).name) for r in requires if "extra ==" not in r]
    return seen


def test_every_core_dependency_is_imported_by_the_package_and_every_import_is_declared():
    core = {_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    extras = {_name(Requirement(r).name) for reqs in PROJECT["optional-dependencies"].values() for r in reqs}
    imports = _imports()
    imported = set().union(*(_distributions(m) for m in imports))
    unused = core - imported
    assert not unused, f"core dependencies no module of the package imports (move them to an extra): {unused}"
    provided = _requirements_of(core) | extras
    undeclared = {m: files[:2] for m, files in imports.items() if not _distributions(m) & provided}
    assert not undeclared, f"imported but neither required nor brought by a requirement: {undeclared}"


def test_pandas_is_for_tests_only_and_pillow_is_the_trackers():
    core = {_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    test = {_name(Requirement(r).name) for r in PROJECT["optional-dependencies"]["test"]}
    assert "pandas" not in core and "pandas" in test and "pandas" not in _imports()
    # the pose tracker's region-of-interest crops resize with Pillow: a runtime dependency
    assert "pillow" in core and "PIL" in _imports()


def test_the_aot_extra_keeps_the_core_jax():
    """The compile wheels follow the installed jax (JAX's own extras pin libtpu and the CUDA plugin to it), in
    the core's range: no pin of jax, jaxlib or a plugin that could move jax."""
    core = {Requirement(r).name: Requirement(r) for r in PROJECT["dependencies"]}
    for text in PROJECT["optional-dependencies"]["aot"]:
        req = Requirement(text)
        assert not any(s.operator in ("==", "===", "~=") for s in req.specifier), text
        if req.name == "jax":
            assert req.specifier == core["jax"].specifier and {"tpu", "cuda12-local"} <= req.extras
        else:
            assert not req.name.startswith(("jax", "libtpu")), f"{text}: pinned apart from jax"


def test_optuna_is_at_least_4_3_and_no_private_optuna_name_is_used():
    """Optuna 4.3 releases a journal lock a killed worker left (tests/test_nas_optuna.py); the package uses
    Optuna's public API only: no module or name with a leading underscore, no private attribute of its
    objects."""
    (optuna,) = [Requirement(r) for r in PROJECT["dependencies"] if Requirement(r).name == "optuna"]
    assert optuna.specifier.contains("4.3") and not optuna.specifier.contains("4.2.1")
    private = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if "optuna" not in text:
            continue
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "optuna":
                parts = node.module.split(".") + [a.name for a in node.names]
                if any(part.startswith("_") for part in parts):
                    private.append(f"{path.name}:{node.lineno} from {node.module} import ...")
            elif isinstance(node, ast.Attribute) and node.attr in ("_trial_id", "_study_id"):
                private.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert not private, private


def test_the_documented_zoo_network_runs_as_a_flax_nnx_module():
    """docs/architecture.md shows a zoo network (the SMA CNN, trained variables included) through Flax NNX's
    Linen bridge: the block runs as written and the NNX module computes what the Linen module computes."""
    import numpy as np
    from flax import nnx

    from infantjax import models

    doc = (ROOT / "docs" / "architecture.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "nnx.bridge.ToNNX" in b]
    namespace: dict = {}
    exec(compile(block, "docs/architecture.md", "exec"), namespace)  # noqa: S102 - our own documentation
    sma, variables, windows, net = (namespace[k] for k in ("sma", "variables", "windows", "net"))
    expected = models.build(sma.spec).apply(variables, windows, train=False)
    np.testing.assert_allclose(np.asarray(namespace["scores"]), np.asarray(expected), rtol=1e-6, atol=1e-6)
    assert float(np.std(np.asarray(expected))) > 0  # trained, input-dependent outputs, not a constant
    assert isinstance(net, nnx.Module)
