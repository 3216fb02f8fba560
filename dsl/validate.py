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

from .diagnostics import BlueprintError, Diagnostic, has_errors, sorted_diagnostics
from .loader import Loaded, Path, SourceMap, load_file, load_text
from .models import KINDS, NAME_PATTERN, NAME_RE, TARGETS, Blueprint
from .references import check_references, did_you_mean, find_cycles, resolve_variables, substitute
from .rules import check


@dataclass
class Validated:
    """What validation made of a blueprint: the model (None on errors) and every diagnostic."""

    blueprint: Blueprint | None
    diagnostics: list[Diagnostic]
    source: SourceMap
    target: str = "docker"
    interpolations: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.blueprint is not None and not has_errors(self.diagnostics)


def validate_file(path: str, variables: dict[str, Any] | None = None, target: str | None = None) -> Validated:
    return _validate(load_file(path), os.path.dirname(os.path.abspath(path)), variables, target)


def validate_text(text: str, file: str = "<blueprint>", base_dir: str = ".",
                  variables: dict[str, Any] | None = None, target: str | None = None) -> Validated:
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
        diags.append(Diagnostic.at(source.value(()), "a blueprint is a mapping of sections",
                                   "start with `blueprint: NAME`"))
        return Validated(None, sorted_diagnostics(diags), source, chosen)

    values, var_diags = resolve_variables(data, source, variables)
    diags += var_diags
    data, interpolations, sub_diags = substitute(data, source, values)
    diags += sub_diags
    diags += _check_names(data, source)

    dropped: set[str] = set()
    try:
        bp = Blueprint.model_validate(data)
    except ValidationError as exc:
        reported = {(d.line, d.column) for d in diags}
        diags += [d for d in pydantic_diagnostics(exc, data, source) if (d.line, d.column) not in reported]
        # Carry on without the parts that failed, so reference and rule errors
        # elsewhere in the file are reported in the same run.
        bp, dropped = _without_failures(data, exc)
        if bp is None:
            return Validated(None, sorted_diagnostics(diags), source, chosen, interpolations)

    bp._base_dir = base_dir
    bp._file = source.file
    bp._variables = values
    bp._source = source
    if target is None:
        chosen = bp.default_target
    elif target not in bp.targets:
        diags.append(Diagnostic.at(source.key(("targets",)),
                                   f"this blueprint does not support the {target} target",
                                   f"it lists targets: {', '.join(bp.targets)}"))
    graph, ref_diags = check_references(bp, interpolations, source)
    diags += [d for d in ref_diags if not any(f"'{ref}'" in d.message for ref in dropped)]
    for cycle in find_cycles(graph):
        first = cycle[0].split(".")
        diags.append(Diagnostic.at(source.key(tuple(first)),
                                   "reference cycle: " + " → ".join(cycle),
                                   "a component cannot depend on itself, directly or through others; break one reference"))
    diags += check(bp, source, chosen)
    diags = sorted_diagnostics(diags)
    return Validated(None if has_errors(diags) else bp, diags, source, chosen, interpolations)


def _without_failures(data: dict, exc: ValidationError) -> tuple[Blueprint | None, set[str]]:
    """Validate again with every failing component (or section) left out."""
    pruned = dict(data)
    dropped: set[str] = set()
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        if not loc:
            return None, dropped
        section = loc[0]
        if section in KINDS and len(loc) > 1 and isinstance(pruned.get(section), dict):
            pruned[section] = {k: v for k, v in pruned[section].items() if k != loc[1]}
            dropped.add(f"{section}.{loc[1]}")
        elif section == "blueprint":
            pruned["blueprint"] = "invalid"
        else:
            pruned.pop(section, None)
    try:
        return Blueprint.model_validate(pruned), dropped
    except ValidationError:
        return None, dropped


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


def _data_path(loc: tuple, data: Any) -> Path:
    """The written path a pydantic `loc` points to, skipping union/discriminator segments."""
    path: list = []
    current = data
    for part in loc:
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and part not in current and part == loc[-1]:
            path.append(part)  # a missing or unknown key: the last segment
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


def _where(path: Path) -> str:
    if not path:
        return "the blueprint"
    return ".".join(str(p) for p in path)


_TYPE_WORDS = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}


def pydantic_diagnostics(exc: ValidationError, data: Any, source: SourceMap) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    seen: set[Path] = set()
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        path = _data_path(loc, data)
        kind = error["type"]
        if kind != "extra_forbidden" and path in seen:
            continue  # one message per place: a union reports once per member
        seen.add(path)
        given = error.get("input")
        hint = None
        if kind == "extra_forbidden":
            key = path[-1] if path else loc[-1]
            parent = path[:-1]
            model = _model_at(parent)
            fields = list(model.model_fields) if model else []
            if not parent:
                message = f"unknown section '{key}'"
                hint = did_you_mean(str(key), fields) or "sections are: " + ", ".join(fields)
            else:
                message = f"unknown key '{key}' in {_where(parent)}"
                hint = did_you_mean(str(key), fields) or (
                    "allowed keys: " + ", ".join(fields) if fields else None)
            diags.append(Diagnostic.at(source.key(path), message, hint))
            continue
        if kind == "missing":
            field_name = loc[-1]
            diags.append(Diagnostic.at(source.key(path[:-1]) if len(path) > 1 else source.value(()),
                                       f"missing required key '{field_name}' in {_where(path[:-1])}",
                                       f"add `{field_name}:`"))
            continue
        if kind == "literal_error":
            expected = error["ctx"]["expected"]
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(", ")]
            message = f"{_where(path)}: {given!r} is not one of: {', '.join(choices)}"
            hint = did_you_mean(str(given), choices)
        elif kind in ("value_error", "assertion_error"):
            text = str(error.get("ctx", {}).get("error", error["msg"]))
            message = f"{_where(path)}: {text}"
        elif kind == "string_pattern_mismatch":
            pattern = error["ctx"]["pattern"]
            message = f"{_where(path)}: {given!r} is not valid here"
            hint = "names are lower-case letters, digits and '-', starting with a letter" if pattern == NAME_PATTERN \
                else f"it must match {pattern}"
        elif kind in _TYPE_WORDS:
            message = f"{_where(path)}: expected {_TYPE_WORDS[kind]}, got {given!r}"
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            bound = next(iter(error["ctx"].values()))
            relation = {"greater_than_equal": "at least", "less_than_equal": "at most",
                        "greater_than": "more than", "less_than": "less than"}[kind]
            message = f"{_where(path)}: must be {relation} {bound}, but {given!r} was given"
        elif kind in ("too_short", "too_long"):
            message = f"{_where(path)}: {error['msg'].lower()}"
        else:
            message = f"{_where(path)}: {error['msg']}"
        diags.append(Diagnostic.at(source.value(path), message, hint))
    return diags
