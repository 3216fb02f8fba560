"""The sites of an AWS deployment: the primary region and, with a DR section, the DR region.

A leaf module (it imports nothing else of the AWS target; the site names
come from dsl/topology.py), so every module
that places resources can name a site without an import cycle. The stateless
tier (services, balancers, web ACLs, SLO alarms) runs at every site of
`Sites.all`; a hot DR site also holds live copies of the stores
(`Sites.hot_copies`). A resource at the DR site is named like its primary
twin with a `dr-` prefix (`site_name`), so any module can compute the name of
a resource another module creates, before or after it is created.
"""

from __future__ import annotations

from topoform.dsl.topology import DR, PRIMARY
from topoform.providers.base import BuildContext

__all__ = ["DR", "PRIMARY", "Sites", "site_name"]  # the site names are the blueprint's (dsl/topology.py)


def site_name(name: str, site: str) -> str:
    """Resource name of `name` at `site`: the DR copy is prefixed `dr-`."""
    return name if site == PRIMARY else f"dr-{name}"


class Sites:
    """Regions and roles of the sites of one blueprint (read once, when the compile starts)."""

    def __init__(self, ctx: BuildContext):
        self._ctx = ctx
        dr = ctx.bp.disaster_recovery
        self.hot = dr is not None and dr.strategy == "hot"
        # Copies of the stores need a region to live in (validation asks for one; a test may not).
        self.hot_copies = self.hot and dr.region is not None
        self.all = [PRIMARY, DR] if self.hot else [PRIMARY]

    def region(self, site: str = PRIMARY) -> str:
        bp = self._ctx.bp
        if site == PRIMARY:
            return bp.aws.region
        dr = bp.disaster_recovery
        if dr is None or not dr.region:
            raise self._ctx.unsupported("a DR site on aws needs `disaster_recovery.region`",
                                        "e.g. `region: us-west-2`", "disaster_recovery")
        return dr.region

    def regional(self, site: str = PRIMARY) -> dict[str, str]:
        """The `region=` argument every regional resource of `site` takes (pinned, not ambient)."""
        return {"region": self.region(site)}

    def runs_compute(self, site: str) -> bool:
        """Whether tasks run at `site` (they need NAT gateways to pull images)."""
        bp = self._ctx.bp
        if not (bp.services or bp.reverse_proxies):
            return False
        return site == PRIMARY or self.hot
