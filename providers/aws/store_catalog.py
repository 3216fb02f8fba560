"""AWS catalogue facts the data-store kinds decide with: classes, families, ports, regions.

A leaf module, kept apart from the resource code (kinds/databases.py,
caches.py, queues.py, recovery.py) so the choices are visible in one table
each and can be changed (or overridden by a later blueprint field) without
touching resource code. Every figure is documented where AWS publishes it; none needs
the network.
"""

from __future__ import annotations

import hashlib
import math
import re

GIB = 1024**3

# Blueprint `size` → RDS instance class (Graviton, current generation).
# small: burstable, 2 vCPU / 2 GiB — dev and light production;
# medium: general purpose, 2 vCPU / 8 GiB; large: memory optimised, 4 vCPU / 32 GiB.
RDS_INSTANCE_CLASS = {"small": "db.t4g.small", "medium": "db.m6g.large", "large": "db.r6g.xlarge"}

ENGINE_PORT = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}
URL_SCHEME = {"postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}
MASTER_USERNAME = "app"  # the managed secret holds its password; never written anywhere else

# Parameters that make each engine refuse unencrypted connections (TLS in transit).
TLS_PARAMETER = {
    "postgres": ("rds.force_ssl", "1"),
    "mysql": ("require_secure_transport", "ON"),
    "mariadb": ("require_secure_transport", "ON"),
}
# Log types each engine can export to CloudWatch Logs.
LOG_EXPORTS = {
    "postgres": ["postgresql", "upgrade"],
    "mysql": ["error", "slowquery"],
    "mariadb": ["error", "slowquery"],
}


# Engine versions RDS offers for new instances, by the key a blueprint's
# `version` is read at (PostgreSQL 10+ by major, 9.x and MySQL/MariaDB by
# major.minor), each with its DB parameter group family (`aws rds
# describe-db-engine-versions --query 'DBEngineVersions[].DBParameterGroupFamily'`).
# Sources: "Supported PostgreSQL / MySQL / MariaDB major versions" calendars of
# the RDS User Guide. PostgreSQL 11-12 and MySQL 5.7 are on RDS Extended Support
# (new instances allowed, at extra cost); PostgreSQL 9.6 and 10 and MariaDB
# before 10.5 reached end of life and RDS creates no new instances of them.
RDS_ENGINE_VERSIONS: dict[str, dict[str, str]] = {
    "postgres": {str(major): f"postgres{major}" for major in range(11, 19)},
    "mysql": {v: f"mysql{v}" for v in ("5.7", "8.0", "8.4")},
    "mariadb": {v: f"mariadb{v}" for v in ("10.5", "10.6", "10.11", "11.4", "11.8")},
}

# The same for ElastiCache (CacheParameterGroupFamily; "Supported engines and
# versions" of the ElastiCache User Guide): Redis OSS 6 and 7 share a family
# per major (redis6.x, redis7), Redis OSS 4 and 5 have one per major.minor,
# Valkey one per major, Memcached one per major.minor.
CACHE_ENGINE_VERSIONS: dict[str, dict[str, str]] = {
    "redis": {"4.0": "redis4.0", "5.0": "redis5.0", "6.0": "redis6.x", "6.2": "redis6.x",
              "7.0": "redis7", "7.1": "redis7"},
    "valkey": {"7.2": "valkey7", "8.0": "valkey8", "8.1": "valkey8", "8.2": "valkey8", "9.0": "valkey9"},
    "memcached": {"1.4": "memcached1.4", "1.5": "memcached1.5", "1.6": "memcached1.6"},
}


class VersionNotOffered(ValueError):
    """A version the AWS service does not create; the message lists the ones it does."""

    def __init__(self, service: str, engine: str, version: str, offered: list[str]):
        self.offered = offered
        super().__init__(f"{service} offers no {engine} {version} for new instances; "
                         f"it offers {', '.join(offered)}")


def _version_key(engine: str, version: str) -> str:
    parts = version.split(".")
    if engine == "postgres" and parts[0].isdigit() and int(parts[0]) >= 10:
        return parts[0]
    return ".".join(parts[:2])


def _family(table: dict[str, dict[str, str]], service: str, engine: str, version: str) -> str:
    versions = table[engine]
    found = versions.get(_version_key(engine, version))
    if found is None:
        raise VersionNotOffered(service, engine, version, list(versions))
    return found


def rds_family(engine: str, version: str) -> str:
    """The DB parameter group family of an offered version (postgres16, mysql8.0, mariadb10.11).

    Raises `VersionNotOffered` for a version RDS does not create.
    """
    return _family(RDS_ENGINE_VERSIONS, "RDS", engine, version)


# ElastiCache node types by memory in GiB (AWS "Supported node types" table),
# smallest first. A cache gets the smallest node with at least its `memory`.
CACHE_NODE_TYPES: list[tuple[str, float]] = [
    ("cache.t4g.micro", 0.5),
    ("cache.t4g.small", 1.37),
    ("cache.t4g.medium", 3.09),
    ("cache.m7g.large", 6.38),
    ("cache.r7g.large", 13.07),
    ("cache.r7g.xlarge", 26.32),
    ("cache.r7g.2xlarge", 52.82),
    ("cache.r7g.4xlarge", 105.81),
    ("cache.r7g.8xlarge", 209.55),
    ("cache.r7g.12xlarge", 317.77),
    ("cache.r7g.16xlarge", 419.09),
]

CACHE_DEFAULT_VERSION = {"redis": "7.1", "valkey": "8.0", "memcached": "1.6.22"}
CACHE_PORT = {"redis": 6379, "valkey": 6379, "memcached": 11211}


def cache_node_type(memory_bytes: int) -> str | None:
    """The smallest node type holding `memory_bytes`, or None if none is that large."""
    gib = memory_bytes / GIB
    for node_type, capacity in CACHE_NODE_TYPES:
        if capacity >= gib:
            return node_type
    return None


def cache_family(engine: str, version: str) -> str:
    """ElastiCache parameter group family: redis7, redis6.x, redis5.0, valkey8, memcached1.6.

    Raises `VersionNotOffered` for a version ElastiCache does not create.
    """
    return _family(CACHE_ENGINE_VERSIONS, "ElastiCache", engine, version)


# Aurora DSQL multi-Region clusters: two peered regional clusters and a witness
# Region, all three from one region set (AWS DSQL user guide, "Multi-Region
# clusters"). Order within a set: the default peer comes first after the primary.
DSQL_REGION_SETS: list[tuple[str, ...]] = [
    ("us-east-1", "us-east-2", "us-west-2"),
    ("eu-west-1", "eu-west-2", "eu-west-3"),
    ("ap-northeast-1", "ap-northeast-3", "ap-northeast-2"),
]


def dsql_region_set(region: str) -> tuple[str, ...] | None:
    for regions in DSQL_REGION_SETS:
        if region in regions:
            return regions
    return None


# A hot DR site's databases are cross-region read replicas: they take writes
# once promoted (`aws rds promote-read-replica`, the runbook output
# `disaster_recovery.promote`). RDS User Guide, "Promoting a read replica to
# be a standalone DB instance": the replica reboots and promotion takes a few
# minutes; 5 minutes, counted from when someone starts it.
RDS_PROMOTION = 300.0
RDS_PROMOTION_BASIS = "promoting the DR read replicas by hand (output disaster_recovery.promote): about 5m"


# ---------------------------------------------------------------- durations → AWS units


def retention_days(seconds: float, low: int = 1, high: int = 35) -> tuple[int, bool]:
    """Whole days (rounded up) clamped to [low, high]; and whether clamping changed it."""
    days = max(1, math.ceil(seconds / 86400))
    clamped = min(max(days, low), high)
    return clamped, clamped != days


HOURLY_STEPS = (1, 2, 3, 4, 6, 8, 12)  # divisors of 24: backups evenly spaced through the day


def backup_schedule(interval: float) -> tuple[str, float]:
    """An AWS Backup cron expression for `interval` seconds, and the interval it really gives.

    AWS Backup runs at most hourly; shorter intervals round up to 1h (point-in-time
    recovery covers the gap). Between 1h and 1d the step is the largest divisor of
    24 not above the interval, so backups never drift; daily and longer run at 05:00 UTC.
    """
    hours = interval / 3600
    if hours < 24:
        step = max([s for s in HOURLY_STEPS if s <= hours] or [1])
        return ("cron(0 * * * ? *)" if step == 1 else f"cron(0 */{step} * * ? *)"), step * 3600.0
    days = interval / 86400
    if days < 7:
        step = max(1, int(days))
        return ("cron(0 5 * * ? *)" if step == 1 else f"cron(0 5 */{step} * ? *)"), step * 86400.0
    if days < 28:
        return "cron(0 5 ? * SUN *)", 7 * 86400.0
    return "cron(0 5 1 * ? *)", 30 * 86400.0


# ---------------------------------------------------------------- physical names

_UNSAFE = re.compile(r"[^a-z0-9-]+")


def physical_id(resource_name: str, limit: int, *scope: str) -> str | None:
    """An explicit physical id when Pulumi's autoname (name + 8 chars) would exceed `limit`.

    None means "let Pulumi autoname" (it adds a random suffix, so stacks never
    collide). Past the limit the id is cut and ends with a hash of the scope
    (blueprint, stack) and full name, so it stays unique and stable.
    """
    if len(resource_name) + 8 <= limit:
        return None
    digest = hashlib.sha1("/".join((*scope, resource_name)).encode()).hexdigest()[:8]
    head = resource_name[: limit - 9].rstrip("-")
    return f"{head}-{digest}"


def snapshot_name(*parts: str) -> str:
    """A final-snapshot identifier: letters, digits, single hyphens, starting with a letter."""
    text = _UNSAFE.sub("-", "-".join(parts).lower())
    text = re.sub(r"-{2,}", "-", text).strip("-")
    if not text[:1].isalpha():
        text = "s-" + text
    return text[:255].rstrip("-")
