"""A hot DR site on aws that starts and serves with the primary region gone, a
promotion runbook, and recovery objectives judged on what is really built."""

from __future__ import annotations

import textwrap

from aws_rules import registry
from topoform.dsl import validate_text
from topoform.providers import compile_plan
from topoform.providers.insight.report import build_report

MARKETPLACE = """
blueprint: market
services:
  web:
    image: "nginx:1.27"
    port: 80
    env: {DATABASE_URL: "${databases.orders.url}", READER_URL: "${databases.orders.reader_url}"}
load_balancers:
  edge: {routes: [{target: services.web}]}
dns:
  zone: market.example.com
  ttl: 60s
  records:
    - name: www
      routing: failover
      health_check: {path: /, interval: 10s, failure_threshold: 3}
      endpoints:
        - {target: load_balancers.edge, role: primary}
        - {target: load_balancers.edge, role: secondary, site: dr}
databases:
  orders: {multi_az: true, replication: {mode: primary-replica, replicas: 1}, backup: {point_in_time: true}}
disaster_recovery: {strategy: hot, region: us-west-2, rto: 2m, rpo: 10s}
"""
RULES = {r.id: r for r in registry.all_rules()}


def load(text: str, target: str = "aws"):
    result = validate_text(textwrap.dedent(text), file="market.yaml", target=target)
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return result.blueprint


def test_the_dr_site_reads_nothing_of_the_primary_region():
    plan = compile_plan(load(MARKETPLACE), "aws", "test")
    assert RULES["dr-site-independent-of-primary"].violations(plan) == []


def test_the_promotion_runbook_is_a_stack_output():
    plan = compile_plan(load(MARKETPLACE), "aws", "test")
    assert plan.outputs["disaster_recovery.promote"] == [
        "aws rds promote-read-replica --region us-west-2 --db-instance-identifier ${dr-db-orders.identifier}",
        "aws rds wait db-instance-available --region us-west-2 --db-instance-identifier ${dr-db-orders.identifier}",
    ]
    [note] = [w for w in plan.warnings if "are read replicas" in w.message]
    assert "writes fail until they are promoted" in note.message and "disaster_recovery.promote" in note.hint


def test_an_rto_the_aws_design_cannot_meet_is_flagged_in_plan_and_report():
    bp = load(MARKETPLACE)  # 10s × 3 + 60s = 1m 30s: the design-level estimate meets 2m
    plan = compile_plan(bp, "aws", "test")
    [warning] = [w for w in plan.warnings if "declared RTO 2m cannot be met on aws" in w.message]
    assert "6m 30s" in warning.message and "promoting the DR read replicas" in warning.message
    report = build_report(bp, "aws")["disaster_recovery"]
    assert report["meets"] == {"rto": False, "rpo": True}
    assert report["achievable"]["rto"] == 90 + 300 and "promote" in report["achievable"]["rto_basis"]
    hot = next(s for s in report["strategies"] if s["strategy"] == "hot")
    assert hot["rto"] == 390


def test_the_same_design_on_docker_keeps_its_own_figures():
    report = build_report(load(MARKETPLACE, "docker"), "docker")["disaster_recovery"]
    assert report["achievable"]["rto"] == 90 and report["meets"]["rto"] is True


def test_multi_primary_needs_no_promotion():
    text = MARKETPLACE.replace("{multi_az: true, replication: {mode: primary-replica, replicas: 1}, "
                               "backup: {point_in_time: true}}", "{replication: {mode: multi-primary, replicas: 1}}")
    text = text.replace(', READER_URL: "${databases.orders.reader_url}"', "")
    bp = load(text)
    plan = compile_plan(bp, "aws", "test")
    assert "disaster_recovery.promote" not in plan.outputs
    assert build_report(bp, "aws")["disaster_recovery"]["meets"]["rto"] is True
