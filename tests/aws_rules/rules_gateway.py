"""Rules for API Gateway HTTP APIs (providers/aws/kinds/api_gateways.py): routes, the JWT
authorizer, private integrations through a VPC link, stage throttling and access logs, the
custom domain with its certificate, mapping and alias record, and the API's alarms."""

from __future__ import annotations

import re

from . import catalog
from .plan_view import target, violation
from .registry import rule

API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
STAGE = "aws:apigatewayv2/stage:Stage"
DOMAIN = "aws:apigatewayv2/domainName:DomainName"
MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"
VPC_LINK = "aws:apigatewayv2/vpcLink:VpcLink"
LISTENER = "aws:lb/listener:Listener"
BALANCER = "aws:lb/loadBalancer:LoadBalancer"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

ROUTE_KEY = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) (/[^ ]*)$")
SEGMENT = re.compile(r"^([A-Za-z0-9._~!$&'()*+,;=:@%-]+|\{[A-Za-z0-9_.]+\+?\})$")
HTTP_API_METRICS = frozenset({"4xx", "5xx", "Count", "IntegrationLatency", "Latency", "DataProcessed"})
# Account-level throttling quota of API Gateway per Region (a stage or route cannot exceed it).
MAX_RATE, MAX_BURST = 10_000, 5_000


def _of_api(plan, token: str, api) -> list:
    return [r for r in plan.of_type(token) if target(plan, r.properties.get("api_id")) is api]


def _route_keys(plan, api) -> set[str]:
    return {r.properties.get("route_key") for r in _of_api(plan, ROUTE, api)}


@rule("apigw-route-keys", "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html",
      "An HTTP API route key is an HTTP method (or ANY) and a resource path, or $default; a greedy path "
      "variable {proxy+} may only be the last segment; each route key is unique in its API, and a route's "
      "target is integrations/ID of an integration of the same API.")
def _route_keys_rule(plan):
    for api in plan.of_type(API):
        seen: dict[str, str] = {}
        for route in _of_api(plan, ROUTE, api):
            key = route.properties.get("route_key", "")
            match = ROUTE_KEY.match(key)
            if key != "$default" and match is None:
                yield violation(route, "route_key", f"{key!r} is not `METHOD /path`, `ANY /path` or $default")
                continue
            segments = match.group(2).strip("/").split("/") if match and match.group(2) != "/" else []
            for i, segment in enumerate(segments):
                if not SEGMENT.match(segment):
                    yield violation(route, "route_key", f"{key!r}: segment {segment!r} is not a path segment")
                elif segment.endswith("+}") and i != len(segments) - 1:
                    yield violation(route, "route_key", f"{key!r}: the greedy variable {segment} is not last")
            if key in seen:
                yield violation(route, "route_key", f"{key!r} is also {seen[key]}'s: AWS refuses the second")
            seen[key] = route.name
            goal = route.properties.get("target", "")
            integration = target(plan, goal.removeprefix("integrations/")) if goal.startswith("integrations/") else None
            if integration is None or integration.type != INTEGRATION or \
                    target(plan, integration.properties.get("api_id")) is not api:
                yield violation(route, "target", f"{goal!r} is not integrations/ID of an integration of {api.name}")


@rule("apigw-jwt-authorizer", "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html",
      "A JWT authorizer takes its identity source from the request ($request.header.NAME) and a jwtConfiguration "
      "with the issuer (an https URL: API Gateway reads its OpenID discovery document) and at least one "
      "audience; a route it protects has authorizationType JWT and that authorizer's id, in the same API.")
def _jwt_authorizer(plan):
    for authorizer in plan.of_type(AUTHORIZER):
        if authorizer.properties.get("authorizer_type") != "JWT":
            continue
        config = authorizer.properties.get("jwt_configuration") or {}
        if not str(config.get("issuer", "")).startswith("https://"):
            yield violation(authorizer, "jwt_configuration.issuer", f"{config.get('issuer')!r} is not an https URL")
        if not config.get("audiences"):
            yield violation(authorizer, "jwt_configuration.audiences", "no audience: every token would be refused")
        sources = authorizer.properties.get("identity_sources") or []
        if len(sources) != 1 or not str(sources[0]).startswith("$request.header."):
            yield violation(authorizer, "identity_sources", f"{sources}: a JWT authorizer reads one request header")
    for route in plan.of_type(ROUTE):
        kind, given = route.properties.get("authorization_type", "NONE"), route.properties.get("authorizer_id")
        authorizer = target(plan, given) if given else None
        if kind == "JWT" and (authorizer is None or authorizer.type != AUTHORIZER
                              or authorizer.properties.get("authorizer_type") != "JWT"
                              or authorizer.properties.get("api_id") != route.properties.get("api_id")):
            yield violation(route, "authorizer_id", f"authorization JWT needs a JWT authorizer of the same API, "
                                                    f"not {given!r}")
        elif kind in (None, "NONE") and given:
            yield violation(route, "authorization_type", "an authorizer without authorization_type JWT is not used")


@rule("apigw-private-integration",
      "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-private.html",
      "A private integration has connection type VPC_LINK, the VPC link's id, and as integration URI the ARN of "
      "an Application or Network Load Balancer listener (or a Cloud Map service); HTTP proxy integrations use "
      "payload format version 1.0; an HTTP API integration times out after 50 to 30,000 ms.",
      source="botocore's apigatewayv2 model (integration types and the timeout range), the AWS documentation above")
def _private_integration(plan):
    low, high = catalog.limits("apigatewayv2", "IntegerWithLengthBetween50And30000")
    types = catalog.enum("apigatewayv2", "IntegrationType")
    for integration in plan.of_type(INTEGRATION):
        p = integration.properties
        if p.get("integration_type") not in types:
            yield violation(integration, "integration_type", f"{p.get('integration_type')!r} is not one of {sorted(types)}")
        if p.get("integration_type") == "HTTP_PROXY" and p.get("payload_format_version", "1.0") != "1.0":
            yield violation(integration, "payload_format_version", "HTTP proxy integrations take 1.0 only")
        timeout = p.get("timeout_milliseconds")
        if timeout is not None and not low <= timeout <= high:
            yield violation(integration, "timeout_milliseconds", f"{timeout} is outside {low}..{high}")
        if p.get("connection_type") != "VPC_LINK":
            # The gateway never has a public backend (providers/aws/kinds/api_gateways.py).
            yield violation(integration, "connection_type", f"{p.get('connection_type')!r}: not a private integration")
            continue
        link = target(plan, p.get("connection_id"))
        if link is None or link.type != VPC_LINK or link.properties.get("region") != p.get("region"):
            yield violation(integration, "connection_id", f"{p.get('connection_id')!r} is not a VPC link in its region")
        listener = target(plan, p.get("integration_uri"))
        if listener is None or listener.type != LISTENER or not p["integration_uri"].endswith(".arn}"):
            yield violation(integration, "integration_uri", f"{p.get('integration_uri')!r} is not a listener's ARN")
            continue
        balancer = target(plan, listener.properties.get("load_balancer_arn"))
        if balancer is not None and balancer.type == BALANCER and not balancer.properties.get("internal"):
            yield violation(integration, "integration_uri", f"{balancer.name} is internet-facing: the gateway's "
                                                            "backend must be private")


@rule("apigw-stage-throttling", "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html",
      "Stage and route throttling limits may not exceed the account's (10,000 requests per second with a burst "
      "of 5,000 per Region by default), and route-level settings name a route key of the stage's API.")
def _stage_throttling(plan):
    for stage in plan.of_type(STAGE):
        api = target(plan, stage.properties.get("api_id"))
        keys = _route_keys(plan, api) if api is not None else set()
        settings = [("default_route_settings", stage.properties.get("default_route_settings") or {})]
        settings += [(f"route_settings[{i}]", s) for i, s in enumerate(stage.properties.get("route_settings") or [])]
        for where, setting in settings:
            rate, burst = setting.get("throttling_rate_limit"), setting.get("throttling_burst_limit")
            if rate is not None and not 0 < rate <= MAX_RATE:
                yield violation(stage, f"{where}.throttling_rate_limit", f"{rate} is outside 0..{MAX_RATE}")
            if burst is not None and not 0 < burst <= MAX_BURST:
                yield violation(stage, f"{where}.throttling_burst_limit", f"{burst} is outside 1..{MAX_BURST}")
            if where != "default_route_settings" and setting.get("route_key") not in keys:
                yield violation(stage, f"{where}.route_key", f"{setting.get('route_key')!r} is no route of its API")


@rule("apigw-access-log-format", "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html",
      "Access logging sends to a CloudWatch Logs log group given by its ARN, and the log format must include "
      "at least $context.requestId or $context.extendedRequestId.")
def _access_logs(plan):
    for stage in plan.of_type(STAGE):
        settings = stage.properties.get("access_log_settings")
        if not settings:
            continue
        if not re.search(r"\$context\.(requestId|extendedRequestId)\b", settings.get("format", "")):
            yield violation(stage, "access_log_settings.format", "has neither $context.requestId nor "
                                                                 "$context.extendedRequestId")
        group = target(plan, settings.get("destination_arn"))
        if group is None or group.type != LOG_GROUP or not settings["destination_arn"].endswith(".arn}") \
                or group.properties.get("region") != stage.properties.get("region"):
            yield violation(stage, "access_log_settings.destination_arn",
                            f"{settings.get('destination_arn')!r} is not a log group's ARN in the stage's region")


def covers(name: str, pattern: str) -> bool:
    """Whether a certificate name covers `name`: equal, or a wildcard for exactly one label."""
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return name == pattern


@rule("apigw-custom-domain-certificate",
      "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-custom-domain-names.html",
      "A Regional custom domain name needs an ACM certificate in the same Region as the API that covers the "
      "domain name (a wildcard certificate name covers one label: *.example.com covers a.example.com, not "
      "a.b.example.com).")
def _domain_certificate(plan):
    for domain in plan.of_type(DOMAIN):
        config = domain.properties.get("domain_name_configuration") or {}
        name, arn = domain.properties.get("domain_name", ""), config.get("certificate_arn", "")
        validation = target(plan, arn)
        if validation is None:
            if not arn.startswith("arn:aws:acm:" + str(domain.properties.get("region")) + ":"):
                yield violation(domain, "domain_name_configuration.certificate_arn",
                                f"{arn!r} is not an ACM certificate in {domain.properties.get('region')}")
            continue  # the user's certificate: its names are not in the Plan
        certificate = target(plan, validation.properties.get("certificate_arn")) if validation.type == VALIDATION \
            else validation
        if certificate is None or certificate.type != CERTIFICATE:
            yield violation(domain, "domain_name_configuration.certificate_arn", f"{arn!r} is no ACM certificate")
            continue
        if certificate.properties.get("region") != domain.properties.get("region"):
            yield violation(domain, "domain_name_configuration.certificate_arn",
                            f"{certificate.name} is in {certificate.properties.get('region')}, the domain in "
                            f"{domain.properties.get('region')}")
        names = [certificate.properties.get("domain_name", ""), *certificate.properties.get("subject_alternative_names", [])]
        if not any(covers(name, pattern) for pattern in names):
            yield violation(domain, "domain_name", f"{name} is not covered by {certificate.name}'s names {names}")
        if config.get("endpoint_type") != "REGIONAL":
            yield violation(domain, "domain_name_configuration.endpoint_type", "HTTP APIs take REGIONAL domains only")


@rule("apigw-custom-domain-routing",
      "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-regional-api-custom-domain-create.html",
      "A custom domain reaches an API through an API mapping to one of that API's stages, and DNS reaches the "
      "domain through an alias record to its regional domain name and that name's hosted zone id.")
def _domain_routing(plan):
    for mapping in plan.of_type(MAPPING):
        api, stage = target(plan, mapping.properties.get("api_id")), target(plan, mapping.properties.get("stage"))
        if stage is None or stage.type != STAGE or target(plan, stage.properties.get("api_id")) is not api:
            yield violation(mapping, "stage", f"{mapping.properties.get('stage')!r} is not a stage of the mapped API")
        if (target(plan, mapping.properties.get("domain_name")) or mapping).type != DOMAIN:
            yield violation(mapping, "domain_name", "is not a custom domain of the Plan")
    for record in plan.of_type(RECORD):
        for i, alias in enumerate(record.properties.get("aliases") or []):
            domain = target(plan, alias.get("name"))
            if domain is None or domain.type != DOMAIN:
                continue
            if alias["name"] != f"${{{domain.name}.domain_name_configuration.target_domain_name}}" or \
                    alias.get("zone_id") != f"${{{domain.name}.domain_name_configuration.hosted_zone_id}}":
                yield violation(record, f"aliases[{i}]", f"not {domain.name}'s target_domain_name and hosted_zone_id")
            if record.properties.get("name") != domain.properties.get("domain_name"):
                yield violation(record, "name", f"{record.properties.get('name')!r}, but the domain is "
                                                f"{domain.properties.get('domain_name')!r}")


@rule("apigw-http-api-metrics", "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html",
      "HTTP APIs publish 4xx, 5xx, Count, IntegrationLatency, Latency and DataProcessed in AWS/ApiGateway with "
      "the ApiId (and Stage) dimensions; REST API names such as 5XXError never arrive for them.")
def _http_api_metrics(plan):
    for alarm in plan.of_type(ALARM):
        dimensions = alarm.properties.get("dimensions") or {}
        api = target(plan, dimensions.get("ApiId"))
        if alarm.properties.get("namespace") != "AWS/ApiGateway" or api is None:
            continue
        if alarm.properties.get("metric_name") not in HTTP_API_METRICS:
            yield violation(alarm, "metric_name", f"{alarm.properties.get('metric_name')!r}: an HTTP API publishes "
                                                  f"{sorted(HTTP_API_METRICS)}")
        stages = {s.properties.get("name") for s in _of_api(plan, STAGE, api)}
        if "Stage" in dimensions and dimensions["Stage"] not in stages:
            yield violation(alarm, "dimensions.Stage", f"{dimensions['Stage']!r} is no stage of {api.name}")
        if alarm.properties.get("region") != api.properties.get("region"):
            yield violation(alarm, "region", "not the API's region: the metric is regional")
