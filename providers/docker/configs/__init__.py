"""Config files for the server containers of the Docker target, one module per server.

Each ``render_*`` function is pure: it takes a small frozen dataclass (the
*context*, defined field by field next to it) and returns the text of one
file, rendered from a Jinja2 template in ``providers/docker/templates/``. The
kind builders (``providers/docker/kinds``) map blueprint components onto these
contexts; the contexts are deliberately close to the server's own vocabulary
so that the real-server tests (``tests/realserver``) can render them with
loopback addresses and run the very program the container would run.

- ``haproxy``: load balancers. ``nginx``: reverse proxies and CDNs.
- ``caches``: redis/valkey and memcached. ``databases``: PostgreSQL,
  MariaDB/MySQL, Galera, backups. ``rabbitmq``: queues. ``pdns``: DNS.
- ``rendering``: the Jinja environment, filters and unit readers they share.

This package re-exports every context and renderer, so callers import them
from ``configs``. Nothing here imports pulumi: a Pulumi ``Output`` is
resolved by the caller (``Output.apply``) before it reaches a renderer.
"""

from __future__ import annotations

from .caches import MemcachedContext, RedisContext, memcached_args, render_redis_conf
from .databases import (
    BackupContext, GaleraContext, MariadbReplicationContext, PostgresReplicaContext, PostgresReplicationContext,
    mariadb_replication_env, render_backup_script, render_galera_cnf, render_mariadb_cnf,
    render_postgres_primary_entrypoint, render_postgres_primary_init, render_postgres_replica_entrypoint,
    render_postgres_replication_conf,
)
from .haproxy import (
    HAPROXY_ALGORITHMS, HaproxyBackend, HaproxyContext, HaproxyHealthCheck, HaproxyListener, HaproxyRoute,
    HaproxyServer, HaproxyServerTemplate, HaproxyStickiness, render_haproxy_cfg,
)
from .nginx import (
    NginxCache, NginxContext, NginxRateLimit, NginxRuntime, NginxStatic, NginxTls, NginxUpstream,
    cdn_ttl_directives, render_nginx_conf,
)
from .pdns import (
    DnsEndpoint, DnsHealthCheck, DnsRecord, DnsZoneContext, PdnsContext, RenderedZone, render_pdns_conf,
    render_pdns_named_conf, render_pdns_zone,
)
from .rabbitmq import (
    RabbitmqContext, RabbitmqQueue, RabbitmqUser, pretty_json, rabbitmq_password_hash, render_rabbitmq_conf,
    render_rabbitmq_definitions,
)

__all__ = [
    # haproxy
    "HaproxyServer", "HaproxyServerTemplate", "HaproxyBackend", "HaproxyRoute",
    "HaproxyListener", "HaproxyHealthCheck", "HaproxyStickiness", "HaproxyContext",
    "render_haproxy_cfg", "HAPROXY_ALGORITHMS",
    # nginx
    "NginxUpstream", "NginxTls", "NginxCache", "NginxStatic", "NginxRateLimit",
    "NginxRuntime", "NginxContext", "render_nginx_conf", "cdn_ttl_directives",
    # caches
    "RedisContext", "render_redis_conf", "MemcachedContext", "memcached_args",
    # relational databases
    "PostgresReplicationContext", "render_postgres_primary_entrypoint", "render_postgres_primary_init",
    "render_postgres_replication_conf", "PostgresReplicaContext",
    "render_postgres_replica_entrypoint", "MariadbReplicationContext",
    "render_mariadb_cnf", "mariadb_replication_env", "GaleraContext",
    "render_galera_cnf", "BackupContext", "render_backup_script",
    # queues
    "RabbitmqUser", "RabbitmqQueue", "RabbitmqContext", "render_rabbitmq_conf",
    "render_rabbitmq_definitions", "rabbitmq_password_hash", "pretty_json",
    # DNS
    "DnsEndpoint", "DnsHealthCheck", "DnsRecord", "DnsZoneContext", "RenderedZone",
    "render_pdns_zone", "PdnsContext", "render_pdns_conf", "render_pdns_named_conf",
]
