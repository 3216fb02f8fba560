"""Rules for AWS Fault Injection Service experiment templates (the `drills:` section,
providers/aws/drills.py) and the IAM role their experiments run as.

`ACTIONS` is the part of the FIS actions reference the Plans use, written
down once: each action's target key and resource type, its parameters (the
required ones marked) and the IAM permissions its page lists. A rule reads
it, and never the compiler's own table, so a wrong entry there is caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .plan_view import document, referrers, target, violation
from .registry import rule

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
ALARMS = ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm")
REFERENCE = "https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html"


@dataclass(frozen=True)
class Action:
    target_key: str
    resource_type: str
    required: frozenset[str]
    optional: frozenset[str]
    permissions: frozenset[str]
    target_parameters: frozenset[str] = frozenset()  # required parameters of the target itself
    by_tags_only: bool = False  # the resource type resolves resource tags, not ARNs


def _action(key: str, rtype: str, required=(), optional=(), permissions=(), **kw) -> Action:
    return Action(key, rtype, frozenset(required), frozenset(optional), frozenset(permissions), **kw)


ACTIONS: dict[str, Action] = {
    "aws:ecs:stop-task": _action("Tasks", "aws:ecs:task",
                                 permissions=("ecs:DescribeTasks", "ecs:ListTasks", "ecs:StopTask")),
    "aws:rds:reboot-db-instances": _action("DBInstances", "aws:rds:db", optional=("forceFailover",), permissions=(
        "rds:RebootDBInstance", "rds:DescribeDBInstances", "tag:GetResources")),
    "aws:rds:failover-db-cluster": _action("Clusters", "aws:rds:cluster", permissions=(
        "rds:FailoverDBCluster", "rds:DescribeDBClusters", "tag:GetResources")),
    "aws:elasticache:replicationgroup-interrupt-az-power": _action(
        "ReplicationGroups", "aws:elasticache:replicationgroup", required=("duration",), permissions=(
            "elasticache:InterruptClusterAzPower", "elasticache:DescribeReplicationGroups", "tag:GetResources"),
        target_parameters=frozenset({"availabilityZoneIdentifier"}), by_tags_only=True),
    "aws:network:disrupt-connectivity": _action(
        "Subnets", "aws:ec2:subnet", required=("duration",), optional=("scope", "prefixListIdentifier"), permissions=(
            "ec2:CreateNetworkAcl", "ec2:CreateNetworkAclEntry", "ec2:CreateTags", "ec2:DeleteNetworkAcl",
            "ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkAcls", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
            "ec2:GetManagedPrefixListEntries", "ec2:ReplaceNetworkAclAssociation")),
}
# Parameters a target of a resource type may carry (the "Targets" page: resource type parameters).
TARGET_PARAMETERS = {"aws:ecs:task": {"cluster", "service"}, "aws:elasticache:replicationgroup":
                     {"availabilityZoneIdentifier"}, "aws:ec2:subnet": {"availabilityZoneIdentifier", "vpc"},
                     "aws:rds:db": {"availabilityZoneIdentifiers"}, "aws:rds:cluster": {"writerAvailabilityZoneIdentifiers"}}
SCOPES = {"all", "availability-zone", "dynamodb", "prefix-list", "s3", "vpc"}
SELECTION = re.compile(r"^(ALL|COUNT\(([1-9]\d*)\)|PERCENT\(([1-9]\d?|100)\))$")
ISO_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")
DURATIONS = {"duration"}
MAX_STOP_CONDITIONS = MAX_ARNS = 5  # default quotas: stop conditions per template, resources per target


def _params(action: dict) -> dict[str, str]:
    return {p.get("key"): p.get("value") for p in action.get("parameters") or []}


def _seconds(text: str) -> int | None:
    match = ISO_DURATION.fullmatch(text or "")
    if not match or text == "PT":
        return None
    h, m, s = (int(g or 0) for g in match.groups())
    return h * 3600 + m * 60 + s


@rule("fis-action-known", REFERENCE,
      "Each FIS action has an identifier (aws:service:action-type), one target key naming a target of one resource "
      "type, and its own parameters, some required; a target's resource type must be the one the action acts on.")
def _action_known(plan):
    for t in plan.of_type(TEMPLATE):
        targets = {x.get("name"): x for x in t.properties.get("targets") or []}
        for i, action in enumerate(t.properties.get("actions") or []):
            spec = ACTIONS.get(action.get("action_id"))
            where = f"actions[{i}]"
            if spec is None:
                yield violation(t, where, f"{action.get('action_id')!r} is not an FIS action this project knows")
                continue
            link = action.get("target") or {}
            if link.get("key") != spec.target_key:
                yield violation(t, where, f"{action['action_id']} takes target key {spec.target_key}, not {link.get('key')}")
            chosen = targets.get(link.get("value"))
            if chosen is None:
                yield violation(t, where, f"names target {link.get('value')!r}, which the template does not define")
            elif chosen.get("resource_type") != spec.resource_type:
                yield violation(t, where, f"{action['action_id']} acts on {spec.resource_type}, but its target is "
                                f"{chosen.get('resource_type')}")
            given = set(_params(action))
            for missing in sorted(spec.required - given):
                yield violation(t, where, f"{action['action_id']} needs parameter {missing}")
            for unknown in sorted(given - spec.required - spec.optional):
                yield violation(t, where, f"{action['action_id']} takes no parameter {unknown}")
            if "forceFailover" in given and _params(action)["forceFailover"] not in ("true", "false"):
                yield violation(t, where, "forceFailover is the string true or false")
            if "scope" in given and _params(action)["scope"] not in SCOPES:
                yield violation(t, where, f"scope {_params(action)['scope']!r} is none of {sorted(SCOPES)}")


@rule("fis-target-selection", "https://docs.aws.amazon.com/fis/latest/userguide/targets.html",
      "A target names its resources by ARN or by tags (not both), with a selection mode ALL, COUNT(n) or PERCENT(n); "
      "resource-type parameters must be ones the type defines; an ElastiCache replication group is chosen by tags "
      "with its availabilityZoneIdentifier; by default a target may resolve to at most 5 resources.")
def _target_selection(plan):
    for t in plan.of_type(TEMPLATE):
        for i, x in enumerate(t.properties.get("targets") or []):
            where, rtype = f"targets[{i}]", x.get("resource_type")
            if not SELECTION.fullmatch(str(x.get("selection_mode"))):
                yield violation(t, where, f"selection mode {x.get('selection_mode')!r} is not ALL, COUNT(n) or PERCENT(n)")
            arns, tags, params = x.get("resource_arns"), x.get("resource_tags"), x.get("parameters") or {}
            if arns and tags:
                yield violation(t, where, "names resources both by ARN and by tags")
            if not (arns or tags or params):
                yield violation(t, where, "names no resources (no ARNs, tags or parameters)")
            if arns and len(arns) > MAX_ARNS:
                yield violation(t, where, f"{len(arns)} resource ARNs: more than the default quota of {MAX_ARNS}")
            for unknown in sorted(set(params) - TARGET_PARAMETERS.get(rtype, set())):
                yield violation(t, where, f"{rtype} takes no target parameter {unknown}")
            spec = next((a for a in ACTIONS.values() if a.resource_type == rtype), None)
            if spec is not None:
                for missing in sorted(spec.target_parameters - set(params)):
                    yield violation(t, where, f"{rtype} needs target parameter {missing}")
                if spec.by_tags_only and arns:
                    yield violation(t, where, f"{rtype} targets are chosen by resource tags, not ARNs")


@rule("fis-duration-iso8601", REFERENCE,
      "Timed actions take `duration` as an ISO 8601 duration (PT1M is one minute), from one minute to 12 hours.")
def _durations(plan):
    for t in plan.of_type(TEMPLATE):
        for i, action in enumerate(t.properties.get("actions") or []):
            for key, value in _params(action).items():
                if key in DURATIONS:
                    seconds = _seconds(value)
                    if seconds is None or not 60 <= seconds <= 43200:
                        yield violation(t, f"actions[{i}].{key}", f"{value!r} is not an ISO 8601 duration of 1m to 12h")


@rule("fis-stop-conditions", "https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html",
      "A stop condition is a CloudWatch alarm (source aws:cloudwatch:alarm, value its ARN) or the single entry "
      "source none; an account's quota allows 5 per template; the alarm must be in the template's region.")
def _stop_conditions(plan):
    for t in plan.of_type(TEMPLATE):
        conditions = t.properties.get("stop_conditions") or []
        if not conditions:
            yield violation(t, "stop_conditions", "none given: write [{source: none}] to say so")
        if len(conditions) > MAX_STOP_CONDITIONS:
            yield violation(t, "stop_conditions", f"{len(conditions)}: more than {MAX_STOP_CONDITIONS}")
        for i, c in enumerate(conditions):
            where = f"stop_conditions[{i}]"
            if c.get("source") == "none":
                if len(conditions) > 1 or c.get("value"):
                    yield violation(t, where, "source none stands alone, with no value")
                continue
            if c.get("source") != "aws:cloudwatch:alarm":
                yield violation(t, where, f"source {c.get('source')!r} is neither aws:cloudwatch:alarm nor none")
                continue
            alarm = target(plan, c.get("value"))
            if alarm is None or alarm.type not in ALARMS:
                yield violation(t, where, f"{c.get('value')!r} is no alarm of this Plan")
            elif alarm.properties.get("region") != t.properties.get("region"):
                yield violation(t, where, f"alarm {alarm.name} is in {alarm.properties.get('region')}, the template "
                                f"in {t.properties.get('region')}")


@rule("fis-role-trusts-fis", "https://docs.aws.amazon.com/fis/latest/userguide/getting-started-iam-service-role.html",
      "The experiment role's trust policy lets the service principal fis.amazonaws.com assume it; conditions on "
      "aws:SourceAccount and aws:SourceArn keep other accounts' experiments from using it (confused deputy).")
def _role_trust(plan):
    for t in plan.of_type(TEMPLATE):
        role = target(plan, t.properties.get("role_arn"))
        if role is None or role.type != ROLE:
            yield violation(t, "role_arn", "names no role of this Plan")
            continue
        statements = document(role.properties.get("assume_role_policy")).get("Statement", [])
        principals = [s.get("Principal") for s in statements]
        if principals != [{"Service": "fis.amazonaws.com"}]:
            yield violation(role, "assume_role_policy", f"trusts {principals}, not fis.amazonaws.com alone")
        elif "aws:SourceAccount" not in (statements[0].get("Condition") or {}).get("StringEquals", {}):
            yield violation(role, "assume_role_policy", "no aws:SourceAccount condition: any account's FIS may use it")


def _grants(plan, role) -> list[dict]:
    return [s for p in referrers(plan, role, ROLE_POLICY)
            for s in document(p.properties.get("policy")).get("Statement", []) if s.get("Effect") == "Allow"]


def _actions_of(statement: dict) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


@rule("fis-role-least-privilege", REFERENCE,
      "Each action lists the IAM permissions the experiment role needs to run it (and targets chosen by tags need "
      "tag:GetResources); without one the experiment fails, and a permission none of them lists is more than the "
      "experiments need.")
def _least_privilege(plan):
    roles: dict[str, tuple] = {}
    for t in plan.of_type(TEMPLATE):
        role = target(plan, t.properties.get("role_arn"))
        if role is not None:
            needed = roles.setdefault(role.name, (role, set()))[1]
            for action in t.properties.get("actions") or []:
                needed |= ACTIONS.get(action.get("action_id"), _action("", "")).permissions
            if any(x.get("resource_tags") for x in t.properties.get("targets") or []):
                needed.add("tag:GetResources")  # targets chosen by tags resolve through the tagging API
    for role, needed in roles.values():
        granted = {a for s in _grants(plan, role) for a in _actions_of(s)}
        for missing in sorted(needed - granted):
            yield violation(role, "policy", f"its experiments need {missing}, which no policy grants")
        for extra in sorted(granted - needed):
            yield violation(role, "policy", f"grants {extra}, which none of its experiments' actions needs")
