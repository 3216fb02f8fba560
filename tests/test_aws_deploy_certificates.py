"""Certificates deploy without waiting 75 minutes: an existing zone, or a new one staged.

ACM validates through public DNS, and a hosted zone created in the same run
is public only once the parent domain delegates to it. With `dns.zone_id`
the records go to the user's zone; with a new zone the first run leaves out
what needs an issued certificate until `dns.delegated: true`.
"""

from __future__ import annotations

import textwrap

from aws_rules import registry
from topoform.dsl import validate_text
from topoform.providers import compile_plan

VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
BLUEPRINT = """
blueprint: shop
services:
  web: {image: "nginx:1.27", port: 80}
load_balancers:
  edge:
    listeners: [{port: 80, redirect_to_https: true}, {port: 443, tls: true}]
    routes: [{target: services.web}]
cdns:
  assets: {mode: pull, origin: load_balancers.edge}
dns:
  zone: shop.example.com
  records:
    - {name: www, endpoints: [{target: cdns.assets}]}
    - {name: api, endpoints: [{target: load_balancers.edge}]}
"""
UNDELEGATED = registry.RULES.get("acm-validation-in-undelegated-zone") or {
    r.id: r for r in registry.all_rules()}["acm-validation-in-undelegated-zone"]


def compile_aws(text: str):
    result = validate_text(textwrap.dedent(text), file="test.yaml", target="aws")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return compile_plan(result.blueprint, "aws", "test")


def test_a_new_zone_is_stage_one_zone_and_validation_records_no_wait():
    plan = compile_aws(BLUEPRINT)
    names = {r.name for r in plan.resources}
    assert "dns-zone" in names and "acm-us-east-1" in names and "acm-us-east-1-validation-0" in names
    assert not plan.of_type(VALIDATION), "no CertificateValidation waits on an undelegated zone"
    assert UNDELEGATED.violations(plan) == []
    # What needs the certificate waits: the HTTPS listener, the distribution, the record aliasing it,
    # and the service that waits for its listeners.
    assert not names & {"lb-edge-listener-443", "cdn-assets-distribution", "dns-www", "svc-web"}
    assert {"lb-edge", "lb-edge-listener-80", "dns-api", "net-vpc"} <= names
    list(plan.ordered())  # every reference left resolves
    assert plan.outputs["dns.name_servers"] == "${dns-zone.name_servers}"
    assert "dns.delegated: true" in plan.outputs["dns.delegation"]
    assert not any("cdn-assets-distribution" in str(v) for v in plan.outputs.values())
    [warning] = [w for w in plan.warnings if w.message.startswith("dns: deploying in two stages")]
    assert "dns.name_servers" in warning.hint and "dns.delegated: true" in warning.hint
    assert "dig NS shop.example.com" in warning.hint


def test_once_delegated_the_rest_is_built():
    staged = {r.name for r in compile_aws(BLUEPRINT).resources}
    plan = compile_aws(BLUEPRINT.replace("  zone: shop.example.com\n", "  zone: shop.example.com\n  delegated: true\n"))
    names = {r.name for r in plan.resources}
    assert staged < names and {"acm-us-east-1-validation", "lb-edge-listener-443", "cdn-assets-distribution", "svc-web"} <= names
    assert "dns.delegation" not in plan.outputs
    assert plan.get("lb-edge-listener-443").properties["certificate_arn"] == "${acm-us-east-1-validation.certificate_arn}"


def test_an_existing_zone_is_used_by_id_and_validated_at_once():
    plan = compile_aws(BLUEPRINT.replace("  zone: shop.example.com\n", "  zone: shop.example.com\n  zone_id: Z0123456789ABCDEFGHIJ\n"))
    assert not plan.of_type("aws:route53/zone:Zone")
    assert plan.of_type(VALIDATION) and UNDELEGATED.violations(plan) == []
    for record in plan.of_type("aws:route53/record:Record"):
        assert record.properties["zone_id"] == "Z0123456789ABCDEFGHIJ", record.name
    assert plan.outputs["dns.zone_id"] == "Z0123456789ABCDEFGHIJ" and "dns.name_servers" not in plan.outputs
    assert not any(w.message.startswith("dns: deploying in two stages") for w in plan.warnings)


def test_the_staged_plan_runs_under_mocks():
    from topoform.testing import synth_plan

    plan = compile_aws(BLUEPRINT)
    stack = synth_plan(plan)
    assert {r.name for r in stack.resources} == {r.name for r in plan.resources}
    assert stack.outputs["dns.name_servers"]


# ---------------------------------------------------------------- preview: is the delegation there?

ZONE_SERVERS = ["ns-1.awsdns-01.org", "ns-2.awsdns-02.com"]


def second_stage():
    return compile_aws(BLUEPRINT.replace("  zone: shop.example.com\n", "  zone: shop.example.com\n  delegated: true\n"))


def test_preview_warns_when_public_dns_does_not_delegate_the_zone():
    from topoform.cli.engine.preflight import check_delegation

    asked = []
    warning = check_delegation(second_stage(), lambda: ZONE_SERVERS,
                               lambda zone: asked.append(zone) or ["ns1.registrar.example."])
    assert asked == ["shop.example.com"]
    assert "does not delegate shop.example.com" in warning and "75 minutes" in warning
    assert check_delegation(second_stage(), lambda: ZONE_SERVERS, lambda zone: ["NS-1.awsdns-01.org."]) is None


def test_nothing_to_check_before_the_zone_exists_or_without_a_resolver():
    from topoform.cli.engine.preflight import check_delegation

    def never(zone):
        raise AssertionError("no lookup expected")

    assert check_delegation(compile_aws(BLUEPRINT), lambda: ZONE_SERVERS, never) is None  # stage 1: no validation
    assert check_delegation(second_stage(), lambda: None, never) is None  # never deployed: no name servers yet
    assert check_delegation(second_stage(), lambda: ZONE_SERVERS, lambda zone: None) is None  # no `dig`
