"""Availability a blueprint buys: per-copy defaults, request paths, the arithmetic (SPEC §4).

Each component has a default availability for one copy of it (the table
below, with where each figure comes from), overridable with `availability:`.
Components on a request path are in sequence, A = A1 × A2; redundant copies
(replicas, multi-AZ, active-active balancers, a hot DR site behind DNS
failover) are in parallel, A = 1 − (1 − A1)(1 − A2). Two 99.9% parts give
99.8001% in sequence and 99.9999% in parallel.

Both formulas assume independent failures and instant, perfect failover, so
a parallel figure is an upper bound: AWS publishes 99.95% for Multi-AZ RDS,
where two 99.5% copies in parallel compute to 99.9975%. The report says so.

Request paths follow the blueprint: DNS record → CDN / reverse proxy →
balancer → service → every store and service it references (all in
sequence: a request that needs the database fails when it is down). A
balancer routing to several services gives one path per service. Queue
consumers are not on a request path (the queue decouples them); they form
`async` paths, reported but not in the composite figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import product
from typing import Callable, Iterable, Union

from topoform.dsl.models import Blueprint

from .topology import downstream, front_doors

# ------------------------------------------------------------------ the defaults table


@dataclass(frozen=True)
class Default:
    percent: float
    source: str
    label: str = ""  # a few words for tables; `source` is the full citation


# Figures for ONE copy of a component. AWS figures are the provider's published
# monthly-uptime SLA for the single-instance form of the service (multi-copy
# forms are computed by the parallel formula); docker figures are Topoform's
# estimate, as no SLA exists for a container on a laptop.
_DOCKER_ESTIMATE = ("Topoform estimate: one container on one Docker host, restarted on failure "
                    "(no SLA exists; the figure AWS publishes for a single instance)")
DEFAULTS: dict[str, dict[str, Default]] = {
    "aws": {
        "dns": Default(100.0, "Amazon Route 53 SLA (100% of DNS queries answered)", "Route 53 SLA"),
        "cdns": Default(99.9, "Amazon CloudFront SLA", "CloudFront SLA"),
        "reverse_proxies": Default(99.9, "Amazon CloudFront SLA (a reverse proxy on aws is CloudFront + WAF "
                                         "rules in front of the balancer)", "CloudFront SLA"),
        "load_balancers": Default(99.99, "Elastic Load Balancing SLA (ALB/NLB, spread over the AZs by AWS)", "ELB SLA"),
        "services": Default(99.5, "Amazon Compute SLA, instance level (one ECS Fargate task)", "Compute SLA, one task"),
        "databases": Default(99.5, "Amazon RDS SLA, Single-AZ instance", "RDS SLA, Single-AZ"),
        "databases/multi-primary": Default(99.99, "Amazon Aurora DSQL SLA, single-Region cluster", "Aurora DSQL SLA"),
        "caches": Default(99.5, "Amazon ElastiCache SLA, Single-AZ node", "ElastiCache SLA, Single-AZ"),
        "queues": Default(99.9, "Amazon SQS SLA", "SQS SLA"),
    },
    "docker": {
        "dns": Default(99.5, _DOCKER_ESTIMATE + "; PowerDNS", "estimate"),
        "cdns": Default(99.5, _DOCKER_ESTIMATE + "; nginx cache", "estimate"),
        "reverse_proxies": Default(99.5, _DOCKER_ESTIMATE + "; nginx", "estimate"),
        "load_balancers": Default(99.5, _DOCKER_ESTIMATE + "; haproxy", "estimate"),
        "services": Default(99.5, _DOCKER_ESTIMATE, "estimate"),
        "databases": Default(99.5, _DOCKER_ESTIMATE, "estimate"),
        "caches": Default(99.5, _DOCKER_ESTIMATE, "estimate"),
        "queues": Default(99.5, _DOCKER_ESTIMATE + "; RabbitMQ", "estimate"),
    },
}


OVERRIDE = "`availability:` in the blueprint"


def default_for(section: str, target: str, variant: str = "") -> Default:
    table = DEFAULTS[target]
    return table.get(f"{section}/{variant}") or table[section]


# ------------------------------------------------------------------ arithmetic


def sequence(parts: Iterable[float]) -> float:
    """Availability of parts that must all work: A1 × A2 × … (fractions in [0, 1])."""
    result = 1.0
    for part in parts:
        result *= part
    return result


def parallel(parts: Iterable[float]) -> float:
    """Availability of redundant parts, any one of which suffices: 1 − Π(1 − Ai)."""
    down = 1.0
    for part in parts:
        down *= 1.0 - part
    return 1.0 - down


def nines(fraction: float) -> float:
    """−log10(unavailability): 99.9% is 3 nines; 100% is infinite."""
    return math.inf if fraction >= 1.0 else -math.log10(1.0 - fraction)


def format_percent(fraction: float) -> str:
    """Enough decimals to show four significant digits of the unavailability, at least two.

    99.8001% stays 99.8001%, 99.9% reads 99.90%, 99.9999% reads 99.9999%.
    """
    percent = fraction * 100.0
    gap = 100.0 - percent
    if gap <= 1e-9:
        return "100%"
    decimals = min(8, max(2, 3 - math.floor(math.log10(gap))))
    text = f"{percent:.{decimals}f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}%"


# ------------------------------------------------------------------ path structure


@dataclass(frozen=True)
class Member:
    """One component on a path at one site; its copies are in parallel."""

    ref: str  # "services.web", or "dns"
    site: str  # "primary" | "dr"
    copies: int
    percent: float  # availability of one copy
    source: str  # where `percent` comes from
    copies_basis: str  # why this many copies
    source_label: str = ""  # `source` in a few words

    @property
    def availability(self) -> float:
        return parallel([self.percent / 100.0] * self.copies)

    @property
    def label(self) -> str:
        return self.ref + (" @dr" if self.site == "dr" else "")


@dataclass(frozen=True)
class Parallel:
    """Alternative chains (a DNS failover pair, health-checked endpoints): any one suffices."""

    options: tuple[tuple["Step", ...], ...]
    label: str


Step = Union[Member, Parallel]
Tweak = Callable[[Member], Member]


def evaluate(steps: Iterable[Step], tweak: Tweak | None = None) -> float:
    """The availability of a chain of steps in sequence, with `tweak` applied to every member."""
    parts = []
    for step in steps:
        if isinstance(step, Member):
            parts.append((tweak(step) if tweak else step).availability)
        else:
            parts.append(parallel(evaluate(option, tweak) for option in step.options))
    return sequence(parts)


def members(steps: Iterable[Step]) -> list[Member]:
    found: list[Member] = []
    for step in steps:
        if isinstance(step, Member):
            found.append(step)
        else:
            for option in step.options:
                found += members(option)
    return found


@dataclass(frozen=True)
class Fix:
    change: str  # "a second replica of services.web"
    ref: str | None
    before: float
    after: float

    def sentence(self) -> str:
        return f"{self.change} lifts the path from {format_percent(self.before)} to {format_percent(self.after)}"


@dataclass
class RequestPath:
    name: str
    entry: str  # "dns www" or a component ref
    kind: str  # "request" | "async"
    steps: tuple[Step, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def availability(self) -> float:
        return evaluate(self.steps)

    def refs(self) -> list[str]:
        seen: list[str] = []
        for member in members(self.steps):
            if member.ref not in seen:
                seen.append(member.ref)
        return seen

    def cost(self, ref: str) -> float:
        """Nines this component costs the path: nines with it perfect minus nines as is."""
        perfect = evaluate(self.steps, lambda m: replace(m, percent=100.0) if m.ref == ref else m)
        return nines(perfect) - nines(self.availability)

    def costliest(self, fixable: Callable[[str], bool] | None = None) -> tuple[str, float] | None:
        """The component whose failures cost the path the most nines; among equals, one `fixable`."""
        costs = [(ref, self.cost(ref)) for ref in self.refs()]
        costs = [(ref, c) for ref, c in costs if c > 1e-12]
        if not costs:
            return None
        return max(costs, key=lambda item: (round(item[1], 9), bool(fixable and fixable(item[0]))))


# ------------------------------------------------------------------ building paths


class PathBuilder:
    """Derives the request paths of one blueprint on one target."""

    def __init__(self, bp: Blueprint, target: str):
        self.bp = bp
        self.target = target
        dr = bp.disaster_recovery
        self.hot = dr is not None and dr.strategy == "hot"

    # ---- members

    def member(self, ref: str, site: str = "primary") -> Member:
        bp, target = self.bp, self.target
        if ref == "dns":
            override = bp.dns.availability if bp.dns else None
            default = default_for("dns", target)
            if override is not None:
                return Member("dns", "primary", 1, override, OVERRIDE, "one zone", "override")
            return Member("dns", "primary", 1, default.percent, default.source, "one zone", default.label)
        component = bp.component(ref)
        section = component.section
        variant = ""
        copies, basis = 1, "one copy"
        if section == "services":
            copies = component.replicas
            basis = f"{copies} replica{'s' if copies != 1 else ''}"
        elif section == "load_balancers":
            if target == "aws":
                basis = "one managed balancer (AWS spreads it over the AZs)"
            elif component.redundancy != "none":
                copies, basis = 2, f"2 instances ({component.redundancy})"
            else:
                basis = "one instance (redundancy: none)"
        elif section == "reverse_proxies":
            if target == "aws":
                basis = "one managed distribution"
            else:
                copies = component.replicas
                basis = f"{copies} replica{'s' if copies != 1 else ''}"
        elif section == "databases":
            copies, basis, variant = self._database_copies(component, site)
        elif section == "caches":
            copies = 1 + component.replicas
            basis = "a primary" + (f" + {component.replicas} replica{'s' if component.replicas != 1 else ''}"
                                   if component.replicas else " alone")
        elif section == "cdns":
            basis = "one distribution"
        default = default_for(section, target, variant)
        if component.availability is not None:
            return Member(ref, site, copies, component.availability, OVERRIDE, basis, "override")
        return Member(ref, site, copies, default.percent, default.source, basis, default.label)

    def _database_copies(self, db, site: str) -> tuple[int, str, str]:
        if site == "dr":
            return 1, "the cross-region replica, promoted on failover", ""
        mode = db.replication.mode
        if mode == "multi-primary":
            n = 1 + db.replication.replicas
            return n, f"{n} primaries", "multi-primary" if self.target == "aws" else ""
        copies, parts = 1, ["a primary"]
        if db.multi_az and self.target == "aws":
            copies += 1
            parts.append("a Multi-AZ standby")
        if db.replica_count:
            copies += db.replica_count
            parts.append(f"{db.replica_count} read replica{'s' if db.replica_count != 1 else ''}")
        basis = " + ".join(parts) if copies > 1 else "a primary alone"
        if db.sharding is not None and db.shard_count > 1:
            basis += f", per shard (a request reaches one of {db.shard_count} shards)"
        return copies, basis, ""

    # ---- chains

    def branches(self, ref: str, site: str, seen: frozenset[str] = frozenset()) -> list[tuple[Member, ...]]:
        """The chains a request entering at `ref` can follow: one per distinct service reached."""
        if ref in seen:
            return [()]
        component = self.bp.component(ref)
        if component is None:
            return [()]
        head = self.member(ref, site)
        if component.section == "services":
            return [(head,) + self.closure(ref, site)]
        nexts = downstream(self.bp, ref)
        if not nexts:
            return [(head,)]
        result: list[tuple[Member, ...]] = []
        for edge in nexts:
            for tail in self.branches(edge.target, site, seen | {ref}):
                chain = (head,) + tail
                if chain not in result:
                    result.append(chain)
        return result

    def closure(self, ref: str, site: str) -> tuple[Member, ...]:
        """Everything a service needs to answer, in sequence: the components it references, transitively."""
        order: list[str] = []
        stack = [edge.target for edge in downstream(self.bp, ref)]
        while stack:
            nxt = stack.pop(0)
            if nxt == ref or nxt in order:
                continue
            order.append(nxt)
            component = self.bp.component(nxt)
            if component is not None and component.section != "queues":
                stack += [edge.target for edge in downstream(self.bp, nxt)]
        return tuple(self.member(r, site) for r in order)

    def site_usable(self, site: str) -> bool:
        return site == "primary" or self.hot

    # ---- paths

    def paths(self) -> list[RequestPath]:
        found: list[RequestPath] = []
        records = self.bp.dns.records if self.bp.dns else []
        if records:
            for record in records:
                found += self._record_paths(record)
        else:
            for entry in front_doors(self.bp):
                for chain in self.branches(entry, "primary"):
                    found.append(RequestPath(_chain_name(chain), entry, "request", chain))
        found += self._async_paths()
        unique: list[RequestPath] = []
        for path in found:
            if not any(p.name == path.name and p.steps == path.steps for p in unique):
                unique.append(path)
        return unique

    def _record_paths(self, record) -> list[RequestPath]:
        dns = self.member("dns")
        entry = f"dns {record.name}"
        notes: list[str] = []
        endpoints = []
        for ep in record.endpoints:
            if ep.target is None:
                notes.append(f"endpoint {ep.value} is outside the blueprint: not counted")
                continue
            if not self.site_usable(ep.site):
                strategy = self.bp.disaster_recovery.strategy if self.bp.disaster_recovery else "no"
                notes.append(f"{ep.target} @dr is not running (a {strategy} DR site is built only after a "
                             "disaster): it adds no availability")
                continue
            if any((ep.target, ep.site) == (other.target, other.site) for other in endpoints):
                continue  # the same component twice is one copy, not two
            endpoints.append(ep)
        if not endpoints:
            return []
        alternatives = record.routing == "failover" or (record.health_check is not None and len(endpoints) > 1)
        per_endpoint = [self.branches(ep.target, ep.site) for ep in endpoints]
        paths: list[RequestPath] = []
        if alternatives and len(endpoints) > 1:
            if len({ep.target for ep in endpoints}) == 1:
                combos = list(zip(*per_endpoint))
            else:
                combos = list(product(*per_endpoint))[:64]
            why = "DNS failover" if record.routing == "failover" else f"health-checked {record.routing} record"
            for combo in combos:
                step = Parallel(tuple(combo), why)
                name = f"{record.name} [{record.routing}] {_chain_name(combo[0])}"
                if any(m.site == "dr" for option in combo for m in option):
                    name += " ∥ DR site"
                paths.append(RequestPath(name, entry, "request", (dns, step), list(notes)))
        else:
            for ep, chains in zip(endpoints, per_endpoint):
                for chain in chains:
                    name = f"{record.name} [{record.routing}] {_chain_name(chain)}"
                    paths.append(RequestPath(name, entry, "request", (dns,) + chain, list(notes)))
        if self.hot and record.routing != "failover" and not any(ep.site == "dr" for ep in endpoints):
            for path in paths:
                path.notes.append("the hot DR site is not behind this record (no failover endpoint with site: dr)")
        return paths

    def _async_paths(self) -> list[RequestPath]:
        from .topology import consumers

        paths = []
        for queue in self.bp.queues.values():
            for consumer in consumers(self.bp, queue.ref):
                chain = (self.member(queue.ref), self.member(consumer)) + tuple(
                    m for m in self.closure(consumer, "primary") if m.ref != queue.ref)
                paths.append(RequestPath(f"{queue.ref} → {_chain_name(chain[1:])}", queue.ref, "async", chain,
                                         ["messages wait in the queue while a consumer is down: "
                                          "not part of the request-path figure"]))
        return paths

    # ---- fixes

    def fix_for(self, path: RequestPath, ref: str) -> Fix | None:
        """The smallest blueprint change that adds a copy of `ref`, with the path figure it gives."""
        component = self.bp.component(ref)
        if component is None:
            return None
        section = component.section
        change: str | None = None
        tweak: Tweak | None = None
        add_one: Tweak = lambda m: replace(m, copies=m.copies + 1) if m.ref == ref and m.site == "primary" else m  # noqa: E731
        if section in ("services", "reverse_proxies") and not (section == "reverse_proxies" and self.target == "aws"):
            n = component.replicas
            change = (f"a second replica of {ref}" if n == 1 else f"{n + 1} replicas of {ref} (now {n})")
            tweak = lambda m: replace(m, copies=m.copies + 1) if m.ref == ref else m  # noqa: E731
        elif section == "load_balancers" and self.target == "docker" and component.redundancy == "none":
            change, tweak = f"`redundancy: active-active` on {ref}", add_one
        elif section == "databases":
            if self.target == "aws" and not component.multi_az and component.replication.mode != "multi-primary":
                change, tweak = f"`multi_az: true` on {ref} (a synchronous standby)", add_one
            elif component.replication.mode != "multi-primary" and component.replica_count < 15:
                n = component.replica_count
                change = (f"a read replica of {ref}" if n == 0 else f"{n + 1} read replicas of {ref} (now {n})")
                tweak = add_one
        elif section == "caches" and component.replicas < 5:
            n = component.replicas
            change = f"a replica of {ref}" if n == 0 else f"{n + 1} replicas of {ref} (now {n})"
            tweak = add_one
        if change is None or tweak is None:
            return None
        return Fix(change, ref, path.availability, evaluate(path.steps, tweak))

    def dr_fix(self, path: RequestPath) -> Fix | None:
        """A hot DR site behind DNS failover: the path (after DNS) in parallel with its copy."""
        if path.kind != "request" or any(isinstance(s, Parallel) for s in path.steps):
            return None
        # DNS and CDNs are global services: the DR site sits behind them, not beside them.
        steps = list(path.steps)
        head: list[Step] = []
        while steps and isinstance(steps[0], Member) and (steps[0].ref == "dns" or steps[0].ref.startswith("cdns.")):
            head.append(steps.pop(0))
        rest = tuple(steps)
        if not rest:
            return None
        dr = tuple(self.member(m.ref, "dr") for m in rest if isinstance(m, Member))
        after = evaluate(tuple(head) + (Parallel((rest, dr), "DNS failover"),))
        if not self.hot:
            change = "a hot disaster_recovery site behind a DNS failover record"
        elif path.entry.startswith("dns "):
            change = f"`routing: failover` on record '{path.entry[4:]}' with a `site: dr` secondary"
        else:
            change = "a DNS failover record in front, with a `site: dr` secondary"
        return Fix(change, None, path.availability, after)

    def best_fix(self, path: RequestPath) -> Fix | None:
        """The fix of the costliest component if it has one, else the fix that lifts the path most."""
        costliest = path.costliest(lambda ref: self.fix_for(path, ref) is not None)
        if costliest is not None:
            fix = self.fix_for(path, costliest[0])
            if fix is not None and fix.after > fix.before:
                return fix
        candidates = [self.fix_for(path, ref) for ref in path.refs()] + [self.dr_fix(path)]
        candidates = [f for f in candidates if f is not None and f.after > f.before]
        return max(candidates, key=lambda f: f.after, default=None)


def _chain_name(chain: Iterable[Member]) -> str:
    """The front of a chain up to its first service: 'cdns.assets → load_balancers.edge → services.web'."""
    names = []
    for member in chain:
        names.append(member.label)
        if member.ref.startswith("services."):
            break
    return " → ".join(names)


def request_paths(bp: Blueprint, target: str) -> list[RequestPath]:
    return PathBuilder(bp, target).paths()
