"""What a wheel would ship: every package of the tree is listed, and every template is package data.

The editable install used in development finds subpackages and data files by
path, so a package or a template left out of pyproject.toml only shows in a
built wheel; this reads pyproject.toml as setuptools does and checks the tree.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def source_dir(package: str) -> Path:
    """The folder of `package` under the package-dir mapping (the longest mapped prefix wins)."""
    mapping = SETUPTOOLS["package-dir"]
    prefix = max((p for p in mapping if package == p or package.startswith(p + ".")), key=len)
    return ROOT / mapping[prefix] / Path(*package[len(prefix):].lstrip(".").split(".")) if package != prefix \
        else ROOT / mapping[prefix]


def test_every_package_in_the_tree_is_listed():
    listed = {source_dir(p).resolve() for p in SETUPTOOLS["packages"]}
    tree = {init.parent.resolve() for top in ("api", "dsl", "providers", "cli") for init in (ROOT / top).rglob("__init__.py")}
    assert sorted(str(p.relative_to(ROOT)) for p in tree - listed) == []
    assert all(p.is_dir() for p in listed)


def test_every_template_ships_as_package_data():
    missing = []
    for package in SETUPTOOLS["packages"]:
        folder = source_dir(package) / "templates"
        if not folder.is_dir():
            continue
        patterns = SETUPTOOLS.get("package-data", {}).get(package, [])
        # Files only: `compileall` (run by .ci/run) leaves a __pycache__ folder
        # beside jwt-verifier.py, and bytecode is not package data.
        for path in folder.iterdir():
            if not path.is_file():
                continue
            if not any(fnmatch.fnmatch(f"templates/{path.name}", pattern) for pattern in patterns):
                missing.append(f"{package}: templates/{path.name}")
    assert missing == []
