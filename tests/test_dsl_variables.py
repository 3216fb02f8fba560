"""Typed variables: defaults, --var strings, Python values, substitution."""

import pytest

from topoform.dsl.references import convert_text
from topoform.dsl.validate import validate_text

BLUEPRINT = """\
blueprint: vars
variables:
  replicas: {type: int, default: 2}
  ratio: {type: number, default: 0.5}
  debug: {type: bool, default: false}
  name: {type: string, default: web}
  zones: {type: list, default: [a]}
services:
  web:
    image: "nginx:${var.name}"
    port: 80
    replicas: ${var.replicas}
    public: ${var.debug}
    env: {RATIO: "${var.ratio}", ZONES: "z=${var.zones}"}
"""


def web(**kwargs):
    result = validate_text(BLUEPRINT, **kwargs)
    assert result.ok, [d.render() for d in result.diagnostics]
    return result.blueprint.services["web"]


def test_defaults_are_substituted_with_their_type():
    service = web()
    assert (service.replicas, service.public, service.image) == (2, False, "nginx:web")
    assert service.env == {"RATIO": "0.5", "ZONES": 'z=["a"]'}


def test_cli_strings_are_converted_to_the_declared_type():
    service = web(variables={"replicas": "5", "debug": "true", "ratio": "2", "zones": "[x, y]"})
    assert (service.replicas, service.public) == (5, True)
    assert service.env["ZONES"] == 'z=["x", "y"]'


def test_python_values_are_taken_as_they_are():
    assert web(variables={"replicas": 7}).replicas == 7


@pytest.mark.parametrize("name, value, words", [
    ("replicas", "five", "variable 'replicas' is int, but the value given is 'five'"),
    ("replicas", 2.5, "variable 'replicas' is int, but the value given is 2.5"),
    ("debug", "maybe", "variable 'debug' is bool, but the value given is 'maybe'"),
    ("zones", "{a: 1}", "variable 'zones' is list, but the value given is '{a: 1}'"),
    ("replicas", True, "variable 'replicas' is int, but the value given is True"),
])
def test_a_value_of_the_wrong_type_is_an_error_at_the_declaration(name, value, words):
    result = validate_text(BLUEPRINT, "v.yaml", variables={name: value})
    assert not result.ok
    messages = [d.message for d in result.diagnostics]
    assert words in messages


def test_an_undeclared_variable_suggests_the_close_one():
    result = validate_text(BLUEPRINT, variables={"replica": "3"})
    [diag] = result.diagnostics
    assert diag.message == "a value was given for 'replica', but no such variable is declared"
    assert diag.hint == "did you mean 'replicas'?"


def test_a_variable_without_default_needs_a_value():
    text = "blueprint: a\nvariables:\n  image: {type: string}\nservices:\n  w: {image: '${var.image}'}\n"
    assert not validate_text(text).ok
    assert validate_text(text, variables={"image": "nginx"}).blueprint.services["w"].image == "nginx"


@pytest.mark.parametrize("declaration", [
    "{type: int, default: four}",   # a default of the wrong type
    "{type: int}",                   # no value at all
    "{type: integer, default: 4}",   # a declaration that is itself invalid
])
def test_uses_of_a_variable_with_its_own_error_are_not_reported_again(declaration):
    text = (f"blueprint: a\nvariables:\n  shards: {declaration}\n"
            "services:\n  w: {image: x, replicas: '${var.shards}', env: {N: 'n${var.shards}'}}\n")
    [diag] = validate_text(text, "v.yaml").diagnostics
    assert diag.line == 3


def test_uses_of_variables_declared_under_a_misspelt_section_are_not_reported_again():
    text = "blueprint: a\nvariable:\n  n: {type: int, default: 2}\nservices:\n  w: {image: x, replicas: '${var.n}'}\n"
    [diag] = validate_text(text, "v.yaml").diagnostics
    assert (diag.line, diag.message, diag.hint) == (2, "unknown section 'variable'", "did you mean 'variables'?")


def test_a_use_of_an_undeclared_variable_is_still_reported():
    text = "blueprint: a\nvariables:\n  shards: {type: int, default: 4}\nservices:\n  w: {image: x, replicas: '${var.shard}'}\n"
    [diag] = validate_text(text, "v.yaml").diagnostics
    assert (diag.line, diag.message, diag.hint) == (5, "unknown variable 'shard' in '${var.shard}'", "did you mean 'shards'?")


def test_sensitive_values_are_not_echoed():
    text = "blueprint: a\nvariables:\n  key: {type: int, default: hunter2, sensitive: true}\n"
    [diag] = validate_text(text).diagnostics
    assert "hunter2" not in diag.message and "hidden" in diag.message


@pytest.mark.parametrize("kind, text, value", [
    ("int", "3", 3), ("number", "2.5", 2.5), ("number", "4", 4), ("bool", "off", False),
    ("list", "[1, 2]", [1, 2]), ("map", "{a: 1}", {"a": 1}), ("string", "003", "003"),
])
def test_convert_text(kind, text, value):
    assert convert_text(kind, text) == value
