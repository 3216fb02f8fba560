"""The consistency each replicated store gives its readers, in one line (`topoform report`).

What the user gets depends on the replication the blueprint chose and the
target that builds it: strong on a single primary, eventual on asynchronous
replicas (the replication lag), and a CAP choice when the network
partitions — keep answering with possibly stale data (AP) or refuse to
keep the copies consistent (CP).
"""

from __future__ import annotations

from dataclasses import dataclass

from topoform.dsl.models import Blueprint
from topoform.providers.plan import Facts


@dataclass(frozen=True)
class Consistency:
    store: str  # "databases.users"
    model: str  # "strong" | "strong writes, eventual replica reads" | ...
    partition: str  # "CP" | "AP" | "CP writes, AP reads"
    line: str  # the one-line explanation

    def as_json(self) -> dict[str, str]:
        return {"store": self.store, "model": self.model, "partition": self.partition, "summary": self.line}


def _database(db, facts: Facts) -> Consistency | None:
    ref = db.ref
    hot = any(replica.role == "cross-region-replica" for replica in facts.replication)
    dr = "; the DR region's cross-region replica lags too (its lag is the RPO)" if hot else ""
    shards = (f"; per shard only ({db.shard_count} shards: no transaction or join spans two)"
              if db.shard_count > 1 else "")
    if db.replication.mode == "multi-primary":
        if facts.implementation == "aurora-dsql":
            return Consistency(ref, "strong", "CP", (
                f"{ref}: strong — Aurora DSQL peered clusters commit synchronously across Regions (snapshot "
                "isolation); under partition the side without a quorum refuses writes (CP)" + shards))
        return Consistency(ref, "strong writes, possibly stale reads", "CP", (
            f"{ref}: Galera multi-primary — a commit is certified by every node (no lost writes), but a read "
            "on another node can trail it unless wsrep_sync_wait is set; under partition only the quorum "
            "side keeps serving (CP)" + shards))
    replicas = db.replica_count
    standby = facts.standby
    if replicas == 0 and not standby and not hot:
        if db.shard_count > 1:
            return Consistency(ref, "strong", "CP", f"{ref}: strong on each shard's single primary{shards}")
        return None  # nothing replicated: nothing to say
    parts = [f"{ref}: strong on `url` (the primary)"]
    if standby:
        parts.append("the Multi-AZ standby is synchronous, so a failover loses no committed write")
    if replicas:
        parts.append(f"eventual on `reader_url` ({replicas} asynchronous replica{'s' if replicas != 1 else ''}, "
                     "~1s lag: no read-your-writes)")
    parts.append("under partition writes stop where the primary is unreachable (CP) while replicas keep "
                 "answering stale reads (AP)" if replicas else
                 "under partition writes stop where the primary is unreachable (CP)")
    model = "strong writes, eventual replica reads" if replicas else "strong"
    partition = "CP writes, AP reads" if replicas else "CP"
    return Consistency(ref, model, partition, "; ".join(parts) + dr + shards)


def _cache(cache) -> Consistency | None:
    ref = cache.ref
    if cache.engine == "memcached":
        return Consistency(ref, "eventual", "AP", (
            f"{ref}: memcached nodes share keys but do not replicate; a lost node is a cold miss, and the "
            f"cache trails the database by up to its TTL ({cache.strategy})"))
    if not cache.replicas:
        if cache.in_front_of is None:
            return None
        return Consistency(ref, "eventual", "AP", (
            f"{ref}: one node; reads can trail {cache.in_front_of} by up to the TTL ({cache.strategy})"))
    return Consistency(ref, "eventual", "AP", (
        f"{ref}: {cache.engine} replicates asynchronously to {cache.replicas} replica"
        f"{'s' if cache.replicas != 1 else ''} — replica reads can be stale and a failover can drop the last "
        f"acknowledged writes; under partition it keeps answering (AP)"
        + (f"; it trails {cache.in_front_of} by up to the TTL ({cache.strategy})" if cache.in_front_of else "")))


_NOSQL_LINES = {
    ("aws", "key-value"): ("eventual reads, strong on request", "AP", (
        "DynamoDB: reads are eventually consistent by default (ConsistentRead=true for strong reads of the "
        "Region's table); writes are acknowledged by two of three copies across zones")),
    ("aws", "document"): ("strong on the primary, eventual on replicas", "CP writes, AP reads", (
        "DocumentDB: the primary reads its own writes; replicas (readPreference=secondaryPreferred) "
        "trail it by tens of milliseconds")),
    ("aws", "wide-column"): ("eventual (LOCAL_ONE), strong with LOCAL_QUORUM", "AP", (
        "Keyspaces: writes are LOCAL_QUORUM over three copies; reads are LOCAL_ONE (possibly stale) unless "
        "the client asks LOCAL_QUORUM")),
    ("aws", "graph"): ("strong on the writer, eventual on readers", "CP writes, AP reads", (
        "Neptune: the writer reads its own writes; reader instances trail it (typically under 100ms)")),
}


_REDIS_LINES = {  # by what serves it (its facts' implementation): MemoryDB, or a redis/valkey server
    "memorydb": ("strong on the primary, eventual on replicas", "CP writes, AP reads", (
        "MemoryDB: a write is acknowledged once in the Multi-AZ transaction log, and each shard's primary reads "
        "its own writes; replicas (READONLY connections) trail it")),
    "server": ("strong on the primary, eventual on replicas", "CP writes, AP reads", (
        "the primary fsyncs each write to its append-only file before acknowledging it and reads its own writes; "
        "replicas trail it asynchronously")),
}


def _nosql(store, facts: Facts, target: str) -> Consistency | None:
    ref = store.ref
    if store.redis:
        managed = facts.implementation == "memorydb"
        model, partition, text = _REDIS_LINES["memorydb" if managed else "server"]
        if facts.dr_copy:
            text += ("; the Multi-Region cluster in the DR region converges asynchronously (last writer wins)"
                     if managed else "; the DR site's copy is its own (nothing replicates between sites)")
        return Consistency(ref, model, partition, f"{ref}: {text}")
    global_table = any(replica.role == "global-table-replica" for replica in facts.replication)
    line = _NOSQL_LINES.get((target, store.model))
    if line is None:  # docker: one container, nothing replicated
        return Consistency(ref, "strong", "CP", f"{ref}: strong — one {facts.implementation} container, "
                                                "nothing replicated")
    model, partition, text = line
    if global_table:
        text += "; the global table replica in the DR region converges asynchronously (last writer wins)"
    return Consistency(ref, model, partition, f"{ref}: {text}")


def consistency(bp: Blueprint, target: str) -> list[Consistency]:
    """One entry per replicated (or cached) store, in blueprint order."""
    from topoform.providers import analysed_plan

    plan = analysed_plan(bp, target)
    found = [_database(db, plan.components[db.ref].facts) for db in bp.databases.values()]
    found += [_cache(cache) for cache in bp.caches.values()]
    found += [_nosql(store, plan.components[store.ref].facts, target) for store in bp.nosql.values()]
    return [item for item in found if item is not None]
