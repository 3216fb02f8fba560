"""`topoform schema`: the blueprint format as JSON Schema, for editors' YAML language servers."""

from __future__ import annotations

import json
import sys

import click

from .common import EXIT_INVALID


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
