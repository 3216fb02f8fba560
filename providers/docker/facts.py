"""What the docker target builds for each component, for `report`, `lint` and `graph`.

The per-copy figures are Topoform's estimates: no SLA exists for a container
on one Docker host. Each kind module (kinds/<section>.py) carries its own
figure (`AVAILABILITY`, built on `ESTIMATE`) and its `facts`: copies follow
the compiler, N service or proxy replicas, two haproxy instances unless
`redundancy: none`, a database primary with its streaming replicas (or a
Galera cluster for multi-primary), and, with a hot DR site, a second copy of
the stateless tier, caches, queues and a replica of every database on the DR
site network. There is no synchronous standby (`multi_az` is an aws setting)
and no availability zone. This module holds what is not a kind: DNS.
"""

from __future__ import annotations

from typing import Any

from topoform.providers import facts as common
from topoform.providers.plan import Availability

ESTIMATE = ("Topoform estimate: one container on one Docker host, restarted on failure "
            "(no SLA exists; the figure AWS publishes for a single instance)")


def estimate(server: str = "") -> Availability:
    """One container's figure (`server`: what runs in it, when the source names it)."""
    return Availability(99.5, ESTIMATE + (f"; {server}" if server else ""), "estimate")


# Figures for ONE copy of what is not a kind (the kinds' are their modules' `AVAILABILITY`).
OTHERS: dict[str, Availability] = {"dns": estimate("PowerDNS")}


def record(ctx: Any) -> None:
    """The `Target.facts` hook: every component's facts on `ctx.plan`."""
    common.record(ctx, OTHERS)
