"""What the docker target builds for each component, for `report`, `lint` and `graph`.

The per-copy figures are Topoform's estimates: no SLA exists for a container
on one Docker host. Copies follow the compiler: N service or proxy replicas,
two haproxy instances unless `redundancy: none`, a database primary with its
streaming replicas (or a Galera cluster for multi-primary), and, with a hot
DR site, a second copy of the stateless tier, caches, queues and a replica
of every database on the DR site network. There is no synchronous standby
(`multi_az` is an aws setting) and no availability zone.
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.topology import DR, PRIMARY, topology
from topoform.providers import facts as common
from topoform.providers import gateway_nosql_facts
from topoform.providers.plan import Availability, Facts, Replica

_ESTIMATE = ("Topoform estimate: one container on one Docker host, restarted on failure "
             "(no SLA exists; the figure AWS publishes for a single instance)")

# Figures for ONE copy of each kind (copies are combined by the parallel formula).
DEFAULTS: dict[str, Availability] = {
    "dns": Availability(99.5, _ESTIMATE + "; PowerDNS", "estimate"),
    "cdns": Availability(99.5, _ESTIMATE + "; nginx cache", "estimate"),
    "reverse_proxies": Availability(99.5, _ESTIMATE + "; nginx", "estimate"),
    "load_balancers": Availability(99.5, _ESTIMATE + "; haproxy", "estimate"),
    "services": Availability(99.5, _ESTIMATE, "estimate"),
    "databases": Availability(99.5, _ESTIMATE, "estimate"),
    "caches": Availability(99.5, _ESTIMATE, "estimate"),
    "queues": Availability(99.5, _ESTIMATE + "; RabbitMQ", "estimate"),
    "api_gateways": Availability(99.5, _ESTIMATE + "; nginx", "estimate"),
    "nosql": Availability(99.5, _ESTIMATE + "; dynamodb-local, mongo, cassandra or neo4j", "estimate"),
}


def load_balancers(ctx: Any, lb: Any, table: Mapping[str, Availability]) -> Facts:
    hot = topology(ctx.bp).hot_dr
    if lb.redundancy != "none":
        return common.same_at_both_sites(ctx, lb, table, 2, f"2 instances ({lb.redundancy})", dr_copy=hot,
                                         implementation="haproxy")
    return common.same_at_both_sites(ctx, lb, table, 1, "one instance (redundancy: none)", dr_copy=hot,
                                     scaling="redundancy", implementation="haproxy")


def reverse_proxies(ctx: Any, proxy: Any, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, proxy, table, proxy.replicas, common.plural(proxy.replicas, "replica"),
                                     dr_copy=topology(ctx.bp).hot_dr, scaling="replicas", implementation="nginx")


def cdns(ctx: Any, cdn: Any, table: Mapping[str, Availability]) -> Facts:
    # One nginx per running site (kinds/cdns.py): a hot DR site runs its own copy, unlike CloudFront.
    return common.same_at_both_sites(ctx, cdn, table, 1, "one distribution", dr_copy=topology(ctx.bp).hot_dr)


def databases(ctx: Any, db: Any, table: Mapping[str, Availability]) -> Facts:
    hot = topology(ctx.bp).hot_dr
    replication = common.database_replicas(db, hot)
    if db.replication.mode == "multi-primary":
        n = 1 + db.replication.replicas
        copies, basis, implementation = n, f"{n} primaries", "galera"
        replication = (Replica("primary", PRIMARY, db.replication.replicas, "sync"),) + replication
        scaling = None
    else:
        copies = 1 + db.replica_count
        basis = f"a primary + {common.plural(db.replica_count, 'read replica')}" if db.replica_count \
            else "a primary alone"
        implementation = db.engine
        scaling = "read_replicas" if db.replica_count < 15 else None
        basis += common.per_shard(db)
    figure = common.per_copy(db, table, "databases")
    return Facts(copies={PRIMARY: copies, DR: 1}, basis={PRIMARY: basis, DR: common.DR_DATABASE_BASIS},
                 availability={PRIMARY: figure, DR: figure}, replication=replication, dr_copy=hot,
                 scaling=scaling, implementation=implementation)


KINDS: dict[str, common.Describe] = {
    "services": common.services, "load_balancers": load_balancers, "reverse_proxies": reverse_proxies,
    "cdns": cdns, "databases": databases, "caches": common.caches, "queues": common.queues,
    "api_gateways": gateway_nosql_facts.docker_api_gateways, "nosql": gateway_nosql_facts.docker_nosql,
}


def record(ctx: Any) -> None:
    """The `Target.facts` hook: every component's facts on `ctx.plan`."""
    common.record(ctx, DEFAULTS, KINDS)
