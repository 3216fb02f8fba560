"""`url`, `host`, `port` and `name` of a component reached at one host and port.

Services, balancers, CDNs and reverse proxies answer `${kind.name.attr}`
alike once their kind module says where the component is reached; stores
answer from their own tables (kinds/databases.py, caches.py, queues.py).
"""

from __future__ import annotations

from topoform.dsl.models import Component
from topoform.providers.base import BuildContext

DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_attribute(ctx: BuildContext, component: Component, attr: str, host: str, port: int | None,
                       scheme: str) -> str:
    if attr == "name":
        return component.name
    if attr == "host":
        return host
    if attr == "port":
        if port is None:
            ref = component.ref
            raise ctx.unsupported(f"{ref} has no port", f"give {ref} a `port`", component.section, component.name)
        return str(port)
    if attr == "url":
        return f"{scheme}://{host}" + ("" if port in (None, DEFAULT_PORTS.get(scheme)) else f":{port}")
    raise ctx.unsupported(f"{component.ref} has no attribute {attr!r}", "use url, host, port or name",
                          component.section, component.name)
