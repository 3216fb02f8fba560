"""The whole front end: file → (Blueprint | None, diagnostics), never an exception.

    text ─load─▶ data + SourceMap ─variables─▶ data ─pydantic─▶ Blueprint ─refs, rules─▶ checked

Every stage carries on past errors where it can, so a user sees all the
problems of a file at once; a Blueprint is only returned with no errors.
"""

from __future__ import annotations

import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from .collector import gc_paused
from .diagnostics import BlueprintError, Diagnostic, has_errors, shown as _shown, sorted_diagnostics
from .loader import Loaded, Path, SourceMap, load_file, load_text
from .models import KINDS, NAME_PATTERN, NAME_RE, TARGETS, Blueprint
from .references import (
    check_references, closest, did_you_mean, find_cycles, resolve_variables, substitute_in_place,
)
from .rules import check
from .suggestions import choice_hint


@dataclass
class Validated:
    """What validation made of a blueprint: the model (None on errors) and every diagnostic."""

    blueprint: Blueprint | None
    diagnostics: list[Diagnostic]
    source: SourceMap
    target: str = "docker"
    interpolations: list = field(default_factory=list)
    # The diagnostics that do not depend on the target (all but the target's rules): `for_target` reuses them.
    shared: list[Diagnostic] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.blueprint is not None and not has_errors(self.diagnostics)


def for_target(result: Validated, target: str) -> Validated:
    """`result`, a blueprint that passed, checked for another target it lists.

    Only the target's own rules run again (`multi_az` on docker, …): loading,
    variables, pydantic and references do not depend on the target, and
    running them once per target doubled `validate` on a two-target blueprint.
    """
    bp = result.blueprint
    if bp is None or target not in bp.targets:
        raise ValueError(f"for_target needs a valid blueprint that lists {target!r}")
    diags = sorted_diagnostics(result.shared + check(bp, result.source, target))
    return Validated(None if has_errors(diags) else bp, diags, result.source, target, result.interpolations,
                     result.shared)


def validate_file(path: str, variables: dict[str, Any] | None = None, target: str | None = None) -> Validated:
    """Validate the blueprint at `path`; relative directories in it are relative to the file."""
    with gc_paused():
        return _validate(load_file(path), os.path.dirname(os.path.abspath(path)), variables, target)


def validate_text(text: str, file: str = "<blueprint>", base_dir: str = ".",
                  variables: dict[str, Any] | None = None, target: str | None = None) -> Validated:
    """Validate blueprint text; `file` names it in diagnostics, `base_dir` anchors its directories."""
    with gc_paused():
        return _validate(load_text(text, file), base_dir, variables, target)


def load_blueprint(path: str, variables: dict[str, Any] | None = None, target: str | None = None) -> Blueprint:
    """The library entry point: a checked Blueprint, or BlueprintError with every diagnostic."""
    result = validate_file(path, variables, target)
    if not result.ok:
        raise BlueprintError(result.diagnostics)
    return result.blueprint  # type: ignore[return-value]


def _validate(loaded: Loaded, base_dir: str, variables: dict[str, Any] | None, target: str | None) -> Validated:
    source = loaded.source
    diags = list(loaded.diagnostics)
    data = loaded.data
    chosen = target or "docker"
    if data is None:
        return Validated(None, sorted_diagnostics(diags), source, chosen)
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"the single value {data!r}"
        diags.append(Diagnostic.at(source.value(()), f"a blueprint is a mapping of sections, but this file holds {what}",
                                   "start with `blueprint: NAME`"))
        return Validated(None, sorted_diagnostics(diags), source, chosen)
    if target is not None and target not in TARGETS:
        diags.append(Diagnostic.at(source.value(()), f"unknown target '{target}'",
                                   did_you_mean(target, TARGETS) or f"targets are: {', '.join(TARGETS)}"))
        return Validated(None, sorted_diagnostics(diags), source, chosen)

    values, var_diags = resolve_variables(data, source, variables)
    diags += var_diags
    paths = loaded.dollar_paths if loaded.dollar_paths is not None else _all_string_paths(data)
    interpolations, sub_diags, from_vars, covered = substitute_in_place(
        data, source, values, paths, _broken_variables(data, values))
    diags += sub_diags
    diags += _check_names(data, source)

    bp, degraded, removed, model_diags = _build(data, source, from_vars)
    # A value already reported by substitution (`${var.nope}`), or left as written because its
    # variable's own error is reported, is not reported again as a wrong type.
    reported = {(d.line, d.column) for d in sub_diags}
    reported |= {(where.line, where.column) for where in map(source.value, covered)}
    diags += [d for d in model_diags if (d.line, d.column) not in reported]
    if bp is None:
        return Validated(None, sorted_diagnostics(diags), source, chosen, interpolations)

    bp._base_dir = base_dir
    bp._file = source.file
    bp._variables = values
    bp._source = source
    if target is None:
        chosen = bp.default_target
    elif target not in bp.targets and ("targets",) not in degraded:
        diags.append(Diagnostic.at(source.key(("targets",)),
                                   f"this blueprint does not support the {target} target",
                                   f"it lists targets: {', '.join(bp.targets)}"))
    known = {f"{kind}.{name}" for kind in KINDS if isinstance(data.get(kind), dict) for name in data[kind]}
    known |= _in_misspelt_sections(data)
    edges: dict[tuple[str, str], Path] = {}
    graph, ref_diags = check_references(bp, interpolations, source, known, edges)
    diags += ref_diags
    for cycle in find_cycles(graph):
        where = edges.get((cycle[0], cycle[1]), tuple(cycle[0].split(".")))
        diags.append(Diagnostic.at(source.value(where),
                                   "reference cycle: " + " → ".join(cycle),
                                   "a component cannot depend on itself, directly or through others; "
                                   "break one of these references"))
    shared = list(diags)
    diags += check(bp, source, chosen, degraded, removed)
    diags = sorted_diagnostics(diags)
    return Validated(None if has_errors(diags) else bp, diags, source, chosen, interpolations, shared)


def _misspelt_sections(data: dict) -> list[tuple[str, dict]]:
    """(the section meant, what was written) for each unknown section close to a real one
    (`load_balancer:`). It is reported as unknown, with the right name; what refers into
    it is not reported again."""
    found = []
    for key, section in data.items():
        if isinstance(key, str) and key not in Blueprint.model_fields and isinstance(section, dict):
            meant = closest(key, Blueprint.model_fields)
            if meant is not None:
                found.append((meant, section))
    return found


def _in_misspelt_sections(data: dict) -> set[str]:
    """`load_balancers.web` for each `web` under a misspelt `load_balancer:`: a reference
    to one is not reported as missing."""
    return {f"{meant}.{name}" for meant, section in _misspelt_sections(data) if meant in KINDS for name in section}


def _broken_variables(data: dict, values: dict[str, Any]) -> frozenset[str]:
    """Variables declared in the file that have no usable value: each has an error of its own
    (a default of the wrong type, a bad --var value, none at all, a misspelt `variables:`),
    so its uses report nothing more."""
    declared = data.get("variables")
    names = [*(declared if isinstance(declared, dict) else ()),
             *(name for meant, section in _misspelt_sections(data) if meant == "variables" for name in section)]
    return frozenset(name for name in names if isinstance(name, str) and values.get(name) is None)


def _all_string_paths(data: Any) -> list[Path]:
    """Every path holding a string with `${` (when the loader did not record them)."""
    found: list[Path] = []
    pending: list[tuple[Path, Any]] = [((), data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if "${" in value:
                found.append(path)
        elif isinstance(value, dict):
            pending += [(path + (k,), v) for k, v in value.items()]
        elif isinstance(value, list):
            pending += [(path + (i,), v) for i, v in enumerate(value)]
    return found


# ------------------------------------------------------------------ partial validation


def _build(data: dict, source: SourceMap, from_vars: dict[Path, str]
           ) -> tuple[Blueprint | None, frozenset[Path], frozenset[Path], list[Diagnostic]]:
    """The Blueprint, validated once; on errors, again without the parts that failed.

    The first failure gives the diagnostics. Then, so that references and
    rules elsewhere are still checked in the same run, the failing parts are
    pruned in widening steps — the failing key (its field takes its default),
    then the whole component, then the whole section — and the model is
    validated again. The pruned places are returned as "degraded": rules
    skip problems there (they could come from a default standing in for a
    typo). Pruning only deletes mapping keys, never list items, so every
    path still names the line the user wrote. The exact places pruned are
    returned too, for rules that read only a few fields of a degraded part.
    """
    try:
        return Blueprint.model_validate(data), frozenset(), frozenset(), []
    except ValidationError as exc:
        diags = pydantic_diagnostics(exc, data, source, from_vars)
        error = exc
    pruned: Any = data
    degraded: set[Path] = set()
    removed: set[Path] = set()
    for level in ("key", "unit", "section"):
        for item in error.errors(include_url=False):
            path = _data_path(tuple(item["loc"]), pruned, item["type"], item.get("input"))
            if item["type"] == "missing" and _stand_in(path) is None:
                path = path[:-1]
            pruned = _prune(pruned, path, level, degraded, removed)
        try:
            return Blueprint.model_validate(pruned), frozenset(degraded), frozenset(removed), diags
        except ValidationError as again:
            error = again
    return None, frozenset(degraded), frozenset(removed), diags


def _unit(path: Path) -> Path:
    """The part of the blueprint a path belongs to, for rules: a component, a DNS record, a section."""
    if len(path) >= 2 and path[0] in KINDS:
        return path[:2]
    if len(path) >= 3 and path[0] == "dns" and path[1] == "records":
        return path[:3]
    if len(path) >= 2 and path[0] == "dns":
        return path[:2]
    if len(path) >= 2 and path[0] == "variables":
        return path[:2]
    return path[:1]


def _prune(data: dict, path: Path, level: str, degraded: set[Path], removed: set[Path]) -> dict:
    """`data` without what `path` names at this level (copies only along the way)."""
    if not path:
        return data
    if level == "key":
        # The nearest mapping key at or above the failing place, inside its unit.
        unit = _unit(path)
        cut = len(path)
        while cut > len(unit) and isinstance(path[cut - 1], int):
            cut -= 1
        target = path[:cut]
    else:
        target = _unit(path) if level == "unit" else path[:1]
        if target[:1] == ("dns",):
            target = ("dns",)  # a record is a list item: dropping one would shift the others
    degraded.add(_unit(path) if level == "key" else target)
    removed.add(target)
    stand_in = _stand_in(target)
    if stand_in is not None:
        return _replaced(data, target, stand_in)
    return _without(data, target)


# Required keys that have no default: pruning them would only move the error
# up to their whole section, so a neutral valid value stands in instead.
_STAND_INS: tuple[tuple[Path, str], ...] = (
    (("blueprint",), "blueprint"),
    (("dns", "zone"), "invalid.example"),
    (("dns", "records", "*", "name"), "invalid"),
    (("services", "*", "image"), "invalid"),
)


def _stand_in(path: Path) -> str | None:
    for pattern, value in _STAND_INS:
        if len(pattern) == len(path) and all(p == "*" or p == q for p, q in zip(pattern, path)):
            return value
    return None


def _replaced(value: Any, path: Path, new: Any) -> Any:
    if len(path) == 1:
        if isinstance(value, dict):
            return {**value, path[0]: new}
        return value
    head = path[0]
    if isinstance(value, dict) and head in value:
        return {**value, head: _replaced(value[head], path[1:], new)}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        items = list(value)
        items[head] = _replaced(items[head], path[1:], new)
        return items
    return value


def _without(value: Any, path: Path) -> Any:
    if not isinstance(value, dict) or path[0] not in value:
        return value
    copy = dict(value)
    if len(path) == 1:
        del copy[path[0]]
    else:
        child = copy[path[0]]
        if isinstance(child, list) and isinstance(path[1], int) and 0 <= path[1] < len(child):
            items = list(child)
            items[path[1]] = _without(items[path[1]], path[2:]) if len(path) > 2 else items[path[1]]
            copy[path[0]] = items
        else:
            copy[path[0]] = _without(child, path[1:])
    return copy


def _check_names(data: dict, source: SourceMap) -> list[Diagnostic]:
    diags = []
    for kind in KINDS:
        section = data.get(kind)
        if isinstance(section, dict):
            for name in section:
                if not isinstance(name, str) or not NAME_RE.match(name):
                    diags.append(Diagnostic.at(source.key((kind, name)), f"'{name}' is not a valid name",
                                               "names are lower-case letters, digits and '-', start with a "
                                               "letter, at most 39 characters"))
    return diags


# ------------------------------------------------------------------ pydantic errors → diagnostics


def _data_path(loc: tuple, data: Any, kind: str = "", given: Any = None) -> Path:
    """The written path a pydantic `loc` points to.

    pydantic inserts segments of its own into `loc`: the member of a union
    it tried (`str`, `int`, a model name) or the tag of a tagged union, and
    `[key]` for a dict key. Walking the written data along `loc` keeps only
    the segments that exist there; it stops at the error's input itself, so
    a member name that happens to be a key of the bad value is not taken
    for a place. A missing key is the one segment kept without existing.
    """
    path: list = []
    current = data
    for i, part in enumerate(loc):
        if given is not None and current is given and kind != "missing" and isinstance(current, (dict, list)):
            break  # reached the bad value; what follows in `loc` is pydantic's own
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif kind == "missing" and i == len(loc) - 1 and isinstance(current, dict):
            path.append(part)
            break
        elif not isinstance(current, (dict, list)):
            break
    return tuple(path)


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _model_at(path: Path) -> type[BaseModel] | None:
    """The model class that holds the mapping at `path`, for 'did you mean' on unknown keys."""
    current: Any = Blueprint
    for part in path:
        candidates = _unwrap(current)
        nxt = None
        for cand in candidates:
            origin = typing.get_origin(cand)
            if isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str) and part in cand.model_fields:
                nxt = cand.model_fields[part].annotation
            elif origin is list and isinstance(part, int):
                nxt = typing.get_args(cand)[0]
            elif origin is dict and isinstance(part, str):
                nxt = typing.get_args(cand)[1]
            if nxt is not None:
                break
        if nxt is None:
            return None
        current = nxt
    for cand in _unwrap(current):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def where(path: Path) -> str:
    """A path as the user would write it: `load_balancers.edge.listeners[0].port`."""
    if not path:
        return "the blueprint"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_where = where  # the name other modules used before

_TYPE_WORDS = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "is_instance_of": "a mapping", "none_required": "nothing",
}
_BOUNDS = {"greater_than_equal": "at least", "less_than_equal": "at most",
           "greater_than": "more than", "less_than": "less than"}

# Patterns of the models → what a user should write, for 'is not valid here'.
_PATTERN_WORDS = {
    NAME_PATTERN: "a name: lower-case letters, digits and '-', starting with a letter, at most 39 characters",
    r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}\.?$": "a DNS zone such as example.com (lower-case)",
    r"^(@|\*|[a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$":
        "a record name such as www or api.v2, '@' for the zone apex or '*' (lower-case)",
    r"^[A-Z]{2}$": "a two-letter ISO country code such as DE or US",
    r"^[a-z]{2}(-gov)?-[a-z]+-\d$": "an AWS region such as us-east-1",
    r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$": "a CIDR block such as 10.0.0.0/16",
    r"^arn:aws[a-z-]*:acm:": "an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)",
    r"^[a-z][a-z0-9_]{0,62}$": "a database name: lower-case letters, digits and '_', starting with a letter",
    r"^/": "a URL path starting with /",
}


def _type_hint(given: Any, expected: list[str], origin: str | None) -> str | None:
    if origin:
        return f"the value comes from variable '{origin}'; check its type or the value passed for it"
    if isinstance(given, str) and "${" in given:
        return ("${KIND.NAME.ATTR} values are strings known only at deploy time; "
                "use a literal here, or ${var.NAME} of the right type")
    if isinstance(given, str) and given.strip():
        if "a whole number" in expected and given.strip().lstrip("-").isdigit():
            return f"remove the quotes: {given.strip()}"
        if "true or false" in expected and given.strip().lower() in ("true", "false", "yes", "no", "on", "off"):
            return f"write true or false without quotes"
    if "a list" in expected and not isinstance(given, list):
        return "write a list: [a, b] or one '- item' per line"
    if "a mapping" in expected and given is None:
        return "write {} to take every default"
    return None


def pydantic_diagnostics(exc: ValidationError, data: Any, source: SourceMap,
                         from_vars: dict[Path, str] | None = None) -> list[Diagnostic]:
    """One diagnostic per problem pydantic found, at the line where it was written."""
    from_vars = from_vars or {}
    diags: list[Diagnostic] = []
    # A union reports once per member it tried; gather them into one message per place.
    grouped: dict[tuple[Path, str], list[dict]] = {}
    for error in exc.errors(include_url=False):
        kind = error["type"]
        path = _data_path(tuple(error["loc"]), data, kind, error.get("input"))
        family = "type" if kind in _TYPE_WORDS else kind
        if kind in ("extra_forbidden", "missing"):
            family = f"{kind}:{error['loc'][-1]}"
        grouped.setdefault((path, family), []).append(error)
    claimed: set[Path] = set()
    for (path, family), errors in grouped.items():
        if family == "type" and path in claimed:
            continue
        error = errors[0]
        kind = error["type"]
        given = error.get("input")
        hint = None
        if kind == "extra_forbidden":
            key = path[-1] if path else error["loc"][-1]
            parent = path[:-1]
            model = _model_at(parent)
            fields = list(model.model_fields) if model else []
            if not parent:
                message = f"unknown section '{key}'"
                hint = did_you_mean(str(key), fields) or "sections are: " + ", ".join(fields)
            else:
                message = f"unknown key '{key}' in {where(parent)}"
                hint = did_you_mean(str(key), fields) or (
                    "allowed keys: " + ", ".join(fields) if fields else None)
            diags.append(Diagnostic.at(source.key(path), message, hint))
            continue
        if kind == "missing":
            field_name = error["loc"][-1]
            parent = path[:-1]
            model = _model_at(parent)
            info = model.model_fields.get(field_name) if model else None
            about = f" ({info.description})" if info is not None and info.description else ""
            diags.append(Diagnostic.at(source.key(parent) if parent else source.value(()),
                                       f"missing required key '{field_name}' in {where(parent)}",
                                       f"add `{field_name}:`{about}"))
            continue
        claimed.add(path)
        if family == "type":
            expected = list(dict.fromkeys(_TYPE_WORDS[e["type"]] for e in errors))
            if "a number" in expected and "a whole number" in expected:
                expected.remove("a whole number")
            words = expected[0] if len(expected) == 1 else ", ".join(expected[:-1]) + " or " + expected[-1]
            message = f"{where(path)}: expected {words}, but got {_shown(given)}"
            hint = _type_hint(given, expected, from_vars.get(path))
        elif kind == "literal_error":
            expected_text = error["ctx"]["expected"]
            choices = [c.strip().strip("'") for c in expected_text.replace(" or ", ", ").split(", ")]
            message = f"{where(path)}: {_shown(given)} is not one of {', '.join(choices)}"
            if isinstance(given, str) and given.strip() in choices and given.strip().isdigit():
                hint = f"remove the quotes: {given.strip()}"
            else:
                hint = choice_hint(str(given), choices)
        elif kind in ("value_error", "assertion_error"):
            text = str(error.get("ctx", {}).get("error", error["msg"]))
            text, _, hint_text = text.partition("\n")
            message = f"{where(path)}: {text}"
            hint = hint_text or None
        elif kind == "string_pattern_mismatch":
            pattern = error["ctx"]["pattern"]
            message = f"{where(path)}: {_shown(given)} is not valid here"
            hint = "write " + _PATTERN_WORDS[pattern] if pattern in _PATTERN_WORDS else f"it must match {pattern}"
        elif kind in _BOUNDS:
            bound = next(iter(error["ctx"].values()))
            message = f"{where(path)}: must be {_BOUNDS[kind]} {bound}, but {_shown(given)} was given"
        elif kind in ("too_short", "too_long"):
            ctx = error.get("ctx", {})
            least = ctx.get("min_length")
            if kind == "too_short" and least is not None:
                message = f"{where(path)}: needs at least {least} item{'s' if least != 1 else ''}, " \
                          f"but has {ctx.get('actual_length', 0)}"
            else:
                message = f"{where(path)}: {error['msg'].lower()}"
        elif kind == "string_too_short":
            message = f"{where(path)}: must not be empty"
        else:
            message = f"{where(path)}: {error['msg']}"
        if hint is None and path in from_vars:
            hint = f"the value comes from variable '{from_vars[path]}'"
        diags.append(Diagnostic.at(source.value(path), message, hint))
    return diags
