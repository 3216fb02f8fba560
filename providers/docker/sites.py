"""Sites: the Docker networks of one compile and the fixed addresses handed out on them.

"primary" always; "dr" too when `disaster_recovery` is set (the site names
and which sites run what come from `dsl/topology.py`). Each site is a
user-defined bridge network `{blueprint}-{stack}-{site}`; a hot DR site runs
the stateless tier, caches and queues again on its own network.

With a `dns` section the networks get fixed subnets and every container a DNS
record answers with gets a fixed IPv4 address (DNS answers carry addresses,
not names). Subnets come from 10.128.0.0/9 in /20 blocks picked by a hash of
blueprint, stack and site: two stacks rarely collide and the same stack always
gets the same block. The lower half of a block holds fixed addresses, Docker
hands out the upper half.

`Sites` holds this state; `networks.platform` creates the networks. Nothing
here adds resources.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Callable

from topoform.dsl.models import Blueprint
from topoform.dsl.topology import DR, PRIMARY, topology
from topoform.providers.base import UnsupportedError

__all__ = ["DR", "PRIMARY", "Site", "Sites", "site_suffix"]
SUBNET_POOL = ipaddress.IPv4Network("10.128.0.0/9")
SUBNET_PREFIX = 20


@dataclass(slots=True)
class Site:
    """One site's network and the fixed addresses handed out on it."""

    name: str
    network: str  # resource name of the docker:index/network:Network
    subnet: ipaddress.IPv4Network | None = None
    _next: int = 2  # .1 is the gateway

    def allocate(self) -> str | None:
        """The next fixed address, or None when the network has no fixed subnet."""
        if self.subnet is None:
            return None
        if self._next >= self.subnet.num_addresses // 2:
            raise OverflowError(self.name)
        address = self.subnet.network_address + self._next
        self._next += 1
        return str(address)


def site_suffix(site: str) -> str:
    """What a site adds to resource names: nothing on the primary, `-dr` on the DR site."""
    return "" if site == PRIMARY else f"-{site}"


class Sites:
    """The sites of one compile: which exist, where things run, who gets a fixed address."""

    def __init__(self, bp: Blueprint, stack: str, unsupported: Callable[..., UnsupportedError]):
        self._bp, self._stack, self._unsupported = bp, stack, unsupported
        shape = topology(bp)
        #: Sites that get a network: the DR site whenever DR is configured.
        self.names: tuple[str, ...] = (PRIMARY, DR) if shape.has_dr_site else (PRIMARY,)
        #: Sites where stateless components and caches run: the DR site too when it is hot.
        self.running: tuple[str, ...] = shape.running_sites
        self.by_name: dict[str, Site] = {}
        #: (component ref, site) → fixed addresses, in copy order.
        self.addresses: dict[tuple[str, str], list[str]] = {}
        # Component refs whose containers need a fixed address: DNS answers them.
        self._addressed: set[str] = set()
        if bp.dns is not None:
            for record in bp.dns.records:
                for endpoint in record.endpoints:
                    if endpoint.target:
                        self._addressed.add(endpoint.target)

    def __getitem__(self, site: str) -> Site:
        return self.by_name[site]

    def add(self, site: Site) -> None:
        self.by_name[site.name] = site

    def subnet(self, site: str) -> ipaddress.IPv4Network:
        """The fixed /20 of `site` (the DR site never shares the primary's block)."""
        index = self._subnet_index(site)
        blocks = 2 ** (SUBNET_PREFIX - SUBNET_POOL.prefixlen)
        if site == DR and self._subnet_index(PRIMARY) == index:
            index = (index + 1) % blocks
        size = 2 ** (32 - SUBNET_PREFIX)
        return ipaddress.IPv4Network((int(SUBNET_POOL.network_address) + index * size, SUBNET_PREFIX))

    def _subnet_index(self, site: str) -> int:
        digest = hashlib.sha256(f"{self._bp.blueprint}/{self._stack}/{site}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 2 ** (SUBNET_PREFIX - SUBNET_POOL.prefixlen)

    def fixed_address(self, component_ref: str, site: str) -> str | None:
        """A fixed address for the next copy of `component_ref` on `site`, if DNS answers it."""
        if component_ref not in self._addressed:
            return None
        address = self.allocate(site)
        if address is not None:
            self.addresses.setdefault((component_ref, site), []).append(address)
        return address

    def allocate(self, site: str) -> str | None:
        """The next fixed address on `site` (None without a fixed subnet); a full half is a diagnostic."""
        try:
            return self.by_name[site].allocate()
        except OverflowError:
            raise self._unsupported(
                f"too many DNS-answered containers on the {site} site network: the DNS server and the "
                f"containers its records answer need fixed addresses, at most {2 ** (32 - SUBNET_PREFIX) // 2 - 2}",
                "answer fewer copies in DNS records (point a record at a balancer instead of a service)",
                "dns") from None
