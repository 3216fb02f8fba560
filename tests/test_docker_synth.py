"""The Docker target's real Pulumi program, run under mocks for every example blueprint.

Checks that what `plan --json` promises is what the program registers (same
names, types and inputs; referenced values resolved), that the typed SDK
classes accept every argument, and that outputs a user reads (URLs with
generated passwords, shard maps) come out resolved.
"""

from __future__ import annotations

import glob
import json
import os
import re

import pytest

from topoform.dsl import load_blueprint
from topoform.providers import compile_plan
from topoform.providers.plan import REFERENCE_RE, referenced_names, unescape
from topoform.testing import synth_plan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLUEPRINTS = sorted(glob.glob(os.path.join(ROOT, "blueprints", "*.yaml")))
CONTAINER = "docker:index/container:Container"


def _expected(value):
    """A Plan value as the program passes it when no reference is involved."""
    if isinstance(value, str):
        return unescape(value)
    if isinstance(value, list):
        return [_expected(v) for v in value]
    if isinstance(value, dict):
        return {k: _expected(v) for k, v in value.items()}
    return value


def _pattern(text: str) -> re.Pattern:
    """A Plan string with references as a regex: literal parts exact, each reference any resolved text."""
    parts, last = [], 0
    for match in REFERENCE_RE.finditer(text):
        parts.append(re.escape(unescape(text[last:match.start()])))
        parts.append(re.escape("${") if match.group(1) is None else ".+?")
        last = match.end()
    parts.append(re.escape(unescape(text[last:])))
    return re.compile("".join(parts), re.S)


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # pulumi's marker for a secret value on the wire


def _same(plan_value, engine_value, where: str) -> None:
    if isinstance(engine_value, dict) and SECRET_SIG in engine_value:
        engine_value = engine_value["value"]
    if not referenced_names(plan_value):
        assert engine_value == _expected(plan_value), where
    elif isinstance(plan_value, str):
        assert isinstance(engine_value, str) and "${" not in engine_value.replace("$${", ""), where
        assert _pattern(plan_value).fullmatch(engine_value), f"{where}: {engine_value[:200]!r}"
    elif isinstance(plan_value, list):
        assert isinstance(engine_value, list) and len(engine_value) == len(plan_value), where
        for i, (p, e) in enumerate(zip(plan_value, engine_value)):
            _same(p, e, f"{where}[{i}]")
    else:
        assert isinstance(engine_value, dict), where
        for key, value in plan_value.items():
            assert key in engine_value, f"{where}.{key} missing"
            _same(value, engine_value[key], f"{where}.{key}")


@pytest.fixture(scope="module", params=[os.path.basename(p) for p in BLUEPRINTS])
def compiled(request):
    bp = load_blueprint(os.path.join(ROOT, "blueprints", request.param), target="docker")
    plan = compile_plan(bp, "docker", "test")
    return plan, synth_plan(plan)


def test_examples_exist():
    assert BLUEPRINTS, "no example blueprints in blueprints/"


def test_program_registers_exactly_the_planned_resources(compiled):
    plan, stack = compiled
    # The engine registers in the order inputs resolve, so compare as sets (names are unique).
    assert sorted((r.type, r.name) for r in stack.resources) == sorted((r.type, r.name) for r in plan.resources)
    for resource in plan.resources:
        registered = stack.named(resource.name)
        inputs = registered.inputs.snake()
        for key, value in resource.properties.items():
            assert key in inputs, f"{resource.name}.{key} was not registered"
            _same(value, inputs[key], f"{resource.name}.{key}")


def test_plan_json_and_program_agree(compiled):
    plan, stack = compiled
    data = json.loads(plan.to_json())
    by_name = {r.name: r for r in stack.resources}
    assert [r["name"] for r in data["resources"]] == [r.name for r in plan.resources]
    for item in data["resources"]:
        registered = by_name[item["name"]]
        assert registered.type == item["type"]
        assert registered.parent == item["component"].replace(".", "-").replace("_", "-")
        # Every dependency the Plan names (explicit or by reference) is one the engine knows.
        assert set(item["depends_on"]) <= set(registered.dependencies), item["name"]


def test_every_container_is_named_restartable_unprivileged_and_labelled(compiled):
    plan, stack = compiled
    for container in stack.of_type(CONTAINER):
        inputs = container.inputs.snake()
        assert inputs["name"].startswith(f"{plan.blueprint}-test-")
        assert inputs["restart"] == "unless-stopped"
        assert not inputs.get("privileged")
        assert inputs["image"].startswith("sha256:")  # the pulled image's id, resolved
        networks = inputs["networks_advanced"]
        assert networks and all(n["name"].startswith(f"{plan.blueprint}-test-") for n in networks)
        labels = {label["label"]: label["value"] for label in inputs["labels"]}
        assert labels["topoform.blueprint"] == plan.blueprint and labels["topoform.stack"] == "test"


def test_stateful_volumes_and_passwords_are_protected(compiled):
    plan, stack = compiled
    protected = {r.name for r in plan.resources if r.protect}
    for resource in plan.resources:
        if resource.type == "docker:index/volume:Volume" and resource.component.startswith("databases."):
            assert resource.name in protected


def test_passwords_reach_containers_and_outputs_resolved(compiled):
    plan, stack = compiled
    for key, value in stack.outputs.items():
        assert "${" not in json.dumps(value).replace("$${", ""), key
    for name, db in ((k[len("databases."):-len(".url")], v) for k, v in stack.outputs.items()
                     if k.startswith("databases.") and k.endswith(".url")):
        assert re.match(r"^(postgres|mysql)://app:mock-[0-9a-f]+@[a-z0-9-]+:\d+/\w+$", db), (name, db)


def test_hot_dr_example_fails_over_between_sites():
    path = os.path.join(ROOT, "blueprints", "two-region-hot-dr.yaml")
    plan = compile_plan(load_blueprint(path, target="docker"), "docker", "test")
    stack = synth_plan(plan)
    zone = next(u["content"] for u in stack.named("dns-server").inputs.snake()["uploads"]
                if u["file"].endswith(".zone"))
    primary = stack.named("lb-edge-0").inputs.snake()["networks_advanced"][0]["ipv4_address"]
    dr = stack.named("lb-edge-dr-0").inputs.snake()["networks_advanced"][0]["ipv4_address"]
    assert f"{{'{primary}'}},{{'{dr}'}}" in zone
    replica = stack.named("db-users-dr")
    assert "db-users" in replica.dependencies
    assert stack.outputs["databases.orders.shard_map"]["strategy"] == "consistent_hash"
    pem = next(u["content"] for u in stack.named("lb-edge-0").inputs.snake()["uploads"]
               if u["file"].endswith("cert.pem"))
    assert "BEGIN CERTIFICATE" in pem and "PRIVATE KEY" in pem  # certificate then key, for haproxy `crt`
