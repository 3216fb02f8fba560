"""Stage 1: YAML text → plain data plus the source position of every node.

PyYAML's libyaml `compose` gives each node its start mark; one walk over the
node tree builds the Python value and a table `path → Position` (a path is a
tuple of mapping keys and list indexes). Later stages look a path up in it to
point their diagnostics at the user's line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .diagnostics import Diagnostic, Position

try:  # the C loader is ~10× faster; the pure one is a fallback, same results
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml is present wherever PyYAML wheels are
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_KNOWN_SCALAR_TAGS = {
    _STR, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp",
}
_scalar_constructor = SafeConstructor()


@dataclass
class SourceMap:
    """Where each value of a loaded document was written."""

    file: str
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def value(self, path: Path) -> Position:
        """The position of the value at `path`, or of its nearest written ancestor."""
        for cut in range(len(path), -1, -1):
            pos = self.values.get(path[:cut])
            if pos is not None:
                return pos
        return Position(self.file, 1, 1)

    def key(self, path: Path) -> Position:
        """The position of the key naming `path` (for 'unknown key'), else of its value."""
        pos = self.keys.get(path)
        return pos if pos is not None else self.value(path)


@dataclass
class Loaded:
    data: Any
    source: SourceMap
    diagnostics: list[Diagnostic]


def _pos(file: str, node: Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    def __init__(self, file: str):
        self.file = file
        self.source = SourceMap(file)
        self.diags: list[Diagnostic] = []

    def walk(self, node: Node, path: Path) -> Any:
        self.source.values[path] = _pos(self.file, node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.walk(item, path + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        self.diags.append(Diagnostic.at(_pos(self.file, node), "unsupported YAML node"))
        return None

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        if node.tag not in _KNOWN_SCALAR_TAGS:
            self.diags.append(Diagnostic.at(
                _pos(self.file, node), f"unsupported YAML tag {node.tag}",
                "blueprints use plain YAML: strings, numbers, booleans, lists and mappings",
            ))
            return node.value
        try:
            value = _scalar_constructor.yaml_constructors[node.tag](_scalar_constructor, node)
        except (ConstructorError, ValueError) as exc:
            self.diags.append(Diagnostic.at(_pos(self.file, node), f"invalid scalar: {exc}"))
            return node.value
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # keep dates as written; no field takes a date
        return value

    def mapping(self, node: MappingNode, path: Path) -> dict:
        result: dict = {}
        merged: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self.merge_source(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                self.diags.append(Diagnostic.at(_pos(self.file, key_node), "a mapping key must be a plain string"))
                continue
            key = key_node.value if key_node.tag == _STR else self.scalar(key_node)
            if not isinstance(key, str):
                key = str(key_node.value)
            if key in result:
                first = self.source.keys[path + (key,)]
                self.diags.append(Diagnostic.at(
                    _pos(self.file, key_node), f"duplicate key '{key}'",
                    f"'{key}' is already defined at line {first.line}, column {first.column}; keep one",
                ))
                continue
            self.source.keys[path + (key,)] = _pos(self.file, key_node)
            result[key] = self.walk(value_node, path + (key,))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def merge_source(self, node: Node, path: Path) -> dict:
        """`<<: *anchor` (or a list of anchors): keys not written here come from there."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self.diags.append(Diagnostic.at(_pos(self.file, source), "'<<' merges mappings only"))
                continue
            inner = _Walker(self.file)
            value = inner.walk(source, path)
            self.diags.extend(inner.diags)
            for sub, pos in inner.source.values.items():
                self.source.values.setdefault(sub, pos)
            for sub, pos in inner.source.keys.items():
                self.source.keys.setdefault(sub, pos)
            for key, item in value.items():
                merged.setdefault(key, item)
        return merged


def load_text(text: str, file: str = "<blueprint>") -> Loaded:
    """Parse one YAML document; syntax errors become diagnostics, never exceptions."""
    walker = _Walker(file)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return Loaded(None, walker.source, [Diagnostic.at(
            pos, f"YAML syntax error: {problem}",
            "check indentation and quoting near this place; a value with ': ' or '#' needs quotes",
        )])
    except yaml.composer.ComposerError as exc:  # pragma: no cover - covered by MarkedYAMLError
        return Loaded(None, walker.source, [Diagnostic.at(Position(file, 1, 1), f"YAML error: {exc}")])
    except yaml.YAMLError as exc:
        return Loaded(None, walker.source, [Diagnostic.at(Position(file, 1, 1), f"YAML error: {exc}")])
    except RecursionError:
        return Loaded(None, walker.source, [Diagnostic.at(Position(file, 1, 1), "YAML nesting is too deep")])
    if node is None:
        return Loaded(None, walker.source, [Diagnostic.at(
            Position(file, 1, 1), "the blueprint is empty",
            "start with `blueprint: NAME`, or run `topoform init` for a starter file",
        )])
    try:
        data = walker.walk(node, ())
    except RecursionError:
        return Loaded(None, walker.source, [Diagnostic.at(Position(file, 1, 1), "YAML nesting is too deep")])
    return Loaded(data, walker.source, walker.diags)


def load_file(path: str) -> Loaded:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return Loaded(None, SourceMap(path), [Diagnostic(path, 1, 1, "error", "file not found",
                                                          "check the path of the blueprint")])
    except (OSError, UnicodeDecodeError) as exc:
        return Loaded(None, SourceMap(path), [Diagnostic(path, 1, 1, "error", f"cannot read the file: {exc}")])
    return load_text(text, path)
