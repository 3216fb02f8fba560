"""Reverse proxies: nginx in front of an upstream component, `replicas` copies per running site.

Optional TLS (port 80 then redirects), gzip, a proxy cache, static files
uploaded from the blueprint's directory, a per-client rate limit (429) and
allow/deny CIDR lists (403).
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.models import ReverseProxy
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts

from .. import configs, nginx
from ..context import DockerContext
from ..facts import estimate

STATIC_DIR = "/usr/share/nginx/static"

endpoint = nginx.endpoint
attribute = nginx.attribute


def build(ctx: DockerContext, proxy: ReverseProxy) -> None:
    upstream = nginx.upstream(ctx, proxy.upstream)
    static = None
    static_uploads: list[dict[str, Any]] = []
    if proxy.static is not None:
        static = configs.NginxStatic(location=proxy.static.path if proxy.static.path.endswith("/")
                                     else proxy.static.path + "/", directory=STATIC_DIR)
        static_uploads = nginx.directory_uploads(ctx, proxy.static.directory, STATIC_DIR,
                                                 ("reverse_proxies", proxy.name, "static", "directory"))
    cache = None
    if proxy.cache is not None and _sticky_cookie_upstream(ctx, proxy):
        ctx.warn(f"{proxy.upstream} inserts a sticky-session cookie: nginx does not cache a response that "
                 "sets a cookie, so this proxy's cache misses for every client without that cookie",
                 "cache in a CDN in front (it drops cookies, as CloudFront does), or name the "
                 "application's own cookie in `sticky_sessions.cookie`",
                 "reverse_proxies", proxy.name, "cache")
    if proxy.cache is not None:
        cache = configs.NginxCache(default_ttl=proxy.cache.ttl, max_size=proxy.cache.max_size,
                                   max_ttl=max(proxy.cache.ttl, 86400.0))
    rate = None
    if proxy.rate_limit is not None or proxy.allow or proxy.deny:
        # Docker's port proxy connects from the bridge gateway, so nginx sees one
        # client address for every program on the host.
        ctx.warn("clients on this machine reach the proxy through Docker's bridge gateway, so nginx sees "
                 "them all as one address: they share one rate-limit bucket, and allow/deny rules cannot "
                 "tell them apart (containers on the stack's networks keep their own addresses)", None,
                 "reverse_proxies", proxy.name, "rate_limit" if proxy.rate_limit is not None
                 else ("deny" if proxy.deny else "allow"))
    if proxy.rate_limit is not None:
        rate = configs.NginxRateLimit(proxy.rate_limit.requests_per_second, proxy.rate_limit.burst)
    tls = configs.NginxTls(nginx.HTTPS_PORT, nginx.NGINX_CERT, nginx.NGINX_KEY, redirect_http=True)
    context = configs.NginxContext(
        name=ctx.names.host(proxy), port=nginx.HTTP_PORT, upstream=upstream, tls=tls if proxy.tls else None,
        compression=proxy.compression, cache=cache, static=static, rate_limit=rate,
        allow=tuple(proxy.allow), deny=tuple(proxy.deny))
    nginx.containers(ctx, proxy, context, static_uploads, proxy.replicas)


def _sticky_cookie_upstream(ctx: DockerContext, proxy: ReverseProxy) -> bool:
    """The upstream is a layer 7 balancer inserting its own cookie (no application cookie named)."""
    upstream = ctx.bp.component(proxy.upstream)
    sticky = getattr(upstream, "sticky_sessions", None)
    return sticky is not None and getattr(upstream, "layer", 4) == 7 and sticky.cookie is None


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("nginx")


def facts(ctx: Any, proxy: ReverseProxy, table: Mapping[str, Availability]) -> Facts:
    return common.replicated(ctx, proxy, table, implementation="nginx")
