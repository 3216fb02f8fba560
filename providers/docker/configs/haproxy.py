"""haproxy.cfg for load balancers: path routes with weights, health checks, stickiness, TLS."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from .rendering import check_name, render


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
    host_redirects: (published plain port, published https port) of this copy:
        a request that came through the plain host port (its Host header
        names it) is redirected to the https host port, so the redirect
        answers from the host; others go to the https listener's own port.
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
    host_redirects: tuple[tuple[int, int], ...] = ()


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
    names = [check_name("backend name", b.name) for b in ctx.backends]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate backend names in {names}")
    for b in ctx.backends:
        if not b.servers and b.template is None:
            raise ValueError(f"backend {b.name!r} has no servers")
        for s in b.servers:
            check_name("server name", s.name)
            check_name("server address", s.address)
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
    return render(
        "haproxy.cfg.j2",
        ctx=ctx,
        mode="http" if ctx.layer == 7 else "tcp",
        balance=HAPROXY_ALGORITHMS[ctx.algorithm],
        weighted=ctx.algorithm == "weighted",
        rules=rules,
        default_backend=default_backend,
        https_port=tls_ports[0] if tls_ports else None,
    )
