"""Databases on AWS: RDS instances (replicas, shards) and Aurora DSQL (multi-primary postgres).

RDS, per database: a subnet group over the private subnets, a parameter group
of the engine family that refuses unencrypted connections, and per shard an
instance with encrypted gp3 storage, a master password Topoform generates
(`passwords()`), Multi-AZ if asked, automated backups and a final snapshot,
plus its read replicas (`replicate_source_db` = the primary's identifier). Shards are
independent instances `db-orders-shard-0..N-1`; the key → shard map from
providers/sharding.py is exported, identical to the docker target's.

Multi-primary postgres: two peered Aurora DSQL clusters, both writable, in
two regions of one DSQL region set, with the set's third region as witness.
AWS has no managed multi-primary MySQL/MariaDB (validation says so first).

Names are a pure function of the blueprint (`db-users`, `db-users-replica-1`,
`db-orders-shard-0`, and `dr-db-users` for the DR site's copy, which
recovery.py builds), so `attribute()` answers before the database is built:
services are built first and read its URLs.

Passwords. RDS cannot create a read replica of an instance whose master
password it manages in Secrets Manager (`manage_master_user_password`; RDS
User Guide, "Password management with Secrets Manager", limitations), so
Topoform owns the password: a `random` RandomPassword per writable instance
is its `password` and the whole string of a Secrets Manager secret in the
instance's region, plus a copy in the DR region with a cold or hot DR site
(`dr_password_copy`), so DR tasks read a secret there and start with the
primary region gone. The password is a reference in the Plan, never text; it
is in the Pulumi state, encrypted as a secret. Services receive it through
ECS `secrets` (`secrets()`) and log in as the master user: an application
login needs SQL (CREATE ROLE) that no provider resource runs inside the VPC,
so that step is the user's, and `plan` says so. Rotation is off: ECS reads
secrets only when a task starts, so a rotated password would lock out the
running tasks until a redeploy (`PASSWORD_NOTE`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from topoform.dsl.models import Database, Service
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts, Replica, ref
from topoform.providers.sharding import shard_map

from .. import stores
from ..context import AwsContext
from ..sites import DR, PRIMARY, site_name
from ..store_catalog import (
    ENGINE_PORT,
    GIB,
    LOG_EXPORTS,
    MASTER_USERNAME,
    RDS_INSTANCE_CLASS,
    RDS_PROMOTION,
    RDS_PROMOTION_BASIS,
    TLS_PARAMETER,
    URL_SCHEME,
    VersionNotOffered,
    dsql_region_set,
    physical_id,
    rds_family,
    retention_days,
    snapshot_name,
)

RDS_INSTANCE = "aws:rds/instance:Instance"
PASSWORD = "random:index/randomPassword:RandomPassword"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD_LENGTH = 32  # letters and digits: no character RDS refuses ('/', '"', '@', ' '); MySQL allows 41
SECRET_RECOVERY_DAYS = 7
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
DSQL_CLUSTER = "aws:dsql/cluster:Cluster"
DSQL_PEERING = "aws:dsql/clusterPeering:ClusterPeering"

RDS_MAX_STORAGE_GIB = 65536
# Both windows are set on every instance (read replicas and DR copies too,
# where RDS would otherwise pick random ones), in UTC, apart from each other
# (RDS refuses overlapping windows) and ending well before the daily AWS
# Backup job (05:00 UTC, store_catalog.backup_schedule), which a backup or
# maintenance window in progress would delay.
BACKUP_WINDOW = "01:00-02:00"
MAINTENANCE_WINDOW = "sun:02:30-sun:03:30"
DSQL_DATABASE = "postgres"  # DSQL has one database; applications use schemas inside it
DSQL_USER = "admin"  # authenticated with an IAM token (dsql:DbConnectAdmin), never a password
DSQL_PORT = 5432
PASSWORD_SOURCES = ("url", "reader_url", "host", "shard_urls")
LOGIN_HINT = (
    "no provider resource can run SQL inside the VPC, so Topoform cannot create an application login; for "
    "least privilege, create one (postgres: CREATE ROLE web LOGIN PASSWORD '…'; GRANT … ; mysql/mariadb: "
    "CREATE USER 'web'@'%' IDENTIFIED BY '…' REQUIRE SSL; GRANT …), store its password in a secret and "
    "point the service's env at it")
PASSWORD_NOTE = (
    "Topoform generates it and keeps it in Secrets Manager (output `<database>.password_secrets`); ECS reads "
    "secrets only when a task starts, so rotating it would lock out running tasks. To change it: set the new "
    "password on the instance and in the secret, then restart the tasks that read it: "
    "`aws ecs update-service --cluster CLUSTER --service SERVICE --force-new-deployment`")


def is_dsql(db: Database) -> bool:
    return db.replication.mode == "multi-primary"


def primaries(ctx: AwsContext, db: Database) -> list[str]:
    """Resource names of the writable instances: one, or one per shard (`db-orders-shard-0`)."""
    base = ctx.prefix(db)
    if db.shard_count > 1:
        return [f"{base}-shard-{i}" for i in range(db.shard_count)]
    return [base]


def password_secret(primary: str, site: str = PRIMARY) -> str:
    """The Secrets Manager secret holding `primary`'s master password at `site`."""
    return site_name(f"{primary}-password-secret", site)


def _password_secret(ctx: AwsContext, db: Database, primary: str, site: str) -> None:
    name = password_secret(primary, site)
    region = ctx.sites.region(site)
    ctx.add(SECRET, name, {
        "description": f"master password of {primary} ({db.ref}, {site} site); not rotated, see `topoform plan`",
        "recovery_window_in_days": SECRET_RECOVERY_DAYS, "region": region, "tags": ctx.tags(),
    })
    ctx.add(SECRET_VERSION, f"{name}-value", {
        "secret_id": ref(name, "id"), "secret_string": {"$secret": ref(f"{primary}-password", "result")},
        "region": region,
    })


def dr_password_copy(ctx: AwsContext, db: Database) -> None:
    """Each primary's password in a secret of the DR region: DR tasks and restores read it there."""
    for primary in primaries(ctx, db):
        _password_secret(ctx, db, primary, DR)


def replicas(primary: str, count: int) -> list[str]:
    return [f"{primary}-replica-{i}" for i in range(1, count + 1)]


def dsql_peer(ctx: AwsContext, db: Database) -> str:
    return f"{ctx.prefix(db)}-peer"


# ---------------------------------------------------------------- RDS


def build(ctx: AwsContext, db: Database) -> None:
    if db.public:
        raise ctx.unsupported(
            f"{db.ref}: a public database is not built on aws", "remove `public: true`: services reach "
            "it inside the VPC; use a bastion or SSM port forwarding for administration",
            "databases", db.name, "public")
    if is_dsql(db):
        _build_dsql(ctx, db)
        _export(ctx, db, ("url", "host", "port", "name", "reader_url"))
        return
    try:
        rds_family(db.engine, db.version or "")
    except VersionNotOffered as exc:
        raise ctx.unsupported(f"{db.ref}: {exc}", f"set `version` to one of {', '.join(exc.offered)}",
                              "databases", db.name, "version") from None
    gib = math.ceil(db.storage / GIB)
    if gib > RDS_MAX_STORAGE_GIB:
        raise ctx.unsupported(f"{db.ref}: RDS stores at most 64TiB, but {gib}GiB was asked",
                              "shard the database (`sharding.shards`)", "databases", db.name, "storage")
    days, clamped = retention_days(db.backup.retention)
    if clamped:
        ctx.warn(f"{db.ref}: RDS keeps automated backups 1 to 35 days; using {days}",
                 "a disaster_recovery section adds AWS Backup, which keeps copies longer",
                 "databases", db.name, "backup", "retention")
    subnets, params = network_groups(ctx, db, PRIMARY)
    group = stores.admit_users(ctx, db, ENGINE_PORT[db.engine], PRIMARY)
    for primary in primaries(ctx, db):
        password = ctx.add(PASSWORD, f"{primary}-password", {"length": PASSWORD_LENGTH, "special": False})
        _password_secret(ctx, db, primary, PRIMARY)
        ctx.add(RDS_INSTANCE, primary, {
            **rds_common(ctx, db, primary, group, params, PRIMARY),
            "db_subnet_group_name": ref(subnets, "name"),
            "allocated_storage": gib,
            "storage_type": "gp3",
            "storage_encrypted": db.encrypted,
            "db_name": db.database_name,
            "username": MASTER_USERNAME,
            "password": ref(password, "result"),  # see the module docstring: replicas need it ours
            "multi_az": db.multi_az,
            "backup_retention_period": days,
            "copy_tags_to_snapshot": True,
            "delete_automated_backups": False,  # they outlive the instance: a restore stays possible
            "skip_final_snapshot": False,
            "final_snapshot_identifier": snapshot_name(ctx.bp.blueprint, ctx.stack, primary, "final"),
            "enabled_cloudwatch_logs_exports": list(LOG_EXPORTS[db.engine]),
        }, protect=db.protect, secret_outputs=["password"])
        for replica in replicas(primary, db.replica_count):
            ctx.add(RDS_INSTANCE, replica, {
                **rds_common(ctx, db, replica, group, params, PRIMARY),
                # Same region: the source's identifier; the replica inherits its
                # subnet group, storage, encryption key and master user.
                "replicate_source_db": ref(primary, "identifier"),
                "storage_encrypted": db.encrypted,
                "skip_final_snapshot": True,  # RDS cannot snapshot a read replica on delete
            }, protect=db.protect)
    if ctx.access.users(db.ref):
        ctx.warn(f"{db.ref}: services log in as the RDS master user `{MASTER_USERNAME}`", LOGIN_HINT,
                 "databases", db.name)
    ctx.warn(f"{db.ref}: the master password is not rotated", PASSWORD_NOTE, "databases", db.name)
    attrs = ("url", "host", "port", "name") + (("reader_url",) if db.replica_count else ())
    if db.shard_count > 1:
        attrs += ("shard_urls",)
        _export_shards(ctx, db)
    _export(ctx, db, attrs)


def network_groups(ctx: AwsContext, db: Database, site: str) -> tuple[str, str]:
    """The subnet group and parameter group of `db` on `site` (both are regional)."""
    base = ctx.prefix(db)
    subnets = ctx.add(RDS_SUBNET_GROUP, site_name(f"{base}-subnets", site), {
        "description": f"{db.ref}: private subnets ({site} site)",
        "subnet_ids": [ref(s, "id") for s in ctx.networks.network(site).private_subnets],
        "region": ctx.sites.region(site),
        "tags": ctx.tags(),
    })
    name, value = TLS_PARAMETER[db.engine]
    params = ctx.add(RDS_PARAMETER_GROUP, site_name(f"{base}-params", site), {
        "description": f"{db.ref}: TLS required",
        "family": rds_family(db.engine, db.version or ""),
        "parameters": [{"name": name, "value": value}],
        "region": ctx.sites.region(site),
        "tags": ctx.tags(),
    })
    return subnets.name, params.name


def rds_common(ctx: AwsContext, db: Database, name: str, group: str, params: str, site: str) -> dict[str, Any]:
    """What every instance of `db` shares, primary or replica, on either site."""
    props: dict[str, Any] = {
        "engine": db.engine,
        "engine_version": db.version,
        "instance_class": RDS_INSTANCE_CLASS[db.size],
        "parameter_group_name": ref(params, "name"),
        "vpc_security_group_ids": [ref(group, "id")],
        "publicly_accessible": False,
        "auto_minor_version_upgrade": True,
        "deletion_protection": db.protect,
        "backup_window": BACKUP_WINDOW,
        "maintenance_window": MAINTENANCE_WINDOW,
        "region": ctx.sites.region(site),
        "tags": ctx.tags(),
    }
    identifier = physical_id(name, 63, ctx.bp.blueprint, ctx.stack)
    if identifier:
        props["identifier"] = identifier
    return props


def _export_shards(ctx: AwsContext, db: Database) -> None:
    """The key → shard map (identical on docker) and shard → URL, as stack outputs."""
    assert db.sharding is not None
    shards = primaries(ctx, db)
    ring = shard_map(db.sharding.strategy, shards, db.sharding.virtual_nodes, db.sharding.boundaries)
    ctx.plan.outputs[f"{db.ref}.shard_map"] = ring
    ctx.plan.outputs[f"{db.ref}.shards"] = {s: rds_url(db, s) for s in shards}
    ctx.plan.components[db.ref].outputs["shard_map"] = ring


# ---------------------------------------------------------------- multi-primary (Aurora DSQL)


def dsql_regions(ctx: AwsContext, db: Database) -> tuple[str, str, str]:
    """(primary, peer, witness) regions of a multi-Region DSQL cluster pair."""
    primary = ctx.bp.aws.region
    regions = dsql_region_set(primary)
    path = ("databases", db.name, "replication", "mode")
    if regions is None:
        raise ctx.unsupported(
            f"{db.ref}: Aurora DSQL multi-Region clusters are not offered in {primary}",
            "set `aws.region` to one of us-east-1, us-east-2, us-west-2, eu-west-1, eu-west-2, eu-west-3, "
            "ap-northeast-1, ap-northeast-2, ap-northeast-3, or use `mode: primary-replica`", *path)
    dr = ctx.bp.disaster_recovery
    others = [r for r in regions if r != primary]
    peer = dr.region if dr is not None and dr.region else others[0]
    if peer not in others:
        raise ctx.unsupported(
            f"{db.ref}: Aurora DSQL peers {primary} only with {' or '.join(others)}, "
            f"but the DR region is {peer}",
            f"set `disaster_recovery.region` to {others[0]}, or use `mode: primary-replica`", *path)
    witness = next(r for r in others if r != peer)
    return primary, peer, witness


def _build_dsql(ctx: AwsContext, db: Database) -> None:
    """Two peered DSQL clusters, both writable, with a witness region for quorum."""
    if db.replication.replicas != 1:
        raise ctx.unsupported(
            f"{db.ref}: Aurora DSQL peers exactly two regional clusters, but {db.replication.replicas} "
            "extra primaries were asked", "set `replication.replicas: 1`",
            "databases", db.name, "replication", "replicas")
    if db.sharding is not None and db.sharding.shards:
        raise ctx.unsupported(f"{db.ref}: a multi-primary database cannot be sharded", None,
                              "databases", db.name, "sharding")
    primary_region, peer_region, witness = dsql_regions(ctx, db)
    base, peer = ctx.prefix(db), dsql_peer(ctx, db)
    # DSQL always encrypts at rest (an AWS-owned key unless one is given).
    common = {"deletion_protection_enabled": db.protect, "multi_region_properties": {"witness_region": witness}}
    ctx.add(DSQL_CLUSTER, base, {**common, "region": primary_region, "tags": ctx.tags()}, protect=db.protect)
    ctx.add(DSQL_CLUSTER, peer, {**common, "region": peer_region, "tags": ctx.tags()}, protect=db.protect)
    ctx.add(DSQL_PEERING, f"{base}-peering", {
        "identifier": ref(base, "identifier"), "clusters": [ref(peer, "arn")], "witness_region": witness,
        "region": primary_region})
    ctx.add(DSQL_PEERING, f"{peer}-peering", {
        "identifier": ref(peer, "identifier"), "clusters": [ref(base, "arn")], "witness_region": witness,
        "region": peer_region})
    # DSQL is reached over its public endpoint with IAM tokens, not through the
    # VPC: access is the IAM grant, so only referencing services get one. The
    # grant is the admin role's: a custom role (dsql:DbConnect) exists only
    # after SQL run as admin creates it and maps it to the task role, which no
    # provider resource does, so the first deploy could not connect otherwise.
    users = ctx.access.users(db.ref)
    if users:
        ctx.warn(f"{db.ref}: services connect to Aurora DSQL as its `admin` role (dsql:DbConnectAdmin)",
                 "for least privilege, connect once as admin and run `CREATE ROLE app WITH LOGIN; AWS IAM GRANT "
                 "app TO '<task role ARN>';` plus the GRANTs the application needs, then connect as `app` "
                 "(its task role needs only dsql:DbConnect); Topoform cannot run that SQL",
                 "databases", db.name, "replication", "mode")
    for service in users:
        ctx.iam.grant_task_role(f"{base}-connect-{ctx.prefix(ctx.bp.component(service))}", service, [{
            "Effect": "Allow", "Action": ["dsql:DbConnectAdmin"],
            "Resource": [ref(base, "arn"), ref(peer, "arn")]}], db.ref)


def attribute(ctx: AwsContext, db: Database, attr: str) -> str:
    """`${databases.x.url}` and friends at the asking site (the DR copy with a hot DR site)."""
    return stores.attribute(ctx, db, attr, values)


def _export(ctx: AwsContext, db: Database, attrs: tuple[str, ...]) -> None:
    """The attributes it offers as outputs, and every replica's URL for clients that spread reads."""
    ctx.export(db, attrs)
    if not is_dsql(db):
        ctx.plan.outputs[f"{db.ref}.password_secrets"] = {
            p: ref(password_secret(p), "arn") for p in primaries(ctx, db)}
    if not is_dsql(db) and db.replica_count:
        ctx.plan.outputs[f"{db.ref}.replica_urls"] = [
            rds_url(db, r) for p in primaries(ctx, db) for r in replicas(p, db.replica_count)]


def rds_url(db: Database, instance: str) -> str:
    tls = "?sslmode=require" if db.engine == "postgres" else ""
    return (f"{URL_SCHEME[db.engine]}://{MASTER_USERNAME}@{ref(instance, 'address')}:{ENGINE_PORT[db.engine]}"
            f"/{db.database_name}{tls}")


def dsql_host(cluster: str, region: str) -> str:
    return f"{ref(cluster, 'identifier')}.dsql.{region}.on.aws"


def values(ctx: AwsContext, db: Database, site: str) -> dict[str, str]:
    if is_dsql(db):
        _, peer_region = dsql_regions(ctx, db)[:2]
        local = (ctx.prefix(db), ctx.bp.aws.region)
        remote = (dsql_peer(ctx, db), peer_region)
        if site == DR:
            local, remote = remote, local
        url = "postgres://{user}@{host}:{port}/{db}?sslmode=require"
        return {
            "url": url.format(user=DSQL_USER, host=dsql_host(*local), port=DSQL_PORT, db=DSQL_DATABASE),
            # Both clusters take reads and writes: the other region's endpoint reads too.
            "reader_url": url.format(user=DSQL_USER, host=dsql_host(*remote), port=DSQL_PORT,
                                     db=DSQL_DATABASE),
            "host": dsql_host(*local),
            "port": str(DSQL_PORT),
            "name": DSQL_DATABASE,
        }
    instances = [site_name(p, site) for p in primaries(ctx, db)]
    first = instances[0]
    # On the DR site the local cross-region replica answers (read-only until promoted).
    readers = replicas(first, db.replica_count) if site == PRIMARY else []
    return {
        "url": rds_url(db, first),
        "host": ref(first, "address"),
        "port": str(ENGINE_PORT[db.engine]),
        "name": db.database_name,
        # RDS instances have no shared reader endpoint: readers get replica 1
        # (every replica's URL is a stack output for clients that spread reads).
        "reader_url": rds_url(db, readers[0] if readers else first),
        "shard_urls": ",".join(rds_url(db, p) for p in instances),
    }


def secrets(ctx: AwsContext, service: Service) -> list[dict[str, str]]:
    """ECS container `secrets` entries: the password for each env var naming a database.

    `DATABASE_URL: ${databases.users.url}` gives `DATABASE_PASSWORD`, which ECS
    reads when the task starts from the instance's password secret in the
    asking site's region (`ctx.site`: the DR copy for a DR task); the password
    never appears in the task definition or the Plan. `shard_urls` gives one
    `…_PASSWORD_<i>` per shard. A replica shares its primary's password.
    """
    site = stores.answering_site(ctx)
    entries: dict[str, str] = {}
    for read in ctx.access.store_reads(ctx.ref_of(service)):
        db = ctx.bp.component(read.target)
        if read.env is None or not isinstance(db, Database) or is_dsql(db):
            continue
        if read.attr not in PASSWORD_SOURCES:
            continue
        base = stores.password_base(read.env, ("_URLS", "_URL", "_HOST"))
        writers = primaries(ctx, db)
        if read.attr == "shard_urls" and len(writers) > 1:
            names = [(f"{base}_PASSWORD_{i}", p) for i, p in enumerate(writers)]
        else:
            names = [(f"{base}_PASSWORD", writers[0])]
        for secret_name, instance in names:
            if secret_name in service.env:
                continue  # the user set it; ECS refuses a name in both env and secrets
            entries.setdefault(secret_name, ref(password_secret(instance, site), "arn"))
    return [{"name": name, "valueFrom": value} for name, value in entries.items()]


def secret_arns(entries: list[dict[str, str]]) -> list[str]:
    """Secret ARNs of `secrets()` entries, which the ECS execution role must read."""
    return sorted({entry["valueFrom"] for entry in entries})


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.5, "Amazon RDS SLA, Single-AZ instance", "RDS SLA, Single-AZ")
AVAILABILITY_VARIANTS = {
    "multi-primary": Availability(99.99, "Amazon Aurora DSQL SLA, single-Region cluster", "Aurora DSQL SLA"),
}


def facts(ctx: Any, db: Database, table: Mapping[str, Availability]) -> Facts:
    hot = topology(ctx.bp).hot_dr
    replication = common.database_replicas(db, hot)
    variant = ""
    if db.replication.mode == "multi-primary":
        n = 1 + db.replication.replicas
        copies, basis, variant, implementation = n, f"{n} primaries", "multi-primary", "aurora-dsql"
        replication = (Replica("primary", PRIMARY, db.replication.replicas, "sync"),) + replication
        scaling = None
    else:
        copies, parts = 1, ["a primary"]
        if db.multi_az:
            copies += 1
            parts.append("a Multi-AZ standby")
            replication = (Replica("standby", PRIMARY, 1, "sync"),) + replication
        if db.replica_count:
            copies += db.replica_count
            parts.append(common.plural(db.replica_count, "read replica"))
        basis = (" + ".join(parts) if copies > 1 else "a primary alone") + common.per_shard(db)
        implementation = "rds"
        scaling = "multi_az" if not db.multi_az else "read_replicas" if db.replica_count < 15 else None
    return Facts(copies={PRIMARY: copies, DR: 1}, basis={PRIMARY: basis, DR: common.DR_DATABASE_BASIS},
                 availability={PRIMARY: common.per_copy(db, table, "databases", variant),
                               DR: common.per_copy(db, table, "databases")},
                 standby=db.multi_az, standby_possible=True, replication=replication, dr_copy=hot,
                 scaling=scaling, implementation=implementation,
                 # DSQL's peer already takes writes; an RDS replica only once promoted.
                 promotion=RDS_PROMOTION if hot and implementation == "rds" else 0.0,
                 promotion_basis=RDS_PROMOTION_BASIS if hot and implementation == "rds" else "")
