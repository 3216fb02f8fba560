"""What every renderer shares: the Jinja environment, its filters, the scalar readers and indented JSON.

Contexts accept blueprint spellings ("30s", "512MiB", read by
`topoform.dsl.units`, the one parser of units) or plain numbers (seconds,
bytes), so that tests and the builders can pass either.
"""

from __future__ import annotations

import math
import pickle
import re
import shlex
from functools import lru_cache
from hashlib import sha1
from pathlib import Path
from typing import Any

import jinja2
import orjson

from topoform.dsl import units

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


# What changes the code Jinja compiles a template to; the bytecode cache's file
# names carry a digest of it, so a changed option never loads stale code.
_OPTIONS: dict = {
    "undefined": jinja2.StrictUndefined,
    "keep_trailing_newline": True,
    "autoescape": False,
    "trim_blocks": True,
    "lstrip_blocks": True,
}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One Environment per process: template parsing is the slow part."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        # The templates are package data: they do not change while a process
        # runs, so no stat() of the file on every get_template.
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
        **_OPTIONS,
    )
    env.filters["seconds"] = whole_seconds
    env.filters["hap_time"] = haproxy_time
    env.filters["nginx_time"] = nginx_time
    env.filters["shquote"] = shlex.quote
    env.filters["lua_str"] = lua_str
    return env


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's own file cache of compiled templates, in its default per-user
    directory (private, under the system temp directory). Compiling a
    template is most of a small `validate` (~15 ms for haproxy.cfg.j2);
    loading it is a fraction of a millisecond. A file that cannot be read
    or written only means compiling again."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):  # unreadable or truncated: compile again
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # a full or read-only temp directory: the next run compiles the template again
            return


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    digest = sha1(repr((jinja2.__version__, sorted(_OPTIONS.items()))).encode()).hexdigest()[:12]
    try:
        # Jinja checks each entry against the template's source and Python's version.
        return _BytecodeCache(pattern=f"topoform-{digest}-%s.cache")
    except (OSError, RuntimeError):  # no private temp directory: no cache
        return None


@lru_cache(maxsize=None)
def template(name: str) -> jinja2.Template:
    """Each template looked up once per process (a dict lookup, not the loader's per-call work)."""
    return environment().get_template(name)


def render(template_name: str, **variables) -> str:
    return template(template_name).render(**variables)


def pretty_json(doc: Any) -> str:
    """Indented JSON for files people may read in a container; orjson, because
    the stdlib's indent= falls back to its pure-Python encoder (the largest
    cost of compiling many queues)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def to_seconds(value: str | int | float) -> float:
    """Seconds from a number of seconds or a blueprint duration (``500ms``, ``30s``, ``7d``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return units.parse_duration(value)


def to_bytes(value: str | int) -> int:
    """Bytes from a number of bytes or a blueprint size (``512MiB``, ``1GB``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return units.parse_size(value)


def whole_seconds(value) -> int:
    """Whole seconds, rounded up so that a sub-second duration never becomes 0."""
    return int(math.ceil(to_seconds(value)))


def haproxy_time(value) -> str:
    """haproxy time format: milliseconds keep sub-second precision."""
    ms = int(round(to_seconds(value) * 1000))
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def nginx_time(value) -> str:
    """nginx time: the largest exact unit (``90s``, ``5m``, ``1h``, ``7d``), ms below a second."""
    secs = to_seconds(value)
    if 0 < secs < 1:
        return f"{int(round(secs * 1000))}ms"
    whole = int(math.ceil(secs))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def lua_str(value: str) -> str:
    """A single-quoted Lua string literal (zone files wrap LUA in double quotes)."""
    if any(c in value for c in "'\"\\\n"):
        raise ValueError(f"unsafe character in DNS LUA value: {value!r}")
    return f"'{value}'"


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_name(kind: str, value: str) -> str:
    """Names end up unquoted in config files; refuse anything that could break a line."""
    if not NAME.match(value):
        raise ValueError(f"invalid {kind} {value!r}: letters, digits, '-', '_' and '.' only")
    return value
