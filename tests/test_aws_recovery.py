"""AWS disaster recovery: AWS Backup plans, the cold site and the hot site.

Plan tests assert what each strategy builds and where (region placement,
replica sources, encryption keys, copy actions); synth tests check that the
program hands the engine real ARNs across regions.
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from topoform.dsl import validate_text
from topoform.providers import aws, compile_plan
from topoform.providers.base import UnsupportedError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLUEPRINTS = os.path.join(ROOT, "blueprints")
RDS = "aws:rds/instance:Instance"
PLAN = "aws:backup/plan:Plan"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"


def load(text: str):
    result = validate_text(textwrap.dedent(text), file="test.yaml", base_dir=BLUEPRINTS, target="aws")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return result.blueprint


def compile_aws(text: str):
    return compile_plan(load(text), "aws", "test")


def shop(strategy: str, region: str | None = "us-west-2", extra: str = "") -> str:
    dr = f"{{strategy: {strategy}" + (f", region: {region}" if region else "") + "}"
    return f"""
blueprint: shop
aws: {{region: us-east-1}}
services:
  web:
    image: nginx:1.27-alpine
    port: 80
    env:
      DATABASE_URL: ${{databases.users.url}}
      CACHE_URL: ${{caches.sessions.url}}
      QUEUE_URL: ${{queues.orders.url}}
  worker:
    image: python:3.12-slim
    consumes: [queues.orders]
load_balancers:
  edge:
    routes: [{{path: /*, target: services.web}}]
cdns:
  media: {{mode: push, content: ./static}}
databases:
  users:
    storage: 40GiB
    multi_az: true
    replication: {{mode: primary-replica, replicas: 1}}
    backup: {{interval: 1h, retention: 14d, point_in_time: true}}
  orders:
    sharding: {{shards: 2, key: user_id}}
    backup: {{interval: 1d, retention: 30d}}
  plain: {{encrypted: false, protect: false}}
caches:
  sessions: {{memory: 1GiB, eviction: allkeys-lru, replicas: 1}}
queues:
  orders: {{max_receives: 5, max_depth: 100}}
disaster_recovery: {dr}
{extra}
"""


@pytest.fixture(scope="module")
def backup():
    return compile_aws(shop("backup", region=None))


@pytest.fixture(scope="module")
def cold():
    return compile_aws(shop("cold"))


@pytest.fixture(scope="module")
def hot():
    return compile_aws(shop("hot"))


def region_of(plan, name):
    return plan.get(name).properties.get("region")


# ---------------------------------------------------------------- AWS Backup, every strategy


def test_backup_plan_per_database_with_schedule_retention_and_continuous_backup(backup):
    users = backup.get("backup-plan-db-users").properties
    [rule] = users["rules"]
    assert rule["schedule"] == "cron(0 * * * ? *)"
    assert rule["lifecycle"] == {"delete_after": 14}
    assert rule["enable_continuous_backup"] is True
    assert rule["target_vault_name"] == "${backup-vault.name}"
    assert "copy_actions" not in rule  # no DR region: nowhere to copy to
    [orders_rule] = backup.get("backup-plan-db-orders").properties["rules"]
    assert orders_rule["schedule"] == "cron(0 5 * * ? *)"
    assert orders_rule["lifecycle"] == {"delete_after": 30}
    assert orders_rule["enable_continuous_backup"] is False


def test_selections_name_every_writable_instance_and_use_the_backup_role(backup):
    selection = backup.get("backup-plan-db-orders-selection").properties
    assert selection["resources"] == ["${db-orders-shard-0.arn}", "${db-orders-shard-1.arn}"]
    assert selection["plan_id"] == "${backup-plan-db-orders.id}"
    assert selection["iam_role_arn"] == "${backup-role.arn}"
    assert backup.get("backup-plan-db-users-selection").properties["resources"] == ["${db-users.arn}"]
    role = backup.get("backup-role").properties
    assert role["assume_role_policy"]["$json"]["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}
    attached = {r.properties["policy_arn"].rsplit("/", 1)[-1]
                for r in backup.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r.component == "disaster_recovery"}
    assert attached == {"AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"}


def test_backup_strategy_builds_nothing_in_another_region(backup):
    assert "dr-backup-vault" not in backup and "dr-kms-key" not in backup
    assert not backup.of_type(REPLICATION)
    assert {r.properties.get("region") for r in backup.resources if "region" in r.properties} == {"us-east-1"}
    assert backup.get("backup-vault").protect is True


def test_backup_strategy_with_a_region_copies_every_recovery_point_there():
    plan = compile_aws(shop("backup"))
    assert region_of(plan, "dr-backup-vault") == "us-west-2"
    for name in ("backup-plan-db-users", "backup-plan-db-orders", "backup-plan-db-plain"):
        [rule] = plan.get(name).properties["rules"]
        assert rule["copy_actions"] == [{"destination_vault_arn": "${dr-backup-vault.arn}",
                                         "lifecycle": rule["lifecycle"]}]
    assert not plan.of_type(REPLICATION) and "dr-db-users" not in plan


@pytest.mark.parametrize("interval, pitr, schedule, warned", [
    ("30m", "false", "cron(0 * * * ? *)", True),
    ("30m", "true", "cron(0 * * * ? *)", False),  # point-in-time recovery covers the gap
    ("5h", "false", "cron(0 */4 * * ? *)", False),  # more often than asked: no loss
    ("2d", "false", "cron(0 5 */2 * ? *)", False),
])
def test_backup_schedule_follows_the_interval(interval, pitr, schedule, warned):
    plan = compile_aws(f"""
        blueprint: shop
        databases:
          main: {{backup: {{interval: {interval}, retention: 7d, point_in_time: {pitr}}}}}
        disaster_recovery: {{strategy: backup}}
    """)
    [rule] = plan.get("backup-plan-db-main").properties["rules"]
    assert rule["schedule"] == schedule
    assert any("AWS Backup will run every" in w.message for w in plan.warnings) is warned


def test_backup_without_databases_warns_and_builds_nothing():
    plan = compile_aws("""
        blueprint: shop
        disaster_recovery: {strategy: backup}
    """)
    assert not plan.of_component("disaster_recovery")
    assert any("no database to back up" in w.message for w in plan.warnings)


# ---------------------------------------------------------------- cold


def test_cold_replicates_automated_backups_into_the_dr_region(cold):
    replications = {r.name: r.properties for r in cold.of_type(REPLICATION)}
    assert sorted(replications) == ["dr-db-orders-shard-0-backups", "dr-db-orders-shard-1-backups",
                                     "dr-db-plain-backups", "dr-db-users-backups"]
    users = replications["dr-db-users-backups"]
    assert users["source_db_instance_arn"] == "${db-users.arn}"
    assert users["region"] == "us-west-2"
    assert users["retention_period"] == 14
    assert users["kms_key_id"] == "${dr-kms-key.arn}"
    assert "kms_key_id" not in replications["dr-db-plain-backups"]  # unencrypted source
    key = cold.get("dr-kms-key").properties
    assert key["region"] == "us-west-2" and key["enable_key_rotation"] is True


def test_cold_site_runs_no_compute_and_no_database(cold):
    dr_compute = [r for r in cold.resources if r.properties.get("region") == "us-west-2"
                  and r.type in ("aws:ecs/service:Service", RDS, "aws:elasticache/replicationGroup:ReplicationGroup",
                                 "aws:lb/loadBalancer:LoadBalancer")]
    assert dr_compute == []
    assert region_of(cold, "dr-backup-vault") == "us-west-2"


def test_cold_and_hot_replicate_push_cdn_buckets(cold, hot):
    for plan in (cold, hot):
        configs = [r for r in plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")]
        assert len(configs) == 1
        config = configs[0]
        source = config.properties["bucket"][2:].split(".")[0]
        target = f"dr-{source}"
        assert plan.get(source).component == "cdns.media"
        assert region_of(plan, target) == "us-west-2"
        [rule] = config.properties["rules"]
        assert rule["status"] == "Enabled"
        assert rule["destination"]["bucket"] == f"${{{target}.arn}}"
        # S3 refuses replication until both buckets are versioned.
        versioned = {r.properties["bucket"] for r in plan.of_type("aws:s3/bucketVersioning:BucketVersioning")
                     if r.properties["versioning_configuration"]["status"] == "Enabled"}
        assert {f"${{{source}.id}}", f"${{{target}.id}}"} <= versioned
        assert len(config.depends_on) == 2
        assert plan.get(f"{target}-public-access").properties["block_public_policy"] is True
        role = plan.get(config.properties["role"][2:].split(".")[0]).properties
        assert role["assume_role_policy"]["$json"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}


def test_backup_strategy_does_not_replicate_buckets(backup):
    assert not backup.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")


# ---------------------------------------------------------------- hot


def test_hot_builds_an_encrypted_cross_region_replica_of_every_instance(hot):
    names = sorted(r.name for r in hot.of_type(RDS) if r.name.startswith("dr-"))
    assert names == ["dr-db-orders-shard-0", "dr-db-orders-shard-1", "dr-db-plain", "dr-db-users"]
    users = hot.get("dr-db-users")
    p = users.properties
    assert users.component == "databases.users"
    assert p["replicate_source_db"] == "${db-users.arn}"  # another region: the ARN
    assert p["region"] == "us-west-2"
    assert p["kms_key_id"] == "${dr-kms-key.arn}" and p["storage_encrypted"] is True
    assert p["db_subnet_group_name"] == "${dr-db-users-subnets.name}"
    assert p["parameter_group_name"] == "${dr-db-users-params.name}"
    assert p["vpc_security_group_ids"] == ["${dr-db-users-sg.id}"]
    assert p["multi_az"] is True and users.protect is True
    assert "username" not in p and "manage_master_user_password" not in p
    assert region_of(hot, "dr-db-users-subnets") == "us-west-2"
    assert all("dr-net-private" in s for s in hot.get("dr-db-users-subnets").properties["subnet_ids"])
    assert hot.get("dr-db-orders-shard-1").properties["replicate_source_db"] == "${db-orders-shard-1.arn}"
    plain = hot.get("dr-db-plain").properties
    assert plain["storage_encrypted"] is False and "kms_key_id" not in plain


def test_hot_copies_caches_and_queues_and_admits_the_dr_services(hot):
    cache = hot.get("dr-cache-sessions").properties
    assert cache["region"] == "us-west-2" and cache["at_rest_encryption_enabled"] is True
    assert cache["num_cache_clusters"] == 2 and cache["automatic_failover_enabled"] is True
    queue = hot.get("dr-queue-orders").properties
    assert queue["region"] == "us-west-2" and queue["name"] == "shop-test-dr-orders"
    assert queue["redrive_policy"]["$json"]["deadLetterTargetArn"] == "${dr-queue-orders-dlq.arn}"
    rules = {(r.properties["security_group_id"], r.properties["referenced_security_group_id"], r.properties["region"])
             for r in hot.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
             if r.properties["security_group_id"] in ("${dr-db-users-sg.id}", "${dr-cache-sessions-sg.id}")}
    assert rules == {("${dr-db-users-sg.id}", "${dr-svc-web-sg.id}", "us-west-2"),
                     ("${dr-cache-sessions-sg.id}", "${dr-svc-web-sg.id}", "us-west-2")}
    consume = hot.get("queue-orders-consume-svc-worker").properties["policy"]["$json"]["Statement"][0]
    assert consume["Resource"] == ["${queue-orders.arn}", "${dr-queue-orders.arn}"]


def test_hot_dr_services_read_the_dr_stores(hot):
    task = hot.get("dr-svc-web-task").properties["container_definitions"]["$json"][0]
    env = {e["name"]: e["value"] for e in task["environment"]}
    assert env["DATABASE_URL"] == "postgres://app@${dr-db-users.address}:5432/app?sslmode=require"
    assert env["CACHE_URL"] == "rediss://${dr-cache-sessions.primary_endpoint_address}:6379/0"
    assert env["QUEUE_URL"] == "${dr-queue-orders.url}"
    assert hot.outputs["databases.users.dr_url"] == env["DATABASE_URL"]


def test_answers_depend_on_the_asking_site_not_on_what_was_built_before():
    bp = load(shop("hot", extra="""
reverse_proxies:
  front: {upstream: load_balancers.edge}
"""))
    ctx = aws.TARGET.context(bp, "test")
    db, lb, proxy = bp.databases["users"], bp.load_balancers["edge"], bp.reverse_proxies["front"]
    fresh = [ctx.attribute(c, "url") for c in (db, lb, proxy)]
    dr = [ctx.at("dr").attribute(c, "url") for c in (db, lb, proxy)]
    assert fresh == ["postgres://app@${db-users.address}:5432/app?sslmode=require",
                     "http://${lb-edge.dns_name}", "http://${lb-edge.dns_name}"]
    assert dr == ["postgres://app@${dr-db-users.address}:5432/app?sslmode=require",
                  "http://${dr-lb-edge.dns_name}", "http://${dr-lb-edge.dns_name}"]
    aws.platform(ctx)
    for section in ("services", "load_balancers"):  # each builds both sites, the DR one last
        for component in getattr(bp, section).values():
            with ctx.owning(component.ref):
                aws.KINDS[section].build(ctx, component)
    assert [ctx.attribute(c, "url") for c in (db, lb, proxy)] == fresh
    assert [ctx.at("dr").attribute(c, "url") for c in (db, lb, proxy)] == dr
    assert ctx.plan.outputs["load_balancers.edge.url"] == fresh[1]


def test_every_dr_copy_lives_in_the_dr_region(hot):
    copies = [r for r in hot.resources if r.name.startswith("dr-") and "region" in r.properties]
    assert len(copies) > 30
    assert {r.properties["region"] for r in copies} == {"us-west-2"}
    primary = [r for r in hot.resources if not r.name.startswith("dr-") and "region" in r.properties
               and r.component.startswith(("databases.", "caches.", "queues."))]
    assert {r.properties["region"] for r in primary} == {"us-east-1"}


def test_hot_dsql_database_needs_no_replica():
    plan = compile_aws("""
        blueprint: shop
        databases:
          ledger: {replication: {mode: multi-primary, replicas: 1}}
        disaster_recovery: {strategy: hot, region: us-east-2}
    """)
    assert not plan.of_type(RDS) and "dr-kms-key" not in plan
    assert plan.get("db-ledger-peer").properties["region"] == "us-east-2"
    selection = plan.get("backup-plan-db-ledger-selection").properties
    assert selection["resources"] == ["${db-ledger.arn}"]


def test_a_dr_site_without_a_region_is_a_clear_error():
    bp = load("""
        blueprint: shop
        databases:
          main: {}
        disaster_recovery: {strategy: backup}
    """)
    bp.disaster_recovery.strategy = "cold"  # validation refuses this; the compiler must too
    with pytest.raises(UnsupportedError, match="needs `region`"):
        compile_plan(bp, "aws", "test")


# ---------------------------------------------------------------- under mocks


@pytest.fixture(scope="module")
def hot_synth():
    from topoform.testing import synth

    return synth(load(shop("hot")), target="aws")


def test_synth_cross_region_replica_reads_the_primary_arn_and_dr_key(hot_synth):
    replica = hot_synth.named("dr-db-users")
    primary = hot_synth.named("db-users")
    assert replica.inputs["replicate_source_db"] == primary.outputs["arn"]
    assert primary.outputs["arn"].startswith("arn:aws:rds:us-east-1:")
    assert replica.inputs["region"] == "us-west-2"
    assert replica.inputs["kms_key_id"] == hot_synth.named("dr-kms-key").outputs["arn"]
    assert replica.inputs["kms_key_id"].startswith("arn:aws:kms:us-west-2:")


def test_synth_backup_copies_go_to_the_dr_vault(hot_synth):
    plan = hot_synth.named("backup-plan-db-users")
    [rule] = plan.inputs["rules"]
    destination = rule["copyActions"][0]["destinationVaultArn"]
    assert destination == hot_synth.named("dr-backup-vault").outputs["arn"]
    assert ":us-west-2:" in destination
    selection = hot_synth.named("backup-plan-db-users-selection")
    assert selection.inputs["resources"] == [hot_synth.named("db-users").outputs["arn"]]
    assert selection.inputs["iam_role_arn"] == hot_synth.named("backup-role").outputs["arn"]


def test_synth_registers_exactly_the_plan(hot_synth):
    planned = {(r.type, r.name) for r in hot_synth.plan.resources}
    registered = {(r.type, r.name) for r in hot_synth.resources}
    assert planned == registered
    assert hot_synth.outputs["disaster_recovery.region"] == "us-west-2"
    generated = [r.outputs["result"] for r in hot_synth.of_type("random:index/randomPassword:RandomPassword")]
    assert generated and not any(value in json.dumps(hot_synth.outputs) for value in generated)


def test_synth_cold_site_with_dsql_memcached_and_fifo_registers_with_real_sdk_arguments():
    """Every type this part uses is registered through its typed SDK class (argument names checked)."""
    from topoform.testing import synth

    stack = synth(load("""
        blueprint: shop
        services:
          api:
            image: nginx:1.27-alpine
            port: 80
            env: {LEDGER: "${databases.ledger.url}", PAGES: "${caches.pages.url}", JOBS: "${queues.jobs.url}"}
        databases:
          ledger: {replication: {mode: multi-primary, replicas: 1}}
          users: {engine: mariadb}
        caches:
          pages: {engine: memcached, memory: 1GiB, replicas: 1}
        queues:
          jobs: {fifo: true, max_receives: 2}
        disaster_recovery: {strategy: cold, region: us-west-2}
    """), target="aws")
    peering = stack.named("db-ledger-peering")
    assert peering.inputs["identifier"] == stack.named("db-ledger").outputs["identifier"]
    assert peering.inputs["clusters"] == [stack.named("db-ledger-peer").outputs["arn"]]
    assert peering.inputs["witness_region"] == "us-east-2"
    replication = stack.named("dr-db-users-backups")
    assert replication.inputs["source_db_instance_arn"] == stack.named("db-users").outputs["arn"]
    assert replication.inputs["region"] == "us-west-2"
    assert replication.inputs["kms_key_id"].startswith("arn:aws:kms:us-west-2:")
    stack.has_resource_properties("aws:elasticache/cluster:Cluster",
                                  {"engine": "memcached", "num_cache_nodes": 2, "az_mode": "cross-az"})
    assert json.loads(stack.named("queue-jobs").inputs["redrive_policy"])["deadLetterTargetArn"].endswith(
        "shop-test-jobs-dlq.fifo")
    assert stack.outputs["databases.ledger.url"].endswith(".dsql.us-east-1.on.aws:5432/postgres?sslmode=require")
    assert stack.named("backup-plan-db-ledger-selection").inputs["resources"] == [
        stack.named("db-ledger").outputs["arn"]]
