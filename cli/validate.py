"""`topoform validate`: parse and check a blueprint, print every problem.

It checks what `plan` would refuse too: after the language checks it compiles
the Plan for each target (the blueprint's `targets:`, or `--target`) and
reports each target's refusals at their lines, all in one run. Compiling is
plain data work (no Pulumi import, milliseconds for a small blueprint), so
`validate` stays quick.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import click

from .common import (EXIT_FAILURE, EXIT_INVALID, blueprint_argument, blueprint_components, parse_vars,
                     print_diagnostics, target_options)


@click.command()
@blueprint_argument
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {file, line, column, severity, message}.")
@click.option("--strict", is_flag=True,
              help="Treat warnings as errors, the targets' warnings (what `plan` warns of) included.")
def validate(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...],
             as_json: bool, strict: bool) -> None:
    """Parse and check BLUEPRINT, and what each of its targets would refuse to build;
    print every problem as FILE:LINE:COL: error: MESSAGE."""
    try:
        diags, checked, target_warnings = _check(blueprint, parse_vars(variables), target, stack, strict)
    except click.ClickException:
        raise
    except Exception as exc:  # a bug of ours, never the user's input: say so briefly
        if os.environ.get("TOPOFORM_DEBUG"):
            raise
        click.echo(f"internal error while validating {blueprint}: {exc!r}\n"
                   "please report it (set TOPOFORM_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_FAILURE)
    print_diagnostics(diags, as_json)
    failed = any(d.severity == "error" or (strict and d.severity == "warning") for d in diags)
    if failed:
        if not as_json:
            click.echo(f"{sum(d.severity == 'error' for d in diags)} error(s), "
                       f"{sum(d.severity == 'warning' for d in diags)} warning(s)", err=True)
        sys.exit(EXIT_INVALID)
    if not as_json:
        bp = checked[0][1]
        count = sum(1 for _ in bp.components())
        names = ", ".join(name for name, _ in checked)
        line = (click.style("valid", fg="green", bold=True)
                + f": {blueprint} — blueprint '{bp.blueprint}', {blueprint_components(count)}, "
                f"target{'s' if len(checked) > 1 else ''} {names}")
        click.echo(line)
        if target_warnings:
            click.echo(f"  {target_warnings} target warning(s): `topoform plan` shows them; "
                       "`validate --strict` fails on them")


def _check(path: str, variables: dict, target: str | None, stack: str, strict: bool):
    """Every diagnostic for every target asked; the (target, Blueprint) pairs that passed;
    how many target warnings were left out (they are shown only under --strict)."""
    from topoform.dsl.diagnostics import has_errors, sorted_diagnostics
    from topoform.dsl.validate import for_target, validate_file

    first = validate_file(path, variables, target)
    if target is not None or first.blueprint is None:
        runs = [(first.target, first)]
    else:
        # Each listed target has its own language rules (`multi_az` on docker, …): check each.
        runs = [(first.target, first)] + [(name, for_target(first, name)) for name in first.blueprint.targets[1:]]
    several = len(runs) > 1
    diags = []
    checked = []
    left_out = 0
    for name, result in runs:
        own = list(result.diagnostics)
        if result.blueprint is not None and not has_errors(own):
            refusals, warnings = _target_problems(result.blueprint, name, stack)
            own += refusals
            if strict:
                own += warnings
            else:
                left_out += len(warnings)
            if not refusals:
                checked.append((name, result.blueprint))
        diags += [_for_target(d, name) if several and not _in_every(d, runs) else d for d in own]
    diags = sorted_diagnostics(diags)
    if has_errors(diags) or not checked:
        return diags, [], left_out
    return diags, checked, left_out


def _target_problems(bp, target: str, stack: str):
    """What the target refuses to build (errors) and what it warns of, from compiling its Plan."""
    from topoform.providers import compile_plan
    from topoform.providers.base import UnsupportedError

    try:
        plan = compile_plan(bp, target, stack)
    except UnsupportedError as exc:
        return list(exc.diagnostics), []
    return [], list(plan.warnings)


def _in_every(diag, runs) -> bool:
    """A language diagnostic every target's run found: not one target's own."""
    return all(diag in result.diagnostics for _, result in runs)


def _for_target(diag, target: str):
    """A diagnostic of one target among several, saying which."""
    return replace(diag, message=f"{target} target: {diag.message}")
