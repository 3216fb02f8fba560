"""Whether a DNS health check's path reaches a target, checked on the blueprint for every target.

A Route53 (or PowerDNS) health check of a layer 7 balancer sends its request
through the balancer's routes: a path no route takes gets the balancer's
404, and the record is unhealthy for ever (a failover PRIMARY then never
serves). Proxies and pull CDNs pass every path on, so the check follows
them to the balancer. The checker sends the record's own name (or the
balancer's) as Host, so only routes without a `host` count. Path patterns
read as on the balancers: `*` any characters, `?` one, case-sensitive; `/`
alone is a catch-all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from topoform.dsl.models import Blueprint, LoadBalancer
from topoform.providers.base import BuildContext

CATCH_ALL = ("/*", "/")


@dataclass(frozen=True)
class UnroutedCheck:
    """A record's health check whose path no route of `balancer` takes."""

    record: int  # index in dns.records
    path: str
    balancer: str  # load balancer ref

    @property
    def where(self) -> tuple:
        return ("dns", "records", self.record, "health_check", "path")

    def message(self) -> str:
        return (f"the health check probes {self.path} through {self.balancer}, which routes that path to no "
                "target: the check fails for ever")

    def hint(self, bp: Blueprint) -> str:
        lb = bp.component(self.balancer)
        target = next((r.target for r in lb.routes or () if r.host is None), None) or "services.NAME"
        return (f"add a route `{{path: {self.path}, target: {target}}}` to {self.balancer}, or probe a path "
                "it routes")


def pattern_matches(pattern: str, path: str) -> bool:
    if pattern in CATCH_ALL:
        return True
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path) is not None


def routed(lb: LoadBalancer, path: str) -> bool:
    """Whether `lb` forwards a request for `path` (without a matching Host) to a target."""
    return any(route.host is None and pattern_matches(route.path, path) for route in lb.routes or ())


def checked_balancer(bp: Blueprint, target: str | None) -> LoadBalancer | None:
    """The layer 7 balancer a check of `target` passes through (following proxies and pull CDNs)."""
    seen: set[str] = set()
    component = bp.component(target) if target else None
    while component is not None and component.ref not in seen:
        seen.add(component.ref)
        if component.section == "load_balancers":
            return component if component.layer == 7 else None
        if component.section == "reverse_proxies":
            component = bp.component(component.upstream)
        elif component.section == "cdns" and component.mode == "pull":
            component = bp.component(component.origin)
        else:
            return None
    return None


def unrouted_health_checks(bp: Blueprint) -> Iterator[UnroutedCheck]:
    """Each record health check (HTTP or HTTPS) whose path the balancer it probes routes nowhere."""
    if bp.dns is None:
        return
    for r, record in enumerate(bp.dns.records):
        check = record.health_check
        if check is None or check.protocol == "tcp":
            continue
        reported: set[str] = set()
        for endpoint in record.endpoints:
            lb = checked_balancer(bp, endpoint.target)
            if lb is not None and lb.ref not in reported and not routed(lb, check.path):
                reported.add(lb.ref)
                yield UnroutedCheck(r, check.path, lb.ref)


def refuse_unrouted_health_checks(ctx: BuildContext) -> None:
    """Record an error for each unrouted check: the one call each target's DNS pass makes."""
    for found in unrouted_health_checks(ctx.bp):
        ctx.refuse(found.message(), found.hint(ctx.bp), *found.where)
