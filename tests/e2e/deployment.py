"""One example blueprint deployed on the engine for a test module, and torn down after.

The stack name is unique per deployment (container, network and volume
names carry it), and every resource carries the `topoform.stack` label, so
teardown can be checked by label: nothing of the stack may be left but its
protected volumes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topoform.dsl import load_blueprint
from topoform.providers import compile_plan
from topoform.providers.plan import Plan

from .applier import Applied, Applier
from .images.plans import plan_image_tags as image_tags

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "blueprints"
CONTAINER = "docker:index/container:Container"


def unique_stack(prefix: str = "e2e") -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def compile_example(name: str, stack: str, variables: dict[str, Any] | None = None) -> Plan:
    """An example's Plan by its name (`minimal-web`), or any blueprint's by its path (`…/nosql.yaml`)."""
    path = Path(name) if name.endswith(".yaml") else EXAMPLES / f"{name}.yaml"
    return compile_plan(load_blueprint(str(path), variables), "docker", stack)


def leftovers(client: Any, stack: str) -> dict[str, list[str]]:
    """What the engine still holds of `stack`, by kind."""
    label = f"topoform.stack={stack}"
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters={"label": label})],
        "networks": [n.name for n in client.networks.list(filters={"label": label})],
        "volumes": [v.name for v in client.volumes.list(filters={"label": label})],
    }


@dataclass
class Deployment:
    name: str
    plan: Plan
    applier: Applier
    applied: Applied
    apply_seconds: float
    settle_seconds: float = 0.0

    @property
    def stack(self) -> str:
        return self.plan.stack

    def container(self, resource: str) -> Any:
        return self.applied.containers[resource]

    def containers_of(self, component: str) -> list[str]:
        return [r.name for r in self.plan.of_component(component) if r.type == CONTAINER]


def deploy(client: Any, ensure_images: Callable[[Iterable[str]], None], name: str,
           variables: dict[str, Any] | None = None, blueprint: Path | None = None) -> Deployment:
    """Compile (the example `name`, or the file `blueprint`), build the stand-ins, apply; on a failed
    apply, destroy what was made and re-raise."""
    plan = (compile_plan(load_blueprint(str(blueprint), variables), "docker", unique_stack()) if blueprint
            else compile_example(name, unique_stack(), variables))
    ensure_images(image_tags(plan))
    applier = Applier(client, plan)
    started = time.monotonic()
    try:
        applied = applier.apply()
    except BaseException:
        applier.destroy(remove_protected=True)
        raise
    return Deployment(name, plan, applier, applied, time.monotonic() - started)


def container_states(deployment: Deployment) -> dict[str, tuple[str, str | None]]:
    """(status, health or None) of every container, fresh from the engine."""
    states = {}
    for name, container in deployment.applied.containers.items():
        container.reload()
        state = container.attrs["State"]
        states[name] = (state["Status"], (state.get("Health") or {}).get("Status"))
    return states


def wait_settled(deployment: Deployment, timeout: float) -> dict[str, tuple[str, str | None]]:
    """Wait until every container runs and every health check says healthy; the last states seen."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while True:
        states = container_states(deployment)
        if all(s == "running" and h in (None, "healthy") for s, h in states.values()):
            deployment.settle_seconds = time.monotonic() - started
            return states
        if time.monotonic() > deadline:
            deployment.settle_seconds = time.monotonic() - started
            return states
        time.sleep(2)


def not_settled(states: dict[str, tuple[str, str | None]]) -> dict[str, tuple[str, str | None]]:
    return {n: s for n, s in states.items() if not (s[0] == "running" and s[1] in (None, "healthy"))}


def logs_of(deployment: Deployment, names: Iterable[str], lines: int = 15) -> str:
    out = []
    for name in names:
        text = deployment.container(name).logs(tail=lines).decode(errors="replace")
        out.append(f"--- {name}\n{text}")
    return "\n".join(out)


def until(check: Callable[[], Any], timeout: float, step: float = 1.0) -> Any:
    """`check()` again every `step` seconds until it is truthy or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def module_deployment(client: Any, ensure_images: Callable[[Iterable[str]], None], name: str,
                      settle_timeout: float) -> Any:
    """The body of a module fixture: deploy, wait for health (recorded, not asserted), yield, destroy."""
    deployment = deploy(client, ensure_images, name)
    deployment.settle_timeout = settle_timeout
    deployment.states = wait_settled(deployment, settle_timeout)
    deployment.healthy_at = time.monotonic()
    yield deployment
    deployment.applier.destroy(remove_protected=True)


def assert_settled(deployment: Deployment) -> None:
    bad = not_settled(deployment.states)
    print(f"{deployment.name}: {len(deployment.applied.containers)} containers, applied in "
          f"{deployment.apply_seconds:.1f}s, settled in {deployment.settle_seconds:.1f}s")
    assert not bad, (f"not running/healthy after {deployment.settle_timeout}s: {bad}\n"
                     f"{logs_of(deployment, list(bad)[:6])}")


def assert_teardown_keeps_only_protected_volumes(deployment: Deployment, client: Any) -> None:
    protected = {deployment.applier.outputs[r.name]["name"] for r in deployment.plan.resources
                 if r.protect and r.type == "docker:index/volume:Volume"}
    deployment.applier.destroy()
    left = leftovers(client, deployment.stack)
    assert left["containers"] == [] and left["networks"] == [], left
    assert set(left["volumes"]) == protected, f"kept {left['volumes']}, protected {sorted(protected)}"
    deployment.applier.destroy(remove_protected=True)
    assert leftovers(client, deployment.stack)["volumes"] == []
