"""Load balancers: haproxy, one or two copies per running site behind one alias.

- Every replica of a target service is an explicit `server` (by container
  name) with its weight; targets are always health-checked, like an AWS
  target group, with the balancer's check, else the single target service's
  own, else the defaults.
- `redundancy: active-active | active-passive` runs two copies. Docker has
  no floating VIP (keepalived), so active-passive cannot be honoured
  exactly: both copies serve, and a warning says so.
- TLS listeners use the component's self-signed certificate (`certificates.py`).
- Host-based routes are refused (the haproxy config routes by path only).
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.models import HealthCheck, LoadBalancer
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts

from .. import configs, images
from ..certificates import certificate
from ..containers import health, upload
from ..context import DockerContext
from ..endpoint import Endpoint, endpoint_attribute
from ..facts import estimate
from ..sites import site_suffix
from . import services

HAPROXY_CFG = "/usr/local/etc/haproxy/haproxy.cfg"
HAPROXY_PEM = "/usr/local/etc/haproxy/certs/cert.pem"
HAPROXY_STATS_PORT = 8404

# Renderers are pure functions of frozen contexts: identical configs (copies,
# sites, identical components) render once.
_haproxy = configs.cached("render_haproxy_cfg", maxsize=4096)


def tls_ports(lb: LoadBalancer) -> set[int]:
    return {lst.port for lst in lb.listeners if lst.tls}


def endpoint(ctx: DockerContext, lb: LoadBalancer) -> Endpoint:
    """The first plain listener (else the first TLS one): what `url` points at."""
    host = ctx.names.host(lb)
    plain = [lst for lst in lb.listeners if not lst.tls and not lst.redirect_to_https]
    secure = [lst for lst in lb.listeners if lst.tls]
    listener = (plain or secure or lb.listeners)[0]
    if lb.layer == 4:
        return Endpoint("tls" if listener.tls else "tcp", host, listener.port)
    return Endpoint("https" if listener.tls else "http", host, listener.port)


def attribute(ctx: DockerContext, lb: LoadBalancer, attr: str) -> str:
    return endpoint_attribute(ctx, lb, endpoint(ctx, lb), attr)


def health_probe(lb: LoadBalancer) -> tuple[str, int, str | None]:
    """(scheme, port, path) a DNS failover check probes: a plain HTTP listener, else haproxy's monitor URI.

    The monitor URI answers 200 while haproxy serves: a TLS listener has a
    self-signed certificate and a redirecting one only redirects. `path` None
    keeps the record's path.
    """
    plain = [lst for lst in lb.listeners if not lst.tls and not lst.redirect_to_https]
    if plain and lb.layer == 7:
        return "http", plain[0].port, None
    return "http", HAPROXY_STATS_PORT, "/healthz"


def build(ctx: DockerContext, lb: LoadBalancer) -> None:
    prefix, host = ctx.prefix(lb), ctx.names.host(lb)
    path = ("load_balancers", lb.name)
    if lb.routes and any(route.host for route in lb.routes):
        # Recorded, not raised: the rest of the balancer still builds, so what
        # depends on it (DNS answers) reports no follow-on problems.
        index = next(i for i, route in enumerate(lb.routes) if route.host)
        ctx.refuse("host-based routes are not supported by the docker target's haproxy config yet",
                   "route by path only, or deploy with --target aws", *path, "routes", index, "host")
    copies = 1 if lb.redundancy == "none" else 2
    if lb.redundancy == "active-passive":
        ctx.warn("active-passive needs a floating address (keepalived), which Docker networks do not offer: "
                 "the docker target runs both balancer copies active behind one alias",
                 "use `redundancy: active-active` to say what runs", *path, "redundancy")
    pem = None
    if tls_ports(lb):
        cert, key = certificate(ctx, lb)
        # haproxy's `crt` takes certificate and key in one PEM file.
        pem = {"file": HAPROXY_PEM, "content": f"{cert}{key}"}
    # Always check targets, like an AWS target group: without checks haproxy
    # keeps sending to a dead replica (and `source_hash` pins clients to it).
    check = lb.health_check or _target_health(ctx, lb) or HealthCheck()
    checks = configs.HaproxyHealthCheck(
        path=check.path if lb.layer == 7 else None, interval=check.interval,
        healthy=check.healthy, unhealthy=check.unhealthy, timeout=check.timeout)
    sticky = None
    if lb.sticky_sessions is not None:
        # A named cookie is the application's session cookie (AWS app_cookie): haproxy
        # must not replace it; without a name haproxy inserts its own (AWS lb_cookie).
        if lb.sticky_sessions.cookie is not None and lb.layer == 7 and "duration" in lb.sticky_sessions.model_fields_set:
            # haproxy's maxidle/maxlife apply to cookies it inserts, not to a prefixed one.
            ctx.warn("sticky_sessions.duration does not apply to the application's own cookie on docker: "
                     "the pin lasts as long as the application's cookie", "leave out `cookie` for a "
                     "balancer cookie that expires after `duration`", *path, "sticky_sessions", "duration")
        sticky = configs.HaproxyStickiness(cookie=lb.sticky_sessions.cookie or "SERVERID",
                                           duration=lb.sticky_sessions.duration,
                                           application_cookie=lb.sticky_sessions.cookie is not None)
    listeners = tuple(configs.HaproxyListener(lst.port, lst.tls, lst.redirect_to_https) for lst in lb.listeners)
    for site in ctx.sites.running:
        backends, routes = _backends(ctx, lb, site)
        published = []
        for i in range(copies):
            ports = [] if lb.internal else [ctx.ports.publish(lst.port) for lst in lb.listeners]
            published.append(ports)
            text = _haproxy(configs.HaproxyContext(
                name=host, layer=lb.layer, algorithm=lb.algorithm, listeners=listeners, backends=backends,
                routes=routes, health_check=checks, sticky=sticky, tls_cert=HAPROXY_PEM,
                stats_port=HAPROXY_STATS_PORT, host_redirects=host_redirects(lb, ports)))
            uploads = [upload(HAPROXY_CFG, text)] + ([pem] if pem else [])
            ctx.containers.container(
                f"{prefix}{site_suffix(site)}-{i}", image=images.HAPROXY, site=site, aliases=[host],
                uploads=uploads, ports=ports, memory_mb=256, cpus=0.5,
                healthcheck=health(f"wget -q -O /dev/null http://127.0.0.1:{HAPROXY_STATS_PORT}/healthz"),
                address=ctx.sites.fixed_address(lb.ref, site),
            )
        ctx.ports.published[(lb.ref, site)] = published
    ctx.export_endpoint(endpoint(ctx, lb))
    ctx.export_published(lb, tls_ports(lb))
    ctx.export("copies", copies)


def host_redirects(lb: LoadBalancer, ports: list) -> tuple[tuple[int, int], ...]:
    """(host port of each redirecting listener, host port of the first TLS listener) of one copy."""
    by_port = {p.internal: p.external for p in ports}
    secure = next((lst.port for lst in lb.listeners if lst.tls), None)
    if secure is None or secure not in by_port:
        return ()
    return tuple((by_port[lst.port], by_port[secure]) for lst in lb.listeners
                 if lst.redirect_to_https and not lst.tls and lst.port in by_port)


def _target_health(ctx: DockerContext, lb: LoadBalancer) -> HealthCheck | None:
    """The target service's own health check when the balancer has one service behind it (as on AWS)."""
    targets = {item.target for item in (lb.routes or lb.targets or ())}
    if len(targets) != 1:
        return None
    return getattr(ctx.bp.component(targets.pop()), "health", None)


def _backends(ctx: DockerContext, lb: LoadBalancer, site: str):
    """Backends of explicit servers: every replica container by name, with its weight."""
    weighted = lb.algorithm == "weighted"
    if lb.layer == 4:
        servers = []
        for target in lb.targets or ():
            service = ctx.bp.component(target.target)
            port = target.port or service.port
            weight = target.weight if (weighted and target.weight is not None) else 1
            for i, address in enumerate(services.replica_names(ctx, service, site)):
                servers.append(configs.HaproxyServer(f"{ctx.names.host(service)}-{i}", address, port, weight))
        return (configs.HaproxyBackend("targets", tuple(servers)),), ()
    backends: dict[str, configs.HaproxyBackend] = {}
    routes = []
    for route in lb.routes or ():
        service = ctx.bp.component(route.target)
        name = ctx.names.host(service)
        if name not in backends:
            servers = tuple(configs.HaproxyServer(f"{name}-{i}", address, service.port)
                            for i, address in enumerate(services.replica_names(ctx, service, site)))
            backends[name] = configs.HaproxyBackend(name, servers)
        routes.append(configs.HaproxyRoute(route.path, name, route.weight))
    return tuple(backends.values()), tuple(routes)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("haproxy")


def facts(ctx: Any, lb: LoadBalancer, table: Mapping[str, Availability]) -> Facts:
    hot = topology(ctx.bp).hot_dr
    if lb.redundancy != "none":
        return common.same_at_both_sites(ctx, lb, table, 2, f"2 instances ({lb.redundancy})", dr_copy=hot,
                                         implementation="haproxy")
    return common.same_at_both_sites(ctx, lb, table, 1, "one instance (redundancy: none)", dr_copy=hot,
                                     scaling="redundancy", implementation="haproxy")
