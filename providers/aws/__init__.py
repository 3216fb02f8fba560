"""The AWS target: a blueprint as pulumi_aws resources an architect would sign off.

`TARGET` is the target's table (providers/base.py walks it): one module per
component kind of dsl/kinds.py, `kinds/<section>.py`, found by its section
name (providers/base.py `kind_table`), and the passes that are not
components — `platform` (the networks, first, so the Plan reads top-down),
`dns.build`, `recovery.build`, `alarms.build`, `finish` (rules that need
every component built, then the staging of certificates behind a new,
undelegated zone: certificates.py) and `facts.record` (what the analyses read). Every builder receives an `AwsContext`
(context.py), whose collaborators hold the compile's shared state.

Module layout, leaves first; each imports only modules listed before it:
sites.py, names.py, store_catalog.py, endpoints.py,
attachments.py → network.py, iam.py, certificates.py → context.py →
stores.py, kinds/load_balancers.py → edge.py → kinds/databases.py,
caches.py, queues.py, cdns.py, reverse_proxies.py, services.py → dns.py,
alarms.py, recovery.py, drills.py → this module.
"""

from __future__ import annotations

from topoform.dsl.models import Blueprint
from topoform.providers.base import Target, kind_table

from . import alarms, dns, drills, facts, recovery
from .context import AwsContext
from .kinds import services
from .sites import DR, PRIMARY

KINDS = kind_table(__name__)


def context(bp: Blueprint, stack: str = "dev") -> AwsContext:
    """A fresh context whose `${...}` answers come from this target's kind table."""
    return AwsContext(bp, stack, KINDS)


def platform(ctx: AwsContext) -> None:
    """The networks first, so the Plan reads top-down: VPC, then what runs in it."""
    bp = ctx.bp
    if bp.services or bp.load_balancers or bp.databases or bp.caches:
        ctx.networks.network(PRIMARY)
    if ctx.sites.hot and (bp.services or bp.load_balancers):
        ctx.networks.network(DR)


def finish(ctx: AwsContext) -> None:
    services.grant_access(ctx)
    ctx.certificates.defer_until_delegated()  # it leaves out what waits for DNS delegation
    drills.build(ctx)  # FIS templates last: for what this stage deploys, with its ARNs and alarms


TARGET = Target(
    name="aws", context=context, kinds=KINDS, platform=platform, dns=dns.build,
    disaster_recovery=recovery.build, slos=alarms.build, finish=finish, facts=facts.record,
)
