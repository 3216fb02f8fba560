"""The import graph of the project's own modules: no cycle, and one direction.

Every `import` counts, wherever it is written — at the top, inside a function
(a lazy import is still a dependency, only a later one), under
`TYPE_CHECKING` (the types say who knows whom). The layers are
cli → providers → dsl: `dsl` imports nothing else of ours, `providers` never
imports `cli`. The `topoform` package root (api/__init__.py) holds the version
and re-exports the public API lazily; it may be read from anywhere.

A package's `__init__` executed on the way to a submodule is not counted as
an import of it: only the module an import statement names is. A target's
`kind_table(__name__)` (providers/base.py) imports `kinds.<section>` of every
registered kind by name: it counts as importing each.
"""

from __future__ import annotations

import ast
import os
from functools import cache

import pytest

from topoform.dsl.kinds import SECTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folder of the repository → the installed package it becomes (pyproject package-dir).
PACKAGES = {"dsl": "topoform.dsl", "providers": "topoform.providers", "cli": "topoform.cli", "api": "topoform"}


def _module_name(folder: str, relative: str) -> str:
    parts = relative[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGES[folder], *parts])


@cache
def modules() -> dict[str, str]:
    """Module name → file, for every .py of dsl/, providers/, cli/ and api/."""
    found: dict[str, str] = {}
    for folder in PACKAGES:
        base = os.path.join(ROOT, folder)
        for directory, _dirs, files in os.walk(base):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    found[_module_name(folder, os.path.relpath(path, base))] = path
    return found


def _is_package(module: str) -> bool:
    return modules()[module].endswith("__init__.py")


def _imports(module: str) -> set[str]:
    """The project modules `module` imports, by any statement anywhere in it."""
    known = modules()
    tree = ast.parse(open(known[module], encoding="utf-8").read(), known[module])
    package = module if _is_package(module) else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "kind_table":
            found.update(name for name in (f"{package}.kinds.{section}" for section in SECTIONS) if name in known)
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                source = ".".join(anchor + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from pkg import sub` imports the module pkg.sub when there is one.
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                     for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # `import topoform.dsl.models as m` names a module
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


@cache
def graph() -> dict[str, frozenset[str]]:
    return {module: frozenset(_imports(module)) for module in sorted(modules())}


def cycles() -> list[list[str]]:
    """Every strongly connected group of modules larger than one, each as one cycle through it."""
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:  # Tarjan; the project is a few hundred modules deep at most
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in edges:
        if node not in index:
            connect(node)
    return [_one_cycle(group, edges) for group in groups]


def _one_cycle(group: list[str], edges: dict[str, frozenset[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, for the message."""
    start = group[0]
    members = set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node] & members):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    return group


def _package_of(module: str) -> str:
    """The package a module belongs to for the per-package checks (`topoform.providers.aws`, …)."""
    return module if _is_package(module) else module.rpartition(".")[0]


PACKAGE_NAMES = sorted({_package_of(m) for m in modules()})


def test_the_walk_sees_the_project():
    known = modules()
    assert {"topoform.dsl.models", "topoform.providers.base", "topoform.cli.main", "topoform.testing"} <= set(known)
    # a lazy import inside a function counts: compile_plan loads the targets that way
    assert "topoform.providers.base" in graph()["topoform.providers"]
    # so does one under TYPE_CHECKING
    assert "topoform.providers.plan" in graph()["topoform.providers"]
    # and a target's kind table, imported by section name
    assert "topoform.providers.aws.kinds.nosql" in graph()["topoform.providers.aws"]


def test_the_cycle_finder_finds_a_cycle():
    edges = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert _one_cycle(["a", "b", "c"], edges) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("package", PACKAGE_NAMES)
def test_no_import_cycle(package):
    """No cycle through a module of `package` (one test per package, so each names its own)."""
    mine = [cycle for cycle in cycles() if any(_package_of(m) == package for m in cycle)]
    assert not mine, "import cycles:\n" + "\n".join("  " + " → ".join(cycle) for cycle in mine)


def _layer(module: str) -> str:
    if module == "topoform":
        return "root"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("dsl", "providers", "cli") else "api"


# layer → the layers it may import (the root holds the version and lazy re-exports)
ALLOWED = {
    "dsl": {"dsl"},
    "providers": {"providers", "dsl", "root"},
    "cli": {"cli", "providers", "dsl", "root", "api"},
    "api": {"api", "providers", "dsl", "root"},
    # the root holds the version, and re-exports the public API lazily (api/__init__.py)
    "root": {"api", "providers", "dsl"},
}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_flow_cli_to_providers_to_dsl(layer):
    wrong = [f"{module} imports {target}" for module, targets in graph().items() if _layer(module) == layer
             for target in sorted(targets) if _layer(target) not in ALLOWED[layer]]
    assert not wrong, "\n".join(wrong)


def _target_comparisons(path: str) -> list[int]:
    """Lines comparing a name or attribute called `target` with a target's name ("aws", "docker")."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = any(isinstance(s, ast.Name) and s.id == "target" or isinstance(s, ast.Attribute)
                        and s.attr == "target" for s in sides)
            literal = any(isinstance(s, ast.Constant) and s.value in ("aws", "docker") for s in sides)
            if named and literal:
                lines.append(node.lineno)
    return lines


def test_the_analyses_never_ask_which_target_it_is():
    """report, lint and graph read the facts each target records (providers/<target>/facts.py)."""
    found = {name: _target_comparisons(path) for name, path in modules().items()
             if name.startswith("topoform.providers.insight")}
    assert found and not {name: lines for name, lines in found.items() if lines}
    assert _target_comparisons(modules()["topoform.providers"])  # the check sees `target == "docker"`
