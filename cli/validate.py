"""`topoform validate`: parse and check a blueprint, print every problem."""

from __future__ import annotations

import os
import sys

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
