"""`validate`, `schema` and `init`: the commands that need nothing but the blueprint."""

from __future__ import annotations

import json
import os
import re
import sys
from importlib import resources

import click

from .common import EXIT_FAILURE, EXIT_INVALID, blueprint_argument, parse_vars, print_diagnostics, target_options


@click.command()
@blueprint_argument
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {file, line, column, severity, message}.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...],
             as_json: bool, strict: bool) -> None:
    """Parse and check BLUEPRINT; print every problem as FILE:LINE:COL: error: MESSAGE."""
    from topoform.dsl.validate import validate_file

    try:
        result = validate_file(blueprint, parse_vars(variables), target)
    except click.ClickException:
        raise
    except Exception as exc:  # a bug of ours, never the user's input: say so briefly
        if os.environ.get("TOPOFORM_DEBUG"):
            raise
        click.echo(f"internal error while validating {blueprint}: {exc!r}\n"
                   "please report it (set TOPOFORM_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_FAILURE)
    diags = result.diagnostics
    print_diagnostics(diags, as_json)
    failed = any(d.severity == "error" or (strict and d.severity == "warning") for d in diags)
    if failed:
        if not as_json:
            click.echo(f"{sum(d.severity == 'error' for d in diags)} error(s), "
                       f"{sum(d.severity == 'warning' for d in diags)} warning(s)", err=True)
        sys.exit(EXIT_INVALID)
    if not as_json:
        bp = result.blueprint
        count = sum(1 for _ in bp.components())
        click.echo(click.style("valid", fg="green", bold=True)
                   + f": {blueprint} — blueprint '{bp.blueprint}', {count} component(s), target {result.target}")


def blueprint_schema() -> dict:
    """The JSON Schema of the blueprint format, for editors' YAML language servers."""
    from topoform import __version__
    from topoform.dsl.models import Blueprint

    schema = Blueprint.model_json_schema(mode="validation")
    _allow_variables(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://topoform.dev/schema/blueprint-{__version__}.json"
    schema["title"] = "Topoform blueprint"
    return schema


# `replicas: ${var.web_replicas}` is an integer only after substitution; an
# editor checking the file as written must accept a variable there.
_VARIABLE = {"type": "string", "pattern": r"^\$\{\s*var\.[A-Za-z_][A-Za-z0-9_-]*\s*\}$",
             "description": "a variable, substituted before validation"}


def _allow_variables(node: object) -> None:
    """Let every scalar field of the schema also take `${var.NAME}`."""
    if isinstance(node, list):
        for item in node:
            _allow_variables(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if key == "properties" and isinstance(value, dict):
            for name, prop in list(value.items()):
                if _is_scalar(prop):
                    value[name] = {"anyOf": [prop, _VARIABLE], **_annotations(prop)}
                else:
                    _allow_variables(prop)
        elif key != "properties":
            _allow_variables(value)


def _is_scalar(prop: object) -> bool:
    if not isinstance(prop, dict):
        return False
    if prop.get("type") in ("integer", "number", "boolean") or "pattern" in prop:
        return True
    options = prop.get("anyOf")
    return isinstance(options, list) and any(_is_scalar(o) for o in options)


def _annotations(prop: dict) -> dict:
    """Title, description and default stay on the outside, where editors show them."""
    return {k: prop[k] for k in ("title", "description", "default") if k in prop}


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
def schema(output: str | None) -> None:
    """Print the blueprint JSON Schema (point `# yaml-language-server: $schema=` at it)."""
    text = json.dumps(blueprint_schema(), indent=2) + "\n"
    if output:
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_INVALID)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def starter_text(name: str) -> str:
    template = resources.files("topoform.cli").joinpath("templates/starter.yaml").read_text(encoding="utf-8")
    return template.replace("__NAME__", name)


@click.command()
@click.argument("path", type=click.Path(dir_okay=False), default="blueprint.yaml")
@click.option("--name", help="Blueprint name [default: from the file name].")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, name: str | None, force: bool) -> None:
    """Write a commented starter blueprint to PATH (default blueprint.yaml)."""
    if os.path.exists(path) and not force:
        click.echo(f"error: {path} exists; pass --force to overwrite it", err=True)
        sys.exit(EXIT_INVALID)
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    name = name or (re.sub(r"[^a-z0-9-]", "-", stem).strip("-") or "app")
    if not re.match(r"^[a-z][a-z0-9-]{0,38}$", name):
        click.echo(f"error: '{name}' is not a valid blueprint name; pass --name", err=True)
        sys.exit(EXIT_INVALID)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(starter_text(name))
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"wrote {path}\nnext: topoform validate {path} && topoform plan {path}")
