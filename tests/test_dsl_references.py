"""References: existence, kind, attributes, "did you mean", and cycles (iteratively)."""

import sys

from topoform.dsl.references import INTERPOLATION_RE, find_cycles
from topoform.dsl.validate import validate_text


def diags(text: str):
    return [(d.line, d.column, d.message, d.hint) for d in validate_text(text, "r.yaml").diagnostics]


def test_a_misspelt_reference_suggests_the_component():
    text = "blueprint: a\nservices:\n  web: {image: x, port: 80}\nload_balancers:\n  lb: {routes: [{target: services.wbe}]}\n"
    assert diags(text) == [(5, 26, "'services.wbe' does not exist", "did you mean 'services.web'?")]


def test_a_reference_with_no_close_match_lists_what_exists():
    text = "blueprint: a\nservices:\n  web: {image: x, port: 80}\n  api: {image: x, port: 80}\n" \
           "load_balancers:\n  lb: {routes: [{target: services.payments}]}\n"
    assert diags(text)[0][3] == "services declares: api, web"


def test_attributes_depend_on_the_component():
    text = ("blueprint: a\nservices:\n  w:\n    image: x\n    env:\n      A: ${databases.d.reader_url}\n"
            "      B: ${databases.r.reader_url}\n      C: ${databases.s.shard_urls}\n      D: ${queues.q.name}\n"
            "databases:\n  d: {}\n  r: {replication: {mode: primary-replica}}\n  s: {sharding: {shards: 2, key: id}}\n"
            "queues:\n  q: {}\n")
    assert [m for _, _, m, _ in diags(text)] == ["databases.d has no attribute 'reader_url'"]


def test_interpolations_build_dependencies_and_cycles_point_at_a_reference():
    text = ("blueprint: a\nservices:\n  a: {image: x, env: {B: '${services.b.url}'}}\n"
            "  b: {image: x, env: {A: '${services.a.url}'}}\n")
    [(line, column, message, hint)] = diags(text)
    assert (line, column) == (3, 26)
    assert message == "reference cycle: services.a → services.b → services.a"


def test_reading_a_name_is_not_a_dependency_not_even_ones_own():
    # A name is known before anything is built.
    text = ("blueprint: a\nservices:\n  api: {image: x, env: {ME: '${services.api.name}', B: '${services.b.name}'}}\n"
            "  b: {image: x, env: {A: '${services.api.name}'}}\n")
    assert diags(text) == []
    text = "blueprint: a\nservices:\n  api: {image: x, port: 80, env: {ME: '${services.api.url}'}}\n"
    assert [m for _, _, m, _ in diags(text)] == ["reference cycle: services.api → services.api"]


def test_references_into_a_misspelt_section_are_not_reported_again():
    text = ("blueprint: a\nservices:\n  w: {image: x, port: 80}\nload_balancer:\n  web: {routes: [services.w]}\n"
            "cdns:\n  c: {mode: pull, origin: load_balancers.web}\n"
            "reverse_proxies:\n  p: {upstream: load_balancers.web}\n  q: {upstream: load_balancers.wbe}\n")
    assert diags(text) == [
        (4, 1, "unknown section 'load_balancer'", "did you mean 'load_balancers'?"),
        (10, 17, "'load_balancers.wbe' does not exist", "did you mean 'load_balancers.web'?"),
    ]


def test_consumer_lists_are_back_links_not_dependencies():
    text = ("blueprint: a\nservices:\n  w: {image: x, consumes: [queues.q]}\n"
            "queues:\n  q: {consumers: [services.w]}\n")
    assert diags(text) == []


def test_find_cycles_reports_each_back_edge_once_in_a_stable_order():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "c"}, "d": {"d"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["c", "c"], ["d", "d"]]
    assert find_cycles({"x": {"y"}, "y": set()}) == []


def test_find_cycles_handles_chains_far_deeper_than_the_recursion_limit():
    n = sys.getrecursionlimit() * 20
    graph = {f"n{i}": {f"n{i + 1}"} for i in range(n)}
    graph[f"n{n}"] = {"n0"}
    [cycle] = find_cycles(graph)
    assert len(cycle) == n + 2 and cycle[0] == cycle[-1] == "n0"


def test_a_long_chain_of_references_validates():
    lines = ["blueprint: chain", "services:"]
    for i in range(3000):
        nxt = f"${{services.s{i + 1}.url}}" if i < 2999 else "end"
        lines.append(f"  s{i}: {{image: x, env: {{NEXT: '{nxt}'}}}}")
    assert validate_text("\n".join(lines) + "\n").ok


def test_the_interpolation_pattern_keeps_escapes_apart():
    assert [m.group(1) for m in INTERPOLATION_RE.finditer("$${x} ${a.b.c} ${var.y}")] == [None, "a.b.c", "var.y"]


def test_component_values_outside_env_and_command_are_errors_not_text_left_as_written():
    # The targets fill `${kind.name.attr}` in only where a service is built from
    # outputs (env, command); an image tag or a health path would keep the text.
    text = ("blueprint: a\nservices:\n  web: {image: x, port: 80}\n"
            "  api:\n    image: 'nginx:${services.web.name}'\n    port: 80\n    health: '/h/${services.web.name}'\n"
            "    env: {W: '${services.web.url}'}\n    command: [serve, '${services.web.host}']\n"
            "load_balancers:\n  lb: {routes: [{target: services.web, path: '/${services.web.host}'}]}\n")
    found = [(line, column, message) for line, column, message, _ in diags(text)]
    where = "is not substituted here: component values are filled in only in a service's `env` and `command`"
    assert found == [(5, 12, f"${{services.web.name}} {where}"), (7, 13, f"${{services.web.name}} {where}"),
                     (11, 46, f"${{services.web.host}} {where}")]
    # A variable works anywhere, and `$${` stays a literal.
    text = ("blueprint: a\nvariables:\n  tag: {type: string, default: '1.27'}\nservices:\n"
            "  api: {image: 'nginx:${var.tag}', port: 80, health: '/$${services.web.name}'}\n")
    assert diags(text) == []
