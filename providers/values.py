"""The Plan's value language, read by the Pulumi program and by `eject` alike.

A Plan property is plain data with a few special forms (providers/plan.py):
strings holding `${RESOURCE.attr}` references (`attr` may go on with
`.field` and `[index]` steps; `$${` is a literal `${`), and one-key dicts
`{"$json": …}`, `{"$secret": …}`, `{"$asset": path}`, `{"$archive": path}`,
and `{"$lookup": {"function": TOKEN, "args": {…}, "attr": NAME}}` — attribute
`attr` of a provider data source (an invoke: `aws.ec2.get_managed_prefix_list`),
read at deploy time for what an account or region knows and a Plan cannot
(a managed prefix list's id).
The program turns them into Pulumi objects, eject into Python source; both
parse them here, so the two cannot read a value differently.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterator

from .plan import REFERENCE_RE

SPECIAL_KEYS = ("$json", "$secret", "$asset", "$archive", "$lookup")
FILE_KEYS = ("$asset", "$archive")
_ATTR_STEP_RE = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Reference:
    """`${name.attr}`: output `attr` (with its steps) of resource `name`."""

    name: str
    attr: str

    @property
    def steps(self) -> tuple[tuple[str, int | None], ...]:
        return attr_steps(self.attr)


@functools.lru_cache(maxsize=4096)
def attr_steps(attr: str) -> tuple[tuple[str, int | None], ...]:
    """`x[0].y` → (("x", None), ("", 0), ("y", None)); parsed once per distinct path."""
    return tuple((m.group(1), int(m.group(2)) if m.group(2) else None) for m in _ATTR_STEP_RE.finditer(attr))


def string_parts(text: str) -> list[str | Reference]:
    """A Plan string as literal text and references, in order; `$${` is text, joined with its neighbours."""
    parts: list[str | Reference] = []
    last = 0

    def add_text(piece: str) -> None:
        if not piece:
            return
        if parts and isinstance(parts[-1], str):
            parts[-1] += piece
        else:
            parts.append(piece)

    for match in REFERENCE_RE.finditer(text):
        add_text(text[last:match.start()])
        if match.group(1) is None:
            add_text("${")
        else:
            parts.append(Reference(match.group(1), match.group(2)))
        last = match.end()
    add_text(text[last:])
    return parts


def lookup(function: str, attr: str, **args: Any) -> dict:
    """A `$lookup` value: `attr` of data source `function` (a Pulumi invoke token) called with `args`."""
    return {"$lookup": {"function": function, "args": args, "attr": attr}}


def lookup_function(token: str) -> tuple[str, str, str]:
    """(SDK package, module, Python function) of an invoke token.

    `aws:ec2/getManagedPrefixList:getManagedPrefixList` → ("aws", "ec2",
    "get_managed_prefix_list"); the program and eject call its `_output` form.
    """
    package, module_path, name = token.split(":")
    module = module_path.split("/")[0]
    return package, module, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def special(value: dict) -> tuple[str, Any] | None:
    """(`$json`, inner) for a one-key dict of a special form; None for plain data."""
    if len(value) == 1:
        key = next(iter(value))
        if key in SPECIAL_KEYS:
            return key, value[key]
    return None


def files(value: Any) -> Iterator[str]:
    """Paths of every `$asset` / `$archive` in a value, in order."""
    if isinstance(value, dict):
        form = special(value)
        if form is not None and form[0] in FILE_KEYS:
            yield str(form[1])
            return
        for item in value.values():
            yield from files(item)
    elif isinstance(value, list):
        for item in value:
            yield from files(item)
