"""nginx.conf for reverse proxies and pull/push CDNs: TLS, gzip, proxy cache, static files, rate limits, ACLs."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .rendering import check_name, nginx_time, render, to_bytes, to_seconds


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
    forward_cookies: False is CloudFront's default cache behaviour: the
        viewer's cookies are not sent to the origin and the origin's
        Set-Cookie is removed, so a response that sets one (a sticky
        balancer's) is cached like any other. True keeps nginx's own rule:
        responses that set a cookie are not cached.
    """

    default_ttl: str | float = "1m"
    min_ttl: str | float = 0
    max_ttl: str | float | None = None
    max_size: str | int = "256MiB"
    path: str = "/var/cache/nginx/topoform"
    zone: str = "topoform_cache"
    forward_cookies: bool = True


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
    host_redirects: tuple[tuple[int, int], ...] = ()


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
    default = to_seconds(cache.default_ttl)
    low = to_seconds(cache.min_ttl)
    high = to_seconds(cache.max_ttl) if cache.max_ttl is not None else None
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
    lines.append(f"proxy_cache_valid 200 206 301 302 {nginx_time(ttl)};")
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
        check_name("upstream host", ctx.upstream.host)
        if ctx.upstream.scheme not in ("http", "https"):
            raise ValueError(f"upstream scheme must be http or https, not {ctx.upstream.scheme!r}")
    if ctx.static is not None and not ctx.static.location.endswith("/"):
        raise ValueError(f"static location must end with '/', but {ctx.static.location!r} was provided")
    cache_size = None
    inactive = None
    ttl_lines: list[str] = []
    if ctx.cache is not None:
        check_name("cache zone", ctx.cache.zone)
        cache_size = f"{max(1, to_bytes(ctx.cache.max_size) // (1024 * 1024))}m"
        inactive = nginx_time(ctx.cache.max_ttl if ctx.cache.max_ttl is not None else "1d")
        ttl_lines = cdn_ttl_directives(ctx.cache)
    return render(
        "nginx.conf.j2",
        ctx=ctx,
        rt=ctx.runtime,
        cache_size=cache_size,
        cache_inactive=inactive,
        ttl_lines=ttl_lines,
        zone_prefix=re.sub(r"[^A-Za-z0-9_]", "_", ctx.name),
    )
