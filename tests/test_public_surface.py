"""The public surface: every subpackage reachable from ``import infantjax``, every family exported alike (the table
of docs/api.md, walked cell by cell), and no private name imported across packages."""

from __future__ import annotations

import argparse
import ast
import importlib
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
API = REPO / "docs" / "api.md"


def test_subpackages_are_reachable_from_import_infantjax():
    code = ("import infantjax; infantjax.pipelines.pose; infantjax.protocols.cp; infantjax.backend.current(); "
            "print(infantjax.pipelines.__name__, infantjax.protocols.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.split() == ["infantjax.pipelines", "infantjax.protocols"]


def _package(path: pathlib.Path) -> str:
    rel = path.relative_to(REPO)
    if rel.parts[0] != "infantjax":
        return rel.parts[0]
    return "infantjax." + (rel.parts[1].removesuffix(".py") if len(rel.parts) > 1 else "")


#: the private layer-0 modules every package may import (see private_imports)
FOUNDATION = frozenset({"_jsonconfig", "_lazy", "_moved", "_version"})


def private_imports(folders=("infantjax", "benchmarks", "experiments")) -> list[str]:
    """``from infantjax.<package>... import`` statements that reach a private name (a module or attribute
    beginning with one underscore) of another package. The package's private layer-0 modules are its common
    foundation and exempt: ``_jsonconfig`` (every config's JSON round trip), ``_lazy`` (every package facade's lazy
    submodules), ``_moved`` (the table of moved module paths, which their old paths call) and ``_version`` (the
    version records and pages carry), which live apart from the facade
    ``infantjax`` so that no layer imports it upward (tests/test_layers.py)."""
    found = []
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            mine = _package(path)
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                        and node.module.split(".")[0] == "infantjax"):
                    continue
                parts = node.module.split(".")[1:]
                for alias in node.names:
                    chain = parts + [alias.name]
                    private = [p for p in chain if p.startswith("_") and not p.startswith("__")]
                    target = "infantjax." + chain[0]
                    if set(private) - FOUNDATION and target != mine:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}: from {node.module} import {alias.name}")
    return found


def test_no_private_name_is_imported_across_packages():
    found = private_imports()
    assert not found, "make these public or keep them inside their package:\n" + "\n".join(found)


def test_the_private_import_check_finds_one(tmp_path, monkeypatch):
    fake = tmp_path / "benchmarks"
    fake.mkdir()
    (fake / "x.py").write_text("from infantjax.ensemble import _secret\nfrom infantjax.ensemble import Ensemble\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert private_imports(("benchmarks",)) == ["benchmarks/x.py:1: from infantjax.ensemble import _secret"]


def _table() -> tuple[list[str], list[list[str]]]:
    rows = [line for line in API.read_text().splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    body = [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:] if not row.startswith("| ---")]
    return header, body


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _verbs() -> dict:
    from infantjax.cli import build_parser

    def tree(parser) -> dict:
        for action in parser._actions:  # argparse keeps its subcommands here
            if isinstance(action, argparse._SubParsersAction):
                return {name: tree(sub) for name, sub in action.choices.items()}
        return {}

    return tree(build_parser())


def test_docs_api_is_one_table_with_one_row_per_family_and_every_cell_exists():
    header, body = _table()
    assert header == ["family", "spec", "build", "pretrained", "task", "train", "predict", "save / load", "export",
                      "CLI verb"]
    from infantjax.infer import registry

    # one row per family the package ships (the registry's count: a new family's row is asked for, not a list edit)
    assert len(body) == len(registry.shipped()) and all(len(row) == len(header) for row in body)
    from infantjax.train import registered_tasks

    tasks = set()
    verbs = _verbs()
    for row in body:
        for column, cell in zip(header[1:], row[1:]):
            if cell == "—":
                assert column == "export", f"{row[0]}: only 'export' may be empty (every family has a zoo entry)"
                continue
            names = re.findall(r"`([^`]+)`", cell)
            assert names, f"{row[0]} / {column}: {cell!r} names nothing"
            for name in names:
                if column == "CLI verb":
                    words = name.split()
                    assert words[0] == "infantjax"
                    node = verbs
                    for word in words[1:]:
                        assert word in node, f"{name}: no such command"
                        node = node[word]
                    continue
                assert not any(p.startswith("_") for p in name.split(".")), name
                obj = _resolve(name)  # raises if it does not exist
                if column == "task":
                    tasks.add(obj)
                if column == "save / load":
                    from infantjax.train import TrainedModel

                    owner = _resolve(name.rsplit(".", 1)[0])
                    assert isinstance(owner, type) and issubclass(owner, TrainedModel), name
    library = {t for t in registered_tasks() if t.__module__.startswith("infantjax.")}
    assert library <= tasks, f"families without a row: {library - tasks}"


def _shipped_tasks() -> list[str]:
    """The task names of the families shipped with infantjax: the tasks their training modules register."""
    from infantjax.infer import registry
    from infantjax.train import registered_tasks

    modules = {f.model.training_module for f in registry.shipped()}
    for module in modules:
        importlib.import_module(module)
    return [t.__name__ for t in registered_tasks() if t.__module__ in modules]


def test_every_shipped_family_has_a_task():
    from infantjax.infer import registry

    assert len(_shipped_tasks()) >= len(registry.shipped()) >= 6


@pytest.mark.parametrize("name", _shipped_tasks())
def test_every_task_is_exported_alike(name):
    from infantjax import train

    task = getattr(train, name)
    assert name in train.__all__
    prefix = name.removesuffix("Task")
    assert f"{prefix}Config" in train.__all__ and f"{prefix}Data" in train.__all__
    assert "example" in vars(task)


def test_a_moved_module_s_old_path_warns_and_gives_the_new_module_and_the_package_never_uses_one():
    """The table of moved module paths (``infantjax._moved.MOVED``): in a fresh interpreter each old path imports
    with one DeprecationWarning naming the new path and is that very module; no module of the package, its tests or
    its benchmarks imports an old path."""
    from infantjax._moved import MOVED

    code = ("import importlib, warnings, json\n"
            "from infantjax._moved import MOVED\n"
            "out = {}\n"
            "for old, (new, _) in MOVED.items():\n"
            "    with warnings.catch_warnings(record=True) as caught:\n"
            "        warnings.simplefilter('always')\n"
            "        module = importlib.import_module(old)\n"
            "    out[old] = [module is importlib.import_module(new),\n"
            "                [str(w.message) for w in caught if w.category is DeprecationWarning]]\n"
            "print(json.dumps(out))\n")
    import json

    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                                    check=True).stdout)
    assert set(out) == set(MOVED) and MOVED
    for old, (same, messages) in out.items():
        assert same and len(messages) == 1 and MOVED[old][0] in messages[0], (old, messages)
    stubs = {REPO / (old.replace(".", "/") + ".py") for old in MOVED}
    users = [f"{p.relative_to(REPO)}: {old}" for folder in ("infantjax", "tests", "benchmarks")
             for p in (REPO / folder).rglob("*.py") if p not in stubs
             for old in MOVED if re.search(rf"(from|import)\s+{re.escape(old)}\b", p.read_text())]
    assert users == []
