"""The layers of docs/architecture.md, asserted from the modules' own imports:
every import (at the top of a module or inside a function) points to the
same layer or one below, and no two modules import each other, directly or
through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGES = ("grid_dsl", "axes", "model")

# Lowest first; a module belongs to the first layer whose prefix names it.
LAYERS = (
    ("language", ("grid_dsl.language",)),
    ("axes", ("axes",)),
    ("data", ("grid_dsl.data", "grid_dsl.testing", "grid_dsl")),
    ("network", ("model.network",)),
    ("training", ("model.training",)),
    ("experiments", ("model.experiments",)),
    ("cli", ("grid_dsl.cli", "model.cli", "model")),
)


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer of docs/architecture.md")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that `path` imports anywhere in its body."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:  # `from pkg import module` imports the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m.split(".")[0] in PACKAGES and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def test_every_module_is_in_a_layer(graph):
    for name in graph:
        layer_of(name)


def test_no_import_points_up(graph):
    upward = sorted(f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
                    for source, targets in graph.items() for target in targets if layer_of(target) > layer_of(source))
    assert not upward, "\n".join(upward)


def test_no_import_cycle(graph):
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_planted_upward_import(tmp_path):
    """The test above can fail: an import from the language layer into the data layer is caught."""
    planted = tmp_path / "grid_dsl" / "language" / "x.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("def f():\n    from grid_dsl.data import checker\n")
    found = imports_of("grid_dsl.language.x", planted, {"grid_dsl.data.checker"})
    assert found == {"grid_dsl.data.checker"}
    assert layer_of("grid_dsl.data.checker") > layer_of("grid_dsl.language.x")
