"""SLOs as CloudWatch alarms: per ALB, the 5xx ratio and p99 latency; per SLO, a composite.

Each application balancer at each site gets a metric alarm per declared
objective: `error_rate` and `availability` both watch the share of requests
answered 5xx (by the targets or the balancer itself) — the first over 5
minutes, the second over an hour, as an error-budget burn — and
`latency_p99` watches TargetResponseTime's p99. A composite alarm per SLO
and site (composites read alarms of their own region only) fires when any of
its balancers breaches and notifies an encrypted SNS topic.
`build(ctx, slos)` is the target's `slos` pass.
"""

from __future__ import annotations

from topoform.dsl.models import LoadBalancer, Slos
from topoform.providers.plan import ref

from .context import AwsContext
from .kinds import load_balancers
from .sites import site_name

NAMESPACE = "AWS/ApplicationELB"


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
    for site in ctx.sites.all:
        where = {"region": ctx.sites.region(site)}
        topic = ctx.add("aws:sns/topic:Topic", site_name("slo-alerts", site), {
            "kms_master_key_id": "alias/aws/sns", **where, "tags": ctx.tags(),
        }).name
        ctx.plan.outputs[f"slos.{site}.topic_arn"] = ref(topic, "arn")
        for objective, threshold, period, periods, kind in objectives:
            members = [balancer_alarm(ctx, lb, site, objective, threshold, period, periods, kind, topic)
                       for lb in balancers]
            name = site_name(f"slo-{objective}", site)
            ctx.add("aws:cloudwatch/compositeAlarm:CompositeAlarm", name, {
                "alarm_name": f"{ctx.bp.blueprint}-{ctx.stack}-{name}",
                "alarm_description": f"SLO {objective} breached by any balancer ({site} site)",
                "alarm_rule": " OR ".join(f'ALARM("{ref(m, "name")}")' for m in members),
                "alarm_actions": [ref(topic, "arn")], "ok_actions": [ref(topic, "arn")],
                "actions_enabled": True, **where, "tags": ctx.tags(),
            })


def balancer_alarm(ctx: AwsContext, lb: LoadBalancer, site: str, objective: str, threshold: float, period: int,
                   periods: int, kind: str, topic: str) -> str:
    balancer = load_balancers.balancer_name(ctx, lb, site)
    name = f"{balancer}-slo-{objective}"
    props: dict = {
        "name": f"{ctx.bp.blueprint}-{ctx.stack}-{name}",
        "comparison_operator": "GreaterThanThreshold", "threshold": threshold,
        "evaluation_periods": periods, "datapoints_to_alarm": max(1, periods - 2),
        # No traffic is not an outage of the balancer; Route53 health checks watch reachability.
        "treat_missing_data": "notBreaching", "alarm_actions": [ref(topic, "arn")],
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
