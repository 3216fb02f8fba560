"""The AWS gateway's custom domain: which hosted zone its records go to, and which names the
certificate it is served with must cover (API Gateway refuses a domain its certificate does not).

The AWS rules (tests/aws_rules/rules_gateway.py) check the same Plans resource by resource.
"""

from __future__ import annotations

import textwrap

import pytest

from topoform.dsl import validate_text
from topoform.providers import compile_plan
from topoform.providers.base import UnsupportedError

ZONE_ID = "Z0123456789ABCDEFGHIJ"
BASE = """
blueprint: shop
services:
  api: {image: python:3.12-slim, port: 8080}
load_balancers:
  inner:
    internal: true
    routes: [{path: "/*", target: services.api}]
api_gateways:
  public:
    routes: [{path: /orders, target: services.api}]
    domain: DOMAIN
"""


def plan(domain: str = "api.shop.example.com", dns: str = "dns: {zone: shop.example.com, zone_id: %s}" % ZONE_ID,
         extra: str = ""):
    text = textwrap.dedent(BASE).replace("DOMAIN", domain) + dns + "\n" + extra
    result = validate_text(text, file="test.yaml", target="aws")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return compile_plan(result.blueprint, "aws")


def records(p):
    return [r for r in p.resources if r.type == "aws:route53/record:Record"]


def test_an_existing_hosted_zone_gets_the_validation_and_alias_records():
    p = plan()
    assert "dns-zone" not in p  # no zone of ours: the blueprint names one
    assert {r.name: r.properties["zone_id"] for r in records(p)} == {
        "acm-us-east-1-validation-0": ZONE_ID, "acm-us-east-1-validation-1": ZONE_ID,
        "apigw-public-domain-record": ZONE_ID}
    [record] = [r for r in records(p) if r.component == "api_gateways.public"]
    assert (record.properties["name"], record.properties["type"]) == ("api.shop.example.com", "A")


def test_a_new_hosted_zone_gets_them_once_delegated():
    p = plan(dns="dns: {zone: shop.example.com, delegated: true}")
    assert {r.properties["zone_id"] for r in records(p)} == {"${dns-zone.zone_id}"}
    assert "apigw-public-domain-record" in p


def test_a_domain_two_labels_below_the_zone_is_on_the_certificate():
    """`*.shop.example.com` covers one label: api.v1.shop.example.com must be a name of its own."""
    p = plan(domain="api.v1.shop.example.com")
    names = p.get("acm-us-east-1").properties["subject_alternative_names"]
    assert "api.v1.shop.example.com" in names
    assert len([r for r in records(p) if r.name.startswith("acm-us-east-1-validation-")]) == 1 + len(names)


def test_a_domain_one_label_below_the_zone_is_covered_by_the_wildcard():
    assert plan().get("acm-us-east-1").properties["subject_alternative_names"] == ["*.shop.example.com"]


def test_a_domain_outside_the_zone_is_refused_unless_a_certificate_covers_it():
    with pytest.raises(UnsupportedError, match="is not in dns.zone shop.example.com"):
        plan(domain="api.example.net")
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    p = plan(domain="api.example.net", extra=f"aws: {{certificate_arn: '{arn}'}}\n")
    assert p.get("apigw-public-domain").properties["domain_name_configuration"]["certificate_arn"] == arn
    assert "apigw-public-domain-record" not in p  # not our zone's name: no record for it


WRONG_BALANCER = """
blueprint: shop
services:
  orders: {image: python:3.12-slim, port: 8080}
  users: {image: python:3.12-slim, port: 8080}
load_balancers:
  inner:
    internal: true
    routes:
      - {path: "/users*", target: services.users}
      - {path: "/*", target: services.orders}
api_gateways:
  public:
    routes:
      - {path: /users, methods: [GET], target: services.users}
      - {path: /orders, target: ROUTED}
"""


def _balancer_plan(routed: str):
    result = validate_text(textwrap.dedent(WRONG_BALANCER).replace("ROUTED", routed), file="test.yaml", target="aws")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return compile_plan(result.blueprint, "aws")


def test_the_balancer_behind_the_vpc_link_must_route_the_path_to_the_target():
    """The integration reaches the balancer's listener; its rules, not the gateway, pick the service."""
    assert "apigw-public-to-users" in _balancer_plan("services.orders")
    with pytest.raises(UnsupportedError, match=r"route /orders targets services.users, but load_balancers.inner "
                                               r"forwards /orders to services.orders"):
        _balancer_plan("services.users")
