"""Shorthands expand to the long form at validation: models (and so compilers) see the same data."""

from __future__ import annotations

import pytest

from topoform.dsl.validate import validate_text

HEAD = "blueprint: s\nservices:\n  api: {image: x, port: 80}\n  pg: {image: x, port: 5432}\n"


def model(body: str, head: str = HEAD):
    result = validate_text(head + body, "s.yaml")
    assert result.ok, [d.render() for d in result.diagnostics]
    return result.blueprint.model_dump()


def diags(body: str, head: str = HEAD) -> list[tuple[int, int, str, str | None]]:
    return [(d.line, d.column, d.message, d.hint) for d in validate_text(head + body, "s.yaml").diagnostics]


@pytest.mark.parametrize("short, long", [
    # item 1: a plain reference wherever a list of targets is taken
    ("load_balancers:\n  l4: {layer: 4, targets: [services.pg]}\n",
     "load_balancers:\n  l4: {layer: 4, targets: [{target: services.pg}]}\n"),
    ("load_balancers:\n  l4: {layer: 4, targets: [services.pg, {target: services.api, port: 80, weight: 2}]}\n",
     "load_balancers:\n  l4: {layer: 4, targets: [{target: services.pg}, {target: services.api, port: 80, weight: 2}]}\n"),
    ("load_balancers:\n  web: {routes: [services.api]}\n",
     "load_balancers:\n  web: {routes: [{path: /*, target: services.api}]}\n"),
    ("load_balancers:\n  web: {routes: [services.api]}\n"
     "dns:\n  zone: example.com\n  records: [{name: www, endpoints: [load_balancers.web]}]\n",
     "load_balancers:\n  web: {routes: [services.api]}\n"
     "dns:\n  zone: example.com\n  records: [{name: www, endpoints: [{target: load_balancers.web}]}]\n"),
    # item 2
    ("load_balancers:\n  web: {listeners: [80, 443], routes: [services.api]}\n",
     "load_balancers:\n  web: {listeners: [{port: 80}, {port: 443, tls: true}], routes: [services.api]}\n"),
    ("load_balancers:\n  web: {listeners: [8080, {port: 80, redirect_to_https: true}, 443], routes: [services.api]}\n",
     "load_balancers:\n  web: {listeners: [{port: 8080}, {port: 80, redirect_to_https: true}, {port: 443, tls: true}],"
     " routes: [services.api]}\n"),
    ("load_balancers:\n  web: {routes: [services.api], health_check: /healthz, sticky_sessions: true}\n",
     "load_balancers:\n  web: {routes: [services.api], health_check: {path: /healthz}, sticky_sessions: {}}\n"),
    ("load_balancers:\n  web: {routes: [services.api], sticky_sessions: false}\n",
     "load_balancers:\n  web: {routes: [services.api]}\n"),
    ("load_balancers:\n  web: {routes: [services.api]}\ncdns:\n  c: {mode: pull, origin: load_balancers.web, ttl: 2h}\n",
     "load_balancers:\n  web: {routes: [services.api]}\ncdns:\n  c: {mode: pull, origin: load_balancers.web, ttl: {default: 2h}}\n"),
    ("dns:\n  zone: example.com\n  records:\n    - {name: www, routing: failover, health_check: /up, endpoints: "
     "[{target: services.api, role: primary}, {value: 192.0.2.1, role: secondary}]}\n",
     "dns:\n  zone: example.com\n  records:\n    - {name: www, routing: failover, health_check: {path: /up}, endpoints: "
     "[{target: services.api, role: primary}, {value: 192.0.2.1, role: secondary}]}\n"),
])
def test_a_shorthand_means_exactly_its_long_form(short, long):
    assert model(short) == model(long)


def test_health_and_consumes_shorthands_on_a_service():
    head = "blueprint: s\nqueues:\n  jobs: {}\n"
    short = model("services:\n  w: {image: x, port: 80, health: /healthz, consumes: queues.jobs}\n", head)
    long = model("services:\n  w: {image: x, port: 80, health: {path: /healthz}, consumes: [queues.jobs]}\n", head)
    assert short == long
    assert short["services"]["w"]["consumes"] == ["queues.jobs"]


def test_443_implies_tls_and_80_redirects_only_when_asked():
    listeners = model("load_balancers:\n  web: {listeners: [80, 443], routes: [services.api]}\n")[
        "load_balancers"]["web"]["listeners"]
    assert [(lst["port"], lst["tls"], lst["redirect_to_https"]) for lst in listeners] == [
        (80, False, False), (443, True, False)]


def test_a_ttl_longer_than_the_default_maximum_raises_the_maximum_it_was_not_given():
    ttl = model("load_balancers:\n  web: {routes: [services.api]}\n"
                "cdns:\n  c: {mode: pull, origin: load_balancers.web, ttl: 2d}\n")["cdns"]["c"]["ttl"]
    assert (ttl["default"], ttl["max"], ttl["min"]) == ("2d", "2d", "0s")


def test_a_short_target_that_is_not_a_reference_is_reported_where_it_was_written():
    found = diags("load_balancers:\n  l4: {layer: 4, targets: [service.pg]}\n")
    assert found == [(6, 28, "load_balancers.l4.targets[0]: 'service.pg' names no section 'service'",
                      "did you mean 'services.pg'?")]


def test_a_short_target_to_a_missing_service_says_so_at_the_reference():
    assert diags("load_balancers:\n  l4: {layer: 4, targets: [services.pgg]}\n") == [
        (6, 28, "'services.pgg' does not exist", "did you mean 'services.pg'?")]


def test_a_health_path_must_be_a_path():
    assert diags("load_balancers:\n  web: {routes: [services.api], health_check: healthz}\n") == [
        (6, 47, "load_balancers.web.health_check: 'healthz' is not an HTTP path",
         "write the path probed, e.g. /healthz, or a mapping {path: /healthz, interval: 10s}")]


@pytest.mark.parametrize("body, message, hint", [
    ("load_balancers:\n  web: {listeners: [\"80\"], routes: [services.api]}\n",
     "load_balancers.web.listeners[0]: expected a port or a mapping, but got '80'", "remove the quotes: 80"),
    ("load_balancers:\n  l4: {layer: 4, targets: [5]}\n",
     "load_balancers.l4.targets[0]: expected a reference or a mapping, but got 5",
     "write services.NAME, or {target: services.NAME, port: ...}"),
    ("load_balancers:\n  web: {routes: [services.api], sticky_sessions: yes-please}\n",
     "load_balancers.web.sticky_sessions: expected true, false or a mapping, but got 'yes-please'",
     "write true, or {cookie: NAME, duration: 1h}"),
    ("load_balancers:\n  web: {routes: [services.api]}\ncdns:\n  c: {mode: pull, origin: load_balancers.web, ttl: 60}\n",
     "cdns.c.ttl: expected a duration or a mapping, but got 60", "a duration needs a unit, e.g. '60s' or '60m'"),
    ("queues:\n  q: {}\nservices:\n  w: {image: x, consumes: 3}\n",
     "services.w.consumes: expected a reference or a list of them, but got 3",
     "write queues.NAME, or [queues.A, queues.B]"),
    ("services:\n  w: {image: x, health: 8080}\n",
     "services.w.health: expected a path or a mapping, but got 8080", "write /healthz, or {path: /healthz, interval: 10s}"),
])
def test_a_value_of_neither_form_names_both(body, message, hint):
    found = [(m, h) for _, _, m, h in diags(body, "blueprint: s\n" if "services:" in body else HEAD)]
    assert found == [(message, hint)]
