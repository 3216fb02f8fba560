"""Rules for the edge: CloudFront, WAF, ACM and Route53."""

from __future__ import annotations

import fnmatch
import json

from . import catalog
from .plan_view import (CLOUDFRONT_ORIGIN_FACING, OPEN, ingress_rules, ingress_sources, is_dr, origins_of, referrers,
                        target, violation, warned)
from .registry import rule

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
LB = "aws:lb/loadBalancer:LoadBalancer"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LONG_TTL = 60  # seconds a shared response may outlive a session change before it is a defect


def _key(policy):
    return policy.properties.get("parameters_in_cache_key_and_forwarded_to_origin") or {}


def _in_key(policy) -> list[str]:
    """The cache-key settings a policy turns on (cookies, headers, query strings)."""
    key = _key(policy)
    found = [part for part, behavior in (("cookies", "cookie_behavior"), ("headers", "header_behavior"),
                                         ("query strings", "query_string_behavior"))
             if (key.get(f"{part.replace(' ', '_')}_config") or {}).get(behavior, "none") != "none"]
    return found


@rule("cloudfront-cache-policy-caching-disabled",
      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cache-key-understand-cache-policy.html",
      "With minimum, default and maximum TTL all 0 caching is disabled: CloudFront then refuses Accept-Encoding "
      "normalisation (gzip/brotli) and any header, cookie or query string in the cache key (use an origin "
      "request policy to forward them).")
def _caching_disabled(plan):
    for policy in plan.of_type(CACHE_POLICY):
        if all(policy.properties.get(t, 0) == 0 for t in ("min_ttl", "default_ttl", "max_ttl")):
            key = _key(policy)
            refused = [f for f in ("enable_accept_encoding_gzip", "enable_accept_encoding_brotli") if key.get(f)]
            refused += _in_key(policy)
            if refused:
                yield violation(policy, "parameters_in_cache_key_and_forwarded_to_origin",
                                f"all TTLs 0, yet {', '.join(refused)}: CloudFront refuses the policy")


@rule("cloudfront-cache-policy-ttls", "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html",
      "MinTTL ≤ DefaultTTL ≤ MaxTTL; the default TTL is used only when the origin sends no Cache-Control or Expires.")
def _ttl_order(plan):
    for policy in plan.of_type(CACHE_POLICY):
        low, default, high = (policy.properties.get(t, 0) for t in ("min_ttl", "default_ttl", "max_ttl"))
        if not low <= default <= high:
            yield violation(policy, "default_ttl", f"min {low} ≤ default {default} ≤ max {high} does not hold")


@rule("cloudfront-default-certificate-protocol",
      "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html",
      "With CloudFrontDefaultCertificate true CloudFront sets the security policy to TLSv1 whatever "
      "MinimumProtocolVersion says, so any other value is ignored (and shows as a perpetual diff).",
      source="botocore cloudfront MinimumProtocolVersion")
def _default_certificate(plan):
    allowed = catalog.enum("cloudfront", "MinimumProtocolVersion")
    for dist in plan.of_type(DISTRIBUTION):
        cert = dist.properties.get("viewer_certificate") or {}
        version = cert.get("minimum_protocol_version")
        if version is not None and version not in allowed:
            yield violation(dist, "viewer_certificate.minimum_protocol_version", f"{version!r} is not a CloudFront policy")
        if cert.get("cloudfront_default_certificate") and version not in (None, "TLSv1"):
            yield violation(dist, "viewer_certificate.minimum_protocol_version",
                            f"{version} with the default *.cloudfront.net certificate: AWS uses TLSv1")


@rule("cloudfront-distribution-values", "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DistributionConfig.html",
      "ViewerProtocolPolicy, OriginProtocolPolicy, OriginSslProtocols, HttpVersion and PriceClass take only "
      "their enumerated values; README promises viewers are redirected to HTTPS and origins reached over TLS 1.2 "
      "(checked where the origin balancer has an HTTPS listener).",
      source="botocore cloudfront ViewerProtocolPolicy, OriginProtocolPolicy, SslProtocol, HttpVersion, PriceClass")
def _distribution_values(plan):
    enum = catalog.enum
    for dist in plan.of_type(DISTRIBUTION):
        p = dist.properties
        behaviors = [p.get("default_cache_behavior") or {}] + (p.get("ordered_cache_behaviors") or [])
        checks = [("http_version", p.get("http_version"), enum("cloudfront", "HttpVersion")),
                  ("price_class", p.get("price_class"), enum("cloudfront", "PriceClass"))]
        checks += [("viewer_protocol_policy", b.get("viewer_protocol_policy"), {"redirect-to-https", "https-only"})
                   for b in behaviors]
        for origin in p.get("origins", []):
            custom = origin.get("custom_origin_config")
            if custom:
                tls = origin.get("origin_id") in _tls_components(plan)
                checks.append(("origin_protocol_policy", custom.get("origin_protocol_policy"),
                               {"https-only"} if tls else {"https-only", "http-only"}))
                checks += [("origin_ssl_protocols", v, enum("cloudfront", "SslProtocol") & {"TLSv1.2"})
                           for v in custom.get("origin_ssl_protocols", [])]
        for prop, value, allowed in checks:
            if value is not None and value not in allowed:
                yield violation(dist, prop, f"{value!r} (expected one of {', '.join(sorted(allowed))})")


def _tls_components(plan) -> set[str]:
    """Components whose balancer has an HTTPS listener."""
    return {target(plan, l.properties.get("load_balancer_arn")).component
            for l in plan.of_type("aws:lb/listener:Listener") if l.properties.get("protocol") == "HTTPS"}


def _cache_policy(plan, behavior):
    return target(plan, behavior.get("cache_policy_id"))


@rule("cloudfront-dynamic-content-shared",
      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Cookies.html",
      "CloudFront caches one object per cache key: when the origin's responses depend on cookies or headers "
      "(sessions, auth) that are not in the key, the first viewer's response is served to everyone for the TTL "
      "(flagged past a minute, unless the blueprint set that TTL and the Plan warns about it).")
def _dynamic_shared(plan):
    for dist in plan.of_type(DISTRIBUTION):
        behavior = dist.properties.get("default_cache_behavior") or {}
        origins = {o["origin_id"]: o for o in dist.properties.get("origins", [])}
        origin = origins.get(behavior.get("target_origin_id"), {})
        policy = _cache_policy(plan, behavior)
        dynamic = "custom_origin_config" in origin and WRITE_METHODS & set(behavior.get("allowed_methods", []))
        ttl = policy.properties.get("default_ttl", 0) if policy is not None else 0
        # `ttl.default` set explicitly is the blueprint's choice, which the Plan warns about (cdns.py).
        chosen = warned(plan, f"{dist.component} keeps a response of", f"without Cache-Control for {int(ttl)}s",
                        "shares it with every viewer")
        if dynamic and ttl > LONG_TTL and not chosen and not ({"cookies", "headers"} & set(_in_key(policy))):
            yield violation(dist, "default_cache_behavior", f"an application origin (it takes writes) cached "
                            f"{policy.properties['default_ttl']} s with neither cookies nor headers in the key")


FAILOVER_METHODS = {"GET", "HEAD", "OPTIONS"}
FAILOVER_CODES = {500, 502, 503, 504}


def _dns_fails_over(plan, domain, dr_lb) -> bool:
    """Whether `domain` is a Route53 failover name whose SECONDARY aliases `dr_lb`."""
    return any(r.properties.get("name") == domain and dr_lb.name in r.references()
               and [p.get("type") for p in r.properties.get("failover_routing_policies") or []] == ["SECONDARY"]
               for r in plan.of_type(RECORD))


@rule("cloudfront-hot-dr-origin-group",
      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/high_availability_origin_failover.html",
      "CloudFront fails over between origins only through an origin group (a primary and a secondary origin "
      "with failover status codes), and only for GET, HEAD and OPTIONS: it refuses an origin group as the "
      "target of a behaviour allowing POST, PUT, PATCH or DELETE. So with a hot DR site, read-only behaviours "
      "target a group whose secondary is the DR balancer, and the others reach an origin name that fails over "
      "in Route53 to it.")
def _origin_group(plan):
    dr_lbs = {lb.component: lb for lb in plan.of_type(LB) if is_dr(lb)}
    if not dr_lbs:
        return
    for dist in plan.of_type(DISTRIBUTION):
        p = dist.properties
        origins = {o["origin_id"]: o for o in p.get("origins", [])}
        groups = {g["origin_id"]: g for g in p.get("origin_groups") or []}
        for behavior in [p.get("default_cache_behavior") or {}] + (p.get("ordered_cache_behaviors") or []):
            where = f"behaviour {behavior.get('path_pattern', '*')}"
            reads_only = set(behavior.get("allowed_methods", [])) <= FAILOVER_METHODS
            group = groups.get(behavior.get("target_origin_id"))
            if group is not None:
                members = [m.get("origin_id") for m in group.get("members", [])]
                dr_lb = dr_lbs.get(members[0]) if members else None
                secondary = origins.get(members[1]) if len(members) == 2 else None
                if not reads_only:
                    yield violation(dist, "origin_groups", f"{where} allows writes: CloudFront refuses an origin group")
                if dr_lb is None or secondary is None or dr_lb.name not in json.dumps(secondary) and not \
                        _dns_fails_over(plan, secondary.get("domain_name"), dr_lb):
                    yield violation(dist, "origin_groups", f"{group['origin_id']}: the secondary is not the DR balancer")
                if not FAILOVER_CODES <= set((group.get("failover_criteria") or {}).get("status_codes", [])):
                    yield violation(dist, "origin_groups", f"{group['origin_id']} does not fail over on 500/502/503/504")
                continue
            dr_lb = dr_lbs.get(behavior.get("target_origin_id"))
            if dr_lb is None:
                continue
            if reads_only:
                yield violation(dist, "origin_groups", f"{where} reaches only the primary "
                                f"{behavior.get('target_origin_id')}, though a hot DR site has its own balancer")
            elif not _dns_fails_over(plan, origins[behavior["target_origin_id"]].get("domain_name"), dr_lb):
                yield violation(dist, "origins", f"{where} takes writes and its origin name never fails over "
                                f"to {dr_lb.name}")


@rule("cloudfront-origin-resolves", "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistS3AndCustomOrigins.html",
      "A custom origin's domain name must be a publicly resolvable DNS name of the origin server.")
def _origin_resolves(plan):
    names = {r.properties.get("name", "").rstrip(".") for r in plan.of_type(RECORD)}
    for dist in plan.of_type(DISTRIBUTION):
        for origin in dist.properties.get("origins", []):
            domain = origin.get("domain_name", "")
            if "custom_origin_config" in origin and "${" not in domain and domain not in names:
                yield violation(dist, "origins", f"origin {domain!r} is neither an output of the Plan nor a record it creates")


@rule("waf-regional-acl-behind-cloudfront",
      "https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-forwarded-ip-address.html",
      "Behind CloudFront a REGIONAL web ACL sees CloudFront's edge addresses as the client IP: IP-set and "
      "rate-based rules act on the edge unless they read the X-Forwarded-For header (forwarded_ip_config), "
      "or the ACL is a CLOUDFRONT-scope ACL on the distribution.")
def _waf_behind_cloudfront(plan):
    fronted = origins_of(plan)
    for link in plan.of_type("aws:wafv2/webAclAssociation:WebAclAssociation"):
        lb, acl = target(plan, link.properties.get("resource_arn")), target(plan, link.properties.get("web_acl_arn"))
        if lb is None or acl is None or lb.name not in fronted or acl.properties.get("scope") != "REGIONAL":
            continue
        for i, item in enumerate(acl.properties.get("rules", [])):
            statement = item.get("statement", {})
            ip_rule = statement.get("ip_set_reference_statement") or statement.get("rate_based_statement")
            if ip_rule and not (ip_rule.get("ip_set_forwarded_ip_config") or ip_rule.get("forwarded_ip_config")):
                yield violation(acl, f"rules[{i}]", f"{item.get('name')} matches the client address of {lb.name}, "
                                "which sits behind CloudFront: it sees edge addresses")


@rule("alb-behind-cloudfront-open",
      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/restrict-access-to-load-balancer.html",
      "A load balancer that is a CloudFront origin should accept only CloudFront (the "
      "com.amazonaws.global.cloudfront.origin-facing prefix list); open to 0.0.0.0/0 it lets clients bypass "
      "the CDN and its WAF (unless DNS also points at the balancer, which the Plan warns about).")
def _alb_open(plan):
    for lb_name in origins_of(plan):
        lb = plan.get(lb_name)
        # A blueprint may point DNS records straight at the balancer as well: then it is reached
        # directly and must stay open, which the Plan says in a warning (load_balancers.py).
        direct = warned(plan, f"{lb.component} is the origin of", "also reached directly", "stays open to the internet")
        for group_ref in lb.properties.get("security_groups") or []:
            group = target(plan, group_ref)
            for ingress in ingress_rules(plan, group.name) if group else []:
                for kind, source in ingress_sources(plan, ingress):
                    if kind == "cidr" and source in OPEN and not direct:
                        yield violation(ingress, "cidr_ipv4", f"{lb_name} is a CloudFront origin yet open to the internet")
                    elif kind == "prefix-list" and source != CLOUDFRONT_ORIGIN_FACING:
                        yield violation(ingress, "prefix_list_id", f"{lb_name} admits prefix list {source!r}, "
                                        f"not {CLOUDFRONT_ORIGIN_FACING}")


@rule("waf-rule-limits", "https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html",
      "A rate-based rule's Limit is 10–2,000,000,000 requests per evaluation window, the window 60, 120, 300 "
      "or 600 s; Scope is CLOUDFRONT or REGIONAL (CLOUDFRONT only in us-east-1).",
      source="botocore wafv2 RateLimit and Scope")
def _waf_limits(plan):
    low, high = catalog.limits("wafv2", "RateLimit")
    for acl in plan.of_type(WEB_ACL) + plan.of_type("aws:wafv2/ipSet:IpSet"):
        if acl.properties.get("scope") not in catalog.enum("wafv2", "Scope"):
            yield violation(acl, "scope", f"{acl.properties.get('scope')!r}")
        for i, item in enumerate(acl.properties.get("rules", [])):
            rate = item.get("statement", {}).get("rate_based_statement")
            if rate and not (low <= rate.get("limit", 0) <= high and rate.get("evaluation_window_sec", 300) in (60, 120, 300, 600)):
                yield violation(acl, f"rules[{i}].statement", f"rate limit {rate.get('limit')} per "
                                f"{rate.get('evaluation_window_sec')} s is outside what WAF accepts")


@rule("acm-validation-in-undelegated-zone",
      "https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html",
      "ACM validates a domain by looking up its CNAME record in public DNS; records in a hosted zone that was "
      "just created are invisible until the parent domain delegates to that zone's name servers, so the "
      "certificate stays PENDING_VALIDATION and CertificateValidation times out (75 min in pulumi-aws). "
      "A Plan whose output dns.delegated says the zone is declared delegated (its second stage) is exempt.")
def _undelegated_validation(plan):
    if plan.outputs.get("dns.delegated"):
        return  # the blueprint's second stage: the zone is declared delegated, and `up` checks it first
    for validation in plan.of_type("aws:acm/certificateValidation:CertificateValidation"):
        for fqdn in validation.properties.get("validation_record_fqdns", []):
            record = target(plan, fqdn)
            zone = target(plan, record.properties.get("zone_id")) if record else None
            if zone is not None and zone.type == ZONE:
                yield violation(validation, "validation_record_fqdns",
                                f"waits for {record.name} in {zone.name}, a zone this Plan creates: nothing "
                                f"delegates {zone.properties.get('name')} to it before the wait times out")
                break


_ROUTING = ("weighted_routing_policies", "latency_routing_policies", "geolocation_routing_policies",
            "failover_routing_policies", "geoproximity_routing_policy", "cidr_routing_policy")


@rule("route53-record-shape", "https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html",
      "A record's Type is one of the RRTypes; an alias record has no TTL and no ResourceRecords, any other has "
      "both (TTL 0–2,147,483,647); a record has at most one routing policy, and SetIdentifier exactly when it "
      "has one.", source="botocore route53 RRType and TTL")
def _record_shape(plan):
    low, high = catalog.limits("route53", "TTL")
    for record in plan.of_type(RECORD):
        p = record.properties
        if "${" not in str(p.get("type")) and p.get("type") not in catalog.enum("route53", "RRType"):
            yield violation(record, "type", f"{p.get('type')!r} is not a Route53 record type")
        if p.get("aliases") and ("ttl" in p or "records" in p):
            yield violation(record, "ttl", "an alias record takes neither ttl nor records")
        if not p.get("aliases") and not ("records" in p and isinstance(p.get("ttl"), int) and low <= p["ttl"] <= high):
            yield violation(record, "ttl", "a non-alias record needs records and a TTL in range")
        policies = [k for k in _ROUTING if p.get(k)]
        if len(policies) > 1 or bool(policies) != bool(p.get("set_identifier")):
            yield violation(record, "set_identifier", f"routing {policies or 'simple'} with set_identifier "
                            f"{p.get('set_identifier')!r}")


@rule("route53-health-check-values", "https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html",
      "Type is one of the health-check types, RequestInterval 10 or 30 s, FailureThreshold 1–10; HTTPS checks "
      "with SNI send the fully qualified domain name.", source="botocore route53 HealthCheckType, RequestInterval, FailureThreshold")
def _health_check_values(plan):
    for check in plan.of_type(HEALTH_CHECK):
        p = check.properties
        if p.get("type") not in catalog.enum("route53", "HealthCheckType"):
            yield violation(check, "type", f"{p.get('type')!r}")
        if p.get("request_interval", 30) not in (10, 30):
            yield violation(check, "request_interval", f"{p.get('request_interval')} (10 or 30)")
        low, high = catalog.limits("route53", "FailureThreshold")
        if not low <= p.get("failure_threshold", 3) <= high:
            yield violation(check, "failure_threshold", f"{p.get('failure_threshold')} ({low}–{high})")


def _route(plan, listener, path):
    """The actions an ALB listener takes for a request to `path` on the balancer's own DNS name."""
    rules = sorted(referrers(plan, listener, "aws:lb/listenerRule:ListenerRule"), key=lambda r: r.properties.get("priority", 0))
    for listener_rule in rules:
        conditions = listener_rule.properties.get("conditions", [])
        if any("host_header" in c for c in conditions):
            continue  # a health checker sends the balancer's DNS name as Host: no host rule matches it
        patterns = [v for c in conditions for v in (c.get("path_pattern") or {}).get("values", [])]
        if not patterns or any(fnmatch.fnmatchcase(path, p) for p in patterns):
            return listener_rule.properties.get("actions", [])
    return listener.properties.get("default_actions", [])


def _answers_healthy(action) -> bool:
    """Route53 counts a 2xx or 3xx answer as healthy."""
    if action.get("type") in ("forward", "redirect"):
        return True
    status = str((action.get("fixed_response") or {}).get("status_code", "500"))
    return status[0] in "23"


@rule("route53-health-check-routed",
      "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html",
      "An HTTP(S) health check is healthy only on a 2xx or 3xx answer; checking a balancer, the request passes "
      "through its listener rules, so a path they answer with a fixed 404 (or no listener on the port) fails "
      "the check for ever.")
def _health_check_routed(plan):
    listeners = plan.of_type("aws:lb/listener:Listener")
    for check in plan.of_type(HEALTH_CHECK):
        lb = target(plan, check.properties.get("fqdn"))
        if lb is None or lb.type != LB:
            continue
        on_port = [l for l in listeners if target(plan, l.properties.get("load_balancer_arn")) is lb
                   and l.properties.get("port") == check.properties.get("port")]
        if not on_port:
            yield violation(check, "port", f"{lb.name} has no listener on {check.properties.get('port')}")
        elif lb.properties.get("load_balancer_type") == "application":
            path = check.properties.get("resource_path", "/")
            if not all(_answers_healthy(a) for a in _route(plan, on_port[0], path)):
                yield violation(check, "resource_path", f"{path} on {lb.name} answers no 2xx/3xx")


@rule("route53-failover-pair", "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-types.html",
      "Active-passive failover needs a PRIMARY and a SECONDARY record of the same name and type; Route53 "
      "fails over only when the primary is judged unhealthy, so the PRIMARY needs a health check (or an alias "
      "that evaluates target health), else it is always considered healthy.")
def _failover_pair(plan):
    by_name: dict[tuple, dict[str, list]] = {}
    for record in plan.of_type(RECORD):
        for policy in record.properties.get("failover_routing_policies") or []:
            key = (record.properties.get("name"), record.properties.get("type"))
            by_name.setdefault(key, {}).setdefault(policy.get("type"), []).append(record)
    for (name, kind), roles in by_name.items():
        if set(roles) != {"PRIMARY", "SECONDARY"}:
            yield violation(next(iter(roles.values()))[0], "failover_routing_policies",
                            f"{name} {kind} has {sorted(roles)}, not one PRIMARY and one SECONDARY")
        for primary in roles.get("PRIMARY", []):
            aliases = primary.properties.get("aliases") or [{}]
            if not (primary.properties.get("health_check_id") or aliases[0].get("evaluate_target_health")):
                yield violation(primary, "health_check_id", "a PRIMARY without a health check never fails over")
