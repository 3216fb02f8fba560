"""NoSQL stores: one server container per running site, speaking the protocol of the aws product.

- key-value: `amazon/dynamodb-local` (the DynamoDB API on port 8000, data on a
  volume). It starts without tables: the application creates `table` with
  the blueprint's keys (its SDK pointed at `endpoint`); any credentials work.
- document: `mongo` (the MongoDB protocol DocumentDB speaks) with a root
  login from a generated password; `table` is the collection.
- wide-column: `cassandra` (CQL, the protocol of Amazon Keyspaces); the
  keyspace is the blueprint's name, `table` its table.
- graph: `neo4j` community (Bolt; Neptune speaks openCypher over HTTPS
  instead, so graph clients need a driver per target).
The community images replicate nothing on one engine: `replicas` is an aws
setting here (a warning says so) and the facts count one copy.

A key-value store with `engine: redis` or `valkey` is a real, durable server
instead (`redis:7.2-alpine` or `valkey/valkey:8-alpine`): the append-only
file fsync'd on every write (`appendfsync always`, an acknowledged write
survives a crash), on a volume at every node; no eviction (a full store
refuses writes); one login, user `app` with a generated password (the
default user is off); `replicas` Redis replicas (`replicaof`, read-only,
answering `{alias}-reader`), each with its own append-only file. MemoryDB
shards have no Docker counterpart here (a warning says so): one shard runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from topoform.dsl.models import NoSql
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts, Replica

from .. import images
from ..configs.rendering import render
from ..containers import APP_USER, health, password_ref, upload
from ..context import DockerContext
from ..endpoint import Endpoint, endpoint_attribute
from ..facts import estimate
from ..sites import PRIMARY, site_suffix

PORTS = {"key-value": 8000, "document": 27017, "wide-column": 9042, "graph": 7687}
SCHEMES = {"key-value": "http", "document": "mongodb", "wide-column": "cassandra", "graph": "bolt"}
IMAGES = {"key-value": images.DYNAMODB, "document": images.MONGO, "wide-column": images.CASSANDRA,
          "graph": images.NEO4J}
DATA = {"key-value": "/home/dynamodblocal/data", "document": "/data/db", "wide-column": "/var/lib/cassandra",
        "graph": "/data"}
MEMORY_MB = {"key-value": 512, "document": 1024, "wide-column": 2048, "graph": 1024}
CHECKS = {
    "key-value": "bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000'",
    "document": "mongosh --quiet --eval 'db.adminCommand(\"ping\").ok' | grep -q 1",
    "wide-column": "cqlsh -e 'DESCRIBE KEYSPACES' 127.0.0.1 9042",
    "graph": "bash -c 'exec 3<>/dev/tcp/127.0.0.1/7687'",
}


REDIS_PORT = 6379
STORE_CONF = "/etc/topoform/store.conf"
# Replaced by the `${password.result}` reference after escaping (see containers.upload).
SECRET = "@@TOPOFORM_SECRET@@"
# maxmemory by `size`; the container gets a quarter more (fragmentation, replication buffers).
REDIS_MEMORY = {"small": 256 * 1024**2, "medium": 1024**3, "large": 4 * 1024**3}
_WORD = re.compile(r"^[A-Za-z0-9@_./-]+$")


@dataclass(frozen=True)
class StoreConf:
    """redis.conf of a durable key-value store (templates/redis-store.conf.j2).

    password: user `app`'s password (letters and digits, or the upload's placeholder).
    replicaof: (host, port) of the primary, for a replica (which logs in as `app` too).
    maxmemory: bytes; past it writes are refused (noeviction), never data dropped.
    """

    password: str
    maxmemory: int = REDIS_MEMORY["small"]
    replicaof: tuple[str, int] | None = None
    port: int = REDIS_PORT
    bind: str = "0.0.0.0"
    dir: str = "/data"
    user: str = APP_USER


def render_store_conf(conf: StoreConf) -> str:
    """The config text; a password or name that is not one plain word is refused (it would end the ACL rule)."""
    for label, word in (("password", conf.password), ("user", conf.user), ("dir", conf.dir),
                        ("replicaof host", conf.replicaof[0] if conf.replicaof else "x")):
        if not _WORD.match(word):
            raise ValueError(f"{label} {word!r} must be one word of letters, digits and @_./-")
    return render("redis-store.conf.j2", ctx=conf)


def endpoint(ctx: DockerContext, store: NoSql) -> Endpoint:
    if store.redis:
        return Endpoint("redis", ctx.names.host(store), REDIS_PORT)
    return Endpoint(SCHEMES[store.model], ctx.names.host(store), PORTS[store.model])


def keyspace(ctx: DockerContext) -> str:
    return ctx.bp.blueprint.replace("-", "_")


def url(ctx: DockerContext, store: NoSql) -> str:
    where = endpoint(ctx, store)
    if store.redis:
        return f"redis://{APP_USER}:{password_ref(store)}@{where.address}/0"
    if store.model == "document":
        return f"mongodb://{APP_USER}:{password_ref(store)}@{where.address}/{store.table_name}?authSource=admin"
    if store.model == "wide-column":
        return f"cassandra://{where.address}/{keyspace(ctx)}"
    if store.model == "graph":
        return f"bolt://neo4j:{password_ref(store)}@{where.address}"
    return where.url


def attribute(ctx: DockerContext, store: NoSql, attr: str) -> str:
    where = endpoint(ctx, store)
    if attr == "endpoint":
        return f"http://{where.address}" if store.model == "key-value" and not store.redis else where.address
    if attr == "table":
        return store.table_name
    return endpoint_attribute(ctx, store, where, attr, url(ctx, store) if attr == "url" else None)


def build(ctx: DockerContext, store: NoSql) -> None:
    if store.redis:
        _redis(ctx, store)
    else:
        _server(ctx, store)
    ctx.export_endpoint(endpoint(ctx, store), url(ctx, store))
    ctx.export("endpoint", attribute(ctx, store, "endpoint"))
    ctx.export("table", store.table_name)
    ctx.export("model", store.model)


def _redis(ctx: DockerContext, store: NoSql) -> None:
    """A primary and `replicas` replicas at each running site, every node with its append-only file."""
    prefix, host = ctx.prefix(store), ctx.names.host(store)
    if store.shards > 1:
        ctx.warn(f"{store.ref}: the docker target runs one {store.engine} shard; `shards: {store.shards}` is built "
                 "on aws (MemoryDB)", None, "nosql", store.name, "shards")
    password = ctx.containers.password(f"{prefix}-password", store.protect)
    server, cli = f"{store.engine}-server", f"{store.engine}-cli"
    image = images.VALKEY if store.engine == "valkey" else images.REDIS
    maxmemory = REDIS_MEMORY[store.size]
    login = f'{cli} --user {APP_USER} -a "$STORE_PASSWORD" --no-auth-warning'
    check = health(f"{login} ping | grep -q PONG")
    # Answering is not replicating: a replica is healthy only while its link to the primary is up.
    replica_check = health(f"{login} info replication | grep -q master_link_status:up")
    for site in ctx.sites.running:
        primary = f"{prefix}{site_suffix(site)}"
        for i in range(1 + store.replicas):
            replica = i > 0
            conf = render_store_conf(StoreConf(SECRET, maxmemory, (host, REDIS_PORT) if replica else None))
            name = primary + (f"-replica-{i - 1}" if replica else "")
            ports = [ctx.publish_public(store, REDIS_PORT)] if store.public and site == PRIMARY and not replica else []
            ctx.containers.container(
                name, image=image, site=site, aliases=[f"{host}-reader"] if replica else [host],
                envs={"STORE_PASSWORD": password}, command=[server, STORE_CONF],
                uploads=[upload(STORE_CONF, conf, {SECRET: password})],
                volumes=[(ctx.containers.volume(f"{name}-data", store.protect), "/data")], ports=ports,
                memory_mb=int(maxmemory // 1024**2 * 1.25) + 64, cpus=0.5,
                healthcheck=replica_check if replica else check,
                depends_on=[primary] if replica else None)


def _server(ctx: DockerContext, store: NoSql) -> None:
    prefix, host, model = ctx.prefix(store), ctx.names.host(store), store.model
    if store.replicas and model in ("document", "graph"):
        ctx.warn(f"{store.ref}: the docker target runs one {IMAGES[model].partition(':')[0]} node; "
                 f"`replicas: {store.replicas}` is built on aws", None, "nosql", store.name, "replicas")
    envs: dict[str, str] = {}
    command: list[str] | None = None
    if model == "key-value":
        command = ["-jar", "DynamoDBLocal.jar", "-sharedDb", "-dbPath", DATA[model]]
    elif model == "document":
        password = ctx.containers.password(f"{prefix}-password", store.protect)
        envs = {"MONGO_INITDB_ROOT_USERNAME": APP_USER, "MONGO_INITDB_ROOT_PASSWORD": password,
                "MONGO_INITDB_DATABASE": store.table_name}
    elif model == "graph":
        password = ctx.containers.password(f"{prefix}-password", store.protect)
        envs = {"NEO4J_AUTH": f"neo4j/{password}"}
    else:
        envs = {"CASSANDRA_CLUSTER_NAME": keyspace(ctx), "MAX_HEAP_SIZE": "1G", "HEAP_NEWSIZE": "200M"}
    for site in ctx.sites.running:
        name = f"{prefix}{site_suffix(site)}"
        volume = ctx.containers.volume(f"{name}-data", store.protect)
        ports = [ctx.publish_public(store, PORTS[model])] if store.public and site == PRIMARY else []
        ctx.containers.container(
            name, image=IMAGES[model], site=site, aliases=[host], envs=envs or None, command=command,
            volumes=[(volume, DATA[model])], ports=ports, memory_mb=MEMORY_MB[model], cpus=1.0,
            healthcheck=health(CHECKS[model], 30.0, 10.0, 5, 120.0 if model == "wide-column" else 30.0),
            user="root" if model == "key-value" else None)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("dynamodb-local, mongo, cassandra or neo4j")
AVAILABILITY_VARIANTS = {"redis": estimate("redis or valkey with its append-only file")}
PRODUCTS = {"key-value": "dynamodb-local", "document": "mongo", "wide-column": "cassandra", "graph": "neo4j"}


def facts(ctx: Any, store: NoSql, table: Mapping[str, Availability]) -> Facts:
    """One container per running site, nothing replicated; a redis/valkey store is a primary and its replicas."""
    if store.redis:
        n = store.replicas
        return common.same_at_both_sites(
            ctx, store, table, 1 + n, "a primary" + (f" + {common.plural(n, 'replica')}" if n else " alone"),
            variant="redis", dr_copy=topology(ctx.bp).hot_dr,
            replication=(Replica("replica", PRIMARY, n, "async"),) if n else (),
            scaling="cache_replicas" if n < 5 else None, implementation=store.engine)
    return common.same_at_both_sites(ctx, store, table, 1, "one container (the image replicates nothing)",
                                     dr_copy=topology(ctx.bp).hot_dr, implementation=PRODUCTS[store.model])
