"""AWS disaster recovery: AWS Backup, cold and hot DR sites (see compiler.py for the contract).

What each `disaster_recovery.strategy` builds, cheapest first:

- every strategy: an AWS Backup vault, a backup plan per database (schedule
  from `backup.interval`, retention from `backup.retention`, continuous backup
  for point-in-time recovery) with a selection naming its instances, and the
  IAM role AWS Backup assumes; with a DR `region`, every recovery point is
  also copied to a vault there.
- cold: in the DR region, a KMS key and the RDS automated-backups replication
  of every instance (point-in-time restore there), S3 replication of push-CDN
  buckets; no compute (compiler.py builds only the DR network).
- hot: everything of cold's but the backup replication, plus a cross-region
  read replica of every RDS instance, a copy of every cache and queue, all
  in the DR region; compiler.py duplicates the stateless tier and points
  DNS failover at it. Aurora DSQL databases are already active in both regions.

Resources that are DR-region copies of a component (`dr-db-users`,
`dr-cache-sessions`, named like compiler.py's DR site) belong to that
component; the shared machinery (vaults, plans, role, key) belongs to
`disaster_recovery`.
"""

from __future__ import annotations

from typing import Any

from topoform.dsl.models import Database, DisasterRecovery
from topoform.dsl.units import format_span
from topoform.providers.plan import ref

from .databases import RDS_INSTANCE
from .queues import policy_document
from .store_catalog import ENGINE_PORT, backup_schedule, retention_days

BACKUP_VAULT = "aws:backup/vault:Vault"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_SELECTION = "aws:backup/selection:Selection"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KMS_KEY = "aws:kms/key:Key"
BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
S3_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"

# The shared DR machinery (component `disaster_recovery`); `dr-` names live in the DR region.
BACKUP_ROLE = "backup-role"
VAULT = "backup-vault"
DR_VAULT = "dr-backup-vault"
DR_KEY = "dr-kms-key"
BACKUP_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
)
CONTINUOUS_MAX_DAYS = 35  # AWS Backup keeps continuous (point-in-time) backups at most 35 days
BACKUP_START_WINDOW = 60  # minutes a job may wait to start
BACKUP_COMPLETION_WINDOW = 360  # minutes a job may run


def _assume(service: str) -> dict[str, Any]:
    return policy_document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


class RecoveryMixin:
    """compile_disaster_recovery: backups everywhere, then the cold or hot DR site."""

    def compile_disaster_recovery(self, dr: DisasterRecovery) -> None:
        rds = [db for db in self.bp.databases.values() if not self.is_dsql(db)]
        dr_region = dr.region
        if dr.strategy != "backup" and dr_region is None:
            raise self.unsupported(f"a {dr.strategy} DR site on aws needs `region`", "e.g. `region: us-west-2`",
                                   "disaster_recovery")
        needs_key = any(db.encrypted for db in rds) and dr.strategy in ("cold", "hot")
        if needs_key:
            # Encrypted RDS data copied to another region is re-encrypted with a key there.
            self.add(KMS_KEY, DR_KEY, {
                "description": f"{self.bp.blueprint}/{self.stack}: DR copies of encrypted databases",
                "enable_key_rotation": True,
                "deletion_window_in_days": 30,
                "region": dr_region,
                "tags": self.tags(),
            }, protect=any(db.protect for db in rds))
        self._backups(dr)
        if dr.strategy == "cold":
            for db in rds:
                self._replicate_automated_backups(db, dr_region)
        if dr.strategy == "hot":
            self._hot_site(rds)
        if dr.strategy in ("cold", "hot"):
            self._replicate_push_buckets(dr_region)
        self.plan.outputs["disaster_recovery.strategy"] = dr.strategy
        if dr_region:
            self.plan.outputs["disaster_recovery.region"] = dr_region

    # ---------------------------------------------------------------- AWS Backup

    def _backups(self, dr: DisasterRecovery) -> None:
        databases = list(self.bp.databases.values())
        if not databases:
            self.warn("disaster_recovery: there is no database to back up",
                      "AWS Backup plans are made per database", "disaster_recovery", "strategy")
            return
        protect = any(db.protect for db in databases)
        self.add(IAM_ROLE, BACKUP_ROLE, {
            "description": f"{self.bp.blueprint}/{self.stack}: AWS Backup service role",
            "assume_role_policy": _assume("backup.amazonaws.com"),
            "tags": self.tags(),
        })
        for i, arn in enumerate(BACKUP_POLICIES):
            self.add(IAM_ATTACHMENT, f"{BACKUP_ROLE}-{('backup', 'restore')[i]}",
                     {"role": ref(BACKUP_ROLE, "name"), "policy_arn": arn})
        self.add(BACKUP_VAULT, VAULT, {"region": self.site_region("primary"), "tags": self.tags()},
                 protect=protect)
        if dr.region:
            self.add(BACKUP_VAULT, DR_VAULT, {"region": dr.region, "tags": self.tags()}, protect=protect)
        for db in databases:
            self._backup_plan(db, dr)

    def _backup_plan(self, db: Database, dr: DisasterRecovery) -> None:
        path = ("databases", db.name, "backup")
        schedule, every = backup_schedule(db.backup.interval)
        if every > db.backup.interval and not db.backup.point_in_time:
            self.warn(f"{db.ref}: AWS Backup will run every {format_span(every)}, not every "
                      f"{format_span(db.backup.interval)}",
                      "AWS Backup runs at most hourly and on steps that divide a day; set "
                      "`point_in_time: true` for a 5-minute recovery point", *path, "interval")
        days = max(1, -(-int(db.backup.retention) // 86400))
        continuous = db.backup.point_in_time and days <= CONTINUOUS_MAX_DAYS
        if db.backup.point_in_time and not continuous:
            self.warn(f"{db.ref}: point-in-time backups are kept at most 35 days; older recovery "
                      f"points are the {format_span(every)} snapshots", None, *path, "retention")
        rule: dict[str, Any] = {
            "rule_name": self.prefix(db),
            "target_vault_name": ref(VAULT, "name"),
            "schedule": schedule,
            "start_window": BACKUP_START_WINDOW,
            "completion_window": BACKUP_COMPLETION_WINDOW,
            "enable_continuous_backup": continuous,
            "lifecycle": {"delete_after": days},
            "recovery_point_tags": self.tags(db.ref),
        }
        if dr.region:
            rule["copy_actions"] = [{"destination_vault_arn": ref(DR_VAULT, "arn"),
                                     "lifecycle": {"delete_after": days}}]
        plan = f"backup-plan-{self.prefix(db)}"
        self.add(BACKUP_PLAN, plan, {"rules": [rule], "region": self.site_region("primary"), "tags": self.tags()})
        # A selection assigns resources to every rule of its plan, hence a plan per database.
        members = [self.prefix(db)] if self.is_dsql(db) else self.db_primaries(db)
        self.add(BACKUP_SELECTION, f"{plan}-selection", {
            "name": self.prefix(db)[:50],
            "plan_id": ref(plan, "id"),
            "iam_role_arn": ref(BACKUP_ROLE, "arn"),
            "resources": [ref(m, "arn") for m in members],
            "region": self.site_region("primary"),
        })

    # ---------------------------------------------------------------- cold

    def _replicate_automated_backups(self, db: Database, region: str) -> None:
        """RDS copies snapshots and transaction logs to `region`: point-in-time restore there."""
        days, _ = retention_days(db.backup.retention)
        for primary in self.db_primaries(db):
            props: dict[str, Any] = {
                "source_db_instance_arn": ref(primary, "arn"),
                "retention_period": days,
                "region": region,  # the resource lives in the destination region
            }
            if db.encrypted:
                props["kms_key_id"] = ref(DR_KEY, "arn")
            self.add(BACKUP_REPLICATION, self.site_copy(f"{primary}-backups", "dr"), props)

    # ---------------------------------------------------------------- hot

    def _hot_site(self, rds: list[Database]) -> None:
        for db in rds:
            with self.owning(db.ref):
                self._cross_region_replicas(db)
        for cache in self.bp.caches.values():
            with self.owning(cache.ref):
                self.cache_site(cache, "dr")
        for queue in self.bp.queues.values():
            with self.owning(queue.ref):
                self.queue_site(queue, "dr")

    def _cross_region_replicas(self, db: Database) -> None:
        """A read replica of every instance (each shard's primary) in the DR region, promotable on failover."""
        subnets, params = self.db_network_groups(db, "dr")
        group = self.admit_users(db, ENGINE_PORT[db.engine], "dr")
        for primary in self.db_primaries(db):
            name = self.site_copy(primary, "dr")
            props: dict[str, Any] = {
                **self.rds_common(db, name, group, params, "dr"),
                "replicate_source_db": ref(primary, "arn"),  # another region: the ARN, not the identifier
                "db_subnet_group_name": ref(subnets, "name"),
                "storage_encrypted": db.encrypted,
                "multi_az": db.multi_az,
                "skip_final_snapshot": True,
            }
            if db.encrypted:
                props["kms_key_id"] = ref(DR_KEY, "arn")
            self.add(RDS_INSTANCE, name, props, protect=db.protect)
        self.plan.outputs[f"{db.ref}.dr_url"] = self.data_attribute(db, "url", site="dr")

    # ---------------------------------------------------------------- S3 replication

    def _replicate_push_buckets(self, region: str) -> None:
        """Replicate every push-CDN bucket (built by compiler.py) to a private bucket in `region`."""
        push = {cdn.ref for cdn in self.bp.cdns.values() if cdn.mode == "push"}
        if not push:
            return
        buckets: list[tuple[str, str]] = []
        versioning: dict[str, Any] = {}  # bucket reference → its BucketVersioning resource
        for resource in self.plan.resources:  # one pass: compiles stay linear in the blueprint's size
            if resource.type == S3_BUCKET and resource.component in push:
                buckets.append((resource.component, resource.name))
            elif resource.type == S3_VERSIONING:
                versioning[resource.properties.get("bucket")] = resource
        for component, bucket in buckets:
            with self.owning(component):
                self._replicate_bucket(bucket, region, versioning)

    def _replicate_bucket(self, source: str, region: str, versioning: dict[str, Any]) -> None:
        target = self.site_copy(source, "dr")
        self.add(S3_BUCKET, target, {"region": region, "force_destroy": True, "tags": self.tags()})
        self.add(S3_PUBLIC_ACCESS, f"{target}-public-access", {
            "bucket": ref(target, "id"), "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True, "region": region})
        self.add(S3_ENCRYPTION, f"{target}-encryption", {
            "bucket": ref(target, "id"), "region": region,
            "rules": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]})
        target_versioning = self.add(S3_VERSIONING, f"{target}-versioning", {
            "bucket": ref(target, "id"), "region": region,
            "versioning_configuration": {"status": "Enabled"}})
        source_versioning = self._versioning_of(source, versioning)
        role = f"{source}-replication-role"
        self.add(IAM_ROLE, role, {
            "description": f"S3 replication of {source} to {region}",
            "assume_role_policy": _assume("s3.amazonaws.com"),
            "tags": self.tags(),
        })
        self.add(IAM_ROLE_POLICY, f"{source}-replication-policy", {
            "role": ref(role, "name"),
            "policy": policy_document([
                {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                 "Resource": [ref(source, "arn")]},
                {"Effect": "Allow",
                 "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging"],
                 "Resource": [f"{ref(source, 'arn')}/*"]},
                {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                 "Resource": [f"{ref(target, 'arn')}/*"]},
            ]),
        })
        # S3 refuses a replication rule until both buckets are versioned.
        self.add(S3_REPLICATION, f"{source}-replication", {
            "bucket": ref(source, "id"),
            "region": self.site_region("primary"),
            "role": ref(role, "arn"),
            "rules": [{
                "id": "disaster-recovery",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "delete_marker_replication": {"status": "Enabled"},
                "destination": {"bucket": ref(target, "arn"), "storage_class": "STANDARD"},
            }],
        }, depends_on=[source_versioning, target_versioning.name])

    def _versioning_of(self, bucket: str, versioning: dict[str, Any]) -> str:
        """The source bucket's versioning resource: compiler.py's if it made one, else ours."""
        wanted = ref(bucket, "id")
        found = versioning.get(wanted) or versioning.get(ref(bucket, "bucket"))
        if found is not None:
            if (found.properties.get("versioning_configuration") or {}).get("status") != "Enabled":
                raise self.unsupported(
                    f"{bucket} is not versioned, and S3 replicates only versioned buckets (a compiler bug)",
                    None, "disaster_recovery")
            return found.name
        name = f"{bucket}-versioning"
        self.add(S3_VERSIONING, name, {"bucket": wanted, "versioning_configuration": {"status": "Enabled"},
                                       "region": self.site_region("primary")})
        return name
