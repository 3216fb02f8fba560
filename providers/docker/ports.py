"""Host ports: which container ports are published on localhost, and where.

Only edge containers (balancers, reverse proxies, CDNs, DNS) and components
marked `public: true` publish ports: port P inside is published on P+8000
(below 1024) or P+10000 on localhost, the next free one if taken, in walk
order, so the same blueprint always gets the same ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AbstractSet, Callable, Iterable

from topoform.providers.base import UnsupportedError


@dataclass(slots=True)
class Published:
    """A port published on the host (for stack outputs: `http://localhost:8080`)."""

    internal: int
    external: int
    protocol: str = "tcp"


class Ports:
    """The host ports handed out so far, and what each component's copies publish."""

    def __init__(self, unsupported: Callable[..., UnsupportedError]):
        self._unsupported = unsupported
        self._used: set[tuple[int, str]] = set()
        self._next: dict[int, int] = {}
        #: (component ref, site) → the published ports of each copy.
        self.published: dict[tuple[str, str], list[list[Published]]] = {}

    def publish(self, internal: int, protocol: str = "tcp") -> Published:
        """A host port for `internal`: P+8000 below 1024, else P+10000, else the next free one."""
        base = internal + 8000 if internal < 1024 else internal + 10000
        if base > 65535:
            base = 20000 + internal % 10000
        key = base if protocol == "tcp" else -base
        candidate = self._next.get(key, base)
        while (candidate, protocol) in self._used:
            candidate += 1
        if candidate > 65535:
            raise self._unsupported("ran out of host ports to publish on", None)
        self._used.add((candidate, protocol))
        self._next[key] = candidate + 1
        return Published(internal, candidate, protocol)

    def local_urls(self, component_ref: str, sites: Iterable[str], tls_ports: AbstractSet[int]) -> list[str]:
        """`http(s)://localhost:P` for every TCP port the component's copies publish on `sites`."""
        urls: list[str] = []
        for site in sites:
            for copy in self.published.get((component_ref, site), []):
                for port in copy:
                    if port.protocol != "tcp":
                        continue
                    scheme = "https" if port.internal in tls_ports else "http"
                    urls.append(f"{scheme}://localhost:{port.external}")
        return urls
