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
from ``configs``; a module loads on first use of one of its names, so a
blueprint without databases (say) never builds their dataclasses (~0.5 ms
each). Nothing here imports pulumi: a Pulumi ``Output`` is resolved by the
caller (``Output.apply``) before it reaches a renderer.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any, Callable

# module → the names it exports through this package
_EXPORTS: dict[str, tuple[str, ...]] = {
    "haproxy": ("HaproxyServer", "HaproxyServerTemplate", "HaproxyBackend", "HaproxyRoute",
                "HaproxyListener", "HaproxyHealthCheck", "HaproxyStickiness", "HaproxyContext",
                "render_haproxy_cfg", "HAPROXY_ALGORITHMS"),
    "nginx": ("NginxUpstream", "NginxTls", "NginxCache", "NginxStatic", "NginxRateLimit",
              "NginxRuntime", "NginxContext", "render_nginx_conf", "cdn_ttl_directives"),
    "caches": ("RedisContext", "render_redis_conf", "MemcachedContext", "memcached_args"),
    "databases": ("PostgresReplicationContext", "render_postgres_primary_entrypoint",
                  "render_postgres_primary_init", "render_postgres_replication_conf", "PostgresReplicaContext",
                  "render_postgres_replica_entrypoint", "MariadbReplicationContext",
                  "render_mariadb_cnf", "mariadb_replication_env", "GaleraContext",
                  "render_galera_cnf", "BackupContext", "render_backup_script"),
    "rabbitmq": ("RabbitmqUser", "RabbitmqQueue", "RabbitmqContext", "render_rabbitmq_conf",
                 "render_rabbitmq_definitions", "rabbitmq_password_hash", "pretty_json"),
    "pdns": ("DnsEndpoint", "DnsHealthCheck", "DnsRecord", "DnsZoneContext", "RenderedZone",
             "render_pdns_zone", "PdnsContext", "render_pdns_conf", "render_pdns_named_conf"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """`configs.NAME` imports NAME's module the first time (PEP 562), then it is a plain global."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def cached(renderer: str, maxsize: int) -> Callable[[Any], str]:
    """The renderer named `renderer` behind an lru_cache (renderers are pure functions of frozen
    contexts: identical configs render once), its module imported on the first call, not now."""
    if renderer not in _MODULE_OF:
        raise ValueError(f"no renderer {renderer!r} in {__name__}")

    @lru_cache(maxsize=maxsize)
    def render(context: Any) -> str:
        return __getattr__(renderer)(context)

    return render


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
