"""`preview`, `up`, `destroy`, `refresh`, `outputs`, `install-pulumi`: the engine commands.

Safety first, in this order, so an invalid blueprint or an unanswerable
question never touches a stack: validate (exit 2) → compile the Plan
(exit 2) → refuse `up`/`destroy` without `--yes` where nobody can confirm
(exit 2) → check the target is reachable, the Pulumi CLI is installed and a
passphrase is available (exit 1 with the fix) → only then the engine.
The library work lives in `topoform.cli.engine`; these commands parse
options, call it and print.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from .common import (
    EXIT_INVALID,
    blueprint_argument,
    compile_or_exit,
    parse_vars,
    print_diagnostics,
    target_options,
)


def is_interactive() -> bool:
    """Can someone answer a question? Not in CI, not with stdin redirected."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def backend_options(fn: Callable) -> Callable:
    fn = click.option("--secrets-provider", default=None, envvar="TOPOFORM_SECRETS_PROVIDER",
                      help="passphrase (default for file/S3 state), default (Pulumi Cloud), awskms://…, "
                           "gcpkms://…, azurekeyvault://…, hashivault://…")(fn)
    fn = click.option("--backend", "backend_url", default=None, envvar="TOPOFORM_BACKEND", metavar="URL",
                      help="State backend: s3://BUCKET/PREFIX, file://DIR, gs://…, azblob://…, "
                           "https://api.pulumi.com (or `cloud`) [default: .topoform/state beside the blueprint].")(fn)
    return fn


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the engine's events as JSON lines (Pulumi's event schema), then a summary.")(fn)


def diff_option(fn: Callable) -> Callable:
    return click.option("--diff", "show_diff", is_flag=True, help="Show the property changes of each resource.")(fn)


def yes_option(fn: Callable) -> Callable:
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (required when not interactive).")(fn)


# ---------------------------------------------------------------- output


def say(text: str = "", as_json: bool = False, **style: Any) -> None:
    """A human line: stdout normally, stderr under --json (stdout is then machine-readable)."""
    click.echo(click.style(text, **style) if style else text, err=as_json)


def report(error: Exception) -> None:
    message = getattr(error, "message", str(error))
    click.echo(click.style("error:", fg="red", bold=True) + f" {message}", err=True)
    hint = getattr(error, "hint", None)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    detail = getattr(error, "detail", None)
    if detail:
        click.echo(click.style("  engine said:", dim=True), err=True)
        for line in detail.splitlines():
            click.echo(click.style(f"    {line}", dim=True), err=True)


def fail(error: Exception) -> None:
    report(error)
    sys.exit(getattr(error, "exit_code", 1))


# ---------------------------------------------------------------- session


@dataclass
class Session:
    """One run of an engine command: the blueprint, its Plan, and (once connected) the stack."""

    path: str
    project: str
    project_dir: Path
    stack_name: str
    target: str
    plan: Any = None
    cli_variables: dict[str, str] = field(default_factory=dict)
    sensitive: dict[str, bool] = field(default_factory=dict)
    backend: Any = None
    stack: Any = None

    @property
    def work_dir(self) -> Path:
        from topoform.cli.engine.workspace import workspace_dir

        return workspace_dir(self.project_dir, self.project)

    @property
    def component_of(self) -> dict[str, str]:
        if not self.plan:
            return {}
        # Component resources by name too: resources deployed earlier and gone from
        # the Plan are still attributed to their component through their parent.
        return {**{info.name: ref for ref, info in self.plan.components.items()},
                **{r.name: r.component for r in self.plan.resources}}


def _prompt_passphrase(text: str) -> str:
    return click.prompt(text, hide_input=True, err=True)


def connect(session: Session, backend_url: str | None, secrets_provider: str | None, *,
            create: bool, program: Callable | None) -> None:
    """Find the CLI, choose the backend (passphrase), open the stack. Raises EngineError."""
    from topoform.cli.engine.backend import select_backend
    from topoform.cli.engine.cli_binary import find_pulumi_root, pulumi_command
    from topoform.cli.engine.operations import engine_call
    from topoform.cli.engine.workspace import open_stack

    root = find_pulumi_root()
    session.backend = select_backend(session.project_dir, backend_url, secrets_provider=secrets_provider,
                                     interactive=is_interactive(), prompt=_prompt_passphrase)
    command = pulumi_command(root)
    session.stack = engine_call(
        lambda: open_stack(project=session.project, stack=session.stack_name, work_dir=session.work_dir,
                           backend=session.backend, command=command, program=program, create=create,
                           description=f"Topoform blueprint {session.path}"),
        stack=session.stack_name, project=session.project, workdir=str(session.work_dir), notify=_notify)


def _notify(text: str) -> None:
    click.echo(click.style(text, fg="yellow"), err=True)


def prepare(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...],
            backend_url: str | None, secrets_provider: str | None, as_json: bool) -> Session:
    """Validate and compile (exit 2 on problems); variables stored in the stack are used too."""
    from topoform.dsl.diagnostics import has_errors
    from topoform.dsl.validate import validate_file
    from topoform.cli.engine.workspace import (
        StoredVariables,
        peek_blueprint,
        read_secret_variables,
        stored_variables,
        workspace_dir,
    )

    cli_vars = parse_vars(variables)
    name, declared, sensitive = peek_blueprint(blueprint)
    project_dir = Path(blueprint).resolve().parent
    stored = (stored_variables(workspace_dir(project_dir, name), name, stack, declared)
              if name else StoredVariables({}, []))
    values: dict[str, Any] = {**stored.plain, **cli_vars}
    session = Session(blueprint, name or "", project_dir, stack, target or "docker",
                      cli_variables=cli_vars, sensitive=sensitive)
    pending = [n for n in stored.secret if n not in cli_vars]
    if pending:
        # Encrypted variables from an earlier `up`: decrypting them needs the CLI and the passphrase.
        from topoform.cli.engine.preflight import check_all

        check_all(target)  # the target only if given: the blueprint's default is not read yet
        connect(session, backend_url, secrets_provider, create=False, program=None)
        values.update(read_secret_variables(session.stack, session.project, pending))
    result = validate_file(blueprint, values, target)
    if has_errors(result.diagnostics) or result.blueprint is None:
        print_diagnostics(result.diagnostics, as_json)
        errors = sum(d.severity == "error" for d in result.diagnostics)
        click.echo(f"{errors} error(s); nothing was deployed.", err=True)
        sys.exit(EXIT_INVALID)
    session.project = result.blueprint.blueprint
    session.target = target or result.target
    session.plan = compile_or_exit(result, target, stack, as_json)
    warnings = [d for d in result.diagnostics if d.severity == "warning"] + list(session.plan.warnings)
    if warnings and not as_json:
        print_diagnostics(warnings)
    return session


def require_confirmation_possible(yes: bool, operation: str) -> None:
    from topoform.cli.engine.errors import ConfirmationRefused

    if not yes and not is_interactive():
        raise ConfirmationRefused(
            f"refusing to {operation} without confirmation: this session is not interactive",
            f"pass --yes to {operation} without being asked (what you would type `yes` to)")


def confirm(question: str) -> None:
    """Terraform's question: only `yes` goes ahead."""
    from topoform.cli.engine.errors import ConfirmationRefused

    answer = click.prompt(click.style(question, bold=True) + "\n  Only 'yes' will be accepted to approve.\n"
                          "  Enter a value", default="", show_default=False, err=True)
    if answer.strip() != "yes":
        raise ConfirmationRefused("cancelled: the answer was not 'yes'; nothing was changed", exit_code=1)


def start_engine(session: Session, backend_url: str | None, secrets_provider: str | None, *,
                 create: bool, as_json: bool) -> None:
    """Preflight the target, connect, install the pinned provider plugins."""
    from topoform.cli.engine.operations import engine_call
    from topoform.cli.engine.plugins import install_plugins, required_plugins
    from topoform.cli.engine.preflight import check_all, check_delegation
    from topoform.cli.engine.workspace import configure_target, make_program, plan_region, stack_output

    # The CLI and the target together: every missing piece in one message.
    check_all(session.target, region=plan_region(session.plan) if session.target == "aws" else None)
    connect(session, backend_url, secrets_provider, create=create, program=make_program(session.plan))
    configure_target(session.stack, session.plan)
    delegation = check_delegation(session.plan, lambda: stack_output(session.stack, "dns.name_servers"))
    if delegation:
        _notify(delegation)
    say(f"{session.project}/{session.stack_name} · target {session.target} · {session.backend.describe()}",
        as_json, dim=True)
    plugins = required_plugins(r.type for r in session.plan.resources)
    engine_call(lambda: install_plugins(session.stack.workspace, plugins),
                stack=session.stack_name, project=session.project, workdir=str(session.work_dir), notify=_notify)


def progress_for(session: Session, operation: str, as_json: bool, show_diff: bool):
    from topoform.cli.engine.progress import Progress, event_as_json

    if as_json:
        progress = Progress(operation, lambda _line: None, component_of=session.component_of)

        def on_event(event: Any) -> None:
            progress(event)
            click.echo(json.dumps(event_as_json(event), ensure_ascii=False, default=str))

        return progress, on_event
    progress = Progress(operation, click.echo, component_of=session.component_of, show_diff=show_diff,
                        style=click.style)
    return progress, progress


def run_operation(session: Session, operation: str, call: Callable[[Callable], Any], *,
                  as_json: bool, show_diff: bool = False):
    from topoform.cli.engine.operations import engine_call

    progress, on_event = progress_for(session, operation, as_json, show_diff)
    verb = {"preview": "Previewing", "up": "Updating", "destroy": "Destroying", "refresh": "Refreshing"}[operation]
    say(f"{verb} stack {session.project}/{session.stack_name}…", as_json, bold=True)
    try:
        result = engine_call(lambda: call(on_event), stack=session.stack_name, project=session.project,
                             workdir=str(session.work_dir), notify=_notify)
    except Exception as exc:
        from topoform.cli.engine.errors import Cancelled

        progress.cancelled = isinstance(exc, Cancelled)
        _finish(progress, as_json)
        raise
    _finish(progress, as_json)
    return progress, result


def _finish(progress: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(progress.as_json(), ensure_ascii=False))
    else:
        progress.finish()


def print_outputs(outputs: dict[str, Any], as_json: bool, show_secrets: bool = False) -> None:
    """Stack outputs, `name = value`; secrets masked unless asked for."""
    shown = {name: (out.value if (show_secrets or not out.secret) else "[secret]") for name, out in outputs.items()}
    if as_json:
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False, default=str))
        return
    if not shown:
        return
    click.echo("")
    click.echo(click.style("Outputs:", bold=True))
    width = max(len(n) for n in shown)
    for name, value in shown.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        click.echo(f"  {name:<{width}} = {text}")


def run_preview(session: Session, as_json: bool, show_diff: bool) -> Any:
    """The engine's preview of `session`'s stack: for `preview`, and before `up` asks."""
    return run_operation(session, "preview", lambda on_event: session.stack.preview(on_event=on_event, diff=show_diff),
                         as_json=as_json, show_diff=show_diff)


# ---------------------------------------------------------------- commands


@click.command()
@blueprint_argument
@target_options
@backend_options
@json_option
@diff_option
def preview(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...], backend_url: str | None,
            secrets_provider: str | None, as_json: bool, show_diff: bool) -> None:
    """Show what `up` would change, without changing anything."""
    from topoform.cli.engine.errors import EngineError

    try:
        session = prepare(blueprint, target, stack, variables, backend_url, secrets_provider, as_json)
        start_engine(session, backend_url, secrets_provider, create=True, as_json=as_json)
        run_preview(session, as_json, show_diff)
    except EngineError as exc:
        fail(exc)


@click.command()
@blueprint_argument
@target_options
@backend_options
@json_option
@diff_option
@yes_option
def up(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...], backend_url: str | None,
       secrets_provider: str | None, as_json: bool, show_diff: bool, yes: bool) -> None:
    """Create or update the deployment (previews and asks first unless --yes)."""
    from topoform.cli.engine.errors import EngineError
    from topoform.cli.engine.workspace import store_config

    try:
        session = prepare(blueprint, target, stack, variables, backend_url, secrets_provider, as_json)
        require_confirmation_possible(yes, "deploy")
        start_engine(session, backend_url, secrets_provider, create=True, as_json=as_json)
        if not yes:
            planned, _ = run_preview(session, as_json, show_diff)
            counts = planned.counts()
            if not (counts["add"] or counts["change"] or counts["destroy"]):
                return
            confirm(f"Do you want to perform these actions on stack {session.project}/{session.stack_name}?")
        # Only now, approved: the stack remembers the blueprint, target and --var values.
        store_config(session.stack, project=session.project, blueprint_path=session.path, target=session.target,
                     variables=session.cli_variables, sensitive=session.sensitive, plan=session.plan)
        _, result = run_operation(session, "up", lambda on_event: session.stack.up(on_event=on_event, diff=show_diff),
                                  as_json=as_json, show_diff=show_diff)
        if not as_json:
            print_outputs(result.outputs, as_json)
    except EngineError as exc:
        fail(exc)


@click.command()
@blueprint_argument
@target_options
@backend_options
@json_option
@yes_option
@click.option("--exclude-protected", is_flag=True,
              help="Destroy everything except protected (stateful) resources, and keep those.")
def destroy(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...], backend_url: str | None,
            secrets_provider: str | None, as_json: bool, yes: bool, exclude_protected: bool) -> None:
    """Delete every resource of the stack (protected data stores are kept; see --exclude-protected)."""
    from topoform.cli.engine.errors import EngineError, StackNotDeployed
    from topoform.cli.engine.operations import protected_resources, protection_notice

    try:
        session = prepare(blueprint, target, stack, variables, backend_url, secrets_provider, as_json)
        protected = protected_resources(session.plan)
        for line in protection_notice(protected, stack):
            say(line, as_json)
        if protected and not exclude_protected:
            raise EngineError(f"refusing to destroy stack {session.project}/{stack}: {len(protected)} protected "
                              "resource(s) would stop it half-way",
                              "pass --exclude-protected to keep them and destroy the rest, or lift the protection "
                              "first as above")
        require_confirmation_possible(yes, "destroy")
        try:
            start_engine(session, backend_url, secrets_provider, create=False, as_json=as_json)
        except StackNotDeployed:
            say(f"Stack {session.project}/{stack} has never been deployed: nothing to destroy.", as_json)
            return
        if not yes:
            kept = f", keeping {len(protected)} protected" if protected else ""
            confirm(f"Destroy every resource of stack {session.project}/{stack}{kept}? There is no undo.")
        run_operation(session, "destroy",
                      lambda on_event: session.stack.destroy(on_event=on_event,
                                                             exclude_protected=exclude_protected or None),
                      as_json=as_json)
    except EngineError as exc:
        fail(exc)


@click.command()
@blueprint_argument
@target_options
@backend_options
@json_option
def refresh(blueprint: str, target: str | None, stack: str, variables: tuple[str, ...], backend_url: str | None,
            secrets_provider: str | None, as_json: bool) -> None:
    """Read the real state of the deployed resources into the stack (drift shows as changes)."""
    from topoform.cli.engine.errors import EngineError

    try:
        session = prepare(blueprint, target, stack, variables, backend_url, secrets_provider, as_json)
        start_engine(session, backend_url, secrets_provider, create=False, as_json=as_json)
        run_operation(session, "refresh", lambda on_event: session.stack.refresh(on_event=on_event),
                      as_json=as_json)
    except EngineError as exc:
        fail(exc)


@click.command()
@blueprint_argument
@click.option("--stack", default="dev", show_default=True, help="Stack name.")
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as a JSON object.")
@click.option("--show-secrets", is_flag=True, help="Print secret outputs in plain text.")
def outputs(blueprint: str, stack: str, backend_url: str | None, secrets_provider: str | None,
            as_json: bool, show_secrets: bool) -> None:
    """Print the stack outputs (URLs, endpoints) of a deployed blueprint."""
    from topoform.cli.engine.errors import EngineError
    from topoform.cli.engine.operations import engine_call
    from topoform.cli.engine.workspace import peek_blueprint

    name, _, _ = peek_blueprint(blueprint)
    if not name:
        click.echo(f"error: {blueprint}: cannot read `blueprint:` (its name); run `topoform validate {blueprint}`",
                   err=True)
        sys.exit(EXIT_INVALID)
    session = Session(blueprint, name, Path(blueprint).resolve().parent, stack, "docker")
    try:
        connect(session, backend_url, secrets_provider, create=False, program=None)
        values = engine_call(session.stack.outputs, stack=stack, project=name, workdir=str(session.work_dir),
                             notify=_notify)
    except EngineError as exc:
        fail(exc)
        return
    if not values and not as_json:
        click.echo(f"stack {name}/{stack} has no outputs")
        return
    print_outputs(values, as_json, show_secrets)


@click.command("install-pulumi")
@click.option("--root", type=click.Path(file_okay=False), default=None,
              help="Install under DIR (bin/pulumi) [default: ~/.pulumi/versions/VERSION].")
@click.option("--version", "version", default=None, help="Pulumi version [default: the installed SDK's].")
def install_pulumi(root: str | None, version: str | None) -> None:
    """Install the Pulumi CLI pinned to the SDK version (uses the official install script)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from topoform.cli.engine.cli_binary import install_cli, pinned_cli_version
    from topoform.cli.engine.errors import EngineError

    wanted = version or pinned_cli_version()
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      transient=True) as bar:
            bar.add_task(f"Installing Pulumi {wanted} (download and unpack)…", total=None)
            command, where = install_cli(root, wanted)
    except EngineError as exc:
        fail(exc)
        return
    installed = getattr(command, "version", None) or wanted
    click.echo(click.style("installed", fg="green", bold=True) + f": Pulumi {installed} in {where}/bin/pulumi")
    click.echo("Topoform finds it there; to use `pulumi` yourself, add it to PATH:\n"
               f"  export PATH=\"{where}/bin:$PATH\"")
