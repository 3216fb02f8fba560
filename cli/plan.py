"""`topoform plan`: the compiled resources, offline — a table, or JSON."""

from __future__ import annotations

import sys

import click

from .common import blueprint_argument, compile_or_exit, load, print_diagnostics, target_options


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
    if compiled.warnings and not as_json:
        print_diagnostics(compiled.warnings)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            compiled.write_json(handle)
    if as_json:
        compiled.write_json(sys.stdout)
        return
    print_table(compiled)


def print_table(compiled) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{compiled.blueprint} · {compiled.target} · stack {compiled.stack}",
                  show_lines=False, header_style="bold")
    table.add_column("component", style="cyan", no_wrap=True)
    table.add_column("resource", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("depends on", style="dim")
    by_component: dict[str, list] = {}
    for resource in compiled.resources:
        by_component.setdefault(resource.component, []).append(resource)
    for component, items in by_component.items():
        for i, resource in enumerate(items):
            deps = compiled.dependencies(resource)
            flag = " 🔒" if resource.protect else ""
            table.add_row(component if i == 0 else "", resource.name + flag, resource.type,
                          ", ".join(deps[:3]) + (f" +{len(deps) - 3}" if len(deps) > 3 else ""))
        table.add_section()
    # Piped output has no width to fit: print full type tokens rather than truncating them.
    console = Console(width=None if sys.stdout.isatty() else 220)
    console.print(table)
    console.print(f"[bold]{len(compiled.resources)} to add[/bold], 0 to change, 0 to destroy "
                  f"({len(by_component)} components). Deploy with: topoform up")
