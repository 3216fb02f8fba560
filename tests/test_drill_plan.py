"""`drills:` in the blueprint: validation, what it adds to an AWS Plan (and nothing to a Docker one),
and that the program registers it under Pulumi mocks. The AWS rules (tests/aws_rules/rules_fis.py)
check the templates against the FIS documentation on every variant."""

from __future__ import annotations

import pytest

from aws_rules import matrix
from topoform.dsl import validate_text
from topoform.providers import compile_plan
from topoform.providers.base import UnsupportedError
from topoform.providers.plan import dumps
from topoform.testing import synth_plan

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
BASE = """blueprint: dr
services:
  web: {image: nginx:1.27-alpine, port: 80, replicas: 2}
load_balancers:
  edge: {listeners: [{port: 80}], routes: [{path: /*, target: services.web}]}
databases:
  main: {engine: postgres, multi_az: true}
caches:
  hot: {engine: redis, replicas: 1}
  plain: {engine: redis}
  mem: {engine: memcached}
slos: {error_rate: 1%, notify: [ops@example.com]}
"""


def load(text: str):
    result = validate_text(text, file="d.yaml", base_dir=str(matrix.ROOT / "blueprints"))
    assert result.ok, [d.render() for d in result.diagnostics]
    return result.blueprint


def errors(text: str) -> list[str]:
    result = validate_text(text, file="d.yaml")
    return [d.render() for d in result.diagnostics if d.severity == "error"]


def test_no_drills_no_templates_and_no_role():
    plan = compile_plan(load(BASE), "aws")
    assert not plan.of_type(TEMPLATE) and "drill-role" not in plan
    assert not [k for k in plan.outputs if k.startswith("drills.")]


def test_drills_true_gives_each_drillable_component_its_templates():
    plan = compile_plan(load(BASE + "drills: true\n"), "aws")
    names = [r.name for r in plan.of_type(TEMPLATE)]
    # The single-node and memcached caches are left out: FIS cuts zone power under Multi-AZ groups only.
    assert names == ["drill-svc-web-one-copy", "drill-svc-web-every-copy", "drill-db-main-reboot",
                     "drill-cache-hot-zone-power"]
    assert {r.component for r in plan.of_type(TEMPLATE)} == {"services.web", "databases.main", "caches.hot"}
    assert plan.outputs["drills.services.web.one_copy"] == "${drill-svc-web-one-copy.id}"
    assert plan.outputs["drills.metrics.load_balancers.edge.primary"] == "${lb-edge.arn_suffix}"
    reboot = plan.get("drill-db-main-reboot").properties
    assert reboot["actions"][0]["parameters"] == [{"key": "forceFailover", "value": "true"}]
    assert reboot["stop_conditions"] == [{"source": "aws:cloudwatch:alarm", "value": "${slo-error-rate.arn}"}]
    assert plan.get("drill-db-main-reboot").source.line == 13  # the `drills:` line


def test_a_section_chooses_components_duration_and_stop_conditions():
    plan = compile_plan(load(BASE + "drills: {components: [caches.hot], duration: 10m, stop_on_slos: false}\n"), "aws")
    (template,) = plan.of_type(TEMPLATE)
    assert template.properties["actions"][0]["parameters"] == [{"key": "duration", "value": "PT10M"}]
    assert template.properties["stop_conditions"] == [{"source": "none"}]
    assert template.properties["targets"][0]["parameters"] == {"availabilityZoneIdentifier": "us-east-1a"}
    statements = plan.get("drill-role-policy").properties["policy"]["$json"]["Statement"]
    assert {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} == {
        "elasticache:InterruptClusterAzPower", "elasticache:DescribeReplicationGroups", "tag:GetResources"}


@pytest.mark.parametrize("component, words", [
    ("caches.plain", "Multi-AZ replication groups only"),
    ("caches.mem", "a memcached cache is no replication group"),
])
def test_a_named_component_fis_cannot_fail_is_refused_where_it_is_written(component, words):
    text = BASE + f"drills:\n  components: [services.web, {component}]\n"
    with pytest.raises(UnsupportedError) as caught:
        compile_plan(load(text), "aws")
    (diagnostic,) = caught.value.diagnostics
    assert words in diagnostic.message and (diagnostic.line, diagnostic.column) == (14, 30)


def test_docker_plans_are_the_same_with_or_without_drills():
    # A Docker drill stops containers through the engine: it needs nothing in the Plan.
    without, with_ = (compile_plan(load(BASE + extra), "docker") for extra in ("", "drills: true\n"))
    assert dumps([r.as_json() for r in with_.resources]) == dumps([r.as_json() for r in without.resources])
    assert with_.outputs == without.outputs


@pytest.mark.parametrize("written, message", [
    ("drills: maybe\n", "d.yaml:13:9: error: drills: expected true, false or a mapping, but got 'maybe'"),
    ("drills: {duration: 30s}\n", "d.yaml:13:20: error: drills.duration: a drill's fault lasts 1m to 12h"),
    ("drills: {components: [load_balancers.edge]}\n", "d.yaml:13:23: error: drills.components[0]: "
     "'load_balancers.edge' is a load balancer, but this field takes a service"),
    ("drills: {components: [services.nope]}\n", "d.yaml:13:23: error: 'services.nope' does not exist"),
    ("drills: {stop_on_slo: false}\n", "d.yaml:13:10: error: unknown key 'stop_on_slo' in drills"),
])
def test_bad_drills_are_errors_at_their_line_and_column(written, message):
    assert any(e.startswith(message) for e in errors(BASE + written)), errors(BASE + written)


def test_the_program_registers_the_templates_under_mocks():
    bp = matrix.load(matrix.variants()["drills-hot-dr"], "drills-hot-dr")
    stack = synth_plan(compile_plan(bp, "aws"))
    site = stack.named("drill-site")
    assert site.inputs["actions"][0]["actionId"] == "aws:network:disrupt-connectivity"
    assert site.inputs["role_arn"] == stack.named("drill-role").outputs["arn"]
