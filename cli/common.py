"""Options and loading shared by the commands: one way to name a blueprint, a
target, a stack and variables, and one way to report an invalid blueprint."""

from __future__ import annotations

import sys
from typing import Any, Callable

import click

from topoform.dsl.diagnostics import Diagnostic, has_errors, render_json
from topoform.dsl.validate import Validated, validate_file

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


def parse_vars(values: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--var")
        result[name.strip()] = value
    return result


def blueprint_argument(fn: Callable) -> Callable:
    return click.argument("blueprint", type=click.Path(dir_okay=False))(fn)


def target_options(fn: Callable) -> Callable:
    fn = click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
                      help="Set a variable (repeatable).")(fn)
    fn = click.option("--stack", default="dev", show_default=True, help="Stack name.")(fn)
    fn = click.option("--target", type=click.Choice(["docker", "aws"]), default=None,
                      help="Deployment target [default: the blueprint's first target, docker].")(fn)
    return fn


def print_diagnostics(diags: list[Diagnostic], as_json: bool = False) -> None:
    if as_json:
        click.echo(render_json(diags))
        return
    for diag in diags:
        color = "red" if diag.severity == "error" else "yellow"
        head = f"{diag.file}:{diag.line}:{diag.column}: "
        click.echo(head + click.style(f"{diag.severity}:", fg=color, bold=True) + f" {diag.message}",
                   err=diag.severity == "error")
        if diag.hint:
            click.echo(f"  hint: {diag.hint}", err=diag.severity == "error")


def load(path: str, target: str | None, variables: tuple[str, ...], as_json: bool = False) -> Validated:
    """The validated blueprint, or exit 2 after printing every problem."""
    result = validate_file(path, parse_vars(variables), target)
    if has_errors(result.diagnostics) or result.blueprint is None:
        print_diagnostics(result.diagnostics, as_json)
        if not as_json:
            errors = sum(d.severity == "error" for d in result.diagnostics)
            click.echo(f"{errors} error(s)", err=True)  # these commands never deploy: nothing to reassure
        sys.exit(EXIT_INVALID)
    return result


def refuse_if_unbuildable(result: Validated, stack: str) -> None:
    """Exit 2 with the target's refusals where `plan` would refuse the blueprint (for the
    analyses, which read the design even when it cannot be built)."""
    from topoform.providers import refusals

    refused = refusals(result.blueprint, result.target, stack)
    if refused:
        print_diagnostics(refused)
        click.echo(f"{len(refused)} error(s): the {result.target} target cannot build this blueprint", err=True)
        sys.exit(EXIT_INVALID)


def compile_or_exit(result: Validated, target: str | None, stack: str, as_json: bool = False) -> Any:
    """The Plan for the chosen target, or exit 2 where the target cannot build the blueprint."""
    from topoform.providers import compile_plan
    from topoform.providers.base import UnsupportedError

    bp = result.blueprint
    try:
        return compile_plan(bp, target or result.target, stack)
    except UnsupportedError as exc:
        print_diagnostics(exc.diagnostics, as_json)
        sys.exit(EXIT_INVALID)


def blueprint_components(count: int) -> str:
    """The count every command states: components written in the blueprint (a Plan adds its
    own platform, dns, disaster_recovery and slos entries, which are not counted here)."""
    return f"{count} blueprint component{'' if count == 1 else 's'}"


def plan_components(plan: Any, bp: Any) -> str:
    """What a Plan's components are, in the count `validate` gives: "5 blueprint components
    + platform, dns" (a Plan adds its shared parts as components of their own)."""
    own = {component.ref for component in bp.components()}
    shared = [ref for ref in plan.components if ref not in own]
    return blueprint_components(len(own)) + (f" + {', '.join(shared)}" if shared else "")
