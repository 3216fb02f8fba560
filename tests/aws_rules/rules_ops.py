"""Rules for the deployment and its operation: provider configuration, IAM,
KMS, alarms and their SNS topics, and what the DR site depends on."""

from __future__ import annotations

import json

from .plan_view import (document, is_dr, leaves, policies, references, regions, referrers, site_region, target, violation,
                        warned)
from .registry import Violation, each, rule

TOPIC = "aws:sns/topic:Topic"
ALARMS = ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm")
# Actions that read or change a data store wholesale.
DATA_SERVICES = ("s3", "sqs", "sns", "dynamodb", "rds", "rds-db", "dsql", "elasticache", "secretsmanager", "kms")


class _RecordingStack:
    """Stands in for a Pulumi automation Stack: keeps the config `topoform up` writes."""

    def __init__(self):
        self.config: dict = {}

    def set_all_config(self, config, *args, **kwargs):
        self.config.update(config)


def _deploy_config(plan) -> dict:
    """The stack config `topoform up` records before running this Plan."""
    from topoform.cli.engine.workspace import store_config

    stack = _RecordingStack()
    store_config(stack, project=plan.blueprint, blueprint_path=f"{plan.blueprint}.yaml", target=plan.target,
                 variables={}, sensitive={}, plan=plan)
    return stack.config


@rule("provider-region-configured", "https://github.com/pulumi/pulumi-aws/pull/2088",
      "pulumi-aws refuses to configure without a region (\"unable to find a configured AWS Region\"): set "
      "`aws:region` in stack config, an AWS profile, AWS_REGION, or give an explicit provider a region. "
      "A per-resource `region` does not configure the default provider.")
def _provider_region(plan):
    if any(r.type == "pulumi:providers:aws" and r.properties.get("region") for r in plan.resources):
        return
    if "aws:region" not in _deploy_config(plan):
        yield Violation("(stack config)", "aws:region", "`topoform up` records no aws:region and the Plan has no "
                        "explicit aws provider: deploying depends on the caller's AWS_REGION or profile")


@rule("sns-aws-managed-key-for-alarms",
      "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
      "Services that publish to encrypted topics (CloudWatch alarms among them) need kms:Decrypt and "
      "kms:GenerateDataKey* on the topic's key; the AWS managed key alias/aws/sns has a key policy you cannot "
      "change, so use a customer managed key.")
def _managed_key_alarms(plan):
    for topic in plan.of_type(TOPIC):
        if topic.properties.get("kms_master_key_id") == "alias/aws/sns":
            users = [a for token in ALARMS for a in referrers(plan, topic, token)]
            if users:
                yield violation(topic, "kms_master_key_id", f"alias/aws/sns, and {len(users)} alarms "
                                f"(first {users[0].name}) publish to it: CloudWatch cannot")


@rule("sns-topic-has-subscription", "https://docs.aws.amazon.com/sns/latest/dg/sns-create-subscribe-endpoint-to-topic.html",
      "A topic delivers a message only to its confirmed subscriptions; with none, published alarms reach nobody "
      "(accepted only where the Plan warns that `slos.notify` names no one).")
def _topic_subscribed(plan):
    # A blueprint whose `slos.notify` names no one gets no subscription, and the Plan says so
    # (providers/aws/alarms.py); without that warning a topic nobody reads is a defect.
    told = warned(plan, "SLO alarms notify nobody")
    yield from each(TOPIC, "subscriptions",
                    lambda plan, t: not told and not referrers(plan, t, "aws:sns/topicSubscription:TopicSubscription"),
                    "no subscription: its notifications reach nobody")(plan)


@rule("iam-policy-document-valid", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html",
      "A policy is a JSON object with Version 2012-10-17 and Statement (a statement or list of them), each with "
      "Effect Allow or Deny, Action or NotAction, and Resource/NotResource (identity policies) or Principal "
      "(resource and trust policies).")
def _policy_grammar(plan):
    for resource, prop, value in policies(plan):
        try:
            doc = document(value)
        except ValueError as error:
            yield violation(resource, prop, f"not JSON: {error}")
            continue
        statements = doc.get("Statement") if isinstance(doc, dict) else None
        statements = [statements] if isinstance(statements, dict) else statements
        if not isinstance(doc, dict) or doc.get("Version") != "2012-10-17" or not statements:
            yield violation(resource, prop, "needs Version 2012-10-17 and at least one Statement")
            continue
        needs_principal = prop == "assume_role_policy" or resource.type.endswith(("Policy:BucketPolicy", "Policy:QueuePolicy",
                                                                                  "topicPolicy:TopicPolicy", "key:Key"))
        for i, statement in enumerate(statements):
            where = "Principal" if needs_principal else "Resource"
            if statement.get("Effect") not in ("Allow", "Deny") or not (statement.get("Action") or statement.get("NotAction")) \
                    or not (statement.get(where) or statement.get("Not" + where)):
                yield violation(resource, f"{prop}.Statement[{i}]", f"needs Effect, Action and {where}")


def _actions(statement) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def _account_root(statement) -> bool:
    principal = (statement.get("Principal") or {}) if isinstance(statement.get("Principal"), dict) else {}
    arns = principal.get("AWS", [])
    return bool(arns) and all(str(a).startswith("arn:aws:iam::") and str(a).endswith(":root")
                              for a in ([arns] if isinstance(arns, str) else arns))


@rule("iam-no-wildcard-data-actions", "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
      "Grant least privilege: an Allow of `*` or `service:*` on a data store gives every action, deletion and "
      "policy changes included. A KMS key policy's kms:* for the account root is the default key policy "
      "(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): it lets IAM policies "
      "grant use of the key, and is allowed.")
def _wildcards(plan):
    for resource, prop, value in policies(plan):
        for i, statement in enumerate(document(value).get("Statement", []) if isinstance(document(value), dict) else []):
            if statement.get("Effect") != "Allow":
                continue
            if resource.type == "aws:kms/key:Key" and _account_root(statement):
                continue  # the default key policy: the account root administers the key, IAM policies scope the rest
            for action in _actions(statement):
                if action == "*" or (action.endswith(":*") and action.split(":")[0] in DATA_SERVICES):
                    yield violation(resource, f"{prop}.Statement[{i}]", f"allows {action}")


@rule("kms-key-policy", "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html",
      "Every KMS key has exactly one key policy; a custom one must be valid JSON that still lets the account "
      "administer the key, else the key becomes unmanageable. Keys rotate yearly when enable_key_rotation is "
      "set; the deletion window is 7–30 days.")
def _kms(plan):
    for key in plan.of_type("aws:kms/key:Key"):
        window = key.properties.get("deletion_window_in_days", 30)
        if not 7 <= window <= 30:
            yield violation(key, "deletion_window_in_days", f"{window} (7–30)")
        if key.properties.get("enable_key_rotation") is not True:
            yield violation(key, "enable_key_rotation", "not rotated")
        if "policy" in key.properties and ":root" not in json.dumps(document(key.properties["policy"])):
            yield violation(key, "policy", "no statement lets the account root administer the key")


# Properties through which a DR-site resource is meant to read the primary:
# the replication links themselves (their source must be named).
_REPLICATION_INPUTS = ("replicate_source_db", "source_db_instance_arn", "global_replication_group_id",
                       "global_cluster_identifier", "multi_region_cluster_name")  # DocumentDB/Neptune, MemoryDB


@rule("dr-site-independent-of-primary",
      "https://docs.aws.amazon.com/whitepapers/latest/disaster-recovery-workloads-on-aws/disaster-recovery-options-in-the-cloud.html",
      "A hot standby must be able to serve with the primary Region down: its resources must not read ARNs, "
      "secrets or endpoints that live in the primary Region, except the replication links that copy data to it.")
def _dr_independent(plan):
    primary, dr = regions(plan)
    if not dr:
        return
    for resource in plan.resources:
        if site_region(plan, resource) != dr and not is_dr(resource):
            continue
        for path, value in leaves(resource.properties):
            if not isinstance(value, str) or path.split(".")[0] in _REPLICATION_INPUTS:
                continue
            for name in {name for name, _ in references(value) if name in plan}:
                source = plan.get(name)
                if site_region(plan, source) == primary:
                    yield violation(resource, path, f"reads {name} of the primary region {primary}")


@rule("alarm-actions-same-region", "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
      "AlarmActions and OKActions are ARNs of SNS topics (or other action targets) in the alarm's Region.")
def _alarm_actions(plan):
    for token in ALARMS:
        for alarm in plan.of_type(token):
            for prop in ("alarm_actions", "ok_actions"):
                for value in alarm.properties.get(prop, []):
                    action = target(plan, value)
                    if action is not None and site_region(plan, action) != site_region(plan, alarm):
                        yield violation(alarm, prop, f"{action.name} is in another region")
