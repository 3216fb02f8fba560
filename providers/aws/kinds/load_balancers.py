"""Load balancers: layer 7 → ALB, layer 4 → NLB, with target groups, listeners and rules.

An ALB redirects plain HTTP to HTTPS, terminates TLS with an ACM certificate
and an explicit TLS policy (TLS 1.3 and 1.2 only), drops invalid headers, and
routes path/host rules to one target group per service, weighted where the
blueprint weighs. Its security group admits the internet (unless the
balancer is `internal`) on the listener ports only and sends only to the
services behind it — or, when only CloudFront distributions reach it
(`cloudfront_only`), CloudFront's origin-facing addresses only, and its
rules forward only requests carrying the origin secret the distributions send. Names are functions of
the blueprint, so a service (built first) can register with a target
group the balancer creates later (`attachments_of`, from attachments.py's
index). A balancer is built at every site; `${load_balancers.x.url}` read
through `ctx.at("dr")` names the DR site's copy.
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.models import HealthCheck, LoadBalancer, Service
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts, ref
from topoform.providers.values import lookup

from ..attachments import transport
from ..context import AwsContext
from ..endpoints import endpoint_attribute
from ..sites import PRIMARY, site_name

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ALGORITHMS = {  # blueprint → ALB target group load_balancing_algorithm_type
    "round_robin": "round_robin", "least_connections": "least_outstanding_requests",
    "random": "weighted_random", "weighted": "weighted_random", "source_hash": "round_robin",
}
CATCH_ALL = ("/*", "/")
# Behind CloudFront only: the addresses CloudFront fetches from (an AWS-managed prefix list,
# looked up at deploy time) and a header with a generated value it sends and the ALB requires.
CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
PREFIX_LIST_LOOKUP = "aws:ec2/getManagedPrefixList:getManagedPrefixList"
ORIGIN_HEADER = "X-Origin-Verify"
PASSWORD = "random:index/randomPassword:RandomPassword"
FORBIDDEN = {"type": "fixed-response",
             "fixed_response": {"content_type": "text/plain", "message_body": "forbidden", "status_code": "403"}}
MAX_FORWARD_WEIGHT = 999  # ALB weighted forward


def forward(groups: list[tuple[str, int]], stickiness: int | None = None) -> dict:
    """A forward action to one target group, or weighted over several."""
    if len(groups) == 1 and stickiness is None:
        return {"type": "forward", "target_group_arn": ref(groups[0][0], "arn")}
    action = {"type": "forward", "forward": {
        "target_groups": [{"arn": ref(tg, "arn"), "weight": weight} for tg, weight in groups]}}
    if stickiness is not None:
        action["forward"]["stickiness"] = {"enabled": True, "duration": stickiness}
    return action


def build(ctx: AwsContext, lb: LoadBalancer) -> None:
    for site in ctx.sites.all:
        build_at(ctx, lb, site)
    ctx.export(lb, ("url",))


def attribute(ctx: AwsContext, lb: LoadBalancer, attr: str) -> str:
    """The balancer's AWS name at the asking site (`ctx.site`)."""
    host = ref(balancer_name(ctx, lb, ctx.site), "dns_name")
    scheme = ("https" if has_tls(lb) else "http") if lb.layer == 7 else "tcp"
    return endpoint_attribute(ctx, lb, attr, host, port_of(lb), scheme)


def target_group_name(ctx: AwsContext, lb: LoadBalancer, key: str, site: str) -> str:
    return site_name(f"{ctx.prefix(lb)}-tg-{key}", site)


def listener_name(ctx: AwsContext, lb: LoadBalancer, port: int, site: str) -> str:
    return site_name(f"{ctx.prefix(lb)}-listener-{port}", site)


def balancer_name(ctx: AwsContext, lb: LoadBalancer, site: str) -> str:
    return site_name(ctx.prefix(lb), site)


# ---------------------------------------------------------------- behind CloudFront


def has_distribution(component) -> bool:
    """Whether a CDN or reverse proxy is a CloudFront distribution on aws (edge.py builds it)."""
    if component.section == "cdns":
        return True
    if component.section == "reverse_proxies":
        return bool(component.compression or component.cache or component.static)
    return False


def _hop_end(ctx: AwsContext, component, through_distributions: bool):
    """Where `component` leads, following reverse proxies (that are no distribution, unless asked); None where a
    distribution stops the walk."""
    seen = set()
    while component is not None and component.section in ("reverse_proxies", "cdns") and component.ref not in seen:
        seen.add(component.ref)
        if has_distribution(component) and not through_distributions:
            return None
        component = ctx.bp.component(component.upstream if component.section == "reverse_proxies" else
                                     (component.origin if component.mode == "pull" else None))
    return component


def _in_front(ctx: AwsContext) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Balancer ref → the CDNs and caching proxies whose distribution fetches from it (its next hop), and → the
    DNS records that name it (or a plain proxy of it). Found in one pass per compile and kept on the context:
    asking each balancer scanned every distribution and record (quadratic in the blueprint's size)."""
    found = ctx.indexes.get("in_front")
    if found is not None:
        return found
    distributions: dict[str, list[str]] = {}
    for component in [*ctx.bp.cdns.values(), *ctx.bp.reverse_proxies.values()]:
        if not has_distribution(component) or (component.section == "cdns" and component.mode != "pull"):
            continue
        upstream = ctx.bp.component(component.origin if component.section == "cdns" else component.upstream)
        end = _hop_end(ctx, upstream, through_distributions=False)
        if end is not None:
            distributions.setdefault(end.ref, []).append(component.ref)
    records: dict[str, list[str]] = {}
    for record in ctx.bp.dns.records if ctx.bp.dns else ():
        ends = [_hop_end(ctx, ctx.bp.component(e.target), through_distributions=False)
                for e in record.endpoints if e.target]
        for target in dict.fromkeys(end.ref for end in ends if end is not None):
            records.setdefault(target, []).append(f"dns record {record.name}")
    found = ctx.indexes["in_front"] = (distributions, records)
    return found


def fronting_distributions(ctx: AwsContext, lb: LoadBalancer) -> list[str]:
    """The CDNs and caching proxies whose distribution fetches from `lb` (its next hop)."""
    return list(_in_front(ctx)[0].get(lb.ref, ()))


def direct_clients(ctx: AwsContext, lb: LoadBalancer) -> list[str]:
    """What reaches `lb` other than CloudFront: DNS records naming it (or a plain proxy of it), services."""
    return [*_in_front(ctx)[1].get(lb.ref, ()), *ctx.access.users(lb.ref)]


def cloudfront_only(ctx: AwsContext, lb: LoadBalancer) -> bool:
    """A public ALB that only distributions reach: it admits only CloudFront carrying the origin secret."""
    return (lb.layer == 7 and not lb.internal and bool(fronting_distributions(ctx, lb))
            and not direct_clients(ctx, lb))


def origin_secret(ctx: AwsContext, lb: LoadBalancer) -> str:
    """The generated value CloudFront sends in `ORIGIN_HEADER` to `lb` (one per balancer, every site)."""
    name = f"{ctx.prefix(lb)}-origin-secret"
    if name not in ctx.plan:
        with ctx.owning(ctx.ref_of(lb)):
            ctx.add(PASSWORD, name, {"length": 40, "special": False}, secret_outputs=["result"])
    return name


def origin_headers(ctx: AwsContext, lb: LoadBalancer) -> list[dict]:
    """The custom headers a distribution sends to `lb` as its origin."""
    if not cloudfront_only(ctx, lb):
        return []
    return [{"name": ORIGIN_HEADER, "value": ref(origin_secret(ctx, lb), "result")}]


def attachments_of(ctx: AwsContext, svc: Service, site: str) -> list[tuple[str, int, str, list[str]]]:
    """(target group, container port, its protocol, listeners that use it) for each balancer in front of `svc`."""
    found = []
    for item in ctx.attachments.of(ctx.ref_of(svc)):
        lb = ctx.bp.component(item.balancer)
        if lb.layer == 7:
            listeners = [listener_name(ctx, lb, listener.port, site) for listener in lb.listeners
                         if not listener.redirect_to_https]
        else:
            listeners = [listener_name(ctx, lb, int(item.group_key), site)]
        found.append((target_group_name(ctx, lb, item.group_key, site), item.port, item.protocol, listeners))
    return found


# ---------------------------------------------------------------- the balancer


def build_at(ctx: AwsContext, lb: LoadBalancer, site: str) -> None:
    net = ctx.networks.network(site)
    where = {"region": net.region}
    sg = ctx.networks.security_group(lb, site)
    public = not lb.internal
    fronted = fronting_distributions(ctx, lb) if lb.layer == 7 and public else []
    behind_cloudfront = cloudfront_only(ctx, lb)
    if fronted and not behind_cloudfront and site == PRIMARY:
        ctx.warn(f"{ctx.ref_of(lb)} is the origin of {', '.join(fronted)} but also reached directly "
                 f"({', '.join(direct_clients(ctx, lb))}), so it stays open to the internet and CloudFront "
                 "(its cache, its WAF) can be bypassed", "point the records at the distribution", "load_balancers",
                 lb.name)
    for listener in lb.listeners:
        if behind_cloudfront:
            ctx.networks.allow_prefix_list(
                lb, listener.port, lookup(PREFIX_LIST_LOOKUP, "id", name=CLOUDFRONT_ORIGIN_FACING, region=net.region),
                "cloudfront", site, why=f"CloudFront, the only client of {ctx.ref_of(lb)}, on {listener.port}")
        elif public:
            ctx.networks.allow_cidr(lb, listener.port, "0.0.0.0/0", site, protocol=transport(listener.protocol),
                                    why=f"clients of {ctx.ref_of(lb)} on {listener.port}")
    for svc_ref, port, protocol in targets_of(ctx, lb):
        svc = ctx.bp.component(svc_ref)
        ctx.networks.allow(lb, svc, port, site, protocol)
        ctx.networks.allow_egress(lb, site, cidr=net.cidr, port=port, protocol=protocol,
                                  why=f"{ctx.ref_of(lb)} to {svc_ref}")
        check_port = health_port(ctx, lb, svc, port, protocol)
        if check_port is not None and (check_port, "tcp") != (port, protocol):
            # The health checker probes over TCP on its own port.
            ctx.networks.allow(lb, svc, check_port, site)
            ctx.networks.allow_egress(lb, site, cidr=net.cidr, port=check_port,
                                      why=f"{ctx.ref_of(lb)} health checks of {svc_ref}")
    props = {
        "load_balancer_type": "application" if lb.layer == 7 else "network",
        "internal": lb.internal, "subnets": ctx.networks.subnet_ids(site, public=public),
        "security_groups": [ref(sg, "id")], "ip_address_type": "ipv4",
        "enable_cross_zone_load_balancing": True, "enable_deletion_protection": False,
        **where, "tags": ctx.tags(),
    }
    if lb.layer == 7:
        props.update(drop_invalid_header_fields=True, enable_http2=True, idle_timeout=60,
                     desync_mitigation_mode="defensive")
    balancer = ctx.add("aws:lb/loadBalancer:LoadBalancer", balancer_name(ctx, lb, site), props)
    if lb.layer == 7:
        _application_listeners(ctx, lb, balancer.name, site)
    else:
        _network_listeners(ctx, lb, balancer.name, site)


def targets_of(ctx: AwsContext, lb: LoadBalancer) -> list[tuple[str, int, str]]:
    """(service ref, port, protocol) of every service behind `lb`, once each, in blueprint order."""
    found: dict[tuple[str, int, str], None] = {}
    if lb.layer == 7:
        for route in lb.routes or ():
            svc = ctx.bp.component(route.target)
            if svc is not None and svc.port:
                found[(ctx.ref_of(svc), svc.port, "tcp")] = None
    else:
        for listener in lb.listeners:
            for target in lb.targets or ():
                svc = ctx.bp.component(target.target)
                port = target.port or (svc.port if svc else None)
                if port:
                    found[(target.target, port, transport(listener.protocol))] = None
    return list(found)


def health_port(ctx: AwsContext, lb: LoadBalancer, svc: Service, port: int, protocol: str) -> int | None:
    """The TCP port a target group probes a target on; None: its traffic port.

    Health checks are TCP, HTTP or HTTPS, never UDP: behind a UDP listener the
    probe needs a TCP port — `health_check.port`, the service's own `port` when
    that is not the UDP one, or the same port when another listener carries
    TCP to it. Otherwise ECS would replace every task as unhealthy: refused.
    """
    check = lb.health_check
    if check is not None and check.port:
        return check.port
    if protocol != "udp":
        return None
    if svc.port and svc.port != port:
        return svc.port
    if (port, "tcp") in {(p, proto) for ref, p, proto in targets_of(ctx, lb) if ref == ctx.ref_of(svc)}:
        return port
    raise ctx.unsupported(
        f"{ctx.ref_of(lb)} sends UDP to {ctx.ref_of(svc)} on {port}, but NLB health checks are TCP and no TCP "
        "port of the service is known", f"set `health_check: {{port: N}}` on {ctx.ref_of(lb)} to a TCP port "
        f"{ctx.ref_of(svc)} listens on", "load_balancers", lb.name)


def _health(ctx: AwsContext, lb: LoadBalancer, svc: Service | None, protocol: str,
            port: int | None = None) -> dict:
    check: HealthCheck = lb.health_check or (svc.health if svc else None) or HealthCheck()
    interval = int(min(max(check.interval, 5), 300))
    timeout = int(min(max(check.timeout, 2), interval - 1, 120))
    if check.interval != interval or check.timeout != timeout:
        ctx.warn(f"{ctx.ref_of(lb)}: AWS health checks take an interval of 5s–300s and a shorter timeout; "
                 f"using {interval}s and {timeout}s", None, "load_balancers", lb.name)
    health = {"enabled": True, "interval": interval, "timeout": timeout,
              "healthy_threshold": check.healthy, "unhealthy_threshold": max(check.unhealthy, 2),
              "port": str(port or check.port) if (port or check.port) else "traffic-port", "protocol": protocol}
    if protocol in ("HTTP", "HTTPS"):
        health.update(path=check.path, matcher="200-399")
    return health


def _target_group(ctx: AwsContext, lb: LoadBalancer, key: str, site: str, port: int, protocol: str,
                  svc: Service | None, health_check_port: int | None = None) -> str:
    net = ctx.networks.network(site)
    # An NLB probes over TCP unless the blueprint asks for an HTTP check (a path) —
    # and never over HTTP to a UDP port.
    http = lb.health_check is not None and protocol != "UDP"
    health_protocol = protocol if protocol in ("HTTP", "HTTPS") else ("HTTP" if http else "TCP")
    props: dict = {
        "target_type": "ip", "port": port, "protocol": protocol, "vpc_id": ref(net.vpc, "id"),
        "deregistration_delay": 30, "health_check": _health(ctx, lb, svc, health_protocol, health_check_port),
        "region": net.region, "tags": ctx.tags(),
    }
    if lb.layer == 7:
        props["protocol_version"] = "HTTP1"
        props["load_balancing_algorithm_type"] = ALGORITHMS[lb.algorithm]
        sticky = lb.sticky_sessions
        if sticky is not None:
            duration = int(min(max(sticky.duration, 1), 604800))
            props["stickiness"] = ({"type": "app_cookie", "cookie_name": sticky.cookie, "cookie_duration": duration,
                                    "enabled": True} if sticky.cookie else
                                   {"type": "lb_cookie", "cookie_duration": duration, "enabled": True})
        elif lb.algorithm == "source_hash":
            # ALBs have no source hashing: a balancer cookie pins a client to a target instead.
            props["stickiness"] = {"type": "lb_cookie", "cookie_duration": 86400, "enabled": True}
    elif lb.algorithm == "source_hash" or lb.sticky_sessions is not None:
        props["stickiness"] = {"type": "source_ip", "enabled": True}
    name = target_group_name(ctx, lb, key, site)
    ctx.add("aws:lb/targetGroup:TargetGroup", name, props)
    return name


def _group_health_port(ctx: AwsContext, lb: LoadBalancer, protocol: str) -> int | None:
    """The one health-check port of a listener's group, which holds every target of `lb`."""
    ports = {health_port(ctx, lb, ctx.bp.component(ref), port, protocol)
             for ref, port, proto in targets_of(ctx, lb) if proto == protocol}
    if len(ports) > 1:
        raise ctx.unsupported(f"the targets of {ctx.ref_of(lb)} need different health-check ports "
                              f"({', '.join(str(p or 'traffic') for p in sorted(ports, key=str))}), but a "
                              "target group has one", f"set `health_check: {{port: N}}` on {ctx.ref_of(lb)}",
                              "load_balancers", lb.name)
    return next(iter(ports), None)


def _application_listeners(ctx: AwsContext, lb: LoadBalancer, balancer: str, site: str) -> None:
    where = {"region": ctx.sites.region(site)}
    if lb.algorithm == "source_hash" and site == PRIMARY:
        ctx.warn(f"{ctx.ref_of(lb)}: an ALB cannot hash the client address; clients are pinned with a balancer "
                 "cookie instead", "use `layer: 4` (NLB source-IP stickiness) for address affinity",
                 "load_balancers", lb.name, "algorithm")
    groups: dict[str, str] = {}
    for route in lb.routes or ():
        svc = ctx.bp.component(route.target)
        if svc.name not in groups:
            groups[svc.name] = _target_group(ctx, lb, svc.name, site, svc.port, "HTTP", svc)
    # Routes with the same path and host share one rule that weighs their targets.
    rules: dict[tuple, list] = {}
    for i, route in enumerate(lb.routes or ()):
        weight = 1 if route.weight is None else route.weight
        if weight > MAX_FORWARD_WEIGHT:
            raise ctx.unsupported(f"an ALB weighs targets from 0 to {MAX_FORWARD_WEIGHT}, but {weight} was given",
                                  "scale the weights down", "load_balancers", lb.name, "routes", i, "weight")
        tg = groups[route.target.partition(".")[2]]
        rules.setdefault((route.path, route.host), []).append((tg, weight))
    stickiness = int(lb.sticky_sessions.duration) if lb.sticky_sessions else None
    tls_port = next((listener.port for listener in lb.listeners if listener.tls), 443)
    default = {"type": "fixed-response",
               "fixed_response": {"content_type": "text/plain", "message_body": "not found", "status_code": "404"}}
    catch_all = next((key for key in rules if key[0] in CATCH_ALL and key[1] is None), None)
    secret = ref(origin_secret(ctx, lb), "result") if cloudfront_only(ctx, lb) else None
    if secret is not None:
        # Only requests carrying CloudFront's origin secret are forwarded; the catch-all
        # becomes the last rule, and anything else is refused.
        default = FORBIDDEN
        if catch_all is not None:
            rules[catch_all] = rules.pop(catch_all)
    elif catch_all is not None:
        targets = rules.pop(catch_all)
        default = forward(targets, stickiness if len(targets) > 1 else None)
    for listener in lb.listeners:
        name = listener_name(ctx, lb, listener.port, site)
        props: dict = {"load_balancer_arn": ref(balancer, "arn"), "port": listener.port, **where,
                       "tags": ctx.tags()}
        if listener.redirect_to_https:
            props.update(protocol="HTTP", default_actions=[{"type": "redirect", "redirect": {
                "port": str(tls_port), "protocol": "HTTPS", "status_code": "HTTP_301"}}])
            ctx.add("aws:lb/listener:Listener", name, props)
            continue
        if listener.tls or listener.protocol == "https":
            props.update(protocol="HTTPS", certificate_arn=ctx.certificates.certificate(site), ssl_policy=TLS_POLICY)
        else:
            props["protocol"] = "HTTP"
        props["default_actions"] = [default]
        ctx.add("aws:lb/listener:Listener", name, props)
        for priority, ((path, host), targets) in enumerate(rules.items(), start=1):
            conditions = [{"path_pattern": {"values": [path]}}]
            if host:
                conditions.append({"host_header": {"values": [host]}})
            if secret is not None:
                conditions.append({"http_header": {"http_header_name": ORIGIN_HEADER, "values": [secret]}})
            ctx.add("aws:lb/listenerRule:ListenerRule", f"{name}-rule-{priority}", {
                "listener_arn": ref(name, "arn"), "priority": priority * 10,
                "conditions": conditions,
                "actions": [forward(targets, stickiness if len(targets) > 1 else None)],
                **where, "tags": ctx.tags(),
            })


def _network_listeners(ctx: AwsContext, lb: LoadBalancer, balancer: str, site: str) -> None:
    where = {"region": ctx.sites.region(site)}
    targets = lb.targets or []
    weights = {t.weight for t in targets if t.weight is not None}
    if len(weights) > 1 and site == PRIMARY:
        ctx.warn(f"{ctx.ref_of(lb)}: an NLB spreads flows evenly over its targets; target weights are ignored", None,
                 "load_balancers", lb.name, "targets")
    if lb.algorithm not in ("round_robin", "source_hash") and site == PRIMARY:
        ctx.warn(f"{ctx.ref_of(lb)}: an NLB picks targets by flow hash; `algorithm: {lb.algorithm}` has no AWS equivalent",
                 None, "load_balancers", lb.name, "algorithm")
    first = ctx.bp.component(targets[0].target) if targets else None
    for listener in lb.listeners:
        protocol = {"udp": "UDP", "tls": "TLS"}.get(listener.protocol or "", "TLS" if listener.tls else "TCP")
        # One group per listener, holding every target (each registered by ECS on its own
        # port, attachments.py); TLS ends at the NLB, so its targets receive TCP.
        port = (targets[0].port or first.port) if targets else listener.port
        check_port = _group_health_port(ctx, lb, transport(listener.protocol))
        tg = _target_group(ctx, lb, str(listener.port), site, port, "UDP" if protocol == "UDP" else "TCP", first,
                           check_port)
        props: dict = {"load_balancer_arn": ref(balancer, "arn"), "port": listener.port, "protocol": protocol,
                       "default_actions": [{"type": "forward", "target_group_arn": ref(tg, "arn")}],
                       **where, "tags": ctx.tags()}
        if protocol == "TLS":
            props.update(certificate_arn=ctx.certificates.certificate(site), ssl_policy=TLS_POLICY)
        ctx.add("aws:lb/listener:Listener", listener_name(ctx, lb, listener.port, site), props)


def has_tls(lb: LoadBalancer) -> bool:
    return any(listener.tls or listener.protocol in ("https", "tls") for listener in lb.listeners)


def port_of(lb: LoadBalancer) -> int:
    for listener in lb.listeners:
        if listener.tls:
            return listener.port
    for listener in lb.listeners:
        if not listener.redirect_to_https:
            return listener.port
    return lb.listeners[0].port


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.99, "Elastic Load Balancing SLA (ALB/NLB, spread over the AZs by AWS)", "ELB SLA")


def facts(ctx: Any, lb: LoadBalancer, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, lb, table, 1, "one managed balancer (AWS spreads it over the AZs)",
                                     dr_copy=topology(ctx.bp).hot_dr, managed=True,
                                     implementation="alb" if lb.layer == 7 else "nlb")
