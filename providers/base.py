"""What every target shares: the build context, the kind table and the walk.

A target is a `Target`: a context factory (a `BuildContext` subclass with the
target's collaborators) and its kind table, one module per component kind
found by section name (`kind_table`): `providers/<target>/kinds/<section>.py`
with `build(ctx, component)` and `attribute(ctx, component, attr)` (or
`REFUSED = Refused(...)` when the target does not build the kind), and the
facts the analyses read, `AVAILABILITY` and `facts(ctx, component, table)`.
`compile_target` walks the blueprint in a fixed order, so the Plan is
deterministic, and collects every refusal instead of stopping at the first.
"""

from __future__ import annotations

import importlib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Protocol

from topoform.dsl.collector import gc_paused
from topoform.dsl.diagnostics import Diagnostic, Position, sorted_diagnostics
from topoform.dsl.kinds import REGISTRY
from topoform.dsl.models import KINDS, Blueprint, Component
from topoform.dsl.topology import INTERPOLATION_RE

from .plan import ComponentInfo, Plan, Resource

# Short, stable prefixes (dsl/kinds.py): resource names stay unique when two
# sections use the same component name (a `web` service and a `web` cache).
PREFIX = {kind.section: kind.prefix for kind in REGISTRY}
COMPONENT_TYPES = {kind.section: kind.component_type for kind in REGISTRY}

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
    """Blueprint features a target cannot build; carries every user-facing diagnostic found."""

    def __init__(self, diagnostics: "Diagnostic | list[Diagnostic]"):
        self.diagnostics = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    @property
    def diagnostic(self) -> Diagnostic:
        return self.diagnostics[0]


@dataclass(frozen=True, slots=True)
class Refused:
    """A kind a target explicitly does not build: every component of it is a diagnostic."""

    reason: str  # "{ref}" is replaced by the component's reference
    hint: str | None = None


class KindBuilder(Protocol):
    """One component kind on one target: a module `providers/<target>/kinds/<section>.py`.

    `AVAILABILITY` is one copy's figure with its source (`AVAILABILITY_VARIANTS`,
    optional, the rows where the product differs: `{"multi-primary": ...}`
    becomes `databases/multi-primary`); `facts` says how many copies run where
    (providers/facts.py holds the functions kinds alike on both targets share).
    A module with `REFUSED` in place of `build` and `attribute` is a kind the
    target does not build; its facts still let `report` analyse the design.
    """

    AVAILABILITY: Any  # providers.plan.Availability

    def build(self, ctx: Any, component: Any) -> None: ...

    def attribute(self, ctx: Any, component: Any, attr: str) -> str: ...

    def facts(self, ctx: Any, component: Any, table: Mapping[str, Any]) -> Any: ...


def refusal(builder: Any) -> Refused | None:
    """The `Refused` of a kind module the target does not build, else None."""
    return getattr(builder, "REFUSED", None)


def kind_table(package: str, also: tuple[str, ...] = ()) -> dict[str, KindBuilder]:
    """A target's kind table: `<package>.kinds.<section>` for every kind of the registry, in its order.

    Found by name rather than listed, so a new kind is its registry entry and
    one module per target. A missing module, or one without what the walk and
    the analyses call (`also`: the target's own extra functions), is an
    ImportError naming the kind and the file, when the target is first loaded.
    """
    folder = package.removeprefix("topoform.").replace(".", "/")
    table: dict[str, KindBuilder] = {}
    for kind in REGISTRY:
        name, path = f"{package}.kinds.{kind.section}", f"{folder}/kinds/{kind.section}.py"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            raise ImportError(f"the {kind.section} kind ({kind.word}) has no module on this target: add {path} "
                              f"with build, attribute{''.join(', ' + a for a in also)}, AVAILABILITY and facts, "
                              "or REFUSED = Refused(...) with AVAILABILITY and facts", name=name) from None
        needs = ("AVAILABILITY", "facts") + (() if refusal(module) else ("build", "attribute") + also)
        missing = [attr for attr in needs if not hasattr(module, attr)]
        if missing:
            raise ImportError(f"{path} (the {kind.section} kind) has no {', '.join(missing)}", name=name)
        table[kind.section] = module
    return table


@dataclass(frozen=True)
class Target:
    """What a target is: its context, its table of kinds, and the non-component passes.

    `kinds` maps every section of `dsl.kinds.REGISTRY` to its kind module
    (`kind_table`), one that builds it or one that is `REFUSED`. The hooks take `(ctx, section)`;
    `platform`, `finish` and `facts` take `(ctx)`.
    """

    name: str
    context: Callable[[Blueprint, str], "BuildContext"]
    kinds: Mapping[str, KindBuilder]
    platform: Callable[[Any], None] | None = None
    dns: Callable[[Any, Any], None] | None = None
    disaster_recovery: Callable[[Any, Any], None] | None = None
    slos: Callable[[Any, Any], None] | None = None
    finish: Callable[[Any], None] | None = None
    # Records each component's `Facts` on the Plan (providers/<target>/facts.py `record`),
    # after the walk: what the analyses read instead of re-deriving the target.
    facts: Callable[[Any], None] | None = None


class BuildContext:
    """The state of one compile, passed explicitly to every builder.

    Targets subclass it with their collaborators (networks, sites, …); builders
    read and write only through it, so no state is shared behind their backs.
    """

    target: str = ""

    def __init__(self, bp: Blueprint, stack: str = "dev", kinds: Mapping[str, Any] | None = None):
        self.bp = bp
        self.stack = stack
        self.plan = Plan(bp.blueprint, self.target, stack)
        self.kinds: Mapping[str, Any] = kinds or {}
        self.problems: list[Diagnostic] = []
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
        """An error to raise: it ends the current component's build, and the walk goes on."""
        pos = self.position(*path) or Position(self.bp.file, 1, 1)
        return UnsupportedError(Diagnostic.at(pos, message, hint))

    def refuse(self, message: str, hint: str | None = None, *path: str | int) -> None:
        """Record a problem and carry on building (for checks that need not stop the build)."""
        self.problems.extend(self.unsupported(message, hint, *path).diagnostics)

    # ---------------------------------------------------------------- components

    @staticmethod
    def prefix(component: Component) -> str:
        return f"{PREFIX[component.section]}-{component.name}"

    def component_info(self, ref: str, source_path: tuple = ()) -> ComponentInfo:
        """The Plan's entry for component `ref`, made (with its blueprint position) on first use."""
        info = self.plan.components.get(ref)
        if info is None:
            section = ref.partition(".")[0]
            kind = COMPONENT_TYPES.get(section) or PSEUDO_TYPES[ref]
            info = ComponentInfo(ref, kind, self.position(*(source_path or tuple(ref.split(".")))))
            self.plan.components[ref] = info
        return info

    @contextmanager
    def owning(self, ref: str, source_path: tuple = ()) -> Iterator[ComponentInfo]:
        """Resources added inside belong to component `ref` (`databases.users`, or `dns`)."""
        info = self.component_info(ref, source_path)
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
        builder = self.kinds.get(component.section)
        if builder is None or refusal(builder) is not None:
            raise self.unsupported(f"{component.ref}.{attr}: {component.section} are not built on the "
                                   f"{self.target} target", None, component.section, component.name)
        return builder.attribute(self, component, attr)

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

    # ---------------------------------------------------------------- collected problems

    def attempt(self, build: Callable[[], None]) -> None:
        """Run one build step; a refusal is recorded and the walk carries on."""
        try:
            build()
        except UnsupportedError as exc:
            self.problems.extend(exc.diagnostics)


def compile_target(target: Target, bp: Blueprint, stack: str = "dev") -> Plan:
    """Walk the blueprint in a fixed order (a deterministic Plan); every refusal is collected
    and raised together at the end, so one run names every problem."""
    ctx = target.context(bp, stack)
    with gc_paused():  # many small objects, no cycles: see dsl/collector.py
        if target.platform is not None:
            with ctx.owning(PLATFORM, ()):
                ctx.attempt(lambda: target.platform(ctx))
        for section in KINDS:
            builder = target.kinds[section]
            refused = refusal(builder)
            for component in getattr(bp, section).values():
                if refused is not None:
                    ctx.refuse(refused.reason.format(ref=component.ref), refused.hint, section, component.name)
                    continue
                with ctx.owning(component.ref):
                    ctx.attempt(lambda: builder.build(ctx, component))
        for key, section, hook in ((DNS, bp.dns, target.dns), (RECOVERY, bp.disaster_recovery,
                                   target.disaster_recovery), (SLOS, bp.slos, target.slos)):
            if section is not None and hook is not None:
                with ctx.owning(key, (key,)):
                    ctx.attempt(lambda: hook(ctx, section))
        if target.finish is not None and not ctx.problems:
            target.finish(ctx)
        if target.facts is not None and not ctx.problems:
            target.facts(ctx)
    if ctx.problems:
        raise UnsupportedError(sorted_diagnostics(ctx.problems))
    return ctx.plan
