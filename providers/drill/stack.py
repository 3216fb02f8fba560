"""A deployed stack's containers, found by label and matched to the Plan's containers.

Every container a docker Plan creates carries `topoform.blueprint`,
`topoform.stack` and `topoform.component` (providers/docker/containers.py),
whatever deployed it (`topoform up`, or the e2e tests' applier). A drill acts
only on containers whose labels name this blueprint and stack: the engine's
label filter is asked, and each answer is checked again here.
"""

from __future__ import annotations

from dataclasses import dataclass

from topoform.providers.plan import Plan

from .engine import ContainerAPI, ContainerInfo

CONTAINER = "docker:index/container:Container"


class DrillError(Exception):
    """A drill cannot start: the stack is not deployed, a reference is wrong, the input is bad."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Copy:
    """One container of a component: the Plan's resource and the engine's container."""

    resource: str  # the Plan's resource name ("svc-web-0")
    component: str
    site: str  # "primary" | "dr"
    container: ContainerInfo
    internal_ports: list[tuple[int, str]]  # the Plan's published ports (internal, protocol)
    stop_timeout: int


def stack_labels(plan: Plan) -> dict[str, str]:
    return {"topoform.blueprint": plan.blueprint, "topoform.stack": plan.stack}


def _site(resource_name: str, properties: dict) -> str:
    for label in properties.get("labels", []):
        if label.get("label") == "topoform.site":
            return str(label["value"])
    return "dr" if "-dr-" in resource_name or resource_name.endswith("-dr") else "primary"


def find_stack(api: ContainerAPI, plan: Plan) -> dict[str, list[Copy]]:
    """component ref → its copies (Plan order); DrillError when the stack is not deployed."""
    labels = stack_labels(plan)
    found = [c for c in api.list(labels) if all(c.labels.get(k) == v for k, v in labels.items())]
    if not found:
        raise DrillError(f"stack {plan.stack!r} of blueprint {plan.blueprint!r} is not deployed on this engine "
                         f"(no container carries topoform.blueprint={plan.blueprint}, topoform.stack={plan.stack}); "
                         f"deploy it with `topoform up`, or name the stack it was deployed as with --stack", 2)
    by_name = {c.name: c for c in found}
    stack: dict[str, list[Copy]] = {}
    missing: list[str] = []
    for resource in plan.resources:
        if resource.type != CONTAINER or resource.properties.get("start") is False:
            continue
        container = by_name.get(str(resource.properties.get("name")))
        if container is None or container.labels.get("topoform.component") != resource.component:
            missing.append(resource.name)
            continue
        ports = [(int(p["internal"]), p.get("protocol", "tcp")) for p in resource.properties.get("ports", [])]
        grace = resource.properties.get("stop_timeout") or resource.properties.get("destroy_grace_seconds") or 10
        stack.setdefault(resource.component, []).append(
            Copy(resource.name, resource.component, _site(resource.name, resource.properties), container, ports,
                 int(grace)))
    if missing:
        raise DrillError(f"stack {plan.stack!r} on this engine is not the deployment of this blueprint: "
                         f"{len(missing)} container(s) of the plan are missing ({', '.join(missing[:5])}); "
                         f"run `topoform up` first", 2)
    return stack
