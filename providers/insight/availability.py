"""Availability a blueprint buys: request paths and the arithmetic, from the Plan's facts.

Each component has an availability for one copy of it and a number of
copies per site: the target records both in the Plan (`Facts`, from the
tables with their sources in providers/<target>/facts.py), overridable with
`availability:`.
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
from topoform.dsl.topology import topology
from topoform.providers.plan import Facts, Plan

from .topology import consumers, downstream, front_doors

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


Edit = Callable[[dict], None]


@dataclass(frozen=True)
class Fix:
    change: str  # "a second replica of services.web"
    ref: str | None
    before: float
    after: float  # the path's figure on the blueprint with `edit` made (PathBuilder.measured)
    edit: Edit | None = field(default=None, compare=False, repr=False)  # the change, on the blueprint's data
    # What `edit` touches: the component, and the DNS record it rewrites (LinkedGroups.data_around).
    scope: tuple[str, str | None] | None = field(default=None, compare=False, repr=False)

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
    """Derives the request paths of one blueprint on one target, from the facts the target recorded."""

    def __init__(self, bp: Blueprint, target: str, plan: "Plan | None" = None):
        from topoform.providers import analysed_plan

        self.bp = bp
        self.target = target
        self.hot = topology(bp).hot_dr
        self.plan = plan if plan is not None else analysed_plan(bp, target)
        self._reruns: dict[str, PathBuilder | None] = {}  # change → the analysis with it made
        self._groups: LinkedGroups | None = None

    def _linked(self) -> "LinkedGroups":
        if self._groups is None:
            self._groups = LinkedGroups(self.bp)
        return self._groups

    def facts(self, ref: str) -> Facts:
        return self.plan.components[ref].facts  # type: ignore[return-value]

    # ---- members

    def member(self, ref: str, site: str = "primary") -> Member:
        facts = self.facts(ref)
        figure = facts.availability[site]
        return Member(ref, "primary" if ref == "dns" else site, facts.copies[site], figure.percent, figure.source,
                      facts.basis[site], figure.label)

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
        seen: set[tuple[str, tuple[Step, ...]]] = set()  # a set, not a scan of `unique` per path (quadratic)
        for path in found:
            if (path.name, path.steps) not in seen:
                seen.add((path.name, path.steps))
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
        """The smallest blueprint change that adds a copy of `ref`, with the path figure it is
        expected to give (an estimate from the path's arithmetic: `measured` re-runs it)."""
        component = self.bp.component(ref)
        if component is None:
            return None
        scaling = self.facts(ref).scaling
        section, name = component.section, component.name
        change: str | None = None
        tweak: Tweak | None = None
        edit: Edit | None = None
        add_one: Tweak = lambda m: replace(m, copies=m.copies + 1) if m.ref == ref and m.site == "primary" else m  # noqa: E731

        def setting(key: str, value) -> Edit:
            return lambda data: data[section][name].__setitem__(key, value)

        if scaling == "replicas":
            n = component.replicas
            change = (f"a second replica of {ref}" if n == 1 else f"{n + 1} replicas of {ref} (now {n})")
            tweak = lambda m: replace(m, copies=m.copies + 1) if m.ref == ref else m  # noqa: E731
            edit = setting("replicas", n + 1)
        elif scaling == "redundancy":
            change, tweak, edit = f"`redundancy: active-active` on {ref}", add_one, setting("redundancy", "active-active")
        elif scaling == "multi_az":
            change, tweak = f"`multi_az: true` on {ref} (a synchronous standby)", add_one
            edit = setting("multi_az", True)
        elif scaling == "read_replicas":
            n = component.replica_count
            change = (f"a read replica of {ref}" if n == 0 else f"{n + 1} read replicas of {ref} (now {n})")
            tweak = add_one
            edit = setting("replication", {"mode": "primary-replica", "replicas": n + 1})
        elif scaling == "cache_replicas":
            n = component.replicas
            change = f"a replica of {ref}" if n == 0 else f"{n + 1} replicas of {ref} (now {n})"
            tweak, edit = add_one, setting("replicas", n + 1)
        if change is None or tweak is None:
            return None
        return Fix(change, ref, path.availability, evaluate(path.steps, tweak), edit, (ref, None))

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
        if not rest or any(m.ref.startswith("cdns.") for m in head if isinstance(m, Member)):
            return None  # a failover record cannot put a DR site behind a CDN: no setting does that
        dr = tuple(self.member(m.ref, "dr") for m in rest if isinstance(m, Member))
        after = evaluate(tuple(head) + (Parallel((rest, dr), "DNS failover"),))
        target = rest[0].ref  # type: ignore[union-attr]
        record = path.entry[4:] if path.entry.startswith("dns ") else "www"
        words = f"`routing: failover` on record '{record}' with a `site: dr` secondary" \
            if path.entry.startswith("dns ") else f"a DNS failover record '{record}' in front of {target}, " \
                                                  "with a `site: dr` secondary"
        if not self.hot:
            words = f"a hot disaster_recovery site (`strategy: hot`) and {words}"
        return Fix(words, None, path.availability, after, _failover_edit(self.bp, record, target, self.hot),
                   (target, record))

    def measured(self, fix: Fix, path: RequestPath) -> Fix | None:
        """`fix` with the figure the analysis gives when the change is made to the blueprint
        (re-validated and re-analysed, not estimated); None if the changed blueprint is invalid."""
        if fix.edit is None:
            return None
        key = fix.change
        if key not in self._reruns:
            # A change re-runs only the part of the blueprint linked to what it touches: a whole
            # re-run per path made `report` quadratic in the number of components.
            local = None if fix.scope is None else self._linked().data_around(*fix.scope)
            self._reruns[key] = _rerun(self.bp, self.target, fix.edit, local)
        after = self._reruns[key]
        figure = None if after is None else _matching(after, path)
        return None if figure is None else replace(fix, after=figure)

    def best_fix(self, path: RequestPath) -> Fix | None:
        """The fix of the costliest component if it has one, else the fix that lifts the path most;
        its figure is the re-run analysis of the changed blueprint."""
        costliest = path.costliest(lambda ref: self.fix_for(path, ref) is not None)
        if costliest is not None:
            fix = self.fix_for(path, costliest[0])
            fix = fix and self.measured(fix, path)
            if fix is not None and fix.after > fix.before:
                return fix
        candidates = [self.fix_for(path, ref) for ref in path.refs()] + [self.dr_fix(path)]
        # Measured in the order the estimates rank them: most re-runs are then never needed.
        ranked = sorted((f for f in candidates if f is not None and f.after > f.before), key=lambda f: -f.after)
        best: Fix | None = None
        for fix in ranked:
            if best is not None and fix.after <= best.after:
                break  # estimates are upper bounds of what the arithmetic can give: none below can win
            got = self.measured(fix, path)
            if got is not None and got.after > got.before and (best is None or got.after > best.after):
                best = got
        return best


def _failover_edit(bp: Blueprint, record: str, target: str, hot: bool) -> Edit:
    def edit(data: dict) -> None:
        if not hot:
            dr = dict(data.get("disaster_recovery") or {})
            dr["strategy"] = "hot"
            dr.setdefault("region", "us-west-2" if bp.aws.region != "us-west-2" else "us-east-1")
            data["disaster_recovery"] = dr
        endpoints = [{"target": target, "role": "primary"}, {"target": target, "role": "secondary", "site": "dr"}]
        dns = data.setdefault("dns", {"zone": f"{bp.blueprint}.example.com"})
        records = dns.setdefault("records", [])
        for item in records:
            if item.get("name") == record:
                item.update({"routing": "failover", "endpoints": endpoints})
                for key in ("weight", "region"):
                    item.pop(key, None)
                break
        else:
            records.append({"name": record, "routing": "failover", "endpoints": endpoints})
        for item in records:
            if item.get("name") == record and not item.get("health_check"):
                item["health_check"] = {"path": "/"}
    return edit


_GLOBAL = ""  # the node of what the component sections and DNS records do not hold (slos, ...)


class LinkedGroups:
    """The blueprint's components and DNS records split into groups no reference crosses (the
    connected parts of the reference graph; what other sections name is one group with them).

    A fix changes one component's setting (more replicas, a standby), or makes one DNS record a
    failover to a hot DR site; neither changes a reference. On the blueprint cut down to the
    groups it touches (`data_around`) the changed blueprint validates, has facts and paths as on
    the whole: a kind's facts read its component and the global settings, a path stays inside
    its group, and what validation sums over the whole (the DR objectives: the first failover
    record, the databases) is kept or can only get better. `_rerun` then costs the size of the
    groups, not of the blueprint.
    """

    def __init__(self, bp: Blueprint):
        from topoform.dsl.kinds import BY_SECTION
        from topoform.dsl.topology import owner

        self.bp = bp
        self.data = bp.model_dump(mode="json", exclude_none=True, by_alias=True)
        records = bp.dns.records if bp.dns else []
        order = [_GLOBAL] + [component.ref for component in bp.components()] + \
            [_record_node(i) for i in range(len(records))]
        self.index = {node: i for i, node in enumerate(order)}
        parent = list(range(len(order)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        def node(path) -> str:
            if path[:2] == ("dns", "records") and len(path) > 2:
                return _record_node(path[2])
            return owner(path) or _GLOBAL

        found = topology(bp)
        links = [(item.path, item.ref) for item in found.fields]
        links += [(item.path, item.ref) for item in found.interpolations if item.kind in BY_SECTION]
        for path, ref in links:
            a, b = self.index.get(node(path)), self.index.get(ref)
            if a is not None and b is not None:
                parent[root(a)] = root(b)
        self.members: dict[int, list[str]] = {}
        self.group: dict[str, int] = {}
        for i, item in enumerate(order):
            self.group[item] = root(i)
            self.members.setdefault(root(i), []).append(item)
        self.named = {}  # record name → its entries' nodes (several for a weighted or latency set)
        for i, record in enumerate(records):
            self.named.setdefault(record.name, []).append(_record_node(i))
        failover = next((i for i, r in enumerate(records) if r.routing == "failover"), None)
        # The DR objectives read the first failover record and whether any database exists.
        self.always = [_GLOBAL] + ([] if failover is None else [_record_node(failover)])
        self.a_database = next((db.ref for db in bp.databases.values()), None)

    def data_around(self, ref: str, record: str | None = None) -> dict:
        """The blueprint's data with only the groups of `ref`, of the records named `record` (the
        fix rewrites the first), and the global ones, in blueprint order; copies where an edit writes."""
        import copy

        touched = [ref, *self.always]
        if record is not None:  # a DR fix: the hot site's RPO reads whether a database exists
            touched += self.named.get(record, []) + ([self.a_database] if self.a_database else [])
        groups = {self.group[item] for item in touched}
        keep = sorted((n for g in groups for n in self.members[g] if n != _GLOBAL), key=self.index.__getitem__)
        kept: dict[str, dict] = {}
        entries = []
        for item in keep:
            if item.startswith(_RECORD):
                entries.append(copy.deepcopy(self.data["dns"]["records"][int(item[len(_RECORD):])]))
                continue
            section, _, name = item.partition(".")
            value = self.data[section][name]
            kept.setdefault(section, {})[name] = copy.deepcopy(value) if item == ref else value
        data = {}
        for key, value in self.data.items():
            if key in self.bp.SECTIONS:
                data[key] = kept.get(key, {})
            elif key == "dns":
                data[key] = {**copy.deepcopy({k: v for k, v in value.items() if k != "records"}), "records": entries}
            else:
                data[key] = copy.deepcopy(value)
        return data


_RECORD = "dns.records."


def _record_node(index: int) -> str:
    return f"{_RECORD}{index}"


def _rerun(bp: Blueprint, target: str, edit: Edit, data: dict | None = None) -> "PathBuilder | None":
    """The analysis of `bp` with `edit` made to its data (what the user would write); `data`, if
    given, is the part of it the edit touches (LinkedGroups.data_around)."""
    import copy
    import json

    from topoform.dsl.validate import validate_text

    if data is None:
        data = copy.deepcopy(bp.model_dump(mode="json", exclude_none=True, by_alias=True))
    edit(data)
    result = validate_text(json.dumps(data), bp.file, bp.base_dir, target=target)
    if not result.ok:
        return None
    from topoform.providers import facts_plan

    # The facts alone: the figures need what would be built, not the resources themselves.
    return PathBuilder(result.blueprint, target, facts_plan(result.blueprint, target))  # type: ignore[arg-type]


def _matching(builder: "PathBuilder", path: RequestPath) -> float | None:
    """The figure of `path` in another analysis: the path entering at the same place through the
    same components (the weakest, if several), else through the same components from any entry
    (a new DNS record in front)."""
    refs = set(path.refs()) - {"dns"}
    found = [p for p in builder.paths() if p.kind == path.kind and set(p.refs()) - {"dns"} == refs]
    same_entry = [p for p in found if p.entry == path.entry]
    chosen = same_entry or found
    return min(p.availability for p in chosen) if chosen else None


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
