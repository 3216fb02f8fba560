"""The component kinds: one entry per blueprint section, read by every stage.

A kind's section, the word for one of its components, the short prefix of its
resource names, its component type token, the `${kind.name.attr}` attributes
it exposes and its tier live here once. The models, the reference checker,
the compilers' walk (each target finds its module for the kind by the
section name, `providers/<target>/kinds/<section>.py`) and the analyses read
this table, so adding a kind starts here and a stage that forgets one fails
its contract test (tests/test_kind_contract.py) instead of silently skipping
it. docs/ARCHITECTURE.md "How to add a component kind" lists the files.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    """One component kind (a blueprint section such as `services`)."""

    section: str
    word: str  # one component of it, in messages: "load balancer"
    prefix: str  # resource names: `svc-web`, so a `web` service and a `web` cache differ;
    #              never the section itself (`nosql-x` is already the component's own name)
    component_type: str  # the Pulumi component type token of its Plan component
    tier: str  # where a request meets it: edge | application | data | async
    shape: str  # its node in `topoform graph` (providers/insight/diagram.py draws each shape)
    store: bool = False  # holds data: private, and granted to the services that reference it
    # `${kind.name.attr}` attributes every component of the kind exposes…
    attributes: tuple[str, ...] = ("name", "url", "host", "port")
    # …and those it exposes only when configured so (dsl/references.py says when).
    optional_attributes: tuple[str, ...] = ()
    # A small blueprint (YAML) holding one, valid and built on every target, that the contract
    # test compiles; "": the first example in blueprints/ holding one (the hot-DR design first).
    example: str = ""


# In blueprint order: the compilers walk sections in this order, so it fixes the Plan's order.
REGISTRY: tuple[Kind, ...] = (
    Kind("services", "service", "svc", "topoform:index:Service", "application", "service"),
    Kind("load_balancers", "load balancer", "lb", "topoform:index:LoadBalancer", "edge", "balancer"),
    Kind("reverse_proxies", "reverse proxy", "rp", "topoform:index:ReverseProxy", "edge", "proxy"),
    Kind("cdns", "CDN", "cdn", "topoform:index:Cdn", "edge", "cdn"),
    Kind("databases", "database", "db", "topoform:index:Database", "data", "database", store=True,
         optional_attributes=("reader_url", "shard_urls")),
    Kind("caches", "cache", "cache", "topoform:index:Cache", "data", "cache", store=True),
    Kind("queues", "queue", "queue", "topoform:index:Queue", "async", "queue", store=True),
    # Appended after the first seven so their Plans keep their order (and bytes).
    Kind("api_gateways", "API gateway", "apigw", "topoform:index:ApiGateway", "edge", "proxy"),
    Kind("nosql", "NoSQL store", "nsql", "topoform:index:NoSql", "data", "database", store=True,
         attributes=("name", "url", "host", "port", "endpoint", "table")),
)

BY_SECTION: dict[str, Kind] = {kind.section: kind for kind in REGISTRY}
SECTIONS: tuple[str, ...] = tuple(BY_SECTION)
STORE_SECTIONS: tuple[str, ...] = tuple(kind.section for kind in REGISTRY if kind.store)
EDGE_SECTIONS: tuple[str, ...] = tuple(kind.section for kind in REGISTRY if kind.tier == "edge")
# Tiers of the diagram and the report, in the order a request meets them.
TIERS: tuple[str, ...] = ("edge", "application", "data", "async")
