"""`topoform eject`: write the blueprint's Plan as a standalone Pulumi project (providers/eject.py)."""

from __future__ import annotations

import os
import sys

import click

from .common import blueprint_argument, compile_or_exit, load, plan_components, print_diagnostics, target_options


@click.command()
@blueprint_argument
@target_options
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory to write the Pulumi project into.")
@click.option("--force", is_flag=True, help="Write into a directory that already has a Pulumi project.")
def eject(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...], out_dir: str,
          force: bool) -> None:
    """Write a standalone Pulumi project (Pulumi.yaml, __main__.py, requirements.txt) for BLUEPRINT."""
    from topoform.providers.eject import write_project

    result = load(blueprint, target, variables)
    compiled = compile_or_exit(result, target, stack)
    if compiled.warnings:
        print_diagnostics(compiled.warnings)
    if os.path.exists(os.path.join(out_dir, "Pulumi.yaml")) and not force:
        click.echo(f"error: {out_dir} already holds a Pulumi project; pass --force to overwrite it", err=True)
        sys.exit(2)
    bp = result.blueprint
    write_project(compiled, out_dir, blueprint_file=blueprint, region=bp.aws.region, description=bp.description)
    click.echo(click.style("ejected", fg="green", bold=True)
               + f": {len(compiled.resources)} resources for {plan_components(compiled, bp)} → {out_dir}/")
    click.echo(f"next:\n  cd {out_dir}\n  python -m venv venv && venv/bin/pip install -r requirements.txt\n"
               f"  pulumi stack init {stack} && pulumi up")
