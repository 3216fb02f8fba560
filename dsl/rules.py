"""Semantic rules of a blueprint: what the models' shapes cannot say alone.

Each rule is a small function that yields `(path, message, hint)` for each
problem it finds; `check` turns the paths into positions. Adding a rule is
adding one decorated function here.

Rules also run on a blueprint some parts of which failed type validation
(those parts were left out or reset to defaults, see `validate.py`), so that
a user sees rule errors together with type errors. `Context.intact` tells a
rule whether a part it reads is as written; problems inside a degraded part
are dropped, since they could stem from a default standing in for a typo.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Callable, Iterator

from .diagnostics import Diagnostic
from .loader import Path, SourceMap
from .models import Blueprint
from .recovery import achievable, meeting
from .units import format_span

Problem = tuple[Path, str, str | None]


@dataclass(frozen=True)
class Context:
    """What a rule knows besides the blueprint: the target, and which parts are degraded."""

    target: str
    degraded: frozenset[Path] = frozenset()
    removed: frozenset[Path] = frozenset()  # the exact keys (or parts) pruned, inside the degraded units

    def intact(self, *path: str | int) -> bool:
        """True if nothing at or above `path` (nor below it) was reset by partial validation."""
        return not any(path[:len(unit)] == unit or unit[:len(path)] == path for unit in self.degraded)

    def as_written(self, *path: str | int) -> bool:
        """True if the value at `path` is as written: nothing at, above or below it was pruned,
        though a sibling key of the same component may have been (finer than `intact`)."""
        return not any(path[:len(cut)] == cut or cut[:len(path)] == path for cut in self.removed)


Rule = Callable[[Blueprint, Context], Iterator[Problem]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def check(bp: Blueprint, source: SourceMap, target: str,
          degraded: frozenset[Path] | set[Path] = frozenset(),
          removed: frozenset[Path] | set[Path] = frozenset()) -> list[Diagnostic]:
    ctx = Context(target, frozenset(degraded), frozenset(removed))
    diags = []
    for fn in RULES:
        for path, message, hint in fn(bp, ctx):
            if any(path[:len(unit)] == unit for unit in ctx.degraded):
                continue
            diags.append(Diagnostic.at(source.at(path), message, hint))
    return diags


def _cidr_problems(values: list[str], base: Path) -> Iterator[Problem]:
    for i, value in enumerate(values):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            yield base + (i,), f"'{value}' is not an IP address or CIDR block", "e.g. 203.0.113.0/24 or 198.51.100.7"


def _weights(items, base: Path, what: str, required: bool, most: int) -> Iterator[Problem]:
    weights = []
    for i, item in enumerate(items):
        if item.weight is None:
            if required:
                yield base + (i,), f"{what} {i + 1} has no weight", "give every endpoint of a weighted record a weight"
            continue
        if item.weight < 0:
            yield base + (i, "weight"), f"weight must not be negative, but {item.weight} was given", None
        elif item.weight > most:
            yield base + (i, "weight"), f"weight must be at most {most}, but {item.weight} was given", \
                "weights are relative: scale them down"
        weights.append(item.weight)
    if weights and all(w == 0 for w in weights) and len(weights) == len(items):
        yield base, "all weights are zero: nothing would receive traffic", "give at least one a positive weight"


@rule
def balancer_shape(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    for name, lb in bp.load_balancers.items():
        path = ("load_balancers", name)
        if lb.layer == 4 and lb.routes is not None:
            yield path + ("routes",), "`routes` is for layer 7 balancers; a layer 4 balancer takes `targets`", \
                "use `targets: [{target: services.NAME}]`, or set `layer: 7`"
        if lb.layer == 7 and lb.targets is not None:
            yield path + ("targets",), "`targets` is for layer 4 balancers; a layer 7 balancer takes `routes`", \
                "use `routes: [{path: /*, target: services.NAME}]`, or set `layer: 4`"
        entries = lb.routes if lb.layer == 7 else lb.targets
        key = "routes" if lb.layer == 7 else "targets"
        if not entries and not (lb.layer == 4 and lb.routes) and not (lb.layer == 7 and lb.targets):
            yield path, f"load balancer '{name}' has no {key}: it would send traffic nowhere", \
                f"add `{key}:` naming the services behind it"
        if entries:
            yield from _weights(entries, path + (key,), key[:-1], required=False, most=256)  # haproxy's maximum
            for i, entry in enumerate(entries):
                service_name = entry.target.partition(".")[2]
                service = bp.services.get(service_name)
                if service is not None and service.port is None and getattr(entry, "port", None) is None \
                        and ctx.intact("services", service_name):
                    yield path + (key, i, "target"), f"{entry.target} has no port, so a balancer cannot send traffic to it", \
                        f"give {entry.target} a `port`"
        if lb.layer == 4:
            for i, listener in enumerate(lb.listeners):
                if listener.redirect_to_https:
                    yield path + ("listeners", i, "redirect_to_https"), \
                        "a layer 4 balancer cannot redirect to https (it does not speak HTTP)", "use `layer: 7`"
            if lb.sticky_sessions and lb.sticky_sessions.cookie:
                yield path + ("sticky_sessions", "cookie"), "cookie stickiness needs a layer 7 balancer", \
                    "remove `cookie` (layer 4 sticks by source address) or use `layer: 7`"
        for i, listener in enumerate(lb.listeners):
            allowed = ("tcp", "udp", "tls") if lb.layer == 4 else ("http", "https")
            if listener.protocol is not None and listener.protocol not in allowed:
                yield path + ("listeners", i, "protocol"), (
                    f"protocol {listener.protocol} does not fit a layer {lb.layer} balancer"
                ), f"use one of {', '.join(allowed)}, or leave `protocol` out"
        if lb.health_check is not None:
            yield from _health_timing(lb.health_check, path + ("health_check",))
        ports = [listener.port for listener in lb.listeners]
        for i, port in enumerate(ports):
            if port in ports[:i]:
                yield path + ("listeners", i, "port"), f"port {port} has two listeners", "keep one listener per port"
        for i, listener in enumerate(lb.listeners):
            if listener.tls and listener.redirect_to_https:
                yield path + ("listeners", i), "a listener cannot both terminate TLS and redirect to https", \
                    "redirect on the plain port (80) and terminate TLS on 443"


def _as_written(model, field: str, value: float, mark: str = "{}, the default") -> str:
    """A duration for a message, marked when the user did not write it (`10s, the default`)."""
    return format_span(value) if field in model.model_fields_set else mark.format(format_span(value))


def _health_timing(check_, path: Path) -> Iterator[Problem]:
    # An unwritten timeout is derived from the interval (models.default_timeout),
    # so a wrong pair always holds a written timeout; the interval may be a default.
    if check_.timeout >= check_.interval:
        written = "interval" in check_.model_fields_set
        yield path + ("timeout",), (
            f"the health check timeout ({_as_written(check_, 'timeout', check_.timeout)}) must be shorter than "
            f"its interval ({_as_written(check_, 'interval', check_.interval)})"), \
            "e.g. `interval: 10s, timeout: 5s`" if written else \
            "write an `interval` longer than the timeout, or a shorter `timeout` (or leave it out: half the interval)"


@rule
def service_shape(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    for name, service in bp.services.items():
        if service.health is not None:
            yield from _health_timing(service.health, ("services", name, "health"))


@rule
def dns_records(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    if bp.dns is None:
        return
    seen: dict[str, int] = {}
    for r, record in enumerate(bp.dns.records):
        path = ("dns", "records", r)
        eps = record.endpoints
        if record.routing == "simple" and record.name in seen:
            yield path + ("name",), f"record '{record.name}' is defined twice", \
                f"merge it with record {seen[record.name] + 1}, or give it a routing policy"
        seen.setdefault(record.name, r)
        for e, ep in enumerate(eps):
            epath = path + ("endpoints", e)
            if (ep.target is None) == (ep.value is None):
                yield epath, "an endpoint names exactly one of `target` (a component) or `value` (an address)", None
            if ep.site == "dr" and bp.disaster_recovery is None and ctx.intact("disaster_recovery"):
                yield epath + ("site",), "`site: dr` needs a `disaster_recovery` section", \
                    "add `disaster_recovery: {strategy: hot, region: ...}`, or remove `site: dr`"
            stray = {
                "weight": ep.weight is not None and record.routing != "weighted",
                "role": ep.role is not None and record.routing != "failover",
                "region": ep.region is not None and record.routing != "latency",
                "continent": ep.continent is not None and record.routing != "geolocation",
                "country": ep.country is not None and record.routing != "geolocation",
                "default": ep.default and record.routing != "geolocation",
            }
            for key, bad in stray.items():
                if bad:
                    yield epath + (key,), f"`{key}` does not apply to a {record.routing} record", \
                        f"remove it, or set the record's `routing`"
        if record.routing == "weighted":
            yield from _weights(eps, path + ("endpoints",), "endpoint", required=True, most=255)  # Route53
        elif record.routing == "failover":
            roles = [ep.role for ep in eps]
            if roles.count("primary") != 1 or roles.count("secondary") != 1 or len(eps) != 2:
                yield path + ("endpoints",), (
                    f"a failover record needs exactly one primary and one secondary endpoint, "
                    f"but has {roles.count('primary')} primary and {roles.count('secondary')} secondary"
                    + (f" of {len(eps)}" if len(eps) != roles.count('primary') + roles.count('secondary') else "")
                ), "give two endpoints `role: primary` and `role: secondary`"
        elif record.routing == "latency":
            for e, ep in enumerate(eps):
                if ep.region is None:
                    yield path + ("endpoints", e), "a latency record's endpoint needs `region`", \
                        "e.g. `region: us-east-1`"
        elif record.routing == "geolocation":
            defaults = 0
            for e, ep in enumerate(eps):
                defaults += ep.default
                if not (ep.continent or ep.country or ep.default):
                    yield path + ("endpoints", e), \
                        "a geolocation endpoint needs `continent`, `country` or `default: true`", None
            if defaults > 1:
                yield path + ("endpoints",), "a geolocation record has at most one `default: true` endpoint", None
        if record.health_check and record.routing not in ("failover", "weighted", "latency", "geolocation"):
            yield path + ("health_check",), "a simple record does not use a health check", \
                "remove it, or use `routing: failover`"
        if record.health_check and ctx.target == "aws" and record.health_check.interval not in (10.0, 30.0):
            yield path + ("health_check", "interval"), (
                f"Route53 checks health every 10s or 30s, but {format_span(record.health_check.interval)} was given"
            ), "use `interval: 10s` or `interval: 30s`"


@rule
def cdn_shape(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    for name, cdn in bp.cdns.items():
        path = ("cdns", name)
        if cdn.mode == "pull":
            if cdn.origin is None:
                yield path, "a pull CDN needs an `origin`", "e.g. `origin: load_balancers.edge`"
            if cdn.content is not None:
                yield path + ("content",), "`content` is for push CDNs; a pull CDN fetches from its origin", None
        else:
            if cdn.origin is not None:
                yield path + ("origin",), "`origin` is for pull CDNs; a push CDN serves uploaded `content`", None
            if cdn.content is None:
                yield path, "a push CDN needs `content`: the directory to upload", "e.g. `content: ./static`"
            else:
                yield from _directory(bp, cdn.content, path + ("content",), "content")
        ttl = cdn.ttl
        if ttl.min > ttl.default or ttl.default > ttl.max:
            if {"min", "default", "max"} <= ttl.model_fields_set:
                yield path + ("ttl",), (
                    f"TTLs must satisfy min ≤ default ≤ max, but min {format_span(ttl.min)}, "
                    f"default {format_span(ttl.default)}, max {format_span(ttl.max)} were given"), None
            else:
                mark = "{} (the default)"
                yield path + ("ttl",), (
                    f"TTLs must satisfy min ≤ default ≤ max, but min {_as_written(ttl, 'min', ttl.min, mark)}, "
                    f"default {_as_written(ttl, 'default', ttl.default, mark)}, "
                    f"max {_as_written(ttl, 'max', ttl.max, mark)} are in force"), \
                    "write the TTLs in order; the ones left out take their defaults"


def _directory(bp: Blueprint, written: str, path: Path, what: str) -> Iterator[Problem]:
    full = os.path.normpath(os.path.join(bp.base_dir, written))
    if os.path.isdir(full):
        return
    if os.path.exists(full):
        yield path, f"{what} '{written}' is a file, not a directory", "name the directory that holds the files"
    else:
        yield path, f"{what} directory '{written}' does not exist", \
            "create it; the path is relative to the directory of the blueprint file"


@rule
def proxy_shape(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    for name, proxy in bp.reverse_proxies.items():
        path = ("reverse_proxies", name)
        if proxy.static is not None:
            yield from _directory(bp, proxy.static.directory, path + ("static", "directory"), "static")
        yield from _cidr_problems(proxy.deny, path + ("deny",))
        yield from _cidr_problems(proxy.allow, path + ("allow",))


@rule
def database_shape(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    for name, db in bp.databases.items():
        path = ("databases", name)
        sharding = db.sharding
        if sharding is not None:
            if sharding.shards is None or sharding.shards < 2:
                yield path + ("sharding",), (
                    f"sharding key '{sharding.key}' is set, but the database is not sharded"
                    if sharding.key else "a sharded database needs `shards` of 2 or more"
                ), "set `sharding.shards` to 2 or more, or remove `sharding`"
            elif sharding.key is None:
                yield path + ("sharding",), "a sharded database needs `key`: the field that picks the shard", \
                    "e.g. `key: user_id`"
            if sharding.boundaries is None and sharding.strategy == "range" and sharding.shards \
                    and sharding.shards >= 2:
                # Without them the shard map would say "range" while keys went by a hash.
                splits = sharding.shards - 1
                example = "[" + ", ".join(str(1_000_000 * (i + 1)) for i in range(min(splits, 3))) + \
                    (", ..." if splits > 3 else "") + "]"
                yield path + ("sharding", "strategy"), (
                    f"range sharding needs `boundaries`: the {splits} key{'s' if splits != 1 else ''} "
                    f"where {sharding.shards} shards split"), \
                    f"e.g. `boundaries: {example}` (in increasing order), or `strategy: consistent_hash` " \
                    "to spread keys by a hash"
            if sharding.boundaries is not None:
                kinds = {type(b) for b in sharding.boundaries}
                if len(kinds) > 1:
                    yield path + ("sharding", "boundaries"), \
                        "range boundaries must be all numbers or all strings", None
                elif any(a >= b for a, b in zip(sharding.boundaries, sharding.boundaries[1:])):
                    yield path + ("sharding", "boundaries"), (
                        f"range boundaries must increase, but {sharding.boundaries} were given"), None
                if sharding.strategy != "range":
                    yield path + ("sharding", "boundaries"), "`boundaries` apply to `strategy: range` only", None
                elif sharding.shards and len(sharding.boundaries) != sharding.shards - 1:
                    yield path + ("sharding", "boundaries"), (
                        f"{sharding.shards} range shards need {sharding.shards - 1} "
                        f"boundar{'y' if sharding.shards == 2 else 'ies'}, but {len(sharding.boundaries)} "
                        f"{'was' if len(sharding.boundaries) == 1 else 'were'} given"), None
        if db.replication.mode == "primary-replica" and db.replication.replicas < 1:
            yield path + ("replication", "replicas"), "primary-replica replication needs at least 1 replica", \
                "set `replicas: 1` or more, or `mode: none`"
        if db.replication.mode == "multi-primary":
            if db.replication.replicas < 1:
                yield path + ("replication", "replicas"), "multi-primary needs at least 1 extra primary", None
            if ctx.target == "docker" and db.engine != "mariadb":
                yield path + ("replication", "mode"), (
                    f"multi-primary {db.engine} is not supported on the docker target"
                ), "use `engine: mariadb` (Galera cluster) on docker, or deploy postgres multi-primary with --target aws (Aurora DSQL)"
            if ctx.target == "aws" and db.engine != "postgres":
                yield path + ("replication", "mode"), (
                    f"AWS has no managed multi-primary {db.engine} (Aurora multi-master is retired)"
                ), "use `engine: postgres` (Aurora DSQL peered clusters) or `mode: primary-replica`"
            if db.sharding is not None and db.sharding.shards:
                yield path + ("replication", "mode"), "a sharded database cannot also be multi-primary", \
                    "use primary-replica replication per shard"
        if ctx.target == "aws" and db.storage < 20 * 1024**3:
            yield path + ("storage",), "RDS needs at least 20GiB of storage", "set `storage: 20GiB` or more"
        if db.backup.retention < db.backup.interval:
            yield path + ("backup", "retention"), (
                f"retention {format_span(db.backup.retention)} is shorter than the backup interval "
                f"{format_span(db.backup.interval)}: no backup would be kept"), None


@rule
def cache_shape(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    for name, cache in bp.caches.items():
        path = ("caches", name)
        if cache.engine == "memcached":
            if cache.eviction not in (None, "allkeys-lru"):
                yield path + ("eviction",), f"memcached always evicts least-recently-used keys; '{cache.eviction}' is a redis policy", \
                    "use `eviction: allkeys-lru`, or `engine: redis`"
            if cache.persistence:
                yield path + ("persistence",), "memcached keeps nothing on disk", "use `engine: redis` for persistence"


@rule
def queue_shape(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    for name, queue in bp.queues.items():
        path = ("queues", name)
        if not 0 <= queue.visibility_timeout <= 12 * 3600:
            yield path + ("visibility_timeout",), (
                f"visibility_timeout must be between 0s and 12h, but {format_span(queue.visibility_timeout)} was given"), None
        if not 60 <= queue.retention <= 14 * 86400:
            yield path + ("retention",), (
                f"retention must be between 1m and 14d, but {format_span(queue.retention)} was given"), None
    for name, service in bp.services.items():
        for i, ref in enumerate(service.consumes):
            queue = bp.queues.get(ref.partition(".")[2])
            if queue is not None and f"services.{name}" not in queue.consumers and queue.consumers \
                    and ctx.intact("queues", queue.name):
                yield ("services", name, "consumes", i), (
                    f"services.{name} consumes {ref}, but {ref} lists other consumers"
                ), f"add services.{name} to {ref}.consumers, or list none there"


@rule
def tls_certificates(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    if ctx.target != "aws" or bp.aws.certificate_arn or bp.dns is not None:
        return
    if not (ctx.intact("aws") and ctx.intact("dns")):
        return
    for name, lb in bp.load_balancers.items():
        for i, listener in enumerate(lb.listeners):
            if listener.tls:
                yield ("load_balancers", name, "listeners", i, "tls"), \
                    "a TLS listener on aws needs a certificate", \
                    "set `aws.certificate_arn`, or a `dns.zone` so Topoform can issue one through ACM"
    for name, proxy in bp.reverse_proxies.items():
        if proxy.tls:
            yield ("reverse_proxies", name, "tls"), "TLS on aws needs a certificate", \
                "set `aws.certificate_arn`, or a `dns.zone` so Topoform can issue one through ACM"


@rule
def recovery_site(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    dr = bp.disaster_recovery
    if dr is None:
        return
    path = ("disaster_recovery",)
    if ctx.target == "aws" and ctx.intact("aws"):
        if dr.region is None and dr.strategy != "backup":
            yield path, f"a {dr.strategy} DR site on aws needs `region`", "e.g. `region: us-west-2`"
        if dr.region == bp.aws.region:
            yield path + ("region",), f"the DR region must differ from the primary region {bp.aws.region}", None
    if dr.rto is None and dr.rpo is None:
        return
    if not _recovery_inputs_as_written(bp, ctx):
        return  # the objectives follow from backups and health checks; some are not as written
    got = achievable(bp, dr.strategy)
    short = []
    if dr.rto is not None and dr.rto < got.rto:
        short.append(("rto", f"RTO {format_span(dr.rto)}", f"{format_span(got.rto)} ({got.rto_basis})"))
    if dr.rpo is not None and dr.rpo < got.rpo:
        short.append(("rpo", f"RPO {format_span(dr.rpo)}", f"{format_span(got.rpo)} ({got.rpo_basis})"))
    if not short:
        return
    better = meeting(bp, dr.rto, dr.rpo)
    if better is not None:
        hint = f"the {better.strategy} strategy achieves RTO {format_span(better.rto)} and RPO {format_span(better.rpo)}"
    else:
        hot = achievable(bp, "hot")
        hint = (f"no strategy meets it: hot achieves RTO {format_span(hot.rto)} and RPO {format_span(hot.rpo)}; "
                "shorten the failover health check, the DNS TTL or the backup interval, or relax the objective")
    for key, declared, achievable_text in short:
        yield path + (key,), (
            f"declared {declared} cannot be met by the {dr.strategy} strategy, which achieves {achievable_text}"
        ), hint


def _recovery_inputs_as_written(bp: Blueprint, ctx: Context) -> bool:
    """Whether every value the DR estimates read (recovery.py) is as written. A type
    error elsewhere in a database (`version: 8.0`) leaves its backups and storage
    as written, so the objectives are still checked and reported with it."""
    for cut in ctx.removed:
        if cut[:1] == ("databases",) and len(cut) <= 2:
            return False  # a database left out: the worst restore or backup may be missing
        if cut[:1] == ("dns",) and (len(cut) == 1 or cut[1] == "records" and len(cut) <= 3):
            return False  # a DNS record left out: it may be the failover one
    paths: list[tuple] = [("databases", name, key) for name in bp.databases for key in ("backup", "storage")]
    if bp.dns is not None:
        paths.append(("dns", "ttl"))
        paths += [("dns", "records", r, key) for r in range(len(bp.dns.records))
                  for key in ("routing", "health_check", "ttl")]
    return all(ctx.as_written(*path) for path in paths)


@rule
def aws_network(bp: Blueprint, ctx: Context) -> Iterator[Problem]:
    try:
        network = ipaddress.ip_network(bp.aws.vpc_cidr, strict=True)
    except ValueError as exc:
        yield ("aws", "vpc_cidr"), f"'{bp.aws.vpc_cidr}' is not a network: {exc}", "e.g. 10.0.0.0/16"
        return
    if not 16 <= network.prefixlen <= 28:
        yield ("aws", "vpc_cidr"), (
            f"a VPC block must be between /16 and /28, but /{network.prefixlen} was given"), "e.g. 10.0.0.0/16"
