"""Rules for the data tier: RDS, ElastiCache, SQS, S3 and AWS Backup."""

from __future__ import annotations

import re

from . import catalog
from .plan_view import document, referrers, target, violation
from .registry import each, rule

RDS = "aws:rds/instance:Instance"
RDS_PARAMS = "aws:rds/parameterGroup:ParameterGroup"
CACHE_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
CACHE_PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
QUEUE = "aws:sqs/queue:Queue"
REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
BUCKET = "aws:s3/bucket:Bucket"


def _sources(plan):
    """Each RDS instance that is not a replica."""
    return [db for db in plan.of_type(RDS) if "replicate_source_db" not in db.properties]


@rule("rds-replica-of-managed-password",
      "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations",
      "Managing the master password in Secrets Manager is not supported for creating a read replica "
      "when the source DB instance manages its credentials with Secrets Manager (all engines but SQL Server).")
def _replica_of_managed_password(plan):
    for db in plan.of_type(RDS):
        source = target(plan, db.properties.get("replicate_source_db"))
        if source is not None and source.properties.get("manage_master_user_password"):
            yield violation(db, "replicate_source_db",
                            f"reads from {source.name}, whose master password Secrets Manager manages: "
                            "RDS refuses to create this replica")


@rule("rds-engine-version-offered",
      "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBEngineVersions.html",
      "CreateDBInstance accepts only an engine version that DescribeDBEngineVersions lists, and RDS "
      "refuses new instances of deprecated versions.",
      source="cfn-lint schema extensions aws_rds_dbinstance/engine_version(_deprecated).json")
def _rds_engine_version(plan):
    for db in _sources(plan):
        engine, version = db.properties["engine"], str(db.properties.get("engine_version", ""))
        offered = catalog.rds_versions().get(engine, frozenset())
        # cfn-lint lists a major (`16`) as deprecated once its first minors are;
        # a version is current while some current minor answers to it.
        current = offered - catalog.rds_deprecated_versions().get(engine, frozenset())
        if not catalog.offered(version, offered):
            yield violation(db, "engine_version", f"RDS offers no {engine} {version}")
        elif not catalog.offered(version, current):
            yield violation(db, "engine_version", f"RDS has deprecated every {engine} {version}: no new instances")


@rule("rds-parameter-group-family", catalog.RDS_FAMILY_DOC,
      "A DB parameter group is created for one family (postgres16, postgres9.6, mysql8.0, mariadb10.11) "
      "and can only be attached to instances of that family's engine version.")
def _rds_family(plan):
    for db in plan.of_type(RDS):
        group = target(plan, db.properties.get("parameter_group_name"))
        if group is None:
            continue
        expected = catalog.rds_family(db.properties["engine"], str(db.properties["engine_version"]))
        if group.properties.get("family") != expected:
            yield violation(group, "family", f"{group.properties.get('family')!r} for {db.name} "
                            f"({db.properties['engine']} {db.properties['engine_version']}): the family is {expected!r}")


_WINDOW = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun):)?(\d\d):(\d\d)-(?:(mon|tue|wed|thu|fri|sat|sun):)?(\d\d):(\d\d)$")
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _week_minutes(text: str) -> list[tuple[int, int]]:
    """A window as [start, end) minute ranges of the week (a daily window, every day)."""
    d1, h1, m1, d2, h2, m2 = _WINDOW.match(text).groups()
    days = [_DAYS.index(d1)] if d1 else range(7)
    length = ((int(h2) * 60 + int(m2)) - (int(h1) * 60 + int(m1))) % (24 * 60)
    if d1 and d2:
        length = ((_DAYS.index(d2) - _DAYS.index(d1)) % 7) * 1440 + (int(h2) * 60 + int(m2)) - (int(h1) * 60 + int(m1))
    return [(day * 1440 + int(h1) * 60 + int(m1), day * 1440 + int(h1) * 60 + int(m1) + length) for day in days]


@rule("rds-backup-window-overlaps-maintenance",
      "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html#USER_WorkingWithAutomatedBackups.BackupWindow",
      "The preferred backup window (hh24:mi-hh24:mi, UTC, at least 30 minutes) must not overlap the "
      "preferred maintenance window (ddd:hh24:mi-ddd:hh24:mi).")
def _backup_maintenance(plan):
    for db in plan.of_type(RDS):
        backup, maintenance = db.properties.get("backup_window"), db.properties.get("maintenance_window")
        if not (backup and maintenance):
            continue
        if not (_WINDOW.match(backup) and _WINDOW.match(maintenance)):
            yield violation(db, "backup_window", f"{backup!r} / {maintenance!r} are not RDS window formats")
            continue
        spans = _week_minutes(backup)
        if any(b0 < m1 and m0 < b1 for b0, b1 in spans for m0, m1 in _week_minutes(maintenance)):
            yield violation(db, "backup_window", f"{backup} overlaps the maintenance window {maintenance}")
        if spans[0][1] - spans[0][0] < 30:
            yield violation(db, "backup_window", f"{backup} is shorter than 30 minutes")


@rule("rds-encrypted-and-protected", "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.html",
      "RDS encrypts an instance's storage, automated backups, replicas and snapshots when storage_encrypted "
      "is set at creation (it cannot be turned on later); README's AWS data-store section promises it, "
      "deletion protection from `protect`, and TLS required by the parameter group.")
def _rds_encrypted(plan):
    for db in plan.of_type(RDS):
        if db.properties.get("storage_encrypted") is not True:
            yield violation(db, "storage_encrypted", "storage is not encrypted")
        if db.protect and db.properties.get("deletion_protection") is not True:
            yield violation(db, "deletion_protection", "protected in Pulumi but not in RDS")
        group = target(plan, db.properties.get("parameter_group_name"))
        names = {p["name"] for p in (group.properties.get("parameters", []) if group else [])}
        if not names & {"rds.force_ssl", "require_secure_transport"}:
            yield violation(db, "parameter_group_name", "no parameter group requiring TLS")


def _caches(plan):
    return plan.of_type(CACHE_GROUP) + plan.of_type(CACHE_CLUSTER)


@rule("elasticache-engine-version-offered",
      "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/engine-versions.html",
      "ElastiCache creates clusters only of the engine versions it lists as supported.",
      source="cfn-lint schema extension aws_elasticache_cachecluster/engine_version.json")
def _cache_version(plan):
    for cache in _caches(plan):
        engine, version = cache.properties["engine"], str(cache.properties.get("engine_version", ""))
        if not catalog.offered(version, catalog.elasticache_versions().get(engine, frozenset())):
            yield violation(cache, "engine_version", f"ElastiCache offers no {engine} {version}")


@rule("elasticache-parameter-group-family", catalog.ELASTICACHE_FAMILY_DOC,
      "Each ElastiCache parameter group belongs to one family (redis4.0, redis5.0, redis6.x, redis7, valkey7, "
      "valkey8, memcached1.6) and applies only to clusters of that engine version.")
def _cache_family(plan):
    for cache in _caches(plan):
        group = target(plan, cache.properties.get("parameter_group_name"))
        expected = catalog.elasticache_family(cache.properties["engine"], str(cache.properties["engine_version"]))
        if group is not None and group.properties.get("family") != expected:
            yield violation(group, "family", f"{group.properties.get('family')!r} for {cache.name} "
                            f"({cache.properties['engine']} {cache.properties['engine_version']}): the family is {expected!r}")


@rule("elasticache-auth-with-tls",
      "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html",
      "With in-transit encryption on, Redis/Valkey clients are authenticated only by an AUTH token "
      "(auth_token) or RBAC user groups (user_group_ids); without either, any client that reaches the port "
      "has full access.")
def _cache_auth(plan):
    yield from each(CACHE_GROUP, "auth_token", lambda plan, c: c.properties.get("transit_encryption_enabled")
                    and not (c.properties.get("auth_token") or c.properties.get("user_group_ids")),
                    "TLS on, but neither an AUTH token nor an RBAC user group")(plan)


@rule("elasticache-encrypted", "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/encryption.html",
      "ElastiCache encrypts data at rest and in transit only when at_rest_encryption_enabled / "
      "transit_encryption_enabled are set; README's AWS caches section promises both (memcached: TLS).")
def _cache_encrypted(plan):
    for cache in _caches(plan):
        wanted = ["transit_encryption_enabled"] + (["at_rest_encryption_enabled"] if cache.type == CACHE_GROUP else [])
        for prop in wanted:
            if cache.properties.get(prop) is not True:
                yield violation(cache, prop, "not enabled")


# SQS attribute limits (SetQueueAttributes): botocore models attributes as a
# string map, so the limits come from the API reference.
_SQS_LIMITS = {
    "visibility_timeout_seconds": (0, 43200),
    "message_retention_seconds": (60, 1209600),
    "receive_wait_time_seconds": (0, 20),
    "delay_seconds": (0, 900),
    "max_message_size": (1024, 1048576),
}


@rule("sqs-queue-attributes", "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html",
      "VisibilityTimeout is 0–43,200 s, MessageRetentionPeriod 60–1,209,600 s, ReceiveMessageWaitTimeSeconds "
      "0–20 s, DelaySeconds 0–900 s; a FIFO queue's name must end in .fifo (and only a FIFO queue's).")
def _sqs_limits(plan):
    for queue in plan.of_type(QUEUE):
        for prop, (low, high) in _SQS_LIMITS.items():
            value = queue.properties.get(prop)
            if value is not None and not low <= value <= high:
                yield violation(queue, prop, f"{value} is outside {low}–{high}")
        name, fifo = queue.properties.get("name", ""), bool(queue.properties.get("fifo_queue"))
        if name and name.endswith(".fifo") != fifo:
            yield violation(queue, "name", f"{name!r} with fifo_queue={fifo}")


def _dead_letter_pairs(plan):
    for queue in plan.of_type(QUEUE):
        policy = document(queue.properties.get("redrive_policy") or {})
        dlq = target(plan, policy.get("deadLetterTargetArn")) if policy else None
        if dlq is not None:
            yield queue, dlq


@rule("sqs-dead-letter-queue-type",
      "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html",
      "The dead-letter queue of a FIFO queue must be a FIFO queue, and that of a standard queue a standard "
      "queue; maxReceiveCount is 1–1,000.", source="the same constraint as cfn-lint's aws_sqs_queue/queue_dlq.json")
def _dlq_type(plan):
    for queue, dlq in _dead_letter_pairs(plan):
        if bool(queue.properties.get("fifo_queue")) != bool(dlq.properties.get("fifo_queue")):
            yield violation(queue, "redrive_policy", f"FIFO {queue.properties.get('fifo_queue', False)} "
                            f"but its dead-letter queue {dlq.name} is not the same type")
        count = document(queue.properties["redrive_policy"]).get("maxReceiveCount")
        if not (isinstance(count, int) and 1 <= count <= 1000):
            yield violation(queue, "redrive_policy", f"maxReceiveCount {count!r} is outside 1–1000")


@rule("sqs-dead-letter-queue-redrive-allow",
      "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html",
      "A dead-letter queue's redrive allow policy (on the queue, or an aws:sqs/redriveAllowPolicy on its URL) "
      "names which source queues may use it (byQueue); without "
      "one any queue in the account may dead-letter into it, and redrive back to the source is unscoped.")
def _dlq_redrive_allow(plan):
    dead_letter_queues = {dlq.name for _, dlq in _dead_letter_pairs(plan)}
    yield from each(QUEUE, "redrive_allow_policy", lambda plan, q: q.name in dead_letter_queues
                    and not _scoped(_redrive_allow_policies(plan, q)),
                    "a dead-letter queue that lets every source queue use it")(plan)


def _redrive_allow_policies(plan, queue) -> list:
    """The redrive allow policies of `queue`: its own property, or an aws:sqs/redriveAllowPolicy
    resource on its URL (the form a DLQ needs when the policy names the source queue, which
    names the DLQ in its redrive policy: on the DLQ itself that would be a reference cycle)."""
    found = [queue.properties["redrive_allow_policy"]] if queue.properties.get("redrive_allow_policy") else []
    found += [r.properties.get("redrive_allow_policy") for r in plan.of_type(REDRIVE_ALLOW)
              if target(plan, r.properties.get("queue_url")) is queue]
    return found


def _scoped(allow_policies) -> bool:
    """Some policy limits the sources (byQueue with queues named, or denyAll)."""
    return any((doc := document(p) or {}).get("redrivePermission") == "denyAll"
               or (doc.get("redrivePermission") == "byQueue" and doc.get("sourceQueueArns"))
               for p in allow_policies)


@rule("sqs-tls-only", "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html",
      "Enforce encryption in transit with a queue policy denying requests whose aws:SecureTransport is false, "
      "and encrypt at rest with SSE; README's AWS queues section promises both.")
def _sqs_tls(plan):
    for queue in plan.of_type(QUEUE):
        policies = referrers(plan, queue, "aws:sqs/queuePolicy:QueuePolicy")
        if not any('"aws:SecureTransport"' in str(document(p.properties.get("policy"))).replace("'", '"')
                   for p in policies):
            yield violation(queue, "policy", "no queue policy denies requests without TLS")
        if not (queue.properties.get("sqs_managed_sse_enabled") or queue.properties.get("kms_master_key_id")):
            yield violation(queue, "sqs_managed_sse_enabled", "not encrypted at rest")


@rule("s3-content-bucket-force-destroy",
      "https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-bucket.html",
      "Deleting a bucket deletes every object and version in it; force_destroy lets Pulumi empty and delete "
      "a bucket that holds content (uploaded objects or replicated copies) without a protection step.")
def _force_destroy(plan):
    holders = {name for token in ("aws:s3/bucketObjectv2:BucketObjectv2",
                                  "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
               for user in plan.of_type(token) for name in user.references() if plan.get(name).type == BUCKET}
    for bucket in plan.of_type(BUCKET):
        if bucket.name in holders and bucket.properties.get("force_destroy"):
            yield violation(bucket, "force_destroy", "holds content, yet destroy empties it without asking")


@rule("s3-private-and-encrypted", "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
      "Block Public Access on a bucket overrides any public ACL or policy; README's AWS edge section promises "
      "private, encrypted, versioned buckets.")
def _bucket_private(plan):
    needs = {"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "public access block",
             "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "encryption",
             "aws:s3/bucketVersioning:BucketVersioning": "versioning"}
    for bucket in plan.of_type(BUCKET):
        for token, what in needs.items():
            if not referrers(plan, bucket, token):
                yield violation(bucket, "bucket", f"no {what}")


_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")


@rule("backup-rule-schedule", "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRule.html",
      "ScheduleExpression is a six-field cron (minute hour day-of-month month day-of-week year, one of the "
      "day fields `?`) run at most hourly; StartWindowMinutes must be at least 60; continuous backups are "
      "kept 1–35 days.")
def _backup_schedule(plan):
    for backup in plan.of_type("aws:backup/plan:Plan"):
        for i, item in enumerate(backup.properties.get("rules", [])):
            match = _CRON.match(item.get("schedule", ""))
            if not match or "?" not in (match.group(3), match.group(5)):
                yield violation(backup, f"rules[{i}].schedule", f"{item.get('schedule')!r} is not an AWS cron expression")
            elif match.group(1) in ("*",) or "/" in match.group(1):
                yield violation(backup, f"rules[{i}].schedule", "runs more often than hourly")
            if item.get("start_window", 60) < 60:
                yield violation(backup, f"rules[{i}].start_window", "below 60 minutes")
            keep = (item.get("lifecycle") or {}).get("delete_after")
            if item.get("enable_continuous_backup") and keep is not None and not 1 <= keep <= 35:
                yield violation(backup, f"rules[{i}].lifecycle", f"continuous backups kept {keep} days (1–35)")
