"""The program behind the repository's `Pulumi.yaml`: plain `pulumi preview` / `pulumi up`.

For users who drive Pulumi themselves (CI templates, `pulumi stack` habits):
the stack config names the blueprint and the target,

    pulumi config set topoform:blueprint blueprints/shop.yaml
    pulumi config set topoform:target aws          # default: the blueprint's first target
    pulumi config set web_replicas 5               # a blueprint variable (project namespace)

and the program validates, compiles and registers the same Plan `topoform up`
would. An invalid blueprint fails the run with every diagnostic, before any
resource is registered.
"""

from __future__ import annotations

import os

RESERVED = {"blueprint", "target"}


def blueprint_path(configured: str, root: str | None) -> str:
    """A relative path is relative to the project root (where Pulumi.yaml is), else the cwd."""
    if os.path.isabs(configured):
        return configured
    return os.path.join(root or os.getcwd(), configured)


def run_configured_blueprint() -> dict:
    """Read `topoform:blueprint`/`topoform:target` and the variables from config; register the Plan."""
    import pulumi

    from topoform.dsl.diagnostics import has_errors
    from topoform.dsl.validate import validate_file
    from topoform.providers import compile_plan
    from topoform.providers.base import UnsupportedError
    from topoform.providers.program import run_plan

    from .workspace import peek_blueprint

    settings = pulumi.Config("topoform")
    path = blueprint_path(settings.require("blueprint"), _root_directory())
    target = settings.get("target") or None
    _, declared, _ = peek_blueprint(path)
    project_config = pulumi.Config()
    variables = {}
    for name in declared:
        if name in RESERVED and project_config.name == "topoform":
            continue
        value = project_config.get(name)
        if value is not None:
            variables[name] = value
    result = validate_file(path, variables, target)
    if has_errors(result.diagnostics) or result.blueprint is None:
        raise pulumi.RunError("the blueprint is invalid; nothing was registered:\n"
                              + "\n".join(d.render() for d in result.diagnostics if d.severity == "error"))
    for warning in result.diagnostics:
        pulumi.log.warn(warning.render())
    try:
        plan = compile_plan(result.blueprint, target or result.target, pulumi.get_stack())
    except UnsupportedError as exc:
        raise pulumi.RunError("\n".join(d.render() for d in exc.diagnostics)) from None
    return run_plan(plan)


def _root_directory() -> str | None:
    import pulumi

    try:
        return pulumi.get_root_directory()
    except Exception:  # noqa: BLE001 — absent under mocks and in old SDKs
        return None
