"""Rules for the NoSQL stores: MemoryDB, DynamoDB, DocumentDB and Neptune, and the passwords
their clients are handed (ECS secrets)."""

from __future__ import annotations

import re

from . import catalog
from .plan_view import document, target, violation
from .registry import rule
from .rules_data import _WINDOW, _week_minutes

MEMORYDB_CLUSTER = "aws:memorydb/cluster:Cluster"
MEMORYDB_USER = "aws:memorydb/user:User"
MULTI_REGION = "aws:memorydb/multiRegionCluster:MultiRegionCluster"
PASSWORD = "random:index/randomPassword:RandomPassword"
TABLE = "aws:dynamodb/table:Table"
DOCDB = "aws:docdb/cluster:Cluster"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
GLOBAL_CLUSTERS = ("aws:docdb/globalCluster:GlobalCluster", "aws:neptune/globalCluster:GlobalCluster")
INSTANCES = {"aws:docdb/cluster:Cluster": "aws:docdb/clusterInstance:ClusterInstance",
             "aws:neptune/cluster:Cluster": "aws:neptune/clusterInstance:ClusterInstance"}

# MemoryDB Developer Guide, "Engine versions" (MemoryDB 7.3 is Valkey, for Multi-Region).
MEMORYDB_VERSIONS = {"redis": {"6.2", "7.0", "7.1"}, "valkey": {"7.2", "7.3"}}
# MemoryDB Developer Guide, "Multi-Region prerequisites and limitations".
MULTI_REGION_REGIONS = {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "eu-west-2",
                        "ap-northeast-1", "ap-southeast-2", "ap-south-1", "ap-northeast-2", "ap-southeast-1"}
_R7G_XL_OR_LARGER = re.compile(r"^db\.r7g\.(\d*)xlarge$")


@rule("memorydb-tls-with-acl", "https://www.pulumi.com/registry/packages/aws/api-docs/memorydb/cluster/",
      "A MemoryDB cluster's in-transit encryption defaults to on; with `tls_enabled: false` its ACL must be "
      "`open-access` (MemoryDB authenticates ACL users only over TLS).", source="the pulumi_aws SDK's Cluster docs")
def _tls_with_acl(plan):
    for cluster in plan.of_type(MEMORYDB_CLUSTER):
        acl = cluster.properties.get("acl_name")
        if acl == "open-access":
            yield violation(cluster, "acl_name", "open-access: any client that reaches the port has every key")
        elif cluster.properties.get("tls_enabled") is False:
            yield violation(cluster, "tls_enabled", f"TLS off with the ACL {acl}: MemoryDB refuses the cluster")


@rule("memorydb-user-valid", "https://docs.aws.amazon.com/memorydb/latest/devguide/clusters.acls.html",
      "A user's name starts with a letter (letters, digits, hyphens; at most 40 characters in the provider); "
      "its access string says `on` or the user has no access; password authentication takes one or two "
      "passwords of 16 to 128 printable characters.", source="botocore memorydb UserName pattern; the pages above")
def _user_valid(plan):
    for user in plan.of_type(MEMORYDB_USER):
        name = str(user.properties.get("user_name", ""))
        pattern = catalog._model("memorydb").shape_for("UserName").metadata["pattern"]
        if len(name) > 40 or not re.fullmatch(pattern, name):
            yield violation(user, "user_name", f"{name!r} is not a MemoryDB user name")
        if not str(user.properties.get("access_string", "")).split()[:1] == ["on"]:
            yield violation(user, "access_string", "the user is off: it has no access")
        mode = user.properties.get("authentication_mode") or {}
        passwords = mode.get("passwords") or []
        if mode.get("type") == "password" and not 1 <= len(passwords) <= 2:
            yield violation(user, "authentication_mode", f"{len(passwords)} passwords (one or two)")
        for value in passwords:
            value = value.get("$secret", value) if isinstance(value, dict) else value
            generated = target(plan, value)
            length = generated.properties.get("length") if generated is not None and generated.type == PASSWORD \
                else len(str(value))
            if not 16 <= int(length) <= 128:
                yield violation(user, "authentication_mode", f"a password of {length} characters (16 to 128)")


@rule("memorydb-cluster-layout", "https://www.pulumi.com/registry/packages/aws/api-docs/memorydb/cluster/",
      "A cluster has at least one shard and at most 5 replicas per shard; automatic snapshots are kept 0 to 35 "
      "days; the weekly maintenance window is at least 60 minutes and (as the daily snapshot window) must not "
      "overlap the snapshot window; the engine is redis or valkey of a version MemoryDB offers.",
      source="the pulumi_aws SDK's Cluster docs; MemoryDB Developer Guide, Engine versions")
def _cluster_layout(plan):
    for cluster in plan.of_type(MEMORYDB_CLUSTER):
        p = cluster.properties
        if not 1 <= int(p.get("num_shards", 1)) <= 500:
            yield violation(cluster, "num_shards", f"{p.get('num_shards')} shards")
        if not 0 <= int(p.get("num_replicas_per_shard", 1)) <= 5:
            yield violation(cluster, "num_replicas_per_shard", f"{p['num_replicas_per_shard']} replicas (0 to 5)")
        if not 0 <= int(p.get("snapshot_retention_limit", 0)) <= 35:
            yield violation(cluster, "snapshot_retention_limit", f"{p['snapshot_retention_limit']} days (0 to 35)")
        engine, version = p.get("engine", "redis"), str(p.get("engine_version", ""))
        if version and version not in MEMORYDB_VERSIONS.get(engine, set()):
            yield violation(cluster, "engine_version", f"MemoryDB offers no {engine} {version}")
        maintenance, snapshot = p.get("maintenance_window"), p.get("snapshot_window")
        if maintenance and snapshot and _WINDOW.match(maintenance) and _WINDOW.match(snapshot):
            [(m0, m1)] = _week_minutes(maintenance)
            if m1 - m0 < 60:
                yield violation(cluster, "maintenance_window", f"{maintenance} is shorter than 60 minutes")
            if any(s0 < m1 and m0 < s1 for s0, s1 in _week_minutes(snapshot)):
                yield violation(cluster, "snapshot_window", f"{snapshot} overlaps the maintenance window {maintenance}")


@rule("memorydb-multi-region", "https://docs.aws.amazon.com/memorydb/latest/devguide/multi-region.prereq.html",
      "MemoryDB Multi-Region runs Valkey 7.3 and later on R7g nodes of size XL and above, in a listed set of "
      "Regions; all its regional clusters have the same number of shards, node type, engine version and TLS.")
def _multi_region(plan):
    for group in plan.of_type(MULTI_REGION):
        p = group.properties
        version = tuple(int(part) for part in str(p.get("engine_version", "7.3")).split(".")[:2])
        if p.get("engine") != "valkey" or version < (7, 3):
            yield violation(group, "engine", f"{p.get('engine')} {p.get('engine_version')}: Valkey 7.3 or later only")
        if not _R7G_XL_OR_LARGER.match(str(p.get("node_type"))):
            yield violation(group, "node_type", f"{p.get('node_type')}: R7g nodes of size XL and above only")
        members = [c for c in plan.of_type(MEMORYDB_CLUSTER)
                   if target(plan, c.properties.get("multi_region_cluster_name")) is group]
        for cluster in members:
            c = cluster.properties
            if c.get("region") not in MULTI_REGION_REGIONS:
                yield violation(cluster, "region", f"Multi-Region is not offered in {c.get('region')}")
            for prop in ("num_shards", "node_type", "engine_version", "tls_enabled"):
                if prop in c and c[prop] != p.get(prop, c[prop]):
                    yield violation(cluster, prop, f"{c[prop]!r}, but the Multi-Region cluster has {p.get(prop)!r}")


@rule("dynamodb-global-table-streams",
      "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-dynamodb-globaltable-streamspecification.html",
      "A global table (multi-Region eventual consistency) with more than one replica must have DynamoDB Streams "
      "specified; replication reads both the new and the old image of each item (NEW_AND_OLD_IMAGES).")
def _global_table_streams(plan):
    for table in plan.of_type(TABLE):
        p = table.properties
        if p.get("replicas") and (p.get("stream_enabled") is not True or p.get("stream_view_type") != "NEW_AND_OLD_IMAGES"):
            yield violation(table, "stream_view_type", "replicas without a NEW_AND_OLD_IMAGES stream")


@rule("dynamodb-billing-mode-capacity", "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html",
      "With BillingMode PROVISIONED the table must specify ProvisionedThroughput (read and write capacity units); "
      "with PAY_PER_REQUEST it cannot.")
def _billing_mode(plan):
    for table in plan.of_type(TABLE):
        p = table.properties
        has = [k for k in ("read_capacity", "write_capacity") if p.get(k)]
        if p.get("billing_mode") == "PROVISIONED" and len(has) < 2:
            yield violation(table, "billing_mode", "PROVISIONED without read_capacity and write_capacity")
        if p.get("billing_mode", "PROVISIONED") == "PAY_PER_REQUEST" and has:
            yield violation(table, "billing_mode", f"PAY_PER_REQUEST with {', '.join(has)}")


@rule("docdb-cluster-values", "https://docs.aws.amazon.com/documentdb/latest/developerguide/backup_restore-understanding_backups.html",
      "A DocumentDB cluster keeps automated backups 1 to 35 days; its cluster parameter group's family names "
      "the engine's major version (docdb5.0 for engine version 5.0.0).")
def _docdb_values(plan):
    for cluster in plan.of_type(DOCDB):
        p = cluster.properties
        if not 1 <= int(p.get("backup_retention_period", 1)) <= 35:
            yield violation(cluster, "backup_retention_period", f"{p['backup_retention_period']} days (1 to 35)")
        group = target(plan, p.get("db_cluster_parameter_group_name"))
        version = str(p.get("engine_version", ""))
        if group is not None and version:
            expected = "docdb" + ".".join(version.split(".")[:2])
            if group.properties.get("family") != expected:
                yield violation(group, "family", f"{group.properties.get('family')!r} for engine {version}: "
                                f"the family is {expected!r}")


@rule("global-cluster-instance-classes", "https://docs.aws.amazon.com/documentdb/latest/developerguide/global-clusters.html",
      "DocumentDB global clusters (and Neptune global databases) run on memory-optimised instance classes: the "
      "burstable t3/t4g classes cannot join one.")
def _global_classes(plan):
    for cluster_type, instance_type in INSTANCES.items():
        for cluster in plan.of_type(cluster_type):
            glob = target(plan, cluster.properties.get("global_cluster_identifier"))
            if glob is None or glob.type not in GLOBAL_CLUSTERS:
                continue
            for instance in plan.of_type(instance_type):
                if target(plan, instance.properties.get("cluster_identifier")) is cluster and \
                        str(instance.properties.get("instance_class", "")).startswith(("db.t3.", "db.t4g.")):
                    yield violation(instance, "instance_class",
                                    f"{instance.properties['instance_class']} in the global cluster {glob.name}")


@rule("neptune-iam-resource-names-account", "https://docs.aws.amazon.com/neptune/latest/userguide/iam-data-resources.html",
      "A Neptune data-access policy names its cluster as arn:aws:neptune-db:REGION:ACCOUNT-ID:CLUSTER-RESOURCE-ID/*; "
      "a wildcard account grants the role every account's cluster of that resource id.")
def _neptune_account(plan):
    for policy in plan.of_type(ROLE_POLICY):
        for statement in (document(policy.properties.get("policy")) or {}).get("Statement", []):
            for arn in statement.get("Resource", []):
                if isinstance(arn, str) and arn.startswith("arn:aws:neptune-db:") and arn.split(":")[4] in ("", "*"):
                    yield violation(policy, "policy", f"{arn}: the account is a wildcard")


@rule("ecs-secrets-readable", "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html",
      "A container's `secrets` entry names a Secrets Manager secret (its ARN, optionally followed by "
      ":json-key:version-stage:version-id) that the task execution role must be allowed to read "
      "(secretsmanager:GetSecretValue); otherwise the task fails to start.")
def _secrets_readable(plan):
    for task in plan.of_type(TASK):
        role = target(plan, task.properties.get("execution_role_arn"))
        readable: set[str] = set()
        for policy in plan.of_type(ROLE_POLICY):
            if role is None or target(plan, policy.properties.get("role")) is not role:
                continue
            for statement in (document(policy.properties.get("policy")) or {}).get("Statement", []):
                actions = statement.get("Action", [])
                if "secretsmanager:GetSecretValue" in (actions if isinstance(actions, list) else [actions]):
                    readable.update(statement.get("Resource", []))
        for container in document(task.properties.get("container_definitions")) or []:
            for entry in container.get("secrets", []):
                arn = re.sub(r":[A-Za-z0-9_]+:[A-Za-z0-9_]*:[A-Za-z0-9_-]*$", "", entry["valueFrom"])
                if arn not in readable:
                    yield violation(task, "container_definitions",
                                    f"{container['name']}: {entry['name']} comes from {arn}, which the execution "
                                    "role may not read")
