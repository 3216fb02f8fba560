"""Who references whom in a blueprint: one topology, built once, read by every stage.

A component names another in two ways: a field holding `kind.name`
(`target: services.web`, `in_front_of: databases.users`, a queue's
`consumers`), and a `${kind.name.attr}` inside a string. Validation finds
both (dsl/references.py checks them); the compilers need what each service
reads (security groups, grants, environment values), the analyses need the
same edges to draw and to multiply availabilities. Deriving them here once
keeps those stages from disagreeing about the architecture.

The validate path builds the topology from what it already collected (the
interpolations found while substituting variables, and the field references
it checks), so it costs one pass over those lists; a Blueprint made another
way is scanned on first use. `topology(bp)` keeps it while the Blueprint lives.
"""

from __future__ import annotations

import re
import typing
import weakref
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from pydantic import BaseModel

from .kinds import BY_SECTION, STORE_SECTIONS
from .models import Blueprint, RefTo

Path = tuple[str | int, ...]

INTERPOLATION_RE = re.compile(r"\$\$\{|\$\{([^}]*)\}")

PRIMARY = "primary"
DR = "dr"


@dataclass(frozen=True, slots=True)
class Interpolation:
    """One `${kind.name.attr}` found in a string at `path`."""

    path: Path
    kind: str
    name: str
    attr: str

    @property
    def ref(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field that names a component: `target: services.web` at `path`."""

    path: Path
    ref: str
    depends: bool = True


@dataclass(frozen=True, slots=True)
class Read:
    """Service `service` reads `${target.attr}` in env key `env` (None: in its command)."""

    service: str
    target: str
    attr: str
    env: str | None

    @property
    def key(self) -> str:
        """The env key, or `command`: where the value is used, for messages."""
        return self.env if self.env is not None else "command"


def owner(path: Path) -> str | None:
    """The component a path lies in: ('services', 'web', 'env', 'X') → 'services.web'."""
    if len(path) >= 2 and path[0] in BY_SECTION:
        return f"{path[0]}.{path[1]}"
    return None


# ------------------------------------------------------------------ field references


def _ref_fields(model: type[BaseModel]) -> dict[str, RefTo]:
    """The fields of `model` whose value (or list items) are references (cached per class)."""
    cached = _REF_FIELD_CACHE.get(model)
    if cached is None:
        cached = {}
        for name, info in model.model_fields.items():
            markers = [m for m in info.metadata if isinstance(m, RefTo)]
            if not markers:
                for arg in _flatten(info.annotation):
                    markers += [m for m in getattr(arg, "__metadata__", ()) if isinstance(m, RefTo)]
            if markers:
                cached[name] = markers[0]
        _REF_FIELD_CACHE[model] = cached
    return cached


_REF_FIELD_CACHE: dict[type, dict[str, RefTo]] = {}


def _flatten(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _flatten(arg)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    return [a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]


def _walk_plan(model: type[BaseModel], visiting: frozenset = frozenset()) -> tuple[tuple[str, str], ...]:
    """Which fields of `model` can hold references, and how: ('ref' | 'model', name).

    Computed once per class from the annotations, so the walk skips every
    field that cannot hold a reference (images, env, durations, …): on a
    large blueprint that is most of the data.
    """
    cached = _WALK_PLANS.get(model)
    if cached is not None:
        return cached
    refs = _ref_fields(model)
    plan = []
    for name, info in model.model_fields.items():
        if name in refs:
            plan.append(("ref", name))
            continue
        inner = [m for m in _models_in(info.annotation) if m not in visiting]
        if any(_walk_plan(m, visiting | {model}) for m in inner):
            plan.append(("model", name))
    result = tuple(plan)
    _WALK_PLANS[model] = result
    return result


_WALK_PLANS: dict[type, tuple[tuple[str, str], ...]] = {}


def field_refs(model: BaseModel, path: Path = ()) -> Iterator[FieldRef]:
    """Every component reference held in fields of `model` and the models below it."""
    cls = type(model)
    fields = model.__dict__
    for how, name in _walk_plan(cls):
        value = fields.get(name)
        if value is None:
            continue
        if how == "ref":
            depends = _ref_fields(cls)[name].depends
            if isinstance(value, list):
                for i, item in enumerate(value):
                    yield FieldRef(path + (name, i), item, depends)
            else:
                yield FieldRef(path + (name,), value, depends)
        elif isinstance(value, BaseModel):
            yield from field_refs(value, path + (name,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from field_refs(item, path + (name, i))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from field_refs(item, path + (name, key))


# ------------------------------------------------------------------ interpolations


def interpolations_in(text: str, path: Path) -> Iterator[Interpolation]:
    """Each well-formed `${kind.name.attr}` naming a component kind in `text` (`$${` is a literal)."""
    if "${" not in text:
        return
    for match in INTERPOLATION_RE.finditer(text):
        if match.group(1) is None:
            continue
        parts = match.group(1).strip().split(".")
        if len(parts) == 3 and parts[0] in BY_SECTION and all(parts):
            yield Interpolation(path, parts[0], parts[1], parts[2])


def _scan(value: Any, path: Path) -> Iterator[Interpolation]:
    """Every interpolation in the strings of a validated model (for Blueprints not made by validate)."""
    if isinstance(value, str):
        yield from interpolations_in(value, path)
    elif isinstance(value, BaseModel):
        for name, item in value.__dict__.items():
            if item is not None and not (path == () and name == "variables"):
                yield from _scan(item, path + (name,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _scan(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _scan(item, path + (i,))


# ------------------------------------------------------------------ the topology


@dataclass
class Topology:
    """The references of one blueprint, indexed the ways the stages ask for them.

    `fields` and `interpolations` are every reference as written (targets may
    not exist in a blueprint that failed validation). `reads` is what each
    service reads in its env values and command, the strings the compilers
    interpolate, in that order (env keys as written, then the command).
    """

    fields: tuple[FieldRef, ...]
    interpolations: tuple[Interpolation, ...]
    reads: dict[str, tuple[Read, ...]]
    readers: dict[str, tuple[Read, ...]]
    consumers: dict[str, tuple[str, ...]]
    in_front_of: dict[str, str]
    dr_strategy: str | None

    # ---------------------------------------------------------------- questions

    def reads_of(self, service: str) -> tuple[Read, ...]:
        return self.reads.get(service, ())

    def users(self, target: str) -> list[str]:
        """Services that read an attribute of `target`, in blueprint order, each once."""
        return list(dict.fromkeys(read.service for read in self.readers.get(target, ())))

    def consumers_of(self, queue: str) -> tuple[str, ...]:
        """Services reading a queue, from either side of the link: its `consumers`, then `consumes`."""
        return self.consumers.get(queue, ())

    def store_reads(self, service: str) -> list[Read]:
        """What `service` reads of data stores (the grants and security-group rules it needs)."""
        return [read for read in self.reads_of(service) if read.target.partition(".")[0] in STORE_SECTIONS]

    @property
    def has_dr_site(self) -> bool:
        """A `disaster_recovery` section is declared (docker then builds a second site network)."""
        return self.dr_strategy is not None

    @property
    def hot_dr(self) -> bool:
        """The DR site runs a live copy of the stateless tier, caches and queues."""
        return self.dr_strategy == "hot"

    @property
    def running_sites(self) -> tuple[str, ...]:
        """Sites where services, balancers and caches run: the DR site too when it is hot."""
        return (PRIMARY, DR) if self.hot_dr else (PRIMARY,)


def build(bp: Blueprint, interpolations: Iterable[Interpolation] | None = None,
          fields: Iterable[FieldRef] | None = None) -> Topology:
    """The topology of `bp`, from references already collected (validate) or by scanning it."""
    found = tuple(_scan(bp, ()) if interpolations is None else interpolations)
    written = tuple(field_refs(bp) if fields is None else fields)
    reads: dict[str, list[Read]] = {}
    for item in found:
        path = item.path
        if len(path) >= 4 and path[0] == "services" and path[2] in ("env", "command"):
            env = path[3] if path[2] == "env" else None
            reads.setdefault(f"services.{path[1]}", []).append(Read(f"services.{path[1]}", item.ref, item.attr, env))
    ordered: dict[str, tuple[Read, ...]] = {}
    readers: dict[str, list[Read]] = {}
    for service in bp.services.values():  # blueprint order, env keys as written, then the command
        mine = reads.get(service.ref)
        if not mine:
            continue
        if len(mine) > 1:
            position = {key: i for i, key in enumerate(service.env)}
            mine.sort(key=lambda r: (1, 0) if r.env is None else (0, position.get(r.env, 0)))
        ordered[service.ref] = tuple(mine)
        for read in mine:
            readers.setdefault(read.target, []).append(read)
    listed: dict[str, list[str]] = {queue.ref: list(queue.consumers) for queue in bp.queues.values()}
    for service in bp.services.values():
        for queue_ref in service.consumes:
            listed.setdefault(queue_ref, []).append(service.ref)
    return Topology(
        fields=written, interpolations=found, reads=ordered,
        readers={target: tuple(items) for target, items in readers.items()},
        consumers={queue: tuple(dict.fromkeys(services)) for queue, services in listed.items()},
        in_front_of={cache.ref: cache.in_front_of for cache in bp.caches.values() if cache.in_front_of},
        dr_strategy=bp.disaster_recovery.strategy if bp.disaster_recovery is not None else None,
    )


# id(Blueprint) → (a weak reference to it, its topology). Not a field of the model:
# pydantic compares private attributes in `==`, and a cache must not change equality.
_CACHE: dict[int, tuple[weakref.ref, Topology]] = {}


def topology(bp: Blueprint) -> Topology:
    """The topology of `bp`, built on first use and kept while the Blueprint lives."""
    entry = _CACHE.get(id(bp))
    if entry is not None and entry[0]() is bp:
        return entry[1]
    found = build(bp)
    remember(bp, found)
    return found


def remember(bp: Blueprint, found: Topology) -> None:
    """Keep `found` as the topology of `bp` (validate builds it from what it collected)."""
    key = id(bp)
    _CACHE[key] = (weakref.ref(bp, lambda _ref: _CACHE.pop(key, None)), found)
