"""Lint: design risks in a valid blueprint, each a warning (or a note) at its line (`topoform report`).

A rule is one small function registered with `@rule(id, severity, title,
why)`; it yields `(path, message, hint)` for each finding, and the path is
turned into `file:line:col` through the blueprint's source map (the pattern
of `dsl/rules.py`). `why` says what the system-design literature says is at
stake, so the README table and `report --json` carry the reasoning with the
finding. `--strict` turns warnings into errors; notes (`info`) stay notes.

A finding is silenced by a comment naming its rule on the flagged line or
the line above it: `# topoform: ignore=single-point-of-failure` (several
rules separated by commas) — the tflint habit, so a conscious trade-off
stays written next to the code that makes it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from topoform.dsl.diagnostics import Position
from topoform.dsl.loader import Path, SourceMap, load_file
from topoform.dsl.models import Blueprint
from topoform.providers.plan import Facts

from .topology import STORE_SECTIONS, consumers, interpolated

Problem = tuple[Path, str, str | None]
Check = Callable[["LintContext"], Iterator[Problem]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # "warning" | "info"
    title: str
    why: str
    check: Check


RULES: list[Rule] = []


def rule(id: str, severity: str, title: str, why: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        RULES.append(Rule(id, severity, title, why, fn))
        return fn
    return register


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "error" (a warning under --strict) | "warning" | "info"
    file: str
    line: int
    column: int
    message: str
    hint: str | None = None

    def render(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.rule}]"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def as_json(self) -> dict[str, Any]:
        data = {"rule": self.rule, "severity": self.severity, "file": self.file, "line": self.line,
                "column": self.column, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        return data


@dataclass
class LintContext:
    bp: Blueprint
    target: str
    raw: Any  # the blueprint as written (before variables were substituted), if the file is readable

    def raw_at(self, path: Path, default: Any = None) -> Any:
        value = self.raw
        for part in path:
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                return default
        return value

    def written(self, path: Path) -> bool:
        return self.raw_at(path, _MISSING) is not _MISSING

    def facts(self, ref: str) -> Facts:
        """What the target builds for `ref` (the Plan's facts), compiled on first use."""
        from topoform.providers import analysed_plan

        return analysed_plan(self.bp, self.target).components[ref].facts  # type: ignore[return-value]


_MISSING = object()


def lint(bp: Blueprint, target: str, strict: bool = False) -> list[Finding]:
    """Every finding of every rule, sorted by position; warnings become errors when `strict`."""
    raw = None
    if os.path.isfile(bp.file):
        raw = load_file(bp.file).data
    context = LintContext(bp, target, raw if isinstance(raw, dict) else {})
    source: SourceMap = bp.source or SourceMap(bp.file)
    silenced = _silenced_lines(bp.file)
    findings: list[Finding] = []
    for item in RULES:
        for path, message, hint in item.check(context):
            pos = _position(source, path)
            if item.id in silenced.get(pos.line, ()) or item.id in silenced.get(pos.line - 1, ()):
                continue
            severity = "error" if strict and item.severity == "warning" else item.severity
            findings.append(Finding(item.id, severity, pos.file, pos.line, pos.column, message, hint))
    unique = sorted(set(findings), key=lambda f: (f.file, f.line, f.column, f.rule, f.message))
    return unique


def _position(source: SourceMap, path: Path) -> Position:
    """The key naming the deepest written part of `path` (the user's line for that setting)."""
    # Exact look-ups, not `source.keys`/`.values`: those copy the whole table, once per finding (quadratic).
    for cut in range(len(path), 0, -1):
        pos = source.written_key(path[:cut])
        if pos is not None:
            return pos
        if isinstance(path[cut - 1], int):
            pos = source.written_value(path[:cut])
            if pos is not None:
                return pos  # a list item has no key: its value
    return source.value(())


_IGNORE_RE = re.compile(r"#\s*topoform:\s*ignore\s*=\s*([A-Za-z0-9_,\s-]+)")


def _silenced_lines(file: str) -> dict[int, set[str]]:
    if not os.path.isfile(file):
        return {}
    silenced: dict[int, set[str]] = {}
    with open(file, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            match = _IGNORE_RE.search(line)
            if match:
                silenced[number] = {r.strip() for r in match.group(1).split(",") if r.strip()}
    return silenced


# ------------------------------------------------------------------ the rules


@rule("single-point-of-failure", "warning", "a single point of failure",
      "One copy of a component on a request path takes the whole path down when it fails, during a deploy "
      "or a host reboot. Redundancy (replicas, a standby, a second balancer) removes the single point of "
      "failure at the cost of more instances; on aws, ALB/NLB and managed services are redundant across "
      "availability zones already, so only what you size yourself is flagged.")
def single_points(ctx: LintContext) -> Iterator[Problem]:
    bp = ctx.bp
    for name, lb in bp.load_balancers.items():
        facts = ctx.facts(lb.ref)
        if facts.copies["primary"] == 1 and not facts.managed:
            yield ("load_balancers", name, "redundancy"), \
                f"load_balancers.{name} is a single point of failure: one haproxy instance (redundancy: none)", \
                "set `redundancy: active-active` (two instances sharing the traffic)"
    for name, proxy in bp.reverse_proxies.items():
        facts = ctx.facts(proxy.ref)
        if facts.copies["primary"] == 1 and not facts.managed:
            yield ("reverse_proxies", name, "replicas"), \
                f"reverse_proxies.{name} is a single point of failure: one nginx instance", "set `replicas: 2`"
    for name, db in bp.databases.items():
        facts = ctx.facts(db.ref)
        if facts.copies["primary"] == 1 and not facts.standby:
            note = " (multi_az applies to the aws target only)" if db.multi_az else ""
            shards = f" each of its {db.shard_count} shards is one instance" if db.shard_count > 1 else \
                " one instance, no replica"
            yield ("databases", name, "replication"), \
                f"databases.{name} is a single point of failure:{shards}{note}", \
                ("set `multi_az: true` (a synchronous standby) or `replication: {mode: primary-replica, replicas: 1}`"
                 if facts.standby_possible else "set `replication: {mode: primary-replica, replicas: 1}`")
    for name, service in bp.services.items():
        if service.replicas == 1:
            if service.port is None and service.consumes:
                message = (f"services.{name} is a single point of failure: one consumer; while it is down "
                           "nothing is processed (the queue only buffers)")
            else:
                message = f"services.{name} is a single point of failure: one replica"
            yield ("services", name, "replicas"), message, "set `replicas: 2` or more"
    if ctx.facts("platform").zones == 1:
        yield ("aws", "availability_zones"), \
            "every component runs in one availability zone: the zone is a single point of failure", \
            "set `availability_zones: 2` or more"


@rule("public-store", "warning", "a data store reachable from the internet",
      "A database, cache or queue with a public address is one leaked or guessed credential away from a "
      "breach, and open to brute force and denial of service. Stores belong in private subnets/networks, "
      "reached only by the services that need them.")
def public_stores(ctx: LintContext) -> Iterator[Problem]:
    for section in STORE_SECTIONS:
        for name, store in getattr(ctx.bp, section).items():
            if store.public:
                yield (section, name, "public"), f"{section}.{name} is reachable from the internet (public: true)", \
                    "remove `public: true`; services reach it on the private network"


@rule("unencrypted-storage", "warning", "storage without encryption at rest",
      "Without encryption at rest, anyone who obtains a disk, snapshot or backup reads the data; compliance "
      "regimes (PCI DSS, HIPAA, GDPR guidance) expect it, and on AWS it costs nothing measurable.")
def unencrypted(ctx: LintContext) -> Iterator[Problem]:
    for section in STORE_SECTIONS:
        for name, store in getattr(ctx.bp, section).items():
            if not store.encrypted:
                yield (section, name, "encrypted"), f"{section}.{name} is not encrypted at rest (encrypted: false)", \
                    "remove `encrypted: false` (encryption is the default)"


def _nosql_check(field: str, flagged: Callable[[Any], bool], message: str, hint: str) -> Check:
    """A rule over every NoSQL store: `message` ("{ref} …") at `field` of each store `flagged`."""
    def check(ctx: LintContext) -> Iterator[Problem]:
        for name, store in ctx.bp.nosql.items():
            if flagged(store):
                yield ("nosql", name, field), message.format(ref=store.ref), hint
    return check


_NOSQL_RULES = (
    ("nosql-without-pitr", "warning", "a NoSQL store without point-in-time recovery",
     "Daily backups lose up to a day of writes; a bad deploy or a deleted item is only undone to the "
     "second with point-in-time recovery (DynamoDB, Keyspaces: 35 days of continuous backups; DocumentDB "
     "and Neptune restore to any time within the backup retention).",
     "backup", lambda store: not store.backup.point_in_time and not store.redis, "{ref} has no point-in-time recovery",
     "set `backup: {point_in_time: true}` (the default)"),
    ("nosql-without-key", "info", "a NoSQL store encrypted with the provider's key, not its own",
     "With a customer-managed KMS key the store's data can be made unreadable by disabling one key, key "
     "use is logged in CloudTrail, and access to the key is a second gate beside IAM on the table.",
     "kms_key", lambda store: not store.kms_key, "{ref} is encrypted with an AWS-owned key (kms_key: false)",
     "remove `kms_key: false` (a customer-managed key, rotated yearly, is the default)"),
    ("nosql-single-az", "warning", "a NoSQL cluster in one availability zone",
     "A DocumentDB or Neptune cluster with one instance fails over only by replacing that instance (about "
     "10 minutes), and the loss of its zone stops it; a replica in another zone is promoted in about 30s. "
     "A MemoryDB shard without a replica is a Single-AZ configuration (99.5% SLA, not 99.99%). "
     "DynamoDB and Keyspaces spread their copies over three zones themselves.",
     "replicas", lambda store: (store.model in ("document", "graph") or store.redis) and store.replicas == 0,
     "{ref} is one instance in one availability zone",
     "set `replicas: 1` or more (instances in other zones, promoted on failover)"),
)
for _id, _severity, _title, _why, *_check in _NOSQL_RULES:
    rule(_id, _severity, _title, _why)(_nosql_check(*_check))


@rule("plaintext-listener", "warning", "a public listener without TLS",
      "Plain HTTP on the internet exposes cookies, tokens and data to anyone on the path and lets them "
      "alter responses. Terminate TLS at the edge and redirect port 80 to https.")
def plaintext_listeners(ctx: LintContext) -> Iterator[Problem]:
    bp = ctx.bp
    for name, lb in bp.load_balancers.items():
        if lb.internal:
            continue
        for i, listener in enumerate(lb.listeners):
            secure = listener.tls or listener.redirect_to_https or listener.protocol in ("tls", "https")
            if not secure:
                yield ("load_balancers", name, "listeners", i), \
                    f"load_balancers.{name} listens on port {listener.port} in plain text, open to the internet", \
                    ("add `redirect_to_https: true` here and a `{port: 443, tls: true}` listener"
                     if lb.layer == 7 else "use `tls: true` (TLS termination on the balancer) or `internal: true`")
    for name, proxy in bp.reverse_proxies.items():
        if not proxy.tls:
            yield ("reverse_proxies", name, "tls"), f"reverse_proxies.{name} serves plain HTTP", "set `tls: true`"
    for name, cdn in bp.cdns.items():
        if not cdn.https_only:
            yield ("cdns", name, "https_only"), f"cdns.{name} serves viewers over plain HTTP (https_only: false)", \
                "remove `https_only: false`"
    for name, service in bp.services.items():
        if service.public and service.port is not None:
            yield ("services", name, "public"), \
                f"services.{name} is exposed directly on port {service.port} without TLS", \
                "put a load balancer with a TLS listener in front, and remove `public: true`"


@rule("queue-without-dlq", "warning", "a queue without a dead-letter queue",
      "A message that always fails (a poison message) is redelivered forever without a dead-letter queue: "
      "it burns consumer capacity, blocks FIFO groups and hides the bug. `max_receives` moves it aside "
      "after N attempts, where it can be inspected and replayed.")
def dead_letters(ctx: LintContext) -> Iterator[Problem]:
    for name, queue in ctx.bp.queues.items():
        if queue.max_receives is None:
            yield ("queues", name), f"queues.{name} has no dead-letter queue: a poison message is retried forever", \
                "set `max_receives: 5` (then the message moves to a dead-letter queue)"


@rule("cache-without-eviction", "warning", "a cache without an eviction policy",
      "A cache without an eviction policy (redis' default is noeviction) refuses writes once memory is full, "
      "so the application errors instead of missing the cache. An LRU/LFU policy keeps the hot set and "
      "drops the cold keys.")
def eviction(ctx: LintContext) -> Iterator[Problem]:
    for name, cache in ctx.bp.caches.items():
        if cache.engine == "memcached":
            continue  # memcached always evicts least-recently-used items
        if cache.eviction is None:
            yield ("caches", name), f"caches.{name} has no eviction policy: writes fail once it is full", \
                "set `eviction: allkeys-lru` (or allkeys-lfu)"
        elif cache.eviction == "noeviction":
            yield ("caches", name, "eviction"), \
                f"caches.{name} uses noeviction: writes fail with OOM errors once it is full", \
                "use allkeys-lru for a cache; keep noeviction only for data that must not be dropped"


_SECRET_WORDS = {"PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "SECRETS", "TOKEN", "KEY", "APIKEY",
                 "CREDENTIAL", "CREDENTIALS", "PRIVATE"}
_NOT_SECRET_WORDS = {"FILE", "PATH", "ID", "NAME", "USER", "USERNAME", "URL"}
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:([^@\s/]+)@")


def secret_name(name: str) -> bool:
    """PASSWORD, DB_PASSWORD, apiKey, STRIPE_SECRET_KEY — but not PASSWORD_FILE or KEY_ID."""
    words = set(re.sub(r"([a-z])([A-Z])", r"\1_\2", name).upper().replace("-", "_").split("_"))
    return bool(words & _SECRET_WORDS) and not words & _NOT_SECRET_WORDS


def url_password(text: str) -> bool:
    return any("${" not in match.group(1) for match in _URL_PASSWORD.finditer(text))


@rule("plaintext-secret", "warning", "a secret written in plain text in the blueprint",
      "A blueprint lives in version control: a password in it is readable by everyone with the repository, "
      "forever (history keeps it), and ends up in plans and logs. Pass secrets as variables "
      "(`${var.name}` with `sensitive: true` and no default, set with --var or stack config) or let "
      "Topoform generate them (database URLs carry a generated password).")
def plaintext_secrets(ctx: LintContext) -> Iterator[Problem]:
    bp = ctx.bp
    for name, service in bp.services.items():
        for key, value in service.env.items():
            written = ctx.raw_at(("services", name, "env", key), value)
            text = str(written)
            if url_password(text):
                yield ("services", name, "env", key), \
                    f"services.{name}.env.{key} holds a URL with a password in plain text", \
                    "read the URL from a component (${databases.NAME.url}) or a sensitive variable"
            elif secret_name(key) and text.strip() and "${" not in text:
                yield ("services", name, "env", key), f"services.{name}.env.{key} is a secret written in plain text", \
                    f"use `{key}: ${{var.{key.lower()}}}` with a `sensitive: true` variable set at deploy time"
        for i, part in enumerate(service.command or ()):
            if url_password(str(ctx.raw_at(("services", name, "command", i), part))):
                yield ("services", name, "command", i), \
                    f"services.{name}.command holds a URL with a password in plain text", \
                    "pass it through an environment variable fed by a sensitive variable"
    for name, variable in bp.variables.items():
        if variable.default is not None and (variable.sensitive or secret_name(name)) \
                and isinstance(variable.default, str) and variable.default.strip():
            yield ("variables", name, "default"), f"variable '{name}' has a secret default written in the blueprint", \
                "remove the default and pass the value with --var or stack config"


@rule("write-behind-loss", "warning", "write-behind caching can lose acknowledged writes",
      "A write-behind (write-back) cache acknowledges a write before it reaches the database and flushes "
      "later; if the cache node fails first, those writes are gone. It buys write latency with durability: "
      "keep it to data you can lose, or give the cache replicas and persistence.")
def write_behind(ctx: LintContext) -> Iterator[Problem]:
    for name, cache in ctx.bp.caches.items():
        if cache.strategy == "write-behind":
            guard = [] if cache.replicas else ["no replica"]
            if not cache.persistence:
                guard.append("no persistence")
            detail = f" ({' and '.join(guard)})" if guard else ""
            yield ("caches", name, "strategy"), \
                f"caches.{name} is write-behind: writes not yet flushed to the database are lost if it fails{detail}", \
                "use write-through for data that must survive, or add `replicas:` and `persistence: true`"


@rule("at-least-once-delivery", "info", "queues deliver at least once",
      "SQS standard queues and RabbitMQ with acknowledgements deliver every message at least once: a "
      "consumer that crashes or exceeds the visibility timeout sees the message again, and SQS standard "
      "queues may also duplicate and reorder. Consumers must be idempotent (a dedupe key, an upsert); "
      "FIFO queues deduplicate within 5 minutes and keep order per group, at lower throughput.")
def at_least_once(ctx: LintContext) -> Iterator[Problem]:
    for name, queue in ctx.bp.queues.items():
        if not queue.fifo:
            yield ("queues", name), \
                f"queues.{name} delivers at least once: a message can arrive twice or out of order", \
                "make its consumers idempotent, or set `fifo: true`"


@rule("replica-lag-reads", "info", "reads from asynchronous replicas can be stale",
      "Read replicas apply the primary's changes asynchronously (replication lag, usually under a second, "
      "unbounded under load): a read right after a write can miss it (no read-your-writes). Read from "
      "`url` (the primary) where a stale answer is wrong.")
def replica_reads(ctx: LintContext) -> Iterator[Problem]:
    for name, service in ctx.bp.services.items():
        for ref, attr, key in interpolated(ctx.bp, service):
            if attr == "reader_url" and ref.startswith("databases."):
                path = ("services", name, "env", key) if key != "command" else ("services", name, "command")
                yield path, f"services.{name} reads {ref} through its replicas ({key}): reads can lag writes", \
                    "send reads that must see the latest write to the primary `url`"


@rule("dr-not-routed", "warning", "a hot DR site no DNS record fails over to",
      "A hot standby only shortens recovery if traffic reaches it by itself: without a health-checked "
      "DNS failover record pointing at the DR site, someone must change DNS by hand during the outage, "
      "and the achievable RTO is the time it takes them.")
def dr_routed(ctx: LintContext) -> Iterator[Problem]:
    dr = ctx.bp.disaster_recovery
    if dr is None or dr.strategy != "hot":
        return
    records = ctx.bp.dns.records if ctx.bp.dns else []
    if not any(r.routing == "failover" and any(ep.site == "dr" for ep in r.endpoints) for r in records):
        yield ("disaster_recovery", "strategy"), "the hot DR site receives no traffic: no DNS failover record " \
            "has a `site: dr` endpoint", "add a dns record with `routing: failover` and a secondary `site: dr`"


@rule("queue-without-consumer", "warning", "a queue nobody consumes",
      "Messages sent to a queue with no consumer pile up until retention deletes them: work is silently "
      "lost.")
def orphan_queues(ctx: LintContext) -> Iterator[Problem]:
    for name, queue in ctx.bp.queues.items():
        if not consumers(ctx.bp, f"queues.{name}"):
            yield ("queues", name), f"queues.{name} has no consumer: its messages expire unread", \
                f"add `consumers: [services.NAME]`, or `consumes: [queues.{name}]` on a service"


@rule("unbounded-queue", "info", "a queue without back pressure",
      "A queue without a depth limit absorbs any backlog, so a slow consumer shows up as hours of latency "
      "instead of an error producers can act on. `max_depth` refuses producers beyond a bound (RabbitMQ "
      "reject-publish; a CloudWatch alarm on SQS, which has no hard limit).")
def unbounded(ctx: LintContext) -> Iterator[Problem]:
    for name, queue in ctx.bp.queues.items():
        if queue.max_depth is None:
            yield ("queues", name), f"queues.{name} has no back pressure: its backlog can grow without bound", \
                "set `max_depth:` to the backlog consumers can clear within your latency objective"


@rule("slo-not-met", "warning", "the availability objective is above what the design can deliver",
      "The composite availability of the weakest request path is below `slos.availability`: the error "
      "budget will be spent by the infrastructure alone, before any bug or deploy. Add redundancy where "
      "the report says it costs the most nines, or relax the objective.")
def slo_met(ctx: LintContext) -> Iterator[Problem]:
    from .availability import format_percent, request_paths

    slos = ctx.bp.slos
    if slos is None or slos.availability is None:
        return
    paths = [p for p in request_paths(ctx.bp, ctx.target) if p.kind == "request"]
    if not paths:
        return
    weakest = min(paths, key=lambda p: p.availability)
    if weakest.availability * 100.0 < slos.availability - 1e-9:
        yield ("slos", "availability"), (
            f"slos.availability {slos.availability:g}% is above the {format_percent(weakest.availability)} "
            f"the design delivers on {ctx.target} (weakest path: {weakest.name})"), \
            "see `topoform report` for the component that costs the most nines and its fix"


def rules_table() -> list[dict[str, str]]:
    """The documented rules: id, severity, title and why (for the README and `report --json`)."""
    return [{"id": r.id, "severity": r.severity, "title": r.title, "why": r.why} for r in RULES]
