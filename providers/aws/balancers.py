"""Load balancers: layer 7 → ALB, layer 4 → NLB, with target groups, listeners and rules.

An ALB redirects plain HTTP to HTTPS, terminates TLS with an ACM certificate
and an explicit TLS policy (TLS 1.3 and 1.2 only), drops invalid headers, and
routes path/host rules to one target group per service, weighted where the
blueprint weighs. Its security group admits the internet on the listener
ports only and sends only to the services behind it. Names are functions of
the blueprint, so a service (compiled first) can register with a target
group the balancer creates later.
"""

from __future__ import annotations

from dataclasses import dataclass

from topoform.dsl.models import HealthCheck, LoadBalancer, Service
from topoform.providers.plan import ref

from .network import PRIMARY, site_name

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ALGORITHMS = {  # blueprint → ALB target group load_balancing_algorithm_type
    "round_robin": "round_robin", "least_connections": "least_outstanding_requests",
    "random": "weighted_random", "weighted": "weighted_random", "source_hash": "round_robin",
}
CATCH_ALL = ("/*", "/")
MAX_FORWARD_WEIGHT = 999  # ALB weighted forward


@dataclass(frozen=True)
class Attachment:
    """A service behind a balancer: the target group it registers in, on which port."""

    balancer: str  # load balancer ref
    group_key: str  # service name (layer 7) or listener port (layer 4)
    port: int


def forward(groups: list[tuple[str, int]], stickiness: int | None = None) -> dict:
    """A forward action to one target group, or weighted over several."""
    if len(groups) == 1 and stickiness is None:
        return {"type": "forward", "target_group_arn": ref(groups[0][0], "arn")}
    action = {"type": "forward", "forward": {
        "target_groups": [{"arn": ref(tg, "arn"), "weight": weight} for tg, weight in groups]}}
    if stickiness is not None:
        action["forward"]["stickiness"] = {"enabled": True, "duration": stickiness}
    return action


class BalancerMixin:
    """ALB/NLB per balancer and site (see compiler.py for the walk)."""

    def index_balancers(self) -> None:
        """Which services sit behind which balancer; one pass over the blueprint."""
        self._attachments: dict[str, list[Attachment]] = {}
        for lb in self.bp.load_balancers.values():
            seen: set[tuple] = set()
            if lb.layer == 7:
                for route in lb.routes or ():
                    svc = self.bp.component(route.target)
                    if svc is not None and self.ref_of(svc) not in seen and svc.port:
                        seen.add(self.ref_of(svc))
                        self._attachments.setdefault(self.ref_of(svc), []).append(Attachment(self.ref_of(lb), svc.name, svc.port))
            else:
                for listener in lb.listeners:
                    for target in lb.targets or ():
                        svc = self.bp.component(target.target)
                        port = target.port or (svc.port if svc else None)
                        key = (target.target, listener.port)
                        if svc is not None and port and key not in seen:
                            seen.add(key)
                            self._attachments.setdefault(self.ref_of(svc), []).append(
                                Attachment(self.ref_of(lb), str(listener.port), port))

    def target_group_name(self, lb: LoadBalancer, key: str, site: str) -> str:
        return site_name(f"{self.prefix(lb)}-tg-{key}", site)

    def listener_name(self, lb: LoadBalancer, port: int, site: str) -> str:
        return site_name(f"{self.prefix(lb)}-listener-{port}", site)

    def balancer_name(self, lb: LoadBalancer, site: str) -> str:
        return site_name(self.prefix(lb), site)

    def balancer_attachments(self, svc: Service, site: str) -> list[tuple[str, int, list[str]]]:
        """(target group, container port, listeners that use it) for each balancer in front of `svc`."""
        found = []
        for item in self._attachments.get(self.ref_of(svc), ()):
            lb = self.bp.component(item.balancer)
            if lb.layer == 7:
                listeners = [self.listener_name(lb, listener.port, site) for listener in lb.listeners
                             if not listener.redirect_to_https]
            else:
                listeners = [self.listener_name(lb, int(item.group_key), site)]
            found.append((self.target_group_name(lb, item.group_key, site), item.port, listeners))
        return found

    # ---------------------------------------------------------------- the balancer

    def build_balancer(self, lb: LoadBalancer, site: str) -> None:
        net = self.network(site)
        where = {"region": net.region}
        sg = self.security_group(lb, site)
        public = not lb.internal
        for listener in lb.listeners:
            if public:
                protocol = "udp" if (listener.protocol == "udp") else "tcp"
                self.allow_cidr(lb, listener.port, "0.0.0.0/0", site, protocol=protocol,
                                why=f"clients of {self.ref_of(lb)} on {listener.port}")
        for svc_ref, port in self.balancer_targets(lb):
            svc = self.bp.component(svc_ref)
            self.allow(lb, svc, port, site)
            self.allow_egress(lb, site, cidr=net.cidr, port=port, why=f"{self.ref_of(lb)} to {svc_ref}")
        props = {
            "load_balancer_type": "application" if lb.layer == 7 else "network",
            "internal": lb.internal, "subnets": self.subnet_ids(site, public=public),
            "security_groups": [ref(sg, "id")], "ip_address_type": "ipv4",
            "enable_cross_zone_load_balancing": True, "enable_deletion_protection": False,
            **where, "tags": self.tags(),
        }
        if lb.layer == 7:
            props.update(drop_invalid_header_fields=True, enable_http2=True, idle_timeout=60,
                         desync_mitigation_mode="defensive")
        balancer = self.add("aws:lb/loadBalancer:LoadBalancer", self.balancer_name(lb, site), props)
        if lb.layer == 7:
            self._application_listeners(lb, balancer.name, site)
        else:
            self._network_listeners(lb, balancer.name, site)

    def balancer_targets(self, lb: LoadBalancer) -> list[tuple[str, int]]:
        """(service ref, port) of every service behind `lb`, once each, in blueprint order."""
        found: dict[tuple[str, int], None] = {}
        if lb.layer == 7:
            for route in lb.routes or ():
                svc = self.bp.component(route.target)
                if svc is not None and svc.port:
                    found[(self.ref_of(svc), svc.port)] = None
        else:
            for target in lb.targets or ():
                svc = self.bp.component(target.target)
                port = target.port or (svc.port if svc else None)
                if port:
                    found[(target.target, port)] = None
        return list(found)

    def _health(self, lb: LoadBalancer, svc: Service | None, protocol: str) -> dict:
        check: HealthCheck = lb.health_check or (svc.health if svc else None) or HealthCheck()
        interval = int(min(max(check.interval, 5), 300))
        timeout = int(min(max(check.timeout, 2), interval - 1, 120))
        if check.interval != interval or check.timeout != timeout:
            self.warn(f"{self.ref_of(lb)}: AWS health checks take an interval of 5s–300s and a shorter timeout; "
                      f"using {interval}s and {timeout}s", None, "load_balancers", lb.name)
        health = {"enabled": True, "interval": interval, "timeout": timeout,
                  "healthy_threshold": check.healthy, "unhealthy_threshold": max(check.unhealthy, 2),
                  "port": str(check.port) if check.port else "traffic-port", "protocol": protocol}
        if protocol in ("HTTP", "HTTPS"):
            health.update(path=check.path, matcher="200-399")
        return health

    def _target_group(self, lb: LoadBalancer, key: str, site: str, port: int, protocol: str,
                      svc: Service | None) -> str:
        net = self.network(site)
        health_protocol = protocol if protocol in ("HTTP", "HTTPS") else ("HTTP" if lb.health_check else "TCP")
        props: dict = {
            "target_type": "ip", "port": port, "protocol": protocol, "vpc_id": ref(net.vpc, "id"),
            "deregistration_delay": 30, "health_check": self._health(lb, svc, health_protocol),
            "region": net.region, "tags": self.tags(),
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
        name = self.target_group_name(lb, key, site)
        self.add("aws:lb/targetGroup:TargetGroup", name, props)
        return name

    def _application_listeners(self, lb: LoadBalancer, balancer: str, site: str) -> None:
        where = {"region": self.site_region(site)}
        if lb.algorithm == "source_hash" and site == PRIMARY:
            self.warn(f"{self.ref_of(lb)}: an ALB cannot hash the client address; clients are pinned with a balancer "
                      "cookie instead", "use `layer: 4` (NLB source-IP stickiness) for address affinity",
                      "load_balancers", lb.name, "algorithm")
        groups: dict[str, str] = {}
        for route in lb.routes or ():
            svc = self.bp.component(route.target)
            if svc.name not in groups:
                groups[svc.name] = self._target_group(lb, svc.name, site, svc.port, "HTTP", svc)
        # Routes with the same path and host share one rule that weighs their targets.
        rules: dict[tuple, list] = {}
        for i, route in enumerate(lb.routes or ()):
            weight = 1 if route.weight is None else route.weight
            if weight > MAX_FORWARD_WEIGHT:
                raise self.unsupported(f"an ALB weighs targets from 0 to {MAX_FORWARD_WEIGHT}, but {weight} was given",
                                       "scale the weights down", "load_balancers", lb.name, "routes", i, "weight")
            tg = groups[route.target.partition(".")[2]]
            rules.setdefault((route.path, route.host), []).append((tg, weight))
        stickiness = int(lb.sticky_sessions.duration) if lb.sticky_sessions else None
        tls_port = next((listener.port for listener in lb.listeners if listener.tls), 443)
        default = {"type": "fixed-response",
                   "fixed_response": {"content_type": "text/plain", "message_body": "not found", "status_code": "404"}}
        catch_all = next((key for key in rules if key[0] in CATCH_ALL and key[1] is None), None)
        if catch_all is not None:
            targets = rules.pop(catch_all)
            default = forward(targets, stickiness if len(targets) > 1 else None)
        for listener in lb.listeners:
            name = self.listener_name(lb, listener.port, site)
            props: dict = {"load_balancer_arn": ref(balancer, "arn"), "port": listener.port, **where,
                           "tags": self.tags()}
            if listener.redirect_to_https:
                props.update(protocol="HTTP", default_actions=[{"type": "redirect", "redirect": {
                    "port": str(tls_port), "protocol": "HTTPS", "status_code": "HTTP_301"}}])
                self.add("aws:lb/listener:Listener", name, props)
                continue
            if listener.tls or listener.protocol == "https":
                props.update(protocol="HTTPS", certificate_arn=self.certificate(site), ssl_policy=TLS_POLICY)
            else:
                props["protocol"] = "HTTP"
            props["default_actions"] = [default]
            self.add("aws:lb/listener:Listener", name, props)
            for priority, ((path, host), targets) in enumerate(rules.items(), start=1):
                conditions = [{"path_pattern": {"values": [path]}}]
                if host:
                    conditions.append({"host_header": {"values": [host]}})
                self.add("aws:lb/listenerRule:ListenerRule", f"{name}-rule-{priority}", {
                    "listener_arn": ref(name, "arn"), "priority": priority * 10,
                    "conditions": conditions,
                    "actions": [forward(targets, stickiness if len(targets) > 1 else None)],
                    **where, "tags": self.tags(),
                })

    def _network_listeners(self, lb: LoadBalancer, balancer: str, site: str) -> None:
        where = {"region": self.site_region(site)}
        targets = lb.targets or []
        weights = {t.weight for t in targets if t.weight is not None}
        if len(weights) > 1 and site == PRIMARY:
            self.warn(f"{self.ref_of(lb)}: an NLB spreads flows evenly over its targets; target weights are ignored", None,
                      "load_balancers", lb.name, "targets")
        if lb.algorithm not in ("round_robin", "source_hash") and site == PRIMARY:
            self.warn(f"{self.ref_of(lb)}: an NLB picks targets by flow hash; `algorithm: {lb.algorithm}` has no AWS equivalent",
                      None, "load_balancers", lb.name, "algorithm")
        first = self.bp.component(targets[0].target) if targets else None
        for listener in lb.listeners:
            protocol = {"udp": "UDP", "tls": "TLS"}.get(listener.protocol or "", "TLS" if listener.tls else "TCP")
            port = (targets[0].port or first.port) if targets else listener.port
            tg = self._target_group(lb, str(listener.port), site, port, "UDP" if protocol == "UDP" else "TCP", first)
            props: dict = {"load_balancer_arn": ref(balancer, "arn"), "port": listener.port, "protocol": protocol,
                           "default_actions": [{"type": "forward", "target_group_arn": ref(tg, "arn")}],
                           **where, "tags": self.tags()}
            if protocol == "TLS":
                props.update(certificate_arn=self.certificate(site), ssl_policy=TLS_POLICY)
            self.add("aws:lb/listener:Listener", self.listener_name(lb, listener.port, site), props)

    # ---------------------------------------------------------------- attributes

    def balancer_has_tls(self, lb: LoadBalancer) -> bool:
        return any(listener.tls or listener.protocol in ("https", "tls") for listener in lb.listeners)

    def balancer_port(self, lb: LoadBalancer) -> int:
        for listener in lb.listeners:
            if listener.tls:
                return listener.port
        for listener in lb.listeners:
            if not listener.redirect_to_https:
                return listener.port
        return lb.listeners[0].port
