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
# Compound forms: Go's and Terraform's `2h30m`, and the spelled `2h 20m` that
# Topoform's own messages and reports print (format_span).
_COMPOUND_RE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
DURATION_PATTERN = r"^\d+(\.\d+)?(ms|s|m|h|d)( ?\d+(\.\d+)?(ms|s|m|h|d))*$"
# What people write instead of a unit → the unit meant (a week is written in days).
_DURATION_WORDS = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "w"),
}
_WORD_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")

_SIZE_UNITS = {
    "B": 1,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)\s*$")
SIZE_PATTERN = r"^\d+(\.\d+)?(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)$"

_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
PERCENT_PATTERN = r"^\d+(\.\d+)?%$"


def _echo(value: str) -> str:
    """The written text for a message, on one line: a message ends at its first newline
    (what follows is the hint, see validate.py)."""
    return value.replace("\r", "\\r").replace("\n", "\\n")


def parse_duration(value: Any) -> float:
    """Seconds from `500ms`, `30s`, `5m`, `1h`, `7d`, or compound `2h30m` / `2h 30m`; a bare number is refused.

    A unit written another way (`5min`, `10 seconds`) is refused with the form meant as a hint.
    """
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ValueError(
            f"a duration needs a unit, e.g. '{value}s' or '{value}m' (got the bare number {value})"
        )
    if not isinstance(value, str):
        raise ValueError(f"a duration must be a string like '30s', not {type(value).__name__}")
    match = _DURATION_RE.match(value)
    if match:
        return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if _COMPOUND_RE.match(value):
        return _compound_duration(value)
    message = f"'{_echo(value)}' is not a duration: write a number and one of ms, s, m, h, d (e.g. 30s, 5m, 1h)"
    guess = _duration_guess(value)
    raise ValueError(message + (f"\ndid you mean '{guess}'?" if guess else ""))


def _compound_duration(value: str) -> float:
    """`2h30m`, `1m30s`, `2h 20m`: each unit once, the largest first (as Go and Terraform write them)."""
    parts = _PART_RE.findall(value)
    ranks = [_UNIT_RANK[unit] for _, unit in parts]
    if any(a <= b for a, b in zip(ranks, ranks[1:])):
        message = f"'{_echo(value)}' is not a duration: write each unit once, the largest first"
        if len(set(ranks)) == len(ranks):
            fixed = "".join(n + u for n, u in sorted(parts, key=lambda part: -_UNIT_RANK[part[1]]))
            message += f"\ndid you mean '{fixed}'?"
        raise ValueError(message)
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


_UNIT_RANK = {unit: rank for rank, unit in enumerate(_DURATION_UNITS)}  # ms < s < m < h < d


def _duration_guess(value: str) -> str | None:
    """`5min` → `5m`, `10 seconds` → `10s`, `2W` → `14d`: the written form meant, if clear."""
    match = _WORD_RE.match(value)
    if not match:
        return None
    number, word = match.groups()
    unit = _DURATION_WORDS.get(word.lower())
    if unit is None or word == "M":  # `5M` could mean months as well as minutes
        return None
    if unit == "w":
        days = float(number) * 7
        return f"{days:g}d"
    return f"{number}{unit}"


def parse_size(value: Any) -> int:
    """Bytes from `512MiB`, `20GiB` (binary) or `500MB`, `1GB` (decimal); `100G` is refused with both as hints."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ValueError(
            f"a size needs a unit, e.g. '{value}MiB' or '{value}GiB' (got the bare number {value})"
        )
    if not isinstance(value, str):
        raise ValueError(f"a size must be a string like '512MiB', not {type(value).__name__}")
    match = _SIZE_RE.match(value)
    if not match:
        message = f"'{_echo(value)}' is not a size: write a number and one of B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
        guess = _size_guess(value)
        raise ValueError(message + (f"\ndid you mean {guess}?" if guess else ""))
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


_SIZE_PREFIXES = {"k": "K", "m": "M", "g": "G", "t": "T"}
_SIZE_WORDS = {"kilo": "K", "mega": "M", "giga": "G", "tera": "T", "kibi": "Ki", "mebi": "Mi", "gibi": "Gi",
               "tebi": "Ti"}


def _size_guess(value: str) -> str | None:
    """`100G` → `'100GiB' (binary) or '100GB' (decimal)`; `2gb` → `'2GB'`; `1 gigabyte` → `'1GB'`."""
    match = _WORD_RE.match(value)
    if not match:
        return None
    number, word = match.groups()
    lower = word.lower()
    if lower in ("b", "byte", "bytes"):
        return f"'{number}B'"
    for spelled, prefix in _SIZE_WORDS.items():
        if lower in (spelled + "byte", spelled + "bytes"):
            return f"'{number}{prefix}B'"
    prefix = _SIZE_PREFIXES.get(lower[:1])
    if prefix is None:
        return None
    rest = lower[1:]
    if rest in ("ib", "i"):
        return f"'{number}{prefix}iB'"
    if rest == "b":
        return f"'{number}{prefix}B'"
    if rest == "":
        return f"'{number}{prefix}iB' (binary) or '{number}{prefix}B' (decimal)"
    return None


def parse_percent(value: Any) -> float:
    """A percentage from `99.95%`, kept as 99.95; must lie in [0, 100]."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ValueError(f"a percentage needs a % sign, e.g. '{value}%' (got the bare number {value})")
    if not isinstance(value, str):
        raise ValueError(f"a percentage must be a string like '99.9%', not {type(value).__name__}")
    match = _PERCENT_RE.match(value)
    if not match:
        raise ValueError(f"'{_echo(value)}' is not a percentage: write a number and %, e.g. 99.95%")
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


def format_percent(value: float) -> str:
    return f"{value:g}%"


def _json_string(pattern: str, example: str, what: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example], "description": what})


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    _json_string(DURATION_PATTERN, "30s", "a duration: number + ms|s|m|h|d, or several largest first (1h30m)"),
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
    PlainSerializer(format_percent, return_type=str),
    _json_string(PERCENT_PATTERN, "99.95%", "a percentage"),
]
