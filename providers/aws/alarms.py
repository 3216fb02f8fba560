"""SLOs as CloudWatch alarms: per ALB, the 5xx ratio and p99 latency; per SLO, a composite.

Each application balancer at each site gets a metric alarm per declared
objective: `error_rate` and `availability` both watch the share of requests
answered 5xx (by the targets or the balancer itself) — the first over 5
minutes, the second over an hour, as an error-budget burn — and
`latency_p99` watches TargetResponseTime's p99. A composite alarm per SLO
and site (composites read alarms of their own region only) fires when any of
its balancers breaches and notifies an SNS topic per site.

The topic is encrypted with a customer managed KMS key per site whose policy
lets CloudWatch use it: the AWS managed key `alias/aws/sns` has a policy
nobody can change, so CloudWatch could not publish to a topic it encrypts
(SNS Developer Guide, "Compatibility between event sources from AWS services
and encrypted topics"). `slos.notify` says who hears it: each email address
and https:// endpoint is subscribed to the topic (SNS sends them a
confirmation first), and an SNS topic ARN of a site's region is an action of
its alarms as well (alarms notify topics of their own region only).
`build(ctx, slos)` is the target's `slos` pass.
"""

from __future__ import annotations

from topoform.dsl.models import LoadBalancer, Slos
from topoform.providers.plan import ref

from .context import AwsContext
from .iam import policy_document
from .kinds import load_balancers
from .sites import site_name

NAMESPACE = "AWS/ApplicationELB"
KMS_KEY = "aws:kms/key:Key"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def destination_protocol(destination: str) -> str:
    """`email`, `https` or `sns` (a topic ARN) for one `slos.notify` entry."""
    if destination.startswith("arn:"):
        return "sns"
    return "https" if destination.startswith("https://") else "email"


def alerts_key(ctx: AwsContext, site: str) -> str:
    """A KMS key for the site's alert topic: the account administers it, CloudWatch may encrypt with it."""
    account = ref(ctx.networks.network(site).vpc, "owner_id")  # the account id, as an output of the plan
    return ctx.add(KMS_KEY, site_name("slo-alerts-key", site), {
        "description": f"{ctx.bp.blueprint}/{ctx.stack}: SLO alert topic ({site} site)",
        "enable_key_rotation": True, "deletion_window_in_days": 30,
        "policy": policy_document([
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "CloudWatchPublishesAlarms", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
        ]),
        "region": ctx.sites.region(site), "tags": ctx.tags(),
    }).name


def subscribe(ctx: AwsContext, slos: Slos, site: str, topic: str) -> list[str]:
    """Subscriptions of `slos.notify` to `topic`; returns the SNS topic ARNs of this site's region."""
    region = ctx.sites.region(site)
    topics = []
    for i, destination in enumerate(slos.notify):
        protocol = destination_protocol(destination)
        if protocol == "sns":
            if destination.split(":")[3] == region:
                topics.append(destination)
            continue
        ctx.add(SUBSCRIPTION, site_name(f"slo-alerts-subscription-{i}", site), {
            "topic": ref(topic, "arn"), "protocol": protocol, "endpoint": destination,
            # SNS sends a confirmation first; nobody hears alarms until it is answered.
            **({"endpoint_auto_confirms": False} if protocol == "https" else {}),
            "region": region,
        })
    return topics


def five_xx_queries(balancer: str, period: int) -> list[dict]:
    """Metric math: 100 × (target 5xx + balancer 5xx) / requests."""
    def metric(metric_id: str, name: str) -> dict:
        return {"id": metric_id, "return_data": False, "metric": {
            "namespace": NAMESPACE, "metric_name": name, "period": period, "stat": "Sum",
            "dimensions": {"LoadBalancer": ref(balancer, "arn_suffix")}}}
    return [
        metric("targets", "HTTPCode_Target_5XX_Count"),
        metric("balancer", "HTTPCode_ELB_5XX_Count"),
        metric("requests", "RequestCount"),
        {"id": "ratio", "label": "5xx % of requests", "return_data": True,
         "expression": "100 * (FILL(targets, 0) + FILL(balancer, 0)) / requests"},
    ]


def build(ctx: AwsContext, slos: Slos) -> None:
    balancers = [lb for lb in ctx.bp.load_balancers.values() if lb.layer == 7]
    if not balancers:
        ctx.warn("SLO alarms watch application balancers, and this blueprint has none", None, "slos")
        return
    objectives = []
    if slos.error_rate is not None:
        objectives.append(("error-rate", slos.error_rate, 60, 5, "5xx"))
    if slos.availability is not None:
        objectives.append(("availability", round(100.0 - slos.availability, 6), 3600, 1, "5xx"))
    if slos.latency_p99 is not None:
        objectives.append(("latency-p99", slos.latency_p99, 60, 5, "latency"))
    if not slos.notify:
        ctx.warn("SLO alarms notify nobody: `slos.notify` names no one", "add `notify: [ops@example.com]` "
                 "(email addresses, https:// endpoints or SNS topic ARNs) to `slos`, or subscribe to the "
                 "`slos.<site>.topic_arn` outputs yourself", "slos")
    elif any(destination_protocol(d) != "sns" for d in slos.notify):
        ctx.warn("SNS asks each email address and https endpoint of `slos.notify` to confirm its "
                 "subscription: alarms reach it once that is answered", None, "slos", "notify")
    regions = [ctx.sites.region(site) for site in ctx.sites.all]
    for i, destination in enumerate(slos.notify):
        if destination_protocol(destination) == "sns" and destination.split(":")[3] not in regions:
            ctx.warn(f"SLO alarms notify SNS topics of their own region only, and {destination} is in none of "
                     f"{', '.join(regions)}: it hears nothing", "name a topic of a site's region, or an email "
                     "address", "slos", "notify", i)
    for site in ctx.sites.all:
        where = {"region": ctx.sites.region(site)}
        topic = ctx.add("aws:sns/topic:Topic", site_name("slo-alerts", site), {
            "kms_master_key_id": ref(alerts_key(ctx, site), "arn"), **where, "tags": ctx.tags(),
        }).name
        ctx.plan.outputs[f"slos.{site}.topic_arn"] = ref(topic, "arn")
        actions = [ref(topic, "arn"), *subscribe(ctx, slos, site, topic)]
        for objective, threshold, period, periods, kind in objectives:
            members = [balancer_alarm(ctx, lb, site, objective, threshold, period, periods, kind, actions)
                       for lb in balancers]
            name = site_name(f"slo-{objective}", site)
            ctx.add("aws:cloudwatch/compositeAlarm:CompositeAlarm", name, {
                "alarm_name": f"{ctx.bp.blueprint}-{ctx.stack}-{name}",
                "alarm_description": f"SLO {objective} breached by any balancer ({site} site)",
                "alarm_rule": " OR ".join(f'ALARM("{ref(m, "name")}")' for m in members),
                "alarm_actions": actions, "ok_actions": actions,
                "actions_enabled": True, **where, "tags": ctx.tags(),
            })


def balancer_alarm(ctx: AwsContext, lb: LoadBalancer, site: str, objective: str, threshold: float, period: int,
                   periods: int, kind: str, actions: list[str]) -> str:
    balancer = load_balancers.balancer_name(ctx, lb, site)
    name = f"{balancer}-slo-{objective}"
    props: dict = {
        "name": f"{ctx.bp.blueprint}-{ctx.stack}-{name}",
        "comparison_operator": "GreaterThanThreshold", "threshold": threshold,
        "evaluation_periods": periods, "datapoints_to_alarm": max(1, periods - 2),
        # No traffic is not an outage of the balancer; Route53 health checks watch reachability.
        "treat_missing_data": "notBreaching", "alarm_actions": list(actions),
        "region": ctx.sites.region(site), "tags": ctx.tags(),
    }
    if kind == "5xx":
        props["alarm_description"] = f"{ctx.ref_of(lb)} ({site}): more than {threshold:g}% of requests failed with 5xx"
        props["metric_queries"] = five_xx_queries(balancer, period)
    else:
        props["alarm_description"] = f"{ctx.ref_of(lb)} ({site}): p99 response time above {threshold:g}s"
        props.update(namespace=NAMESPACE, metric_name="TargetResponseTime", extended_statistic="p99",
                     period=period, dimensions={"LoadBalancer": ref(balancer, "arn_suffix")})
    return ctx.add("aws:cloudwatch/metricAlarm:MetricAlarm", name, props).name
