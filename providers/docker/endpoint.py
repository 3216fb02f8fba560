"""How containers on a site reach a component: `Endpoint`, and the attributes it answers.

A leaf module: every kind builder and the context import it, it imports
nothing of the Docker target.
"""

from __future__ import annotations

from dataclasses import dataclass

from topoform.dsl.models import Component
from topoform.providers.base import BuildContext


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where other containers on a site reach a component: scheme, network alias, port."""

    scheme: str
    host: str
    port: int | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"


def endpoint_attribute(ctx: BuildContext, component: Component, endpoint: Endpoint, attr: str,
                       url: str | None = None) -> str:
    """`${kind.name.attr}` for the attributes every kind has: name, host, port, url.

    `url` overrides the endpoint's plain URL (data stores put credentials in it).
    Anything else is refused: the blueprint asked for an attribute docker has not.
    """
    if attr == "name":
        return component.name
    if attr == "host":
        return endpoint.host
    if attr == "port" and endpoint.port is not None:
        return str(endpoint.port)
    if attr == "url":
        return url if url is not None else endpoint.url
    raise ctx.unsupported(f"{component.ref} has no attribute '{attr}' on the docker target", None,
                          *component.ref.split("."))
