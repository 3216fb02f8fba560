"""The platform pass: one bridge network per site (see `sites.py` for sites and subnets)."""

from __future__ import annotations

from typing import Any

from topoform.providers.plan import ref

from .containers import NETWORK
from .ports import LOOPBACK
from .context import DockerContext
from .sites import Site


def platform(ctx: DockerContext) -> None:
    """`net-{site}` for every site; fixed subnets when DNS answers with addresses."""
    for site in ctx.sites.names:
        name = f"net-{site}"
        props: dict[str, Any] = {"name": ctx.names.physical(site), "driver": "bridge",
                                 "labels": ctx.containers.labels()}
        subnet = None
        if ctx.bp.dns is not None:
            subnet = ctx.sites.subnet(site)
            half = list(subnet.subnets(prefixlen_diff=1))[1]
            props["ipam_configs"] = [{"subnet": str(subnet), "gateway": str(subnet.network_address + 1),
                                      "ip_range": str(half)}]
        ctx.add(NETWORK, name, props)
        ctx.sites.add(Site(site, name, subnet))
        ctx.export(f"networks.{site}", ref(name, "name"))
    ports = ctx.ports
    # Named up front (an output, not a warning: every blueprint has one): whatever
    # publishes a port takes the next one of this block, from FIRST-LAST.
    ctx.export("host_ports", f"{LOOPBACK}:{ports.first}-{ports.last}")
