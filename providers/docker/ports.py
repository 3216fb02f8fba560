"""Host ports: which container ports are published on the host, on which address and port.

Only edge containers (balancers, reverse proxies, CDNs, DNS) and components
marked `public: true` publish ports.

Address: 127.0.0.1, so a laptop's stack is not reachable from the network it
sits on. The outputs name that address, not `localhost`, which may
resolve to ::1 first, where something else can listen on the same port. A data store or service marked
`public: true` ("reachable from the internet") binds every interface
(0.0.0.0) instead, and `plan` warns about it.

Port: every stack gets its own block of `BLOCK` host ports in
`FIRST`…`LAST` (below the ephemeral port ranges), picked by a hash of blueprint and stack, and hands them out
in walk order: the same stack always gets the same ports, and two stacks
(dev and staging, two blueprints) on one engine almost never share a block
(`BLOCKS` blocks). Fixed ports (8080, 8443) would collide between stacks and
with whatever else a laptop runs. The output `platform.host_ports` names the block.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import AbstractSet, Callable, Iterable

from topoform.providers.base import UnsupportedError

# Below the ephemeral ranges (Linux 32768–60999, macOS and Windows 49152–65535):
# a client's outgoing connection can hold any port in them, and publishing a
# port something holds fails the container's start ("address already in use").
FIRST, LAST = 20000, 32767
BLOCK = 100
BLOCKS = (LAST - FIRST + 1) // BLOCK
LOOPBACK, EVERYWHERE = "127.0.0.1", "0.0.0.0"


def block_start(blueprint: str, stack: str) -> int:
    """The first host port of the stack's block (deterministic: a hash of blueprint and stack)."""
    digest = hashlib.sha256(f"{blueprint}/{stack}".encode()).digest()
    return FIRST + BLOCK * (int.from_bytes(digest[:4], "big") % BLOCKS)


@dataclass(slots=True)
class Published:
    """A port published on the host (for stack outputs: `http://127.0.0.1:23417`)."""

    internal: int
    external: int
    protocol: str = "tcp"
    ip: str = LOOPBACK


class Ports:
    """The host ports handed out so far, and what each component's copies publish."""

    def __init__(self, unsupported: Callable[..., UnsupportedError], blueprint: str, stack: str):
        self._unsupported = unsupported
        self.first = block_start(blueprint, stack)
        self.last = self.first + BLOCK - 1
        self._next = {"tcp": self.first, "udp": self.first}
        #: (component ref, site) → the published ports of each copy.
        self.published: dict[tuple[str, str], list[list[Published]]] = {}

    def publish(self, internal: int, protocol: str = "tcp", everywhere: bool = False) -> Published:
        """The next host port of the stack's block for `internal` (TCP and UDP count separately)."""
        external = self._next[protocol]
        if external > self.last:
            raise self._unsupported(
                f"more than {BLOCK} {protocol} host ports to publish: each stack has a block of {BLOCK} "
                f"({self.first}–{self.last})", "publish fewer copies (fewer replicas or `internal: true`)")
        self._next[protocol] = external + 1
        return Published(internal, external, protocol, EVERYWHERE if everywhere else LOOPBACK)

    def local_urls(self, component_ref: str, sites: Iterable[str], tls_ports: AbstractSet[int]) -> list[str]:
        """`http(s)://127.0.0.1:P` for every TCP port the component's copies publish on `sites`."""
        urls: list[str] = []
        for site in sites:
            for copy in self.published.get((component_ref, site), []):
                for port in copy:
                    if port.protocol != "tcp":
                        continue
                    scheme = "https" if port.internal in tls_ports else "http"
                    urls.append(f"{scheme}://{LOOPBACK}:{port.external}")
        return urls
