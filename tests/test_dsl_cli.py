"""`topoform validate`, `schema` and `init` through click's CliRunner: output and exit codes."""

import json

import pytest
import yaml
from click.testing import CliRunner

from topoform.cli.main import cli

GOOD = "blueprint: shop\nservices:\n  web: {image: nginx:1.27, port: 80}\n"
BAD = "blueprint: shop\nservices:\n  web: {image: nginx:1.27, port: eighty, replicaz: 2}\n"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, files: dict[str, str] | None = None):
        for name, text in (files or {}).items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        return CliRunner().invoke(cli, list(args))
    return invoke


def test_validate_a_good_blueprint_exits_0(run):
    result = run("validate", "bp.yaml", files={"bp.yaml": GOOD})
    assert result.exit_code == 0
    assert result.output == "valid: bp.yaml — blueprint 'shop', 1 blueprint component, targets docker, aws\n"


def test_validate_prints_every_problem_and_exits_2(run):
    result = run("validate", "bp.yaml", files={"bp.yaml": BAD})
    assert result.exit_code == 2
    assert result.output == (
        "bp.yaml:3:34: error: services.web.port: expected a whole number, but got 'eighty'\n"
        "bp.yaml:3:42: error: unknown key 'replicaz' in services.web\n"
        "  hint: did you mean 'replicas'?\n"
        "2 error(s), 0 warning(s)\n"
    )


def test_validate_json_is_a_list_of_diagnostics(run):
    result = run("validate", "bp.yaml", "--json", files={"bp.yaml": BAD})
    assert result.exit_code == 2
    diags = json.loads(result.stdout)
    assert [sorted(d) for d in diags] == [["column", "file", "line", "message", "severity"],
                                         ["column", "file", "hint", "line", "message", "severity"]]
    assert diags[0] == {"file": "bp.yaml", "line": 3, "column": 34, "severity": "error",
                        "message": "services.web.port: expected a whole number, but got 'eighty'"}
    ok = run("validate", "good.yaml", "--json", files={"good.yaml": GOOD})
    assert (ok.exit_code, json.loads(ok.stdout)) == (0, [])


def test_validate_takes_vars_and_targets(run):
    text = "blueprint: s\nvariables:\n  n: {type: int, default: 1}\nservices:\n  w: {image: x, replicas: '${var.n}'}\n"
    assert run("validate", "v.yaml", "--var", "n=3", files={"v.yaml": text}).exit_code == 0
    bad = run("validate", "v.yaml", "--var", "n=three")
    assert bad.exit_code == 2 and "variable 'n' is int, but the value given is 'three'" in bad.output
    assert run("validate", "v.yaml", "--var", "oops").exit_code == 2  # not NAME=VALUE: a usage error
    assert "target aws" in run("validate", "v.yaml", "--target", "aws").output


@pytest.mark.parametrize("args", [["validate", "missing.yaml"], ["validate", "."], ["validate", "bin.yaml"]])
def test_unreadable_input_is_exit_2_without_traceback(run, tmp_path, args):
    (tmp_path / "bin.yaml").write_bytes(b"\x00\xff\xfe garbage")
    result = run(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_schema_is_a_json_schema_that_accepts_the_examples(run):
    import jsonschema  # in the test extra: a missing install must fail, not skip
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(yaml.safe_load(GOOD))) == []
    # variables are allowed where the type is a number
    assert list(validator.iter_errors({"blueprint": "a", "services": {"w": {"image": "x", "replicas": "${var.n}"}}})) == []
    assert list(validator.iter_errors({"blueprint": "a", "servics": {}}))  # unknown sections are flagged
    assert run("schema", "-o", "s.json").exit_code == 0


def test_init_writes_a_starter_that_validates_on_both_targets(run, tmp_path):
    result = run("init", "my-shop.yaml")
    assert result.exit_code == 0
    text = (tmp_path / "my-shop.yaml").read_text(encoding="utf-8")
    assert "blueprint: my-shop" in text and text.count("#") > 10  # commented
    for target in ("docker", "aws"):
        assert run("validate", "my-shop.yaml", "--target", target).exit_code == 0
    again = run("init", "my-shop.yaml")
    assert again.exit_code == 2 and "exists" in again.output
    assert run("init", "my-shop.yaml", "--force", "--name", "other").exit_code == 0
    assert "blueprint: other" in (tmp_path / "my-shop.yaml").read_text(encoding="utf-8")
    assert run("init", "no/such/dir/x.yaml").exit_code == 2
    assert run("init", "x.yaml", "--name", "Bad Name").exit_code == 2
