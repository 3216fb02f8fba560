"""Fuzzing the front end: mutations of valid blueprints end in diagnostics, never in an exception.

Each example is one valid blueprint (the examples users start from and the
valid golden files) with a random mutation applied either to the text
(garbage unicode, broken indentation, cut-off files, swapped characters) or
to the data before it is written back as YAML (deleted keys, swapped
types, changed units, random references and interpolations). The property:
`validate_text` returns — a blueprint, or diagnostics each with a sane
position — and never raises. Bounded so the module runs in a few seconds.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topoform.dsl.models import KINDS
from topoform.dsl.units import format_span, parse_duration, parse_size
from topoform.dsl.validate import validate_text

ROOT = Path(__file__).parent.parent
SOURCES = sorted([*(ROOT / "blueprints").glob("*.yaml"), *(ROOT / "tests" / "golden" / "valid").glob("*.yaml")])
TEXTS = [p.read_text(encoding="utf-8") for p in SOURCES]
DATA = [yaml.safe_load(t) for t in TEXTS]

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

GARBAGE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    GARBAGE, st.sampled_from(["30s", "5", "512MiB", "99.9%", "1x", "-1s", "1e9h", "100.1%", "0ms", "${var.x}",
                              "${services.web.url}", "services.web", "databases.nope", "${", "$${x}", "}",
                              "load_balancers.edge", "7d", "20GiB", "${var.web_replicas}", "2h30m", "30m2h",
                              "2h 20m", "1h1h", 443, 80, "/healthz", "healthz", "100G", "lru"]),
)
REFERENCES = st.builds(lambda kind, name, attr: st.sampled_from([f"{kind}.{name}", f"${{{kind}.{name}.{attr}}}"]),
                       st.sampled_from([*KINDS, "var", "nope"]), st.sampled_from(["web", "edge", "users", "x", ""]),
                       st.sampled_from(["url", "host", "name", "reader_url", "shard_urls", "nope"])).flatmap(lambda s: s)
VALUES = st.recursive(st.one_of(SCALARS, REFERENCES),
                      lambda inner: st.one_of(st.lists(inner, max_size=3),
                                              st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


def check(text: str) -> None:
    result = validate_text(text, "fuzz.yaml")
    lines = len(text.splitlines()) + 1
    for diag in result.diagnostics:
        assert diag.file == "fuzz.yaml"
        assert 1 <= diag.line <= lines and diag.column >= 1, diag
        assert diag.message
    assert result.ok == (result.blueprint is not None)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, prefix + (i,))


def parent_of(data, path):
    for part in path[:-1]:
        data = data[part]
    return data


@SETTINGS
@given(source=st.sampled_from(range(len(DATA))), choice=st.data(),
       action=st.sampled_from(["delete", "replace", "insert", "swap-type"]))
def test_data_mutations_end_in_diagnostics(source, choice, action):
    data = copy.deepcopy(DATA[source])
    candidates = [p for p in paths(data) if p]
    path = choice.draw(st.sampled_from(candidates))
    parent = parent_of(data, path)
    key = path[-1]
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = choice.draw(VALUES)
    elif action == "insert" and isinstance(parent, dict):
        parent[choice.draw(st.text(max_size=8))] = choice.draw(VALUES)
    else:
        value = parent[key]
        parent[key] = [value] if not isinstance(value, list) else {"x": value}
    check(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@SETTINGS
@given(source=st.sampled_from(range(len(TEXTS))), choice=st.data(),
       action=st.sampled_from(["garbage", "cut", "indent", "dedent", "swap", "tab", "duplicate-line"]))
def test_text_mutations_end_in_diagnostics(source, choice, action):
    text = TEXTS[source]
    lines = text.splitlines(keepends=True)
    at = choice.draw(st.integers(0, len(text)))
    line = choice.draw(st.integers(0, len(lines) - 1))
    if action == "garbage":
        text = text[:at] + choice.draw(GARBAGE) + text[at:]
    elif action == "cut":
        text = text[:at]
    elif action == "indent":
        lines[line] = "   " + lines[line]
        text = "".join(lines)
    elif action == "dedent":
        lines[line] = lines[line].lstrip(" ")
        text = "".join(lines)
    elif action == "swap" and at + 1 < len(text):
        text = text[:at] + text[at + 1] + text[at] + text[at + 2:]
    elif action == "tab":
        lines[line] = "\t" + lines[line]
        text = "".join(lines)
    else:
        lines.insert(line, lines[line])
        text = "".join(lines)
    check(text)


@SETTINGS
@given(text=st.text(max_size=200))
def test_arbitrary_text_ends_in_diagnostics(text):
    check(text)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(unit=st.sampled_from(["ms", "s", "m", "h", "d", "MiB", "GiB", "%", "", "min", "sec", "mb"]),
       number=st.one_of(st.integers(-5, 10**7), st.floats(-1, 1e9, allow_nan=False)),
       field=st.sampled_from([("services", "web", "memory"), ("services", "web", "health", "interval"),
                              ("slos", "availability"), ("queues", "orders", "retention"),
                              ("disaster_recovery", "rto"), ("databases", "users", "storage")]))
def test_unit_changes_end_in_diagnostics(unit, number, field):
    data = copy.deepcopy(DATA[[p.stem for p in SOURCES].index("two-region-hot-dr")])
    parent_of(data, field)[field[-1]] = f"{number}{unit}"
    check(yaml.safe_dump(data, sort_keys=False))


DURATION_TEXT = st.lists(st.tuples(st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["1.5", "0.25", ""])),
                                   st.sampled_from(["ms", "s", "m", "h", "d", "w", "min", "", "M"]),
                                   st.sampled_from(["", " ", "  "])), min_size=1, max_size=5).map(
    lambda parts: "".join(number + unit + space for number, unit, space in parts))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.one_of(DURATION_TEXT, st.text(max_size=20)))
def test_durations_parse_to_seconds_or_say_why_not(text):
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        message, _, hint = str(exc).partition("\n")
        assert text.replace("\r", "\\r").replace("\n", "\\n") in message  # echoed, on one line
        if hint:  # a suggestion is itself a duration
            parse_duration(hint.split("'")[1])
    else:
        assert seconds >= 0
        if seconds >= 60 and seconds == int(seconds):
            assert parse_duration(format_span(seconds)) == seconds


@settings(max_examples=100, deadline=None, derandomize=True)
@given(text=st.one_of(st.from_regex(r"\A[0-9]{1,4}(\.[0-9])? ?[A-Za-z]{0,9}\Z"), st.text(max_size=12)))
def test_sizes_parse_to_bytes_or_suggest_sizes(text):
    try:
        size = parse_size(text)
    except ValueError as exc:
        for suggestion in str(exc).partition("\n")[2].split("'")[1::2]:
            parse_size(suggestion)
    else:
        assert size >= 0
