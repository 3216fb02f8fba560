"""Services: `replicas` copies of the image on every running site, behind one network alias.

A health check probes `http://127.0.0.1:PORT/PATH` with whatever the image
carries (busybox wget, curl or Python); `public: true` publishes the port.
"""

from __future__ import annotations

from topoform.dsl.models import Service
from topoform.providers import facts as common
from topoform.providers.plan import literal

from ..containers import health
from ..context import DockerContext
from ..endpoint import Endpoint, endpoint_attribute
from ..facts import estimate
from ..ports import Published
from ..sites import site_suffix


def endpoint(ctx: DockerContext, service: Service) -> Endpoint:
    return Endpoint("http", ctx.names.host(service), service.port)


def attribute(ctx: DockerContext, service: Service, attr: str) -> str:
    return endpoint_attribute(ctx, service, endpoint(ctx, service), attr)


def replica_names(ctx: DockerContext, service: Service, site: str) -> list[str]:
    """Physical container names of a service's copies on `site` (Docker DNS resolves them)."""
    return ctx.names.copies(service, site, service.replicas)


def build(ctx: DockerContext, service: Service) -> None:
    prefix = ctx.prefix(service)
    host = ctx.names.host(service)
    envs = {key: ctx.interpolate(value) for key, value in service.env.items()}
    command = [ctx.interpolate(part) for part in service.command] if service.command else None
    healthcheck = None
    check = service.health
    if check is not None:
        port = check.port or service.port
        if port is None:
            raise ctx.unsupported(f"{service.ref} has a health check but no port to probe", "set `health.port`",
                                  "services", service.name, "health")
        url = f"http://127.0.0.1:{port}{check.path}"
        # Whatever the image carries: busybox wget, curl, or a Python runtime.
        probe = (f"wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url} || "
                 f"python3 -c \"import urllib.request; urllib.request.urlopen('{url}', timeout={max(1, int(check.timeout))})\"")
        healthcheck = health(literal(probe), check.interval, check.timeout, check.unhealthy)
    memory_mb = max(6, service.memory // 1024**2)
    for site in ctx.sites.running:
        copies: list[list[Published]] = []
        for i in range(service.replicas):
            ports = [ctx.publish_public(service, service.port)] if service.public and service.port else []
            copies.append(ports)
            ctx.containers.container(
                f"{prefix}{site_suffix(site)}-{i}", image=service.image, site=site, aliases=[host],
                envs=envs, command=command, ports=ports, healthcheck=healthcheck, memory_mb=memory_mb,
                cpus=service.cpu / 1024, address=ctx.sites.fixed_address(service.ref, site),
            )
        ctx.ports.published[(service.ref, site)] = copies
    ctx.export("host", host)
    if service.port:
        ctx.export("port", service.port)
        ctx.export("url", endpoint(ctx, service).url)
    ctx.export("replicas", service.replicas)
    if service.public:
        ctx.export_published(service)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate()  # one container (providers/docker/facts.py)
facts = common.services
