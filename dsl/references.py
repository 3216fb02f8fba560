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
from typing import Any

import yaml

from .diagnostics import Diagnostic
from .kinds import BY_SECTION
from .loader import Path, SourceMap
from .models import KINDS, Blueprint, Database, Variable
# The reference walk lives in topology.py (one topology of the blueprint); these
# names stay importable from here for the stages that checked references first.
from .topology import INTERPOLATION_RE, FieldRef, Interpolation, build, field_refs, owner, remember  # noqa: F401

_WHOLE_RE = re.compile(r"^\$\{\s*var\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}$")



def closest(word: str, choices: typing.Iterable[str]) -> str | None:
    """The choice closest to a misspelt `word`, if one is close enough."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str | None:
    close = closest(word, choices)
    return f"did you mean '{close}'?" if close else None


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
    value = yaml.safe_load(text)  # YAML flow style, so JSON too: [a, b], {"a": 1}
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
        if not _VAR_NAME_RE.match(name):
            diags.append(Diagnostic.at(source.key(path), f"'{name}' is not a valid variable name",
                                       "a variable name is letters, digits, '_' and '-', starting with a letter or '_'"))
            continue
        try:
            var = Variable.model_validate(spec)
        except Exception:
            continue  # the whole-model validation reports it, at the right key
        if var.default is not None and not _type_ok(var.type, var.default):
            shown = "(hidden: sensitive)" if var.sensitive else repr(var.default)
            diags.append(Diagnostic.at(
                source.value(path + ("default",)),
                f"variable '{name}' is declared {var.type}, but its default {shown} is a {_type_word(var.default)}",
                f"make the default {_a(var.type)}, or change `type`",
            ))
            continue
        values[name] = var.default
    for name, value in (overrides or {}).items():
        if name not in values and name not in declared:
            hint = did_you_mean(name, declared) or (
                "declare it under `variables:`" if declared else "this blueprint declares no variables"
            )
            diags.append(Diagnostic.at(source.key(("variables",)) if declared else source.value(()),
                                       f"a value was given for '{name}', but no such variable is declared", hint))
            continue
        spec = declared.get(name)
        kind = spec.get("type", "string") if isinstance(spec, dict) else "string"
        if kind not in _VAR_TYPES:
            continue  # the declaration's own error is reported
        sensitive = isinstance(spec, dict) and spec.get("sensitive") is True
        shown = "(hidden: sensitive)" if sensitive else repr(value)
        if isinstance(value, str) and kind != "string":
            try:
                value = convert_text(kind, value)
            except (ValueError, yaml.YAMLError):
                diags.append(Diagnostic.at(source.key(("variables", name)),
                                           f"variable '{name}' is {kind}, but the value given is {shown}",
                                           f"pass {_a(kind)}, e.g. --var {name}={_example(kind)}"))
                continue
        if not _type_ok(kind, value):
            diags.append(Diagnostic.at(source.key(("variables", name)),
                                       f"variable '{name}' is {kind}, but the value given is {shown}",
                                       f"pass {_a(kind)}, e.g. --var {name}={_example(kind)}"))
            continue
        values[name] = value
    for name in declared:
        if name in values and values[name] is None:
            diags.append(Diagnostic.at(source.key(("variables", name)),
                                       f"variable '{name}' has no default and no value was given",
                                       f"pass --var {name}=VALUE, or give it a default"))
    return values, diags


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _type_word(value: Any) -> str:
    return {bool: "bool", int: "int", float: "number", str: "string", list: "list", dict: "map"}.get(
        type(value), type(value).__name__)


def _example(kind: str) -> str:
    return {"int": "3", "number": "0.5", "bool": "true", "list": "'[a, b]'", "map": "'{a: 1}'"}.get(kind, "text")


_VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_REFERENCE_HINT = "write ${var.NAME} or ${KIND.NAME.ATTR}, e.g. ${databases.users.url}; $${ writes a literal ${"


class _Substituter:
    """Replaces `${var.x}` in strings and collects `${kind.name.attr}`, with diagnostics."""

    def __init__(self, source: SourceMap, values: dict[str, Any], broken: frozenset[str] = frozenset()):
        self.source = source
        self.values = values
        # Declared variables whose declaration or value is already reported: a
        # use is not reported again ("unknown variable"), and nor is what the
        # unsubstituted text then fails (see `covered`).
        self.broken = broken
        self.found: list[Interpolation] = []
        self.diags: list[Diagnostic] = []
        self.from_vars: dict[Path, str] = {}  # path → the variable a whole value came from
        self.covered: list[Path] = []  # paths left unsubstituted because a variable is broken

    def error(self, path: Path, message: str, hint: str | None) -> None:
        self.diags.append(Diagnostic.at(self.source.value(path), message, hint))

    def text(self, value: str, path: Path) -> Any:
        if "${" not in value:
            return value
        whole = _WHOLE_RE.match(value)
        if whole and whole.group(1) in self.values and whole.group(1) not in self.broken:
            self.from_vars[path] = whole.group(1)
            return self.values[whole.group(1)]
        rest = INTERPOLATION_RE.sub("", value)
        if "${" in rest:
            self.error(path, f"'${{' is not closed in '{value}'", "close it with '}', or write $${ for a literal ${")
        return INTERPOLATION_RE.sub(lambda match: self.replace(match, value, path), value)

    def replace(self, match: re.Match, value: str, path: Path) -> str:
        if match.group(0) == "$${":
            return "$${"  # stays escaped until the compiler renders the string
        expr = match.group(1).strip()
        parts = expr.split(".")
        head = parts[0]
        if head == "var":
            if len(parts) != 2 or not parts[1]:
                self.error(path, f"'${{{expr}}}' is not a variable reference",
                           "write ${var.NAME}; a variable is read whole")
                return match.group(0)
            if parts[1] in self.broken:
                self.covered.append(path)
                return match.group(0)
            if parts[1] in self.values:
                var_value = self.values[parts[1]]
                return var_value if isinstance(var_value, str) else json.dumps(var_value)
            self.error(path, f"unknown variable '{parts[1]}' in '{value}'",
                       did_you_mean(parts[1], self.values) or "declare it under `variables:`")
            return match.group(0)
        if head in KINDS:
            if len(parts) == 3 and all(parts):
                self.found.append(Interpolation(path, head, parts[1], parts[2]))
                return match.group(0)
            if len(parts) == 2 and parts[1]:
                self.error(path, f"'${{{expr}}}' names a component but no attribute",
                           f"add the attribute to read, e.g. ${{{expr}.url}} or ${{{expr}.host}}")
                return match.group(0)
        elif len(parts) >= 2 and (close := did_you_mean(head, (*KINDS, "var"))):
            self.error(path, f"'${{{expr}}}' names no section '{head}'", close)
            return match.group(0)
        self.error(path, f"'${{{expr}}}' is not a reference", _REFERENCE_HINT)
        return match.group(0)


def substitute(
    raw: Any, source: SourceMap, values: dict[str, Any]
) -> tuple[Any, list[Interpolation], list[Diagnostic]]:
    """Replace `${var.x}` everywhere but the `variables` section; collect `${kind.name.attr}`.

    Returns a new value; the validator uses `substitute_in_place`, which visits
    only the strings the loader saw holding `${`.
    """
    sub = _Substituter(source, values)

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return sub.text(value, path)
        if isinstance(value, dict):
            return {k: (v if path == () and k == "variables" else walk(v, path + (k,))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        return value

    return walk(raw, ()), sub.found, sub.diags


def substitute_in_place(
    data: dict, source: SourceMap, values: dict[str, Any], paths: list[Path],
    broken: frozenset[str] = frozenset(),
) -> tuple[list[Interpolation], list[Diagnostic], dict[Path, str], list[Path]]:
    """`substitute`, writing into `data` at `paths` (the strings holding `${`).

    Also returns which paths took a whole variable's value, so a type error
    there can say where the value came from, and which were left as written
    because they use a `broken` variable (an error there follows from the
    variable's own).
    """
    sub = _Substituter(source, values, broken)
    for path in paths:
        if not path or path[0] == "variables":
            continue
        parent: Any = data
        for part in path[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        last = path[-1]
        if isinstance(parent, dict) and last in parent or isinstance(parent, list) and isinstance(last, int) \
                and 0 <= last < len(parent):
            value = parent[last]
            if isinstance(value, str):
                parent[last] = sub.text(value, path)
    return sub.found, sub.diags, sub.from_vars, sub.covered


# ------------------------------------------------------------------ field references


def readable_attrs(component: Any) -> tuple[str, ...]:
    kind = BY_SECTION.get(component.section)
    attrs: tuple[str, ...] = kind.attributes if kind is not None else ("name",)
    if isinstance(component, Database):
        if component.replica_count or component.replication.mode == "multi-primary":
            attrs += ("reader_url",)
        if component.sharding is not None:
            attrs += ("shard_urls",)
    return attrs


def _missing_hint(bp: Blueprint, ref: str, known: set[str] = frozenset()) -> str:
    kind, _, name = ref.partition(".")
    section = getattr(bp, kind, None) if kind in KINDS else None
    # Components written but left out of `bp` (their own errors are reported) count too.
    section = {*(section or ()), *(k.partition(".")[2] for k in known if k.partition(".")[0] == kind)}
    if not section:
        return f"declare it under `{kind}:`"
    close = closest(name, sorted(section))
    if close:
        return f"did you mean '{kind}.{close}'?"
    names = sorted(section)
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"{kind} declares: {shown}"


def substituted_at(path: Path) -> bool:
    """Whether a component interpolation at `path` is filled in by the targets.

    Only a service's environment and command are built after the components
    they read (they become Pulumi outputs); anywhere else, an image tag or a
    health path, the text would reach the Plan as written.
    """
    return len(path) >= 4 and path[0] == "services" and path[2] in ("env", "command")


def check_references(
    bp: Blueprint, interpolations: list[Interpolation], source: SourceMap,
    known: set[str] | None = None, edge_paths: dict[tuple[str, str], Path] | None = None,
) -> tuple[dict[str, set[str]], list[Diagnostic]]:
    """Existence and attributes of every reference; returns the dependency graph too.

    `known`: components written in the file but left out of `bp` because they
    have errors of their own; a reference to one is not reported as missing.
    `edge_paths` (filled if given): where each edge of the graph was written
    first, so a cycle can point at a reference rather than at a name.
    """
    diags: list[Diagnostic] = []
    graph: dict[str, set[str]] = {f"{kind}.{name}": set() for kind in KINDS for name in getattr(bp, kind)}
    known = known or set()
    edges = edge_paths if edge_paths is not None else {}

    def exists(ref: str, path: Path) -> Any:
        component = bp.component(ref)
        if component is None and ref not in known:
            diags.append(Diagnostic.at(source.value(path), f"'{ref}' does not exist", _missing_hint(bp, ref, known)))
        return component

    def edge(src: str, dst: str, path: Path) -> None:
        graph.setdefault(src, set()).add(dst)
        edges.setdefault((src, dst), path)

    found = build(bp, interpolations, list(field_refs(bp)))
    remember(bp, found)
    for ref in found.fields:
        if exists(ref.ref, ref.path) is not None and ref.depends and (src := owner(ref.path)):
            edge(src, ref.ref, ref.path)
    for item in interpolations:
        if not substituted_at(item.path):
            diags.append(Diagnostic.at(
                source.value(item.path),
                f"${{{item.ref}.{item.attr}}} is not substituted here: component values are filled in "
                f"only in a service's `env` and `command`",
                "write the value itself, or a variable (`${var.NAME}` works in every string); "
                "`$${` writes a literal `${`"))
            continue
        component = exists(item.ref, item.path)
        if component is None:
            continue
        attrs = readable_attrs(component)
        if item.attr not in attrs:
            if item.attr == "reader_url" and isinstance(component, Database):
                hint = "reader_url needs `replication: {mode: primary-replica}` (or multi-primary)"
            elif item.attr == "shard_urls" and isinstance(component, Database):
                hint = "shard_urls needs a `sharding` section"
            else:
                hint = did_you_mean(item.attr, attrs) or f"{item.ref} offers: {', '.join(attrs)}"
            diags.append(Diagnostic.at(source.value(item.path),
                                       f"{item.ref} has no attribute '{item.attr}'", hint))
        # A name is known before anything is built, so reading one (even a
        # component's own, `${services.api.name}` in its env) orders nothing.
        if item.attr != "name" and (src := owner(item.path)):
            edge(src, item.ref, item.path)
    return graph, diags


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle closed by a back edge of a depth-first walk, once (self-loops included).

    Iterative, so a chain of any length cannot exhaust Python's stack; the
    walk visits nodes and edges in sorted order, so the result is stable.
    """
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in sorted(graph):
        if root in state:
            continue
        stack = [root]
        depth = {root: 0}
        state[root] = 1
        pending = [iter(sorted(graph.get(root, ())))]
        while pending:
            for nxt in pending[-1]:
                seen = state.get(nxt)
                if seen == 1:
                    cycles.append(stack[depth[nxt]:] + [nxt])
                elif seen is None:
                    state[nxt] = 1
                    depth[nxt] = len(stack)
                    stack.append(nxt)
                    pending.append(iter(sorted(graph.get(nxt, ()))))
                    break
            else:
                pending.pop()
                done = stack.pop()
                state[done] = 2
                del depth[done]
    return cycles
