"""Golden tests of `topoform validate`: exact output for invalid blueprints, none for valid ones.

tests/golden/invalid/NAME.yaml holds a broken blueprint (its first comment
says what is wrong; a `# args: ...` line adds command-line options) and
NAME.expected the exact text `topoform validate NAME.yaml` prints — every
diagnostic with its line, column and hint, then the summary line.
tests/golden/valid/*.yaml must validate with no diagnostic at all, on both
targets.

The expectations are never rewritten by a normal run. After a deliberate
change of messages, regenerate them with

    TOPOFORM_UPDATE_GOLDEN=1 python -m pytest -q tests/test_dsl_golden.py

and review the diff like code.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from topoform.cli.main import cli

GOLDEN = Path(__file__).parent / "golden"
INVALID = sorted(p.stem for p in (GOLDEN / "invalid").glob("*.yaml"))
VALID = sorted(p.stem for p in (GOLDEN / "valid").glob("*.yaml"))
UPDATE = os.environ.get("TOPOFORM_UPDATE_GOLDEN") == "1"


def _args(path: Path) -> list[str]:
    for line in path.read_text(encoding="utf-8").splitlines()[:3]:
        if line.startswith("# args:"):
            return shlex.split(line.partition(":")[2])
    return []


def _validate(folder: Path, name: str, *extra: str) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(folder)  # diagnostics name the file as given: NAME.yaml, the same on every machine
    try:
        result = CliRunner().invoke(cli, ["validate", f"{name}.yaml", *_args(folder / f"{name}.yaml"), *extra])
    finally:
        os.chdir(cwd)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_there_are_enough_golden_cases():
    assert len(INVALID) >= 30
    assert len(VALID) >= 4


@pytest.mark.parametrize("name", INVALID)
def test_invalid_blueprint_output_is_exactly_as_expected(name: str):
    code, output = _validate(GOLDEN / "invalid", name)
    expected_file = GOLDEN / "invalid" / f"{name}.expected"
    if UPDATE:
        expected_file.write_text(output, encoding="utf-8")
    assert code == 2, output
    assert "Traceback" not in output
    assert output == expected_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", INVALID)
def test_invalid_blueprint_json_matches_the_text(name: str):
    code, output = _validate(GOLDEN / "invalid", name, "--json")
    assert code == 2
    diags = json.loads(output)
    assert diags, "an invalid blueprint has at least one diagnostic"
    expected = (GOLDEN / "invalid" / f"{name}.expected").read_text(encoding="utf-8")
    heads = [line for line in expected.splitlines() if line.startswith(f"{name}.yaml:")]
    assert [f"{d['file']}:{d['line']}:{d['column']}: {d['severity']}: {d['message']}" for d in diags] == heads


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("target", ["docker", "aws"])
def test_valid_blueprint_has_no_diagnostics(name: str, target: str):
    code, output = _validate(GOLDEN / "valid", name, "--json", "--target", target)
    assert (code, json.loads(output)) == (0, [])
