"""Names on one Docker engine: physical object names and the network aliases components answer to.

- Physical names are `{blueprint}-{stack}-{resource}`: unique per blueprint
  and stack, so two stacks share an engine.
- A component is reached through a network alias shared by all its copies
  (`web` for every replica of services.web, so Docker's DNS round-robins). The
  alias is the component name, or `{prefix}-{name}` when two sections use the
  same name. Aliases are the same on every site, so a service's environment is
  identical in the DR copy and points at the DR site's stores.
"""

from __future__ import annotations

from collections import Counter

from topoform.dsl.models import Blueprint, Component
from topoform.providers.base import BuildContext

from .sites import site_suffix


class Names:
    """Physical names and network aliases of one compile."""

    def __init__(self, bp: Blueprint, stack: str):
        self._base = f"{bp.blueprint}-{stack}-"
        counts = Counter(c.name for c in bp.components())
        self._shared = {name for name, count in counts.items() if count > 1}
        self._hosts: dict[int, str] = {}

    def physical(self, resource_name: str) -> str:
        """The Docker object name: unique per blueprint and stack on one engine."""
        return self._base + resource_name

    def resource_of(self, physical_name: str) -> str:
        """The Plan resource name of a container from its physical name."""
        return physical_name[len(self._base):]

    def host(self, component: Component) -> str:
        """The network alias every copy of `component` answers to."""
        key = id(component)  # pydantic private attributes are slow to read; hosts are asked for often
        host = self._hosts.get(key)
        if host is None:
            name = component.name
            host = self._hosts[key] = BuildContext.prefix(component) if name in self._shared else name
        return host

    def copies(self, component: Component, site: str, count: int) -> list[str]:
        """Physical names of the `-0`…`-N` copies of `component` on `site` (Docker DNS resolves them)."""
        base = f"{BuildContext.prefix(component)}{site_suffix(site)}"
        return [self.physical(f"{base}-{i}") for i in range(count)]
