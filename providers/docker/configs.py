"""Config files for the server containers of the Docker target.

Each ``render_*`` function is pure: it takes a small frozen dataclass (the
*context*, defined here field by field) and returns the text of one file,
rendered from a Jinja2 template in ``templates/``. The compiler (Plan code)
maps blueprint components onto these contexts; the contexts are deliberately
close to the server's own vocabulary so that the real-server tests
(``tests/realserver``) can render them with loopback addresses and run the
very program the container would run.

Nothing here imports pulumi: a Pulumi ``Output`` is resolved by the caller
(``Output.apply``) before it reaches a renderer.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import ipaddress
import json
import math
import os
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import orjson

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
    "PostgresReplicationContext", "render_postgres_primary_init",
    "render_postgres_replication_conf", "PostgresReplicaContext",
    "render_postgres_replica_entrypoint", "MariadbReplicationContext",
    "render_mariadb_cnf", "mariadb_replication_env", "GaleraContext",
    "render_galera_cnf", "BackupContext", "render_backup_script",
    # queues
    "RabbitmqUser", "RabbitmqQueue", "RabbitmqContext", "render_rabbitmq_conf",
    "render_rabbitmq_definitions", "rabbitmq_password_hash",
    # DNS
    "DnsEndpoint", "DnsHealthCheck", "DnsRecord", "DnsZoneContext", "RenderedZone",
    "render_pdns_zone", "PdnsContext", "render_pdns_conf", "render_pdns_named_conf",
    # shared helpers
    "parse_duration", "parse_size",
]

_TEMPLATE_DIR = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    """One Environment per process: template parsing is the slow part."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = _seconds_filter
    env.filters["hap_time"] = _haproxy_time
    env.filters["nginx_time"] = _nginx_time
    env.filters["shquote"] = shlex.quote
    env.filters["lua_str"] = _lua_str
    return env


def _render(template: str, **variables) -> str:
    return _env().get_template(template).render(**variables)


# --------------------------------------------------------------------------
# Scalars. Contexts accept blueprint spellings ("30s", "512MiB") or numbers
# (seconds, bytes) so that tests and the compiler can pass either.
# --------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_FACTORS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB|kb|mb|gb)?\s*$")
_SIZE_FACTORS = {
    None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
    # redis spelling: "2mb" is 2*1024*1024 in redis.conf
    "kb": 1024, "mb": 1024**2, "gb": 1024**3,
}


def parse_duration(value: str | int | float) -> float:
    """Seconds from ``"500ms"``/``"30s"``/``"5m"``/``"1h"``/``"7d"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 500ms, 30s, 5m, 1h, 7d)")
    return float(m.group(1)) * _DURATION_FACTORS[m.group(2)]


def parse_size(value: str | int) -> int:
    """Bytes from ``"512MiB"`` (binary), ``"1GB"`` (decimal), redis ``"2mb"`` or an int."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        return value
    m = _SIZE.match(value)
    if not m:
        raise ValueError(f"not a size: {value!r} (use e.g. 512MiB, 20GiB)")
    return int(float(m.group(1)) * _SIZE_FACTORS[m.group(2)])


def _seconds_filter(value) -> int:
    """Whole seconds, rounded up so that a sub-second duration never becomes 0."""
    return int(math.ceil(parse_duration(value)))


def _haproxy_time(value) -> str:
    """haproxy time format: milliseconds keep sub-second precision."""
    ms = int(round(parse_duration(value) * 1000))
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _nginx_time(value) -> str:
    """nginx time: the largest exact unit (``90s``, ``5m``, ``1h``, ``7d``), ms below a second."""
    secs = parse_duration(value)
    if 0 < secs < 1:
        return f"{int(round(secs * 1000))}ms"
    whole = int(math.ceil(secs))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _lua_str(value: str) -> str:
    """A single-quoted Lua string literal (zone files wrap LUA in double quotes)."""
    if any(c in value for c in "'\"\\\n"):
        raise ValueError(f"unsafe character in DNS LUA value: {value!r}")
    return f"'{value}'"


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_name(kind: str, value: str) -> str:
    """Names end up unquoted in config files; refuse anything that could break a line."""
    if not _NAME.match(value):
        raise ValueError(f"invalid {kind} {value!r}: letters, digits, '-', '_' and '.' only")
    return value


# ==========================================================================
# haproxy (load_balancers)
# ==========================================================================

#: blueprint ``algorithm`` → haproxy ``balance``; weighted is roundrobin
#: with per-server ``weight`` (haproxy's roundrobin is weighted already).
HAPROXY_ALGORITHMS = {
    "round_robin": "roundrobin",
    "least_connections": "leastconn",
    "random": "random",
    "source_hash": "source",
    "weighted": "roundrobin",
}


@dataclass(frozen=True)
class HaproxyServer:
    """One ``server`` line.

    name: server name inside the backend (e.g. ``web-0``); also its sticky cookie value.
    address: IP or DNS name (a Docker container name / network alias).
    port: TCP port of the service.
    weight: haproxy weight 0..256 (only meaningful for ``weighted``/roundrobin).
    """

    name: str
    address: str
    port: int
    weight: int = 1


@dataclass(frozen=True)
class HaproxyServerTemplate:
    """A ``server-template`` line: ``count`` slots filled at runtime from DNS.

    This is how N replicas sharing one Docker network alias are reached:
    Docker's DNS (127.0.0.11) answers the alias with every replica's IP.

    prefix: slot name prefix (slots are prefix1..prefixN).
    count: number of slots (at least the replica count).
    fqdn: the name to resolve (the network alias).
    port: service port.
    """

    prefix: str
    count: int
    fqdn: str
    port: int


@dataclass(frozen=True)
class HaproxyBackend:
    """A ``backend`` section: the replicas of one target service.

    name: backend name (the service's component name, e.g. ``web``).
    servers: explicit servers (tests pass 127.0.0.1 ports here).
    template: or a DNS-filled ``server-template`` (Docker replicas behind one alias).
    """

    name: str
    servers: tuple[HaproxyServer, ...] = ()
    template: HaproxyServerTemplate | None = None


@dataclass(frozen=True)
class HaproxyRoute:
    """A layer-7 route, in blueprint order (first match wins, like ALB priorities).

    path: a glob: ``/api/*`` (prefix), ``/*`` (everything), ``/exact`` or any
        other glob (becomes a regex).
    backend: name of a :class:`HaproxyBackend`.
    weight: relative weight when several routes share one path; traffic of the
        path is split between their backends in proportion (``rand(100)``).
    """

    path: str
    backend: str
    weight: int | None = None


@dataclass(frozen=True)
class HaproxyListener:
    """A ``frontend``.

    port: listening port.
    tls: terminate TLS with ``HaproxyContext.tls_cert`` (a PEM with cert + key).
    redirect_to_https: answer every plain request with a 301 to the TLS listener.
    """

    port: int
    tls: bool = False
    redirect_to_https: bool = False


@dataclass(frozen=True)
class HaproxyHealthCheck:
    """Active health checks on every server.

    path: HTTP path checked with GET (``None``: a TCP connect check).
    interval: between checks (duration or seconds).
    healthy: consecutive successes to mark up (haproxy ``rise``).
    unhealthy: consecutive failures to mark down (haproxy ``fall``).
    timeout: check timeout (``timeout check``).
    """

    path: str | None = "/"
    interval: str | float = "10s"
    healthy: int = 2
    unhealthy: int = 3
    timeout: str | float = "2s"


@dataclass(frozen=True)
class HaproxyStickiness:
    """Session stickiness.

    cookie: cookie name (layer 7: ``cookie NAME insert indirect nocache``).
    duration: cookie ``maxlife`` (layer 7) or stick-table ``expire`` (layer 4,
        where stickiness is by client source IP since there are no cookies).
    application_cookie: ``cookie`` is the application's own session cookie
        (AWS ``app_cookie``): haproxy prefixes its value with the server's id
        on the way out and strips the prefix on the way in
        (``cookie NAME prefix``), so the application keeps seeing its own
        cookie. ``insert`` would replace it with haproxy's and remove it from
        requests, breaking the application's sessions. Stateless, so both
        balancer copies agree; the cookie lives as long as the application
        says (``duration`` is not applied).
    """

    cookie: str = "SID"
    duration: str | float = "1h"
    application_cookie: bool = False


@dataclass(frozen=True)
class HaproxyContext:
    """Everything one haproxy.cfg needs.

    name: the balancer's component name (used in section names and logs).
    layer: 7 (``mode http``) or 4 (``mode tcp``).
    algorithm: a key of :data:`HAPROXY_ALGORITHMS`.
    listeners: the frontends.
    backends: one per target service.
    routes: layer 7 only; ``/*`` (or nothing matching) falls to ``default_backend``.
    default_backend: backend for unmatched requests (layer 4: the only one
        used); defaults to the first backend.
    health_check: ``None`` disables active checks.
    sticky: ``None`` disables stickiness.
    tls_cert: path of the PEM (certificate + key) inside the container.
    bind_address: address the frontends bind (``*`` in Docker, 127.0.0.1 in tests).
    nameservers: ``resolvers docker`` nameservers (``ip:port``); empty omits the
        section. Docker's embedded DNS is 127.0.0.11:53.
    stats_port: if set, a frontend serving ``/stats`` and ``/healthz`` (200).
    maxconn: global connection limit.
    timeout_connect / timeout_client / timeout_server: the usual timeouts.
    """

    name: str
    layer: int = 7
    algorithm: str = "round_robin"
    listeners: tuple[HaproxyListener, ...] = (HaproxyListener(80),)
    backends: tuple[HaproxyBackend, ...] = ()
    routes: tuple[HaproxyRoute, ...] = ()
    default_backend: str | None = None
    health_check: HaproxyHealthCheck | None = HaproxyHealthCheck()
    sticky: HaproxyStickiness | None = None
    tls_cert: str = "/usr/local/etc/haproxy/certs/cert.pem"
    bind_address: str = "*"
    nameservers: tuple[str, ...] = ("127.0.0.11:53",)
    stats_port: int | None = 8404
    maxconn: int = 4096
    timeout_connect: str | float = "5s"
    timeout_client: str | float = "30s"
    timeout_server: str | float = "30s"


def _route_acl(path: str) -> tuple[str, str] | None:
    """(fetch, pattern) for a path glob; ``None`` for the catch-all."""
    if path in ("/*", "*", "/"):
        return None
    if path.endswith("/*") and not any(c in path[:-1] for c in "*?["):
        return ("path_beg", path[:-1])
    if not any(c in path for c in "*?["):
        return ("path", path)
    # fnmatch.translate gives "(?s:...)\Z"; haproxy's PCRE understands neither
    # the inline group flag nor \Z reliably, so build a plain anchored regex.
    regex = fnmatch.translate(path)
    regex = regex.removeprefix("(?s:").removesuffix(")\\Z")
    return ("path_reg", "^" + regex + "$")


def render_haproxy_cfg(ctx: HaproxyContext) -> str:
    """haproxy.cfg for one balancer (path routes, weights, checks, stickiness, TLS)."""
    if ctx.layer not in (4, 7):
        raise ValueError(f"layer must be 4 or 7, but {ctx.layer} was provided")
    if ctx.algorithm not in HAPROXY_ALGORITHMS:
        raise ValueError(f"unknown algorithm {ctx.algorithm!r}; expected one of {sorted(HAPROXY_ALGORITHMS)}")
    if not ctx.backends:
        raise ValueError("a balancer needs at least one backend")
    if ctx.layer == 4 and ctx.routes:
        raise ValueError("routes are layer 7 only; a layer-4 balancer forwards to its default backend")
    names = [_check_name("backend name", b.name) for b in ctx.backends]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate backend names in {names}")
    for b in ctx.backends:
        if not b.servers and b.template is None:
            raise ValueError(f"backend {b.name!r} has no servers")
        for s in b.servers:
            _check_name("server name", s.name)
            _check_name("server address", s.address)
            if not 0 <= s.weight <= 256:
                raise ValueError(f"haproxy weights are 0..256, but {s.weight} was provided")
    default_backend = ctx.default_backend or names[0]
    if default_backend not in names:
        raise ValueError(f"default backend {default_backend!r} is not one of {names}")

    # Group routes by path, keeping first-appearance order: several routes on
    # one path are one rule whose backend is picked at random by weight.
    groups: dict[str, list[HaproxyRoute]] = {}
    for r in ctx.routes:
        if r.backend not in names:
            raise ValueError(f"route {r.path!r} targets unknown backend {r.backend!r}")
        groups.setdefault(r.path, []).append(r)
    rules = []
    for i, (path, routes) in enumerate(groups.items()):
        acl = _route_acl(path)
        weights = [r.weight if r.weight is not None else 1 for r in routes]
        if any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError(f"weights of path {path!r} must be >= 0 and not all zero, but {weights} was provided")
        # Cumulative thresholds over rand(total): backend k takes [c_k-1, c_k).
        picks, upto = [], 0
        for r, w in zip(routes, weights):
            if w == 0:
                continue
            upto += w
            picks.append({"backend": r.backend, "below": upto})
        rules.append({"acl_name": f"route_{i}", "acl": acl, "total": upto, "picks": picks})
    # A catch-all route replaces the default backend (and ends matching).
    catch_all = [r for r in rules if r["acl"] is None]
    if catch_all and len(catch_all[0]["picks"]) == 1:
        default_backend = catch_all[0]["picks"][0]["backend"]

    tls_ports = [lst.port for lst in ctx.listeners if lst.tls]
    if any(lst.redirect_to_https for lst in ctx.listeners) and not tls_ports:
        raise ValueError("redirect_to_https needs a TLS listener to redirect to")
    return _render(
        "haproxy.cfg.j2",
        ctx=ctx,
        mode="http" if ctx.layer == 7 else "tcp",
        balance=HAPROXY_ALGORITHMS[ctx.algorithm],
        weighted=ctx.algorithm == "weighted",
        rules=rules,
        default_backend=default_backend,
        https_port=tls_ports[0] if tls_ports else None,
    )


# ==========================================================================
# nginx (reverse_proxies, pull and push cdns)
# ==========================================================================

@dataclass(frozen=True)
class NginxUpstream:
    """Where requests are proxied.

    host: IP or Docker DNS name of the upstream (a balancer or service alias).
    port: its port.
    scheme: ``http`` or ``https``.
    """

    host: str
    port: int = 80
    scheme: str = "http"


@dataclass(frozen=True)
class NginxTls:
    """TLS termination: ``listen PORT ssl http2`` (nginx 1.22 has no ``http2 on;``).

    port: TLS port.
    certificate / certificate_key: PEM paths inside the container.
    redirect_http: the plain ``NginxContext.port`` answers 301 to https.
    """

    port: int = 443
    certificate: str = "/etc/nginx/certs/cert.pem"
    certificate_key: str = "/etc/nginx/certs/key.pem"
    redirect_http: bool = True


@dataclass(frozen=True)
class NginxCache:
    """A proxy cache (reverse proxy ``cache`` or a pull CDN).

    TTL semantics follow CloudFront's default/min/max as closely as nginx 1.22
    allows (see :func:`cdn_ttl_directives`).

    default_ttl: TTL of a 200/206/301/302 response that carries no caching
        headers (``proxy_cache_valid``).
    min_ttl: > 0 makes nginx ignore the origin's Cache-Control/Expires (an
        origin cannot shorten the TTL below the minimum); every cacheable
        response is then cached for ``max(min_ttl, default_ttl)`` capped by max.
    max_ttl: entries unused for this long are evicted (``inactive=``); with
        ``min_ttl`` > 0 it also caps the TTL. nginx cannot shorten an origin's
        longer ``max-age`` while honouring it; documented approximation.
    max_size: cache size on disk (bytes or "256MiB").
    path: cache directory.
    zone: shared memory zone name.
    """

    default_ttl: str | float = "1m"
    min_ttl: str | float = 0
    max_ttl: str | float | None = None
    max_size: str | int = "256MiB"
    path: str = "/var/cache/nginx/topoform"
    zone: str = "topoform_cache"


@dataclass(frozen=True)
class NginxStatic:
    """Static files: ``location PREFIX { alias DIRECTORY/; }``.

    location: URL prefix ending in ``/`` (e.g. ``/static/``).
    directory: directory inside the container (the blueprint's ``./static``
        is mounted there by the provider).
    ttl: optional ``expires`` (Cache-Control max-age) for these files.
    """

    location: str
    directory: str
    ttl: str | float | None = None


@dataclass(frozen=True)
class NginxRateLimit:
    """Per client-IP request rate: ``limit_req_zone`` + ``limit_req``; excess gets 429.

    requests_per_second: sustained rate.
    burst: requests queued above the rate (served without delay: ``nodelay``).
    zone_size: shared memory for client states.
    """

    requests_per_second: int
    burst: int = 0
    zone_size: str = "10m"


@dataclass(frozen=True)
class NginxRuntime:
    """Process-level paths, so the same config runs in the image and in a temp prefix.

    user: worker user (``nginx`` in the official image; ``None`` omits the line).
    worker_processes: ``auto`` or a number.
    pid / error_log / access_log: file paths (``/dev/stderr`` etc. in Docker).
    temp_dir: parent of client_body/proxy/fastcgi/uwsgi/scgi temp dirs.
    mime_types: path of ``mime.types`` (``None``: a tiny built-in map).
    resolver: DNS server for runtime name resolution (Docker: 127.0.0.11).
        With a resolver the upstream is a variable ``proxy_pass`` so that
        neither ``nginx -t`` nor start-up needs the name to exist.
    """

    user: str | None = "nginx"
    worker_processes: str = "auto"
    pid: str = "/var/run/nginx.pid"
    error_log: str = "/dev/stderr"
    access_log: str = "/dev/stdout"
    temp_dir: str = "/var/cache/nginx"
    mime_types: str | None = "/etc/nginx/mime.types"
    resolver: str | None = "127.0.0.11"


_DEFAULT_GZIP_TYPES = (
    "text/plain", "text/css", "text/xml", "text/javascript", "application/javascript",
    "application/json", "application/xml", "application/rss+xml", "image/svg+xml",
)


@dataclass(frozen=True)
class NginxContext:
    """One nginx.conf: a reverse proxy, a pull CDN (upstream + cache) or a push
    CDN (``root`` directory, no upstream).

    name: component name (log/zone naming).
    port: plain HTTP port.
    upstream: proxied origin; ``None`` for a push CDN.
    root: push CDN content directory served at ``/``.
    root_ttl: push CDN ``expires``/Cache-Control max-age for ``root`` files.
    tls: TLS listener (``None``: plain HTTP only).
    compression: gzip on for ``gzip_types``.
    gzip_types: MIME types compressed (text/html is always compressed).
    cache: proxy cache; ``None`` disables it.
    static: a static location in front of the upstream.
    rate_limit: per-IP limit; ``None`` disables.
    allow / deny: CIDRs. ``deny`` entries are refused with 403; if ``allow``
        is not empty, everything not allowed is refused too.
    runtime: process-level paths.
    """

    name: str
    port: int = 80
    upstream: NginxUpstream | None = None
    root: str | None = None
    root_ttl: str | float | None = None
    tls: NginxTls | None = None
    compression: bool = False
    gzip_types: tuple[str, ...] = _DEFAULT_GZIP_TYPES
    cache: NginxCache | None = None
    static: NginxStatic | None = None
    rate_limit: NginxRateLimit | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    runtime: NginxRuntime = NginxRuntime()


def cdn_ttl_directives(cache: NginxCache) -> list[str]:
    """The nginx directives that approximate CloudFront's default/min/max TTL.

    - default → ``proxy_cache_valid 200 206 301 302 <default>``: nginx applies
      it only when the origin sends no Cache-Control/Expires, which is exactly
      CloudFront's *default TTL*.
    - min > 0 → ``proxy_ignore_headers Cache-Control Expires`` and the TTL
      becomes ``clamp(default, min, max)``: the origin can no longer ask for
      less than the minimum (nor more than the maximum).
    - max → the ``inactive=`` of ``proxy_cache_path`` (see the template); with
      min = 0 an origin's longer ``max-age`` is honoured (nginx 1.22 has no
      clamp short of ignoring the header).
    """
    default = parse_duration(cache.default_ttl)
    low = parse_duration(cache.min_ttl)
    high = parse_duration(cache.max_ttl) if cache.max_ttl is not None else None
    if high is not None and high < low:
        raise ValueError(f"max TTL {cache.max_ttl!r} is below min TTL {cache.min_ttl!r}")
    lines = []
    if low > 0:
        ttl = max(default, low)
        if high is not None:
            ttl = min(ttl, high)
        lines.append("proxy_ignore_headers Cache-Control Expires;")
    else:
        ttl = default
    lines.append(f"proxy_cache_valid 200 206 301 302 {_nginx_time(ttl)};")
    return lines


def render_nginx_conf(ctx: NginxContext) -> str:
    """nginx.conf for a reverse proxy or CDN node (TLS, gzip, cache, rate limit, ACLs)."""
    if (ctx.upstream is None) == (ctx.root is None):
        raise ValueError("an nginx site needs exactly one of upstream (proxy / pull CDN) or root (push CDN)")
    if ctx.cache is not None and ctx.upstream is None:
        raise ValueError("a proxy cache needs an upstream")
    for cidr in (*ctx.allow, *ctx.deny):
        ipaddress.ip_network(cidr, strict=False)  # raises ValueError on junk
    if ctx.upstream is not None:
        _check_name("upstream host", ctx.upstream.host)
        if ctx.upstream.scheme not in ("http", "https"):
            raise ValueError(f"upstream scheme must be http or https, not {ctx.upstream.scheme!r}")
    if ctx.static is not None and not ctx.static.location.endswith("/"):
        raise ValueError(f"static location must end with '/', but {ctx.static.location!r} was provided")
    cache_size = None
    inactive = None
    ttl_lines: list[str] = []
    if ctx.cache is not None:
        _check_name("cache zone", ctx.cache.zone)
        cache_size = f"{max(1, parse_size(ctx.cache.max_size) // (1024 * 1024))}m"
        inactive = _nginx_time(ctx.cache.max_ttl if ctx.cache.max_ttl is not None else "1d")
        ttl_lines = cdn_ttl_directives(ctx.cache)
    return _render(
        "nginx.conf.j2",
        ctx=ctx,
        rt=ctx.runtime,
        cache_size=cache_size,
        cache_inactive=inactive,
        ttl_lines=ttl_lines,
        zone_prefix=re.sub(r"[^A-Za-z0-9_]", "_", ctx.name),
    )


# ==========================================================================
# redis / valkey / memcached (caches)
# ==========================================================================

REDIS_POLICIES = (
    "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu",
    "volatile-random", "allkeys-random", "volatile-ttl", "noeviction",
)


@dataclass(frozen=True)
class RedisContext:
    """redis.conf (valkey reads the same file).

    port / bind: listening address (``0.0.0.0`` in Docker).
    maxmemory: bytes or a size ("512MiB", redis "2mb"); ``None``: no limit.
    maxmemory_policy: eviction policy, passed through unchecked on purpose:
        redis itself rejects a bad one at start-up (tests rely on that).
    appendonly: AOF persistence.
    replicaof: (host, port) of the primary for a replica.
    requirepass: password clients must AUTH with (``None``: none).
    masterauth: password a replica uses towards its primary.
    dir: working directory (AOF/RDB files).
    save: RDB snapshot rules ("" disables snapshots).
    protected_mode: redis' protected mode (off in Docker, where bind is 0.0.0.0).
    """

    port: int = 6379
    bind: str = "0.0.0.0"
    maxmemory: str | int | None = None
    maxmemory_policy: str | None = None
    appendonly: bool = False
    replicaof: tuple[str, int] | None = None
    requirepass: str | None = None
    masterauth: str | None = None
    dir: str = "/data"
    save: str = ""
    protected_mode: bool = False


def _redis_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_redis_conf(ctx: RedisContext) -> str:
    """redis.conf: memory limit + policy, AOF, replication, password."""
    for label, secret in (("requirepass", ctx.requirepass), ("masterauth", ctx.masterauth)):
        if secret is not None and ("\n" in secret or "\r" in secret):
            raise ValueError(f"{label} must be one line")
    if ctx.replicaof is not None:
        _check_name("replicaof host", ctx.replicaof[0])
    return _render(
        "redis.conf.j2",
        ctx=ctx,
        maxmemory=parse_size(ctx.maxmemory) if ctx.maxmemory is not None else None,
        quote=_redis_quote,
    )


@dataclass(frozen=True)
class MemcachedContext:
    """memcached command line.

    memory: item memory (bytes or "64MiB"); memcached's ``-m`` is in MiB.
    port: TCP port (``-p``).
    max_connections: ``-c``.
    listen: ``-l`` address (``None``: all).
    threads: ``-t``.
    """

    memory: str | int = "64MiB"
    port: int = 11211
    max_connections: int = 1024
    listen: str | None = None
    threads: int = 4


def memcached_args(ctx: MemcachedContext) -> list[str]:
    """Arguments after ``memcached`` (the image's entrypoint) for one cache node."""
    mib = max(1, parse_size(ctx.memory) // (1024 * 1024))
    args = ["-m", str(mib), "-p", str(ctx.port), "-c", str(ctx.max_connections), "-t", str(ctx.threads)]
    if ctx.listen:
        args += ["-l", ctx.listen]
    return args


# ==========================================================================
# PostgreSQL streaming replication, MariaDB, backups
# ==========================================================================

_SLOT = re.compile(r"^[a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class PostgresReplicationContext:
    """Primary side of streaming replication.

    replication_user: role created with REPLICATION LOGIN.
    password_env: environment variable holding that role's password (never
        written into the file).
    hba_address: client address column of the ``host replication`` line.
    max_wal_senders / max_replication_slots: at least replicas + spare.
    wal_keep_size: WAL kept for a lagging replica (MB), on top of slots.
    synchronous_standby_names: e.g. ``ANY 1 (*)`` for a synchronous replica; "" async.
    """

    replication_user: str = "repl"
    password_env: str = "REPLICATION_PASSWORD"
    hba_address: str = "all"
    max_wal_senders: int = 10
    max_replication_slots: int = 10
    wal_keep_size: int = 256
    synchronous_standby_names: str = ""


def _pg_ident(value: str) -> str:
    if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", value):
        raise ValueError(f"invalid PostgreSQL identifier {value!r}")
    return value


def render_postgres_replication_conf(ctx: PostgresReplicationContext) -> str:
    """postgresql.conf lines for a primary (an ``include`` file or ``-c`` pairs)."""
    return _render("postgres-replication.conf.j2", ctx=ctx)


def render_postgres_primary_init(ctx: PostgresReplicationContext) -> str:
    """/docker-entrypoint-initdb.d/ script: replication role, pg_hba line, settings.

    The official image runs it once, after initdb, against a socket-only
    server; it restarts the server afterwards, so settings take effect.
    """
    _pg_ident(ctx.replication_user)
    if not re.match(r"^[A-Z_][A-Z0-9_]*$", ctx.password_env):
        raise ValueError(f"invalid environment variable name {ctx.password_env!r}")
    return _render(
        "postgres-primary-init.sh.j2",
        ctx=ctx,
        settings=render_postgres_replication_conf(ctx),
    )


@dataclass(frozen=True)
class PostgresReplicaContext:
    """A streaming replica's entrypoint.

    primary_host / primary_port: defaults for ``$PRIMARY_HOST``/``$PRIMARY_PORT``.
    replication_user: role on the primary.
    password_env: environment variable holding its password.
    slot: physical replication slot (created with ``-C`` on first copy).
    retries / retry_delay: bounded wait for the primary to accept connections.
    """

    primary_host: str = "primary"
    primary_port: int = 5432
    replication_user: str = "repl"
    password_env: str = "REPLICATION_PASSWORD"
    slot: str = "replica_1"
    retries: int = 60
    retry_delay: int = 2


def render_postgres_replica_entrypoint(ctx: PostgresReplicaContext) -> str:
    """Shell entrypoint: ``pg_basebackup -R -X stream -C -S slot`` until it works, then ``exec "$@"``.

    The final command is the script's arguments (default ``postgres``) so
    Docker passes ``docker-entrypoint.sh postgres`` and tests pass a port.
    An already initialised ``$PGDATA`` (container restart) skips the copy.
    """
    if not _SLOT.match(ctx.slot):
        raise ValueError(f"replication slot names are [a-z0-9_]{{1,63}}, but {ctx.slot!r} was provided")
    _pg_ident(ctx.replication_user)
    _check_name("primary host", ctx.primary_host)
    return _render("postgres-replica-entrypoint.sh.j2", ctx=ctx)


@dataclass(frozen=True)
class MariadbReplicationContext:
    """MariaDB/MySQL binlog replication, ``my.cnf`` side.

    server_id: unique per node (primary 1, replicas 2..).
    role: ``primary`` or ``replica``.
    log_bin: binlog base name.
    binlog_format: ROW is the safe default.
    gtid_strict_mode: MariaDB GTID strictness.
    read_only: replicas refuse writes from non-replication clients.
    """

    server_id: int
    role: str = "primary"
    log_bin: str = "mysql-bin"
    binlog_format: str = "ROW"
    gtid_strict_mode: bool = True
    read_only: bool | None = None


def render_mariadb_cnf(ctx: MariadbReplicationContext) -> str:
    """A ``/etc/mysql/conf.d/*.cnf`` with server-id and binlog for replication."""
    if ctx.role not in ("primary", "replica"):
        raise ValueError(f"role must be primary or replica, not {ctx.role!r}")
    if ctx.server_id < 1:
        raise ValueError("server_id must be >= 1")
    read_only = ctx.read_only if ctx.read_only is not None else ctx.role == "replica"
    return _render("mariadb-replication.cnf.j2", ctx=ctx, read_only=read_only)


def mariadb_replication_env(
    role: str, *, primary_host: str = "primary", primary_port: int = 3306,
    user: str = "repl", password_env: str = "REPLICATION_PASSWORD",
) -> dict[str, str]:
    """Environment of the official mariadb image (10.11+/11.x) for replication.

    The image itself creates the replication user on the primary
    (``MARIADB_REPLICATION_USER``/``_PASSWORD``) and, on a replica, runs
    ``CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`` + ``START REPLICA``
    when ``MARIADB_MASTER_HOST`` is set. The password value is taken from
    ``$password_env`` as a ``${...}`` reference for the caller to resolve.
    """
    env = {"MARIADB_REPLICATION_USER": user, "MARIADB_REPLICATION_PASSWORD": f"${{{password_env}}}"}
    if role == "replica":
        env |= {"MARIADB_MASTER_HOST": primary_host, "MARIADB_MASTER_PORT": str(primary_port)}
    elif role != "primary":
        raise ValueError(f"role must be primary or replica, not {role!r}")
    return env


@dataclass(frozen=True)
class GaleraContext:
    """Galera (multi-primary MariaDB) ``wsrep`` settings for one node.

    cluster_name: ``wsrep_cluster_name``.
    nodes: host names of all members (``gcomm://a,b,c``).
    node_name / node_address: this node.
    provider: path of libgalera in the image.
    sst_method: state transfer; ``mariabackup`` authenticates as
        ``sst_user``:``sst_password`` (the provider writes this file from a
        secret; ``None`` leaves ``wsrep_sst_auth`` out).
    """

    cluster_name: str
    nodes: tuple[str, ...]
    node_name: str
    node_address: str
    provider: str = "/usr/lib/galera/libgalera_smm.so"
    sst_method: str = "mariabackup"
    sst_user: str = "mariabackup"
    sst_password: str | None = None


def render_galera_cnf(ctx: GaleraContext) -> str:
    """``[galera]`` section; the first node bootstraps with ``--wsrep-new-cluster``."""
    if len(ctx.nodes) < 3:
        # Two nodes lose quorum when one fails, which defeats multi-primary.
        raise ValueError(f"Galera needs at least 3 nodes for quorum, but {len(ctx.nodes)} were provided")
    for n in (*ctx.nodes, ctx.node_name, ctx.node_address):
        _check_name("galera node", n)
    return _render("galera.cnf.j2", ctx=ctx)


@dataclass(frozen=True)
class BackupContext:
    """A backup sidecar (DR strategy ``backup``): dump, compress, prune, sleep.

    engine: ``postgres``, ``mysql`` or ``mariadb``.
    host / port / user / database: what to dump (port and user default to
        the engine's: 5432/postgres, 3306/root).
    password_env: variable holding the password (exported as PGPASSWORD /
        MYSQL_PWD for the dump tool).
    interval: between dumps.
    retention: dumps older than this are deleted.
    directory: where dumps go (a volume).
    """

    engine: str
    host: str
    database: str
    port: int | None = None
    user: str | None = None
    password_env: str = "DB_PASSWORD"
    interval: str | float = "1h"
    retention: str | float = "7d"
    directory: str = "/backup"


def render_backup_script(ctx: BackupContext) -> str:
    """POSIX sh loop; ``--once`` (or ``BACKUP_ONCE=1``) runs one dump and exits."""
    if ctx.engine not in ("postgres", "mysql", "mariadb"):
        raise ValueError(f"engine must be postgres, mysql or mariadb, not {ctx.engine!r}")
    _check_name("database host", ctx.host)
    _check_name("database name", ctx.database)
    port = ctx.port or (5432 if ctx.engine == "postgres" else 3306)
    user = ctx.user or ("postgres" if ctx.engine == "postgres" else "root")
    retention_minutes = max(1, int(math.ceil(parse_duration(ctx.retention) / 60)))
    return _render(
        "backup.sh.j2", ctx=ctx, port=port, user=user,
        interval=max(1, int(math.ceil(parse_duration(ctx.interval)))),
        retention_minutes=retention_minutes,
    )


# ==========================================================================
# RabbitMQ (queues)
# ==========================================================================

def rabbitmq_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password)).

    ``salt`` is 4 bytes; random unless given (tests pin it for determinism).
    """
    salt = os.urandom(4) if salt is None else salt
    if len(salt) != 4:
        raise ValueError("RabbitMQ salts are 4 bytes")
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


@dataclass(frozen=True)
class RabbitmqUser:
    """A user and its permissions on the context's vhost.

    name / password: credentials (the password is hashed into the definitions).
    tags: e.g. ``("administrator",)``.
    configure / write / read: permission regexes.
    """

    name: str
    password: str
    tags: tuple[str, ...] = ()
    configure: str = ".*"
    write: str = ".*"
    read: str = ".*"


@dataclass(frozen=True)
class RabbitmqQueue:
    """One blueprint queue.

    name: queue name.
    max_depth: queue length limit; with ``x-overflow: reject-publish`` a
        publisher using confirms gets a nack beyond it (back pressure). A
        quorum queue rejects only once it is *over* ``x-max-length``, so that
        is set to max_depth - 1; under concurrent publishers the limit is soft
        (a few in-flight messages may still get in).
    max_receives: deliveries before dead-lettering (``x-delivery-limit`` of a
        quorum queue is the number of *re*-deliveries allowed, so it is set to
        max_receives - 1; see tests). ``None``: no DLQ.
    retention: ``x-message-ttl`` (quorum queues honour it since 3.10).
    fifo: one consumer at a time (``x-single-active-consumer``) keeps order.
    quorum: quorum queue (needed for ``x-delivery-limit``); classic otherwise.
    """

    name: str
    max_depth: int | None = None
    max_receives: int | None = None
    retention: str | float | None = None
    fifo: bool = False
    quorum: bool = True

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.name}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


@dataclass(frozen=True)
class RabbitmqContext:
    """rabbitmq.conf + definitions.json for one broker.

    port: AMQP port (``listeners.tcp.default``).
    listen: bind address (``None``: all interfaces).
    definitions_path: where definitions.json is mounted.
    vhost: the one vhost.
    users: users with permissions on ``vhost``.
    queues: the queues (with their DLQs).
    consumer_timeout: the closest thing to SQS visibility timeout: an
        unacknowledged delivery older than this closes the consumer's channel
        and the message is redelivered (broker-wide in 3.10). ``None``: default.
    management: set the management listener to ``management_port`` (needs
        the rabbitmq_management plugin, i.e. a ``*-management`` image;
        without the plugin the broker refuses the unknown key).
    salt: fixed 4-byte salt for reproducible hashes (tests); random if ``None``.
    """

    port: int = 5672
    listen: str | None = None
    definitions_path: str = "/etc/rabbitmq/definitions.json"
    vhost: str = "/"
    users: tuple[RabbitmqUser, ...] = ()
    queues: tuple[RabbitmqQueue, ...] = ()
    consumer_timeout: str | float | None = None
    management: bool = False
    management_port: int = 15672
    salt: bytes | None = None


def render_rabbitmq_conf(ctx: RabbitmqContext) -> str:
    """rabbitmq.conf (sysctl format): listener, definitions import, guest off."""
    listener = f"{ctx.listen}:{ctx.port}" if ctx.listen else str(ctx.port)
    timeout_ms = int(parse_duration(ctx.consumer_timeout) * 1000) if ctx.consumer_timeout is not None else None
    return _render("rabbitmq.conf.j2", ctx=ctx, listener=listener, consumer_timeout_ms=timeout_ms)


def pretty_json(doc: Any) -> str:
    """Indented JSON for files people may read in a container; orjson, because
    the stdlib's indent= falls back to its pure-Python encoder (the largest
    cost of compiling many queues)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def render_rabbitmq_definitions(ctx: RabbitmqContext) -> str:
    """definitions.json loaded at boot (``load_definitions``): users, vhost, queues, DLQs."""
    if not ctx.users:
        raise ValueError("RabbitMQ definitions need at least one user (guest is loopback-only)")
    users, permissions = [], []
    for u in ctx.users:
        users.append({
            "name": u.name,
            "password_hash": rabbitmq_password_hash(u.password, ctx.salt),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": ",".join(u.tags),
        })
        permissions.append({"user": u.name, "vhost": ctx.vhost, "configure": u.configure, "write": u.write, "read": u.read})
    queues, exchanges, bindings = [], [], []
    for q in ctx.queues:
        args: dict[str, object] = {}
        if q.quorum:
            args["x-queue-type"] = "quorum"
        if q.max_depth is not None:
            if q.max_depth < 1:
                raise ValueError(f"max_depth must be >= 1, but {q.max_depth} was provided")
            # A quorum queue refuses publishes only once it is *over* its
            # limit (3.10, checked on a real broker), so it holds limit + 1.
            args["x-max-length"] = q.max_depth - 1 if q.quorum else q.max_depth
            args["x-overflow"] = "reject-publish"
        if q.retention is not None:
            args["x-message-ttl"] = int(parse_duration(q.retention) * 1000)
        if q.fifo:
            args["x-single-active-consumer"] = True
        if q.max_receives is not None:
            if q.max_receives < 1:
                raise ValueError(f"max_receives must be >= 1, but {q.max_receives} was provided")
            if not q.quorum:
                raise ValueError("max_receives needs a quorum queue (classic queues have no delivery limit)")
            args["x-delivery-limit"] = q.max_receives - 1
            args["x-dead-letter-exchange"] = q.dead_letter_exchange
            args["x-dead-letter-routing-key"] = q.dead_letter_queue
        queues.append({"name": q.name, "vhost": ctx.vhost, "durable": True, "auto_delete": False, "arguments": args})
        if q.max_receives is not None:
            exchanges.append({"name": q.dead_letter_exchange, "vhost": ctx.vhost, "type": "direct",
                              "durable": True, "auto_delete": False, "internal": False, "arguments": {}})
            queues.append({"name": q.dead_letter_queue, "vhost": ctx.vhost, "durable": True, "auto_delete": False,
                           "arguments": {"x-queue-type": "quorum"}})
            bindings.append({"source": q.dead_letter_exchange, "vhost": ctx.vhost,
                             "destination": q.dead_letter_queue, "destination_type": "queue",
                             "routing_key": q.dead_letter_queue, "arguments": {}})
    doc = {
        "users": users,
        "vhosts": [{"name": ctx.vhost}],
        "permissions": permissions,
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
    }
    return pretty_json(doc)


# ==========================================================================
# DNS: PowerDNS authoritative with LUA records (dns)
# ==========================================================================

@dataclass(frozen=True)
class DnsEndpoint:
    """One answer candidate.

    address: an IPv4/IPv6 address, or a host name (answered as a CNAME).
    weight: for ``weighted`` routing.
    role: ``primary``/``secondary`` for ``failover``.
    default: the fallback of ``geolocation``.
    continent / country / region: location hints (geolocation / latency).
    """

    address: str
    weight: int | None = None
    role: str | None = None
    default: bool = False
    continent: str | None = None
    country: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class DnsHealthCheck:
    """Failover health check (``ifurlup``).

    path: HTTP path fetched on each candidate address.
    port: port of the checked URL (the endpoint's HTTP port).
    scheme: ``http`` or ``https``.
    interval / failure_threshold: pdns 4.7 checks every
        ``lua-health-checks-interval`` seconds (a server-wide setting, see
        :class:`PdnsContext`) and has no failure threshold (a warning says so).
    timeout: per check, seconds.
    """

    path: str = "/"
    port: int = 80
    scheme: str = "http"
    interval: str | float = "10s"
    failure_threshold: int = 3
    timeout: str | float = "2s"


@dataclass(frozen=True)
class DnsRecord:
    """A blueprint ``dns.records`` entry.

    name: label in the zone (``www``; ``@`` for the apex).
    routing: simple | weighted | failover | latency | geolocation.
    endpoints: candidates (already resolved to addresses by the compiler).
    health_check: failover only.
    ttl: record TTL (defaults to the zone's).
    """

    name: str
    routing: str
    endpoints: tuple[DnsEndpoint, ...]
    health_check: DnsHealthCheck | None = None
    ttl: str | float | None = None


@dataclass(frozen=True)
class DnsZoneContext:
    """A zone file for the bind backend.

    zone: e.g. ``shop.example.com``.
    records: the records.
    ttl: default TTL.
    nameserver: NS host name (relative to the zone) and ``nameserver_address`` its A record.
    serial: SOA serial.
    """

    zone: str
    records: tuple[DnsRecord, ...] = ()
    ttl: str | float = "60s"
    nameserver: str = "ns1"
    nameserver_address: str = "127.0.0.1"
    serial: int = 1


@dataclass(frozen=True)
class RenderedZone:
    """A zone file and the mapping caveats (e.g. latency routing without GeoIP)."""

    text: str
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


_ROUTINGS = ("simple", "weighted", "failover", "latency", "geolocation")


def _record_type(addresses: list[str]) -> str:
    kinds = set()
    for a in addresses:
        try:
            kinds.add("A" if ipaddress.ip_address(a).version == 4 else "AAAA")
        except ValueError:
            _check_name("DNS target", a.rstrip("."))
            kinds.add("CNAME")
    if len(kinds) != 1:
        raise ValueError(f"endpoints of one record must be all IPv4, all IPv6 or all names, not {sorted(kinds)}")
    return kinds.pop()


def _dns_value(address: str, rtype: str) -> str:
    return address if rtype != "CNAME" or address.endswith(".") else address + "."


def render_pdns_zone(ctx: DnsZoneContext) -> RenderedZone:
    """Zone file with LUA records for weighted/failover routing.

    - simple: plain A/AAAA (all endpoints) or a CNAME (the first).
    - weighted: ``LUA A "pickwrandom({{w,'ip'},...})"`` (per-query random pick).
    - failover: ``LUA A "ifurlup('URL', {{'primary'},{'secondary'}})"``: the
      secondary is answered only while every primary fails the URL check.
    - latency / geolocation: ``pickclosest``/``continent()`` need a GeoIP
      database that a local stack does not have; the default (geolocation) or
      first (latency) endpoint is answered and a warning says so.
    """
    _check_name("zone", ctx.zone.rstrip("."))
    warnings: list[str] = []
    lines = []
    seen: set[str] = set()
    for rec in ctx.records:
        if rec.routing not in _ROUTINGS:
            raise ValueError(f"unknown routing {rec.routing!r}; expected one of {_ROUTINGS}")
        if rec.name != "@":
            _check_name("record name", rec.name)
        if rec.name in seen:
            raise ValueError(f"record {rec.name!r} is defined twice")
        seen.add(rec.name)
        if not rec.endpoints:
            raise ValueError(f"record {rec.name!r} has no endpoints")
        ttl = _seconds_filter(rec.ttl) if rec.ttl is not None else ""
        addrs = [e.address for e in rec.endpoints]
        rtype = _record_type(addrs)
        if rec.routing == "simple":
            if rtype == "CNAME":
                if len(addrs) > 1:
                    warnings.append(f"{rec.name}: a CNAME has one target; answering {addrs[0]} only")
                lines.append((rec.name, ttl, "CNAME", _dns_value(addrs[0], rtype)))
            else:
                lines.extend((rec.name, ttl, rtype, a) for a in dict.fromkeys(addrs))
        elif rec.routing == "weighted":
            weights = [e.weight if e.weight is not None else 1 for e in rec.endpoints]
            if any(w < 0 for w in weights) or sum(weights) == 0:
                raise ValueError(f"{rec.name}: weights must be >= 0 and not all zero, but {weights} was provided")
            pairs = ",".join(f"{{{w},{_lua_str(_dns_value(a, rtype))}}}" for w, a in zip(weights, addrs) if w > 0)
            lines.append((rec.name, ttl, "LUA", f'{rtype} "pickwrandom({{{pairs}}})"'))
        elif rec.routing == "failover":
            primaries = [e for e in rec.endpoints if e.role == "primary"]
            secondaries = [e for e in rec.endpoints if e.role == "secondary"]
            if len(primaries) != 1 or len(secondaries) != 1:
                raise ValueError(f"{rec.name}: failover needs exactly one primary and one secondary endpoint")
            if rtype == "CNAME":
                raise ValueError(f"{rec.name}: failover endpoints must be IP addresses (ifurlup checks addresses)")
            hc = rec.health_check or DnsHealthCheck()
            if hc.scheme not in ("http", "https"):
                raise ValueError(f"health check scheme must be http or https, not {hc.scheme!r}")
            if not hc.path.startswith("/") or any(c in hc.path for c in "'\" "):
                raise ValueError(f"invalid health check path {hc.path!r}")
            url = f"{hc.scheme}://{rec.name if rec.name != '@' else ''}{'.' if rec.name != '@' else ''}{ctx.zone.rstrip('.')}:{hc.port}{hc.path}"
            opts = f"{{timeout={max(1, _seconds_filter(hc.timeout))}}}"
            lines.append((rec.name, ttl, "LUA",
                          f"{rtype} \"ifurlup({_lua_str(url)}, {{{{{_lua_str(primaries[0].address)}}},"
                          f"{{{_lua_str(secondaries[0].address)}}}}}, {opts})\""))
            if hc.failure_threshold > 1:
                warnings.append(
                    f"{rec.name}: pdns 4.7 marks an endpoint down on its first failed check; "
                    f"failure_threshold {hc.failure_threshold} is not applied")
        else:  # latency, geolocation
            if rec.routing == "geolocation":
                chosen = next((e for e in rec.endpoints if e.default), rec.endpoints[0])
                why = "the default endpoint" if chosen.default else "the first endpoint (no default given)"
            else:
                chosen = rec.endpoints[0]
                why = "the first endpoint"
            warnings.append(
                f"{rec.name}: {rec.routing} routing needs a GeoIP database (pdns pickclosest/continent), "
                f"which the local Docker target has not; every client gets {why}, {chosen.address}")
            lines.append((rec.name, ttl, "CNAME" if rtype == "CNAME" else rtype, _dns_value(chosen.address, rtype)))
    return RenderedZone(_render("pdns-zone.j2", ctx=ctx, lines=lines, zone=ctx.zone.rstrip(".")), tuple(warnings))


@dataclass(frozen=True)
class PdnsContext:
    """pdns.conf + the bind backend's named.conf.

    zones: (zone name, zone file path) pairs.
    local_address / local_port: where pdns answers.
    config_dir: directory holding named.conf (``bind-config``).
    health_check_interval: ``lua-health-checks-interval`` (seconds) — server-wide.
    packet_cache_ttl: 0 so every query re-runs the LUA record (weighted
        answers stay random per query, failover reacts at once).
    socket_dir: control socket directory.
    webserver / api: off; the container needs nothing else.
    """

    zones: tuple[tuple[str, str], ...]
    local_address: str = "0.0.0.0"
    local_port: int = 53
    config_dir: str = "/etc/powerdns"
    health_check_interval: str | float = "5s"
    packet_cache_ttl: int = 0
    socket_dir: str = "/var/run/pdns"


def render_pdns_named_conf(ctx: PdnsContext) -> str:
    """named.conf listing the zones for the bind backend."""
    for zone, path in ctx.zones:
        _check_name("zone", zone.rstrip("."))
        if '"' in path or "\n" in path:
            raise ValueError(f"invalid zone file path {path!r}")
    return _render("pdns-named.conf.j2", ctx=ctx)


def render_pdns_conf(ctx: PdnsContext) -> str:
    """pdns.conf: bind backend, LUA records on, caches off, short health-check interval."""
    return _render("pdns.conf.j2", ctx=ctx)
