"""Databases on AWS: RDS instances (replicas, shards) and Aurora DSQL (multi-primary postgres).

RDS, per database: a subnet group over the private subnets, a parameter group
of the engine family that refuses unencrypted connections, and per shard an
instance with encrypted gp3 storage, a master password RDS manages in Secrets
Manager, Multi-AZ if asked, automated backups and a final snapshot, plus its
read replicas (`replicate_source_db` = the primary's identifier). Shards are
independent instances `db-orders-shard-0..N-1`; the key → shard map from
providers/sharding.py is exported, identical to the docker target's.

Multi-primary postgres: two peered Aurora DSQL clusters, both writable, in
two regions of one DSQL region set, with the set's third region as witness.
AWS has no managed multi-primary MySQL/MariaDB (validation says so first).
"""

from __future__ import annotations

import math
from typing import Any

from topoform.dsl.models import Database
from topoform.providers.plan import ref
from topoform.providers.sharding import shard_map

from .store_catalog import (
    ENGINE_PORT,
    GIB,
    LOG_EXPORTS,
    MASTER_USERNAME,
    RDS_INSTANCE_CLASS,
    TLS_PARAMETER,
    dsql_region_set,
    physical_id,
    rds_family,
    retention_days,
    snapshot_name,
)

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
DSQL_CLUSTER = "aws:dsql/cluster:Cluster"
DSQL_PEERING = "aws:dsql/clusterPeering:ClusterPeering"

RDS_MAX_STORAGE_GIB = 65536
BACKUP_WINDOW = "03:00-04:00"  # UTC; must not overlap the maintenance window
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"


class DatabaseMixin:
    """compile_databases and the names the rest of the target reads."""

    # ---------------------------------------------------------------- names (pure)

    def is_dsql(self, db: Database) -> bool:
        return db.replication.mode == "multi-primary"

    def db_primaries(self, db: Database) -> list[str]:
        """Resource names of the writable instances: one, or one per shard (`db-orders-shard-0`)."""
        base = self.prefix(db)
        if db.shard_count > 1:
            return [f"{base}-shard-{i}" for i in range(db.shard_count)]
        return [base]

    @staticmethod
    def db_replicas(primary: str, count: int) -> list[str]:
        return [f"{primary}-replica-{i}" for i in range(1, count + 1)]

    def dsql_peer(self, db: Database) -> str:
        return f"{self.prefix(db)}-peer"

    # ---------------------------------------------------------------- RDS

    def compile_databases(self, db: Database) -> None:
        if db.public:
            raise self.unsupported(
                f"{db.ref}: a public database is not built on aws", "remove `public: true`: services reach "
                "it inside the VPC; use a bastion or SSM port forwarding for administration",
                "databases", db.name, "public")
        if self.is_dsql(db):
            self._compile_dsql(db)
            self.export_store(db, ("url", "host", "port", "name", "reader_url"))
            return
        gib = math.ceil(db.storage / GIB)
        if gib > RDS_MAX_STORAGE_GIB:
            raise self.unsupported(f"{db.ref}: RDS stores at most 64TiB, but {gib}GiB was asked",
                                   "shard the database (`sharding.shards`)", "databases", db.name, "storage")
        days, clamped = retention_days(db.backup.retention)
        if clamped:
            self.warn(f"{db.ref}: RDS keeps automated backups 1 to 35 days; using {days}",
                      "a disaster_recovery section adds AWS Backup, which keeps copies longer",
                      "databases", db.name, "backup", "retention")
        subnets, params = self.db_network_groups(db, "primary")
        group = self.admit_users(db, ENGINE_PORT[db.engine], "primary")
        for primary in self.db_primaries(db):
            self.add(RDS_INSTANCE, primary, {
                **self.rds_common(db, primary, group, params, "primary"),
                "db_subnet_group_name": ref(subnets, "name"),
                "allocated_storage": gib,
                "storage_type": "gp3",
                "storage_encrypted": db.encrypted,
                "db_name": db.database_name,
                "username": MASTER_USERNAME,
                # RDS generates the password and keeps it in Secrets Manager: it is
                # never in the Plan, the program's inputs or the state.
                "manage_master_user_password": True,
                "multi_az": db.multi_az,
                "backup_retention_period": days,
                "backup_window": BACKUP_WINDOW,
                "maintenance_window": MAINTENANCE_WINDOW,
                "copy_tags_to_snapshot": True,
                "delete_automated_backups": False,  # they outlive the instance: a restore stays possible
                "skip_final_snapshot": False,
                "final_snapshot_identifier": snapshot_name(self.bp.blueprint, self.stack, primary, "final"),
                "enabled_cloudwatch_logs_exports": list(LOG_EXPORTS[db.engine]),
            }, protect=db.protect)
            for replica in self.db_replicas(primary, db.replica_count):
                self.add(RDS_INSTANCE, replica, {
                    **self.rds_common(db, replica, group, params, "primary"),
                    # Same region: the source's identifier; the replica inherits its
                    # subnet group, storage, encryption key and master user.
                    "replicate_source_db": ref(primary, "identifier"),
                    "storage_encrypted": db.encrypted,
                    "skip_final_snapshot": True,  # RDS cannot snapshot a read replica on delete
                }, protect=db.protect)
        attrs = ("url", "host", "port", "name") + (("reader_url",) if db.replica_count else ())
        if db.shard_count > 1:
            attrs += ("shard_urls",)
            self._export_shards(db)
        self.export_store(db, attrs)

    def db_network_groups(self, db: Database, site: str) -> tuple[str, str]:
        """The subnet group and parameter group of `db` on `site` (both are regional)."""
        base = self.prefix(db)
        subnets = self.add(RDS_SUBNET_GROUP, self.site_copy(f"{base}-subnets", site), {
            "description": f"{db.ref}: private subnets ({site} site)",
            "subnet_ids": [ref(s, "id") for s in self.network(site).private_subnets],
            "region": self.site_region(site),
            "tags": self.tags(),
        })
        name, value = TLS_PARAMETER[db.engine]
        params = self.add(RDS_PARAMETER_GROUP, self.site_copy(f"{base}-params", site), {
            "description": f"{db.ref}: TLS required",
            "family": rds_family(db.engine, db.version or ""),
            "parameters": [{"name": name, "value": value}],
            "region": self.site_region(site),
            "tags": self.tags(),
        })
        return subnets.name, params.name

    def rds_common(self, db: Database, name: str, group: str, params: str, site: str) -> dict[str, Any]:
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
            "region": self.site_region(site),
            "tags": self.tags(),
        }
        identifier = physical_id(name, 63, self.bp.blueprint, self.stack)
        if identifier:
            props["identifier"] = identifier
        return props

    def _export_shards(self, db: Database) -> None:
        """The key → shard map (identical on docker) and shard → URL, as stack outputs."""
        assert db.sharding is not None
        shards = self.db_primaries(db)
        ring = shard_map(db.sharding.strategy, shards, db.sharding.virtual_nodes, db.sharding.boundaries)
        self.plan.outputs[f"{db.ref}.shard_map"] = ring
        self.plan.outputs[f"{db.ref}.shards"] = {s: self.rds_url(db, s) for s in shards}
        self.plan.components[db.ref].outputs["shard_map"] = ring

    # ---------------------------------------------------------------- multi-primary (Aurora DSQL)

    def dsql_regions(self, db: Database) -> tuple[str, str, str]:
        """(primary, peer, witness) regions of a multi-Region DSQL cluster pair."""
        primary = self.bp.aws.region
        regions = dsql_region_set(primary)
        path = ("databases", db.name, "replication", "mode")
        if regions is None:
            raise self.unsupported(
                f"{db.ref}: Aurora DSQL multi-Region clusters are not offered in {primary}",
                "set `aws.region` to one of us-east-1, us-east-2, us-west-2, eu-west-1, eu-west-2, eu-west-3, "
                "ap-northeast-1, ap-northeast-2, ap-northeast-3, or use `mode: primary-replica`", *path)
        dr = self.bp.disaster_recovery
        others = [r for r in regions if r != primary]
        peer = dr.region if dr is not None and dr.region else others[0]
        if peer not in others:
            raise self.unsupported(
                f"{db.ref}: Aurora DSQL peers {primary} only with {' or '.join(others)}, "
                f"but the DR region is {peer}",
                f"set `disaster_recovery.region` to {others[0]}, or use `mode: primary-replica`", *path)
        witness = next(r for r in others if r != peer)
        return primary, peer, witness

    def _compile_dsql(self, db: Database) -> None:
        """Two peered DSQL clusters, both writable, with a witness region for quorum."""
        if db.replication.replicas != 1:
            raise self.unsupported(
                f"{db.ref}: Aurora DSQL peers exactly two regional clusters, but {db.replication.replicas} "
                "extra primaries were asked", "set `replication.replicas: 1`",
                "databases", db.name, "replication", "replicas")
        if db.sharding is not None and db.sharding.shards:
            raise self.unsupported(f"{db.ref}: a multi-primary database cannot be sharded", None,
                                   "databases", db.name, "sharding")
        primary_region, peer_region, witness = self.dsql_regions(db)
        base, peer = self.prefix(db), self.dsql_peer(db)
        # DSQL always encrypts at rest (an AWS-owned key unless one is given).
        common = {"deletion_protection_enabled": db.protect, "multi_region_properties": {"witness_region": witness}}
        self.add(DSQL_CLUSTER, base, {**common, "region": primary_region, "tags": self.tags()}, protect=db.protect)
        self.add(DSQL_CLUSTER, peer, {**common, "region": peer_region, "tags": self.tags()}, protect=db.protect)
        self.add(DSQL_PEERING, f"{base}-peering", {
            "identifier": ref(base, "identifier"), "clusters": [ref(peer, "arn")], "witness_region": witness,
            "region": primary_region})
        self.add(DSQL_PEERING, f"{peer}-peering", {
            "identifier": ref(peer, "identifier"), "clusters": [ref(base, "arn")], "witness_region": witness,
            "region": peer_region})
        # DSQL is reached over its public endpoint with IAM tokens, not through the
        # VPC: access is the IAM grant, so only referencing services get one.
        for service in self.store_access.users(db.ref):
            self.grant_task_role(f"{base}-connect-{self.prefix(self.bp.component(service))}", service, [{
                "Effect": "Allow", "Action": ["dsql:DbConnectAdmin"],
                "Resource": [ref(base, "arn"), ref(peer, "arn")]}])
