"""What both targets check of an API gateway's routes before building it.

A route's target must be a service that listens on a port (a worker has
nothing to route to); the models check the routes' own shape (unique
version, path and method; auth settings complete), this needs the other
components.
"""

from __future__ import annotations

from typing import Any


def routed_services(ctx: Any, gateway: Any) -> list[Any]:
    """The distinct services `gateway` routes to, in route order; refuses one without a port."""
    found: dict[str, Any] = {}
    for i, route in enumerate(gateway.routes):
        svc = ctx.bp.component(route.target)
        if svc.port is None:
            raise ctx.unsupported(f"{gateway.ref}: route {route.full_path} targets {route.target}, which has no port",
                                  f"give {route.target} a `port`, or route to a service that serves HTTP",
                                  gateway.section, gateway.name, "routes", i, "target")
        found.setdefault(svc.ref, svc)
    return list(found.values())
