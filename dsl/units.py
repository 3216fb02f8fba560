"""Unit scalars of the blueprint: durations, sizes and percentages.

Each parses the written form once into a number the compiler can use
(seconds, bytes, percent) and can format it back for messages, so an error
can echo what the user wrote ("must be at most 12h, but 13h was given").
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
DURATION_PATTERN = r"^\d+(\.\d+)?(ms|s|m|h|d)$"

_SIZE_UNITS = {
    "B": 1,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)\s*$")
SIZE_PATTERN = r"^\d+(\.\d+)?(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)$"

_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
PERCENT_PATTERN = r"^\d+(\.\d+)?%$"


def parse_duration(value: Any) -> float:
    """Seconds from `500ms`, `30s`, `5m`, `1h`, `7d`; a bare number is refused."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ValueError(
            f"a duration needs a unit, e.g. '{value}s' or '{value}m' (got the bare number {value})"
        )
    if not isinstance(value, str):
        raise ValueError(f"a duration must be a string like '30s', not {type(value).__name__}")
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError(
            f"'{value}' is not a duration: write a number and one of ms, s, m, h, d (e.g. 30s, 5m, 1h)"
        )
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_size(value: Any) -> int:
    """Bytes from `512MiB`, `20GiB` (binary) or `500MB`, `1GB` (decimal)."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ValueError(
            f"a size needs a unit, e.g. '{value}MiB' or '{value}GiB' (got the bare number {value})"
        )
    if not isinstance(value, str):
        raise ValueError(f"a size must be a string like '512MiB', not {type(value).__name__}")
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(
            f"'{value}' is not a size: write a number and one of B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
        )
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def parse_percent(value: Any) -> float:
    """A percentage from `99.95%`, kept as 99.95; must lie in [0, 100]."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ValueError(f"a percentage needs a % sign, e.g. '{value}%' (got the bare number {value})")
    if not isinstance(value, str):
        raise ValueError(f"a percentage must be a string like '99.9%', not {type(value).__name__}")
    match = _PERCENT_RE.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a percentage: write a number and %, e.g. 99.95%")
    number = float(match.group(1))
    if number > 100:
        raise ValueError(f"a percentage must be at most 100%, but {value} was given")
    return number


def format_duration(seconds: float) -> str:
    """The shortest exact written form: 90 → '90s', 3600 → '1h', 0.5 → '500ms'."""
    if seconds == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        factor = _DURATION_UNITS[unit]
        if seconds >= factor and float(seconds / factor).is_integer():
            return f"{int(seconds // factor)}{unit}"
    if float(seconds * 1000).is_integer():
        return f"{int(seconds * 1000)}ms"
    return f"{seconds:g}s"


def format_span(seconds: float) -> str:
    """A human span for reports: 3723 → '1h 2m 3s', 0.5 → '0.5s'."""
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    parts = []
    remaining = round(seconds)
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, remaining = divmod(remaining, factor)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts)


def format_size(size: int) -> str:
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        factor = _SIZE_UNITS[unit]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def _json_string(pattern: str, example: str, what: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example], "description": what})


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    _json_string(DURATION_PATTERN, "30s", "a duration: number + ms|s|m|h|d"),
]
Size = Annotated[
    int,
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    _json_string(SIZE_PATTERN, "512MiB", "a size: number + B|KiB|MiB|GiB|TiB (binary) or KB|MB|GB|TB (decimal)"),
]
Percent = Annotated[
    float,
    BeforeValidator(parse_percent),
    PlainSerializer(lambda v: f"{v:g}%", return_type=str),
    _json_string(PERCENT_PATTERN, "99.95%", "a percentage"),
]
