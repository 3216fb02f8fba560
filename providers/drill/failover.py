"""Site drills on a hot-DR blueprint: the primary site stops; how long until the DR site serves?

Measured from the moment the primary site's entry containers are down:
- DNS: until the stack's DNS server (its published port on 127.0.0.1) answers
  every failover record with DR addresses only. A client that cached the
  old answer waits up to the record's TTL more, so that is added before the
  comparison with the declared `rto`;
- the DR tier: until the DR copies of the failover records' targets answer
  HTTP on their published ports;
- data: a marker row written to each postgres primary with a DR copy every
  second before the fault (`docker exec psql`); after the fault, the newest
  marker readable on the DR copy says how much was lost (compared with
  `rpo`). The marker table is `topoform_drill` in the application database.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from topoform.dsl.models import Blueprint
from topoform.providers.plan import Plan

from .engine import ContainerAPI
from .probe import Endpoint, dns_a, http_get
from .stack import Copy

MARKER_TABLE = "topoform_drill"


# ---- what the blueprint declares

@dataclass
class FailoverRecord:
    name: str  # the full name ("api.shop.example.com")
    primary: set[str]  # addresses
    dr: set[str]
    targets: list[str]  # component refs served at the DR site
    check: str  # "health check 10s × 3"
    check_seconds: float


@dataclass
class SitePlan:
    records: list[FailoverRecord]
    dns_port: int | None
    ttl: float
    rto: float | None  # declared
    rpo: float | None
    predicted_rto: float
    predicted_rto_basis: str
    predicted_rpo: float
    dr_endpoints: list[Endpoint]
    databases: list[tuple[Copy, Copy, str, str]]  # (primary, DR copy, user, database)


def _envs(plan: Plan, resource: str) -> dict[str, str]:
    envs = plan.get(resource).properties.get("envs") or []
    return dict(item.split("=", 1) for item in envs if isinstance(item, str) and "=" in item)


def site_plan(bp: Blueprint, plan: Plan, stack: dict[str, list[Copy]]) -> SitePlan:
    from topoform.providers.insight.report import recovery_section

    addresses = plan.outputs.get("dns.addresses") or {}
    zone = (bp.dns.zone if bp.dns else "").rstrip(".")
    records = []
    for record in (bp.dns.records if bp.dns else []):
        if record.routing != "failover":
            continue
        primary, dr, targets = set(), set(), []
        for endpoint in record.endpoints:
            target = str(endpoint.target) if endpoint.target else None
            if target is None:
                continue
            site = "dr" if endpoint.role == "secondary" or getattr(endpoint, "site", None) == "dr" else "primary"
            (dr if site == "dr" else primary).update(addresses.get(f"{target}@{site}", []))
            if site == "dr" and target not in targets:
                targets.append(target)
        check = record.health_check
        seconds = float(check.interval) * int(check.failure_threshold) if check else 0.0
        words = f"health check {float(check.interval):g}s × {check.failure_threshold}" if check else "no health check"
        name = zone if record.name == "@" else f"{record.name}.{zone}"
        records.append(FailoverRecord(name, primary, dr, targets, words, seconds))
    dns_port = next((c.container.ports.get((53, "udp")) for c in stack.get("dns", [])), None)
    recovery = recovery_section(bp)
    achievable = recovery.get("achievable") or {}
    endpoints = []
    for ref in sorted({t for r in records for t in r.targets}):
        for copy in stack.get(ref, []):
            if copy.site != "dr":
                continue
            tcp = sorted((p for p, proto in copy.internal_ports if proto == "tcp"), key=lambda p: (p != 443, p))
            if tcp and copy.container.ports.get((tcp[0], "tcp")):
                endpoints.append(Endpoint(copy.resource, copy.container.ports[(tcp[0], "tcp")], tcp[0] == 443))
    databases = [pair for ref in stack for pair in copy_pairs(bp, plan, stack, ref, dr=True)]
    return SitePlan(records, dns_port, float(bp.dns.ttl) if bp.dns and bp.dns.ttl else 0.0,
                    recovery["declared"]["rto"], recovery["declared"]["rpo"],
                    float(achievable.get("rto") or 0), achievable.get("rto_basis", ""),
                    float(achievable.get("rpo") or 0), endpoints, databases)


# ---- the data probe

def copy_pairs(bp: Blueprint, plan: Plan, stack: dict[str, list[Copy]], ref: str,
               dr: bool) -> list[tuple[Copy, Copy, str, str]]:
    """(primary, copy, user, database) of a postgres component: each primary with its DR copy (`dr`),
    or with its replicas at the primary site — or with None when it has none: a single copy is written to
    all the same, its failed writes being its outage. Other engines have no marker probe (none is built)."""
    component = bp.component(ref)
    if getattr(component, "section", None) != "databases" or getattr(component, "engine", "") != "postgres":
        return []
    copies = stack.get(ref, [])
    pairs = []
    for copy in copies:
        if copy.site != "primary" or "-replica-" in copy.resource or copy.resource.endswith("-backup"):
            continue
        envs = _envs(plan, copy.resource)
        user = envs.get("POSTGRES_USER", "postgres")
        database = envs.get("POSTGRES_DB", user)
        if dr:
            followers = [c for c in copies if c.resource == copy.resource + "-dr"]
        else:
            followers = [c for c in copies if c.resource.startswith(copy.resource + "-replica-")]
        pairs += [(copy, follower, user, database) for follower in followers]
        if not followers and not dr:
            pairs.append((copy, None, user, database))
    return pairs


def _psql(api: ContainerAPI, copy: Copy, user: str, database: str, sql: str) -> tuple[int, str]:
    return api.exec(copy.container.id, ["psql", "-U", user, "-d", database, "-tAXqc", sql])


@dataclass
class Writer:
    """Writes a marker (wall-clock seconds) to each primary every `interval` until stopped."""

    api: ContainerAPI
    databases: list[tuple[Copy, Copy | None, str, str]]  # (primary, copy read or None, user, database)
    interval: float = 1.0
    written: dict[str, float] = field(default_factory=dict)  # primary resource → newest marker written
    errors: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # copy resource → its last unusable answer
    attempts: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _primaries(self) -> list[tuple[Copy, str, str]]:
        seen: dict[str, tuple[Copy, str, str]] = {}
        for primary, _, user, db in self.databases:
            seen.setdefault(primary.resource, (primary, user, db))
        return list(seen.values())

    def prepare(self, timeout: float = 60.0) -> None:
        """Create the marker table on each primary and wait until every copy can read it (replication
        carries the table too; a copy that cannot read it yet would look like data lost)."""
        for primary, user, db in self._primaries():
            code, out = _psql(self.api, primary, user, db,
                              f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (at double precision)")
            if code != 0:
                self.errors.append(f"{primary.resource}: {out.strip()}")
        deadline = time.monotonic() + timeout
        waiting = [(dr, user, db) for _, dr, user, db in self.databases if dr is not None]
        while waiting and not self.errors:
            waiting = [(dr, user, db) for dr, user, db in waiting
                       if self._read(dr, user, db)[0] != 0]
            if waiting and time.monotonic() > deadline:
                self.errors += [f"{dr.resource}: the marker table has not reached it within {timeout:g}s"
                                for dr, _, _ in waiting]
            elif waiting:
                time.sleep(1.0)

    def _read(self, copy: Copy, user: str, db: str) -> tuple[int, str]:
        try:
            return _psql(self.api, copy, user, db, f"SELECT max(at) FROM {MARKER_TABLE}")
        except Exception:  # a stopped copy: the engine refuses the exec
            return -1, ""

    def _run(self) -> None:
        while not self._stop.is_set():
            for primary, user, db in self._primaries():
                at = time.time()
                try:
                    code, _ = _psql(self.api, primary, user, db, f"INSERT INTO {MARKER_TABLE} VALUES ({at!r})")
                except Exception:  # the engine refuses exec into a stopped container: a failed write
                    code = -1
                self.attempts += 1
                if code == 0:
                    self.written[primary.resource] = at
                else:
                    self.failures += 1
            self._stop.wait(self.interval)

    def wait_first(self, timeout: float = 60.0) -> None:
        """Until every primary has taken a marker (a slow engine takes seconds per exec): a lag is then
        a measurement, not a primary not yet written to."""
        deadline = time.monotonic() + timeout
        wanted = {p.resource for p, _, _ in self._primaries()}
        while not wanted <= set(self.written) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(self.interval * 2)  # and a marker or two replicated

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="drill-writer")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def lag(self, patience: float = 1.0) -> dict[str, float | None]:
        """Seconds the DR copy is behind the newest marker written on its primary (None: unreadable).
        A copy that cannot be read, or answers something that is not a marker, is asked again for
        `patience` seconds (one whose primary just vanished may restart its server before it
        answers); why the last answer was unusable is kept in `unreadable`."""
        out: dict[str, float | None] = {}
        for primary, dr, user, db in self.databases:
            if dr is None:  # a single copy: nothing to be behind
                continue
            deadline = time.monotonic() + patience
            while True:
                newest, why = self._newest(dr, user, db)
                if newest is not None or time.monotonic() >= deadline:
                    break
                time.sleep(1.0)
            if why:
                self.unreadable[dr.resource] = why
            else:
                self.unreadable.pop(dr.resource, None)
            written = self.written.get(primary.resource)
            out[dr.resource] = None if newest is None or written is None else round(max(0.0, written - newest), 2)
        return out

    def _newest(self, copy: Copy, user: str, db: str) -> tuple[float | None, str]:
        """The newest marker on `copy`, or None and what it answered instead."""
        code, text = self._read(copy, user, db)
        if code != 0:
            return None, f"exit {code}: {text.strip()[:200] or 'no output'}"
        try:
            return float(text.strip()), ""
        except ValueError:  # no marker yet (an empty max), or a notice mixed into the output
            return None, f"not a marker: {text.strip()[:200]!r}"


# ---- watching the failover

def answers_primary(site: SitePlan) -> list[str]:
    """The failover records whose DNS answer is not the primary site's addresses now."""
    wrong = []
    for record in site.records:
        answer = set(dns_a(site.dns_port, record.name)) if site.dns_port else set()
        if not answer or not answer <= record.primary:
            wrong.append(f"{record.name} answers {sorted(answer) or 'nothing'}")
    return wrong


@dataclass
class Failover:
    dns_seconds: float | None = None  # the DNS server answers DR addresses only, for every record
    dr_serves_seconds: float | None = None  # the DR entry copies answer HTTP below 500
    data_lost: dict[str, float | None] = field(default_factory=dict)  # DR copy → seconds of writes lost
    lag_at_fault: dict[str, float | None] = field(default_factory=dict)


def watch(site: SitePlan, fault: float, until: float, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep, stop: threading.Event | None = None) -> Failover:
    """Poll DNS and the DR entries until both have moved, `until` (monotonic) passes or `stop` is set."""
    got = Failover()
    while (clock() < until and not (stop is not None and stop.is_set())
           and (got.dns_seconds is None or got.dr_serves_seconds is None)):
        now = clock()
        if got.dns_seconds is None and site.dns_port and site.records:
            answers = [set(dns_a(site.dns_port, r.name)) for r in site.records]
            if all(a and a <= r.dr for a, r in zip(answers, site.records)):
                got.dns_seconds = round(now - fault, 2)
        if got.dr_serves_seconds is None and site.dr_endpoints:
            if any(http_get(e, 2.0)[0] for e in site.dr_endpoints):
                got.dr_serves_seconds = round(clock() - fault, 2)
        sleep(0.5)
    return got
