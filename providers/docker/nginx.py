"""What reverse proxies and CDNs share: nginx containers, their upstream, TLS and uploaded files.

A CDN always answers https (like CloudFront); a reverse proxy when asked to
(`tls: true`). Both publish 80 (and 443 with TLS) on every copy and use the
component's self-signed certificate (`certificates.py`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from typing import Any

from topoform.dsl.models import Cdn, ReverseProxy
from topoform.providers.plan import literal

from . import configs, images
from .certificates import certificate
from .containers import health, upload
from .context import DockerContext
from .endpoint import Endpoint, endpoint_attribute
from .sites import site_suffix

NGINX_CONF = "/etc/nginx/nginx.conf"
NGINX_CERT = "/etc/nginx/certs/cert.pem"
NGINX_KEY = "/etc/nginx/certs/key.pem"
HTTP_PORT, HTTPS_PORT = 80, 443

# A pure function of a frozen context: identical configs (copies, sites) render once.
_nginx = configs.cached("render_nginx_conf", maxsize=4096)

_NGINX_ALIVE = 'test -s /var/run/nginx.pid && kill -0 "$(cat /var/run/nginx.pid)"'


def serves_tls(component: ReverseProxy | Cdn) -> bool:
    return isinstance(component, Cdn) or component.tls


def tls_ports(component: ReverseProxy | Cdn) -> set[int]:
    return {HTTPS_PORT} if serves_tls(component) else set()


def endpoint(ctx: DockerContext, component: ReverseProxy | Cdn) -> Endpoint:
    host = ctx.names.host(component)
    if serves_tls(component):
        return Endpoint("https", host, HTTPS_PORT)
    return Endpoint("http", host, HTTP_PORT)


def attribute(ctx: DockerContext, component: ReverseProxy | Cdn, attr: str) -> str:
    return endpoint_attribute(ctx, component, endpoint(ctx, component), attr)


def upstream(ctx: DockerContext, target_ref: str) -> configs.NginxUpstream:
    """The component nginx proxies to (a balancer, a service, another proxy), over its own scheme."""
    target = ctx.endpoint(ctx.bp.component(target_ref))
    scheme = "https" if target.scheme in ("https", "tls") else "http"
    return configs.NginxUpstream(target.host, target.port or 80, scheme)


def containers(ctx: DockerContext, component: ReverseProxy | Cdn, context: configs.NginxContext,
               extra_uploads: list[dict[str, Any]], copies: int) -> None:
    """`copies` nginx containers per running site with `context`'s config, then the edge outputs."""
    prefix, host = ctx.prefix(component), ctx.names.host(component)
    files = []
    if context.tls is not None:
        cert, key = certificate(ctx, component)
        files = [{"file": NGINX_CERT, "content": cert}, {"file": NGINX_KEY, "content": key}]
    internal = [HTTP_PORT] + ([HTTPS_PORT] if context.tls is not None else [])
    for site in ctx.sites.running:
        published = []
        for i in range(copies):
            ports = [ctx.ports.publish(port) for port in internal]
            published.append(ports)
            # Each copy's http→https redirect names its own published https port.
            redirects = ((ports[0].external, ports[1].external),) \
                if context.tls is not None and context.tls.redirect_http else ()
            uploads = [upload(NGINX_CONF, _nginx(replace(context, host_redirects=redirects))), *files,
                       *extra_uploads]
            name = f"{prefix}{site_suffix(site)}" + (f"-{i}" if copies > 1 else "")
            ctx.containers.container(name, image=images.NGINX, site=site, aliases=[host], uploads=uploads,
                                     ports=ports, memory_mb=256, cpus=0.5, healthcheck=health(_NGINX_ALIVE),
                                     address=ctx.sites.fixed_address(component.ref, site))
        ctx.ports.published[(component.ref, site)] = published
    ctx.export_endpoint(endpoint(ctx, component))
    ctx.export_published(component, tls_ports(component))


def directory_uploads(ctx: DockerContext, directory: str, destination: str, path: tuple) -> list[dict[str, Any]]:
    """Every file under `directory` (relative to the blueprint), sorted by path, as uploads."""
    root = os.path.join(ctx.bp.base_dir, directory)
    if not os.path.isdir(root):
        raise ctx.unsupported(f"directory '{directory}' does not exist",
                              f"create it (relative to the blueprint file: {root})", *path)
    found = []
    for current, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            full = os.path.join(current, name)
            found.append((os.path.relpath(full, root).replace(os.sep, "/"), full))
    uploads = []
    for relative, full in sorted(found):
        with open(full, "rb") as handle:
            data = handle.read()
        target = f"{destination}/{relative}"
        try:
            uploads.append({"file": target, "content": literal(data.decode("utf-8"))})
        except UnicodeDecodeError:
            uploads.append({"file": target, "content_base64": base64.b64encode(data).decode("ascii")})
    return uploads
