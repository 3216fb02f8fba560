"""`topoform plan`: the compiled resources, offline — aligned text, or JSON."""

from __future__ import annotations

import sys

import click

from .common import blueprint_argument, compile_or_exit, load, target_options


@click.command()
@blueprint_argument
@target_options
@click.option("--json", "as_json", is_flag=True, help='Print {"resources": [...], "outputs": {...}}.')
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the JSON plan to FILE.")
def plan(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...],
         as_json: bool, output: str | None) -> None:
    """Compile BLUEPRINT offline and print the resources that would be created."""
    result = load(blueprint, target, variables, as_json)
    compiled = compile_or_exit(result, target, stack, as_json)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            compiled.write_json(handle)
    if as_json:
        compiled.write_json(sys.stdout)
        return
    # Plain text written component by component; the warnings are in its summary.
    from .plan_text import write_plan_text

    write_plan_text(compiled, sys.stdout)
