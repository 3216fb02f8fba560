"""The system's shape as the report and the diagram see it: who calls whom.

One place derives, from a Blueprint, the edges a request follows (DNS →
CDN / reverse proxy → balancer → services → the stores they reference) and
the tier each component belongs to, so the availability arithmetic and the
diagram cannot disagree about the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from topoform.dsl.kinds import BY_SECTION, EDGE_SECTIONS, STORE_SECTIONS, TIERS  # noqa: F401 (re-exported)
from topoform.dsl.models import Blueprint, Component, Service
from topoform.dsl.topology import topology


@dataclass(frozen=True)
class Edge:
    """`source` sends requests (or reads/writes) to `target`; `label` says how."""

    source: str
    target: str
    label: str = ""
    kind: str = "request"  # request | reference | async | cache


def interpolated(bp: Blueprint, service: Service) -> Iterator[tuple[str, str, str]]:
    """(ref, attr, env key) for every `${kind.name.attr}` a service's env or command reads."""
    for read in topology(bp).reads_of(service.ref):
        yield read.target, read.attr, read.key


def is_worker(service: Service) -> bool:
    """A queue consumer with no port: it serves no requests, it processes messages."""
    return service.port is None and bool(service.consumes)


def consumers(bp: Blueprint, queue_ref: str) -> list[str]:
    """Services reading a queue, from either side of the link, in blueprint order."""
    return list(topology(bp).consumers_of(queue_ref))


def tier(component: Component, bp: Blueprint) -> str:
    if component.section == "services" and is_worker(component):  # type: ignore[arg-type]
        return "async"
    return BY_SECTION[component.section].tier


def downstream(bp: Blueprint, ref: str) -> list[Edge]:
    """Where a request that reached `ref` goes next (front tier) or what it touches (services)."""
    component = bp.component(ref)
    edges: list[Edge] = []
    if component is None:
        return edges
    section = component.section
    if section == "cdns" and component.mode == "pull" and component.origin:  # type: ignore[attr-defined]
        edges.append(Edge(ref, component.origin, "origin"))  # type: ignore[attr-defined]
    elif section == "reverse_proxies":
        edges.append(Edge(ref, component.upstream, "upstream"))  # type: ignore[attr-defined]
    elif section == "load_balancers":
        edges += balancer_edges(component)  # type: ignore[arg-type]
    elif section == "api_gateways":
        labels: dict[str, list[str]] = {}
        for route in component.routes:  # type: ignore[attr-defined]
            labels.setdefault(route.target, []).append(" ".join(route.methods or ["ANY"]) + " " + route.full_path)
        edges += [Edge(ref, target, ", ".join(parts)) for target, parts in labels.items()]
    elif section == "services":
        seen: set[str] = set()
        for target, attr, _key in interpolated(bp, component):  # type: ignore[arg-type]
            if target not in seen and target != ref and bp.component(target) is not None:
                seen.add(target)
                edges.append(Edge(ref, target, attr, "reference"))
    elif section == "caches" and component.in_front_of:  # type: ignore[attr-defined]
        edges.append(Edge(ref, component.in_front_of, component.strategy, "cache"))  # type: ignore[attr-defined]
    return edges


def balancer_edges(lb) -> list[Edge]:
    """One edge per distinct target, labelled with its routes, weights and the algorithm."""
    labels: dict[str, list[str]] = {}
    if lb.layer == 7:
        for route in lb.routes or []:
            text = route.path + (f" host {route.host}" if route.host else "")
            if route.weight is not None:
                text += f" w{route.weight}"
            labels.setdefault(route.target, []).append(text)
    else:
        for target in lb.targets or []:
            text = f":{target.port}" if target.port else "tcp"
            if target.weight is not None:
                text += f" w{target.weight}"
            labels.setdefault(target.target, []).append(text)
    algorithm = lb.algorithm.replace("_", " ")
    return [Edge(lb.ref, target, ", ".join(parts) + f" · {algorithm}") for target, parts in labels.items()]


def async_edges(bp: Blueprint) -> list[Edge]:
    edges = []
    for queue in bp.queues.values():
        for consumer in consumers(bp, queue.ref):
            edges.append(Edge(queue.ref, consumer, "consumes", "async"))
    return edges


def front_doors(bp: Blueprint) -> list[str]:
    """Where requests enter when the blueprint has no DNS records: the components nothing fronts.

    CDNs, reverse proxies, internet-facing balancers and public services that no
    other front component sends traffic to; failing those, every service with a port.
    """
    fronted: set[str] = set()
    candidates: list[str] = []
    for component in bp.components():
        if component.section in (*EDGE_SECTIONS, "services"):
            for edge in downstream(bp, component.ref):
                if component.section != "services":
                    fronted.add(edge.target)
    for component in bp.components():
        section = component.section
        if component.ref in fronted:
            continue
        if section in ("cdns", "reverse_proxies", "api_gateways") or (section == "load_balancers" and not component.internal) \
                or (section == "services" and component.public):  # type: ignore[attr-defined]
            candidates.append(component.ref)
    if not candidates:
        candidates = [s.ref for s in bp.services.values() if s.port is not None]
    return candidates
