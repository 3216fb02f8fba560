"""AWS data stores: RDS, Aurora DSQL, ElastiCache and SQS in the Plan, and under mocks.

Plan tests compile small blueprints and assert the properties an architect
checks (replica sources, encryption, failover, redrive); synth tests run the
real program under pulumi mocks and assert the values the engine receives.
"""

from __future__ import annotations

import json
import os
import re
import textwrap

import pytest

from topoform.dsl import validate_text
from topoform.dsl.topology import topology
from topoform.providers import aws, compile_plan
from topoform.providers.aws.kinds import databases
from topoform.providers.aws.store_catalog import (
    backup_schedule,
    cache_family,
    cache_node_type,
    physical_id,
    rds_family,
    retention_days,
    snapshot_name,
)
from topoform.providers.base import UnsupportedError
from topoform.providers.sharding import shard_for, shard_map

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLUEPRINTS = os.path.join(ROOT, "blueprints")
RDS = "aws:rds/instance:Instance"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DATA_SECTIONS = ("databases.", "caches.", "queues.")


def load(text: str):
    result = validate_text(textwrap.dedent(text), file="test.yaml", base_dir=BLUEPRINTS, target="aws")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return result.blueprint


def compile_aws(text: str, stack: str = "test"):
    return compile_plan(load(text), "aws", stack)


def context_for(text: str, stack: str = "test"):
    """The AWS build context of a blueprint (store names are functions of the blueprint alone)."""
    return aws.TARGET.context(load(text), stack)


SHOP = """
blueprint: shop
services:
  web:
    image: nginx:1.27-alpine
    port: 80
    env:
      DATABASE_URL: ${databases.users.url}
      READER_URL: ${databases.users.reader_url}
      ORDERS: ${databases.orders.shard_urls}
      CACHE_URL: ${caches.sessions.url}
      QUEUE_URL: ${queues.orders.url}
  worker:
    image: python:3.12-slim
    consumes: [queues.orders]
    env:
      QUEUE_URL: ${queues.orders.url}
  reports:
    image: python:3.12-slim
    env:
      FORUMS_URL: ${databases.forums.url}
databases:
  users:
    engine: postgres
    version: "16"
    size: medium
    storage: 50GiB
    multi_az: true
    replication: {mode: primary-replica, replicas: 2}
    backup: {interval: 1d, retention: 10d, point_in_time: true}
  orders:
    storage: 20GiB
    replication: {mode: primary-replica, replicas: 1}
    sharding: {shards: 3, key: user_id, strategy: consistent_hash, virtual_nodes: 8}
  forums: {engine: mysql}
caches:
  sessions:
    engine: redis
    memory: 512MiB
    eviction: allkeys-lru
    replicas: 1
    in_front_of: databases.users
queues:
  orders:
    visibility_timeout: 45s
    retention: 2d
    max_receives: 5
    max_depth: 1000
    consumers: [services.worker]
"""


@pytest.fixture(scope="module")
def shop():
    return compile_aws(SHOP)


def props(plan, name):
    return plan.get(name).properties


# ---------------------------------------------------------------- RDS


def test_primary_is_private_encrypted_multi_az_with_a_generated_password(shop):
    db = shop.get("db-users")
    p = db.properties
    assert (p["engine"], p["engine_version"], p["instance_class"]) == ("postgres", "16", "db.m6g.large")
    assert p["allocated_storage"] == 50 and p["storage_type"] == "gp3"
    assert p["storage_encrypted"] is True
    # RDS refuses replicas of a source whose password it manages: the password is Topoform's.
    assert "manage_master_user_password" not in p
    assert p["password"] == "${db-users-password.result}" and db.secret_outputs == ["password"]
    assert p["multi_az"] is True and p["publicly_accessible"] is False
    assert p["backup_retention_period"] == 10
    assert p["deletion_protection"] is True and db.protect is True
    assert p["skip_final_snapshot"] is False
    assert p["final_snapshot_identifier"] == "shop-test-db-users-final"
    assert p["db_subnet_group_name"] == "${db-users-subnets.name}"
    assert p["vpc_security_group_ids"] == ["${db-users-sg.id}"]
    assert p["parameter_group_name"] == "${db-users-params.name}"
    assert p["region"] == "us-east-1"


def test_subnet_group_uses_only_private_subnets(shop):
    subnets = props(shop, "db-users-subnets")["subnet_ids"]
    assert subnets and all("private" in s for s in subnets)


@pytest.mark.parametrize("engine, version, family, parameter", [
    ("postgres", "16", "postgres16", {"name": "rds.force_ssl", "value": "1"}),
    ("postgres", "15.4", "postgres15", {"name": "rds.force_ssl", "value": "1"}),
    ("mysql", "8.0", "mysql8.0", {"name": "require_secure_transport", "value": "ON"}),
    ("mariadb", "10.11", "mariadb10.11", {"name": "require_secure_transport", "value": "ON"}),
])
def test_parameter_group_family_and_tls_per_engine(engine, version, family, parameter):
    plan = compile_aws(f"""
        blueprint: shop
        databases:
          main: {{engine: {engine}, version: "{version}"}}
    """)
    p = props(plan, "db-main-params")
    assert p["family"] == family
    assert p["parameters"] == [parameter]
    port = props(plan, "db-main")["engine"]
    assert port == engine


def test_read_replicas_follow_the_primary_by_identifier(shop):
    replicas = [r for r in shop.of_type(RDS) if r.name.startswith("db-users-replica-")]
    assert [r.name for r in replicas] == ["db-users-replica-1", "db-users-replica-2"]
    for replica in replicas:
        p = replica.properties
        assert p["replicate_source_db"] == "${db-users.identifier}"
        assert p["storage_encrypted"] is True
        assert p["skip_final_snapshot"] is True
        for key in ("username", "password", "manage_master_user_password", "db_name", "allocated_storage"):
            assert key not in p, key
        assert replica.protect is True


def test_shards_are_independent_instances_with_their_replicas_and_the_ring_exported(shop):
    names = [r.name for r in shop.of_type(RDS) if r.component == "databases.orders"]
    assert names == ["db-orders-shard-0", "db-orders-shard-0-replica-1", "db-orders-shard-1",
                     "db-orders-shard-1-replica-1", "db-orders-shard-2", "db-orders-shard-2-replica-1"]
    for i in range(3):
        source = props(shop, f"db-orders-shard-{i}-replica-1")["replicate_source_db"]
        assert source == f"${{db-orders-shard-{i}.identifier}}"
        assert props(shop, f"db-orders-shard-{i}")["password"] == f"${{db-orders-shard-{i}-password.result}}"
    shards = [f"db-orders-shard-{i}" for i in range(3)]
    exported = shop.outputs["databases.orders.shard_map"]
    assert exported == shard_map("consistent_hash", shards, 8)
    ring = [(point, shard) for point, shard in exported["ring"]]
    assert len(ring) == 24
    assert shard_for(ring, "user-42") in shards
    assert list(shop.outputs["databases.orders.shards"]) == shards
    assert shop.outputs["databases.orders.shard_urls"].split(",") == [
        f"postgres://app@${{{s}.address}}:5432/app?sslmode=require" for s in shards]


def test_federated_databases_are_separate_and_reachable_only_by_their_users(shop):
    assert props(shop, "db-forums")["engine"] == "mysql"
    assert props(shop, "db-forums")["vpc_security_group_ids"] == ["${db-forums-sg.id}"]
    rules = {r.name: r.properties for r in shop.of_type(SG_INGRESS)
             if r.properties["security_group_id"] in ("${db-forums-sg.id}", "${db-users-sg.id}")}
    sources = {(p["security_group_id"], p["referenced_security_group_id"], p["from_port"]) for p in rules.values()}
    assert sources == {("${db-forums-sg.id}", "${svc-reports-sg.id}", 3306),
                       ("${db-users-sg.id}", "${svc-web-sg.id}", 5432)}
    assert all("cidr_ipv4" not in p and "cidr_ipv6" not in p for p in rules.values())


def test_no_data_store_security_group_admits_an_address_range(shop):
    store_groups = {f"${{{r.name}.id}}" for r in shop.of_type("aws:ec2/securityGroup:SecurityGroup")
                    if r.component.startswith(DATA_SECTIONS)}
    assert store_groups
    for rule in shop.of_type(SG_INGRESS):
        if rule.properties["security_group_id"] in store_groups:
            assert "referenced_security_group_id" in rule.properties, rule.name


def test_database_urls_carry_no_password(shop):
    outputs = shop.outputs
    assert outputs["databases.users.url"] == "postgres://app@${db-users.address}:5432/app?sslmode=require"
    assert outputs["databases.users.reader_url"] == \
        "postgres://app@${db-users-replica-1.address}:5432/app?sslmode=require"
    assert outputs["databases.users.host"] == "${db-users.address}"
    assert outputs["databases.users.port"] == "5432"
    assert outputs["databases.forums.url"] == "mysql://app@${db-forums.address}:3306/app"
    assert outputs["databases.forums.name"] == "app"
    assert len(outputs["databases.users.replica_urls"]) == 2


def test_services_get_passwords_from_the_password_secret():
    ctx = context_for(SHOP)
    web = ctx.bp.services["web"]
    secrets = {s["name"]: s["valueFrom"] for s in databases.secrets(ctx, web)}
    assert secrets["DATABASE_PASSWORD"] == "${db-users-password-secret.arn}"
    assert secrets["READER_PASSWORD"] == secrets["DATABASE_PASSWORD"]  # a replica shares its primary's user
    assert [secrets[f"ORDERS_PASSWORD_{i}"] for i in range(3)] == [
        f"${{db-orders-shard-{i}-password-secret.arn}}" for i in range(3)]
    assert "CACHE_PASSWORD" not in secrets and "QUEUE_PASSWORD" not in secrets
    assert databases.secrets(ctx, ctx.bp.services["worker"]) == []
    assert databases.secret_arns(databases.secrets(ctx, web))[0] == "${db-orders-shard-0-password-secret.arn}"


def test_backup_retention_is_clamped_to_what_rds_keeps_with_a_warning():
    plan = compile_aws("""
        blueprint: shop
        databases:
          main: {backup: {interval: 1d, retention: 60d}}
    """)
    assert props(plan, "db-main")["backup_retention_period"] == 35
    assert any("1 to 35 days" in w.message for w in plan.warnings)
    assert all(w.severity == "warning" for w in plan.warnings)


def test_unencrypted_database_is_built_unencrypted_but_explicitly():
    plan = compile_aws("""
        blueprint: shop
        databases:
          main: {encrypted: false, protect: false}
    """)
    p = props(plan, "db-main")
    assert p["storage_encrypted"] is False
    assert p["deletion_protection"] is False and plan.get("db-main").protect is False


def test_a_public_database_is_refused_with_a_hint():
    with pytest.raises(UnsupportedError) as err:
        compile_aws("""
            blueprint: shop
            databases:
              main: {public: true}
        """)
    assert "public database" in str(err.value)
    assert err.value.diagnostic.hint and "bastion" in err.value.diagnostic.hint


def test_long_component_names_get_bounded_physical_ids():
    name = "a" * 39
    plan = compile_aws(f"""
        blueprint: shop
        databases:
          {name}:
            replication: {{mode: primary-replica, replicas: 1}}
            sharding: {{shards: 2, key: id}}
        caches:
          {name}: {{}}
    """)
    # Pulumi's autoname adds 8 characters: short names keep it (no collisions between stacks)...
    assert "identifier" not in props(plan, f"db-{name}-shard-1")
    # ...names it would push past the AWS limit get an explicit, bounded, unique one.
    identifier = props(plan, f"db-{name}-shard-1-replica-1")["identifier"]
    assert len(identifier) <= 63 and re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", identifier)
    assert identifier != props(plan, f"db-{name}-shard-0-replica-1")["identifier"]
    group_id = props(plan, f"cache-{name}")["replication_group_id"]
    assert len(group_id) <= 40


# ---------------------------------------------------------------- multi-primary: Aurora DSQL

DSQL = """
blueprint: shop
aws: {{region: {region}}}
services:
  api:
    image: nginx:1.27-alpine
    port: 80
    env: {{DATABASE_URL: "${{databases.ledger.url}}"}}
databases:
  ledger:
    engine: postgres
    replication: {{mode: multi-primary, replicas: {replicas}}}
{dr}
"""


def test_multi_primary_postgres_is_a_peered_dsql_pair_with_a_witness():
    plan = compile_aws(DSQL.format(region="us-east-1", replicas=1, dr=""))
    clusters = plan.of_type("aws:dsql/cluster:Cluster")
    assert [c.name for c in clusters] == ["db-ledger", "db-ledger-peer"]
    assert [c.properties["region"] for c in clusters] == ["us-east-1", "us-east-2"]
    assert all(c.properties["multi_region_properties"] == {"witness_region": "us-west-2"} for c in clusters)
    assert all(c.properties["deletion_protection_enabled"] is True and c.protect for c in clusters)
    peering = {p.name: p.properties for p in plan.of_type("aws:dsql/clusterPeering:ClusterPeering")}
    assert peering["db-ledger-peering"]["identifier"] == "${db-ledger.identifier}"
    assert peering["db-ledger-peering"]["clusters"] == ["${db-ledger-peer.arn}"]
    assert peering["db-ledger-peer-peering"]["clusters"] == ["${db-ledger.arn}"]
    assert peering["db-ledger-peer-peering"]["region"] == "us-east-2"
    assert not plan.of_type(RDS)
    assert plan.outputs["databases.ledger.url"] == \
        "postgres://admin@${db-ledger.identifier}.dsql.us-east-1.on.aws:5432/postgres?sslmode=require"
    assert "us-east-2" in plan.outputs["databases.ledger.reader_url"]
    grant = json.dumps(props(plan, "db-ledger-connect-svc-api"))
    assert "dsql:DbConnectAdmin" in grant and "${db-ledger-peer.arn}" in grant
    assert props(plan, "db-ledger-connect-svc-api")["role"] == "${svc-api-task-role.name}"


def test_dsql_peer_follows_the_dr_region():
    plan = compile_aws(DSQL.format(region="us-east-1", replicas=1,
                                   dr="disaster_recovery: {strategy: hot, region: us-west-2}"))
    peer = props(plan, "db-ledger-peer")
    assert peer["region"] == "us-west-2"
    assert peer["multi_region_properties"] == {"witness_region": "us-east-2"}
    assert not [r for r in plan.of_type(RDS) if r.component == "databases.ledger"]


@pytest.mark.parametrize("region, replicas, dr, message", [
    ("us-east-1", 2, "", "exactly two regional clusters"),
    ("sa-east-1", 1, "", "not offered in sa-east-1"),
    ("us-east-1", 1, "disaster_recovery: {strategy: hot, region: eu-west-1}", "only with us-east-2 or us-west-2"),
])
def test_dsql_limits_are_clear_errors(region, replicas, dr, message):
    with pytest.raises(UnsupportedError) as err:
        compile_aws(DSQL.format(region=region, replicas=replicas, dr=dr))
    assert message in str(err.value)


def test_multi_primary_mysql_is_a_validation_error_on_aws():
    result = validate_text(textwrap.dedent("""
        blueprint: shop
        databases:
          main: {engine: mysql, replication: {mode: multi-primary, replicas: 1}}
    """), target="aws")
    assert not result.ok
    assert any("no managed multi-primary mysql" in d.message for d in result.diagnostics)


# ---------------------------------------------------------------- caches


def test_redis_replication_group_fails_over_and_encrypts(shop):
    group = shop.get("cache-sessions")
    p = group.properties
    assert group.type == "aws:elasticache/replicationGroup:ReplicationGroup"
    assert (p["engine"], p["node_type"], p["num_cache_clusters"]) == ("redis", "cache.t4g.micro", 2)
    assert p["automatic_failover_enabled"] is True and p["multi_az_enabled"] is True
    assert p["at_rest_encryption_enabled"] is True and p["transit_encryption_enabled"] is True
    assert p["subnet_group_name"] == "${cache-sessions-subnets.name}"
    assert p["security_group_ids"] == ["${cache-sessions-sg.id}"]
    assert p["parameter_group_name"] == "${cache-sessions-params.name}"
    assert group.protect is True
    params = props(shop, "cache-sessions-params")
    assert params["family"] == "redis7"
    assert params["parameters"] == [{"name": "maxmemory-policy", "value": "allkeys-lru"}]
    assert shop.outputs["caches.sessions.url"] == "rediss://${cache-sessions.primary_endpoint_address}:6379/0"


def test_cache_in_front_of_a_database_grants_it_nothing(shop):
    sources = {r.properties["referenced_security_group_id"] for r in shop.of_type(SG_INGRESS)
               if r.properties["security_group_id"] == "${db-users-sg.id}"}
    assert "${cache-sessions-sg.id}" not in sources


def test_valkey_without_replicas_or_eviction_uses_defaults():
    plan = compile_aws("""
        blueprint: shop
        caches:
          hot: {engine: valkey, memory: 2GiB}
    """)
    p = props(plan, "cache-hot")
    assert (p["engine"], p["engine_version"], p["node_type"]) == ("valkey", "8.0", "cache.t4g.medium")
    assert p["num_cache_clusters"] == 1
    assert p["automatic_failover_enabled"] is False and p["multi_az_enabled"] is False
    assert "parameter_group_name" not in p and "cache-hot-params" not in plan


def test_memcached_is_a_cross_az_cluster_with_tls():
    plan = compile_aws("""
        blueprint: shop
        caches:
          pages: {engine: memcached, memory: 4GiB, replicas: 2}
    """)
    cluster = plan.get("cache-pages")
    assert cluster.type == "aws:elasticache/cluster:Cluster"
    p = cluster.properties
    assert (p["engine"], p["num_cache_nodes"], p["az_mode"]) == ("memcached", 3, "cross-az")
    assert p["node_type"] == "cache.m7g.large" and p["transit_encryption_enabled"] is True
    assert plan.outputs["caches.pages.url"] == "memcached://${cache-pages.cluster_address}:11211"


def test_a_cache_larger_than_any_node_is_refused():
    with pytest.raises(UnsupportedError, match="no ElastiCache node holds 500GiB"):
        compile_aws("""
            blueprint: shop
            caches:
              huge: {memory: 500GiB}
        """)


# ---------------------------------------------------------------- queues


def test_queue_is_encrypted_with_a_dead_letter_queue_and_back_pressure_alarm(shop):
    p = props(shop, "queue-orders")
    assert p["name"] == "shop-test-orders"
    assert p["sqs_managed_sse_enabled"] is True
    assert (p["visibility_timeout_seconds"], p["message_retention_seconds"]) == (45, 2 * 86400)
    assert p["redrive_policy"] == {"$json": {"deadLetterTargetArn": "${queue-orders-dlq.arn}", "maxReceiveCount": 5}}
    dlq = props(shop, "queue-orders-dlq")
    assert dlq["sqs_managed_sse_enabled"] is True and dlq["message_retention_seconds"] == 14 * 86400
    alarm = props(shop, "queue-orders-depth")
    assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["threshold"] == 1000 and alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["dimensions"] == {"QueueName": "${queue-orders.name}"}
    assert props(shop, "queue-orders-dlq-messages")["dimensions"] == {"QueueName": "${queue-orders-dlq.name}"}
    assert shop.outputs["queues.orders.max_depth"] == 1000


def test_queues_refuse_requests_without_tls(shop):
    for queue in ("queue-orders", "queue-orders-dlq"):
        policy = props(shop, f"{queue}-tls-only")
        assert policy["queue_url"] == f"${{{queue}.url}}"
        statement = policy["policy"]["$json"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_fifo_queue_and_its_dead_letter_queue_are_both_fifo():
    plan = compile_aws("""
        blueprint: shop
        queues:
          jobs: {kind: task, fifo: true, max_receives: 3}
    """)
    queue, dlq = props(plan, "queue-jobs"), props(plan, "queue-jobs-dlq")
    assert queue["name"] == "shop-test-jobs.fifo" and dlq["name"] == "shop-test-jobs-dlq.fifo"
    assert queue["fifo_queue"] is True and dlq["fifo_queue"] is True
    assert queue["content_based_deduplication"] is True
    assert "queue-jobs-depth" not in plan


def test_queue_without_max_receives_has_no_dead_letter_queue():
    plan = compile_aws("""
        blueprint: shop
        queues:
          events: {}
    """)
    assert "queue-events-dlq" not in plan and "redrive_policy" not in props(plan, "queue-events")


def test_consumers_may_receive_and_producers_may_send(shop):
    access = topology(load(SHOP))
    assert access.users("queues.orders") == ["services.web", "services.worker"]
    assert list(access.consumers_of("queues.orders")) == ["services.worker"]
    grants = {r.name: r.properties for r in shop.of_type("aws:iam/rolePolicy:RolePolicy") if "queue" in r.name}
    assert sorted(grants) == ["queue-orders-consume-svc-worker", "queue-orders-send-svc-web"]
    worker = grants["queue-orders-consume-svc-worker"]
    assert worker["role"] == "${svc-worker-task-role.name}"
    [consume] = worker["policy"]["$json"]["Statement"]
    assert "sqs:ReceiveMessage" in consume["Action"] and "sqs:DeleteMessage" in consume["Action"]
    assert consume["Resource"] == ["${queue-orders.arn}"]
    web = grants["queue-orders-send-svc-web"]["policy"]["$json"]["Statement"]
    assert "sqs:SendMessage" in web[0]["Action"] and "sqs:ReceiveMessage" not in web[0]["Action"]
    assert web[1] == {"Sid": "ReadBackPressure", "Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"],
                      "Resource": ["${queue-orders-depth.arn}"]}


# ---------------------------------------------------------------- every store: tags, protection, secrets


def test_every_taggable_data_resource_is_tagged_with_blueprint_stack_and_component(shop):
    from topoform.providers.program import resource_class

    checked = 0
    for resource in shop.resources:
        if not resource.component.startswith(DATA_SECTIONS):
            continue
        if "tags" not in resource_class(resource.type)._internal_init.__code__.co_varnames:
            continue
        assert resource.properties.get("tags", {}).get("topoform:component") == resource.component, resource.name
        assert resource.properties["tags"]["topoform:blueprint"] == "shop"
        assert resource.properties["tags"]["topoform:stack"] == "test"
        checked += 1
    assert checked >= 25


def test_every_stateful_store_resource_is_protected(shop):
    stateful = ("aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup",
                "aws:sqs/queue:Queue")
    found = [r for r in shop.resources if r.type in stateful]
    assert len(found) == 3 + 6 + 1 + 1 + 2
    assert all(r.protect for r in found)


CREDENTIAL_IN_URL = re.compile(r"://[^/@\s:]+:[^/@\s]+@")


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # the key Pulumi marks a secret value with


def _secret_like(value, path=""):
    """Yield where a value looks like a plain password: a `password` key with a value (but a
    reference to a generated one), or user:pass@ in a URL."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() in ("password", "master_password", "auth_token", "masterpassword", "authtoken") \
                    and item not in (None, "") and not (isinstance(item, str) and item.startswith("${")) \
                    and not (isinstance(item, dict) and "4dabf18193072939515e22adb298388d" in item):  # a Pulumi secret
                yield f"{path}.{key}"
            yield from _secret_like(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _secret_like(item, f"{path}[{i}]")
    elif isinstance(value, str) and CREDENTIAL_IN_URL.search(value):
        yield path


def test_no_password_in_the_plan(shop):
    data = shop.as_json()
    assert list(_secret_like(data)) == []
    generators = [r for r in shop.resources if r.type == "random:index/randomPassword:RandomPassword"]
    rds = {r.name for r in generators if not r.name.endswith("-auth-token")}
    assert rds == {"db-users-password", "db-forums-password"} | {f"db-orders-shard-{i}-password" for i in range(3)}
    # Each generated password is read by what needs it alone: an RDS instance and its secret's
    # value, or a redis AUTH token's cache and secret.
    for token in generators:
        readers = {r.name for r in shop.resources if token.name in r.references()}
        if token.name in rds:
            instance = token.name.removesuffix("-password")
            assert readers == {instance, f"{instance}-password-secret-value"}, token.name
        else:
            assert readers == {token.name.removesuffix("-auth-token"), token.name.removesuffix("-token") + "-value"}


# ---------------------------------------------------------------- catalogue


@pytest.mark.parametrize("memory, node", [
    (256 * 1024**2, "cache.t4g.micro"), (512 * 1024**2, "cache.t4g.micro"), (600 * 1024**2, "cache.t4g.small"),
    (3 * 1024**3, "cache.t4g.medium"), (6 * 1024**3, "cache.m7g.large"), (100 * 1024**3, "cache.r7g.4xlarge"),
    (420 * 1024**3, None),
])
def test_cache_node_is_the_smallest_that_holds_the_memory(memory, node):
    assert cache_node_type(memory) == node


def test_families_and_durations():
    assert rds_family("postgres", "16.2") == "postgres16" and rds_family("mysql", "8.0.35") == "mysql8.0"
    assert cache_family("redis", "7.1") == "redis7" and cache_family("redis", "6.2") == "redis6.x"
    assert cache_family("valkey", "8.0") == "valkey8" and cache_family("memcached", "1.6.22") == "memcached1.6"
    assert retention_days(7 * 86400) == (7, False)
    assert retention_days(12 * 3600) == (1, False)
    assert retention_days(90 * 86400) == (35, True)
    assert backup_schedule(1800) == ("cron(0 * * * ? *)", 3600.0)
    assert backup_schedule(5 * 3600) == ("cron(0 */4 * * ? *)", 4 * 3600.0)
    assert backup_schedule(86400) == ("cron(0 5 * * ? *)", 86400.0)
    assert backup_schedule(7 * 86400) == ("cron(0 5 ? * SUN *)", 7 * 86400.0)
    assert physical_id("db-users", 63, "shop", "dev") is None
    long_id = physical_id("x" * 70, 63, "shop", "dev")
    assert len(long_id) == 63 - 9 + 9 and long_id != physical_id("x" * 70, 63, "shop", "prod")
    assert snapshot_name("shop", "dev_1", "db-users", "final") == "shop-dev-1-db-users-final"


# ---------------------------------------------------------------- under mocks


@pytest.fixture(scope="module")
def shop_synth():
    from topoform.testing import synth

    return synth(load(SHOP), target="aws")


def test_synth_replicas_name_their_primary(shop_synth):
    primary = shop_synth.named("db-users")
    replicas = [r for r in shop_synth.of_type(RDS) if r.inputs.get("replicate_source_db")]
    assert len(replicas) == 2 + 3
    users = [r for r in replicas if r.name.startswith("db-users-")]
    assert {r.inputs["replicate_source_db"] for r in users} == {primary.outputs["identifier"]}
    assert primary.inputs["storage_encrypted"] is True and "manage_master_user_password" not in primary.inputs
    password = primary.inputs["password"]  # a Pulumi secret: its value is encrypted in the state
    assert password[SECRET_SIG] == "1b47061264138c4ac30d75fd1eb44270"
    assert password["value"] == shop_synth.named("db-users-password").outputs["result"]
    assert all("password" not in r.inputs for r in replicas), "replicas inherit their source's password"


def test_synth_redrive_and_alarm_read_real_values(shop_synth):
    queue = shop_synth.named("queue-orders")
    redrive = json.loads(queue.inputs["redrive_policy"])
    assert redrive == {"deadLetterTargetArn": shop_synth.named("queue-orders-dlq").outputs["arn"], "maxReceiveCount": 5}
    assert redrive["deadLetterTargetArn"].startswith("arn:aws:sqs:us-east-1:")
    alarm = shop_synth.named("queue-orders-depth")
    assert alarm.inputs["dimensions"] == {"QueueName": "shop-test-orders"}
    assert alarm.inputs["threshold"] == 1000


def test_synth_cache_and_stack_outputs(shop_synth):
    shop_synth.has_resource_properties("aws:elasticache/replicationGroup:ReplicationGroup", {
        "at_rest_encryption_enabled": True, "transit_encryption_enabled": True,
        "automatic_failover_enabled": True, "num_cache_clusters": 2})
    outputs = shop_synth.outputs
    assert outputs["caches.sessions.url"].startswith("rediss://master.cache-sessions.")
    assert outputs["caches.sessions.name"]
    assert outputs["databases.users.url"].startswith("postgres://app@db-users.")
    assert len(outputs["databases.orders.shard_map"]["ring"]) == 24


def test_synth_no_password_in_inputs_or_outputs(shop_synth):
    """Only an RDS instance receives its generated password, and only as a Pulumi secret."""
    generated = [r.outputs["result"] for r in shop_synth.of_type(databases.PASSWORD)]
    for resource in shop_synth.resources:
        inputs = dict(resource.inputs.snake())
        if resource.type == RDS and "password" in inputs:
            assert inputs["password"][SECRET_SIG] and inputs.pop("password")["value"] in generated
        assert list(_secret_like(inputs)) == [], resource.name
    assert list(_secret_like(shop_synth.outputs)) == []
    assert not any(value in json.dumps(shop_synth.outputs) for value in generated)


def test_every_data_store_of_the_example_blueprint_is_encrypted():
    from topoform.dsl import load_blueprint

    plan = compile_plan(load_blueprint(os.path.join(BLUEPRINTS, "two-region-hot-dr.yaml"), target="aws"), "aws")
    instances = plan.of_type(RDS)
    assert len(instances) == 3 + 8 + 1 + 6  # users+2 replicas, 4 shards+replicas, forums, their DR replicas
    for instance in instances:
        assert instance.properties["storage_encrypted"] is True, instance.name
        if instance.properties["region"] != "us-east-1":
            assert instance.properties["kms_key_id"] == "${dr-kms-key.arn}", instance.name
    groups = plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert [g.name for g in groups] == ["cache-sessions", "dr-cache-sessions"]
    assert all(g.properties["at_rest_encryption_enabled"] and g.properties["transit_encryption_enabled"]
               for g in groups)
    queues = plan.of_type("aws:sqs/queue:Queue")
    assert len(queues) == 4 and all(q.properties["sqs_managed_sse_enabled"] is True for q in queues)
    assert list(_secret_like(plan.as_json())) == []
