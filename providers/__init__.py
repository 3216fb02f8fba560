"""Targets: each turns a validated Blueprint into a Plan for its cloud.

Imports flow one way: cli → providers → dsl. Targets are imported lazily so
validating a blueprint for docker never loads the AWS compiler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from topoform.dsl.models import Blueprint

    from .plan import Plan

TARGETS = ("docker", "aws")


def compile_plan(bp: "Blueprint", target: str, stack: str = "dev") -> "Plan":
    """The Plan of `bp` for `target`; raises UnsupportedError for what the target cannot build."""
    if target == "docker":
        from . import docker as module
    elif target == "aws":
        from . import aws as module
    else:
        raise ValueError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    spec = getattr(module, "TARGET", None)
    if spec is not None:  # a target ported to a kind table
        from .base import compile_target

        return compile_target(spec, bp, stack)
    if target == "docker":  # the mixin compilers, until their port lands
        from .docker.compiler import DockerCompiler as compiler
    else:
        from .aws.compiler import AwsCompiler as compiler
    return compiler(bp, stack).compile()
