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
        from .docker.compiler import DockerCompiler as compiler
    elif target == "aws":
        from .aws.compiler import AwsCompiler as compiler
    else:
        raise ValueError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    return compiler(bp, stack).compile()
