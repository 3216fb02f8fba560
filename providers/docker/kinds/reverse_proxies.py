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
    if proxy.cache is not None:
        cache = configs.NginxCache(default_ttl=proxy.cache.ttl, max_size=proxy.cache.max_size,
                                   max_ttl=max(proxy.cache.ttl, 86400.0))
    rate = None
    if proxy.rate_limit is not None:
        rate = configs.NginxRateLimit(proxy.rate_limit.requests_per_second, proxy.rate_limit.burst)
    tls = configs.NginxTls(nginx.HTTPS_PORT, nginx.NGINX_CERT, nginx.NGINX_KEY, redirect_http=True)
    context = configs.NginxContext(
        name=ctx.names.host(proxy), port=nginx.HTTP_PORT, upstream=upstream, tls=tls if proxy.tls else None,
        compression=proxy.compression, cache=cache, static=static, rate_limit=rate,
        allow=tuple(proxy.allow), deny=tuple(proxy.deny))
    nginx.containers(ctx, proxy, context, static_uploads, proxy.replicas)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("nginx")


def facts(ctx: Any, proxy: ReverseProxy, table: Mapping[str, Availability]) -> Facts:
    return common.replicated(ctx, proxy, table, implementation="nginx")
