"""The disaster recovery pass: what each strategy means on one engine, as outputs.

- backup: every database primary has a dump sidecar writing to a backup
  volume every `backup.interval` (built with the database, `kinds/databases.py`).
- cold: a second site network with empty data volumes, and the dumps go to
  the DR site's backup volume; nothing runs there until a restore.
- hot: the DR site runs the stateless tier, caches and queues, and a
  streaming replica of every database (shard) fed from the primary site;
  DNS fails over between the sites' edge addresses.

The two "sites" share one Docker engine, so this rehearses a failover (stop
the primary site's containers, watch DNS answer the DR site) rather than
surviving the loss of the machine; the outputs say so.
"""

from __future__ import annotations

from topoform.dsl.models import DisasterRecovery
from topoform.dsl.recovery import achievable
from topoform.dsl.units import format_span
from topoform.providers.plan import ref

from .context import DockerContext
from .sites import DR


def disaster_recovery(ctx: DockerContext, dr: DisasterRecovery) -> None:
    objectives = achievable(ctx.bp, dr.strategy)
    ctx.export("strategy", dr.strategy)
    ctx.export("site_network", ref(ctx.sites[DR].network, "name"))
    ctx.export("achievable_rto", format_span(objectives.rto))
    ctx.export("achievable_rpo", format_span(objectives.rpo))
    if dr.strategy == "hot":
        failover = [record.name for record in (ctx.bp.dns.records if ctx.bp.dns else ())
                    if record.routing == "failover"]
        ctx.export("failover_records", failover)
        if not failover:
            ctx.warn("a hot DR site without a DNS failover record is never switched to",
                     "add a `dns` record with `routing: failover` and a `site: dr` secondary",
                     "disaster_recovery", "strategy")
    ctx.export("note", "both sites run on one Docker engine: a rehearsal of failover, "
                       "not protection against losing the machine")
