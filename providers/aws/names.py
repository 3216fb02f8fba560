"""`kind.name` references and resource-name prefixes of components, read once each.

A leaf module. Pydantic private attributes (which `Component.ref` and
`Component.section` read) are slow next to a dict lookup, and a compile asks
for the same component's names thousands of times, so one `Names` per
compile caches them by object identity.
"""

from __future__ import annotations

from topoform.dsl.models import Component
from topoform.providers.base import BuildContext


class Names:
    def __init__(self) -> None:
        self._refs: dict[int, str] = {}
        self._prefixes: dict[int, str] = {}

    def ref(self, component: Component | str) -> str:
        """`kind.name` of a component (a string is taken to be one already)."""
        if isinstance(component, str):
            return component
        found = self._refs.get(id(component))
        if found is None:
            found = self._refs[id(component)] = component.ref
        return found

    def prefix(self, component: Component) -> str:
        """The resource-name prefix every target uses (`svc-web`)."""
        found = self._prefixes.get(id(component))
        if found is None:
            found = self._prefixes[id(component)] = BuildContext.prefix(component)
        return found
