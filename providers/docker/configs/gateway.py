"""nginx.conf for API gateways: routes and versions as locations, auth, limits, CORS, GET caching.

nginx OSS has no JWT module: a route that needs a token is guarded by
`auth_request` to the gateway's verifier container (templates/jwt-verifier.py).
API keys are a `map` of the accepted keys. Each upstream is an `upstream`
block whose `max_fails`/`fail_timeout` is nginx's passive circuit breaker:
after `failures` errors a server is left alone for `cooldown`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .nginx import NginxRuntime
from .rendering import check_name, nginx_time, render, to_bytes

_HEADER_VALUE = re.compile(r"^[A-Za-z0-9 ,._:/*+-]*$")


@dataclass(frozen=True)
class GatewayUpstream:
    """One service the gateway routes to: `name` is the upstream block, `host:port` its address."""

    name: str
    host: str
    port: int


@dataclass(frozen=True)
class GatewayRouteConf:
    """One location: `path` prefix, allowed `methods` (empty: all), its upstream and policies."""

    path: str
    upstream: str
    methods: tuple[str, ...] = ()
    auth: bool = False
    rate: int | None = None  # requests per second per client on this route
    burst: int = 0
    cache_ttl: float | None = None
    timeout: float = 30.0
    retries: int = 1


@dataclass(frozen=True)
class GatewayCors:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    max_age: float


@dataclass(frozen=True)
class GatewayContext:
    """One gateway's nginx.conf.

    jwt_verifier: `host:port` of the verifier (`auth_request`), or None.
    api_keys: accepted X-Api-Key values (a `map`), or empty.
    rate / burst: per-client limit over every route (429 past it).
    failures / cooldown: the circuit breaker of every upstream.
    """

    name: str
    port: int
    upstreams: tuple[GatewayUpstream, ...]
    routes: tuple[GatewayRouteConf, ...]
    jwt_verifier: str | None = None
    api_keys: tuple[str, ...] = ()
    rate: int | None = None
    burst: int = 0
    max_body_size: int = 1024**2
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    cors: GatewayCors | None = None
    failures: int = 5
    cooldown: float = 30.0
    access_logs: bool = True
    cache_path: str = "/var/cache/nginx/gateway"
    runtime: NginxRuntime = NginxRuntime(resolver=None)


def _zone(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def render_gateway_conf(ctx: GatewayContext) -> str:
    """The gateway's nginx.conf; refuses names, CIDRs and header values that could break the file."""
    for cidr in (*ctx.allow, *ctx.deny):
        ipaddress.ip_network(cidr, strict=False)
    for upstream in ctx.upstreams:
        check_name("upstream", upstream.name)
        check_name("upstream host", upstream.host)
    for key in ctx.api_keys:
        if not re.fullmatch(r"[A-Za-z0-9._~+/=-]{8,256}", key):
            raise ValueError("an API key is 8-256 characters of letters, digits and ._~+/=-")
    if ctx.cors is not None:
        for value in (*ctx.cors.origins, *ctx.cors.methods, *ctx.cors.headers):
            if not _HEADER_VALUE.match(value):
                raise ValueError(f"unsafe character in CORS value {value!r}")
    known = {u.name for u in ctx.upstreams}
    if len(ctx.routes) > 80:
        raise ValueError("a gateway holds at most 80 routes (each is picked by an internal status 520-599)")
    routes = []
    for i, route in enumerate(ctx.routes):
        if route.upstream not in known:
            raise ValueError(f"route {route.path} names no upstream {route.upstream!r}")
        if not re.fullmatch(r"/[A-Za-z0-9/_.-]*", route.path):
            raise ValueError(f"unsafe route path {route.path!r}")
        routes.append((i, route))
    by_path: dict[str, list[tuple[int, GatewayRouteConf]]] = {}
    for i, route in routes:
        by_path.setdefault(route.path, []).append((i, route))
    return render("gateway.conf.j2", ctx=ctx, rt=ctx.runtime, by_path=by_path, zone=_zone(ctx.name),
                  body_size=f"{max(1, to_bytes(ctx.max_body_size) // 1024)}k",
                  cooldown=nginx_time(ctx.cooldown), nginx_time=nginx_time,
                  any_cache=any(route.cache_ttl for route in ctx.routes))
