"""`topoform init`: a commented starter blueprint."""

from __future__ import annotations

import os
import re
import sys
from importlib import resources

import click

from topoform.dsl.models import NAME_RE

from .common import EXIT_INVALID


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
    given = name is not None
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    name = name or (re.sub(r"[^a-z0-9-]", "-", stem).strip("-") or "app")
    if not NAME_RE.match(name):
        where = "--name" if given else f"the name taken from {path}"
        suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        suggestion = suggestion if NAME_RE.match(suggestion) else "my-app"
        click.echo(f"error: {where} '{name}' is not a valid blueprint name: it must match {NAME_RE.pattern} "
                   f"(a lowercase letter, then up to 38 lowercase letters, digits or '-'), e.g. '{suggestion}'"
                   + ("" if given else "; pass --name NAME"), err=True)
        sys.exit(EXIT_INVALID)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(starter_text(name))
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"wrote {path}\nnext: topoform validate {path} && topoform plan {path}")
