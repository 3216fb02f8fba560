"""`topoform report`: availability, disaster recovery, consistency and lint of a blueprint."""

from __future__ import annotations

import json
import sys

import click

from .common import EXIT_INVALID, blueprint_argument, load, target_options


@click.command()
@blueprint_argument
@target_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON (schemas/report.schema.json).")
@click.option("--strict", is_flag=True, help="Treat lint warnings as errors (exit 2).")
def report(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...],
           as_json: bool, strict: bool) -> None:
    """Availability, disaster-recovery, consistency and lint report of BLUEPRINT."""
    from topoform.providers.insight.report import build_report, render_text

    result = load(blueprint, target, variables, as_json)
    data = build_report(result.blueprint, result.target, strict)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        from rich.console import Console

        render_text(data, Console(highlight=False, soft_wrap=True))
    if data["summary"]["errors"]:
        sys.exit(EXIT_INVALID)
