"""What the aws target builds for each component, for `report`, `lint` and `graph`.

The per-copy figures are AWS's published monthly-uptime SLAs for the
single-instance form of each service (multi-copy forms are computed by the
parallel formula). Balancers (ALB/NLB) and CloudFront (CDNs, and reverse
proxies, which are CloudFront with WAF rules) are managed: AWS keeps them
redundant across zones, so there is nothing to size. A database is an RDS
instance (Multi-AZ adds a synchronous standby) or, for multi-primary, an
Aurora DSQL cluster; a hot DR region runs the stateless tier, caches,
queues and a cross-region read replica of every database.
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.topology import DR, PRIMARY, topology
from topoform.providers import facts as common
from topoform.providers import gateway_nosql_facts
from topoform.providers.plan import Availability, Facts, Replica

from .store_catalog import RDS_PROMOTION, RDS_PROMOTION_BASIS

# Figures for ONE copy of each kind; `kind/variant` rows where the product differs.
DEFAULTS: dict[str, Availability] = {
    "dns": Availability(100.0, "Amazon Route 53 SLA (100% of DNS queries answered)", "Route 53 SLA"),
    "cdns": Availability(99.9, "Amazon CloudFront SLA", "CloudFront SLA"),
    "reverse_proxies": Availability(99.9, "Amazon CloudFront SLA (a reverse proxy on aws is CloudFront + WAF "
                                          "rules in front of the balancer)", "CloudFront SLA"),
    "load_balancers": Availability(99.99, "Elastic Load Balancing SLA (ALB/NLB, spread over the AZs by AWS)",
                                   "ELB SLA"),
    "services": Availability(99.5, "Amazon Compute SLA, instance level (one ECS Fargate task)",
                             "Compute SLA, one task"),
    "databases": Availability(99.5, "Amazon RDS SLA, Single-AZ instance", "RDS SLA, Single-AZ"),
    "databases/multi-primary": Availability(99.99, "Amazon Aurora DSQL SLA, single-Region cluster",
                                            "Aurora DSQL SLA"),
    "caches": Availability(99.5, "Amazon ElastiCache SLA, Single-AZ node", "ElastiCache SLA, Single-AZ"),
    "queues": Availability(99.9, "Amazon SQS SLA", "SQS SLA"),
    "api_gateways": Availability(99.95, "Amazon API Gateway SLA", "API Gateway SLA"),
    "nosql": Availability(99.99, "Amazon DynamoDB SLA, standard table", "DynamoDB SLA"),
    "nosql/documentdb": Availability(99.9, "Amazon DocumentDB SLA, Multi-AZ cluster", "DocumentDB SLA"),
    "nosql/keyspaces": Availability(99.99, "Amazon Keyspaces SLA, single-Region", "Keyspaces SLA"),
    "nosql/neptune": Availability(99.9, "Amazon Neptune SLA, Multi-AZ DB cluster", "Neptune SLA"),
    "nosql/documentdb/single-az": Availability(99.5, "Topoform estimate: one DocumentDB instance (no SLA "
                                               "without a second zone)", "estimate"),
    "nosql/neptune/single-az": Availability(99.5, "Topoform estimate: one Neptune instance (no SLA without "
                                            "a second zone)", "estimate"),
}


def load_balancers(ctx: Any, lb: Any, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, lb, table, 1, "one managed balancer (AWS spreads it over the AZs)",
                                     dr_copy=topology(ctx.bp).hot_dr, managed=True,
                                     implementation="alb" if lb.layer == 7 else "nlb")


def reverse_proxies(ctx: Any, proxy: Any, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, proxy, table, 1, "one managed distribution",
                                     dr_copy=topology(ctx.bp).hot_dr, managed=True, implementation="cloudfront")


def databases(ctx: Any, db: Any, table: Mapping[str, Availability]) -> Facts:
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


KINDS: dict[str, common.Describe] = {
    "services": common.services, "load_balancers": load_balancers, "reverse_proxies": reverse_proxies,
    "cdns": common.cdns, "databases": databases, "caches": common.caches, "queues": common.queues,
    "api_gateways": gateway_nosql_facts.aws_api_gateways, "nosql": gateway_nosql_facts.aws_nosql,
}


def record(ctx: Any) -> None:
    """The `Target.facts` hook: every component's facts on `ctx.plan`."""
    common.record(ctx, DEFAULTS, KINDS, zones=ctx.bp.aws.availability_zones, region=ctx.bp.aws.region)
