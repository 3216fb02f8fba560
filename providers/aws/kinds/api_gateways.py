"""API gateways on AWS: an API Gateway v2 HTTP API reaching private services through a VPC link.

Per site: the HTTP API (CORS configured on it), a VPC link in the private
subnets with its own security group (egress to the balancer only), one
HTTP_PROXY integration per routed service through the link to the
listener of the internal balancer in front of it — never a public
backend — a route `METHOD /path` and `METHOD /path/{proxy+}` per method,
a JWT authorizer (issuer + audience; API Gateway reads the issuer's JWKS),
the `$default` stage (auto-deployed) with per-route throttling, and access
logs to CloudWatch. Alarms on 5xx and p99 latency feed the SLOs when the
blueprint has them. A `domain` is a regional custom domain with the site's
ACM certificate (certificates.py), mapped to the stage, and aliased in
`dns.zone` when it lies in the zone.

Refused, with the reason (an HTTP API cannot, and a REST API is not built
here): API keys (usage plans), response caching, IP allow/deny (WAF attaches
to REST APIs), HS256 tokens, bodies over 10MB. A service with no internal
balancer in front is refused too: ECS registers its tasks in Cloud Map with
A records only, and an HTTP API's Cloud Map integration needs the port of
an SRV registration.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Mapping

from topoform.dsl.models import ApiGateway, Service
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.gateway_routes import routed_services
from topoform.providers.plan import Availability, Facts, ref

from ..certificates import arn_region
from ..context import AwsContext
from ..endpoints import endpoint_attribute
from ..sites import PRIMARY, site_name
from . import load_balancers

API = "aws:apigatewayv2/api:Api"
VPC_LINK = "aws:apigatewayv2/vpcLink:VpcLink"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
DOMAIN = "aws:apigatewayv2/domainName:DomainName"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
MAX_BODY = 10 * 1024**2  # HTTP API payload quota
MAX_TIMEOUT = 30.0  # HTTP API integration timeout quota
ACCESS_LOG = ('{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod",'
              '"path":"$context.path","status":"$context.status","latency":"$context.responseLatency",'
              '"integrationLatency":"$context.integrationLatency","error":"$context.integrationErrorMessage"}')


def refusals(ctx: AwsContext, gateway: ApiGateway) -> None:
    where = ("api_gateways", gateway.name)
    auth = gateway.auth
    if auth is not None and auth.api_keys is not None:
        ctx.refuse(f"{gateway.ref}: API keys need a REST API with usage plans; the aws target builds HTTP APIs",
                   "use auth: {jwt: ...}, or keep API keys to the docker target", *where, "auth", "api_keys")
    if auth is not None and auth.jwt is not None and auth.jwt.algorithm != "RS256":
        ctx.refuse(f"{gateway.ref}: API Gateway JWT authorizers verify RS256 tokens against the issuer's JWKS, "
                   f"not {auth.jwt.algorithm}", "sign tokens with RS256 and publish the key at the issuer",
                   *where, "auth", "jwt", "algorithm")
    if gateway.allow or gateway.deny:
        field = "allow" if gateway.allow else "deny"
        ctx.refuse(f"{gateway.ref}: IP allow/deny needs AWS WAF, which attaches to REST APIs, not HTTP APIs",
                   "remove allow/deny, or put a reverse proxy (CloudFront + WAF) in front", *where, field)
    if gateway.max_body_size > MAX_BODY:
        ctx.refuse(f"{gateway.ref}: an HTTP API accepts bodies up to 10MB", "set max_body_size: 10MB or less",
                   *where, "max_body_size")
    for i, route in enumerate(gateway.routes):
        if route.cache is not None:
            ctx.refuse(f"{gateway.ref}: caching GET responses needs a REST API stage cache; HTTP APIs have none",
                       "remove `cache`, or put a CDN in front of the gateway", *where, "routes", i, "cache")
        timeout = route.timeout if route.timeout is not None else gateway.timeout
        if timeout > MAX_TIMEOUT:
            ctx.refuse(f"{gateway.ref}: an HTTP API integration times out after at most 30s",
                       "set `timeout: 30s` or less", *where, *(("routes", i, "timeout") if route.timeout else ("timeout",)))
    written = [field for field in ("retries", "circuit_breaker") if field in gateway.model_fields_set]
    if written:
        ctx.warn(f"{gateway.ref}: API Gateway neither retries nor breaks circuits; on aws the balancer's "
                 f"health checks take failing tasks out instead", None, *where, written[0])
    if gateway.rate_limit is not None:
        ctx.warn(f"{gateway.ref}: an HTTP API throttles all clients together (per-client limits need REST API "
                 f"usage plans); the limit applies to the whole stage", None, *where, "rate_limit")


def balancer_for(ctx: AwsContext, gateway: ApiGateway, svc: Service, site: str) -> tuple[str, object]:
    """The listener of the internal balancer in front of `svc` (the VPC link's only way in)."""
    for attachment in ctx.attachments.of(ctx.ref_of(svc)):
        lb = ctx.bp.component(attachment.balancer)
        if lb.internal:
            return load_balancers.listener_name(ctx, lb, lb.listeners[0].port, site), lb
    index = next(i for i, r in enumerate(gateway.routes) if r.target == svc.ref)
    raise ctx.unsupported(
        f"{gateway.ref}: {svc.ref} has no internal load balancer in front of it; the aws gateway reaches "
        "services only through a VPC link to a private balancer",
        f"add an internal load balancer (internal: true) routing to {svc.ref}",
        "api_gateways", gateway.name, "routes", index, "target")


def balancer_sends(lb: Any, path: str) -> set[str]:
    """The services `lb`'s listener rules (load_balancers.py: in route order, the catch-all as the
    default action) forward a request for `path` to; rules that also match a Host are left out."""
    rules: dict[tuple, set[str]] = {}
    for route in lb.routes or ():
        rules.setdefault((route.path, route.host), set()).add(route.target)
    catch_all = next((key for key in rules if key[0] in load_balancers.CATCH_ALL and key[1] is None), None)
    default = rules.pop(catch_all) if catch_all is not None else set()
    for (pattern, host), targets in rules.items():
        if host is None and fnmatch.fnmatchcase(path, pattern):  # ALB path patterns: * and ? wildcards
            return targets
    return default


def check_balancer_paths(ctx: AwsContext, gateway: ApiGateway) -> None:
    """The VPC link reaches a balancer's listener, whose own rules pick the service: they must pick the
    route's target for the route's paths, or the gateway would serve another service's answers."""
    for i, route in enumerate(gateway.routes):
        _, lb = balancer_for(ctx, gateway, ctx.bp.component(route.target), PRIMARY)
        for path in (route.full_path, route.full_path.rstrip("/") + "/x"):
            sends = balancer_sends(lb, path)
            if route.target not in sends:
                ctx.refuse(f"{gateway.ref}: route {route.full_path} targets {route.target}, but {lb.ref} forwards "
                           f"{path} to {', '.join(sorted(sends)) or 'nothing (404)'}",
                           f"give {lb.ref} a route for {route.full_path} to {route.target}, or target what it "
                           "routes there", "api_gateways", gateway.name, "routes", i, "target")
                break
            if len(sends) > 1 and route.full_path == path:
                ctx.warn(f"{gateway.ref}: route {route.full_path} targets {route.target}, but {lb.ref} shares "
                         f"{path} among {', '.join(sorted(sends))} by weight", None,
                         "api_gateways", gateway.name, "routes", i, "target")


def build(ctx: AwsContext, gateway: ApiGateway) -> None:
    refusals(ctx, gateway)
    services = routed_services(ctx, gateway)
    check_balancer_paths(ctx, gateway)
    for site in ctx.sites.all:
        build_at(ctx, gateway, services, site)
    ctx.export(gateway, ("url", "host", "name"))


def build_at(ctx: AwsContext, gateway: ApiGateway, services: list[Service], site: str) -> None:
    prefix = ctx.prefix(gateway)
    n = lambda name: site_name(name, site)  # noqa: E731
    net = ctx.networks.network(site)
    where = {"region": net.region}
    props: dict = {"name": f"{ctx.bp.blueprint}-{ctx.stack}-{n(gateway.name)}", "protocol_type": "HTTP",
                   "description": f"{ctx.ref_of(gateway)} of {ctx.bp.blueprint}/{ctx.stack} ({site} site)",
                   **where, "tags": ctx.tags()}
    if gateway.cors is not None:
        cors = gateway.cors
        props["cors_configuration"] = {"allow_origins": list(cors.origins), "allow_methods": list(cors.methods),
                                       "allow_headers": list(cors.headers), "max_age": int(cors.max_age)}
    api = ctx.add(API, n(prefix), props).name
    sg = ctx.networks.security_group(gateway, site)
    link = ctx.add(VPC_LINK, n(f"{prefix}-vpc-link"), {
        "name": f"{ctx.bp.blueprint}-{ctx.stack}-{n(gateway.name)}",
        "subnet_ids": ctx.networks.subnet_ids(site), "security_group_ids": [ref(sg, "id")],
        **where, "tags": ctx.tags(),
    }).name
    integrations: dict[str, str] = {}
    for svc in services:
        listener, lb = balancer_for(ctx, gateway, svc, site)
        port = lb.listeners[0].port  # type: ignore[attr-defined]
        ctx.networks.allow(gateway, lb, port, site)
        ctx.networks.allow_egress(gateway, site, cidr=net.cidr, port=port, why="the VPC link to the balancers")
        route = next(r for r in gateway.routes if r.target == svc.ref)
        timeout = route.timeout if route.timeout is not None else gateway.timeout
        integrations[svc.ref] = ctx.add(INTEGRATION, n(f"{prefix}-to-{svc.name}"), {
            "api_id": ref(api, "id"), "integration_type": "HTTP_PROXY", "integration_method": "ANY",
            "connection_type": "VPC_LINK", "connection_id": ref(link, "id"),
            "integration_uri": ref(listener, "arn"), "payload_format_version": "1.0",
            "timeout_milliseconds": int(min(timeout, MAX_TIMEOUT) * 1000),
            "description": f"{svc.ref} through {lb.ref}", **where,  # type: ignore[attr-defined]
        }).name
    authorizer = None
    jwt = gateway.auth.jwt if gateway.auth else None
    if jwt is not None:
        authorizer = ctx.add(AUTHORIZER, n(f"{prefix}-jwt"), {
            "api_id": ref(api, "id"), "authorizer_type": "JWT", "name": "jwt",
            "identity_sources": ["$request.header.Authorization"],
            "jwt_configuration": {"issuer": jwt.issuer, "audiences": [jwt.audience]}, **where,
        }).name
    route_settings = []
    for i, route in enumerate(gateway.routes):
        for method in route.methods or ["ANY"]:
            for path in (route.full_path, route.full_path.rstrip("/") + "/{proxy+}"):
                key = f"{method} {path}"
                props = {"api_id": ref(api, "id"), "route_key": key,
                         "target": f"integrations/{ref(integrations[route.target], 'id')}", **where}
                if authorizer is not None and route.auth:
                    props.update(authorization_type="JWT", authorizer_id=ref(authorizer, "id"))
                slug = path.strip("/").replace("/", "-").replace("{proxy+}", "proxy") or "root"
                ctx.add(ROUTE, n(f"{prefix}-route-{i}-{method.lower()}-{slug}"), props)
                if route.rate_limit is not None:
                    route_settings.append({"route_key": key,
                                           "throttling_rate_limit": route.rate_limit.requests_per_second,
                                           "throttling_burst_limit": max(route.rate_limit.burst, 1)})
    logs = ctx.add("aws:cloudwatch/logGroup:LogGroup", n(f"{prefix}-access-logs"), {
        "name": f"/topoform/{ctx.bp.blueprint}/{ctx.stack}/{n(gateway.name)}/access",
        "retention_in_days": 30, **where, "tags": ctx.tags(),
    }).name if gateway.access_logs else None
    defaults: dict = {"detailed_metrics_enabled": True}
    if gateway.rate_limit is not None:
        defaults.update(throttling_rate_limit=gateway.rate_limit.requests_per_second,
                        throttling_burst_limit=max(gateway.rate_limit.burst, 1))
    stage: dict = {"api_id": ref(api, "id"), "name": "$default", "auto_deploy": True,
                   "default_route_settings": defaults, **where, "tags": ctx.tags()}
    if route_settings:
        stage["route_settings"] = route_settings
    if logs is not None:
        stage["access_log_settings"] = {"destination_arn": ref(logs, "arn"), "format": ACCESS_LOG}
    stage_name = ctx.add(STAGE, n(f"{prefix}-stage"), stage).name
    if gateway.domain is not None:
        custom_domain(ctx, gateway, api, stage_name, site)
    alarms(ctx, gateway, api, site)


def custom_domain(ctx: AwsContext, gateway: ApiGateway, api: str, stage: str, site: str) -> None:
    """The domain on a regional endpoint with an ACM certificate, and its alias record in the zone."""
    prefix = site_name(ctx.prefix(gateway), site)
    region = ctx.sites.region(site)
    given = ctx.bp.aws.certificate_arn
    in_zone = ctx.bp.dns is not None and ctx.certificates.in_zone(gateway.domain)
    if ctx.bp.dns is not None and not in_zone and not (given and arn_region(given) == region):
        # The certificate Topoform issues covers the zone's names only: API Gateway would refuse the domain.
        raise ctx.unsupported(
            f"{gateway.ref}: domain {gateway.domain} is not in dns.zone {ctx.certificates.zone_name()}, so the "
            f"certificate issued for the zone does not cover it", f"use a domain in {ctx.certificates.zone_name()}, "
            f"or set aws.certificate_arn to a certificate in {region} that covers {gateway.domain}",
            "api_gateways", gateway.name, "domain")
    domain = ctx.add(DOMAIN, f"{prefix}-domain", {
        "domain_name": gateway.domain,
        "domain_name_configuration": {"certificate_arn": ctx.certificates.certificate(site),
                                      "endpoint_type": "REGIONAL", "security_policy": "TLS_1_2"},
        "region": region, "tags": ctx.tags(),
    }).name
    ctx.add("aws:apigatewayv2/apiMapping:ApiMapping", f"{prefix}-mapping", {
        "api_id": ref(api, "id"), "domain_name": ref(domain, "id"), "stage": ref(stage, "id"), "region": region,
    })
    if in_zone and site == PRIMARY:
        ctx.add("aws:route53/record:Record", f"{prefix}-domain-record", {
            "zone_id": ctx.certificates.zone_id(), "name": gateway.domain, "type": "A",
            "aliases": [{"name": ref(domain, "domain_name_configuration.target_domain_name"),
                         "zone_id": ref(domain, "domain_name_configuration.hosted_zone_id"),
                         "evaluate_target_health": False}],
        })


def alarms(ctx: AwsContext, gateway: ApiGateway, api: str, site: str) -> None:
    """5xx and p99 latency alarms on the API (the SLO's figures when the blueprint sets them)."""
    slos = ctx.bp.slos
    error_rate = slos.error_rate if slos and slos.error_rate is not None else 1.0
    latency = slos.latency_p99 if slos and slos.latency_p99 is not None else gateway.timeout / 2
    prefix = site_name(ctx.prefix(gateway), site)
    dimensions = {"ApiId": ref(api, "id"), "Stage": "$default"}
    common = {"namespace": "AWS/ApiGateway", "period": 60, "evaluation_periods": 5, "datapoints_to_alarm": 3,
              "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
              "dimensions": dimensions, "region": ctx.sites.region(site), "tags": ctx.tags()}
    ctx.add(ALARM, f"{prefix}-5xx", {
        "name": f"{ctx.bp.blueprint}-{ctx.stack}-{prefix}-5xx", "metric_name": "5xx", "statistic": "Average",
        # `5xx` averages to the share of requests that failed: 0.01 is 1%.
        "threshold": error_rate / 100, **common,
        "alarm_description": f"{ctx.ref_of(gateway)} ({site}): more than {error_rate:g}% of requests answered 5xx",
    })
    ctx.add(ALARM, f"{prefix}-latency-p99", {
        "name": f"{ctx.bp.blueprint}-{ctx.stack}-{prefix}-latency-p99", "metric_name": "Latency",
        "extended_statistic": "p99", "threshold": latency * 1000, **common,
        "alarm_description": f"{ctx.ref_of(gateway)} ({site}): p99 latency above {latency:g}s",
    })


def attribute(ctx: AwsContext, gateway: ApiGateway, attr: str) -> str:
    """The API at the asking site: its custom domain, else its `api_endpoint` (https://ID.execute-api...)."""
    api = site_name(ctx.prefix(gateway), ctx.site)
    if gateway.domain is not None:
        return endpoint_attribute(ctx, gateway, attr, gateway.domain, 443, "https")
    if attr == "url":
        return ref(api, "api_endpoint")
    host = f"{ref(api, 'id')}.execute-api.{ctx.sites.region(ctx.site)}.amazonaws.com"
    return endpoint_attribute(ctx, gateway, attr, host, 443, "https")


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.95, "Amazon API Gateway SLA", "API Gateway SLA")


def facts(ctx: Any, gateway: ApiGateway, table: Mapping[str, Availability]) -> Facts:
    """API Gateway is managed and spread over the zones by AWS: nothing to size."""
    return common.same_at_both_sites(ctx, gateway, table, 1, "one managed HTTP API (AWS spreads it over the AZs)",
                                     dr_copy=topology(ctx.bp).hot_dr, managed=True, implementation="apigateway-http")
