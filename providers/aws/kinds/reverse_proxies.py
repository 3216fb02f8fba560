"""Reverse proxies on AWS: the balancer they front, a WAF web ACL, and CloudFront for caching.

A reverse proxy has no server of its own on AWS: its TLS and redirect live
on its upstream layer 7 balancer, its compression, cache and static files
in a CloudFront distribution in front of it (edge.py), and its rate limit
and address lists in a WAFv2 web ACL where it sees the viewers' addresses:
a CLOUDFRONT-scope ACL (us-east-1) on its distribution when it has one,
else a REGIONAL ACL attached to the balancer at every site (a balancer takes
one ACL: `ctx.web_acl_owners` refuses a second proxy).
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from topoform.dsl.models import LoadBalancer, ReverseProxy
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts, ref

from .. import edge
from ..certificates import CLOUDFRONT_REGION
from ..context import AwsContext
from ..sites import site_name
from . import load_balancers

CLOUDFRONT = "cloudfront"  # where a distribution's web ACL lives, in place of a site
WAF_WINDOW = 60  # seconds: the shortest evaluation window, closest to a per-second limit
WAF_MIN_LIMIT = 10


def metric_name(text: str) -> str:
    """A CloudWatch metric name for WAF (letters, digits, `_` and `-`; at most 128)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:128]


def build(ctx: AwsContext, proxy: ReverseProxy) -> None:
    lb = edge.origin_balancer(ctx, ctx.bp.component(proxy.upstream), ("reverse_proxies", proxy.name, "upstream"))
    if lb.layer != 7:
        raise ctx.unsupported(f"on aws a reverse proxy works at layer 7, but {ctx.ref_of(lb)} is layer 4",
                              "set `layer: 7` on the balancer", "reverse_proxies", proxy.name, "upstream")
    if proxy.tls and not edge.has_distribution(proxy) and not load_balancers.has_tls(lb):
        raise ctx.unsupported(f"`tls: true` on aws terminates TLS at {ctx.ref_of(lb)}, which has no TLS listener",
                              "add `{port: 443, tls: true}` to the balancer's listeners",
                              "reverse_proxies", proxy.name, "tls")
    filters = bool(proxy.rate_limit or proxy.deny or proxy.allow)
    if edge.has_distribution(proxy):
        # The distribution is what viewers connect to: only an ACL on it sees their
        # addresses (on the ALB behind it every request comes from a CloudFront edge).
        acl = web_acl(ctx, proxy, lb, CLOUDFRONT) if filters else None
        proxy_distribution(ctx, proxy, lb, acl)
    elif filters:
        if load_balancers.fronting_distributions(ctx, lb):
            ctx.warn(f"{ctx.ref_of(proxy)}'s address rules sit on {ctx.ref_of(lb)}, which CloudFront also fetches "
                     "from: requests through CloudFront are counted per edge address, not per viewer",
                     "give the proxy `compression`, `cache` or `static` so it is a distribution and its web ACL "
                     "moves there", "reverse_proxies", proxy.name)
        for site in ctx.sites.all:
            web_acl(ctx, proxy, lb, site)
    ctx.export(proxy, ("url",))


def attribute(ctx: AwsContext, proxy: ReverseProxy, attr: str) -> str:
    """A caching proxy is its distribution; a plain one is reached at the balancer it configures."""
    if edge.has_distribution(proxy):
        return edge.distribution_attribute(ctx, proxy, attr)
    if attr == "name":
        return proxy.name
    lb = edge.origin_balancer(ctx, proxy, ("reverse_proxies", proxy.name))
    return load_balancers.attribute(ctx, lb, attr)


def web_acl(ctx: AwsContext, proxy: ReverseProxy, lb: LoadBalancer, site: str) -> str:
    """The proxy's web ACL: on its balancer at `site` (REGIONAL), or for its distribution (`CLOUDFRONT`:
    the CLOUDFRONT scope lives in us-east-1; the distribution names it in `web_acl_id`)."""
    if site == CLOUDFRONT:
        where, prefix = {"region": CLOUDFRONT_REGION, "scope": "CLOUDFRONT"}, ctx.prefix(proxy)
    else:
        owner = ctx.web_acl_owners.setdefault((ctx.ref_of(lb), site), ctx.ref_of(proxy))
        if owner != ctx.ref_of(proxy):
            raise ctx.unsupported(f"{ctx.ref_of(lb)} already has the web ACL of {owner}; a balancer takes one",
                                  "merge the rate limits and deny lists into one reverse proxy",
                                  "reverse_proxies", proxy.name)
        where, prefix = {"region": ctx.sites.region(site), "scope": "REGIONAL"}, site_name(ctx.prefix(proxy), site)
    label = metric_name(f"{ctx.bp.blueprint}-{ctx.stack}-{prefix}")
    visibility = lambda suffix: {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True,  # noqa: E731
                                 "metric_name": f"{label}-{suffix}"}
    rules: list[dict] = []

    def ip_rule(addresses: list[str], what: str, action: str) -> None:
        for version in ("IPV4", "IPV6"):
            chosen = sorted(a for a in addresses if (":" in a) == (version == "IPV6"))
            if not chosen:
                continue
            ip_set = ctx.add("aws:wafv2/ipSet:IpSet", f"{prefix}-{what}-{version.lower()}", {
                "addresses": chosen, "ip_address_version": version,
                "description": f"{what} list of {ctx.ref_of(proxy)}", **where, "tags": ctx.tags(),
            })
            rules.append({"name": f"{what}-{version.lower()}", "priority": len(rules),
                          "action": {action: {}},
                          "statement": {"ip_set_reference_statement": {"arn": ref(ip_set, "arn")}},
                          "visibility_config": visibility(f"{what}-{version.lower()}")})

    if proxy.deny:
        ip_rule(proxy.deny, "deny", "block")
    if proxy.rate_limit:
        per_window = max(proxy.rate_limit.requests_per_second * WAF_WINDOW, WAF_MIN_LIMIT)
        rules.append({"name": "rate-limit", "priority": len(rules), "action": {"block": {}},
                      "statement": {"rate_based_statement": {
                          "limit": per_window, "aggregate_key_type": "IP", "evaluation_window_sec": WAF_WINDOW}},
                      "visibility_config": visibility("rate-limit")})
    if proxy.allow:
        ip_rule(proxy.allow, "allow", "allow")
    acl = ctx.add("aws:wafv2/webAcl:WebAcl", f"{prefix}-web-acl", {
        "description": f"rate limit and address rules of {ctx.ref_of(proxy)}",
        "default_action": {"block": {}} if proxy.allow else {"allow": {}},
        "rules": rules, "visibility_config": visibility("acl"), **where, "tags": ctx.tags(),
    })
    if site != CLOUDFRONT:
        ctx.add("aws:wafv2/webAclAssociation:WebAclAssociation", f"{prefix}-web-acl-link", {
            "resource_arn": ref(load_balancers.balancer_name(ctx, lb, site), "arn"), "web_acl_arn": ref(acl, "arn"),
            "region": ctx.sites.region(site),
        })
    return acl.name


def proxy_distribution(ctx: AwsContext, proxy: ReverseProxy, lb: LoadBalancer, acl: str | None) -> None:
    origin = edge.custom_origin(ctx, lb)
    origins = [origin]
    compress = proxy.compression
    if proxy.cache:
        policy = edge.cache_policy(ctx, proxy, proxy.cache.ttl, 0, max(proxy.cache.ttl, 86400), compress, dynamic=True)
    else:
        policy = edge.MANAGED + edge.CACHING_DISABLED
    default = edge.behavior(origin["origin_id"], policy, https_only=True, compress=compress, dynamic=True)
    ordered, bucket = [], None
    if proxy.static:
        directory = os.path.join(ctx.bp.base_dir, proxy.static.directory)
        if not os.path.isdir(directory):
            raise ctx.unsupported(f"static directory '{proxy.static.directory}' does not exist",
                                  f"create it (relative to the blueprint file: {directory})",
                                  "reverse_proxies", proxy.name, "static", "directory")
        path = proxy.static.path if proxy.static.path.endswith("/") else proxy.static.path + "/"
        static_origin, bucket = edge.private_bucket(ctx, proxy, directory, "static files", key_prefix=path.lstrip("/"))
        origins.append(static_origin)
        static_policy = cache_policy_static(ctx, proxy, compress)
        ordered.append(edge.behavior(static_origin["origin_id"], static_policy, https_only=True,
                                     compress=compress, dynamic=False, path=path + "*"))
    name = edge.distribution(ctx, proxy, origins, default, ordered, web_acl=acl)
    if bucket:
        edge.bucket_policy(ctx, proxy, bucket, [name])


def cache_policy_static(ctx: AwsContext, proxy: ReverseProxy, compress: bool) -> str:
    ttl = proxy.cache.ttl if proxy.cache else 86400
    name = f"{ctx.prefix(proxy)}-static-cache-policy"
    ctx.add("aws:cloudfront/cachePolicy:CachePolicy", name, {
        "comment": f"static files of {ctx.ref_of(proxy)}", "default_ttl": int(ttl), "min_ttl": 0,
        "max_ttl": int(max(ttl, 86400)),
        "parameters_in_cache_key_and_forwarded_to_origin": {
            "cookies_config": {"cookie_behavior": "none"}, "headers_config": {"header_behavior": "none"},
            "query_strings_config": {"query_string_behavior": "none"},
            "enable_accept_encoding_gzip": compress, "enable_accept_encoding_brotli": compress},
    })
    return name


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.9, "Amazon CloudFront SLA (a reverse proxy on aws is CloudFront + WAF rules in "
                                  "front of the balancer)", "CloudFront SLA")


def facts(ctx: Any, proxy: ReverseProxy, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, proxy, table, 1, "one managed distribution",
                                     dr_copy=topology(ctx.bp).hot_dr, managed=True, implementation="cloudfront")
