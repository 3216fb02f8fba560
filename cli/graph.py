"""`topoform graph`: the architecture diagram (mermaid, dot, svg, png), or the Plan's resources."""

from __future__ import annotations

import os
import sys

import click

from .common import (EXIT_FAILURE, EXIT_INVALID, blueprint_argument, compile_or_exit, load,
                     refuse_if_unbuildable, target_options)

FORMATS = ("mermaid", "dot", "svg", "png")
EXTENSIONS = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot",
              ".svg": "svg", ".png": "png"}


def format_of(output: str | None) -> str:
    """The format an output file's extension names (mermaid without -o); exit 2 for any other
    extension, rather than writing mermaid text into a `.jpg`."""
    if output is None:
        return "mermaid"
    extension = os.path.splitext(output)[1].lower()
    if extension in EXTENSIONS:
        return EXTENSIONS[extension]
    known = ", ".join(f"{ext} ({fmt})" for ext, fmt in EXTENSIONS.items())
    click.echo(f"error: cannot tell the format of {output!r} from its extension "
               f"{extension or '(none)'}; use one of {known}, or pass --format {'|'.join(FORMATS)}", err=True)
    sys.exit(EXIT_INVALID)


@click.command()
@blueprint_argument
@target_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format [default: from the -o extension, else mermaid].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@click.option("--resources", is_flag=True, help="Draw the Plan's resources (per target) instead of the components.")
def graph(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...],
          fmt: str | None, output: str | None, resources: bool) -> None:
    """Draw BLUEPRINT's architecture: components grouped by site and tier, edges labelled with their policy."""
    from topoform.providers.insight.diagram import GraphvizMissing, architecture, render, resources_diagram

    if fmt is None:
        fmt = format_of(output)
    if fmt == "png" and output is None and sys.stdout.isatty():
        click.echo("error: PNG is binary; write it to a file with -o FILE.png", err=True)
        sys.exit(EXIT_INVALID)
    result = load(blueprint, target, variables)
    if resources:
        diagram = resources_diagram(compile_or_exit(result, target, stack))
    else:
        refuse_if_unbuildable(result, stack)
        diagram = architecture(result.blueprint, result.target)
    try:
        data = render(diagram, fmt)
    except GraphvizMissing as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    if output:
        with open(output, "wb") as handle:
            handle.write(data)
        click.echo(f"wrote {output}", err=True)
    else:
        stream = sys.stdout.buffer
        stream.write(data)
        stream.flush()
