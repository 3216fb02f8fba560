"""`topoform graph`: an architecture diagram of the blueprint, as Mermaid or Graphviz DOT.

The diagram shows components, not low-level resources: grouped by site
(primary, DR) and tier (edge, application, data, async), with edges from
references and routes, labelled with the policy (DNS weights and failover
roles, balancer paths, weights and algorithm, cache strategies). The edges
come from `topology`, the same module the availability report reads.
`resources_diagram` draws the Plan's resources instead, one cluster per
component, edges from their dependencies.

Both renderers read one neutral `Diagram` (nodes, clusters, edges), so
Mermaid and DOT cannot disagree. SVG and PNG are DOT run through Graphviz.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

from topoform.dsl.kinds import BY_SECTION, REGISTRY
from topoform.dsl.models import Blueprint, Component
from topoform.dsl.topology import topology
from topoform.dsl.units import format_duration, format_size

from .topology import TIERS, async_edges, downstream, is_worker, tier

FORMATS = ("mermaid", "dot", "svg", "png")
TIER_TITLES = {"edge": "edge", "application": "application", "data": "data", "async": "async"}
TIER_COLOURS = {"edge": "#e3f2fd", "application": "#fff8e1", "data": "#e8f5e9", "async": "#f3e5f5", "dns": "#eceff1"}


@dataclass
class Node:
    id: str
    label: list[str]  # lines
    shape: str  # dns | cdn | balancer | proxy | service | database | cache | queue | vault | resource
    cluster: str  # the cluster id holding it


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = "solid"  # solid | dashed | dotted


@dataclass
class Cluster:
    id: str
    title: str
    parent: str | None = None
    colour: str = "#ffffff"
    dashed: bool = False


@dataclass
class Diagram:
    title: str
    clusters: list[Cluster] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def cluster(self, id: str, title: str, parent: str | None = None, colour: str = "#ffffff",
                dashed: bool = False) -> str:
        if not any(c.id == id for c in self.clusters):
            self.clusters.append(Cluster(id, title, parent, colour, dashed))
        return id

    def has(self, node_id: str) -> bool:
        return any(n.id == node_id for n in self.nodes)


def node_id(ref: str, site: str = "primary") -> str:
    base = re.sub(r"[^A-Za-z0-9]", "_", ref)
    return base if site == "primary" else f"dr__{base}"


SHAPES = {kind.section: kind.shape for kind in REGISTRY}


def describe(component: Component) -> list[str]:
    """The lines under a component's name: what an architect wants to read on the box."""
    section = component.section
    c = component
    if section == "services":
        lines = [f"{c.image} ×{c.replicas}"]
        lines.append(f"port {c.port}" if c.port else "worker")
    elif section == "load_balancers":
        tls = any(listener.tls for listener in c.listeners)
        lines = [f"L{c.layer} balancer{' · TLS' if tls else ''}" + (" · internal" if c.internal else ""),
                 c.algorithm.replace("_", " ") + ("" if c.redundancy == "none" else f" · {c.redundancy}")]
        if c.sticky_sessions:
            lines.append("sticky sessions")
    elif section == "reverse_proxies":
        features = [name for name, on in (("TLS", c.tls), ("gzip", c.compression), ("cache", c.cache),
                                          ("static", c.static), ("rate limit", c.rate_limit),
                                          ("deny", c.deny)) if on]
        lines = ["reverse proxy" + (f" ×{c.replicas}" if c.replicas > 1 else ""), " · ".join(features) or "plain"]
    elif section == "cdns":
        lines = [f"{c.mode} CDN · ttl {format_duration(c.ttl.default)}"]
        if c.mode == "push":
            lines.append(f"content {c.content}")
    elif section == "databases":
        lines = [f"{c.engine} {c.version}"]
        mode = c.replication.mode
        if mode == "primary-replica" and c.replica_count:
            lines.append(f"primary + {c.replica_count} replica{'s' if c.replica_count != 1 else ''}")
        elif mode == "multi-primary":
            lines.append(f"{1 + c.replication.replicas} primaries")
        extras = []
        if c.multi_az:
            extras.append("multi-AZ")
        if c.shard_count > 1:
            extras.append(f"{c.shard_count} shards ({c.sharding.strategy.replace('_', ' ')})")
        if extras:
            lines.append(" · ".join(extras))
    elif section == "caches":
        lines = [f"{c.engine} {format_size(c.memory)}" + (f" · {c.eviction}" if c.eviction else ""),
                 c.strategy + (f" · +{c.replicas} replica{'s' if c.replicas != 1 else ''}" if c.replicas else "")]
    elif section == "queues":
        lines = [f"{'FIFO ' if c.fifo else ''}{c.kind} queue"]
        extras = []
        if c.max_receives:
            extras.append(f"DLQ after {c.max_receives}")
        if c.max_depth:
            extras.append(f"max {c.max_depth}")
        if extras:
            lines.append(" · ".join(extras))
    elif section == "api_gateways":
        auth = "JWT" if c.auth and c.auth.jwt else "API keys" if c.auth else "no auth"
        versions = sorted({r.version for r in c.routes if r.version})
        lines = ["API gateway · " + auth + (" · rate limit" if c.rate_limit else ""),
                 f"{len(c.routes)} route{'s' if len(c.routes) != 1 else ''}"
                 + (f" · {' '.join(versions)}" if versions else "")]
    elif section == "nosql" and c.redis:
        lines = [f"key-value · {c.engine}", f"{c.shards} shard{'s' if c.shards != 1 else ''} · +{c.replicas} "
                 f"replica{'s' if c.replicas != 1 else ''} each"]
    elif section == "nosql":
        lines = [c.model + (f" · {c.partition_key.name}" if c.partition_key else ""),
                 " · ".join(part for part, on in (("PITR", c.backup.point_in_time), ("TTL", c.ttl_attribute),
                                                  ("streams", c.streams)) if on) or c.capacity]
    else:  # a kind this function does not describe yet: its word
        lines = [BY_SECTION[section].word]
    return [component.ref] + lines


def architecture(bp: Blueprint, target: str | None = None) -> Diagram:
    """The component diagram of a blueprint."""
    diagram = Diagram(f"{bp.blueprint}" + (f" · {target}" if target else ""))
    dr = bp.disaster_recovery
    hot = topology(bp).hot_dr
    region = None
    if target is not None:
        from topoform.providers import analysed_plan

        region = analysed_plan(bp, target).components["platform"].facts.region  # type: ignore[union-attr]
    primary = diagram.cluster("site_primary", "primary site" + (f" · {region}" if region else ""))
    for component in bp.components():
        t = tier(component, bp)
        cluster = diagram.cluster(f"primary_{t}", TIER_TITLES[t], primary, TIER_COLOURS[t])
        diagram.nodes.append(Node(node_id(component.ref), describe(component), SHAPES[component.section], cluster))

    _edges(diagram, bp, list(bp.components()), "primary")

    if dr is not None:
        _recovery_site(diagram, bp, hot, target)
    if bp.dns is not None:
        _dns(diagram, bp, hot)
    _sort_clusters(diagram)
    return diagram


def _edges(diagram: Diagram, bp: Blueprint, components: list[Component], site: str) -> None:
    """The references, routes and queue links among `components` at one site (both ends drawn there)."""
    refs = {c.ref for c in components}
    for component in components:
        for edge in downstream(bp, component.ref):
            if edge.target not in refs:
                continue
            style = "dotted" if edge.kind == "cache" else "solid"
            label = edge.label
            if edge.kind == "reference" and edge.target.startswith("queues."):
                if edge.target in getattr(component, "consumes", ()):
                    continue  # the consumer's own link is drawn from the queue, below
                label = "produces"
            diagram.edges.append(Edge(node_id(edge.source, site), node_id(edge.target, site), label, style))
    for edge in async_edges(bp):
        if edge.source in refs and edge.target in refs:
            diagram.edges.append(Edge(node_id(edge.source, site), node_id(edge.target, site), edge.label, "dashed"))


def _sort_clusters(diagram: Diagram) -> None:
    """DNS first, then each site's tiers in the order a request meets them."""
    order = {"dns": -2, "site_primary": -1, "site_dr": 10}
    order.update({f"{site}_{t}": i + (20 if site == "dr" else 0) for site in ("primary", "dr")
                  for i, t in enumerate(TIERS)})
    diagram.clusters.sort(key=lambda c: order.get(c.id, 50))


def _recovery_site(diagram: Diagram, bp: Blueprint, hot: bool, target: str | None) -> None:
    dr = bp.disaster_recovery
    where = dr.region or "second site"
    site = diagram.cluster("site_dr", f"DR site · {dr.strategy} · {where}", colour="#fafafa", dashed=True)
    if hot:
        # What runs at the DR site is what the target builds there: the Plan's facts say which
        # components have a DR copy (a docker CDN has one; a CloudFront distribution is global).
        copied = [c for c in bp.components() if _has_dr_copy(bp, target, c)]
        for component in copied:
            t = tier(component, bp)
            cluster = diagram.cluster(f"dr_{t}", TIER_TITLES[t], site, TIER_COLOURS[t])
            lines = [component.ref, "cross-region replica", "promoted on failover"] \
                if component.section == "databases" else describe(component)
            diagram.nodes.append(Node(node_id(component.ref, "dr"), lines, SHAPES[component.section], cluster))
        for db in bp.databases.values():
            if diagram.has(node_id(db.ref, "dr")):
                diagram.edges.append(Edge(node_id(db.ref), node_id(db.ref, "dr"), "async replication", "dashed"))
        _edges(diagram, bp, copied, "dr")
    else:
        vault = node_id("backup vault", "dr")
        what = "backups, restored on demand" if dr.strategy == "backup" else "built on demand (~30m) + restore"
        diagram.nodes.append(Node(vault, [f"{dr.strategy} recovery", what], "vault", site))
        for db in bp.databases.values():
            every = "point-in-time" if db.backup.point_in_time else f"every {format_duration(db.backup.interval)}"
            diagram.edges.append(Edge(node_id(db.ref), vault, f"backup {every}", "dashed"))


def _has_dr_copy(bp: Blueprint, target: str | None, component: Component) -> bool:
    """Whether a hot DR site runs a copy of `component`: the target's fact, or without a
    target the kinds every target copies (the stateless tier and the databases' replicas)."""
    if target is None:
        return component.section in ("load_balancers", "reverse_proxies", "services", "databases")
    from topoform.providers import analysed_plan

    facts = analysed_plan(bp, target).components[component.ref].facts
    return bool(facts and facts.dr_copy)


def _dns(diagram: Diagram, bp: Blueprint, hot: bool) -> None:
    dns = bp.dns
    cluster = diagram.cluster("dns", f"DNS · {dns.zone}", colour=TIER_COLOURS["dns"])
    if not dns.records:
        diagram.nodes.append(Node("dns_zone", [dns.zone, f"ttl {format_duration(dns.ttl)}"], "dns", cluster))
    for i, record in enumerate(dns.records):
        rid = f"dns_{i}_" + re.sub(r"[^A-Za-z0-9]", "_", record.name)
        fqdn = dns.zone.rstrip(".") if record.name == "@" else f"{record.name}.{dns.zone.rstrip('.')}"
        extra = " · health-checked" if record.health_check else ""
        diagram.nodes.append(Node(rid, [fqdn, f"{record.routing}{extra}"], "dns", cluster))
        for ep in record.endpoints:
            label = _endpoint_label(record.routing, ep)
            if ep.target is None:
                target = f"{rid}_value_{re.sub(r'[^A-Za-z0-9]', '_', ep.value or '')}"
                if not diagram.has(target):
                    diagram.nodes.append(Node(target, [ep.value or "?", "external"], "resource", cluster))
            elif ep.site == "dr":
                target = node_id(ep.target, "dr") if diagram.has(node_id(ep.target, "dr")) else node_id("backup vault", "dr")
            else:
                target = node_id(ep.target)
            if diagram.has(target):
                style = "dashed" if ep.role == "secondary" else "solid"
                diagram.edges.append(Edge(rid, target, label, style))


def _endpoint_label(routing: str, ep) -> str:
    if routing == "weighted":
        return f"weight {ep.weight}"
    if routing == "failover":
        return ep.role or ""
    if routing == "geolocation":
        return "default" if ep.default else (ep.continent or ep.country or "")
    if routing == "latency":
        return ep.region or ""
    return ""


def resources_diagram(plan) -> Diagram:
    """The Plan's resources, one cluster per component, edges from dependencies."""
    diagram = Diagram(f"{plan.blueprint} · {plan.target} · resources")
    for resource in plan.resources:
        cluster = diagram.cluster("c_" + re.sub(r"[^A-Za-z0-9]", "_", resource.component), resource.component)
        diagram.nodes.append(Node("r_" + re.sub(r"[^A-Za-z0-9]", "_", resource.name),
                                  [resource.name, short_type(resource.type)], "resource", cluster))
    for resource in plan.resources:
        for dep in plan.dependencies(resource):
            diagram.edges.append(Edge("r_" + re.sub(r"[^A-Za-z0-9]", "_", resource.name),
                                      "r_" + re.sub(r"[^A-Za-z0-9]", "_", dep)))
    return diagram


def short_type(token: str) -> str:
    """`aws:lb/loadBalancer:LoadBalancer` → `aws lb.LoadBalancer`."""
    provider, _, rest = token.partition(":")
    module, _, kind = rest.partition(":")
    module = module.split("/")[0]
    return f"{provider} {kind}" if module == "index" else f"{provider} {module}.{kind}"


# ------------------------------------------------------------------ mermaid

_MERMAID_SHAPES = {
    "dns": ('(["', '"])'), "cdn": ('(["', '"])'), "balancer": ('{{"', '"}}'), "proxy": ('[/"', '"/]'),
    "service": ('["', '"]'), "database": ('[("', '")]'), "cache": ('("', '")'), "queue": ('[["', '"]]'),
    "vault": ('[("', '")]'), "resource": ('["', '"]'),
}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(diagram: Diagram) -> str:
    lines = ["---", f"title: {diagram.title}", "---", "flowchart LR"]
    children: dict[str | None, list[Cluster]] = {}
    for cluster in diagram.clusters:
        children.setdefault(cluster.parent, []).append(cluster)

    def emit(cluster: Cluster, indent: str) -> None:
        lines.append(f'{indent}subgraph {cluster.id}["{_mermaid_text(cluster.title)}"]')
        for node in diagram.nodes:
            if node.cluster == cluster.id:
                left, right = _MERMAID_SHAPES[node.shape]
                label = "<br/>".join(_mermaid_text(line) for line in node.label)
                lines.append(f"{indent}  {node.id}{left}{label}{right}")
        for child in children.get(cluster.id, []):
            emit(child, indent + "  ")
        lines.append(f"{indent}end")

    for cluster in children.get(None, []):
        emit(cluster, "  ")
    for edge in diagram.edges:
        arrow = {"solid": "-->", "dashed": "-.->", "dotted": "-.->"}[edge.style]
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    for cluster in diagram.clusters:
        style = f"fill:{cluster.colour},stroke:#90a4ae"
        if cluster.dashed:
            style += ",stroke-dasharray: 5 5"
        lines.append(f"  style {cluster.id} {style}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ dot

_DOT_SHAPES = {
    "dns": "oval", "cdn": "ellipse", "balancer": "hexagon", "proxy": "component", "service": "box",
    "database": "cylinder", "cache": "box3d", "queue": "cds", "vault": "folder", "resource": "box",
}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(diagram: Diagram) -> str:
    out = [
        "digraph topoform {",
        f'  label="{_dot_text(diagram.title)}"; labelloc=t; fontsize=18; fontname="Helvetica";',
        '  rankdir=TB; compound=true; newrank=true; nodesep=0.3; ranksep=0.55;',
        '  node [fontname="Helvetica", fontsize=10, style="filled", fillcolor="white", color="#455a64"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#546e7a", fontcolor="#37474f"];',
    ]
    children: dict[str | None, list[Cluster]] = {}
    for cluster in diagram.clusters:
        children.setdefault(cluster.parent, []).append(cluster)

    def emit(cluster: Cluster, indent: str) -> None:
        style = "filled,dashed,rounded" if cluster.dashed else "filled,rounded"
        out.append(f"{indent}subgraph cluster_{cluster.id} {{")
        out.append(f'{indent}  label="{_dot_text(cluster.title)}"; style="{style}"; fillcolor="{cluster.colour}"; '
                   f'color="#90a4ae"; fontname="Helvetica-Bold"; fontsize=12;')
        for node in diagram.nodes:
            if node.cluster == cluster.id:
                label = "\\n".join(_dot_text(line) for line in node.label)
                extra = ', style="filled,rounded"' if node.shape == "service" else ""
                out.append(f'{indent}  {node.id} [label="{label}", shape={_DOT_SHAPES[node.shape]}{extra}];')
        for child in children.get(cluster.id, []):
            emit(child, indent + "  ")
        out.append(f"{indent}}}")

    for cluster in children.get(None, []):
        emit(cluster, "  ")
    for edge in diagram.edges:
        attrs = []
        if edge.label:
            attrs.append(f'label="{_dot_text(edge.label)}"')
        if edge.style != "solid":
            attrs.append(f"style={edge.style}")
        out.append(f"  {edge.source} -> {edge.target}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ graphviz


class GraphvizMissing(RuntimeError):
    """`dot` is not on PATH: svg and png need Graphviz."""


def render_graphviz(dot_text: str, fmt: str) -> bytes:
    """SVG or PNG bytes from DOT text, through the `dot` program."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(
            f"--format {fmt} needs Graphviz's `dot` program, which is not on PATH; install it "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz), "
            "or use --format mermaid or --format dot")
    args = [dot, f"-T{fmt}"] + (["-Gdpi=110"] if fmt == "png" else [])
    done = subprocess.run(args, input=dot_text.encode("utf-8"), capture_output=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


def render(diagram: Diagram, fmt: str) -> bytes:
    if fmt == "mermaid":
        return to_mermaid(diagram).encode("utf-8")
    if fmt == "dot":
        return to_dot(diagram).encode("utf-8")
    if fmt in ("svg", "png"):
        return render_graphviz(to_dot(diagram), fmt)
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "Diagram", "GraphvizMissing", "architecture", "render", "resources_diagram",
           "to_dot", "to_mermaid", "is_worker"]
