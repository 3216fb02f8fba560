"""`topoform drill`: fail part of a deployed stack on purpose; measure what the report predicted."""

from __future__ import annotations

import json
import sys

import click

from .common import EXIT_INVALID, blueprint_argument, compile_or_exit, load, target_options


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


@click.command()
@blueprint_argument
@target_options
@click.option("--fail", "fail", multiple=True, metavar="REF[:N]",
              help="Stop every copy of a component (services.web), or copy N (services.web:0). Repeatable.")
@click.option("--site", type=click.Choice(["primary"]), help="Stop a whole site (hot DR failover).")
@click.option("--all", "every", is_flag=True, help="One drill per component on a request path: one copy each.")
@click.option("--duration", default="30s", show_default=True, callback=_duration,
              help="How long each fault lasts.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--yes", is_flag=True, help="Do not ask before stopping anything.")
def drill(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...], fail: tuple[str, ...],
          site: str | None, every: bool, duration: float, as_json: bool, yes: bool) -> None:
    """Stop components of the deployed stack of BLUEPRINT under a probe load; compare with `report`.

    Exit 0 when every objective held, 3 when one did not, 2 for bad input,
    1 when the drill could not run (no engine, stack unhealthy). What it
    stops it starts again, also on Ctrl-C; it never removes anything.
    """
    result = load(blueprint, target, variables, as_json)
    chosen = target or result.target
    if chosen != "docker":
        _fail(f"not supported yet on {chosen}: a drill stops and starts the stack's containers on a Docker "
              f"engine; an {chosen} stack's tasks and databases need that cloud's fault-injection service")
    if not fail and not every and not site:
        _fail("say what to fail: --fail REF (every copy), --fail REF:N (one copy), --all, or --site primary")
    plan = compile_or_exit(result, chosen, stack, as_json)

    from topoform.providers.drill.engine import EngineError, connect
    from topoform.providers.drill.render import as_json as results_json, render_text
    from topoform.providers.drill.run import Drill, Settings, exit_code
    from topoform.providers.drill.scenarios import prepare
    from topoform.providers.drill.stack import DrillError, stack_labels

    log = (lambda message: click.echo(message, err=True))
    try:
        api = connect()
        prepared = prepare(result.blueprint, plan, api, list(fail), every, chosen, site)
        click.echo(f"drill of stack {stack!r} ({plan.blueprint}), each fault {duration:g} s:", err=True)
        for line in prepared.describe():
            click.echo(f"  {line}", err=True)
        if not yes:
            if not sys.stdin.isatty():
                _fail("not started: a drill stops containers; pass --yes to run it without a prompt")
            if not click.confirm("start the drill?", err=True):
                _fail("not started", EXIT_INVALID)
        runner = Drill(api, stack_labels(plan), prepared.stack, prepared.entries, Settings(duration=duration, recovery_timeout=480 if site else 120), log)
        results = runner.run(prepared.scenarios)
    except DrillError as error:
        _fail(str(error), error.exit_code)
    except EngineError as error:
        _fail(str(error), 1)
    except KeyboardInterrupt:
        click.echo("interrupted: what the drill stopped was started again", err=True)
        sys.exit(130)
    code = exit_code(results)
    if as_json:
        click.echo(json.dumps(results_json(plan.blueprint, stack, results, code), indent=2))
    else:
        from rich.console import Console

        render_text(plan.blueprint, stack, results, Console(highlight=False, soft_wrap=True))
    sys.exit(code)
