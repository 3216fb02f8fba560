"""Targets: each turns a validated Blueprint into a Plan for its cloud.

Imports flow one way: cli → providers → dsl. Targets are imported lazily so
validating a blueprint for docker never loads the AWS compiler.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from topoform.dsl.models import Blueprint

    from .plan import Plan

TARGETS = ("docker", "aws")


def _target_module(target: str):
    if target == "docker":
        from . import docker as module
    elif target == "aws":
        from . import aws as module
    else:
        raise ValueError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    return module


def compile_plan(bp: "Blueprint", target: str, stack: str = "dev") -> "Plan":
    """The Plan of `bp` for `target`; raises UnsupportedError for what the target cannot build."""
    from .base import compile_target

    return compile_target(_target_module(target).TARGET, bp, stack)


def analysed_plan(bp: "Blueprint", target: str, stack: str = "dev") -> "Plan":
    """The Plan the analyses (report, lint, graph) read: its components carry `Facts`.

    A design the target refuses is still analysed: its facts are recorded on
    an otherwise empty Plan, so `report` can say what the design would buy
    next to the errors `plan` gives. Kept while `bp` lives (one report
    asks for it from several sections).
    """
    from .base import UnsupportedError

    key = (id(bp), target, stack)
    entry = _ANALYSED.get(key)
    if entry is not None and entry[0]() is bp:
        return entry[1]
    refused: tuple = ()
    try:
        plan = compile_plan(bp, target, stack)
    except UnsupportedError as exc:
        refused = tuple(exc.diagnostics)
        plan = facts_plan(bp, target, stack)
    _ANALYSED[key] = (weakref.ref(bp, lambda _ref: _ANALYSED.pop(key, None)), plan, refused)
    return plan


def facts_plan(bp: "Blueprint", target: str, stack: str = "dev") -> "Plan":
    """An otherwise empty Plan with the facts of every component: what the target would build,
    without building it (the facts modules read the blueprint, not the resources)."""
    spec = _target_module(target).TARGET
    ctx = spec.context(bp, stack)
    spec.facts(ctx)
    return ctx.plan


def refusals(bp: "Blueprint", target: str, stack: str = "dev") -> list:
    """What `target` refuses to build of `bp` (the diagnostics `plan` gives), [] if it builds:
    an analysis of a refused design says so next to its figures."""
    analysed_plan(bp, target, stack)
    return list(_ANALYSED[(id(bp), target, stack)][2])


_ANALYSED: dict[tuple[int, str, str], tuple["weakref.ref", "Plan", tuple]] = {}
