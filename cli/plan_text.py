"""`topoform plan`'s human output: aligned plain text, written as it goes.

Why not a rich `Table`: a table of every resource is built whole, measured
cell by cell and rendered at the end (at 5,000 components that was nearly
all of the run), and below ~200 columns its columns shrank until names were
cut and the dependencies vanished. Here each component is laid out on its
own (its columns fit its own names and types) and written as soon as it is
ready; nothing is ever cut: a name, a type or a dependency that does not fit
moves to a continuation line.

    platform  Platform · line 7
      net-vpc          aws:ec2/vpc:Vpc
      net-igw          aws:ec2/internetGateway:InternetGateway  ← net-vpc

Colour is plain ANSI, and only for a terminal (not with `NO_COLOR` or
`TERM=dumb`).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Iterable, Mapping, TextIO

if TYPE_CHECKING:
    from topoform.providers.plan import ComponentInfo, Plan, Resource

# A terminal's width is clamped to this range: narrower cannot hold a type
# token beside a name, wider makes lines hard to follow.
MIN_WIDTH, MAX_WIDTH = 80, 140
# A pipe has no width: COLUMNS if set, else this.
PIPE_WIDTH = 100
# Below this even COLUMNS is not honoured: no layout is readable there.
FLOOR_WIDTH = 40

INDENT = 2  # a resource line under its component's heading
GAP = 2  # between columns
LABEL_WIDTH = 14  # the summary's row labels
NAME_MIN = 12  # the name column never gets narrower than this
DEPS_MIN = 24  # a narrower dependency column moves dependencies to their own lines
PROTECTED = " [protected]"


def text_width(stream: TextIO, environ: Mapping[str, str] = os.environ) -> int:
    """The width to lay out for: a terminal's clamped to 80–140; a pipe's COLUMNS, else 100."""
    columns = _int(environ.get("COLUMNS"))
    if _is_terminal(stream):
        if columns is None:
            try:
                columns = os.get_terminal_size(stream.fileno()).columns
            except (OSError, ValueError, AttributeError):
                columns = PIPE_WIDTH
        return max(MIN_WIDTH, min(MAX_WIDTH, columns))
    return PIPE_WIDTH if columns is None else max(FLOOR_WIDTH, columns)


def use_color(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour for a terminal only, and not when the user asked for none (https://no-color.org)."""
    return _is_terminal(stream) and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def write_plan_text(plan: "Plan", stream: TextIO, *, width: int | None = None, color: bool | None = None) -> None:
    """Write `plan` to `stream` one component at a time: a heading, then one
    line per resource (name, type, dependencies), then a summary.

    `width` and `color` default to what `text_width` and `use_color` say of
    `stream`.
    """
    width = text_width(stream) if width is None else max(FLOOR_WIDTH, width)
    style = _Style(bool(use_color(stream) if color is None else color), _can_encode(stream, "←·"))
    # Only references to the resources, grouped: a provider may add to a
    # component after others (platform resources, DNS records, alarms).
    groups: dict[str, list[Resource]] = {ref: [] for ref in plan.components}
    for resource in plan.resources:
        groups.setdefault(resource.component, []).append(resource)
    home = _home_file(plan.components.values())
    title = f"{plan.blueprint} {style.dot} {plan.target} {style.dot} stack {plan.stack}"
    stream.write(style("bold", title) + (f"  ({home})" if home else "") + "\n")
    empty: list[str] = []
    for ref, resources in groups.items():
        if not resources:
            empty.append(ref)
            continue
        lines = _component_lines(plan, ref, plan.components.get(ref), resources, width, style, home)
        stream.write("\n" + "\n".join(lines) + "\n")
    stream.write("\n" + "\n".join(_summary_lines(plan, groups, empty, width, style)) + "\n")


# ------------------------------------------------------------------ one component

def _component_lines(plan: "Plan", ref: str, info: "ComponentInfo | None", resources: list["Resource"],
                     width: int, style: "_Style", home: str | None) -> list[str]:
    lines = _heading(ref, info, width, style, home)
    names = [r.name + PROTECTED if r.protect else r.name for r in resources]
    type_width = max(len(r.type) for r in resources)
    name_col = min(max(map(len, names)), max(NAME_MIN, width - INDENT - GAP - type_width))
    type_at = INDENT + name_col + GAP
    deps_at = type_at + type_width + GAP
    # Dependencies beside the type when a column of at least DEPS_MIN is left, else below.
    deps_inline = width - deps_at >= DEPS_MIN
    for resource, name in zip(resources, names):
        deps = plan.dependencies(resource)
        token = resource.type
        if len(name) <= name_col and type_at + len(token) <= width:
            line = " " * INDENT + name + " " * (type_at - INDENT - len(name)) + style("type", token)
            end = type_at + len(token)
        else:  # the name, then the type on a continuation line
            lines.append(" " * INDENT + name)
            at = type_at if type_at + len(token) <= width else INDENT + 4
            line = " " * at + style("type", token)
            end = at + len(token)
        if not deps:
            lines.append(line)
            continue
        at = INDENT + 4
        below = _wrap(deps, at + 2, width)
        # Beside the type when every dependency fits that column and it takes no
        # more lines than below the resource; below it otherwise.
        beside = _wrap(deps, deps_at + 2, width) if deps_inline and end <= deps_at - GAP else []
        if beside and len(beside) <= len(below) + 1 and max(map(len, beside)) <= width - deps_at - 2:
            lines.append(line + " " * (deps_at - end) + style("deps", f"{style.arrow} {beside[0]}"))
            lines.extend(" " * (deps_at + 2) + style("deps", text) for text in beside[1:])
        else:
            lines.append(line)
            lines.append(" " * at + style("deps", f"{style.arrow} {below[0]}"))
            lines.extend(" " * (at + 2) + style("deps", text) for text in below[1:])
    return lines


def _heading(ref: str, info: "ComponentInfo | None", width: int, style: "_Style", home: str | None) -> list[str]:
    meta = []
    if info is not None:
        meta.append(info.type.rsplit(":", 1)[-1])
        if info.source is not None:
            where = f"line {info.source.line}" if info.source.file == home else \
                f"{info.source.file}:{info.source.line}"
            meta.append(where)
    text = f" {style.dot} ".join(meta)
    if not text:
        return [style("heading", ref)]
    if len(ref) + GAP + len(text) <= width:
        return [style("heading", ref) + " " * GAP + style("meta", text)]
    return [style("heading", ref), " " * INDENT + style("meta", text)]


def _wrap(words: list[str], start: int, width: int) -> list[str]:
    """`words` as a comma-separated list in lines from column `start` to `width`."""
    return _fill([w + "," for w in words[:-1]] + words[-1:], start, width)


def _fill(pieces: list[str], start: int, width: int) -> list[str]:
    """`pieces` joined by spaces in lines from column `start` to `width`; a piece is never
    split (one longer than the room gets a line of its own)."""
    room = max(1, width - start)
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > room:
            lines.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    lines.append(current)
    return lines


def _home_file(components: Iterable["ComponentInfo"]) -> str | None:
    """The blueprint file most components come from; headings then need only a line number."""
    files = Counter(info.source.file for info in components if info.source is not None)
    return files.most_common(1)[0][0] if files else None


# ------------------------------------------------------------------ the summary

def _summary_lines(plan: "Plan", groups: dict[str, list["Resource"]], empty: list[str], width: int,
                   style: "_Style") -> list[str]:
    # Counted as `validate` counts: the blueprint's components, then the Plan's
    # shared parts (platform, dns, ...), which are components of their own here.
    own = sum(1 for ref in groups if "." in ref)
    shared = [ref for ref in groups if "." not in ref and ref not in empty]
    counted = f"{own} blueprint component{'s' * (own != 1)}" + (f" + {', '.join(shared)}" if shared else "")
    head, *rest = _fill(f"{len(plan.resources)} to add, 0 to change, 0 to destroy ({counted})".split(), INDENT, width)
    added = f"{len(plan.resources)} to add"
    lines = [style("bold", added) + head[len(added):], *(" " * INDENT + line for line in rest)]
    kinds = Counter(plan.components[ref].type.rsplit(":", 1)[-1] if ref in plan.components else ref
                    for ref, resources in groups.items() if resources)
    col = INDENT + LABEL_WIDTH

    def row(label: str, texts: list[str]) -> None:
        lines.append(" " * INDENT + style("meta", label.ljust(LABEL_WIDTH)) + texts[0])
        lines.extend(" " * col + text for text in texts[1:])

    row("components", _wrap([f"{n} {kind}" for n, kind in _counted(kinds)], col, width))
    # One type a line: a comma list of long tokens is hard to scan. A type too
    # long for its line goes below its count, whole.
    head = " " * INDENT + style("meta", "resources".ljust(LABEL_WIDTH))
    for i, (n, token) in enumerate(_counted(Counter(r.type for r in plan.resources), aligned=True)):
        lead = head if i == 0 else " " * col
        if col + len(n) + GAP + len(token) <= width:
            lines.append(f"{lead}{n}  {token}")
        else:
            lines += [lead + n, " " * (INDENT + 4) + token]
    if empty:
        row("no resources", _wrap(empty, col, width))
    if plan.outputs:
        row("outputs", [f"{len(plan.outputs)} (see --json)"])
    if plan.warnings:
        count = len(plan.warnings)
        lines.append(style("warn", f"{count} warning{'s' * (count != 1)}:"))
        for diag in plan.warnings:
            head = f"{diag.file}:{diag.line}:{diag.column}: {diag.severity}: {diag.message}"
            lines.extend(" " * INDENT + text for text in _fill(head.split(), INDENT, width))
            if diag.hint:
                lines.extend(" " * (INDENT + 2) + text for text in _fill(f"hint: {diag.hint}".split(), INDENT + 2, width))
    lines.append("Deploy with: topoform up" + ("" if plan.target == "docker" else f" --target {plan.target}"))
    return lines


def _counted(counter: Counter, aligned: bool = False) -> list[tuple[str, str]]:
    """(count, key) by falling count; `aligned` right-aligns the counts (for one a line)."""
    items = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    digits = len(str(items[0][1])) if aligned and items else 0
    return [(f"{n:>{digits}}", key) for key, n in items]


# ------------------------------------------------------------------ terminal details

def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _can_encode(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


# The SGR codes of each part of the output (https://en.wikipedia.org/wiki/ANSI_escape_code#SGR).
_SGR = {"bold": "1", "heading": "1;36", "meta": "2", "type": "34", "deps": "2", "warn": "1;33"}


class _Style:
    """ANSI colour, or nothing; the arrow and dot fall back to ASCII for a stream that cannot encode them."""

    def __init__(self, color: bool, unicode: bool) -> None:
        self.color = color
        self.arrow, self.dot = ("←", "·") if unicode else ("<-", "-")

    def __call__(self, part: str, text: str) -> str:
        return f"\x1b[{_SGR[part]}m{text}\x1b[0m" if self.color else text
