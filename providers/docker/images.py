"""The container images the Docker target runs, pinned by tag.

One table, so upgrading a server is a one-line change and `plan` shows the
exact tag that `up` pulls. Databases take the blueprint's `version`; every
other server is pinned here. Debian-based database images are preferred over
alpine ones because the replication scripts in `templates/` are checked
against Debian's GNU tools (`grep \\+`, `mktemp`).
"""

from __future__ import annotations

from topoform.dsl.models import Cache, Database

# haproxy 3.2 is an LTS branch; 2.9 was a short-lived one, unsupported since 2025.
HAPROXY = "haproxy:3.2-alpine"
NGINX = "nginx:1.27-alpine"
POWERDNS = "powerdns/pdns-auth-49:4.9.4"
# RabbitMQ 3.13 left community support; 4.x removed classic mirrored queues (we declare
# quorum queues only) and gave quorum queues a delivery limit of 20 (configs/rabbitmq.py).
RABBITMQ = "rabbitmq:4.2-alpine"
MEMCACHED = "memcached:1.6-alpine"
REDIS = "redis:7.2-alpine"
VALKEY = "valkey/valkey:8-alpine"
PYTHON = "python:3.12-slim"  # the API gateway's JWT verifier (templates/jwt-verifier.py)
DYNAMODB = "amazon/dynamodb-local:2.5.2"
MONGO = "mongo:7.0"
CASSANDRA = "cassandra:4.1"
NEO4J = "neo4j:5.20-community"
NO_STAND_IN = frozenset({DYNAMODB, MONGO, CASSANDRA, NEO4J})  # Debian has none of these servers (docs/IMAGES.md)


def database_image(db: Database) -> str:
    """The server image of `db`'s engine and version (its clients make the backups too)."""
    if db.engine == "postgres":
        return f"postgres:{db.version}-bookworm"
    if db.engine == "mysql":
        return f"mysql:{db.version}"
    return f"mariadb:{db.version}"


def cache_image(cache: Cache) -> str:
    if cache.engine == "memcached":
        return f"memcached:{cache.version}-alpine" if cache.version else MEMCACHED
    if cache.engine == "valkey":
        return f"valkey/valkey:{cache.version}-alpine" if cache.version else VALKEY
    return f"redis:{cache.version}-alpine" if cache.version else REDIS
