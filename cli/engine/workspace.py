"""One stack of one blueprint: its Pulumi workspace, config and stored variables.

Each blueprint gets its own Pulumi project (named after `blueprint:`) in
`<blueprint dir>/.topoform/workspaces/<name>/`, so two blueprints beside
each other never share a `Pulumi.<stack>.yaml`; every stack (`--stack`) has
its own config file there. The program is inline — the same `run_plan` that
`synth` runs — so nothing is generated on disk but settings.

Stack config written on `up`:
- `topoform:blueprint`, `topoform:target`: which design this stack deploys;
- `<project>:<variable>`: every `--var` (secret for `sensitive: true`
  variables), so the next run of the stack uses the same values without
  repeating them, as `pulumi config set` would.

Provider config (`target_config`), written before every engine operation
(`configure_target`), so `preview` already runs with it:
- `aws:region`: the blueprint's `aws.region`. pulumi-aws checks for a
  region when it configures its default provider, and a per-resource
  `region=` argument does not satisfy that check: without it a user with
  only access keys gets "unable to find a configured AWS Region".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .backend import Backend, project_state_dir

CONFIG_BLUEPRINT = "topoform:blueprint"
CONFIG_TARGET = "topoform:target"
CONFIG_AWS_REGION = "aws:region"


def workspace_dir(project_dir: str | os.PathLike, project: str) -> Path:
    return project_state_dir(project_dir) / "workspaces" / project


def stack_settings_file(work_dir: Path, stack: str) -> Path:
    return work_dir / f"Pulumi.{stack.split('/')[-1]}.yaml"


@dataclass
class StoredVariables:
    """Variables a stack's config holds: plain values, and the names of encrypted ones."""

    plain: dict[str, str]
    secret: list[str]


def stored_variables(work_dir: Path, project: str, stack: str, declared: list[str]) -> StoredVariables:
    """Read offline from Pulumi.<stack>.yaml: no CLI, no passphrase (secret values stay encrypted)."""
    path = stack_settings_file(work_dir, stack)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return StoredVariables({}, [])
    config = data.get("config") or {}
    plain, secret = {}, []
    for name in declared:
        value = config.get(f"{project}:{name}")
        if value is None:
            continue
        if isinstance(value, dict) and "secure" in value:
            secret.append(name)
        else:
            plain[name] = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
    return StoredVariables(plain, secret)


def peek_blueprint(path: str) -> tuple[str | None, list[str], dict[str, bool]]:
    """(name, declared variable names, which are sensitive) from the raw YAML, before validation.

    Tolerant on purpose: anything unreadable yields (None, [], {}) and full
    validation then reports the problem with its line and column.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None, [], {}
    if not isinstance(data, dict):
        return None, [], {}
    name = data.get("blueprint") if isinstance(data.get("blueprint"), str) else None
    declared = data.get("variables") if isinstance(data.get("variables"), dict) else {}
    sensitive = {k: bool(isinstance(v, dict) and v.get("sensitive")) for k, v in declared.items()}
    return name, [str(k) for k in declared], sensitive


def make_program(plan: Any) -> Callable[[], None]:
    """The inline Pulumi program of a Plan: exactly what `synth` runs under mocks."""

    def program() -> None:
        from topoform.providers.program import run_plan

        run_plan(plan)

    return program


def open_stack(*, project: str, stack: str, work_dir: Path, backend: Backend, command: Any,
               program: Callable[[], None] | None, create: bool = True,
               description: str | None = None):
    """Create or select the stack in its workspace (the CLI runs here: needs `command`)."""
    from pulumi import automation as auto

    work_dir.mkdir(parents=True, exist_ok=True)
    settings = auto.ProjectSettings(
        name=project, runtime="python", main=str(work_dir), description=description,
        # Pinned in Pulumi.yaml as well as in the environment: a backend in
        # Pulumi.yaml wins over PULUMI_BACKEND_URL (pulumi/pulumi#7155).
        backend=auto.ProjectBackend(url=backend.url),
    )
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), env_vars=dict(backend.env), secrets_provider=backend.secrets_provider,
        project_settings=settings, pulumi_command=command,
        pulumi_home=os.environ.get("PULUMI_HOME"),
    )
    noop = program or (lambda: None)
    if create:
        return auto.create_or_select_stack(stack, project_name=project, program=noop, opts=opts)
    return auto.select_stack(stack, project_name=project, program=noop, opts=opts)


def plan_region(plan: Any) -> str | None:
    """The primary region of an aws Plan: its platform facts, else the first resource's `region`."""
    platform = plan.components.get("platform")
    facts = getattr(platform, "facts", None)
    if facts is not None and facts.region:
        return facts.region
    return next((r.properties["region"] for r in plan.resources
                 if isinstance(r.properties.get("region"), str)), None)


def target_config(plan: Any) -> dict[str, str]:
    """Provider settings the Plan's target needs in stack config (see the module docstring)."""
    if plan is None or plan.target != "aws":
        return {}
    region = plan_region(plan)
    return {CONFIG_AWS_REGION: region} if region else {}


def configure_target(stack: Any, plan: Any) -> None:
    """Write `target_config(plan)` to the stack (before preview, up, refresh and destroy)."""
    from pulumi.automation import ConfigValue

    config = target_config(plan)
    if config:
        stack.set_all_config({key: ConfigValue(value) for key, value in config.items()})


def store_config(stack: Any, *, project: str, blueprint_path: str, target: str,
                 variables: Mapping[str, str], sensitive: Mapping[str, bool], plan: Any = None) -> None:
    """Record the blueprint, target, `--var` values and the Plan's provider settings (one CLI call)."""
    from pulumi.automation import ConfigValue

    config = {
        CONFIG_BLUEPRINT: ConfigValue(str(Path(blueprint_path).resolve())),
        CONFIG_TARGET: ConfigValue(target),
        **{key: ConfigValue(value) for key, value in target_config(plan).items()},
    }
    for name, text in variables.items():
        config[f"{project}:{name}"] = ConfigValue(str(text), secret=bool(sensitive.get(name)))
    stack.set_all_config(config)


def stack_output(stack: Any, name: str) -> Any:
    """One output of the stack's last update, or None (never deployed, or no such output)."""
    from pulumi.automation import errors

    try:
        found = stack.outputs().get(name)
    except errors.CommandError:  # a stack without an update has no outputs to read
        return None
    return None if found is None else found.value


def read_secret_variables(stack: Any, project: str, names: list[str]) -> dict[str, str]:
    """Decrypt stored secret variables through the CLI (needs the passphrase)."""
    return {name: stack.get_config(f"{project}:{name}").value for name in names}
