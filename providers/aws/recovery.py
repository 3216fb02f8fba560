"""AWS disaster recovery: AWS Backup, cold and hot DR sites (the target's `disaster_recovery` pass).

What each `disaster_recovery.strategy` builds, cheapest first:

- every strategy: an AWS Backup vault, a backup plan per database (schedule
  from `backup.interval`, retention from `backup.retention`, continuous backup
  for point-in-time recovery) with a selection naming its instances, and the
  IAM role AWS Backup assumes; with a DR `region`, every recovery point is
  also copied to a vault there.
- cold: in the DR region, a KMS key and the RDS automated-backups replication
  of every instance (point-in-time restore there), S3 replication of push-CDN
  buckets; no network and no compute there.
- hot: everything of cold's but the backup replication, plus a cross-region
  read replica of every RDS instance, a copy of every cache and queue, all
  in the DR region (`build_at(ctx, …, DR)` of kinds/caches.py and queues.py).
  The DR site needs nothing of the primary region to start: its tasks read
  the DR copies of the password secrets (kinds/databases.py) and the DR
  stores. Its databases serve reads until someone promotes them; the
  stack output `disaster_recovery.promote` is that runbook, one
  `aws rds promote-read-replica` per instance (`promotion_runbook`), and the
  achievable RTO counts it (store_catalog.RDS_PROMOTION, in the facts).
  The stateless tier is already there: services, balancers and web ACLs
  are built at every site of `ctx.sites.all`, and dns.py points failover at
  the DR copies. Aurora DSQL databases are already active in both regions.

Resources that are DR-region copies of a component (`dr-db-users`,
`dr-cache-sessions`, named by sites.py's `site_name`) belong to that
component; the shared machinery (vaults, plans, role, key) belongs to
`disaster_recovery`. This pass runs after every component is built, so it
reads the Plan for what to replicate (the push-CDN buckets of kinds/cdns.py).
"""

from __future__ import annotations

from typing import Any

from topoform.dsl.models import Database, DisasterRecovery
from topoform.dsl.recovery import achievable
from topoform.dsl.units import format_span
from topoform.providers.plan import ref

from . import stores
from .context import AwsContext
from .iam import ATTACHMENT, ROLE, ROLE_POLICY, assume, policy_document
from .kinds import caches, databases, queues
from .kinds.databases import RDS_INSTANCE
from .sites import DR, PRIMARY, site_name
from .store_catalog import ENGINE_PORT, RDS_PROMOTION, RDS_PROMOTION_BASIS, backup_schedule, retention_days

BACKUP_VAULT = "aws:backup/vault:Vault"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_SELECTION = "aws:backup/selection:Selection"
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


def build(ctx: AwsContext, dr: DisasterRecovery) -> None:
    rds = [db for db in ctx.bp.databases.values() if not databases.is_dsql(db)]
    dr_region = dr.region
    if dr.strategy != "backup" and dr_region is None:
        raise ctx.unsupported(f"a {dr.strategy} DR site on aws needs `region`", "e.g. `region: us-west-2`",
                              "disaster_recovery")
    needs_key = any(db.encrypted for db in rds) and dr.strategy in ("cold", "hot")
    if needs_key:
        # Encrypted RDS data copied to another region is re-encrypted with a key there.
        ctx.add(KMS_KEY, DR_KEY, {
            "description": f"{ctx.bp.blueprint}/{ctx.stack}: DR copies of encrypted databases",
            "enable_key_rotation": True,
            "deletion_window_in_days": 30,
            "region": dr_region,
            "tags": ctx.tags(),
        }, protect=any(db.protect for db in rds))
    _backups(ctx, dr)
    if dr.strategy in ("cold", "hot"):
        for db in rds:  # the password must be readable there with the primary region gone
            with ctx.owning(db.ref):
                databases.dr_password_copy(ctx, db)
    if dr.strategy == "cold":
        for db in rds:
            _replicate_automated_backups(ctx, db, dr_region)
    if dr.strategy == "hot":
        _hot_site(ctx, rds)
        if rds:
            promotion_runbook(ctx, rds, dr)
    if dr.strategy in ("cold", "hot"):
        _replicate_push_buckets(ctx, dr_region)
    ctx.plan.outputs["disaster_recovery.strategy"] = dr.strategy
    if dr_region:
        ctx.plan.outputs["disaster_recovery.region"] = dr_region


# ---------------------------------------------------------------- AWS Backup


def _backups(ctx: AwsContext, dr: DisasterRecovery) -> None:
    databases = list(ctx.bp.databases.values())
    if not databases:
        ctx.warn("disaster_recovery: there is no database to back up",
                 "AWS Backup plans are made per database", "disaster_recovery", "strategy")
        return
    protect = any(db.protect for db in databases)
    ctx.add(ROLE, BACKUP_ROLE, {
        "description": f"{ctx.bp.blueprint}/{ctx.stack}: AWS Backup service role",
        "assume_role_policy": assume("backup.amazonaws.com"),
        "tags": ctx.tags(),
    })
    for i, arn in enumerate(BACKUP_POLICIES):
        ctx.add(ATTACHMENT, f"{BACKUP_ROLE}-{('backup', 'restore')[i]}",
                {"role": ref(BACKUP_ROLE, "name"), "policy_arn": arn})
    ctx.add(BACKUP_VAULT, VAULT, {"region": ctx.sites.region(PRIMARY), "tags": ctx.tags()},
            protect=protect)
    if dr.region:
        ctx.add(BACKUP_VAULT, DR_VAULT, {"region": dr.region, "tags": ctx.tags()}, protect=protect)
    for db in databases:
        _backup_plan(ctx, db, dr)


def _backup_plan(ctx: AwsContext, db: Database, dr: DisasterRecovery) -> None:
    path = ("databases", db.name, "backup")
    schedule, every = backup_schedule(db.backup.interval)
    if every > db.backup.interval and not db.backup.point_in_time:
        ctx.warn(f"{db.ref}: AWS Backup will run every {format_span(every)}, not every "
                 f"{format_span(db.backup.interval)}",
                 "AWS Backup runs at most hourly and on steps that divide a day; set "
                 "`point_in_time: true` for a 5-minute recovery point", *path, "interval")
    days = max(1, -(-int(db.backup.retention) // 86400))
    continuous = db.backup.point_in_time and days <= CONTINUOUS_MAX_DAYS
    if db.backup.point_in_time and not continuous:
        ctx.warn(f"{db.ref}: point-in-time backups are kept at most 35 days; older recovery "
                 f"points are the {format_span(every)} snapshots", None, *path, "retention")
    rule: dict[str, Any] = {
        "rule_name": ctx.prefix(db),
        "target_vault_name": ref(VAULT, "name"),
        "schedule": schedule,
        "start_window": BACKUP_START_WINDOW,
        "completion_window": BACKUP_COMPLETION_WINDOW,
        "enable_continuous_backup": continuous,
        "lifecycle": {"delete_after": days},
        "recovery_point_tags": ctx.tags(db.ref),
    }
    if dr.region:
        rule["copy_actions"] = [{"destination_vault_arn": ref(DR_VAULT, "arn"),
                                 "lifecycle": {"delete_after": days}}]
    plan = f"backup-plan-{ctx.prefix(db)}"
    ctx.add(BACKUP_PLAN, plan, {"rules": [rule], "region": ctx.sites.region(PRIMARY), "tags": ctx.tags()})
    # A selection assigns resources to every rule of its plan, hence a plan per database.
    members = [ctx.prefix(db)] if databases.is_dsql(db) else databases.primaries(ctx, db)
    ctx.add(BACKUP_SELECTION, f"{plan}-selection", {
        "name": ctx.prefix(db)[:50],
        "plan_id": ref(plan, "id"),
        "iam_role_arn": ref(BACKUP_ROLE, "arn"),
        "resources": [ref(m, "arn") for m in members],
        "region": ctx.sites.region(PRIMARY),
    })


# ---------------------------------------------------------------- cold


def _replicate_automated_backups(ctx: AwsContext, db: Database, region: str) -> None:
    """RDS copies snapshots and transaction logs to `region`: point-in-time restore there."""
    days, _ = retention_days(db.backup.retention)
    for primary in databases.primaries(ctx, db):
        props: dict[str, Any] = {
            "source_db_instance_arn": ref(primary, "arn"),
            "retention_period": days,
            "region": region,  # the resource lives in the destination region
        }
        if db.encrypted:
            props["kms_key_id"] = ref(DR_KEY, "arn")
        ctx.add(BACKUP_REPLICATION, site_name(f"{primary}-backups", DR), props)


# ---------------------------------------------------------------- hot


def _hot_site(ctx: AwsContext, rds: list[Database]) -> None:
    for db in rds:
        with ctx.owning(db.ref):
            _cross_region_replicas(ctx, db)
    for cache in ctx.bp.caches.values():
        with ctx.owning(cache.ref):
            caches.build_at(ctx, cache, DR)
    for queue in ctx.bp.queues.values():
        with ctx.owning(queue.ref):
            queues.build_at(ctx, queue, DR)


def _cross_region_replicas(ctx: AwsContext, db: Database) -> None:
    """A read replica of every instance (each shard's primary) in the DR region, promotable on failover."""
    subnets, params = databases.network_groups(ctx, db, DR)
    group = stores.admit_users(ctx, db, ENGINE_PORT[db.engine], DR)
    for primary in databases.primaries(ctx, db):
        name = site_name(primary, DR)
        props: dict[str, Any] = {
            **databases.rds_common(ctx, db, name, group, params, DR),
            "replicate_source_db": ref(primary, "arn"),  # another region: the ARN, not the identifier
            "db_subnet_group_name": ref(subnets, "name"),
            "storage_encrypted": db.encrypted,
            "multi_az": db.multi_az,
            "skip_final_snapshot": True,
        }
        if db.encrypted:
            props["kms_key_id"] = ref(DR_KEY, "arn")
        ctx.add(RDS_INSTANCE, name, props, protect=db.protect)
    ctx.plan.outputs[f"{db.ref}.dr_url"] = databases.attribute(ctx.at(DR), db, "url")


def promotion_runbook(ctx: AwsContext, rds: list[Database], dr: DisasterRecovery) -> None:
    """The commands that make the DR site take writes, as a stack output; the RTO they cost, as a warning."""
    region = dr.region
    instances = [site_name(primary, DR) for db in rds for primary in databases.primaries(ctx, db)]
    ctx.plan.outputs["disaster_recovery.promote"] = [
        *(f"aws rds promote-read-replica --region {region} --db-instance-identifier {ref(i, 'identifier')}"
          for i in instances),
        *(f"aws rds wait db-instance-available --region {region} --db-instance-identifier {ref(i, 'identifier')}"
          for i in instances),
    ]
    ctx.warn(
        f"disaster_recovery: the DR site's databases ({', '.join(instances)}) are read replicas: with the "
        "primary region gone the DR site serves reads, and writes fail until they are promoted",
        "run the commands of output disaster_recovery.promote (the DR tasks already connect to these "
        "instances, so no redeploy is needed); promotion cannot be undone: afterwards the stack no longer "
        "matches what runs, so fail back by rebuilding the primary from the promoted instances before the "
        "next `topoform up`", "disaster_recovery", "strategy")
    if dr.rto is not None:
        generic = achievable(ctx.bp, "hot")
        if generic.rto + RDS_PROMOTION > dr.rto:
            ctx.warn(
                f"disaster_recovery: declared RTO {format_span(dr.rto)} cannot be met on aws: failover takes "
                f"{format_span(generic.rto + RDS_PROMOTION)} ({generic.rto_basis} + {RDS_PROMOTION_BASIS})",
                "relax `rto`, or use `replication: {mode: multi-primary}` (Aurora DSQL, writable in both "
                "regions) for the databases that must take writes at once", "disaster_recovery", "rto")


# ---------------------------------------------------------------- S3 replication


def _replicate_push_buckets(ctx: AwsContext, region: str) -> None:
    """Replicate every push-CDN bucket (built by kinds/cdns.py) to a private bucket in `region`."""
    push = {cdn.ref for cdn in ctx.bp.cdns.values() if cdn.mode == "push"}
    if not push:
        return
    buckets: list[tuple[str, str]] = []
    versioning: dict[str, Any] = {}  # bucket reference → its BucketVersioning resource
    for resource in ctx.plan.resources:  # one pass: compiles stay linear in the blueprint's size
        if resource.type == S3_BUCKET and resource.component in push:
            buckets.append((resource.component, resource.name))
        elif resource.type == S3_VERSIONING:
            versioning[resource.properties.get("bucket")] = resource
    for component, bucket in buckets:
        with ctx.owning(component):
            _replicate_bucket(ctx, bucket, region, versioning)


def _replicate_bucket(ctx: AwsContext, source: str, region: str, versioning: dict[str, Any]) -> None:
    target = site_name(source, DR)
    # The copy holds uploaded content, which README promises is protected: Pulumi `protect`, and
    # no force_destroy (S3 refuses to delete a bucket that still holds objects).
    ctx.add(S3_BUCKET, target, {"region": region, "force_destroy": False, "tags": ctx.tags()}, protect=True)
    ctx.add(S3_PUBLIC_ACCESS, f"{target}-public-access", {
        "bucket": ref(target, "id"), "block_public_acls": True, "block_public_policy": True,
        "ignore_public_acls": True, "restrict_public_buckets": True, "region": region})
    ctx.add(S3_ENCRYPTION, f"{target}-encryption", {
        "bucket": ref(target, "id"), "region": region,
        "rules": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]})
    target_versioning = ctx.add(S3_VERSIONING, f"{target}-versioning", {
        "bucket": ref(target, "id"), "region": region,
        "versioning_configuration": {"status": "Enabled"}})
    source_versioning = _versioning_of(ctx, source, versioning)
    role = f"{source}-replication-role"
    ctx.add(ROLE, role, {
        "description": f"S3 replication of {source} to {region}",
        "assume_role_policy": assume("s3.amazonaws.com"),
        "tags": ctx.tags(),
    })
    ctx.add(ROLE_POLICY, f"{source}-replication-policy", {
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
    ctx.add(S3_REPLICATION, f"{source}-replication", {
        "bucket": ref(source, "id"),
        "region": ctx.sites.region(PRIMARY),
        "role": ref(role, "arn"),
        "rules": [{
            "id": "disaster-recovery",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "delete_marker_replication": {"status": "Enabled"},
            "destination": {"bucket": ref(target, "arn"), "storage_class": "STANDARD"},
        }],
    }, depends_on=[source_versioning, target_versioning.name])


def _versioning_of(ctx: AwsContext, bucket: str, versioning: dict[str, Any]) -> str:
    """The source bucket's versioning resource: edge.py's if it made one, else ours."""
    wanted = ref(bucket, "id")
    found = versioning.get(wanted) or versioning.get(ref(bucket, "bucket"))
    if found is not None:
        if (found.properties.get("versioning_configuration") or {}).get("status") != "Enabled":
            raise ctx.unsupported(
                f"{bucket} is not versioned, and S3 replicates only versioned buckets (a provider bug)",
                None, "disaster_recovery")
        return found.name
    name = f"{bucket}-versioning"
    ctx.add(S3_VERSIONING, name, {"bucket": wanted, "versioning_configuration": {"status": "Enabled"},
                                  "region": ctx.sites.region(PRIMARY)})
    return name
