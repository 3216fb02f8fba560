"""Diagnostics: every problem found in a blueprint, with where it is and what to do.

Modelled on Terraform's tfdiags: a severity, a one-line message, an optional
hint, and a source position. Checks collect them instead of raising, so a user
sees every problem of a file at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a blueprint file; line and column are 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    file: str
    line: int
    column: int
    severity: Severity
    message: str
    hint: str | None = None

    @classmethod
    def at(cls, pos: Position, message: str, hint: str | None = None, severity: Severity = "error") -> "Diagnostic":
        return cls(pos.file, pos.line, pos.column, severity, message, hint)

    def render(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def as_json(self) -> dict:
        data = asdict(self)
        if data["hint"] is None:
            del data["hint"]
        return data


def shown(value: Any) -> str:
    """A written value, echoed briefly in a message: strings quoted, containers named."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def sort_key(diag: Diagnostic) -> tuple:
    return (diag.file, diag.line, diag.column, diag.severity != "error", diag.message)


def sorted_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by position, each distinct problem once."""
    return sorted(set(diags), key=sort_key)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diags)


def render_text(diags: Iterable[Diagnostic]) -> str:
    return "\n".join(d.render() for d in diags)


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.as_json() for d in diags], indent=2)


class BlueprintError(Exception):
    """Raised by the library API when a blueprint has errors; carries all of them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__(
            f"{len(errors)} error(s) in blueprint:\n" + render_text(errors)
        )
