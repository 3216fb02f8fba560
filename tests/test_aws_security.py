"""Security checks of the AWS target over every example blueprint (and a few worst cases).

- no security group opens a database, cache or queue to an address range
  (let alone 0.0.0.0/0): their ingress names a source security group;
- no password or secret value is in plain text in the Plan, in the inputs
  the program registers, or in any output;
- storage is encrypted, buckets are private, tasks have no public address;
- every taggable resource carries the blueprint, stack and component tags;
- DR-site resources are placed in the DR region.
"""

from __future__ import annotations

import functools
import glob
import inspect
import json
import os
import re
import textwrap

import pytest

from topoform.dsl import load_blueprint, validate_text
from topoform.providers import compile_plan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLUEPRINTS = os.path.join(ROOT, "blueprints")
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
DATA_SECTIONS = ("databases.", "caches.", "queues.")
SECRET_TOKEN = "Pl41n-T3xt-Secret-Value"

# A blueprint that writes a secret and references every store kind.
WORST_CASE = f"""
blueprint: leaky
services:
  app:
    image: app:1
    port: 8080
    env:
      DB_PASSWORD: {SECRET_TOKEN}
      DATABASE_URL: ${{databases.main.url}}
      CACHE_URL: ${{caches.hot.url}}
      QUEUE_URL: ${{queues.jobs.url}}
load_balancers:
  edge: {{listeners: [{{port: 80}}], routes: [{{target: services.app}}]}}
databases:
  main: {{engine: mysql, storage: 20GiB}}
caches:
  hot: {{engine: redis, eviction: allkeys-lru}}
queues:
  jobs: {{consumers: [services.app]}}
"""


def example_blueprints() -> list[str]:
    return sorted(glob.glob(os.path.join(BLUEPRINTS, "*.yaml")))


def worst_case_path(tmp_dir: str) -> str:
    path = os.path.join(tmp_dir, "leaky.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent(WORST_CASE))
    return path


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> list[str]:
    return example_blueprints() + [worst_case_path(str(tmp_path_factory.mktemp("worst")))]


@functools.lru_cache(maxsize=None)
def plan_of(path: str):
    return compile_plan(load_blueprint(path, target="aws"), "aws", "dev")


@functools.lru_cache(maxsize=None)
def synth_of(path: str):
    from topoform.testing import synth

    return synth(path, target="aws", stack="dev")


def every_plan(paths):
    return [(os.path.basename(p), plan_of(p)) for p in paths]


# ---------------------------------------------------------------- network exposure


def test_no_store_is_open_to_an_address_range(paths):
    checked = 0
    for name, plan in every_plan(paths):
        store_groups = {r.name for r in plan.of_type(SG) if r.component.startswith(DATA_SECTIONS)}
        for group in plan.of_type(SG):
            assert not group.properties.get("ingress"), f"{name}: {group.name} has inline ingress"
        for rule in plan.of_type(INGRESS):
            target = rule.properties["security_group_id"][2:].split(".")[0]
            if target in store_groups:
                checked += 1
                assert "cidr_ipv4" not in rule.properties and "cidr_ipv6" not in rule.properties, \
                    f"{name}: {rule.name} opens a store to {rule.properties}"
                assert rule.properties["referenced_security_group_id"].startswith("${"), rule.name
    assert checked >= 3  # the worst case alone has a database and a cache rule


def test_nothing_but_balancers_and_public_services_admits_the_internet(paths):
    for name, plan in every_plan(paths):
        for rule in plan.of_type(INGRESS):
            if rule.properties.get("cidr_ipv4") == "0.0.0.0/0" or rule.properties.get("cidr_ipv6") == "::/0":
                component = plan.get(rule.properties["security_group_id"][2:].split(".")[0]).component
                assert component.startswith(("load_balancers.", "services.")), f"{name}: {rule.name}"
                if component.startswith("services."):
                    bp = load_blueprint(os.path.join(BLUEPRINTS, name), target="aws")
                    assert bp.component(component).public, f"{name}: {rule.name}"


def test_tasks_have_no_public_address_and_run_in_private_subnets(paths):
    for name, plan in every_plan(paths):
        for service in plan.of_type("aws:ecs/service:Service"):
            network = service.properties["network_configuration"]
            assert network["assign_public_ip"] is False, f"{name}: {service.name}"
            assert all("-private-" in subnet for subnet in network["subnets"]), f"{name}: {service.name}"


def test_a_public_listener_beside_a_tls_one_only_redirects(paths):
    for name, plan in every_plan(paths):
        by_balancer: dict[str, list] = {}
        for listener in plan.of_type("aws:lb/listener:Listener"):
            by_balancer.setdefault(listener.properties["load_balancer_arn"], []).append(listener.properties)
        for listeners in by_balancer.values():
            if any(p["protocol"] == "HTTPS" for p in listeners):
                for p in listeners:
                    if p["protocol"] == "HTTP":
                        assert [a["type"] for a in p["default_actions"]] == ["redirect"], name
                    else:
                        assert p["ssl_policy"].startswith("ELBSecurityPolicy-TLS13"), name


# ---------------------------------------------------------------- secrets


# How the Pulumi SDK marks a secret value in resource inputs (pulumi.runtime.rpc).
SECRET_SIG, SECRET_VALUE_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
SECRET_KEY_RE = re.compile(r"password|secret_string|auth_token|private_key", re.I)


def secret_leaks(value, path: str = "") -> list[str]:
    """Places in Plan data where a secret-looking key holds plain text."""
    found = []
    if isinstance(value, dict):
        if set(value) == {"$secret"}:
            return []
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if SECRET_KEY_RE.search(key) and isinstance(item, str) and "${" not in item:
                found.append(where)
            found.extend(secret_leaks(item, where))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(secret_leaks(item, f"{path}[{i}]"))
    return found


def test_no_plain_password_in_any_plan(paths):
    for name, plan in every_plan(paths):
        data = plan.as_json()
        for resource in data["resources"]:
            assert not secret_leaks(resource["properties"]), f"{name}: {resource['name']}"
        assert not secret_leaks(data["outputs"]), name


def test_a_written_secret_only_reaches_secrets_manager_in_the_plan(paths):
    plan = plan_of(paths[-1])
    holders = [r for r in plan.resources if SECRET_TOKEN in json.dumps(r.properties)]
    assert [r.type for r in holders] == ["aws:secretsmanager/secretVersion:SecretVersion"]
    assert holders[0].properties["secret_string"] == {"$secret": SECRET_TOKEN}
    assert SECRET_TOKEN not in json.dumps(plan.outputs)
    (container,) = plan.get("svc-app-task").properties["container_definitions"]["$json"]
    assert {"name": "DB_PASSWORD", "valueFrom": "${svc-app-env-db-password.arn}"} in container["secrets"]
    assert all(e["name"] != "DB_PASSWORD" for e in container["environment"])


@pytest.mark.parametrize("index", range(len(example_blueprints()) + 1))
def test_no_secret_in_the_program_inputs_or_outputs(paths, index):
    """Under mocks: generated passwords and written secrets appear in no input but a secret's, and in no output."""
    stack = synth_of(paths[index])
    generated = [r.outputs.get("result") for r in stack.resources if r.type == "random:index/randomPassword:RandomPassword"]
    secrets = [s for s in generated if s] + [SECRET_TOKEN]
    for resource in stack.resources:
        if resource.type in ("aws:secretsmanager/secretVersion:SecretVersion", "random:index/randomPassword:RandomPassword"):
            continue
        inputs = dict(resource.inputs)
        if resource.type == "aws:rds/instance:Instance" and "password" in inputs:
            # The instance's own generated master password: it must arrive marked secret.
            password = inputs.pop("password")
            assert isinstance(password, dict) and password.get(SECRET_SIG) == SECRET_VALUE_SIG \
                and password.get("value") in secrets, f"{resource.name}: password not a secret input"
        if resource.type == "aws:elasticache/replicationGroup:ReplicationGroup":
            # The AUTH token is the input ElastiCache needs: it must arrive marked secret.
            token = inputs.pop("authToken", None)
            assert isinstance(token, dict) and token.get(SECRET_SIG) == SECRET_VALUE_SIG \
                and token.get("value") in secrets, f"{resource.name}: AUTH token not a secret input"
        if resource.type == "aws:docdb/cluster:Cluster" and "masterPassword" in inputs:
            password = inputs.pop("masterPassword")  # its generated master password: it must arrive secret
            assert isinstance(password, dict) and password.get(SECRET_SIG) == SECRET_VALUE_SIG \
                and password.get("value") in secrets, f"{resource.name}: password not a secret input"
        if resource.type == "aws:memorydb/user:User":
            # The user's password is the input MemoryDB needs: its authentication mode must arrive secret.
            mode = inputs.pop("authenticationMode", None)
            assert isinstance(mode, dict) and mode.get(SECRET_SIG) == SECRET_VALUE_SIG \
                and set(mode["value"]["passwords"]) <= set(secrets), f"{resource.name}: password not a secret input"
        text = json.dumps(inputs, default=str)
        for secret in secrets:
            assert secret not in text, f"{resource.name} receives a secret in plain text"
    outputs = json.dumps(stack.outputs, default=str)
    assert not any(secret in outputs for secret in secrets)
    for task in stack.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in json.loads(task.inputs["containerDefinitions"]):
            for entry in container.get("environment", []):
                assert not SECRET_KEY_RE.search(entry["name"]), f"{task.name}: {entry['name']} in plain env"


# ---------------------------------------------------------------- encryption and privacy of storage


def test_storage_is_encrypted_and_buckets_are_private(paths):
    for name, plan in every_plan(paths):
        for db in plan.of_type("aws:rds/instance:Instance"):
            assert db.properties.get("storage_encrypted") is True, f"{name}: {db.name}"
            assert db.properties.get("publicly_accessible") in (None, False), f"{name}: {db.name}"
        for group in plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
            assert group.properties.get("at_rest_encryption_enabled") is True, f"{name}: {group.name}"
            assert group.properties.get("transit_encryption_enabled") is True, f"{name}: {group.name}"
        for queue in plan.of_type("aws:sqs/queue:Queue"):
            assert queue.properties.get("sqs_managed_sse_enabled") or queue.properties.get("kms_master_key_id"), \
                f"{name}: {queue.name}"
        buckets = {r.name for r in plan.of_type("aws:s3/bucket:Bucket")}
        blocked = {r.properties["bucket"][2:].split(".")[0] for r in
                   plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
                   if all(r.properties[k] for k in ("block_public_acls", "block_public_policy",
                                                     "ignore_public_acls", "restrict_public_buckets"))}
        encrypted = {r.properties["bucket"][2:].split(".")[0] for r in plan.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")}
        edge_buckets = {b for b in buckets if not b.startswith("dr-") and not b.endswith("-dr")}
        assert edge_buckets <= blocked, f"{name}: public buckets {edge_buckets - blocked}"
        assert edge_buckets <= encrypted, f"{name}: unencrypted buckets {edge_buckets - encrypted}"


# ---------------------------------------------------------------- tags and placement


@functools.lru_cache(maxsize=None)
def takes_tags(token: str) -> bool:
    from topoform.providers.program import resource_class

    return "tags" in inspect.signature(resource_class(token)._internal_init).parameters


def test_every_taggable_resource_is_tagged(paths):
    for name, plan in every_plan(paths):
        for resource in plan.resources:
            if resource.type.startswith("aws:") and takes_tags(resource.type):
                tags = resource.properties.get("tags") or {}
                assert tags.get("topoform:blueprint") == plan.blueprint, f"{name}: {resource.name}"
                assert tags.get("topoform:stack") == "dev", f"{name}: {resource.name}"
                assert tags.get("topoform:component"), f"{name}: {resource.name}"


def test_dr_site_resources_live_in_the_dr_region(paths):
    for name, plan in every_plan(paths):
        bp = load_blueprint(paths[[os.path.basename(p) for p in paths].index(name)], target="aws")
        if bp.disaster_recovery is None or not bp.disaster_recovery.region:
            continue
        dr_region = bp.disaster_recovery.region
        placed = 0
        for resource in plan.resources:
            if resource.name.startswith("dr-") and "region" in resource.properties:
                placed += 1
                assert resource.properties["region"] == dr_region, f"{name}: {resource.name}"
            elif resource.name.startswith(("net-", "svc-", "lb-", "ecs-")) and "region" in resource.properties:
                assert resource.properties["region"] == bp.aws.region, f"{name}: {resource.name}"
        assert placed > 0, name


def test_an_internal_balancer_is_not_reachable_from_the_internet():
    result = validate_text(textwrap.dedent("""
        blueprint: s
        services:
          api: {image: x, port: 80}
          web: {image: y, port: 80, env: {API: "${load_balancers.inner.url}"}}
        load_balancers:
          inner: {internal: true, routes: [{target: services.api}]}
    """), file="t.yaml", base_dir=BLUEPRINTS, target="aws")
    plan = compile_plan(result.blueprint, "aws", "dev")
    assert plan.get("lb-inner").properties["internal"] is True
    assert plan.get("lb-inner").properties["subnets"][0] == "${net-private-0.id}"
    rules = [r.properties for r in plan.of_type(INGRESS) if r.properties["security_group_id"] == "${lb-inner-sg.id}"]
    assert rules and all(r.get("referenced_security_group_id") == "${svc-web-sg.id}" for r in rules)
