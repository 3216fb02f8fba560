"""References between components, and typed variables.

Two kinds of reference exist in a blueprint:
- fields that take a component, written `kind.name` (`target: services.web`),
  marked in the models with `RefTo`;
- `${kind.name.attr}` and `${var.name}` inside strings.

Variables are substituted into the raw data before validation (a whole-value
`${var.x}` takes the variable's type, so `replicas: ${var.n}` is an int).
Component interpolations stay in the strings: their values (URLs, hosts) only
exist per target, at compile time. `$${` writes a literal `${`.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from dataclasses import dataclass
from typing import Any, Iterator

import yaml
from pydantic import BaseModel

from .diagnostics import Diagnostic
from .loader import Path, SourceMap
from .models import KINDS, Blueprint, Database, RefTo, Variable

INTERPOLATION_RE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_WHOLE_RE = re.compile(r"^\$\{\s*var\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}$")

# Attributes `${kind.name.attr}` may read (SPEC §1), beyond `name` on every component.
COMMON_ATTRS = ("url", "host", "port")


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


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


# ------------------------------------------------------------------ variables


_VAR_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "int": (int,), "number": (int, float), "bool": (bool,),
    "list": (list,), "map": (dict,),
}


def _type_ok(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind in ("int", "number"):
        return False
    return isinstance(value, _VAR_TYPES[kind])


def convert_text(kind: str, text: str) -> Any:
    """A `--var NAME=VALUE` string as the variable's type; ValueError if it is not one."""
    if kind == "string":
        return text
    if kind == "int":
        return int(text)
    if kind == "number":
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ValueError("expected true or false")
    value = json.loads(text) if text.strip()[:1] in "[{" else yaml.safe_load(text)
    if not _type_ok(kind, value):
        raise ValueError(f"expected a {kind}")
    return value


def resolve_variables(
    raw: dict, source: SourceMap, overrides: dict[str, Any] | None
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The value of every declared variable: override, else default, type-checked."""
    diags: list[Diagnostic] = []
    declared = raw.get("variables")
    values: dict[str, Any] = {}
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        return values, diags  # pydantic reports the wrong type of the section itself
    for name, spec in declared.items():
        path = ("variables", name)
        try:
            var = Variable.model_validate(spec)
        except Exception:
            continue  # the whole-model validation reports it, at the right key
        if var.default is not None and not _type_ok(var.type, var.default):
            diags.append(Diagnostic.at(
                source.value(path + ("default",)),
                f"variable '{name}' is declared {var.type}, but its default {var.default!r} is a {_type_word(var.default)}",
                f"make the default a {var.type}, or change `type`",
            ))
            continue
        values[name] = var.default
    for name, value in (overrides or {}).items():
        if name not in values and name not in declared:
            hint = did_you_mean(name, declared) or (
                "declare it under `variables:`" if declared else "this blueprint declares no variables"
            )
            diags.append(Diagnostic.at(source.key(("variables",)) if declared else source.value(()),
                                       f"no variable '{name}' is declared", hint))
            continue
        spec = declared.get(name)
        kind = spec.get("type", "string") if isinstance(spec, dict) else "string"
        if kind not in _VAR_TYPES:
            continue
        if isinstance(value, str) and kind != "string":
            try:
                value = convert_text(kind, value)
            except (ValueError, yaml.YAMLError):
                diags.append(Diagnostic.at(source.key(("variables", name)),
                                           f"variable '{name}' is {kind}, but the value given is {value!r}",
                                           f"pass a {kind}, e.g. --var {name}={_example(kind)}"))
                continue
        if not _type_ok(kind, value):
            diags.append(Diagnostic.at(source.key(("variables", name)),
                                       f"variable '{name}' is {kind}, but the value given is {value!r}",
                                       f"pass a {kind}, e.g. --var {name}={_example(kind)}"))
            continue
        values[name] = value
    for name in declared:
        if name in values and values[name] is None:
            diags.append(Diagnostic.at(source.key(("variables", name)),
                                       f"variable '{name}' has no default and no value was given",
                                       f"pass --var {name}=VALUE, or give it a default"))
    return values, diags


def _type_word(value: Any) -> str:
    return {bool: "bool", int: "int", float: "number", str: "string", list: "list", dict: "map"}.get(
        type(value), type(value).__name__)


def _example(kind: str) -> str:
    return {"int": "3", "number": "0.5", "bool": "true", "list": "'[a, b]'", "map": "'{a: 1}'"}.get(kind, "text")


def substitute(
    raw: Any, source: SourceMap, values: dict[str, Any]
) -> tuple[Any, list[Interpolation], list[Diagnostic]]:
    """Replace `${var.x}` everywhere but the `variables` section; collect `${kind.name.attr}`."""
    found: list[Interpolation] = []
    diags: list[Diagnostic] = []

    def text(value: str, path: Path) -> Any:
        if "${" not in value:
            return value
        whole = _WHOLE_RE.match(value)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]

        def replace(match: re.Match) -> str:
            if match.group(0) == "$${":
                return "$${"  # stays escaped until the compiler renders the string
            expr = match.group(1).strip()
            parts = expr.split(".")
            if parts[0] == "var" and len(parts) == 2:
                if parts[1] in values:
                    var_value = values[parts[1]]
                    return var_value if isinstance(var_value, str) else json.dumps(var_value)
                diags.append(Diagnostic.at(source.value(path), f"unknown variable '{parts[1]}' in '{value}'",
                                           did_you_mean(parts[1], values) or "declare it under `variables:`"))
                return match.group(0)
            if len(parts) == 3 and parts[0] in KINDS:
                found.append(Interpolation(path, parts[0], parts[1], parts[2]))
                return match.group(0)
            diags.append(Diagnostic.at(
                source.value(path), f"'${{{expr}}}' is not a reference",
                "write ${var.NAME} or ${KIND.NAME.ATTR}, e.g. ${databases.users.url}; $${ writes a literal ${",
            ))
            return match.group(0)

        return INTERPOLATION_RE.sub(replace, value)

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return text(value, path)
        if isinstance(value, dict):
            return {k: (v if path == () and k == "variables" else walk(v, path + (k,))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        return value

    return walk(raw, ()), found, diags


# ------------------------------------------------------------------ field references


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field that names a component: `target: services.web` at `path`."""

    path: Path
    ref: str
    depends: bool = True


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


def field_refs(model: BaseModel, path: Path = ()) -> Iterator[FieldRef]:
    """Every component reference held in fields of `model` and the models below it."""
    refs = _ref_fields(type(model))
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None:
            continue
        if name in refs:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    yield FieldRef(path + (name, i), item, refs[name].depends)
            else:
                yield FieldRef(path + (name,), value, refs[name].depends)
            continue
        if isinstance(value, BaseModel):
            yield from field_refs(value, path + (name,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from field_refs(item, path + (name, i))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from field_refs(item, path + (name, key))


def readable_attrs(component: Any) -> tuple[str, ...]:
    attrs: tuple[str, ...] = ("name",)
    if component.section in ("services", "load_balancers", "reverse_proxies", "cdns", "databases", "caches", "queues"):
        attrs += COMMON_ATTRS
    if isinstance(component, Database):
        if component.replica_count or component.replication.mode == "multi-primary":
            attrs += ("reader_url",)
        if component.sharding is not None:
            attrs += ("shard_urls",)
    return attrs


def owner(path: Path) -> str | None:
    """The component a path lies in: ('services', 'web', 'env', 'X') → 'services.web'."""
    if len(path) >= 2 and path[0] in KINDS:
        return f"{path[0]}.{path[1]}"
    return None


def check_references(
    bp: Blueprint, interpolations: list[Interpolation], source: SourceMap
) -> tuple[dict[str, set[str]], list[Diagnostic]]:
    """Existence and attributes of every reference; returns the dependency graph too."""
    diags: list[Diagnostic] = []
    graph: dict[str, set[str]] = {c.ref: set() for c in bp.components()}

    def exists(ref: str, path: Path) -> Any:
        component = bp.component(ref)
        if component is None:
            kind, _, name = ref.partition(".")
            section = getattr(bp, kind, {}) if kind in KINDS else {}
            hint = did_you_mean(name, section)
            hint = f"did you mean '{kind}.{hint[14:-2]}'?" if hint else (
                f"declare it under `{kind}:`" if not section else f"{kind} declares: {', '.join(sorted(section))}")
            diags.append(Diagnostic.at(source.value(path), f"'{ref}' does not exist", hint))
        return component

    for ref in field_refs(bp):
        if exists(ref.ref, ref.path) is not None and ref.depends and (src := owner(ref.path)):
            graph.setdefault(src, set()).add(ref.ref)
    for item in interpolations:
        component = exists(item.ref, item.path)
        if component is None:
            continue
        attrs = readable_attrs(component)
        if item.attr not in attrs:
            hint = did_you_mean(item.attr, attrs) or f"{item.ref} offers: {', '.join(attrs)}"
            if item.attr in ("reader_url", "shard_urls"):
                hint = ("reader_url needs replication (primary-replica)" if item.attr == "reader_url"
                        else "shard_urls needs a `sharding` section")
            diags.append(Diagnostic.at(source.value(item.path),
                                       f"{item.ref} has no attribute '{item.attr}'", hint))
        if src := owner(item.path):
            graph.setdefault(src, set()).add(item.ref)
    return graph, diags


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each elementary cycle once, as found by a depth-first walk (self-loops included)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles
