"""What every target's compiler shares: naming, sources, interpolation, tags.

A target subclasses `Compiler`, names its per-kind methods `compile_<section>`
and `attribute()`; the base walks the blueprint in a fixed order so the Plan
is deterministic.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

from topoform.dsl.collector import gc_paused
from topoform.dsl.diagnostics import Diagnostic, Position
from topoform.dsl.models import KINDS, Blueprint, Component
from topoform.dsl.references import INTERPOLATION_RE

from .plan import ComponentInfo, Plan, Resource

# Short, stable prefixes: resource names stay unique when two sections use
# the same component name (a `web` service and a `web` cache).
PREFIX = {
    "services": "svc", "load_balancers": "lb", "reverse_proxies": "rp", "cdns": "cdn",
    "databases": "db", "caches": "cache", "queues": "queue",
}
COMPONENT_TYPES = {
    "services": "topoform:index:Service", "load_balancers": "topoform:index:LoadBalancer",
    "reverse_proxies": "topoform:index:ReverseProxy", "cdns": "topoform:index:Cdn",
    "databases": "topoform:index:Database", "caches": "topoform:index:Cache",
    "queues": "topoform:index:Queue",
}
# Components that are not blueprint components: shared infrastructure.
PLATFORM = "platform"
DNS = "dns"
RECOVERY = "disaster_recovery"
SLOS = "slos"
PSEUDO_TYPES = {
    PLATFORM: "topoform:index:Platform", DNS: "topoform:index:Dns",
    RECOVERY: "topoform:index:DisasterRecovery", SLOS: "topoform:index:Slos",
}


class UnsupportedError(Exception):
    """A blueprint feature this target cannot build; carries a user-facing diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic
        super().__init__(diagnostic.render())


class Compiler:
    target: str = ""

    def __init__(self, bp: Blueprint, stack: str = "dev"):
        self.bp = bp
        self.stack = stack
        self.plan = Plan(bp.blueprint, self.target, stack)
        self._component: str = PLATFORM

    # ---------------------------------------------------------------- positions

    def position(self, *path: str | int) -> Position | None:
        source = self.bp.source
        if source is None:
            return None
        return source.key(tuple(path)) if path else source.value(())

    def warn(self, message: str, hint: str | None = None, *path: str | int) -> None:
        pos = self.position(*path) or Position(self.bp.file, 1, 1)
        self.plan.warnings.append(Diagnostic.at(pos, message, hint, severity="warning"))

    def unsupported(self, message: str, hint: str | None = None, *path: str | int) -> UnsupportedError:
        pos = self.position(*path) or Position(self.bp.file, 1, 1)
        return UnsupportedError(Diagnostic.at(pos, message, hint))

    # ---------------------------------------------------------------- components

    @staticmethod
    def prefix(component: Component) -> str:
        return f"{PREFIX[component.section]}-{component.name}"

    @contextmanager
    def owning(self, ref: str, source_path: tuple = ()) -> Iterator[ComponentInfo]:
        """Resources added inside belong to component `ref` (`databases.users`, or `dns`)."""
        info = self.plan.components.get(ref)
        if info is None:
            section = ref.partition(".")[0]
            kind = COMPONENT_TYPES.get(section) or PSEUDO_TYPES[ref]
            info = ComponentInfo(ref, kind, self.position(*(source_path or tuple(ref.split(".")))))
            self.plan.components[ref] = info
        previous, self._component = self._component, ref
        try:
            yield info
        finally:
            self._component = previous

    def add(self, type_token: str, name: str, properties: dict[str, Any], *,
            depends_on: list[str] | None = None, protect: bool = False,
            secret_outputs: list[str] | None = None, source: Position | None = None) -> Resource:
        info = self.plan.components.get(self._component)
        resource = Resource(
            type=type_token, name=name, component=self._component, properties=properties,
            depends_on=list(depends_on or ()), source=source or (info.source if info else None),
            protect=protect, secret_outputs=list(secret_outputs or ()),
        )
        return self.plan.add(resource)

    def tags(self, component: str | None = None) -> dict[str, str]:
        return {
            "topoform:blueprint": self.bp.blueprint,
            "topoform:stack": self.stack,
            "topoform:component": component or self._component,
        }

    # ---------------------------------------------------------------- interpolation

    def attribute(self, component: Component, attr: str) -> str:
        """The Plan string for `${kind.name.attr}` on this target (with `${res.attr}` refs)."""
        raise NotImplementedError(f"{type(self).__name__} must say how to read component attributes")

    def interpolate(self, text: str) -> str:
        """User text with `${kind.name.attr}` replaced by this target's values."""
        if "${" not in text:
            return text

        def replace(match: re.Match) -> str:
            if match.group(0) == "$${":
                return "$${"
            kind, name, attr = match.group(1).strip().split(".")
            component = getattr(self.bp, kind)[name]
            return self.attribute(component, attr)

        return INTERPOLATION_RE.sub(replace, text)

    # ---------------------------------------------------------------- the walk

    def compile(self) -> Plan:
        with gc_paused():  # many small objects, no cycles: see dsl/collector.py
            with self.owning(PLATFORM, ()):
                self.compile_platform()
            for kind in KINDS:
                for component in getattr(self.bp, kind).values():
                    with self.owning(component.ref):
                        getattr(self, f"compile_{kind}")(component)
            if self.bp.dns is not None:
                with self.owning(DNS, ("dns",)):
                    self.compile_dns(self.bp.dns)
            if self.bp.disaster_recovery is not None:
                with self.owning(RECOVERY, ("disaster_recovery",)):
                    self.compile_disaster_recovery(self.bp.disaster_recovery)
            if self.bp.slos is not None:
                with self.owning(SLOS, ("slos",)):
                    self.compile_slos(self.bp.slos)
            self.finish()
        return self.plan

    def compile_platform(self) -> None:
        """Shared infrastructure (networks, clusters)."""

    def finish(self) -> None:
        """Last pass: outputs, anything that needs every component compiled."""
