"""The SLO pass: nothing to build on a laptop (there is no metrics stack), so a warning says so.

The objectives are still outputs, and `topoform report` checks the design
against them.
"""

from __future__ import annotations

from topoform.dsl.models import Slos

from .context import DockerContext


def slos(ctx: DockerContext, slos: Slos) -> None:
    ctx.warn("slos create no alarms on the docker target (there is no metrics service); "
             "`topoform report` still checks the design against them",
             "deploy with --target aws for CloudWatch alarms", "slos")
    for key in ("availability", "latency_p99", "error_rate"):
        value = getattr(slos, key)
        if value is not None:
            ctx.export(key, value)
