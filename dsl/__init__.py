"""The blueprint language: loading, models, references, rules and diagnostics.

Imports nothing else of Topoform's (the pipeline flows cli → providers → dsl).
"""

from .diagnostics import BlueprintError, Diagnostic, Position
from .models import Blueprint
from .validate import Validated, load_blueprint, validate_file, validate_text

__all__ = ["Blueprint", "BlueprintError", "Diagnostic", "Position", "Validated",
           "load_blueprint", "validate_file", "validate_text"]
