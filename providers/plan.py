"""Stage 3: the Plan — plain, target-specific data between providers and Pulumi.

A provider turns a validated Blueprint into a Plan: resources with their
Pulumi type token, a stable name prefixed by their component, properties
(Python SDK argument names), dependencies and the blueprint line they came
from. `plan`, `graph`, `report`, `eject` and the Pulumi program all read the
Plan, so they cannot disagree.

Cross-resource values are written `${RESOURCE.attr}` inside property strings
(`attr` may continue with `.field` and `[index]`); a whole-string reference
keeps the value's own type, an embedded one is concatenated as text. `$${`
is a literal `${`. No secret value is ever in a Plan: only references to the
resources that generate them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, TextIO

import orjson

from topoform.dsl.collector import gc_paused
from topoform.dsl.diagnostics import Diagnostic, Position


def dumps(value: Any) -> str:
    """Compact, deterministic JSON (insertion order kept).

    orjson rather than `json`: a 10,000-component Plan is tens of megabytes
    of properties, and encoding it was the largest cost of `plan --json`.
    """
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


REFERENCE_RE = re.compile(r"\$\$\{|\$\{([a-z0-9][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)\}")


# The resource names REFERENCE_RE finds: its two alternatives factored on their
# leading `$`, with one group. A pattern that starts with a literal keeps the
# regex engine's fast scan for it; a look-behind such as `(?<!\$)` turns that
# off (10× slower on a 5,000-component Plan). The escape `$${` is consumed
# (findall gives "" for it), so a `${` right after a `$` is never a reference.
_REFERENCED_NAME_RE = re.compile(
    r"\$(?:\$\{|\{([a-z0-9][a-z0-9-]*)\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*\})")


def referenced_names(value: Any) -> set[str]:
    """Names of the resources whose outputs `value` (any property value) reads.

    One regex scan of its JSON text rather than a Python walk of every value:
    JSON never escapes `$` or `{`, so a reference reads the same there.
    """
    text = dumps(value)
    if "${" not in text:
        return set()
    names = set(_REFERENCED_NAME_RE.findall(text))
    names.discard("")  # the escapes
    return names


def ref(resource: "str | Resource", attr: str) -> str:
    """The reference string for output `attr` of `resource`."""
    name = resource.name if isinstance(resource, Resource) else resource
    return f"${{{name}.{attr}}}"


def literal(text: str) -> str:
    """Escape user or file text so the program never reads `${` in it as a reference."""
    return text.replace("${", "$${")


def unescape(text: str) -> str:
    return text.replace("$${", "${")


@dataclass(slots=True)
class Resource:
    type: str
    name: str
    component: str
    properties: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    source: Position | None = None
    protect: bool = False
    # Outputs to encrypt in state besides those the provider marks secret.
    secret_outputs: list[str] = field(default_factory=list)
    # Found once (see `references`), not compared or shown.
    _references: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "component": self.component,
            "properties": self.properties,
            "depends_on": list(self.depends_on),
        }
        if self.protect:
            data["protect"] = True
        if self.secret_outputs:
            data["secret_outputs"] = list(self.secret_outputs)
        if self.source is not None:
            data["source"] = f"{self.source.file}:{self.source.line}:{self.source.column}"
        return data

    def references(self) -> set[str]:
        """Names of the resources whose outputs the properties read.

        Kept once found: providers finish a resource's properties before
        anything asks, and `plan --json`, ordering and graphs all ask.
        """
        if self._references is None:
            self._references = frozenset(referenced_names(self.properties))
        return set(self._references)


# ------------------------------------------------------------------ facts for the analyses


@dataclass(frozen=True, slots=True)
class Availability:
    """The availability of ONE copy of a component, and where the figure comes from."""

    percent: float  # e.g. 99.95
    source: str  # the full citation: a published SLA, Topoform's estimate, or the blueprint override
    label: str  # the same in a few words, for tables ("RDS SLA, Single-AZ", "estimate", "override")
    variant: str = ""  # the row of the target's defaults table used beyond the kind ("multi-primary")


@dataclass(frozen=True, slots=True)
class Replica:
    """Copies of a component's data kept somewhere: how many, where, and how they follow the primary."""

    role: str  # "standby" (synchronous failover copy) | "read-replica" | "primary" (multi-primary peers)
    #            | "cross-region-replica" (the DR site's copy) | "replica" (a cache's)
    site: str  # "primary" | "dr"
    count: int
    mode: str  # "sync" | "async"


@dataclass(frozen=True, slots=True)
class Facts:
    """What a target builds for one component, as the analyses (report, lint, graph) read it.

    Recorded by each target's facts module (providers/<target>/facts.py) after
    its compile, from the blueprint and what was built, so an analysis never
    re-derives a target's behaviour. Not part of `plan --json`.

    Per-site fields have both sites, "primary" and "dr": "dr" says what a
    hot DR site runs (or would run, if the blueprint declared one: the
    report prices that as a fix); `dr_copy` says whether it runs.
    """

    copies: dict[str, int]  # site → copies serving requests there (in parallel)
    basis: dict[str, str]  # site → why that many, in words ("2 replicas", "a primary + a Multi-AZ standby")
    availability: dict[str, Availability]  # site → one copy's figure
    standby: bool = False  # a synchronous standby is among the primary copies (aws Multi-AZ)
    standby_possible: bool = False  # the target can add one (`multi_az: true` means something here)
    managed: bool = False  # the provider keeps it redundant (aws ALB/NLB, CloudFront): nothing to size
    replication: tuple[Replica, ...] = ()  # every copy of the data beyond the primary
    dr_copy: bool = False  # a copy runs at the DR site now (hot DR)
    scaling: str | None = None  # how one more copy is added: "replicas" (every site) | "redundancy"
    #                             | "multi_az" | "read_replicas" | "cache_replicas" | None (cannot)
    implementation: str = ""  # what serves it, where behaviour differs by product: "aurora-dsql",
    #                           "galera", "rds", "postgres", "elasticache", …
    promotion: float = 0.0  # seconds from losing the primary site until the DR copy takes writes
    #                         (hot DR; 0: it already does, or there is none)
    promotion_basis: str = ""  # why, in words
    zones: int | None = None  # availability zones the copies spread over (None: one host, no zones)
    region: str | None = None  # the cloud region of the primary site (None: a local engine)


@dataclass(slots=True)
class ComponentInfo:
    """One blueprint component: a Pulumi ComponentResource in the program."""

    ref: str  # "databases.users"
    type: str  # "topoform:index:Database"
    source: Position | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    facts: Facts | None = None  # what the target built, for the analyses (not in `plan --json`)

    @property
    def name(self) -> str:
        return self.ref.replace(".", "-").replace("_", "-")


@dataclass
class Plan:
    blueprint: str
    target: str
    stack: str
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    components: dict[str, ComponentInfo] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)
    # The target's table of per-copy figures (kind or kind/variant → figure), for the report.
    defaults: dict[str, Availability] = field(default_factory=dict)
    _index: dict[str, Resource] = field(default_factory=dict, repr=False)

    def add(self, resource: Resource) -> Resource:
        if resource.name in self._index:
            raise ValueError(f"two resources named {resource.name!r} in the plan (a provider bug)")
        self._index[resource.name] = resource
        self.resources.append(resource)
        return resource

    def remove(self, names: set[str]) -> None:
        """Drop the named resources (a target deferring part of a Plan to a later run)."""
        self.resources[:] = [r for r in self.resources if r.name not in names]
        for name in names:
            self._index.pop(name, None)

    def get(self, name: str) -> Resource:
        return self._index[name]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def of_type(self, token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == token]

    def of_component(self, ref: str) -> list[Resource]:
        return [r for r in self.resources if r.component == ref]

    def dependencies(self, resource: Resource) -> list[str]:
        """Explicit and implied (by reference) dependencies, sorted."""
        return sorted(set(resource.depends_on) | resource.references())

    def ordered(self) -> Iterator[Resource]:
        """Resources with every dependency before its dependents (stable otherwise).

        A depth-first walk with an explicit stack: recursive generators pass
        each resource up through every level above it, which made ordering a
        47,000-resource Plan a third of its compile.
        """
        done: set[str] = set()
        index = self._index
        for resource in self.resources:
            if resource.name in done:
                continue
            path = [resource.name]  # the dependency chain being walked, for the cycle message
            walk = [(resource, iter(self.dependencies(resource)))]
            while walk:
                node, deps = walk[-1]
                for dep in deps:
                    if dep in done:
                        continue
                    if dep in path:
                        raise ValueError("dependency cycle in the plan: " + " → ".join(path + [dep]))
                    if dep not in index:
                        raise ValueError(f"{node.name} depends on {dep!r}, which is not in the plan (a provider bug)")
                    path.append(dep)
                    walk.append((index[dep], iter(self.dependencies(index[dep]))))
                    break
                else:
                    walk.pop()
                    path.pop()
                    done.add(node.name)
                    yield node

    def as_json(self) -> dict[str, Any]:
        return {
            "blueprint": self.blueprint,
            "target": self.target,
            "stack": self.stack,
            "resources": [self._resource_json(r) for r in self.resources],
            "outputs": self.outputs,
        }

    def _resource_json(self, resource: Resource) -> dict[str, Any]:
        return {**resource.as_json(), "depends_on": self.dependencies(resource)}

    def to_json(self) -> str:
        """Deterministic text: the same blueprint gives the same bytes."""
        buffer = io.StringIO()
        self.write_json(buffer)
        return buffer.getvalue()

    def write_json(self, stream: TextIO) -> None:
        """`to_json()` written piece by piece: one resource per line (diff-friendly),
        and a 10,000-component Plan is never held twice as text."""
        with gc_paused():  # enough allocation to set off full collections of the Plan
            stream.write("{\n")
            for key in ("blueprint", "target", "stack"):
                stream.write(f"  {dumps(key)}: {dumps(getattr(self, key))},\n")
            stream.write('  "resources": [\n')
            last = len(self.resources) - 1
            for i, resource in enumerate(self.resources):
                stream.write(f"    {dumps(self._resource_json(resource))}" + (",\n" if i < last else "\n"))
            stream.write('  ],\n  "outputs": {\n')
            last = len(self.outputs) - 1
            for i, (name, value) in enumerate(self.outputs.items()):
                stream.write(f"    {dumps(name)}: {dumps(value)}" + (",\n" if i < last else "\n"))
            stream.write("  }\n}\n")
