"""Recording what a target built for each component, for the analyses.

Each kind module (providers/<target>/kinds/<section>.py) carries its facts:
`AVAILABILITY`, one copy's figure with its source (and
`AVAILABILITY_VARIANTS`, rows where the product differs), and
`facts(ctx, component, table)`, how many copies run where and how the data
is replicated. This module is what the targets share: the walk that stores
a `Facts` on every component of the Plan (`record`, reading the kind
table), the defaults table it builds from the kind modules, and the facts
of kinds that read the same on both targets. Each target's facts module
(providers/docker/facts.py, providers/aws/facts.py) holds what is not a
kind: DNS's figure, zones, region. `report`, `lint` and `graph` read only
these facts (providers/insight), so they cannot disagree with the compiler.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from topoform.dsl.topology import DR, PRIMARY, topology

from .plan import Availability, ComponentInfo, Facts, Replica

OVERRIDE = "`availability:` in the blueprint"
SITES = (PRIMARY, DR)

# One kind's facts on one target: (context, component, defaults table) → Facts.
Describe = Callable[[Any, Any, Mapping[str, Availability]], Facts]


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def per_copy(component: Any, table: Mapping[str, Availability], section: str, variant: str = "") -> Availability:
    """The figure for one copy: the blueprint's `availability:` if set, else the target's table."""
    override = getattr(component, "availability", None)
    if override is not None:
        return Availability(override, OVERRIDE, "override")
    default = table.get(f"{section}/{variant}") if variant else None
    return default if default is not None else table[section]


def same_at_both_sites(ctx: Any, component: Any, table: Mapping[str, Availability], copies: int, basis: str,
                       variant: str = "", **facts: Any) -> Facts:
    """Facts of a component whose DR copy (if a hot site runs one) is built like the primary one."""
    figure = per_copy(component, table, component.section, variant)
    return Facts(copies={PRIMARY: copies, DR: copies}, basis={PRIMARY: basis, DR: basis},
                 availability={PRIMARY: figure, DR: figure}, **facts)


# ------------------------------------------------------------------ kinds alike on both targets


def replicated(ctx: Any, component: Any, table: Mapping[str, Availability], **facts: Any) -> Facts:
    """`replicas` copies at each running site; one more is a higher `replicas`."""
    return same_at_both_sites(ctx, component, table, component.replicas, plural(component.replicas, "replica"),
                              dr_copy=topology(ctx.bp).hot_dr, scaling="replicas", **facts)


def services(ctx: Any, service: Any, table: Mapping[str, Availability]) -> Facts:
    return replicated(ctx, service, table)


def caches(ctx: Any, cache: Any, table: Mapping[str, Availability]) -> Facts:
    n = cache.replicas
    basis = "a primary" + (f" + {plural(n, 'replica')}" if n else " alone")
    replication = (Replica("replica", PRIMARY, n, "async"),) if n else ()
    return same_at_both_sites(ctx, cache, table, 1 + n, basis, dr_copy=topology(ctx.bp).hot_dr,
                              replication=replication, scaling="cache_replicas" if n < 5 else None,
                              implementation=cache.engine)


def cdns(ctx: Any, cdn: Any, table: Mapping[str, Availability]) -> Facts:
    # A CDN is global: a DR site sits behind it, not beside it.
    return same_at_both_sites(ctx, cdn, table, 1, "one distribution")


def queues(ctx: Any, queue: Any, table: Mapping[str, Availability]) -> Facts:
    return same_at_both_sites(ctx, queue, table, 1, "one copy", dr_copy=topology(ctx.bp).hot_dr)


def dns(ctx: Any, section: Any, table: Mapping[str, Availability]) -> Facts:
    figure = per_copy(section, table, "dns")
    return Facts(copies={PRIMARY: 1, DR: 1}, basis={PRIMARY: "one zone", DR: "one zone"},
                 availability={PRIMARY: figure, DR: figure})


def database_replicas(db: Any, hot: bool) -> tuple[Replica, ...]:
    """Read replicas (asynchronous streaming) and the hot DR site's copy, on either target."""
    found: list[Replica] = []
    if db.replica_count:
        found.append(Replica("read-replica", PRIMARY, db.replica_count, "async"))
    if hot:
        found.append(Replica("cross-region-replica", DR, 1, "async"))
    return tuple(found)


def per_shard(db: Any) -> str:
    """What the copies of a sharded database are counted per (a request reaches one shard)."""
    if db.sharding is not None and db.shard_count > 1:
        return f", per shard (a request reaches one of {db.shard_count} shards)"
    return ""


DR_DATABASE_BASIS = "the cross-region replica, promoted on failover"


# ------------------------------------------------------------------ the walk

# The order `report` lists the per-copy figures in: these kinds from the outside in, as reports
# listed them before the table was read off the kind modules (so a report keeps its bytes), then
# every other kind in registry order.
_LISTED_FIRST = ("cdns", "reverse_proxies", "load_balancers", "services", "databases", "caches", "queues")


def defaults(kinds: Mapping[str, Any], others: Mapping[str, Availability]) -> dict[str, Availability]:
    """The target's table of one copy's figures: `others` (not kinds: DNS), then each kind module's
    `AVAILABILITY` under its section and its `AVAILABILITY_VARIANTS` under `section/variant`."""
    table = dict(others)
    order = [s for s in _LISTED_FIRST if s in kinds] + [s for s in kinds if s not in _LISTED_FIRST]
    for section in order:
        table[section] = kinds[section].AVAILABILITY
        for variant, figure in getattr(kinds[section], "AVAILABILITY_VARIANTS", {}).items():
            table[f"{section}/{variant}"] = figure
    return table


def record(ctx: Any, others: Mapping[str, Availability], zones: int | None = None,
           region: str | None = None) -> None:
    """Store the facts of every component (and of DNS and the platform) on `ctx.plan`.

    Each component's come from its kind module in `ctx.kinds` (the target's
    kind table). Components the compiler did not reach (a refused build) get
    an entry too, so an analysis of a design the target refuses still has
    its figures.
    """
    plan, bp = ctx.plan, ctx.bp
    table = plan.defaults = defaults(ctx.kinds, others)
    for component in bp.components():
        _info(ctx, component.ref).facts = ctx.kinds[component.section].facts(ctx, component, table)
    if bp.dns is not None:
        _info(ctx, "dns").facts = dns(ctx, bp.dns, table)
    _info(ctx, "platform").facts = Facts(copies={}, basis={}, availability={}, zones=zones, region=region)


def _info(ctx: Any, ref: str) -> ComponentInfo:
    return ctx.component_info(ref, ("dns",) if ref == "dns" else ())
