"""SLO alarms reach someone: a KMS key CloudWatch may use, and `slos.notify` subscriptions."""

from __future__ import annotations

import textwrap

from aws_rules import registry
from topoform.dsl import validate_text
from topoform.providers import compile_plan

BLUEPRINT = """
blueprint: shop
services:
  web: {image: "nginx:1.27", port: 80}
load_balancers:
  edge: {routes: [{target: services.web}]}
disaster_recovery: {strategy: hot, region: us-west-2}
slos:
  error_rate: 1%
"""
NOTIFY = "  notify: [ops@example.com, \"https://hooks.example.com/alerts\", arn:aws:sns:us-west-2:123456789012:pager]\n"
RULES = {r.id: r for r in registry.all_rules()}


def compile_aws(text: str):
    result = validate_text(textwrap.dedent(text), file="test.yaml", target="aws")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return compile_plan(result.blueprint, "aws", "test")


def test_the_alert_topic_has_a_key_cloudwatch_may_use():
    plan = compile_aws(BLUEPRINT + NOTIFY)
    for site, prefix in (("us-east-1", ""), ("us-west-2", "dr-")):
        topic = plan.get(f"{prefix}slo-alerts").properties
        assert topic["kms_master_key_id"] == f"${{{prefix}slo-alerts-key.arn}}"
        key = plan.get(f"{prefix}slo-alerts-key").properties
        assert key["region"] == site and key["enable_key_rotation"] is True
        statements = key["policy"]["$json"]["Statement"]
        assert statements[0]["Principal"] == {"AWS": f"arn:aws:iam::${{{prefix}net-vpc.owner_id}}:root"}
        assert statements[1]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert set(statements[1]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    for rule in ("sns-aws-managed-key-for-alarms", "kms-key-policy", "sns-topic-has-subscription",
                 "alarm-actions-same-region", "iam-policy-document-valid"):
        assert RULES[rule].violations(plan) == [], rule


def test_notify_subscribes_emails_and_endpoints_and_routes_topics_by_region():
    plan = compile_aws(BLUEPRINT + NOTIFY)
    subscriptions = {r.name: r.properties for r in plan.of_type("aws:sns/topicSubscription:TopicSubscription")}
    assert subscriptions["slo-alerts-subscription-0"]["protocol"] == "email"
    assert subscriptions["slo-alerts-subscription-0"]["endpoint"] == "ops@example.com"
    assert subscriptions["dr-slo-alerts-subscription-1"] == {
        "topic": "${dr-slo-alerts.arn}", "protocol": "https", "endpoint": "https://hooks.example.com/alerts",
        "endpoint_auto_confirms": False, "region": "us-west-2"}
    assert len(subscriptions) == 4  # two destinations at two sites; the topic ARN is no subscription
    primary = plan.get("slo-error-rate").properties["alarm_actions"]
    dr = plan.get("dr-slo-error-rate").properties["alarm_actions"]
    assert primary == ["${slo-alerts.arn}"]
    assert dr == ["${dr-slo-alerts.arn}", "arn:aws:sns:us-west-2:123456789012:pager"]
    assert any("confirm" in w.message for w in plan.warnings)


def test_without_notify_the_plan_says_alarms_notify_nobody():
    plan = compile_aws(BLUEPRINT)
    assert any(w.message.startswith("SLO alarms notify nobody") and "slos.notify" in w.message for w in plan.warnings)
    assert plan.get("slo-alerts").properties["kms_master_key_id"] == "${slo-alerts-key.arn}"


def test_a_topic_of_no_site_region_is_named_in_a_warning():
    plan = compile_aws(BLUEPRINT + "  notify: [arn:aws:sns:eu-west-1:123456789012:pager]\n")
    assert any("eu-west-1" in w.message and "hears nothing" in w.message for w in plan.warnings)


def test_notify_takes_only_emails_https_endpoints_and_topic_arns():
    result = validate_text(textwrap.dedent(BLUEPRINT + "  notify: [\"http://plain.example.com\"]\n"),
                           file="test.yaml", target="aws")
    assert not result.ok and any("notify" in d.render() for d in result.diagnostics)
