"""The Pulumi program registers exactly the Plan, and `synth` reports it faithfully.

Plans here are written by hand (no compiler involved), so a failure points at
providers/program.py or api/testing.py, not at a target.
"""

from __future__ import annotations

import json

import pulumi
import pytest

from topoform.providers.plan import ComponentInfo, Plan, Resource
from topoform.providers.program import resource_class
from topoform.testing import SynthStack, mismatch, synth_plan


def make_plan(tmp_path, blueprint: str = "shop", queues: tuple[str, ...] = ("orders",)) -> Plan:
    """A small AWS Plan using every kind of special value the program resolves."""
    asset = tmp_path / "index.html"
    asset.write_text("<h1>hi</h1>")
    plan = Plan(blueprint, "aws", "test")
    plan.components["dns"] = ComponentInfo("dns", "topoform:index:Dns", outputs={"zone": "${zone.zone_id}"})
    plan.add(Resource("aws:route53/zone:Zone", "zone", "dns", {"name": "shop.example.com"},
                      secret_outputs=["name_servers"]))
    plan.add(Resource("aws:acm/certificate:Certificate", "cert", "dns",
                      {"domain_name": "shop.example.com", "validation_method": "DNS"}))
    plan.add(Resource("aws:route53/record:Record", "cert-validation", "dns", {
        "zone_id": "${zone.zone_id}",
        "name": "${cert.domain_validation_options[0].resource_record_name}",
        "type": "CNAME",
        "records": "${zone.name_servers}",  # a whole-value reference keeps its list type
        "ttl": 60,
    }))
    for name in queues:
        ref = f"queues.{name}"
        plan.components[ref] = ComponentInfo(ref, "topoform:index:Queue", outputs={"url": f"${{queue-{name}.url}}"})
        plan.add(Resource("aws:sqs/queue:Queue", f"queue-{name}-dlq", ref, {"message_retention_seconds": 1209600}))
        plan.add(Resource("aws:sqs/queue:Queue", f"queue-{name}", ref, {
            "visibility_timeout_seconds": 30,
            "redrive_policy": {"$json": {"deadLetterTargetArn": f"${{queue-{name}-dlq.arn}}", "maxReceiveCount": 5}},
            "tags": {"note": "literal $${not.a.reference}", "topoform:component": ref},
        }, protect=True))
        plan.add(Resource("aws:sqs/queuePolicy:QueuePolicy", f"queue-{name}-policy", ref, {
            "queue_url": f"${{queue-{name}.url}}",
            "policy": {"$json": {"Version": "2012-10-17", "Statement": []}},
        }, depends_on=[f"queue-{name}-dlq"]))
        plan.outputs[f"{name}_url"] = f"${{queue-{name}.url}}"
        plan.outputs[f"{name}_console"] = f"https://console/${{queue-{name}.name}}?region=us-east-1"
    plan.components["platform"] = ComponentInfo("platform", "topoform:index:Platform")
    plan.add(Resource("aws:secretsmanager/secret:Secret", "db-secret", "platform", {"name": "db"}))
    plan.add(Resource("aws:secretsmanager/secretVersion:SecretVersion", "db-secret-version", "platform", {
        "secret_id": "${db-secret.id}",
        "secret_string": {"$secret": "postgres://app:${db-secret.arn}@db"},
    }, secret_outputs=["secret_string"]))
    plan.add(Resource("aws:s3/bucketObjectv2:BucketObjectv2", "index", "platform",
                      {"bucket": "assets", "key": "index.html", "source": {"$asset": str(asset)}}))
    return plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Plan:
    return make_plan(tmp_path_factory.mktemp("program"))


@pytest.fixture(scope="module")
def stack(plan) -> SynthStack:
    return synth_plan(plan)


def test_registers_exactly_the_plan_resources(plan, stack):
    assert sorted((r.type, r.name) for r in stack.resources) == sorted((r.type, r.name) for r in plan.resources)


def test_one_component_per_blueprint_component_parents_its_resources(plan, stack):
    assert sorted((c.type, c.name) for c in stack.components) == sorted(
        (info.type, info.name) for info in plan.components.values())
    for resource in plan.resources:
        assert stack.named(resource.name).parent == plan.components[resource.component].name
    assert {c.parent for c in stack.components} == {"shop-test"}  # the stack resource


def test_dependencies_are_explicit_ones_and_references(plan, stack):
    assert stack.named("queue-orders-policy").dependencies == ["queue-orders", "queue-orders-dlq"]
    assert stack.named("cert-validation").dependencies == ["cert", "zone"]
    for resource in plan.resources:
        assert stack.named(resource.name).dependencies == plan.dependencies(resource)


def test_protect_and_additional_secret_outputs_reach_the_engine(stack):
    assert stack.named("queue-orders").protect is True
    assert stack.named("queue-orders-dlq").protect is False
    # The Plan's (Python) names reach the engine in its spelling; the SDK adds its own.
    assert stack.named("zone").secret_outputs == ["nameServers"]
    assert "secretString" in stack.named("db-secret-version").secret_outputs
    assert stack.named("queue-orders").secret_outputs == []


def test_whole_value_reference_keeps_the_output_type(stack):
    record = stack.named("cert-validation").inputs
    zone = stack.named("zone").outputs
    assert record["records"] == zone["nameServers"]
    assert isinstance(record["records"], list)
    assert record["zone_id"] == zone["zoneId"]


def test_attribute_paths_index_into_lists_and_read_fields(stack):
    options = stack.named("cert").outputs["domainValidationOptions"]
    assert stack.named("cert-validation").inputs["name"] == options[0]["resourceRecordName"]


def test_embedded_references_are_concatenated_as_text(stack):
    name = stack.named("queue-orders").outputs["name"]
    assert stack.outputs["orders_console"] == f"https://console/{name}?region=us-east-1"


def test_escaped_dollar_brace_is_a_literal(stack):
    assert stack.named("queue-orders").inputs["tags"]["note"] == "literal ${not.a.reference}"


def test_json_values_are_dumped_with_references_resolved(stack):
    redrive = json.loads(stack.named("queue-orders").inputs["redrive_policy"])
    assert redrive == {"deadLetterTargetArn": stack.named("queue-orders-dlq").outputs["arn"], "maxReceiveCount": 5}


def test_json_without_references_is_the_same_text_output_json_dumps_gives(stack):
    policy = {"Version": "2012-10-17", "Statement": []}
    assert stack.named("queue-orders-policy").inputs["policy"] == json.dumps(policy)


def test_secret_values_are_sent_as_secrets(stack):
    sent = stack.named("db-secret-version").inputs["secret_string"]
    # The engine's wire form of a secret: a signature key and the value.
    assert isinstance(sent, dict) and set(sent) == {"4dabf18193072939515e22adb298388d", "value"}
    assert sent["value"] == f"postgres://app:{stack.named('db-secret').outputs['arn']}@db"


def test_assets_are_file_assets(plan, stack):
    source = stack.named("index").inputs["source"]
    assert isinstance(source, pulumi.FileAsset)
    assert source.path == plan.get("index").properties["source"]["$asset"]


def test_stack_outputs_are_resolved_values(stack):
    assert stack.outputs["orders_url"] == stack.named("queue-orders").outputs["url"]
    assert stack.outputs["orders_url"].startswith("https://sqs.")


def test_inputs_answer_in_snake_case_and_engine_case(stack):
    inputs = stack.named("queue-orders").inputs
    assert inputs["visibility_timeout_seconds"] == inputs["visibilityTimeoutSeconds"] == 30
    assert inputs.get("no_such_input") is None
    assert inputs.snake()["visibility_timeout_seconds"] == 30


def test_many_runs_in_one_process_are_isolated(tmp_path):
    small = make_plan(tmp_path, blueprint="alpha", queues=("one",))
    large = make_plan(tmp_path, blueprint="beta", queues=("one", "two", "three"))
    for i in range(12):
        plan = small if i % 2 else large
        stack = synth_plan(plan)
        assert sorted(r.name for r in stack.resources) == sorted(r.name for r in plan.resources)
        assert {c.parent for c in stack.components} == {f"{plan.blueprint}-test"}
        assert all(r.urn.startswith(f"urn:pulumi:test::{plan.blueprint}::") for r in stack.resources)
        assert set(stack.outputs) == set(plan.outputs)


def test_a_failed_run_leaves_the_next_one_working(tmp_path, plan):
    broken = Plan("broken", "aws", "test")
    broken.components["dns"] = ComponentInfo("dns", "topoform:index:Dns")
    broken.add(Resource("aws:sqs/queue:Queue", "q", "dns", {"no_such_argument": 1}))
    with pytest.raises(TypeError):
        synth_plan(broken)
    assert len(synth_plan(plan).resources) == len(plan.resources)


def test_has_resource_properties_names_the_differing_path(stack):
    found = stack.has_resource_properties("aws:sqs/queue:Queue", {"visibility_timeout_seconds": 30})
    assert found.name == "queue-orders"
    with pytest.raises(AssertionError) as failure:
        stack.has_resource_properties("aws:sqs/queue:Queue", {"tags": {"note": "something else"}})
    message = str(failure.value)
    assert "queue-orders: at tags.note: expected 'something else'" in message
    assert "queue-orders-dlq: at tags: missing" in message


def test_has_resource_properties_lists_present_types_when_none_match(stack):
    with pytest.raises(AssertionError, match="no resource of type aws:rds/instance:Instance; types present: .*aws:sqs"):
        stack.has_resource_properties("aws:rds/instance:Instance", {})


def test_mismatch_reports_list_positions():
    assert mismatch({"a": [{"b": 1}]}, {"a": [{"b": 2}]}) == "at a[0].b: expected 1, got 2"
    assert mismatch({"a": [1]}, {"a": [1, 2]}) == "at a: expected [1], got [1, 2]"
    assert mismatch({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}) is None


def test_named_suggests_close_names(stack):
    with pytest.raises(KeyError, match="close: queue-orders"):
        stack.named("queue-order")


def test_resource_class_maps_tokens_to_sdk_classes():
    import pulumi_aws
    import pulumi_docker

    assert resource_class("aws:sqs/queue:Queue") is pulumi_aws.sqs.Queue
    assert resource_class("docker:index/container:Container") is pulumi_docker.Container
    with pytest.raises(TypeError, match="not a Pulumi type token"):
        resource_class("sqs-queue")
    with pytest.raises(TypeError, match="no SDK class for aws:sqs/queue:Nope"):
        resource_class("aws:sqs/queue:Nope")
