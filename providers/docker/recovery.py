"""Docker disaster recovery: what each strategy means on one engine (see compiler.py).

- backup: every database primary has a dump sidecar writing to a backup
  volume every `backup.interval` (built with the database, data.py).
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


class RecoveryMixin:
    """compile_disaster_recovery for DockerCompiler."""

    def compile_disaster_recovery(self, dr: DisasterRecovery) -> None:
        objectives = achievable(self.bp, dr.strategy)
        self.export("strategy", dr.strategy)
        self.export("site_network", ref(self.sites["dr"].network, "name"))
        self.export("achievable_rto", format_span(objectives.rto))
        self.export("achievable_rpo", format_span(objectives.rpo))
        if dr.strategy == "hot":
            failover = [record.name for record in (self.bp.dns.records if self.bp.dns else ())
                        if record.routing == "failover"]
            self.export("failover_records", failover)
            if not failover:
                self.warn("a hot DR site without a DNS failover record is never switched to",
                          "add a `dns` record with `routing: failover` and a `site: dr` secondary",
                          "disaster_recovery", "strategy")
        self.export("note", "both sites run on one Docker engine: a rehearsal of failover, "
                            "not protection against losing the machine")
