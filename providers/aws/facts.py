"""What the aws target builds for each component, for `report`, `lint` and `graph`.

The per-copy figures are AWS's published monthly-uptime SLAs for the
single-instance form of each service (multi-copy forms are computed by the
parallel formula); each kind module (kinds/<section>.py) carries its own
(`AVAILABILITY`, `AVAILABILITY_VARIANTS` where the product differs) and its
`facts`. Balancers (ALB/NLB) and CloudFront (CDNs, and reverse proxies,
which are CloudFront with WAF rules) are managed: AWS keeps them redundant
across zones, so there is nothing to size. A database is an RDS instance
(Multi-AZ adds a synchronous standby) or, for multi-primary, an Aurora DSQL
cluster; a hot DR region runs the stateless tier, caches, queues and a
cross-region read replica of every database. This module holds what is not
a kind: DNS, and the zones and region of the platform.
"""

from __future__ import annotations

from typing import Any

from topoform.providers import facts as common
from topoform.providers.plan import Availability

# Figures for ONE copy of what is not a kind (the kinds' are their modules' `AVAILABILITY`).
OTHERS: dict[str, Availability] = {
    "dns": Availability(100.0, "Amazon Route 53 SLA (100% of DNS queries answered)", "Route 53 SLA"),
}


def record(ctx: Any) -> None:
    """The `Target.facts` hook: every component's facts on `ctx.plan`."""
    common.record(ctx, OTHERS, zones=ctx.bp.aws.availability_zones, region=ctx.bp.aws.region)
