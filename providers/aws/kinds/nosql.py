"""NoSQL stores on AWS, one product per `model`; private, encrypted with a customer KMS key.

- key-value → DynamoDB: the partition/sort keys, on-demand or provisioned
  capacity, TTL, point-in-time recovery, streams, deletion protection with
  `protect`; with a hot DR site a global table replica in the DR region
  (hot DR, its own KMS key there). Services reach it over HTTPS (no port to
  open) and their task roles may call the item actions on this table's ARN
  (and its indexes) only.
- document → Amazon DocumentDB: a cluster with `1 + replicas` instances
  spread by AWS over the private subnets' zones, TLS required (the
  cluster parameter group), encrypted storage, backups kept `retention`
  (at most 35 days), a generated master password kept in Secrets Manager in
  each site's region, which the using services receive as
  `<VAR minus _URL>_PASSWORD` (an ECS secret).
- wide-column → Amazon Keyspaces: a keyspace (the blueprint and stack) and
  a table with the keys as partition and clustering columns, CMK
  encryption, PITR, TTL; `cassandra:Select`/`Modify` on that table only.
- graph → Amazon Neptune: a cluster with `1 + replicas` instances, IAM
  authentication (`neptune-db:*` on this cluster of this account only),
  encrypted storage.
- key-value with `engine: redis` or `valkey` → Amazon MemoryDB (durable:
  every write is in a Multi-AZ transaction log before it is acknowledged):
  a cluster of `shards` shards with `replicas` replicas each (spread over the
  zones), TLS in transit (clients use `rediss://`), encrypted at rest with
  the store's KMS key, daily snapshots kept `backup.retention` (1 to 35 days)
  and a final one; one login, user `app` on an ACL of its own, with a
  generated password kept in Secrets Manager in each site's region, which
  the using services receive as `<VAR minus _URL>_PASSWORD` (ECS secrets).
  Hot DR is MemoryDB Multi-Region (Valkey 7.3 on r7g.xlarge or larger, in
  the Regions it is offered): both regional clusters take writes and
  converge asynchronously; a `redis` store with hot DR is refused (Multi-Region
  is Valkey only).
With a hot DR region: a DynamoDB global table replica, a Multi-Region
keyspace, or a DocumentDB/Neptune global cluster whose secondary (one
instance, read-only until promoted, as an RDS cross-region replica) runs in
the DR VPC; the DR copies of the services read the DR copy.
A DocumentDB or Neptune store sits in the VPC: only the services that
reference it reach its port. DynamoDB and Keyspaces are regional endpoints
reached through the NAT gateway over TLS.
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.models import NoSql, Service
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts, Replica, ref

from .. import stores
from ..context import AwsContext
from . import caches
from ..sites import DR, PRIMARY, site_name
from ..store_catalog import physical_id, retention_days, snapshot_name

KMS_KEY = "aws:kms/key:Key"
TABLE = "aws:dynamodb/table:Table"
PORTS = {"document": 27017, "graph": 8182, "wide-column": 9142, "key-value": 443}
INSTANCE_CLASS = {"small": "db.t4g.medium", "medium": "db.r6g.large", "large": "db.r6g.xlarge"}
KEY_TYPES = {"string": "S", "number": "N", "binary": "B"}
CQL_TYPES = {"string": "text", "number": "bigint", "binary": "blob"}
DYNAMODB_ITEM_ACTIONS = [
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
    "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
    "dynamodb:UpdateItem",
]
BACKUP_WINDOW = "03:00-04:00"
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"


def build(ctx: AwsContext, store: NoSql) -> None:
    if store.public:
        raise ctx.unsupported(f"{store.ref}: a public NoSQL store is not built on aws",
                              "remove `public: true`: services reach it from the VPC", "nosql", store.name, "public")
    if not store.encrypted:
        raise ctx.unsupported(f"{store.ref}: DynamoDB, DocumentDB, Keyspaces and Neptune are built encrypted on aws",
                              "remove `encrypted: false`", "nosql", store.name, "encrypted")
    if store.redis:
        _memorydb(ctx, store)
    else:
        {"key-value": _dynamodb, "document": _documentdb, "wide-column": _keyspaces, "graph": _neptune}[store.model](
            ctx, store)
    ctx.export(store, ("url", "host", "port", "endpoint", "table", "name"))


def _key(ctx: AwsContext, store: NoSql, site: str) -> str | None:
    """The store's customer-managed key at `site` (rotated yearly), or None with `kms_key: false`."""
    if not store.kms_key:
        return None
    return ctx.add(KMS_KEY, site_name(f"{ctx.prefix(store)}-key", site), {
        "description": f"{store.ref} of {ctx.bp.blueprint}/{ctx.stack} ({site} site)",
        "enable_key_rotation": True, "deletion_window_in_days": 30,
        "region": ctx.sites.region(site), "tags": ctx.tags(),
    }, protect=store.protect).name


def _grant(ctx: AwsContext, store: NoSql, what: str, statements: list[dict[str, Any]]) -> None:
    for service in ctx.access.users(store.ref):
        ctx.iam.grant_task_role(f"{ctx.prefix(store)}-{what}-{ctx.prefix(ctx.bp.component(service))}", service,
                                statements, store.ref)


def _dynamodb(ctx: AwsContext, store: NoSql) -> None:
    name = ctx.prefix(store)
    key = _key(ctx, store, PRIMARY)
    keys = [store.partition_key] + ([store.sort_key] if store.sort_key else [])
    props: dict[str, Any] = {
        "name": f"{ctx.bp.blueprint}-{ctx.stack}-{store.table_name}",
        "hash_key": store.partition_key.name,  # type: ignore[union-attr]
        "attributes": [{"name": k.name, "type": KEY_TYPES[k.type]} for k in keys],  # type: ignore[union-attr]
        "billing_mode": "PAY_PER_REQUEST" if store.capacity == "on-demand" else "PROVISIONED",
        "point_in_time_recovery": {"enabled": store.backup.point_in_time},
        "server_side_encryption": {"enabled": True, **({"kms_key_arn": ref(key, "arn")} if key else {})},
        "deletion_protection_enabled": store.protect,
        "region": ctx.sites.region(PRIMARY), "tags": ctx.tags(),
    }
    if store.sort_key:
        props["range_key"] = store.sort_key.name
    if store.capacity == "provisioned":
        props.update(read_capacity=store.read_capacity, write_capacity=store.write_capacity)
    if store.ttl_attribute:
        props["ttl"] = {"attribute_name": store.ttl_attribute, "enabled": True}
    replica = ctx.sites.hot_copies
    if store.streams or replica:
        # A global table replicates through the stream, so a replica turns it on.
        props.update(stream_enabled=True, stream_view_type="NEW_AND_OLD_IMAGES")
    if replica:
        dr_key = _key(ctx, store, DR)
        props["replicas"] = [{"region_name": ctx.sites.region(DR), "point_in_time_recovery": store.backup.point_in_time,
                              **({"kms_key_arn": ref(dr_key, "arn")} if dr_key else {})}]
    ctx.add(TABLE, name, props, protect=store.protect)
    arns = [ref(name, "arn"), f"{ref(name, 'arn')}/index/*"]
    statements = [{"Sid": "Items", "Effect": "Allow", "Action": DYNAMODB_ITEM_ACTIONS, "Resource": arns}]
    if store.streams:
        statements.append({"Sid": "Stream", "Effect": "Allow", "Resource": [ref(name, "stream_arn")],
                           "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]})
    _grant(ctx, store, "items", statements)


# ---------------------------------------------------------------- MemoryDB

MEMORYDB_VERSION = {"redis": "7.1", "valkey": "7.2"}
MEMORYDB_NODE = {"small": "db.t4g.small", "medium": "db.r7g.large", "large": "db.r7g.xlarge"}
# MemoryDB Developer Guide, "Multi-Region prerequisites and limitations": Valkey 7.3 and later,
# R7g nodes of size XL and above, in these Regions only.
MULTI_REGION_VERSION = "7.3"
MULTI_REGION_NODE = {"small": "db.r7g.xlarge", "medium": "db.r7g.xlarge", "large": "db.r7g.2xlarge"}
MULTI_REGION_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
                        "eu-west-2", "ap-northeast-1", "ap-southeast-2", "ap-south-1", "ap-northeast-2",
                        "ap-southeast-1")
# The ACL rule of user `app`: every key and channel, every command (the application's own store).
ACCESS_STRING = "on ~* &* +@all"
SNAPSHOT_WINDOW = "02:00-03:00"
MEMORYDB_MAINTENANCE_WINDOW = "sun:05:30-sun:06:30"


def _memorydb(ctx: AwsContext, store: NoSql) -> None:
    multi_region = ctx.sites.hot_copies
    if multi_region:
        regions = [ctx.sites.region(PRIMARY), ctx.sites.region(DR)]
        if store.engine != "valkey":
            raise ctx.unsupported(f"{store.ref}: hot DR of a redis store would be MemoryDB Multi-Region, which "
                                  "runs Valkey only", "use `engine: valkey` (the same protocol)",
                                  "nosql", store.name, "engine")
        missing = [r for r in regions if r not in MULTI_REGION_REGIONS]
        if missing:
            raise ctx.unsupported(f"{store.ref}: MemoryDB Multi-Region is not offered in {', '.join(missing)}",
                                  f"choose regions among {', '.join(MULTI_REGION_REGIONS)}",
                                  "nosql", store.name, "engine")
    days, clamped = retention_days(store.backup.retention)
    if clamped:
        ctx.warn(f"{store.ref}: MemoryDB keeps snapshots 1 to 35 days; kept {days}", None,
                 "nosql", store.name, "backup", "retention")
    group = None
    if multi_region:
        group = ctx.add("aws:memorydb/multiRegionCluster:MultiRegionCluster", f"{ctx.prefix(store)}-multi-region", {
            "multi_region_cluster_name_suffix": _scoped(ctx, ctx.prefix(store)),
            "description": f"{store.ref} of {ctx.bp.blueprint}/{ctx.stack}", "node_type": MULTI_REGION_NODE[store.size],
            "engine": "valkey", "engine_version": MULTI_REGION_VERSION, "num_shards": store.shards,
            "tls_enabled": True, "region": ctx.sites.region(PRIMARY), "tags": ctx.tags(),
        }, protect=store.protect).name
    for site in ([PRIMARY, DR] if multi_region else [PRIMARY]):
        _memorydb_at(ctx, store, site, group, days)


def _scoped(ctx: AwsContext, name: str) -> str:
    """A name Pulumi cannot autoname (a MemoryDB user's, unique per account and Region): the
    blueprint and stack keep stacks apart; at most 40 characters, cut with a hash past that."""
    full = f"{ctx.bp.blueprint}-{ctx.stack}-{name}"
    return full if len(full) <= 40 else physical_id(full, 40, ctx.bp.blueprint, ctx.stack)  # type: ignore[return-value]


def _memorydb_at(ctx: AwsContext, store: NoSql, site: str, group: str | None, days: int) -> None:
    base = ctx.prefix(store)
    n = lambda name: site_name(name, site)  # noqa: E731
    region = ctx.sites.region(site)
    where = {"region": region, "tags": ctx.tags()}
    security_group = stores.admit_users(ctx, store, caches.CACHE_PORT["redis"], site)
    key = _key(ctx, store, site)
    user = ctx.add("aws:memorydb/user:User", n(f"{base}-user"), {
        "user_name": _scoped(ctx, n(f"{base}-app")), "access_string": ACCESS_STRING,
        "authentication_mode": {"type": "password", "passwords": [{"$secret": ref(caches.auth_token(ctx, store), "result")}]},
        **where,
    }).name
    caches.auth_secret(ctx, store, site)
    acl = ctx.add("aws:memorydb/acl:Acl", n(f"{base}-acl"), {"user_names": [ref(user, "user_name")], **where}).name
    subnets = ctx.add("aws:memorydb/subnetGroup:SubnetGroup", n(f"{base}-subnets"), {
        "description": f"{store.ref}: private subnets ({site} site)",
        "subnet_ids": [ref(s, "id") for s in ctx.networks.network(site).private_subnets], **where,
    }).name
    props: dict[str, Any] = {
        "acl_name": ref(acl, "name"), "engine": store.engine,
        "engine_version": MULTI_REGION_VERSION if group else MEMORYDB_VERSION[store.engine],
        "node_type": (MULTI_REGION_NODE if group else MEMORYDB_NODE)[store.size],
        "num_shards": store.shards, "num_replicas_per_shard": store.replicas,
        "subnet_group_name": ref(subnets, "name"), "security_group_ids": [ref(security_group, "id")],
        "tls_enabled": True, "snapshot_retention_limit": days, "snapshot_window": SNAPSHOT_WINDOW,
        "final_snapshot_name": snapshot_name(ctx.bp.blueprint, ctx.stack, n(base), "final"),
        "maintenance_window": MEMORYDB_MAINTENANCE_WINDOW, "auto_minor_version_upgrade": True,
        "description": f"{store.ref} of {ctx.bp.blueprint}/{ctx.stack} ({site} site)", **where,
    }
    if key:
        props["kms_key_arn"] = ref(key, "arn")
    if group:
        props["multi_region_cluster_name"] = ref(group, "multi_region_cluster_name")
    identifier = physical_id(n(base), 40, ctx.bp.blueprint, ctx.stack)
    if identifier:
        props["name"] = identifier
    ctx.add("aws:memorydb/cluster:Cluster", n(base), props, protect=store.protect)


ENGINE_VERSION = {"docdb": "5.0.0", "neptune": "1.3.2.1"}
# Global clusters run on memory-optimised instances only (no t4g).
GLOBAL_INSTANCE_CLASS = {"small": "db.r6g.large", "medium": "db.r6g.large", "large": "db.r6g.xlarge"}


def _cluster(ctx: AwsContext, store: NoSql, product: str) -> str:
    """DocumentDB or Neptune: `1 + replicas` instances; with a hot DR region a global cluster whose
    secondary (one instance, read-only until promoted) runs there. Returns the primary cluster."""
    base = ctx.prefix(store)
    global_cluster = None
    if ctx.sites.hot_copies:
        global_cluster = ctx.add(f"aws:{product}/globalCluster:GlobalCluster", f"{base}-global", {
            "global_cluster_identifier": snapshot_name(ctx.bp.blueprint, ctx.stack, base),
            "engine": "docdb" if product == "docdb" else "neptune", "engine_version": ENGINE_VERSION[product],
            "storage_encrypted": True, "deletion_protection": store.protect,
            "region": ctx.sites.region(PRIMARY),
        }, protect=store.protect).name
    primary = _cluster_at(ctx, store, product, PRIMARY, global_cluster, 1 + store.replicas)
    if global_cluster is not None:
        _cluster_at(ctx, store, product, DR, global_cluster, 1, depends_on=[f"{base}-{store.replicas}"])
    return primary


def _cluster_at(ctx: AwsContext, store: NoSql, product: str, site: str, global_cluster: str | None,
                instances: int, depends_on: list[str] | None = None) -> str:
    base = ctx.prefix(store)
    n = lambda name: site_name(name, site)  # noqa: E731
    port = PORTS[store.model]
    region = ctx.sites.region(site)
    group = stores.admit_users(ctx, store, port, site)
    key = _key(ctx, store, site)
    subnets = ctx.add(f"aws:{product}/subnetGroup:SubnetGroup", n(f"{base}-subnets"), {
        "description": f"{store.ref}: private subnets ({site} site)", "region": region, "tags": ctx.tags(),
        "subnet_ids": [ref(s, "id") for s in ctx.networks.network(site).private_subnets],
    }).name
    days, clamped = retention_days(store.backup.retention)
    if clamped and site == PRIMARY:
        ctx.warn(f"{store.ref}: {product} keeps backups 1 to 35 days; kept {days}", None,
                 "nosql", store.name, "backup", "retention")
    props: dict[str, Any] = {
        "engine": "docdb" if product == "docdb" else "neptune", "engine_version": ENGINE_VERSION[product],
        "port": port, "storage_encrypted": True, "backup_retention_period": days,
        "preferred_backup_window": BACKUP_WINDOW, "preferred_maintenance_window": MAINTENANCE_WINDOW,
        "vpc_security_group_ids": [ref(group, "id")], "deletion_protection": store.protect,
        "skip_final_snapshot": False,
        "final_snapshot_identifier": snapshot_name(ctx.bp.blueprint, ctx.stack, n(base), "final"),
        "apply_immediately": False, "region": region, "tags": ctx.tags(),
    }
    if global_cluster is not None:
        props["global_cluster_identifier"] = ref(global_cluster, "id")
    identifier = physical_id(n(base), 63, ctx.bp.blueprint, ctx.stack)
    if identifier:
        props["cluster_identifier"] = identifier
    if product == "docdb":
        params = ctx.add("aws:docdb/clusterParameterGroup:ClusterParameterGroup", n(f"{base}-params"), {
            "family": "docdb5.0", "description": f"{store.ref}: TLS required",
            "parameters": [{"name": "tls", "value": "enabled"}], "region": region, "tags": ctx.tags(),
        }).name
        props.update(db_subnet_group_name=ref(subnets, "name"), db_cluster_parameter_group_name=ref(params, "name"),
                     enabled_cloudwatch_logs_exports=["audit", "profiler"])
        if site == PRIMARY:  # a global secondary takes its login from the primary
            props.update(master_username="app",
                         master_password={"$secret": ref(caches.auth_token(ctx, store), "result")})
        if key:
            props["kms_key_id"] = ref(key, "arn")
    else:
        props.update(iam_database_authentication_enabled=True, neptune_subnet_group_name=ref(subnets, "name"),
                     enable_cloudwatch_logs_exports=["audit"])
        if key:
            props["kms_key_arn"] = ref(key, "arn")
    cluster = ctx.add(f"aws:{product}/cluster:Cluster", n(base), props, protect=store.protect,
                      depends_on=depends_on).name
    classes = GLOBAL_INSTANCE_CLASS if global_cluster is not None else INSTANCE_CLASS
    for i in range(instances):
        instance = {"cluster_identifier": ref(cluster, "id"), "instance_class": classes[store.size],
                    "auto_minor_version_upgrade": True, "promotion_tier": i, "region": region, "tags": ctx.tags()}
        if product == "neptune":
            instance["engine"] = "neptune"
        ctx.add(f"aws:{product}/clusterInstance:ClusterInstance", n(f"{base}-{i}"), instance)
    return cluster


def _documentdb(ctx: AwsContext, store: NoSql) -> None:
    # The password is Topoform's, in a secret in each site's region (as an RDS master password,
    # databases.py): DocumentDB's managed secret lives in the primary region only, and DR tasks
    # must start with that region gone. ECS hands it to the using services (`secrets`).
    _cluster(ctx, store, "docdb")
    for site in ctx.sites.all:
        caches.auth_secret(ctx, store, site)


def _neptune(ctx: AwsContext, store: NoSql) -> None:
    cluster = _cluster(ctx, store, "neptune")
    # The account is the VPC's owner (as alarms.py names it): the invoke that gives the caller's
    # account is a whole value in the Plan, never part of a string.
    sites = [PRIMARY, DR] if ctx.sites.hot_copies else [PRIMARY]
    resources = [f"arn:aws:neptune-db:{ctx.sites.region(site)}:{ref(ctx.networks.network(site).vpc, 'owner_id')}:"
                 f"{ref(site_name(cluster, site), 'cluster_resource_id')}/*" for site in sites]
    _grant(ctx, store, "connect", [{"Sid": "Graph", "Effect": "Allow", "Action": ["neptune-db:*"],
                                    "Resource": resources}])


def keyspace_name(ctx: AwsContext) -> str:
    return f"{ctx.bp.blueprint}_{ctx.stack}".replace("-", "_")


def _keyspaces(ctx: AwsContext, store: NoSql) -> None:
    base = ctx.prefix(store)
    region = ctx.sites.region(PRIMARY)
    key = _key(ctx, store, PRIMARY)
    keyspace_props: dict[str, Any] = {"name": keyspace_name(ctx), "region": region, "tags": ctx.tags()}
    if ctx.sites.hot_copies:
        # Multi-Region keyspace: every table is active in both Regions (asynchronous, last writer wins).
        keyspace_props["replication_specification"] = {
            "replication_strategy": "MULTI_REGION", "region_list": [region, ctx.sites.region(DR)]}
    keyspace = ctx.add("aws:keyspaces/keyspace:Keyspace", f"{base}-keyspace", keyspace_props,
                       protect=store.protect).name
    keys = [store.partition_key] + ([store.sort_key] if store.sort_key else [])
    schema: dict[str, Any] = {
        "columns": [{"name": k.name, "type": CQL_TYPES[k.type]} for k in keys],  # type: ignore[union-attr]
        "partition_keys": [{"name": store.partition_key.name}],  # type: ignore[union-attr]
    }
    if store.sort_key:
        schema["clustering_keys"] = [{"name": store.sort_key.name, "order_by": "ASC"}]
    capacity: dict[str, Any] = {"throughput_mode": "PAY_PER_REQUEST"}
    if store.capacity == "provisioned":
        capacity = {"throughput_mode": "PROVISIONED", "read_capacity_units": store.read_capacity,
                    "write_capacity_units": store.write_capacity}
    table = ctx.add("aws:keyspaces/table:Table", base, {
        "keyspace_name": ref(keyspace, "name"), "table_name": store.table_name, "schema_definition": schema,
        "capacity_specification": capacity,
        "encryption_specification": ({"type": "CUSTOMER_MANAGED_KMS_KEY", "kms_key_identifier": ref(key, "arn")}
                                     if key else {"type": "AWS_OWNED_KMS_KEY"}),
        "point_in_time_recovery": {"status": "ENABLED" if store.backup.point_in_time else "DISABLED"},
        "ttl": {"status": "ENABLED"}, "region": region, "tags": ctx.tags(),
    }, protect=store.protect).name
    _grant(ctx, store, "cql", [{"Sid": "Table", "Effect": "Allow", "Action": ["cassandra:Select", "cassandra:Modify"],
                                "Resource": [ref(table, "arn")]}])


# What a service reads of a store that makes it a client (it must log in).
CLIENT_ATTRS = ("url", "host", "endpoint")


def secrets(ctx: AwsContext, service: Service, site: str) -> list[dict[str, str]]:
    """ECS container `secrets` entries: `<VAR minus _URL/_HOST/_ENDPOINT>_PASSWORD` for each env var naming
    a store that logs in with a password.

    MemoryDB, DocumentDB: the generated password's secret in the region of the
    copy `site` reads (one password per store, the same at every site).
    DynamoDB, Keyspaces and Neptune authenticate with the task role instead.
    """
    entries: dict[str, str] = {}
    at = stores.answering_site(ctx.at(site))
    for read in ctx.access.store_reads(ctx.ref_of(service)):
        store = ctx.bp.component(read.target)
        if read.env is None or not isinstance(store, NoSql) or read.attr not in CLIENT_ATTRS:
            continue
        if store.redis or store.model == "document":
            value = ref(site_name(f"{ctx.prefix(store)}-auth", at), "arn")
        else:
            continue
        base = stores.password_base(read.env, ("_URL", "_HOST", "_ENDPOINT"))
        if f"{base}_PASSWORD" not in service.env:  # the user set it; ECS refuses a name in both
            entries.setdefault(f"{base}_PASSWORD", value)
    return [{"name": name, "valueFrom": value} for name, value in entries.items()]


def attribute(ctx: AwsContext, store: NoSql, attr: str) -> str:
    return stores.attribute(ctx, store, attr, values)


def values(ctx: AwsContext, store: NoSql, site: str) -> dict[str, str]:
    """What `${nosql.x.attr}` reads at `site` (the DR copy's, with a hot DR region)."""
    region = ctx.sites.region(site)
    base = site_name(ctx.prefix(store), site)
    port = str(PORTS[store.model])
    if store.redis:
        host, port = ref(base, "cluster_endpoints[0].address"), str(caches.CACHE_PORT["redis"])
        # rediss: TLS is always on; the password reaches services as an ECS secret (`secrets`).
        return {"url": f"rediss://app@{host}:{port}", "endpoint": f"{host}:{port}", "host": host, "port": port,
                "table": store.table_name, "name": ref(base, "name")}
    if store.model == "key-value":
        base = ctx.prefix(store)  # one global table: the replica keeps the table's name
        host = f"dynamodb.{region}.amazonaws.com"
        return {"url": f"https://{host}", "endpoint": f"https://{host}", "host": host, "port": port,
                "table": ref(base, "name"), "name": ref(base, "name")}
    if store.model == "wide-column":
        host = f"cassandra.{region}.amazonaws.com"
        return {"url": f"cassandra://{host}:{port}/{keyspace_name(ctx)}", "endpoint": f"{host}:{port}",
                "host": host, "port": port, "table": store.table_name, "name": keyspace_name(ctx)}
    host = ref(base, "endpoint")
    if store.model == "document":
        url = f"mongodb://app@{host}:{port}/{store.table_name}?tls=true&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false"
    else:
        url = f"https://{host}:{port}"
    return {"url": url, "endpoint": f"{host}:{port}", "host": host, "port": port, "table": store.table_name,
            "name": ref(base, "cluster_identifier")}


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.99, "Amazon DynamoDB SLA, standard table", "DynamoDB SLA")
# By product (`PRODUCTS`); a cluster's SLA holds only with an instance in a second zone.
AVAILABILITY_VARIANTS = {
    "documentdb": Availability(99.9, "Amazon DocumentDB SLA, Multi-AZ cluster", "DocumentDB SLA"),
    "keyspaces": Availability(99.99, "Amazon Keyspaces SLA, single-Region", "Keyspaces SLA"),
    "neptune": Availability(99.9, "Amazon Neptune SLA, Multi-AZ DB cluster", "Neptune SLA"),
    "documentdb/single-az": Availability(99.5, "Topoform estimate: one DocumentDB instance (no SLA without a "
                                         "second zone)", "estimate"),
    "neptune/single-az": Availability(99.5, "Topoform estimate: one Neptune instance (no SLA without a second "
                                      "zone)", "estimate"),
    "memorydb": Availability(99.99, "Amazon MemoryDB SLA, Multi-AZ configuration", "MemoryDB SLA, Multi-AZ"),
    "memorydb/single-az": Availability(99.5, "Amazon MemoryDB SLA, Single-AZ configuration",
                                       "MemoryDB SLA, Single-AZ"),
}
PRODUCTS = {"key-value": "dynamodb", "document": "documentdb", "wide-column": "keyspaces", "graph": "neptune"}
# The DR region's copy by model: its replica role, and its basis.
DR_COPIES = {"key-value": ("global-table-replica", "the global table replica in the DR region"),
             "wide-column": ("multi-region-replica", "the keyspace's replica in the DR region"),
             "document": ("global-cluster-secondary", "the global cluster's secondary, promoted on failover"),
             "graph": ("global-cluster-secondary", "the global database's secondary, promoted on failover")}


def facts(ctx: Any, store: NoSql, table: Mapping[str, Availability]) -> Facts:
    """DynamoDB and Keyspaces keep three copies across zones themselves (managed: the SLA is the
    copy's figure), a global table or Multi-Region keyspace replica being the hot DR copy;
    DocumentDB and Neptune are a primary instance and `replicas` read replicas across zones
    (failover promotes one), a global cluster's secondary the hot DR copy."""
    hot = topology(ctx.bp).hot_dr
    if store.redis:
        return _memorydb_facts(ctx, store, table, hot and ctx.sites.hot_copies)
    product = PRODUCTS[store.model]
    figure = common.per_copy(store, table, "nosql", product)
    role, dr_basis = DR_COPIES[store.model]
    dr_copy = hot and ctx.sites.hot_copies
    dr_replica = (Replica(role, DR, 1, "async"),) if dr_copy else ()
    if store.model in ("key-value", "wide-column"):
        # AWS keeps three copies across zones; the SLA already counts them.
        basis = "one managed table (three copies across the AZs, kept by AWS)"
        return Facts(copies={PRIMARY: 1, DR: 1}, basis={PRIMARY: basis, DR: dr_basis},
                     availability={PRIMARY: figure, DR: figure}, replication=dr_replica,
                     dr_copy=dr_copy, managed=True, implementation=product)
    # The SLA is the cluster's, and holds only with an instance in a second zone:
    # one cluster counts as one copy, its single-AZ form as an unreplicated instance.
    if not store.replicas:
        figure = common.per_copy(store, table, "nosql", f"{product}/single-az")
    basis = "a primary instance" + (f" + {common.plural(store.replicas, 'replica')} in other AZs "
                                    "(the SLA is the cluster's)" if store.replicas else " alone")
    replication = (Replica("read-replica", PRIMARY, store.replicas, "async"),) if store.replicas else ()
    dr_figure = common.per_copy(store, table, "nosql", f"{product}/single-az")  # one instance there
    return Facts(copies={PRIMARY: 1, DR: 1}, basis={PRIMARY: basis, DR: dr_basis},
                 availability={PRIMARY: figure, DR: dr_figure}, replication=replication + dr_replica,
                 dr_copy=dr_copy,
                 # More instances do not change the cluster's SLA: no copy-count fix to offer.
                 scaling=None, implementation=product)


def _memorydb_facts(ctx: Any, store: NoSql, table: Mapping[str, Availability], dr_copy: bool) -> Facts:
    """A MemoryDB cluster is one copy whose SLA is Multi-AZ's with a replica per shard, Single-AZ's
    without; with hot DR its Multi-Region peer in the DR region is the DR copy (both take writes)."""
    n = store.replicas
    figure = common.per_copy(store, table, "nosql", "memorydb" if n else "memorydb/single-az")
    basis = (f"{common.plural(store.shards, 'shard')}, each a primary"
             + (f" + {common.plural(n, 'replica')} in other AZs (the SLA is the cluster's)" if n else " alone"))
    replication = (Replica("read-replica", PRIMARY, n * store.shards, "async"),) if n else ()
    if dr_copy:
        replication += (Replica("multi-region-replica", DR, 1, "async"),)
    return Facts(copies={PRIMARY: 1, DR: 1},
                 basis={PRIMARY: basis, DR: "the Multi-Region cluster's regional cluster in the DR region"},
                 availability={PRIMARY: figure, DR: figure}, replication=replication, dr_copy=dr_copy,
                 scaling=None, implementation="memorydb")
