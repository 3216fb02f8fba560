"""The README's Python and shell examples run as written: documentation that cannot rot."""

from __future__ import annotations

import re
import shlex
import shutil
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


# ------------------------------------------------------------------ the shell examples

# Commands that need the Pulumi engine, Docker, AWS or the network: not run offline.
ONLINE = {"up", "preview", "destroy", "refresh", "outputs", "install-pulumi", "drill"}


def sh_commands() -> list[str]:
    """Every `topoform …` line of the README's ```sh blocks that runs offline, comments dropped."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value prefixes
            if len(words) >= 2 and words[0] == "topoform" and words[1] not in ONLINE:
                found.append(" ".join(shlex.quote(w) for w in words[1:]))
    return found


def test_the_readme_has_shell_examples():
    commands = sh_commands()
    assert any(c.startswith("validate") for c in commands) and any(c.startswith("plan") for c in commands)


@pytest.mark.parametrize("command", sh_commands())
def test_readme_shell_example_runs(command, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from topoform.cli.main import cli

    args = shlex.split(command)
    if any(a.endswith((".png", ".svg")) for a in args) and shutil.which("dot") is None:
        pytest.skip("svg and png need Graphviz's dot")
    # Run where the README's paths resolve, writing any -o file into a scratch directory.
    (tmp_path / "blueprints").symlink_to(README.parent / "blueprints")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, f"topoform {command}\n{result.output}"
