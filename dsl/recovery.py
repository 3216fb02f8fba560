"""Disaster-recovery objectives each strategy (backup, cold, hot) can achieve.

The estimates come from the blueprint's own numbers: backup intervals,
point-in-time recovery, storage size, the failover health check and the DNS
TTL. Validation refuses a declared RTO/RPO tighter than the chosen strategy
achieves; `report` prints the same figures, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Blueprint, DnsHealthCheck
from .units import format_span

STRATEGIES = ("backup", "cold", "hot")  # cheapest first
PITR_RPO = 300.0  # point-in-time recovery replays logs to within 5 minutes
RESTORE_BASE = 3600.0  # 1h to provision a restore, plus
RESTORE_PER_GIB = 60.0  # 1m per GiB of storage
COLD_PROVISION = 1800.0  # 30m to build the DR site from nothing
ASYNC_REPLICATION_LAG = 1.0


@dataclass(frozen=True)
class Objectives:
    strategy: str
    rto: float  # seconds
    rpo: float  # seconds
    rto_basis: str
    rpo_basis: str


def _backup_rpo(bp: Blueprint) -> tuple[float, str]:
    worst, basis = 0.0, "no database holds data"
    for db in bp.databases.values():
        rpo = PITR_RPO if db.backup.point_in_time else db.backup.interval
        if rpo >= worst:
            why = "point-in-time recovery" if db.backup.point_in_time else f"backup every {format_span(rpo)}"
            worst, basis = rpo, f"{db.ref}: {why}"
    return worst, basis


def _restore_time(bp: Blueprint) -> tuple[float, str]:
    """Restores run in parallel, so the largest database sets the time."""
    largest = max((db.storage for db in bp.databases.values()), default=0)
    gib = largest / 1024**3
    return RESTORE_BASE + RESTORE_PER_GIB * gib, f"1h + 1m per GiB × {gib:g} GiB"


def failover_check(bp: Blueprint) -> tuple[DnsHealthCheck, float]:
    """The health check and TTL that drive DNS failover to the DR site."""
    ttl = bp.dns.ttl if bp.dns else 60.0
    if bp.dns:
        for record in bp.dns.records:
            if record.routing == "failover":
                return record.health_check or DnsHealthCheck(), record.ttl if record.ttl is not None else ttl
    return DnsHealthCheck(), ttl


def achievable(bp: Blueprint, strategy: str) -> Objectives:
    rpo, rpo_basis = _backup_rpo(bp)
    restore, restore_basis = _restore_time(bp)
    if strategy == "backup":
        return Objectives(strategy, restore, rpo, f"restore: {restore_basis}", rpo_basis)
    if strategy == "cold":
        return Objectives(strategy, COLD_PROVISION + restore, rpo,
                          f"30m provisioning + restore: {restore_basis}", rpo_basis)
    check, ttl = failover_check(bp)
    detect = check.interval * check.failure_threshold
    return Objectives(
        strategy, detect + ttl, ASYNC_REPLICATION_LAG if bp.databases else 0.0,
        f"health check {format_span(check.interval)} × {check.failure_threshold} + DNS TTL {format_span(ttl)}",
        "asynchronous replication lag (1s)" if bp.databases else "no database holds data",
    )


def all_strategies(bp: Blueprint) -> dict[str, Objectives]:
    return {s: achievable(bp, s) for s in STRATEGIES}


def meeting(bp: Blueprint, rto: float | None, rpo: float | None) -> Objectives | None:
    """The cheapest strategy that meets both declared objectives, if any."""
    for objectives in all_strategies(bp).values():
        if (rto is None or objectives.rto <= rto) and (rpo is None or objectives.rpo <= rpo):
            return objectives
    return None
