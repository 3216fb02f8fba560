"""Drills on AWS: Fault Injection Service experiment templates, built only when the blueprint asks.

`drills: true` (or a `drills:` mapping: which components, how long, whether
the SLO alarms stop an experiment) gives every drillable component of the
primary site one template per fault `topoform drill --target aws` can start:

| component | template | FIS action (target resource type) |
| --- | --- | --- |
| service | `one-copy`, `every-copy` | `aws:ecs:stop-task` (`aws:ecs:task` by the service's tags, COUNT(1) / ALL) |
| database (RDS) | `reboot` | `aws:rds:reboot-db-instances` (`aws:rds:db` by ARN; `forceFailover` when Multi-AZ) |
| cache (replication group, Multi-AZ) | `zone-power` | `aws:elasticache:replicationgroup-interrupt-az-power` (`aws:elasticache:replicationgroup` by tags, the site's first zone) |
| the primary site (hot DR) | `site` | `aws:network:disrupt-connectivity` (`aws:ec2:subnet` by tags, scope `all`) |

(AWS FIS actions reference: https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html.)
A stop condition is each SLO composite alarm of the primary site (an
experiment's alarms are of its own region) for a component drill; `none`
for the site drill (it breaches the primary's SLOs on purpose), without SLOs
or with `stop_on_slos: false`. One IAM role trusted by fis.amazonaws.com (for this
account's experiments only) holds exactly the permissions the reference lists
for the actions used, scoped to the stack's resources where IAM allows it
(`PERMISSIONS` below; tests/aws_rules/rules_fis.py checks both directions).
The stack outputs `drills.<ref>.<fault>` (template ids) and the metric
dimensions the CLI reads from CloudWatch (providers/drill/aws.py).

Docker needs none of this: a Docker drill stops containers through the
engine, so `drills:` adds nothing to a Docker Plan.
"""

from __future__ import annotations

from typing import Any

from topoform.dsl.models import Blueprint
from topoform.providers.base import PLATFORM, RECOVERY
from topoform.providers.plan import ref

from .context import AwsContext
from .iam import ROLE, ROLE_POLICY, policy_document
from .network import zone_names
from .sites import DR, PRIMARY

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
ECS_SERVICE, ECS_CLUSTER = "aws:ecs/service:Service", "aws:ecs/cluster:Cluster"
RDS_INSTANCE = "aws:rds/instance:Instance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
BALANCER = "aws:lb/loadBalancer:LoadBalancer"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
ROLE_NAME = "drill-role"
# A service whose ECS service is not in the Plan waits behind a listener whose certificate validates
# through a zone not yet delegated (certificates.py): its drills come with the delegated stage.
WAITS = "waits for DNS delegation"

# The IAM permissions the FIS actions reference lists for each action.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "aws:ecs:stop-task": ("ecs:DescribeTasks", "ecs:ListTasks", "ecs:StopTask"),
    "aws:rds:reboot-db-instances": ("rds:RebootDBInstance", "rds:DescribeDBInstances", "tag:GetResources"),
    "aws:elasticache:replicationgroup-interrupt-az-power": (
        "elasticache:InterruptClusterAzPower", "elasticache:DescribeReplicationGroups", "tag:GetResources"),
    "aws:network:disrupt-connectivity": (
        "ec2:CreateNetworkAcl", "ec2:CreateNetworkAclEntry", "ec2:CreateTags", "ec2:DeleteNetworkAcl",
        "ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkAcls", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
        "ec2:GetManagedPrefixListEntries", "ec2:ReplaceNetworkAclAssociation"),
}


def iso_duration(seconds: float) -> str:
    """FIS durations are ISO 8601 (`PT5M`, `PT1H30M`, `PT90S`)."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")


def stack_tags(ctx: AwsContext, component: str) -> list[dict[str, str]]:
    """Resource tags a target selects by: the ones every resource of this component carries."""
    return [{"key": k, "value": v} for k, v in ctx.tags(component).items()]


class _Builder:
    def __init__(self, ctx: AwsContext):
        self.ctx = ctx
        self.drills = ctx.bp.drills
        self.region = ctx.sites.region(PRIMARY)
        self.account = ref(ctx.networks.network(PRIMARY).vpc, "owner_id")
        self.used: dict[str, list[dict]] = {}  # FIS action id → IAM statements it needs
        self.templates: list[tuple[str, str, dict]] = []  # (component, name, properties)

    # ---- where a drill points

    def primary(self, token: str, component: str) -> list[Any]:
        return [r for r in self.ctx.plan.of_type(token) if r.component == component and not r.name.startswith("dr-")]

    def stop_conditions(self, site: str) -> list[dict[str, str]]:
        # A stop condition is an alarm of the experiment's own region: the primary site's SLO alarms guard a
        # component drill. A site drill breaches those by design, and the DR site's live in another region.
        alarms = [r.name for r in self.ctx.plan.of_type(COMPOSITE) if not r.name.startswith("dr-")]
        if site == DR or not self.drills.stop_on_slos or not alarms:
            return [{"source": "none"}]
        return [{"source": "aws:cloudwatch:alarm", "value": ref(name, "arn")} for name in alarms[:5]]

    def template(self, component: str, fault: str, what: str, action: dict, target: dict, site: str = PRIMARY,
                 position: tuple = ()) -> None:
        name = f"drill-{self.ctx.prefix(self.ctx.bp.component(component))}-{fault}" if "." in component \
            else f"drill-{fault}"
        key = action.pop("target_key")
        props = {
            "description": f"{self.ctx.bp.blueprint}/{self.ctx.stack}: {what} (topoform drill)",
            "role_arn": ref(ROLE_NAME, "arn"),
            "stop_conditions": self.stop_conditions(site),
            "actions": [{"name": "fault", **action, "target": {"key": key, "value": "targets"}}],
            "targets": [{"name": "targets", **target}],
            "region": self.region, "tags": {**self.ctx.tags(component), "Name": f"{self.ctx.bp.blueprint}-"
                                            f"{self.ctx.stack}-{name}"},
        }
        self.templates.append((component, name, props))
        key_of = f"drills.{component}.{fault.replace('-', '_')}" if "." in component else "drills.site"
        self.ctx.plan.outputs[key_of] = ref(name, "id")

    # ---- the faults

    def service(self, component: str, cluster) -> None:
        # The service propagates its tags to its tasks (services.py: propagate_tags SERVICE): the three
        # topoform tags name this service's tasks in this region, and nothing else.
        for fault, mode, what in (("one-copy", "COUNT(1)", "stop one task"), ("every-copy", "ALL", "stop every task")):
            self.template(component, fault, f"{what} of {component}",
                          {"action_id": "aws:ecs:stop-task", "target_key": "Tasks"},
                          {"resource_type": "aws:ecs:task", "selection_mode": mode,
                           "resource_tags": stack_tags(self.ctx, component)})
        tasks = f"arn:aws:ecs:{self.region}:{self.account}:task/{ref(cluster, 'name')}/*"
        self.used.setdefault("aws:ecs:stop-task", [
            {"Sid": "StopStackTasks", "Effect": "Allow", "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
             "Resource": [tasks]},
            # ListTasks names no task: IAM scopes it by the cluster it lists (the ecs:cluster condition key).
            {"Sid": "ListStackTasks", "Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
             "Condition": {"ArnEquals": {"ecs:cluster": ref(cluster, "arn")}}},
        ])

    def database(self, component: str, instances) -> None:
        multi_az = all(bool(i.properties.get("multi_az")) for i in instances)
        self.template(component, "reboot", f"reboot the primary of {component}"
                      + (" with a Multi-AZ failover" if multi_az else ""),
                      {"action_id": "aws:rds:reboot-db-instances", "target_key": "DBInstances",
                       "parameters": [{"key": "forceFailover", "value": "true" if multi_az else "false"}]},
                      {"resource_type": "aws:rds:db", "selection_mode": "ALL",
                       "resource_arns": [ref(i, "arn") for i in instances]})
        statements = self.used.setdefault("aws:rds:reboot-db-instances", [
            {"Sid": "RebootStackDatabases", "Effect": "Allow",
             "Action": ["rds:RebootDBInstance", "rds:DescribeDBInstances"], "Resource": []},
        ])
        statements[0]["Resource"] += [ref(i, "arn") for i in instances]

    def cache(self, component: str, group) -> None:
        zone = zone_names(self.region, self.ctx.bp.aws.availability_zones)[0]
        self.template(component, "zone-power", f"cut the power of zone {zone} under {component}",
                      {"action_id": "aws:elasticache:replicationgroup-interrupt-az-power", "target_key": "ReplicationGroups",
                       "parameters": [{"key": "duration", "value": iso_duration(self.drills.duration)}]},
                      # FIS selects replication groups by tags only (the tags of this component).
                      {"resource_type": "aws:elasticache:replicationgroup", "selection_mode": "ALL",
                       "resource_tags": stack_tags(self.ctx, component),
                       "parameters": {"availabilityZoneIdentifier": zone}})
        statements = self.used.setdefault("aws:elasticache:replicationgroup-interrupt-az-power", [
            {"Sid": "InterruptStackCaches", "Effect": "Allow",
             "Action": ["elasticache:InterruptClusterAzPower", "elasticache:DescribeReplicationGroups"], "Resource": []},
        ])
        statements[0]["Resource"].append(ref(group, "arn"))

    def site(self) -> None:
        self.template(RECOVERY, "site", "cut every subnet of the primary site off, the DR drill",
                      {"action_id": "aws:network:disrupt-connectivity", "target_key": "Subnets",
                       "parameters": [{"key": "duration", "value": iso_duration(self.drills.duration)},
                                      {"key": "scope", "value": "all"}]},
                      {"resource_type": "aws:ec2:subnet", "selection_mode": "ALL",
                       "resource_tags": stack_tags(self.ctx, PLATFORM)}, site=DR)
        vpc = ref(self.ctx.networks.network(PRIMARY).vpc, "arn")
        acls = f"arn:aws:ec2:{self.region}:{self.account}:network-acl/*"
        fis_made = {"StringEquals": {"aws:ResourceTag/managedByFIS": "true"}}
        self.used["aws:network:disrupt-connectivity"] = [
            {"Sid": "ReadNetwork", "Effect": "Allow", "Resource": "*", "Action": [
                "ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkAcls", "ec2:DescribeSubnets",
                "ec2:DescribeVpcs", "ec2:GetManagedPrefixListEntries"]},
            # The ACL FIS makes carries managedByFIS=true from its creation; it may be made in the stack's VPC only.
            {"Sid": "CreateDenyAcl", "Effect": "Allow", "Action": "ec2:CreateNetworkAcl", "Resource": acls,
             "Condition": {"StringEquals": {"aws:RequestTag/managedByFIS": "true"}}},
            {"Sid": "CreateDenyAclInStackVpc", "Effect": "Allow", "Action": "ec2:CreateNetworkAcl", "Resource": vpc},
            {"Sid": "TagDenyAcl", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": acls,
             "Condition": {"StringEquals": {"ec2:CreateAction": "CreateNetworkAcl",
                                            "aws:RequestTag/managedByFIS": "true"}}},
            # FIS tags the ACL it makes managedByFIS=true: only those are edited, swapped in or deleted.
            {"Sid": "UseDenyAcl", "Effect": "Allow", "Resource": acls, "Condition": fis_made,
             "Action": ["ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAcl"]},
            {"Sid": "SwapSubnetAcl", "Effect": "Allow", "Action": "ec2:ReplaceNetworkAclAssociation",
             "Resource": [acls, f"arn:aws:ec2:{self.region}:{self.account}:subnet/*"]},
        ]

    # ---- the role and the templates, in one place so the Plan reads role first

    def finish(self) -> None:
        ctx = self.ctx
        where = ctx.position("drills")
        with ctx.owning(PLATFORM, ()):
            ctx.add(ROLE, ROLE_NAME, {
                "assume_role_policy": policy_document([{
                    "Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"}, "Action": "sts:AssumeRole",
                    # Only this account's experiments may use it (the confused-deputy guard).
                    "Condition": {"StringEquals": {"aws:SourceAccount": self.account},
                                  "ArnLike": {"aws:SourceArn": f"arn:aws:fis:{self.region}:{self.account}:experiment/*"}},
                }]),
                "description": f"AWS FIS runs the drills of {ctx.bp.blueprint}/{ctx.stack} (topoform drill --target aws)",
                "tags": ctx.tags(PLATFORM),
            }, source=where)
            statements = [s for statements in self.used.values() for s in statements]
            # Targets chosen by tags resolve through the tagging API (which takes no resource-level permission).
            statements.append({"Sid": "ResolveTargets", "Effect": "Allow", "Action": "tag:GetResources",
                               "Resource": "*"})
            ctx.add(ROLE_POLICY, f"{ROLE_NAME}-policy", {
                "role": ref(ROLE_NAME, "name"), "policy": policy_document(statements),
            }, source=where)
        for component, name, props in self.templates:
            with ctx.owning(component, () if "." in component else (component,)):
                ctx.add(TEMPLATE, name, props, depends_on=[f"{ROLE_NAME}-policy"], source=where)


def drillable(ctx: AwsContext, bp: Blueprint) -> tuple[list[str], list[tuple[str, str, int]]]:
    """(components to drill, [(component, why not, its index in drills.components)] for those named but not drillable)."""
    chosen = bp.drills.components
    refs = list(chosen) if chosen is not None else [c.ref for s in ("services", "databases", "caches")
                                                     for c in getattr(bp, s).values()]
    ok, refused = [], []
    for i, component in enumerate(refs):
        why = _why_not(ctx, bp, component)
        if why is None:
            ok.append(component)
        elif chosen is not None:
            refused.append((component, why, i))
    return ok, refused


def _why_not(ctx: AwsContext, bp: Blueprint, component: str) -> str | None:
    section = component.partition(".")[0]
    plan = ctx.plan
    mine = [r for r in plan.resources if r.component == component and not r.name.startswith("dr-")]
    if section == "services":
        return None if any(r.type == ECS_SERVICE for r in mine) else WAITS
    if section == "databases":
        if any(r.type == RDS_INSTANCE for r in mine):
            return None
        return "it is an Aurora DSQL cluster, which no FIS action reboots or fails over"
    groups = [r for r in mine if r.type == REPLICATION_GROUP]
    if not groups:
        return "a memcached cache is no replication group: FIS interrupts zone power only under replication groups"
    if not groups[0].properties.get("multi_az_enabled"):
        return "FIS interrupts zone power under Multi-AZ replication groups only: give it `replicas: 1` or more"
    return None


def build(ctx: AwsContext) -> None:
    """The `finish`-time pass (every component is built, so every alarm and ARN is known)."""
    bp = ctx.bp
    if bp.drills is None:
        return
    chosen, refused = drillable(ctx, bp)
    for component, why, i in [r for r in refused if r[1] == WAITS]:
        ctx.warn(f"{component} has no drill yet: it {WAITS} (its balancer's certificate), so its FIS templates "
                 "come with the stage that has `dns.delegated: true`", None, "drills", "components", i)
    refused = [r for r in refused if r[1] != WAITS]
    for component, why, i in refused:
        ctx.refuse(f"{component} cannot be drilled on aws: {why}", "leave it out of drills.components",
                   "drills", "components", i)
    if refused:
        return
    builder = _Builder(ctx)
    cluster = next(iter(builder.primary(ECS_CLUSTER, PLATFORM)), None)
    for component in chosen:
        section = component.partition(".")[0]
        if section == "services":
            builder.service(component, cluster)
        elif section == "databases":
            builder.database(component, [r for r in builder.primary(RDS_INSTANCE, component)
                                         if "replicate_source_db" not in r.properties])
        else:
            builder.cache(component, builder.primary(REPLICATION_GROUP, component)[0])
    if ctx.sites.hot:
        builder.site()
    if not builder.templates:
        ctx.warn("drills: nothing here can be drilled on aws (no ECS service, RDS database or Multi-AZ cache)",
                 None, "drills")
        return
    builder.finish()
    _metric_outputs(ctx)


def _metric_outputs(ctx: AwsContext) -> None:
    """What `topoform drill --target aws` reads from CloudWatch: balancer dimensions, health checks, replicas."""
    outputs = ctx.plan.outputs
    for lb in ctx.plan.of_type(BALANCER):
        if lb.properties.get("load_balancer_type", "application") == "application":
            site = DR if lb.name.startswith("dr-") else PRIMARY
            outputs[f"drills.metrics.{lb.component}.{site}"] = ref(lb, "arn_suffix")
    for check in ctx.plan.of_type(HEALTH_CHECK):
        outputs[f"drills.metrics.health_checks.{check.name}"] = ref(check, "id")
    for db in ctx.plan.of_type(RDS_INSTANCE):
        if "replicate_source_db" in db.properties:
            outputs[f"drills.metrics.replicas.{db.name}"] = ref(db, "identifier")
    outputs["drills.region"] = ctx.sites.region(PRIMARY)
    if ctx.sites.hot:
        outputs["drills.dr_region"] = ctx.sites.region(DR)

