"""The README's Python examples run as written: documentation that cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_examples():
    assert python_blocks(), "README.md lost its testing example"


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_example_runs(index, monkeypatch, synth):
    monkeypatch.chdir(README.parent)
    namespace: dict = {}
    exec(compile(python_blocks()[index], f"README.md block {index}", "exec"), namespace)
    tests = [fn for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    assert tests, "the example defines no test"
    for fn in tests:
        fn(synth) if fn.__code__.co_argcount else fn()
