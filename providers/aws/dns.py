"""Route53: the hosted zone, records with every routing policy, health checks.

A component endpoint becomes an alias record (to an ALB/NLB, or a CloudFront
distribution); a literal endpoint becomes a plain record. Each routing
policy is one entry of `ROUTING` — the key under which Route53 takes it and
how an endpoint turns into it — so adding one is one line. Failover records
point PRIMARY (health-checked) at the primary site and SECONDARY at the DR
site's copy of the balancer. `build(ctx, dns)` is the target's `dns` pass,
run after every component; the zone itself is made by certificates.py on
first use (a certificate may need it earlier).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable

from topoform.dsl.models import Dns, DnsRecord, Endpoint
from topoform.providers import routing
from topoform.providers.plan import ref

from . import edge
from .context import AwsContext
from .kinds import load_balancers
from .sites import DR, PRIMARY

RECORD = "aws:route53/record:Record"
# routing → (Route53 argument, endpoint → its one policy entry)
ROUTING: dict[str, tuple[str, Callable[[Endpoint], dict]]] = {
    "weighted": ("weighted_routing_policies", lambda e: {"weight": e.weight}),
    "latency": ("latency_routing_policies", lambda e: {"region": e.region}),
    "failover": ("failover_routing_policies", lambda e: {"type": "PRIMARY" if e.role == "primary" else "SECONDARY"}),
    "geolocation": ("geolocation_routing_policies",
                    lambda e: {"country": "*"} if e.default else
                    ({"country": e.country} if e.country else {"continent": e.continent})),
}
ROUTE53_INTERVALS = (10, 30)


def label(name: str) -> str:
    return {"@": "apex", "*": "wildcard"}.get(name) or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def literal_type(value: str) -> str:
    try:
        return "AAAA" if ipaddress.ip_address(value).version == 6 else "A"
    except ValueError:
        return "CNAME"


def build(ctx: AwsContext, dns: Dns) -> None:
    routing.refuse_unrouted_health_checks(ctx)
    zone = ctx.certificates.zone_id()
    used: set[str] = set()
    for r, record in enumerate(dns.records):
        base = f"dns-{label(record.name)}"
        if base in used:
            base = f"{base}-{r}"
        used.add(base)
        if record.routing == "simple":
            simple_record(ctx, record, r, base, zone)
            continue
        for e, endpoint in enumerate(record.endpoints):
            policy_record(ctx, record, r, e, endpoint, base, zone)
    if ctx.certificates.creates_zone():
        ctx.plan.outputs["dns.name_servers"] = ref(ctx.certificates.zone(), "name_servers")
    ctx.plan.outputs["dns.zone_id"] = zone


def record_ttl(ctx: AwsContext, record: DnsRecord) -> int:
    return int(record.ttl if record.ttl is not None else ctx.bp.dns.ttl)


def simple_record(ctx: AwsContext, record: DnsRecord, r: int, base: str, zone: str) -> None:
    props = {"zone_id": zone, "name": ctx.certificates.record_fqdn(record.name)}
    targets = [e for e in record.endpoints if e.target]
    if targets:
        if len(record.endpoints) > 1:
            raise ctx.unsupported("a simple record aliases one component on aws",
                                  "use `routing: weighted` to spread over several",
                                  "dns", "records", r, "endpoints")
        props.update(type=record.type or "A", aliases=[alias(ctx, targets[0], ("dns", "records", r, "endpoints", 0))])
    else:
        values = [e.value for e in record.endpoints]
        kind = record.type or literal_type(values[0])
        if kind == "CNAME" and len(values) > 1:
            raise ctx.unsupported("a CNAME record holds one name", None, "dns", "records", r, "endpoints")
        props.update(type=kind, ttl=record_ttl(ctx, record), records=values)
    ctx.add(RECORD, base, props)


def policy_record(ctx: AwsContext, record: DnsRecord, r: int, e: int, endpoint: Endpoint, base: str, zone: str) -> None:
    path = ("dns", "records", r, "endpoints", e)
    key, entry = ROUTING[record.routing]
    name = f"{base}-{e}"
    props: dict = {
        "zone_id": zone, "name": ctx.certificates.record_fqdn(record.name),
        "set_identifier": set_identifier(record, e, endpoint), key: [entry(endpoint)],
    }
    if endpoint.target:
        props.update(type=record.type or "A", aliases=[alias(ctx, endpoint, path)])
    else:
        props.update(type=record.type or literal_type(endpoint.value), ttl=record_ttl(ctx, record),
                     records=[endpoint.value])
    checked = record.health_check is not None and (record.routing != "failover" or endpoint.role == "primary")
    if record.routing == "failover" and endpoint.role == "primary" and record.health_check is None:
        ctx.warn(f"failover record '{record.name}' has no health check: Route53 falls back to the "
                 "balancer's own target health", "add `health_check: {path: /}` to the record",
                 "dns", "records", r)
    if checked:
        props["health_check_id"] = ref(health_check(ctx, record, r, endpoint, name), "id")
    if record.routing == "latency" and endpoint.target:
        check_latency_region(ctx, endpoint, path)
    ctx.add(RECORD, name, props)


def set_identifier(record: DnsRecord, e: int, endpoint: Endpoint) -> str:
    if record.routing == "failover":
        return endpoint.role
    if record.routing == "geolocation":
        where = "default" if endpoint.default else (endpoint.country or endpoint.continent)
        return f"{where}-{e}"
    if record.routing == "latency":
        return f"{endpoint.region}-{e}"
    target = (endpoint.target or endpoint.value or "").replace(".", "-")
    return f"{target}-{endpoint.site}-{e}"[:128]


# ---------------------------------------------------------------- targets


def endpoint_site(ctx: AwsContext, endpoint: Endpoint, path: tuple) -> str:
    if endpoint.site == DR:
        if not ctx.sites.hot:
            strategy = ctx.bp.disaster_recovery.strategy if ctx.bp.disaster_recovery else "none"
            raise ctx.unsupported(
                f"`site: dr` points at the DR site's copy of {endpoint.target}, but a {strategy} DR site "
                "runs no balancers", "use `disaster_recovery.strategy: hot`", *path, "site")
        return DR
    return PRIMARY


def alias(ctx: AwsContext, endpoint: Endpoint, path: tuple) -> dict:
    component = ctx.bp.component(endpoint.target)
    site = endpoint_site(ctx, endpoint, path)
    if component.section == "reverse_proxies" and not edge.has_distribution(component):
        component = edge.origin_balancer(ctx, component, path)
    if component.section == "load_balancers":
        balancer = load_balancers.balancer_name(ctx, component, site)
        return {"name": ref(balancer, "dns_name"), "zone_id": ref(balancer, "zone_id"),
                "evaluate_target_health": True}
    if component.section in ("cdns", "reverse_proxies"):
        if site == DR:
            raise ctx.unsupported(f"{ctx.ref_of(component)} is a global CloudFront distribution: it has no DR copy",
                                  "remove `site: dr` from this endpoint", *path, "site")
        distribution = edge.distribution_name(ctx, component)
        # CloudFront cannot report target health to Route53.
        return {"name": ref(distribution, "domain_name"), "zone_id": ref(distribution, "hosted_zone_id"),
                "evaluate_target_health": False}
    raise ctx.unsupported(f"on aws a DNS record cannot point at {ctx.ref_of(component)}: Fargate tasks have no "
                          "stable address", "put a load balancer in front of it and point at the balancer",
                          *path, "target")


def health_check(ctx: AwsContext, record: DnsRecord, r: int, endpoint: Endpoint, record_name: str) -> str:
    check = record.health_check
    path = ("dns", "records", r, "health_check")
    interval = min(ROUTE53_INTERVALS, key=lambda v: abs(v - check.interval))
    if interval != check.interval:
        ctx.warn(f"Route53 checks every 10s or 30s; using {interval}s", None, *path, "interval")
    protocol, port = check.protocol.upper(), check.port
    balancer = checked_balancer(ctx, endpoint)
    if balancer is not None and protocol == "HTTP" and port is None and redirects_plain_http(balancer):
        # Port 80 only answers 301 there, which Route53 counts as healthy: probe the TLS
        # listener instead (Route53 does not verify the certificate of an HTTPS check).
        protocol, port = "HTTPS", load_balancers.port_of(balancer)
    props: dict = {
        "type": protocol, "failure_threshold": check.failure_threshold, "request_interval": interval,
        "port": port or (443 if protocol == "HTTPS" else 80),
        "reference_name": f"{ctx.bp.blueprint}-{label(record.name)}"[:64],
        "tags": ctx.tags(),
    }
    if endpoint.target:
        component = ctx.bp.component(endpoint.target)
        site = endpoint_site(ctx, endpoint, ("dns", "records", r))
        if component.section == "load_balancers" or (component.section == "reverse_proxies"
                                                     and not edge.has_distribution(component)):
            if component.section == "reverse_proxies":
                component = edge.origin_balancer(ctx, component, path)
            props["fqdn"] = ref(load_balancers.balancer_name(ctx, component, site), "dns_name")
        else:
            props["fqdn"] = ref(edge.distribution_name(ctx, component), "domain_name")
    elif literal_type(endpoint.value) == "CNAME":
        props["fqdn"] = endpoint.value
    else:
        props["ip_address"] = endpoint.value
    if protocol != "TCP":
        props["resource_path"] = check.path
    if protocol == "HTTPS":
        props["enable_sni"] = True
    return ctx.add("aws:route53/healthCheck:HealthCheck", f"{record_name}-health", props).name


def checked_balancer(ctx: AwsContext, endpoint: Endpoint):
    """The balancer a health check on `endpoint` probes, if it probes one."""
    if not endpoint.target:
        return None
    component = ctx.bp.component(endpoint.target)
    if component.section == "reverse_proxies" and not edge.has_distribution(component):
        component = edge.origin_balancer(ctx, component, ())
    return component if component.section == "load_balancers" else None


def redirects_plain_http(lb) -> bool:
    return lb.layer == 7 and any(listener.redirect_to_https for listener in lb.listeners) and \
        any(listener.tls for listener in lb.listeners)


def check_latency_region(ctx: AwsContext, endpoint: Endpoint, path: tuple) -> None:
    component = ctx.bp.component(endpoint.target)
    if component.section != "load_balancers":
        return
    actual = ctx.sites.region(endpoint_site(ctx, endpoint, path))
    if endpoint.region != actual:
        ctx.warn(f"latency endpoint says region {endpoint.region}, but {endpoint.target} "
                 f"({endpoint.site} site) runs in {actual}", f"write `region: {actual}`", *path, "region")
