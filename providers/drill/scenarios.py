"""What a drill fails, and what `topoform report` predicted for that failure.

`--fail REF` stops every copy of a component at the primary site; `--fail
REF:N` stops copy N only; `--all` stops one copy of each component on a
request path, one drill after another — the failure the report's copy count
is about: a component with one copy is a single point of failure, one with
two or more keeps serving.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from topoform.dsl.models import Blueprint
from topoform.providers.plan import Plan

from .stack import Copy, DrillError

_REF_RE = re.compile(r"^(?P<ref>[a-z_]+\.[A-Za-z0-9_-]+|dns)(?::(?P<copy>\d+))?$")
DATA_SECTIONS = ("databases", "caches", "queues")
DEFAULT_WINDOW = 30.0  # s: detection time assumed where nothing in front declares a health check


@dataclass
class Scenario:
    """One drill: the containers it stops and what the report says will happen."""

    ref: str
    scope: str  # "one copy" | "every copy"
    copies: list[Copy]  # the containers stopped
    predicted_copies: int  # copies the report counts at the primary site
    basis: str  # the report's words for them
    on_path: bool  # a probed request path runs through this component
    expect_down: bool  # the report predicts requests fail while it is stopped
    window: float  # s: failures allowed after the fault while health checks notice (expect_down False)
    window_basis: str
    site: object = None  # failover.SitePlan for a whole-site drill
    first: tuple[str, ...] = ()  # resources stopped before the others (a site's entry points: the outage begins)
    data: tuple = ()  # failover.copy_pairs: (primary, replica, user, database) given marker rows
    through: tuple[str, ...] = ()  # probe entries whose request path runs through this component: judged on their load

    @property
    def data_tier(self) -> bool:
        """A database, cache or queue: the load sees it only through callers that use it."""
        return self.ref.split(".")[0] in DATA_SECTIONS

    @property
    def title(self) -> str:
        if self.site is not None:
            return f"the primary site ({len(self.copies)} containers)"
        return f"{self.ref} ({self.scope}: {', '.join(c.resource for c in self.copies)})"

    @property
    def prediction(self) -> str:
        if self.site is not None:
            return f"DR site takes over: RTO {self.site.predicted_rto:g} s ({self.site.predicted_rto_basis})"
        if not self.on_path:
            return "not on a probed request path: requests unaffected"
        if self.predicted_copies <= 1:
            return "single point of failure: requests fail while it is down"
        if self.expect_down:
            return f"every one of {self.predicted_copies} copies stopped: requests fail while they are down"
        return f"{self.predicted_copies} copies ({self.basis}): requests keep being served"


def path_refs(bp: Blueprint, target: str) -> list[str]:
    """Components on a request path (not async ones), in path order."""
    from topoform.providers.insight.availability import members, request_paths

    refs: list[str] = []
    for path in request_paths(bp, target):
        if path.kind != "request":
            continue
        for member in members(path.steps):
            if member.site == "primary" and member.ref not in refs:
                refs.append(member.ref)
    return refs


def _window(bp: Blueprint, ref: str) -> tuple[float, str]:
    """How long failures may go on after one copy stops: what sits in front must notice first.

    A balancer in front marks a backend down after `unhealthy` failed checks
    `interval` apart; copies of an entry point are found by the client, at once.
    """
    for component in bp.components():
        section = component.section
        if section not in ("load_balancers", "reverse_proxies", "cdns"):
            continue
        routes = getattr(component, "routes", None) or []
        targets = {getattr(r, "target", None) for r in routes} | {getattr(component, "origin", None),
                                                                  getattr(component, "upstream", None)}
        if ref in {str(t) for t in targets if t}:
            check = getattr(component, "health_check", None)
            if check is not None and getattr(check, "interval", None):
                interval, unhealthy = float(check.interval), int(getattr(check, "unhealthy", 3) or 3)
                return interval * unhealthy, f"{component.ref} health check {interval:g}s × {unhealthy}"
    return DEFAULT_WINDOW, f"{DEFAULT_WINDOW:g}s assumed (no health check declared in front)"


def parse_ref(text: str) -> tuple[str, int | None]:
    match = _REF_RE.match(text)
    if not match:
        raise DrillError(f"--fail {text!r}: write a component reference (services.web), or one copy of it "
                         f"(services.web:0)")
    return match.group("ref"), int(match.group("copy")) if match.group("copy") else None


def _serving(copies: list[Copy]) -> list[Copy]:
    """The copies that serve at the primary site (a database's backup job is not one)."""
    return [c for c in copies if c.site == "primary" and not c.resource.endswith("-backup")]


def site_scenario(bp: Blueprint, plan: Plan, stack: dict[str, list[Copy]]) -> Scenario:
    """Every container of the primary site but the DNS server (DNS is global, as Route53 is)."""
    from topoform.dsl.topology import topology

    from .failover import site_plan

    if not topology(bp).hot_dr:
        raise DrillError("--site primary needs a hot DR site (disaster_recovery: {strategy: hot}); "
                         "this blueprint has none, so nothing would take over")
    site = site_plan(bp, plan, stack)
    if not site.records or not site.dns_port:
        raise DrillError("--site primary measures DNS failover: the blueprint needs a dns record with "
                         "routing: failover and its DNS server deployed")
    copies = [c for ref, cs in stack.items() if ref != "dns" for c in cs if c.site == "primary"]
    order = {r.name: i for i, r in enumerate(plan.resources)}
    copies.sort(key=lambda c: order[c.resource])
    entries = {t for r in site.records for t in r.targets}
    first = tuple(c.resource for c in copies if c.component in entries)
    return Scenario("site primary", "whole site", copies, 0, "", True, True, 0.0, "", site, first)


def build(bp: Blueprint, plan: Plan, stack: dict[str, list[Copy]], fail: list[str], every: bool,
          target: str = "docker", site: str | None = None) -> list[Scenario]:
    if site:
        if fail or every:
            raise DrillError("--site drills a whole site: not together with --fail or --all")
        return [site_scenario(bp, plan, stack)]
    on_path = path_refs(bp, target)
    wanted: list[tuple[str, int | None, str]] = []
    if every:
        if not on_path:
            raise DrillError("--all: the blueprint has no request path (nothing with a port is reachable)")
        wanted = [(ref, 0, "one copy") for ref in on_path]
    for text in fail:
        ref, copy = parse_ref(text)
        wanted.append((ref, copy, "one copy" if copy is not None else "every copy"))
    if not wanted:
        raise DrillError("say what to fail: --fail REF (every copy), --fail REF:N (copy N), or --all")
    scenarios = []
    for ref, copy, scope in wanted:
        if ref not in plan.components:
            known = ", ".join(sorted(plan.components))
            raise DrillError(f"--fail {ref}: the blueprint has no component {ref!r} (it has: {known})")
        serving = _serving(stack.get(ref, []))
        if not serving:
            raise DrillError(f"--fail {ref}: it runs no container of its own on docker (nothing to stop)")
        if copy is not None and copy >= len(serving):
            raise DrillError(f"--fail {ref}:{copy}: {ref} has {len(serving)} copies "
                             f"(0 to {len(serving) - 1}: {', '.join(c.resource for c in serving)})")
        chosen = serving if copy is None else [serving[copy]]
        facts = plan.components[ref].facts
        copies = facts.copies.get("primary", len(serving)) if facts else len(serving)
        basis = facts.basis.get("primary", "") if facts else ""
        window, window_basis = _window(bp, ref)
        expect_down = ref in on_path and (copies <= 1 or copy is None)
        from .failover import copy_pairs

        scenarios.append(Scenario(ref, scope, chosen, copies, basis, ref in on_path, expect_down,
                                  window, window_basis, data=tuple(copy_pairs(bp, plan, stack, ref, dr=False))))
    return scenarios


@dataclass
class Prepared:
    """Everything a drill needs, found before anything is touched."""

    stack: dict[str, list[Copy]]
    scenarios: list[Scenario]
    entries: list  # probe.Entry: where the load goes

    def describe(self) -> list[str]:
        """What the drill will do, in sentences, for the confirmation prompt."""
        lines = [f"probe load: one {'question' if e.dns_name else 'request'} every 0.1 s to {e.name}"
                 for e in self.entries]
        if not self.entries:
            lines.append("probe load: none (no entry component publishes a port)")
        for s in self.scenarios:
            if s.site is not None:
                lines.append(f"stop the primary site ({len(s.copies)} containers, entry points first), watch DNS on "
                             f"127.0.0.1:{s.site.dns_port} and the DR entries, then start them again")
                lines += [f"write a marker row every second to {p.resource} and read it on {d.resource}"
                          for p, d, _, _ in s.site.databases]
            else:
                lines.append(f"stop {s.title}, then start it again; the report says: {s.prediction}")
                lines += [f"write a marker row every second to {p.resource}"
                          + (f" and read it on {d.resource}" if d is not None else "") for p, d, _, _ in s.data]
        return lines


def prepare(bp: Blueprint, plan: Plan, api, fail: list[str], every: bool, target: str = "docker",
            site: str | None = None) -> Prepared:
    """Find the stack and decide the drills; DrillError (exit 2) for a stack not deployed or a wrong reference."""
    from .probe import dns_entry, entries
    from .stack import find_stack

    stack = find_stack(api, plan)
    scenarios = build(bp, plan, stack, fail, every, target, site)
    entry_refs, through = entry_paths(bp, plan, target)
    found = entries(bp, stack, entry_refs)
    dns = dns_entry(bp, stack)
    if dns is not None:  # the paths that begin at a DNS record: a question asked of the DNS server
        found.insert(0, dns)
        entry_refs.insert(0, "dns")
        through["dns"] = {"dns"}
    probed = {e.ref for e in found}
    for scenario in scenarios:
        if scenario.site is None:
            scenario.through = tuple(e for e in entry_refs if e in probed and e in through.get(scenario.ref, ()))
    return Prepared(stack, scenarios, found)


def entry_paths(bp: Blueprint, plan: Plan, target: str) -> tuple[list[str], dict[str, set[str]]]:
    """The entry components of the request paths, and for each component the entries whose path runs
    through it: stopping the CDN concerns the load sent to the CDN, not the load sent to the balancer."""
    from topoform.providers.insight.availability import members, request_paths

    entry_refs: list[str] = []
    through: dict[str, set[str]] = {}
    for path in request_paths(bp, target):
        if path.kind != "request":
            continue
        on = [m for m in members(path.steps) if m.site == "primary"]
        # A DNS record's path enters at the component the record answers with.
        first = next((m.ref for m in on if m.ref != "dns"), None)
        entry = path.entry if path.entry in plan.components else first
        if entry is None:
            continue
        if entry not in entry_refs:
            entry_refs.append(entry)
        for member in on:
            if member.ref != "dns":  # the HTTP load goes to published ports, not through the DNS server
                through.setdefault(member.ref, set()).add(entry)
    return entry_refs, through
