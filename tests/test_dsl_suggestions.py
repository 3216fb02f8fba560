"""'Did you mean' for values outside a fixed set: spelling, case and separators, one part of a compound."""

import pytest

from topoform.dsl.models import EVICTION_POLICIES
from topoform.dsl.suggestions import choice_hint, close_choices
from topoform.dsl.validate import validate_text

ALGORITHMS = ["round_robin", "least_connections", "random", "source_hash", "weighted"]


@pytest.mark.parametrize("given, choices, found", [
    ("lru", EVICTION_POLICIES, ["allkeys-lru", "volatile-lru"]),  # the common policy first
    ("allkeys_lru", EVICTION_POLICIES, ["allkeys-lru"]),
    ("LFU", EVICTION_POLICIES, ["allkeys-lfu", "volatile-lfu"]),
    ("ttl", EVICTION_POLICIES, ["volatile-ttl"]),
    ("Round-Robin", ALGORITHMS, ["round_robin"]),
    ("least", ALGORITHMS, ["least_connections"]),
    ("hash", ALGORITHMS, ["source_hash"]),
    ("huge", ["small", "medium", "large"], []),
    ("x", ALGORITHMS, []),
])
def test_close_choices(given, choices, found):
    assert close_choices(given, choices) == found


def test_hints_name_up_to_three_choices():
    assert choice_hint("lru", EVICTION_POLICIES) == "did you mean 'allkeys-lru' or 'volatile-lru'?"
    assert choice_hint("redsi", ["redis", "valkey", "memcached"]) == "did you mean 'redis'?"
    assert choice_hint("huge", ["small", "medium", "large"]) is None


def test_an_enum_error_in_a_blueprint_suggests_the_policy_meant():
    result = validate_text("blueprint: a\ncaches:\n  c: {eviction: lru}\n", "t.yaml")
    [diag] = result.diagnostics
    assert (diag.line, diag.column) == (3, 17)
    assert diag.message.startswith("caches.c.eviction: 'lru' is not one of allkeys-lru,")
    assert diag.hint == "did you mean 'allkeys-lru' or 'volatile-lru'?"


def test_a_quoted_number_among_number_choices_is_told_to_drop_the_quotes():
    result = validate_text("blueprint: a\nservices:\n  w: {image: x, port: 80}\n"
                           "load_balancers:\n  lb: {layer: '4', targets: [{target: services.w}]}\n", "t.yaml")
    [diag] = [d for d in result.diagnostics if "layer" in d.message]
    assert diag.message == "load_balancers.lb.layer: '4' is not one of 4, 7"
    assert diag.hint == "remove the quotes: 4"
