"""API gateways: nginx in front of services, `replicas` copies per running site.

Routes and versions are locations (a path with several method groups picks
a named location per method), each service an upstream with nginx's passive
circuit breaker (`max_fails`/`fail_timeout`), `proxy_next_upstream` retries
and timeouts; `limit_req` per client over the gateway and per route (429),
`client_max_body_size` (413), allow/deny (403), CORS headers and preflight
answers, `proxy_cache` for GET routes with `cache`. JWTs: nginx OSS has no
JWT module, so `auth_request` asks a verifier container (python:3.12-slim
running the uploaded templates/jwt-verifier.py); API keys are a `map`.

nginx resolves the upstream names when it loads its configuration, so
each gateway container waits for the verifier and for the containers of
every routed service at its site (their aliases resolve once they exist),
and a watch (templates/gateway-watch.sh.j2, started by the image's
entrypoint) reloads nginx when Docker's answers for those names change: a
replaced container has a new address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from topoform.dsl.models import ApiGateway
from topoform.providers import facts as common
from topoform.providers.gateway_routes import routed_services
from topoform.providers.plan import Availability, Facts

from .. import images
from ..configs.gateway import GatewayContext, GatewayCors, GatewayRouteConf, GatewayUpstream, render_gateway_conf
from ..configs.rendering import render
from ..containers import health, upload
from ..context import DockerContext
from ..endpoint import Endpoint, endpoint_attribute
from ..facts import estimate
from ..nginx import NGINX_CONF
from ..sites import site_suffix

PORT = 80
VERIFIER_PORT = 9000
VERIFIER_CODE = "/opt/topoform/jwt-verifier.py"
VERIFIER_CONFIG = "/etc/topoform/jwt.json"
VERIFIER_SOURCE = Path(__file__).resolve().parent.parent / "templates" / "jwt-verifier.py"
WATCH_SCRIPT = "/docker-entrypoint.d/90-topoform-gateway-watch.sh"
WATCH_INTERVAL = 5  # seconds between looks at Docker's DNS answers
_ALIVE = 'test -s /var/run/nginx.pid && kill -0 "$(cat /var/run/nginx.pid)"'


def endpoint(ctx: DockerContext, gateway: ApiGateway) -> Endpoint:
    return Endpoint("http", ctx.names.host(gateway), PORT)


def attribute(ctx: DockerContext, gateway: ApiGateway, attr: str) -> str:
    return endpoint_attribute(ctx, gateway, endpoint(ctx, gateway), attr)


def upstream_name(ref: str) -> str:
    return ref.replace(".", "_").replace("-", "_")


def context(ctx: DockerContext, gateway: ApiGateway, verifier: str | None) -> GatewayContext:
    """The gateway's nginx context (also what tests/realserver renders with loopback addresses)."""
    upstreams = tuple(GatewayUpstream(upstream_name(svc.ref), ctx.endpoint(svc).host, svc.port)
                      for svc in routed_services(ctx, gateway))
    routes = []
    for route in gateway.routes:
        methods = tuple(route.methods or ())
        if "GET" in methods and "HEAD" not in methods:
            methods += ("HEAD",)  # nginx answers HEAD like GET
        limit = route.rate_limit
        routes.append(GatewayRouteConf(
            path=route.full_path, upstream=upstream_name(route.target), methods=methods,
            auth=route.auth and gateway.auth is not None,
            rate=limit.requests_per_second if limit else None, burst=limit.burst if limit else 0,
            cache_ttl=route.cache, timeout=route.timeout if route.timeout is not None else gateway.timeout,
            retries=route.retries if route.retries is not None else gateway.retries))
    cors = gateway.cors
    auth = gateway.auth
    return GatewayContext(
        name=ctx.names.host(gateway), port=PORT, upstreams=upstreams, routes=tuple(routes),
        jwt_verifier=verifier, api_keys=tuple(auth.api_keys or ()) if auth else (),
        rate=gateway.rate_limit.requests_per_second if gateway.rate_limit else None,
        burst=gateway.rate_limit.burst if gateway.rate_limit else 0, max_body_size=gateway.max_body_size,
        allow=tuple(gateway.allow), deny=tuple(gateway.deny),
        cors=GatewayCors(tuple(cors.origins), tuple(cors.methods), tuple(cors.headers), cors.max_age) if cors else None,
        failures=gateway.circuit_breaker.failures, cooldown=gateway.circuit_breaker.cooldown,
        access_logs=gateway.access_logs)


def verifier_config(gateway: ApiGateway) -> str:
    jwt = gateway.auth.jwt  # type: ignore[union-attr]
    return json.dumps({"algorithm": jwt.algorithm, "key": jwt.key, "issuer": jwt.issuer,
                       "audience": jwt.audience}, indent=2, sort_keys=True) + "\n"


def watch_script(conf: GatewayContext) -> str:
    """The entrypoint.d script that reloads nginx when a name it proxies to resolves differently."""
    hosts = [upstream.host for upstream in conf.upstreams]
    if conf.jwt_verifier:
        hosts.append(conf.jwt_verifier.rsplit(":", 1)[0])
    return render("gateway-watch.sh.j2", name=conf.name, hosts=list(dict.fromkeys(hosts)), interval=WATCH_INTERVAL)


def rs256_key_readable(pem: str) -> bool:
    """Whether the verifier (templates/jwt-verifier.py, loaded from its source) reads `pem` as an RSA key."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("topoform_jwt_verifier", VERIFIER_SOURCE)
    verifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verifier)  # type: ignore[union-attr]
    if "PUBLIC KEY-----" not in pem:
        return False
    try:
        n, e = verifier.rsa_public_key(pem)
    except (ValueError, IndexError):
        return False
    return n.bit_length() >= 1024 and e > 1


def build(ctx: DockerContext, gateway: ApiGateway) -> None:
    prefix, host = ctx.prefix(gateway), ctx.names.host(gateway)
    jwt = gateway.auth.jwt if gateway.auth else None
    if jwt is not None and jwt.key is None:
        raise ctx.unsupported(f"{gateway.ref}: the docker gateway verifies tokens itself and needs `key`",
                              "give auth.jwt a `key`: the HS256 secret or the RS256 public key (PEM)",
                              "api_gateways", gateway.name, "auth", "jwt")
    if jwt is not None and jwt.algorithm == "RS256" and not rs256_key_readable(jwt.key):
        # The verifier would exit at start on it, and every request needing a token get 503.
        raise ctx.unsupported(f"{gateway.ref}: auth.jwt.key is not an RSA public key in PEM, which RS256 needs",
                              "give the public key as `-----BEGIN PUBLIC KEY-----` … (SubjectPublicKeyInfo) or "
                              "`-----BEGIN RSA PUBLIC KEY-----` … (PKCS#1), or use algorithm: HS256 with a secret",
                              "api_gateways", gateway.name, "auth", "jwt", "key")
    verifier_host = f"{host}-verifier"
    conf_ctx = context(ctx, gateway, f"{verifier_host}:{VERIFIER_PORT}" if jwt else None)
    conf, watch = render_gateway_conf(conf_ctx), watch_script(conf_ctx)
    services = routed_services(ctx, gateway)
    for site in ctx.sites.running:
        suffix = site_suffix(site)
        depends = [f"{ctx.prefix(svc)}{suffix}-{i}" for svc in services for i in range(svc.replicas)]
        if jwt is not None:
            depends.append(f"{prefix}{suffix}-verifier")
            ctx.containers.container(
                depends[-1], image=images.PYTHON, site=site, aliases=[verifier_host],
                command=["python", VERIFIER_CODE, VERIFIER_CONFIG, str(VERIFIER_PORT)],
                uploads=[upload(VERIFIER_CODE, VERIFIER_SOURCE.read_text()),
                         upload(VERIFIER_CONFIG, verifier_config(gateway))],
                memory_mb=128, cpus=0.25,
                healthcheck=health(f"python -c \"import urllib.request; urllib.request.urlopen("
                                   f"'http://127.0.0.1:{VERIFIER_PORT}/health')\""))
        published = []
        for i in range(gateway.replicas):
            ports = [ctx.ports.publish(PORT)]
            published.append(ports)
            name = f"{prefix}{suffix}" + (f"-{i}" if gateway.replicas > 1 else "")
            ctx.containers.container(name, image=images.NGINX, site=site, aliases=[host],
                                     uploads=[upload(NGINX_CONF, conf), upload(WATCH_SCRIPT, watch, executable=True)],
                                     ports=ports, memory_mb=256, cpus=0.5,
                                     healthcheck=health(_ALIVE), depends_on=depends or None)
        ctx.ports.published[(gateway.ref, site)] = published
    ctx.export_endpoint(endpoint(ctx, gateway))
    ctx.export_published(gateway)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("nginx")


def facts(ctx: Any, gateway: ApiGateway, table: Mapping[str, Availability]) -> Facts:
    """`replicas` nginx containers per running site."""
    return common.replicated(ctx, gateway, table, implementation="nginx")
