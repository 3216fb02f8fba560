"""Caches on AWS: ElastiCache replication groups (redis, valkey) and memcached clusters.

Redis/valkey: a replication group of `replicas + 1` nodes of the smallest
node type that holds `memory`, automatic failover and Multi-AZ as soon as
there is a replica, encryption at rest (the `encrypted` field) and in transit
(always: clients use `rediss://`) with an AUTH token (one generated password
per cache, kept in Secrets Manager in each site's region; the services that
read the cache get it as `<VAR minus _URL>_PASSWORD`, as they get a database's),
and a parameter group of the engine family carrying the eviction policy. Memcached: a cluster of `replicas + 1` nodes
spread over AZs when there are two or more (`cross-az` needs two), TLS in transit
(memcached on ElastiCache has no AUTH); it keeps nothing on disk, so there is
nothing to encrypt at rest. Either way only the services that reference the
cache reach its port. `build_at` makes the cache at one site; recovery.py
calls it for the hot DR site's copy (`dr-cache-NAME`).
"""

from __future__ import annotations

from typing import Any

from topoform.dsl.models import Cache, Service
from topoform.providers import facts as common
from topoform.providers.plan import Availability, ref

from .. import stores
from ..context import AwsContext
from ..sites import PRIMARY, site_name
from ..store_catalog import (
    CACHE_DEFAULT_VERSION,
    CACHE_PORT,
    GIB,
    VersionNotOffered,
    cache_family,
    cache_node_type,
    physical_id,
    snapshot_name,
)

CACHE_SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
CACHE_PARAMETER_GROUP = "aws:elasticache/parameterGroup:ParameterGroup"
CACHE_REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
PASSWORD = "random:index/randomPassword:RandomPassword"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
# What a service reads of a redis cache that makes it a client (it must AUTH).
CLIENT_ATTRS = ("url", "host")

CACHE_MAINTENANCE_WINDOW = "sun:05:30-sun:06:30"
SNAPSHOT_WINDOW = "02:00-03:00"
SNAPSHOT_DAYS = 7


def build(ctx: AwsContext, cache: Cache) -> None:
    if cache.public:
        raise ctx.unsupported(f"{cache.ref}: a public cache is not built on aws",
                              "remove `public: true`: services reach it inside the VPC",
                              "caches", cache.name, "public")
    if cache_node_type(cache.memory) is None:
        raise ctx.unsupported(f"{cache.ref}: no ElastiCache node holds {cache.memory / GIB:g}GiB",
                              "the largest node (cache.r7g.16xlarge) holds 419GiB; split the cache",
                              "caches", cache.name, "memory")
    try:
        cache_family(cache.engine, cache.version or CACHE_DEFAULT_VERSION[cache.engine])
    except VersionNotOffered as exc:
        raise ctx.unsupported(f"{cache.ref}: {exc}", f"set `version` to one of {', '.join(exc.offered)}",
                              "caches", cache.name, "version") from None
    build_at(ctx, cache, PRIMARY)
    ctx.export(cache, ("url", "host", "port", "name"))


def build_at(ctx: AwsContext, cache: Cache, site: str) -> None:
    """The cache (replication group or memcached cluster) with its groups, on `site`."""
    base = ctx.prefix(cache)
    name = site_name(base, site)
    region = ctx.sites.region(site)
    port = CACHE_PORT[cache.engine]
    version = cache.version or CACHE_DEFAULT_VERSION[cache.engine]
    group = stores.admit_users(ctx, cache, port, site)
    subnets = ctx.add(CACHE_SUBNET_GROUP, site_name(f"{base}-subnets", site), {
        "description": f"{cache.ref}: private subnets ({site} site)",
        "subnet_ids": [ref(s, "id") for s in ctx.networks.network(site).private_subnets],
        "region": region,
        "tags": ctx.tags(),
    })
    common: dict[str, Any] = {
        "engine": cache.engine,
        "engine_version": version,
        "node_type": cache_node_type(cache.memory),
        "port": port,
        "subnet_group_name": ref(subnets, "name"),
        "security_group_ids": [ref(group, "id")],
        "transit_encryption_enabled": True,
        "maintenance_window": CACHE_MAINTENANCE_WINDOW,
        "region": region,
        "tags": ctx.tags(),
    }
    if cache.engine == "memcached":
        nodes = cache.replicas + 1
        props = {**common, "num_cache_nodes": nodes, "az_mode": "cross-az" if nodes > 1 else "single-az"}
        cluster_id = physical_id(name, 50, ctx.bp.blueprint, ctx.stack)
        if cluster_id:
            props["cluster_id"] = cluster_id
        ctx.add(CACHE_CLUSTER, name, props, protect=cache.protect)
        return
    props = {
        **common,
        "description": f"{cache.ref} of {ctx.bp.blueprint}/{ctx.stack} ({site} site)",
        "num_cache_clusters": cache.replicas + 1,
        "automatic_failover_enabled": cache.replicas >= 1,
        "multi_az_enabled": cache.replicas >= 1,
        "at_rest_encryption_enabled": cache.encrypted,
        "auto_minor_version_upgrade": True,
    }
    if cache.eviction is not None:
        params = ctx.add(CACHE_PARAMETER_GROUP, site_name(f"{base}-params", site), {
            "description": f"{cache.ref}: eviction {cache.eviction}",
            "family": cache_family(cache.engine, version),
            "parameters": [{"name": "maxmemory-policy", "value": cache.eviction}],
            "region": region,
            "tags": ctx.tags(),
        })
        props["parameter_group_name"] = ref(params, "name")
    if cache.persistence:
        # ElastiCache has no append-only file: persistence is daily snapshots
        # plus a final one, and Multi-AZ replicas for the loss of a node.
        props["snapshot_retention_limit"] = SNAPSHOT_DAYS
        props["snapshot_window"] = SNAPSHOT_WINDOW
        props["final_snapshot_identifier"] = snapshot_name(ctx.bp.blueprint, ctx.stack, name, "final")
    # Transit encryption is on, so AUTH is available: without a token any client
    # that reaches the port has full access.
    props["auth_token"] = ref(auth_token(ctx, cache), "result")
    auth_secret(ctx, cache, site)
    group_id = physical_id(name, 40, ctx.bp.blueprint, ctx.stack)
    if group_id:
        props["replication_group_id"] = group_id
    ctx.add(CACHE_REPLICATION_GROUP, name, props, protect=cache.protect, secret_outputs=["auth_token"])


def has_auth(cache: Cache) -> bool:
    return cache.engine != "memcached"


def auth_token(ctx: AwsContext, cache: Cache) -> str:
    """The cache's AUTH token: one generated password, the same at every site (so a DR copy
    takes the same clients). ElastiCache takes 16–128 printable characters; letters and
    digits avoid the ones it refuses (`"`, `/`, `@`)."""
    name = f"{ctx.prefix(cache)}-auth-token"
    if name not in ctx.plan:
        ctx.add(PASSWORD, name, {"length": 32, "special": False}, secret_outputs=["result"])
    return name


def auth_secret(ctx: AwsContext, cache: Cache, site: str) -> str:
    """Secrets Manager secret holding the token in `site`'s region (ECS injects it into clients)."""
    name = site_name(f"{ctx.prefix(cache)}-auth", site)
    if name not in ctx.plan:
        where = {"region": ctx.sites.region(site)}
        ctx.add(SECRET, name, {"description": f"AUTH token of {cache.ref} ({site} site)",
                               "recovery_window_in_days": 7, **where, "tags": ctx.tags()})
        ctx.add(SECRET_VERSION, f"{name}-value", {
            "secret_id": ref(name, "id"), "secret_string": ref(auth_token(ctx, cache), "result"), **where})
    return name


def secrets(ctx: AwsContext, service: Service, site: str) -> list[dict[str, str]]:
    """ECS container `secrets` entries: `<VAR minus _URL/_HOST>_PASSWORD` for each env var naming a redis cache.

    The token comes from the secret of the cache copy `site` reads (stores.py
    `answering_site`); the secret is named before the cache is built (names are
    functions of the blueprint), so services can be built first.
    """
    entries: dict[str, str] = {}
    at = stores.answering_site(ctx.at(site))
    for read in ctx.access.store_reads(ctx.ref_of(service)):
        cache = ctx.bp.component(read.target)
        if read.env is None or not isinstance(cache, Cache) or not has_auth(cache) or read.attr not in CLIENT_ATTRS:
            continue
        name = f"{stores.password_base(read.env, ('_URL', '_HOST'))}_PASSWORD"
        if name not in service.env:  # the user set it; ECS refuses a name in both env and secrets
            entries.setdefault(name, ref(site_name(f"{ctx.prefix(cache)}-auth", at), "arn"))
    return [{"name": name, "valueFrom": value} for name, value in entries.items()]


def attribute(ctx: AwsContext, cache: Cache, attr: str) -> str:
    """`${caches.x.url}` and friends at the asking site (the DR copy with a hot DR site)."""
    return stores.attribute(ctx, cache, attr, values)


def values(ctx: AwsContext, cache: Cache, site: str) -> dict[str, str]:
    name = site_name(ctx.prefix(cache), site)
    port = CACHE_PORT[cache.engine]
    if cache.engine == "memcached":
        host = ref(name, "cluster_address")
        return {"url": f"memcached://{host}:{port}", "host": host, "port": str(port),
                "name": ref(name, "cluster_id")}
    host = ref(name, "primary_endpoint_address")
    # rediss: transit encryption is always on.
    return {"url": f"rediss://{host}:{port}/0", "host": host, "port": str(port),
            "name": ref(name, "replication_group_id")}


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.5, "Amazon ElastiCache SLA, Single-AZ node", "ElastiCache SLA, Single-AZ")
facts = common.caches
