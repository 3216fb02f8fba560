"""`topoform drill`: fail part of a deployed stack on purpose; measure what the report predicted."""

from __future__ import annotations

import json
import sys

import click

from .common import EXIT_INVALID, blueprint_argument, compile_or_exit, load, target_options
from .deploy import backend_options


def _duration(ctx, param, value: str) -> float:
    from topoform.dsl.units import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error).splitlines()[0]) from None
    if not 1 <= seconds <= 3600:
        raise click.BadParameter("between 1s and 1h")
    return seconds


def _fail(message: str, code: int = EXIT_INVALID) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def stack_outputs(blueprint: str, project: str, stack: str, backend_url: str | None,
                  secrets_provider: str | None) -> dict:
    """The deployed stack's outputs, read through the Automation API as `topoform outputs` reads them."""
    from pathlib import Path

    from .deploy import Session, _notify, connect
    from .engine.operations import engine_call

    session = Session(blueprint, project, Path(blueprint).resolve().parent, stack, "aws")
    connect(session, backend_url, secrets_provider, create=False, program=None)
    values = engine_call(session.stack.outputs, stack=stack, project=project, workdir=str(session.work_dir),
                         notify=_notify)
    return {name: getattr(value, "value", value) for name, value in (values or {}).items()}


@click.command()
@blueprint_argument
@target_options
@click.option("--fail", "fail", multiple=True, metavar="REF[:N]",
              help="Stop every copy of a component (services.web), or copy N (services.web:0). Repeatable.")
@click.option("--site", type=click.Choice(["primary"]), help="Stop a whole site (hot DR failover).")
@click.option("--all", "every", is_flag=True, help="One drill per component on a request path: one copy each.")
@click.option("--duration", default="30s", show_default=True, callback=_duration,
              help="How long each fault lasts (docker; on aws the templates carry drills.duration).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--yes", is_flag=True, help="Do not ask before stopping anything.")
@backend_options
@click.pass_context
def drill(click_ctx, blueprint: str, target: str | None, stack: str, variables: tuple[str, ...],
          fail: tuple[str, ...], site: str | None, every: bool, duration: float, as_json: bool, yes: bool,
          backend_url: str | None, secrets_provider: str | None) -> None:
    """Stop components of the deployed stack of BLUEPRINT under a probe load; compare with `report`.

    On docker it stops and starts the stack's containers under a probe load on
    127.0.0.1; on aws it starts the stack's AWS FIS experiments (`drills:` in
    the blueprint) and reads the measures from CloudWatch. Exit 0 when every
    objective held, 3 when one did not, 2 for bad input, 1 when the drill
    could not run (no engine, stack unhealthy). What it stops it starts again,
    also on Ctrl-C; it never removes anything.
    """
    result = load(blueprint, target, variables, as_json)
    chosen = target or result.target
    if not fail and not every and not site:
        _fail("say what to fail: --fail REF (every copy), --fail REF:N (one copy), --all, or --site primary")
    plan = compile_or_exit(result, chosen, stack, as_json)
    explicit = click_ctx.get_parameter_source("duration") is not click.core.ParameterSource.DEFAULT
    if chosen == "aws":
        results = _aws(result.blueprint, plan, blueprint, stack, list(fail), every, site, duration if explicit
                       else None, yes, backend_url, secrets_provider)
    else:
        results = _docker(result.blueprint, plan, stack, list(fail), every, site, duration, yes)
    _print(plan, stack, results, as_json)


def _confirm(yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        _fail("not started: a drill stops parts of the stack; pass --yes to run it without a prompt")
    if not click.confirm("start the drill?", err=True):
        _fail("not started", EXIT_INVALID)


def _docker(bp, plan, stack: str, fail: list[str], every: bool, site: str | None, duration: float, yes: bool):
    from topoform.providers.drill.engine import EngineError, connect
    from topoform.providers.drill.run import Drill, Settings
    from topoform.providers.drill.scenarios import prepare
    from topoform.providers.drill.stack import DrillError, stack_labels

    log = (lambda message: click.echo(message, err=True))
    try:
        api = connect()
        prepared = prepare(bp, plan, api, fail, every, "docker", site)
        click.echo(f"drill of stack {stack!r} ({plan.blueprint}), each fault {duration:g} s:", err=True)
        for line in prepared.describe():
            click.echo(f"  {line}", err=True)
        _confirm(yes)
        runner = Drill(api, stack_labels(plan), prepared.stack, prepared.entries,
                       Settings(duration=duration, recovery_timeout=480 if site else 120), log)
        return runner.run(prepared.scenarios)
    except DrillError as error:
        _fail(str(error), error.exit_code)
    except EngineError as error:
        _fail(str(error), 1)
    except KeyboardInterrupt:
        click.echo("interrupted: what the drill stopped was started again", err=True)
        sys.exit(130)


def _aws(bp, plan, path: str, stack: str, fail: list[str], every: bool, site: str | None,
         duration: float | None, yes: bool, backend_url: str | None, secrets_provider: str | None):
    from topoform.providers.drill import aws
    from topoform.providers.drill.stack import DrillError

    from .engine.errors import EngineError

    if bp.drills is None:
        _fail("drills on aws run the stack's AWS FIS experiment templates, and this blueprint asks for none: add "
              "`drills: true` (or a `drills:` section) and run `topoform up`")
    if duration is not None and duration != bp.drills.duration:
        _fail(f"--duration {duration:g}s: on aws each fault lasts what its FIS template says, drills.duration "
              f"({bp.drills.duration:g}s); change it in the blueprint and run `topoform up`")
    log = (lambda message: click.echo(message, err=True))
    try:
        outputs = stack_outputs(path, plan.blueprint, stack, backend_url, secrets_provider)
        chosen = aws.choose(bp, plan, outputs, fail, every, site)
        settings = aws.Settings(duration=bp.drills.duration)
        click.echo(f"drill of stack {stack!r} ({plan.blueprint}) on aws, each fault {settings.duration:g} s:", err=True)
        for line in aws.describe(chosen, settings):
            click.echo(f"  {line}", err=True)
        _confirm(yes)
        clients = aws.connect(str(outputs["drills.region"]), outputs.get("drills.dr_region"))
        runner = aws.AwsDrill(clients, outputs, plan.blueprint, stack, settings, log)
        with aws.aws_errors():
            return runner.run(chosen)
    except DrillError as error:
        _fail(str(error), error.exit_code)
    except EngineError as error:
        _fail(error.message + (f" ({error.hint})" if error.hint else ""), error.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted: the running FIS experiment was stopped (FIS rolls back what it changed)", err=True)
        sys.exit(130)


def _print(plan, stack: str, results, as_json: bool) -> None:
    from topoform.providers.drill.render import as_json as results_json, render_text
    from topoform.providers.drill.run import exit_code

    code = exit_code(results)
    if as_json:
        click.echo(json.dumps(results_json(plan.blueprint, stack, results, code), indent=2))
    else:
        from rich.console import Console

        render_text(plan.blueprint, stack, results, Console(highlight=False, soft_wrap=True))
    sys.exit(code)
