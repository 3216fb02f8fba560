"""`nosql` key-value stores on the Redis protocol (`engine: redis | valkey`): validation, both
targets' Plans, the rendered config, facts, report, lint and graph.

The rendered config runs for real in tests/realserver/test_nosql_redis.py (crash and
restart, password, replica) and a deployment in tests/e2e/test_nosql_redis.py.
"""

from __future__ import annotations

import textwrap

import pytest
from test_gateway_nosql import by_type, errors, plan_of, validated

from topoform.providers import analysed_plan
from topoform.providers.base import UnsupportedError
from topoform.providers.docker.kinds import nosql as docker_nosql
from topoform.providers.insight.consistency import consistency
from topoform.providers.insight.diagram import architecture, to_mermaid
from topoform.providers.insight.lint import lint

BASE = """
blueprint: shop
services:
  api:
    image: python:3.12-slim
    port: 8080
    env:
      SESSIONS_URL: ${nosql.sessions.url}
  other:
    image: python:3.12-slim
    port: 8080
nosql:
  sessions:
    model: key-value
    engine: redis
"""
HOT = "disaster_recovery: {strategy: hot, region: us-west-2}\n"


def with_store(extra: str) -> str:
    return BASE + textwrap.indent(textwrap.dedent(extra), "    ")


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("line, message", [
    ("partition_key: {name: id}", "test.yaml:16:20: error: nosql.sessions.partition_key: `partition_key` is a "
                                  "DynamoDB setting; a redis store has none"),
    ("sort_key: {name: at}", "16:15: error: nosql.sessions.sort_key: `sort_key` is a DynamoDB setting"),
    ("capacity: provisioned", "16:15: error: nosql.sessions.capacity: `capacity` is a DynamoDB setting"),
    ("read_capacity: 5", "16:20: error: nosql.sessions.read_capacity: `read_capacity` is a DynamoDB setting"),
    ("ttl_attribute: expires", "expiry is EXPIRE per key"),
    ("streams: true", "16:14: error: nosql.sessions.streams: `streams` is a DynamoDB setting"),
    ("replicas: 6", "16:15: error: nosql.sessions.replicas: a MemoryDB shard takes at most 5 replicas, but 6"),
    ("backup: {point_in_time: true}", "16:13: error: nosql.sessions.backup: a redis store has no point-in-time"),
])
def test_dynamodb_settings_are_refused_where_written(line, message):
    found = errors(with_store(line))
    assert message in found, found


@pytest.mark.parametrize("text, message", [
    ("nosql:\n  docs:\n    model: document\n    engine: valkey\n",
     "5:13: error: nosql.docs.engine: `engine` picks a key-value store's product; a document store has one"),
    ("nosql:\n  t:\n    model: key-value\n    partition_key: {name: id}\n    shards: 3\n",
     "6:13: error: nosql.t.shards: `shards` is for redis and valkey key-value stores"),
])
def test_engine_and_shards_are_refused_where_they_mean_nothing(text, message):
    assert message in errors("blueprint: shop\n" + text)


def test_the_defaults_written_out_are_fine():
    """An editor filling in the schema's defaults writes `capacity: on-demand`, `shards: 1`, `engine: dynamodb`."""
    text = with_store("capacity: on-demand\nstreams: false\nshards: 1\n") + """
  docs: {model: document, engine: dynamodb, shards: 1}
"""
    assert validated(text).ok


def test_a_dynamodb_table_still_needs_its_partition_key():
    assert "needs a `partition_key`" in errors("blueprint: shop\nnosql:\n  t: {model: key-value}\n")


# ---------------------------------------------------------------- docker


def test_docker_runs_a_durable_redis_with_a_login_and_replicas():
    plan = plan_of(with_store("replicas: 2\nsize: medium\n"), "docker")
    containers = {r.name: r for r in by_type(plan, "docker:index/container:Container")}
    primary, replica = containers["nsql-sessions"], containers["nsql-sessions-replica-1"]
    assert set(containers) == {"svc-api-0", "svc-other-0", "nsql-sessions", "nsql-sessions-replica-0",
                               "nsql-sessions-replica-1"}
    assert primary.properties["command"] == ["redis-server", docker_nosql.STORE_CONF]
    conf = {u["file"]: u["content"] for u in primary.properties["uploads"]}[docker_nosql.STORE_CONF]
    for line in ("appendonly yes", "appendfsync always", "maxmemory 1073741824", "maxmemory-policy noeviction",
                 "user default off", "user app on >${nsql-sessions-password.result} ~* &* +@all", "dir /data"):
        assert line in conf.splitlines(), line
    assert "replicaof" not in conf
    replica_conf = {u["file"]: u["content"] for u in replica.properties["uploads"]}[docker_nosql.STORE_CONF]
    assert {"replicaof sessions 6379", "masteruser app", "masterauth ${nsql-sessions-password.result}",
            "replica-read-only yes", "appendfsync always"} <= set(replica_conf.splitlines())
    # Every node keeps its own append-only file on a protected volume; replicas answer the reader alias.
    volumes = {r.name: r for r in by_type(plan, "docker:index/volume:Volume")}
    assert {"nsql-sessions-data", "nsql-sessions-replica-0-data", "nsql-sessions-replica-1-data"} <= set(volumes)
    assert all(volumes[v].protect for v in volumes if v.startswith("nsql-"))
    assert primary.properties["volumes"][0]["container_path"] == "/data"
    aliases = replica.properties["networks_advanced"][0]["aliases"]
    assert aliases == ["sessions-reader"] and replica.depends_on.count("nsql-sessions") == 1
    assert primary.properties["healthcheck"]["tests"][1].endswith("--no-auth-warning ping | grep -q PONG")
    assert replica.properties["healthcheck"]["tests"][1] == (
        'redis-cli --user app -a "$STORE_PASSWORD" --no-auth-warning info replication | grep -q master_link_status:up')
    images = {r.properties["name"] for r in by_type(plan, "docker:index/remoteImage:RemoteImage")}
    assert "redis:7.2-alpine" in images


def test_docker_valkey_runs_valkey_and_services_get_the_url():
    plan = plan_of(BASE.replace("engine: redis", "engine: valkey"), "docker")
    store = plan.get("nsql-sessions")
    assert store.properties["command"][0] == "valkey-server"
    assert "valkey-cli --user app" in store.properties["healthcheck"]["tests"][1]
    api = plan.get("svc-api-0")
    assert "SESSIONS_URL=redis://app:${nsql-sessions-password.result}@sessions:6379/0" in api.properties["envs"]


def test_docker_warns_that_it_runs_one_shard():
    plan = plan_of(with_store("shards: 3\n"), "docker")
    assert any("runs one redis shard; `shards: 3` is built on aws" in w.message for w in plan.warnings)
    assert len(by_type(plan, "docker:index/container:Container")) == 4  # api, other, primary, one replica


def test_the_config_refuses_a_password_that_would_end_the_acl_rule():
    with pytest.raises(ValueError, match="one word"):
        docker_nosql.render_store_conf(docker_nosql.StoreConf("two words"))
    assert "user app on >Pw123 " in docker_nosql.render_store_conf(docker_nosql.StoreConf("Pw123"))


# ---------------------------------------------------------------- aws


def test_aws_builds_memorydb_with_tls_an_acl_snapshots_and_shards():
    plan = plan_of(with_store("shards: 2\nreplicas: 2\nbackup: {retention: 14d}\n"), "aws")
    [cluster] = by_type(plan, "aws:memorydb/cluster:Cluster")
    props = cluster.properties
    assert (props["engine"], props["engine_version"], props["node_type"]) == ("redis", "7.1", "db.t4g.small")
    assert (props["num_shards"], props["num_replicas_per_shard"]) == (2, 2)
    assert props["tls_enabled"] is True and props["kms_key_arn"] == "${nsql-sessions-key.arn}"
    assert (props["snapshot_retention_limit"], props["final_snapshot_name"]) == (14, "shop-dev-nsql-sessions-final")
    assert props["acl_name"] == "${nsql-sessions-acl.name}" and cluster.protect
    assert props["security_group_ids"] == ["${nsql-sessions-sg.id}"]
    [user] = by_type(plan, "aws:memorydb/user:User")
    assert user.properties["authentication_mode"] == {  # a secret input: the provider stores it encrypted
        "type": "password", "passwords": [{"$secret": "${nsql-sessions-auth-token.result}"}]}
    assert user.properties["user_name"] == "shop-dev-nsql-sessions-app"
    [acl] = by_type(plan, "aws:memorydb/acl:Acl")
    assert acl.properties["user_names"] == ["${nsql-sessions-user.user_name}"]
    assert plan.get("nsql-sessions-auth-value").properties["secret_string"] == "${nsql-sessions-auth-token.result}"
    # Only the service that reads it is admitted to its port.
    ingress = [r.name for r in plan.resources if r.name.startswith("nsql-sessions-sg-from")]
    assert ingress == ["nsql-sessions-sg-from-svc-api-6379"]


def test_aws_services_get_a_rediss_url_and_the_password_as_a_secret():
    plan = plan_of(BASE, "aws")
    container = plan.get("svc-api-task").properties["container_definitions"]["$json"][0]
    assert {"name": "SESSIONS_URL", "value": "rediss://app@${nsql-sessions.cluster_endpoints[0].address}:6379"} \
        in container["environment"]
    assert container["secrets"] == [{"name": "SESSIONS_PASSWORD", "valueFrom": "${nsql-sessions-auth.arn}"}]
    policy = plan.get("svc-api-execution-secrets").properties["policy"]["$json"]
    assert policy["Statement"][0]["Resource"] == ["${nsql-sessions-auth.arn}"]
    other = plan.get("svc-other-task").properties["container_definitions"]["$json"][0]
    assert other["secrets"] == []


def test_hot_dr_of_a_valkey_store_is_memorydb_multi_region():
    plan = plan_of(BASE.replace("engine: redis", "engine: valkey") + HOT, "aws")
    [group] = by_type(plan, "aws:memorydb/multiRegionCluster:MultiRegionCluster")
    assert (group.properties["engine"], group.properties["engine_version"]) == ("valkey", "7.3")
    assert group.properties["node_type"] == "db.r7g.xlarge" and group.properties["region"] == "us-east-1"
    clusters = {r.name: r.properties for r in by_type(plan, "aws:memorydb/cluster:Cluster")}
    assert set(clusters) == {"nsql-sessions", "dr-nsql-sessions"}
    assert {c["region"] for c in clusters.values()} == {"us-east-1", "us-west-2"}
    assert all(c["multi_region_cluster_name"] == "${nsql-sessions-multi-region.multi_region_cluster_name}"
               and c["node_type"] == "db.r7g.xlarge" for c in clusters.values())
    # DR tasks read the DR cluster with the password from the DR region's secret.
    dr = plan.get("dr-svc-api-task").properties["container_definitions"]["$json"][0]
    assert dr["secrets"] == [{"name": "SESSIONS_PASSWORD", "valueFrom": "${dr-nsql-sessions-auth.arn}"}]
    assert "${dr-nsql-sessions.cluster_endpoints[0].address}" in dr["environment"][0]["value"]
    facts = analysed_plan(validated(BASE.replace("redis", "valkey") + HOT, "aws").blueprint,
                          "aws").components["nosql.sessions"].facts
    assert facts.dr_copy and facts.replication[-1].role == "multi-region-replica"


def test_hot_dr_of_a_redis_store_is_refused_with_the_reason():
    with pytest.raises(UnsupportedError, match="MemoryDB Multi-Region, which runs Valkey only"):
        plan_of(BASE + HOT, "aws")


def test_multi_region_outside_its_regions_is_refused():
    text = BASE.replace("engine: redis", "engine: valkey") + "disaster_recovery: {strategy: hot, region: sa-east-1}\n"
    with pytest.raises(UnsupportedError, match="not offered in sa-east-1"):
        plan_of(text, "aws")


def test_snapshot_retention_past_35_days_is_kept_35_with_a_warning():
    plan = plan_of(with_store("backup: {retention: 90d}\n"), "aws")
    assert plan.get("nsql-sessions").properties["snapshot_retention_limit"] == 35
    assert any("keeps snapshots 1 to 35 days" in w.message for w in plan.warnings)


# ---------------------------------------------------------------- analyses


def test_memorydb_sla_is_multi_az_with_a_replica_and_single_az_without():
    bp = validated(BASE, "aws").blueprint
    figure = analysed_plan(bp, "aws").components["nosql.sessions"].facts.availability["primary"]
    assert (figure.percent, figure.source) == (99.99, "Amazon MemoryDB SLA, Multi-AZ configuration")
    alone = validated(with_store("replicas: 0\n"), "aws").blueprint
    figure = analysed_plan(alone, "aws").components["nosql.sessions"].facts.availability["primary"]
    assert (figure.percent, figure.source) == (99.5, "Amazon MemoryDB SLA, Single-AZ configuration")
    assert [f.rule for f in lint(alone, "aws") if "nosql.sessions" in f.message] == ["nosql-single-az"]
    # No point-in-time recovery to ask for: the lint does not.
    assert not [p for p in lint(bp, "aws") if p.rule == "nosql-without-pitr"]


def test_docker_counts_the_primary_and_its_replicas():
    bp = validated(with_store("replicas: 2\n")).blueprint
    facts = analysed_plan(bp, "docker").components["nosql.sessions"].facts
    assert facts.copies["primary"] == 3 and facts.implementation == "redis"
    assert facts.availability["primary"].source.endswith("redis or valkey with its append-only file")


@pytest.mark.parametrize("target, says", [
    ("aws", "MemoryDB: a write is acknowledged once in the Multi-AZ transaction log"),
    ("docker", "the primary fsyncs each write to its append-only file before acknowledging it"),
])
def test_consistency_is_strong_on_the_primary_eventual_on_replicas(target, says):
    [entry] = [c for c in consistency(validated(BASE, target).blueprint, target) if c.store == "nosql.sessions"]
    assert entry.model == "strong on the primary, eventual on replicas" and says in entry.line


def test_graph_names_the_engine_and_layout():
    text = to_mermaid(architecture(validated(with_store("shards: 2\n"), "aws").blueprint, "aws"))
    assert "key-value · redis" in text and "2 shards · +1 replica each" in text
