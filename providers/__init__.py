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
    module = _target_module(target)
    spec = getattr(module, "TARGET", None)
    if spec is not None:  # a target ported to a kind table
        from .base import compile_target

        return compile_target(spec, bp, stack)
    ctx = _mixin_compiler(target)(bp, stack)
    plan = ctx.compile()
    _facts_module(target).record(ctx)
    return plan


def _mixin_compiler(target: str):
    """The mixin-era compilers, until their port to a `Target` table lands."""
    if target == "docker":
        from .docker.compiler import DockerCompiler as compiler
    else:
        from .aws.compiler import AwsCompiler as compiler
    return compiler


def _facts_module(target: str):
    if target == "docker":
        from .docker import facts
    else:
        from .aws import facts
    return facts


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
    try:
        plan = compile_plan(bp, target, stack)
    except UnsupportedError:
        module = _target_module(target)
        spec = getattr(module, "TARGET", None)
        ctx = spec.context(bp, stack) if spec is not None else _mixin_compiler(target)(bp, stack)
        (spec.facts if spec is not None and spec.facts is not None else _facts_module(target).record)(ctx)
        plan = ctx.plan
    _ANALYSED[key] = (weakref.ref(bp, lambda _ref: _ANALYSED.pop(key, None)), plan)
    return plan


_ANALYSED: dict[tuple[int, str, str], tuple["weakref.ref", "Plan"]] = {}
