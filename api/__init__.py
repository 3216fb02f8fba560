"""Topoform: one YAML blueprint of a system design, validated, compiled to Pulumi, deployed.

The library's public API, exported lazily: `import topoform` stays as cheap as
the version string (the CLI imports it on every start), and each name loads
its module on first use.

    import topoform
    bp = topoform.load_blueprint("shop.yaml")        # raises topoform.BlueprintError
    plan = topoform.compile_plan(bp, "aws")          # raises topoform.UnsupportedError
    stack = topoform.synth("shop.yaml", target="docker")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name → the module defining it
_EXPORTS = {
    "load_blueprint": "topoform.dsl.validate",
    "validate_file": "topoform.dsl.validate",
    "validate_text": "topoform.dsl.validate",
    "Validated": "topoform.dsl.validate",
    "Blueprint": "topoform.dsl.models",
    "Diagnostic": "topoform.dsl.diagnostics",
    "BlueprintError": "topoform.dsl.diagnostics",
    "compile_plan": "topoform.providers",
    "analysed_plan": "topoform.providers",
    "TARGETS": "topoform.providers",
    "Plan": "topoform.providers.plan",
    "Resource": "topoform.providers.plan",
    "UnsupportedError": "topoform.providers.base",
    "synth": "topoform.testing",
    "synth_plan": "topoform.testing",
    "SynthStack": "topoform.testing",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and readers
    from topoform.dsl.diagnostics import BlueprintError, Diagnostic
    from topoform.dsl.models import Blueprint
    from topoform.dsl.validate import Validated, load_blueprint, validate_file, validate_text
    from topoform.providers import TARGETS, analysed_plan, compile_plan
    from topoform.providers.base import UnsupportedError
    from topoform.providers.plan import Plan, Resource
    from topoform.testing import SynthStack, synth, synth_plan


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'topoform' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once: later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
