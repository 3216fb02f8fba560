"""pydantic errors → diagnostics: the right place, a specific message, "did you mean"."""

import pytest

from topoform.dsl.validate import _data_path, validate_text, where


def messages(text: str, **kwargs) -> list[tuple[int, int, str, str | None]]:
    result = validate_text(text, "t.yaml", **kwargs)
    return [(d.line, d.column, d.message, d.hint) for d in result.diagnostics]


def test_unknown_sections_and_keys_suggest_the_closest_name():
    found = messages("blueprint: a\ncachs: {}\nservices:\n  web: {image: x, replcas: 2}\n")
    assert found == [
        (2, 1, "unknown section 'cachs'", "did you mean 'caches'?"),
        (4, 19, "unknown key 'replcas' in services.web", "did you mean 'replicas'?"),
    ]


def test_an_unknown_key_without_a_close_match_lists_the_allowed_keys():
    [(_, _, message, hint)] = messages("blueprint: a\nslos: {uptime: 99%}\n")
    assert message == "unknown key 'uptime' in slos"
    assert hint == "allowed keys: availability, latency_p99, error_rate, notify"


def test_enum_values_suggest_the_closest_choice_and_echo_the_bad_one():
    [(line, column, message, hint)] = messages("blueprint: a\ncaches:\n  c: {engine: redsi}\n")
    assert (line, column) == (3, 15)
    assert message == "caches.c.engine: 'redsi' is not one of redis, valkey, memcached"
    assert hint == "did you mean 'redis'?"


def test_a_union_reports_once_with_every_accepted_type():
    [(_, _, message, _)] = messages("blueprint: a\nservices:\n  w: {image: x, env: {A: {b: 1}}}\n")
    assert message == "services.w.env.A: expected a string, a number or true or false, but got a mapping"


def test_a_union_member_named_like_a_key_of_the_bad_value_is_not_taken_for_a_place():
    # pydantic's loc is ('services', 'w', 'env', 'A', 'str'); 'str' is also a key of the bad value.
    data = {"services": {"w": {"env": {"A": {"str": 1}}}}}
    bad = data["services"]["w"]["env"]["A"]
    assert _data_path(("services", "w", "env", "A", "str"), data, "string_type", bad) == ("services", "w", "env", "A")


def test_a_missing_key_points_at_the_mapping_that_lacks_it():
    [(line, column, message, hint)] = messages("blueprint: a\nservices:\n  web:\n    port: 80\n")
    assert (line, column, message) == (3, 3, "missing required key 'image' in services.web")
    assert hint == "add `image:` (container image, pinned by tag)"


def test_bounds_echo_the_value_given():
    [(_, _, message, _)] = messages("blueprint: a\nservices:\n  w: {image: x, port: 70000}\n")
    assert message == "services.w.port: must be at most 65535, but 70000 was given"


def test_quoted_numbers_are_not_coerced_and_the_fix_is_named():
    [(_, _, message, hint)] = messages("blueprint: a\nservices:\n  w: {image: x, replicas: '3'}\n")
    assert message == "services.w.replicas: expected a whole number, but got '3'"
    assert hint == "remove the quotes: 3"


def test_a_type_error_from_a_variable_says_where_the_value_came_from():
    text = "blueprint: a\nvariables:\n  n: {type: string, default: many}\nservices:\n  w: {image: x, replicas: '${var.n}'}\n"
    [(line, column, message, hint)] = messages(text)
    assert (line, column) == (5, 27)
    assert "got 'many'" in message and "variable 'n'" in hint


def test_all_errors_of_a_file_come_together_sorted_by_position():
    text = ("blueprint: a\nservices:\n  web: {image: x, port: x}\n  api: {image: y, port: 80}\n"
            "load_balancers:\n  lb:\n    layer: 4\n    routes: [{target: services.api}]\n"
            "caches:\n  c: {in_front_of: databases.nope}\n")
    found = messages(text)
    assert [(line, message.split(":")[0]) for line, _, message, _ in found] == [
        (3, "services.web.port"),
        (8, "`routes` is for layer 7 balancers; a layer 4 balancer takes `targets`"),
        (10, "'databases.nope' does not exist"),
    ]


def test_a_reference_to_a_component_with_errors_is_not_reported_missing():
    text = "blueprint: a\nservices:\n  web: {port: 80}\nload_balancers:\n  lb: {routes: [{target: services.web}]}\n"
    assert [m for _, _, m, _ in messages(text)] == ["missing required key 'image' in services.web"]


def test_rule_problems_inside_a_component_with_a_type_error_are_not_guessed():
    # layer: 5 is refused; the default (7) must not make `targets` look wrong.
    text = ("blueprint: a\nservices:\n  s: {image: x, port: 1}\nload_balancers:\n"
            "  lb: {layer: 5, targets: [{target: services.s}]}\n")
    assert [m for _, _, m, _ in messages(text)] == ["load_balancers.lb.layer: 5 is not one of 4, 7"]


@pytest.mark.parametrize("path, text", [((), "the blueprint"), (("a", "b", 0, "c"), "a.b[0].c"), (("x",), "x")])
def test_paths_read_as_written(path, text):
    assert where(path) == text


def test_an_unknown_target_is_a_diagnostic():
    [(_, _, message, hint)] = messages("blueprint: a\n", target="gcp")
    assert message == "unknown target 'gcp'"
