"""Stage 1: YAML text → plain data plus the source position of every node.

One pass over libyaml's event stream (PyYAML's C parser) builds the Python
value and a log of positions: where each value and each mapping key was
written, addressed by its path (a tuple of mapping keys and list indexes).
Later stages look a path up to point their diagnostics at the user's line.

Why events and not `yaml.compose`: composing builds a node tree and resolves
every plain scalar through PyYAML's Python resolver — about three times the
cost of this loop on a large blueprint. Building from events is also
iterative, so no nesting depth can overflow Python's stack.

YAML problems are diagnostics, never exceptions: syntax errors (with the
parser's line and column), duplicate keys, non-string keys, unsupported tags,
more than one document, recursive aliases, alias bombs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from .diagnostics import Diagnostic, Position

try:  # libyaml's parser; the pure-Python one gives the same events, slower
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - libyaml ships in PyYAML's wheels
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_MAP_TAGS = {None, "!", "tag:yaml.org,2002:map"}
_SEQ_TAGS = {None, "!", "tag:yaml.org,2002:seq"}
_IMPLICIT = Resolver.yaml_implicit_resolvers  # first character → [(tag, regexp)], YAML 1.1 as PyYAML
_CONSTRUCT = SafeConstructor()

# An alias re-uses a subtree; a handful of anchors nested in each other can
# stand for billions of nodes ("billion laughs"). Past this many nodes the
# file is refused rather than expanded.
MAX_NODES = 250_000  # a 10,000-component blueprint has about 90,000

_SYNTAX_HINT = "check indentation and quoting near this place; a value with ': ' or ' #' needs quotes"


class SourceMap:
    """Where each value of a loaded document was written.

    The loader appends to a log; the lookup tables are built on first use,
    so validating a correct file (which looks nothing up) never pays for them.
    """

    def __init__(self, file: str, log: list | None = None):
        self.file = file
        self._log: list[tuple[int, Path, int, int]] = log if log is not None else []
        self._values: dict[Path, tuple[int, int]] | None = None
        self._keys: dict[Path, tuple[int, int]] | None = None
        self._containers: set[Path] = set()

    def _tables(self) -> tuple[dict, dict]:
        if self._values is None or self._keys is None:
            values: dict[Path, tuple[int, int]] = {}
            keys: dict[Path, tuple[int, int]] = {}
            containers: set[Path] = set()
            for kind, path, line, column in self._log:
                if kind == _KEY:
                    keys.setdefault(path, (line, column))
                elif kind != _DOLLAR:
                    values.setdefault(path, (line, column))
                    if kind == _CONTAINER:
                        containers.add(path)
            self._values, self._keys, self._containers = values, keys, containers
            # The tables hold every position now; of the log only the `${` entries are asked for
            # again (dollar_paths). ~15 MB less held through a 10,000-component compile.
            self._log = [entry for entry in self._log if entry[0] == _DOLLAR]
        return self._values, self._keys

    @property
    def values(self) -> dict[Path, Position]:
        """Path → position of the value written there (a copy, for tests and tools)."""
        return {p: Position(self.file, *lc) for p, lc in self._tables()[0].items()}

    @property
    def keys(self) -> dict[Path, Position]:
        """Path → position of the mapping key that names it."""
        return {p: Position(self.file, *lc) for p, lc in self._tables()[1].items()}

    def written_key(self, path: Path) -> Position | None:
        """The position of the key naming exactly `path`, None if none does (`keys` copies the table)."""
        found = self._tables()[1].get(path)
        return None if found is None else Position(self.file, *found)

    def written_value(self, path: Path) -> Position | None:
        """The position of the value written exactly at `path`, None if none is (`values` copies the table)."""
        found = self._tables()[0].get(path)
        return None if found is None else Position(self.file, *found)

    def value(self, path: Path) -> Position:
        """The position of the value at `path`, or of its nearest written ancestor."""
        values = self._tables()[0]
        for cut in range(len(path), -1, -1):
            found = values.get(path[:cut])
            if found is not None:
                return Position(self.file, *found)
        return Position(self.file, 1, 1)

    def key(self, path: Path) -> Position:
        """The position of the key naming `path` (for 'unknown key'), else of its value."""
        found = self._tables()[1].get(path)
        return Position(self.file, *found) if found is not None else self.value(path)

    def at(self, path: Path) -> Position:
        """Where to point a problem about `path`: the key naming a mapping or list
        (a block mapping's own position is its first key, which misleads), the
        value itself for a scalar."""
        values, keys = self._tables()
        if path in self._containers and path in keys:
            return Position(self.file, *keys[path])
        return self.value(path)

    def has(self, path: Path) -> bool:
        return path in self._tables()[0]

    def dollar_paths(self) -> list[Path]:
        """Paths of the strings that contain `${` (the only ones substitution must visit)."""
        return [path for kind, path, _, _ in self._log if kind == _DOLLAR]


_SCALAR, _CONTAINER, _KEY, _DOLLAR = 0, 1, 2, 3


@dataclass
class Loaded:
    data: Any
    source: SourceMap
    diagnostics: list[Diagnostic]
    # Paths of strings holding `${`; None means "unknown, look everywhere".
    dollar_paths: list[Path] | None = field(default=None)


class _Frame:
    """An open mapping or sequence while its events arrive."""

    __slots__ = ("value", "path", "is_map", "key", "key_done", "anchor", "log_start", "merges", "discard", "is_key")

    def __init__(self, value: Any, path: Path, is_map: bool, anchor: str | None, log_start: int, discard: bool,
                 is_key: bool = False):
        self.value = value
        self.path = path
        self.is_map = is_map
        self.key: Any = None  # the pending key of a mapping
        self.key_done = False  # True once the pending key is read and its value is awaited
        self.anchor = anchor
        self.log_start = log_start
        self.merges: list[tuple[Any, Path]] = []
        self.discard = discard
        self.is_key = is_key  # a mapping or list written as a mapping key: reported, then dropped


class _Anchor:
    __slots__ = ("value", "path", "log", "open")

    def __init__(self, value: Any, path: Path, log: list, open_: bool):
        self.value = value
        self.path = path
        self.log = log
        self.open = open_


_BAD_KEY = object()  # a key that is not a scalar: reported, and its value is dropped
_MERGE_KEY = object()  # `<<`


class _Builder:
    """Consumes parser events, builds the value and the position log."""

    def __init__(self, file: str, text: str):
        self.file = file
        self.text = text
        self.log: list[tuple[int, Path, int, int]] = []
        self.diags: list[Diagnostic] = []
        self.anchors: dict[str, _Anchor] = {}
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.has_root = False
        self.fatal = False

    # ------------------------------------------------------------ helpers

    def error(self, line: int, column: int, message: str, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(self.file, line, column, "error", message, hint))

    def scalar_value(self, event: ScalarEvent, line: int, column: int) -> Any:
        tag = event.tag
        value = event.value
        if tag is None or tag == "!":
            if tag == "!" or not event.implicit[0]:
                return value  # quoted, or `!` forcing a string
            resolvers = _IMPLICIT.get(value[:1] if value else "")
            if resolvers is None:
                return value  # most words: no implicit type starts with their first letter
            for tag, regexp in resolvers:
                if regexp.match(value):
                    break
            else:
                return value
            if tag == _INT and value.isdigit() and (value[0] != "0" or value == "0"):
                return int(value)  # the common decimal case, without the constructor's parsing
        if tag == _STR or tag == _TIMESTAMP or tag == _VALUE:
            return value  # dates stay as written: no field takes a date
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return _CONSTRUCT.bool_values.get(value.lower(), value)
        if tag == _MERGE:
            return _MERGE_KEY
        if tag in (_INT, _FLOAT):
            try:
                return _CONSTRUCT.yaml_constructors[tag](_CONSTRUCT, ScalarNode(tag, value))
            except (ConstructorError, ValueError):
                self.error(line, column, f"'{value}' is not a valid {'integer' if tag == _INT else 'number'}")
                return value
        self.error(line, column, f"unsupported YAML tag {tag}",
                   "blueprints use plain YAML: strings, numbers, booleans, lists and mappings")
        return value

    def child_path(self) -> tuple[Path | None, _Frame | None]:
        """The path of the node that starts now, or None when it is a mapping key."""
        if not self.stack:
            return (), None
        top = self.stack[-1]
        if not top.is_map:
            return top.path + (len(top.value),), top
        if not top.key_done:
            return None, top
        key = top.key
        if key is _MERGE_KEY:
            return top.path + ("<<",), top
        if key is _BAD_KEY:
            return top.path + ("<dropped>",), top
        return top.path + (key,), top

    def place(self, value: Any, top: _Frame | None, path: Path) -> None:
        """Put a finished value into its parent."""
        if top is None:
            self.root, self.has_root = value, True
            return
        if top.discard:
            if top.is_map:
                top.key_done = False
            return
        if not top.is_map:
            top.value.append(value)
            return
        key = top.key
        top.key_done = False
        if key is _BAD_KEY:
            return
        if key is _MERGE_KEY:
            top.merges.append((value, path))
            return
        top.value[key] = value

    def take_key(self, top: _Frame, key: Any, line: int, column: int) -> None:
        top.key_done = True
        if key is _BAD_KEY or key is _MERGE_KEY:
            top.key = key
            return
        if top.discard:
            top.key = _BAD_KEY
            return
        if key in top.value:
            first = self.first_key_position(top.path + (key,))
            self.error(line, column, f"duplicate key '{key}'",
                       f"'{key}' is already defined at line {first[0]}, column {first[1]}; keep one")
            top.key = _BAD_KEY
            return
        top.key = key
        self.log.append((_KEY, top.path + (key,), line, column))

    def first_key_position(self, path: Path) -> tuple[int, int]:
        for kind, logged, line, column in reversed(self.log):
            if kind == _KEY and logged == path:
                return line, column
        return 1, 1  # pragma: no cover - a duplicate's first key is always logged

    # ------------------------------------------------------------ events

    def start_container(self, event: Any, is_map: bool) -> None:
        line, column = event.start_mark.line + 1, event.start_mark.column + 1
        path, top = self.child_path()
        tags = _MAP_TAGS if is_map else _SEQ_TAGS
        if event.tag not in tags:
            self.error(line, column, f"unsupported YAML tag {event.tag}",
                       "blueprints use plain YAML: strings, numbers, booleans, lists and mappings")
            if path is not None and top is not None and top.is_map:
                top.key = _BAD_KEY  # reported once: the value is left out, not checked as if untagged
        if path is None:  # a mapping or list used as a mapping key
            self.error(line, column, "a mapping key must be a plain string, not a "
                       + ("mapping" if is_map else "list"))
            assert top is not None
            top.key_done, top.key = True, _BAD_KEY
            path = top.path + ("<key>",)
            discard = is_key = True
        else:
            discard, is_key = bool(top and top.discard), False
        value: Any = {} if is_map else []
        frame = _Frame(value, path, is_map, event.anchor, len(self.log), discard, is_key)
        if not discard:
            self.log.append((_CONTAINER, path, line, column))
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchor(value, path, [], True)
        self.stack.append(frame)
        self.check_size()

    def end_container(self) -> None:
        frame = self.stack.pop()
        if frame.is_map and frame.merges:
            self.merge(frame)
        if frame.anchor is not None:
            anchor = self.anchors.get(frame.anchor)
            if anchor is not None and anchor.value is frame.value:
                anchor.log = self.relative_log(frame.log_start, frame.path)
                anchor.open = False
        if frame.is_key:
            return  # the key was reported; the parent now awaits its value
        top = self.stack[-1] if self.stack else None
        self.place(frame.value, top, frame.path)

    def relative_log(self, start: int, prefix: Path) -> list:
        cut = len(prefix)
        return [(kind, path[cut:], line, column) for kind, path, line, column in self.log[start:]]

    def scalar(self, event: ScalarEvent) -> None:
        # The hot path of the loader: most events are scalars, so the common
        # cases (a key; a plain value in a mapping or list) are written out here.
        mark = event.start_mark
        line, column = mark.line + 1, mark.column + 1
        stack = self.stack
        if stack:
            top = stack[-1]
            if top.is_map and not top.key_done:
                text = event.value
                if event.implicit[0] and event.tag is None and (text == "<<" or text == ""):
                    if text == "<<":
                        self.take_key(top, _MERGE_KEY, line, column)
                    else:
                        self.error(line, column, "a mapping key is empty")
                        self.take_key(top, _BAD_KEY, line, column)
                else:
                    # `on:`, `1:`, `~:` are the keys "on", "1", "~" as written
                    self.take_key(top, text, line, column)
                if event.anchor is not None:
                    self.anchors[event.anchor] = _Anchor(text, (), [], False)
                return
        path, top = self.child_path()
        assert path is not None
        value = self.scalar_value(event, line, column)
        if value is _MERGE_KEY:
            value = "<<"
        if not (top and top.discard):
            self.log.append((_SCALAR, path, line, column))
            if value.__class__ is str and "${" in value:
                self.log.append((_DOLLAR, path, line, column))
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchor(value, path, [(_SCALAR, (), line, column)], False)
        if top is None:
            self.root, self.has_root = value, True
        elif top.discard:
            top.key_done = False
        elif top.is_map:
            key = top.key
            top.key_done = False
            if key is _MERGE_KEY:
                top.merges.append((value, path))
            elif key is not _BAD_KEY:
                top.value[key] = value
        else:
            top.value.append(value)

    def alias(self, event: AliasEvent) -> None:
        line, column = event.start_mark.line + 1, event.start_mark.column + 1
        path, top = self.child_path()
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            self.error(line, column, f"unknown alias '*{event.anchor}'")
            value: Any = None
        elif anchor.open:
            self.error(line, column, f"alias '*{event.anchor}' refers to a mapping or list that contains it",
                       "a recursive alias would be infinite; copy the values instead")
            value = None
            if path is not None and top is not None and top.is_map:
                top.key = _BAD_KEY  # reported once: the key is left out
        else:
            value = anchor.value
        if path is None:
            assert top is not None
            if isinstance(value, str):
                self.take_key(top, value, line, column)
            else:
                self.error(line, column, "a mapping key must be a plain string")
                self.take_key(top, _BAD_KEY, line, column)
            return
        if anchor is not None and not anchor.open and not (top and top.discard):
            # The aliased subtree's positions, re-rooted here: a problem inside
            # points at the lines where the anchored values were written.
            self.check_size(len(anchor.log))
            self.log.append((_CONTAINER if isinstance(value, (dict, list)) else _SCALAR, path, line, column))
            self.log.extend((kind, path + rel, l, c) for kind, rel, l, c in anchor.log if rel)
            self.check_size()
        self.place(value, top, path)

    def merge(self, frame: _Frame) -> None:
        """`<<: *base` (or a list of them): keys not written here come from there."""
        for value, path in frame.merges:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    where = self.position_of(path)
                    self.error(*where, "'<<' merges mappings only")
                    continue
                origin = next((a for a in self.anchors.values() if a.value is source), None)
                for key, item in source.items():
                    if key in frame.value:
                        continue
                    frame.value[key] = item
                    if origin is not None:
                        self.log.extend((kind, frame.path + rel, l, c) for kind, rel, l, c in origin.log
                                        if rel and rel[0] == key)
        self.check_size()

    def position_of(self, path: Path) -> tuple[int, int]:
        for kind, logged, line, column in reversed(self.log):
            if logged == path and kind != _KEY:
                return line, column
        return 1, 1

    def check_size(self, more: int = 0) -> None:
        # The log holds about two entries per value (its key and itself).
        if len(self.log) + more > 2 * MAX_NODES:
            raise _TooLarge()

    # ------------------------------------------------------------ the loop

    def run(self) -> None:
        parser = _Parser(self.text)
        get_event = parser.get_event
        documents = 0
        while True:
            event = get_event()
            if event is None:  # pragma: no cover - the C parser ends with StreamEndEvent
                break
            kind = type(event)
            if kind is ScalarEvent:
                self.scalar(event)
            elif kind is MappingStartEvent:
                self.start_container(event, True)
            elif kind is SequenceStartEvent:
                self.start_container(event, False)
            elif kind is AliasEvent:
                self.alias(event)
            elif kind is DocumentStartEvent:
                documents += 1
                if documents == 2:
                    self.error(event.start_mark.line + 1, event.start_mark.column + 1,
                               "a blueprint is one YAML document, but this file holds more",
                               "remove the second `---` and what follows, or merge the documents")
                    return
            elif kind is StreamEndEvent:
                break
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                self.end_container()


class _TooLarge(Exception):
    pass


# What libyaml was inside when it failed → what was opened there, and how it ends.
_OPENED = {
    "while parsing a flow mapping": ("mapping", "{", "add '}' where the mapping ends, or ',' between its entries"),
    "while parsing a flow sequence": ("list", "[", "add ']' where the list ends, or ',' between its items"),
    "while scanning a quoted scalar": ("quoted string", None, "end it with the quote it starts with"),
}


def _syntax_problem(exc: yaml.MarkedYAMLError) -> tuple[str, str]:
    """The message and hint of a syntax error. libyaml notices an unclosed `{`, `[`
    or quote where the next thing fails to fit, often lines later; its context
    mark says where the construct was opened, which is where the fix goes."""
    problem = exc.problem or exc.context or "invalid YAML"
    if not (exc.context and exc.problem and "while" in exc.context):
        return problem, _SYNTAX_HINT
    opened = exc.context_mark
    known = _OPENED.get(exc.context)
    if opened is None or exc.problem_mark is None or known is None:
        return f"{problem} ({exc.context})", _SYNTAX_HINT
    what, bracket, fix = known
    at = f"line {opened.line + 1}, column {opened.column + 1}"
    opening = f"the '{bracket}' at {at}" if bracket else f"the {what} at {at}"
    return f"{problem} (in the {what} opened at {at})", f"{opening} is not closed: {fix}"


def _clamped(text: str, line: int, column: int) -> tuple[int, int]:
    """libyaml may place an end-of-file error on the line after the last; point at the end instead."""
    lines = text.splitlines() or [""]
    if line > len(lines):
        return len(lines), len(lines[-1]) + 1
    return line, column


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def load_text(text: str, file: str = "<blueprint>") -> Loaded:
    """Parse one YAML document; every problem becomes a diagnostic, never an exception."""
    builder = _Builder(file, text)
    try:
        builder.run()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = _clamped(text, mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem, hint = _syntax_problem(exc)
        return Loaded(None, SourceMap(file), [Diagnostic(file, line, column, "error",
                                                         f"YAML syntax error: {problem}", hint)])
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position) if isinstance(exc.position, int) else (1, 1)
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return Loaded(None, SourceMap(file), [Diagnostic(
            file, line, column, "error", f"the file holds a character YAML does not allow ({what}): {exc.reason}",
            "remove control characters; a blueprint is UTF-8 text")])
    except _TooLarge:
        return Loaded(None, SourceMap(file), [Diagnostic(
            file, 1, 1, "error", f"the blueprint expands to more than {MAX_NODES:,} values through aliases",
            "an alias re-uses a whole subtree; nest fewer aliases")])
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error above is marked
        return Loaded(None, SourceMap(file), [Diagnostic(file, 1, 1, "error", f"YAML error: {exc}")])
    source = SourceMap(file, builder.log)
    if not builder.has_root or builder.root is None and not builder.diags:
        return Loaded(None, source, builder.diags + [Diagnostic(
            file, 1, 1, "error", "the blueprint is empty",
            "start with `blueprint: NAME`, or run `topoform init` for a starter file")])
    dollars = [path for kind, path, _, _ in builder.log if kind == _DOLLAR]
    return Loaded(builder.root, source, builder.diags, dollars)


def load_file(path: str) -> Loaded:
    try:
        with open(path, encoding="utf-8-sig") as handle:  # -sig: a UTF-8 byte-order mark is not content
            text = handle.read()
    except FileNotFoundError:
        return Loaded(None, SourceMap(path), [Diagnostic(path, 1, 1, "error", "file not found",
                                                          "check the path of the blueprint")])
    except IsADirectoryError:
        return Loaded(None, SourceMap(path), [Diagnostic(path, 1, 1, "error", "this is a directory, not a file",
                                                          "name the blueprint's YAML file")])
    except UnicodeDecodeError as exc:
        line, column = _line_column_bytes(path, exc.start)
        return Loaded(None, SourceMap(path), [Diagnostic(
            path, line, column, "error", f"the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x})",
            "save the blueprint as UTF-8")])
    except OSError as exc:
        return Loaded(None, SourceMap(path), [Diagnostic(path, 1, 1, "error",
                                                          f"cannot read the file: {exc.strerror or exc}")])
    return load_text(text, path)


def _line_column_bytes(path: str, offset: int) -> tuple[int, int]:
    try:
        with open(path, "rb") as handle:
            head = handle.read(offset)
    except OSError:  # pragma: no cover - it was readable a moment ago
        return 1, 1
    return head.count(b"\n") + 1, offset - (head.rfind(b"\n") + 1) + 1
