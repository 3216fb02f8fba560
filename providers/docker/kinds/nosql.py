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
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.models import NoSql
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts

from .. import images
from ..containers import APP_USER, health, password_ref
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


def endpoint(ctx: DockerContext, store: NoSql) -> Endpoint:
    return Endpoint(SCHEMES[store.model], ctx.names.host(store), PORTS[store.model])


def keyspace(ctx: DockerContext) -> str:
    return ctx.bp.blueprint.replace("-", "_")


def url(ctx: DockerContext, store: NoSql) -> str:
    where = endpoint(ctx, store)
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
        return f"http://{where.address}" if store.model == "key-value" else where.address
    if attr == "table":
        return store.table_name
    return endpoint_attribute(ctx, store, where, attr, url(ctx, store) if attr == "url" else None)


def build(ctx: DockerContext, store: NoSql) -> None:
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
    ctx.export_endpoint(endpoint(ctx, store), url(ctx, store))
    ctx.export("endpoint", attribute(ctx, store, "endpoint"))
    ctx.export("table", store.table_name)
    ctx.export("model", model)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("dynamodb-local, mongo, cassandra or neo4j")
PRODUCTS = {"key-value": "dynamodb-local", "document": "mongo", "wide-column": "cassandra", "graph": "neo4j"}


def facts(ctx: Any, store: NoSql, table: Mapping[str, Availability]) -> Facts:
    """One container per running site, nothing replicated."""
    return common.same_at_both_sites(ctx, store, table, 1, "one container (the image replicates nothing)",
                                     dr_copy=topology(ctx.bp).hot_dr, implementation=PRODUCTS[store.model])
