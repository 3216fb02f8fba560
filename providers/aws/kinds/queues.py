"""Queues on AWS: SQS with a dead-letter queue, TLS-only policies and a back-pressure alarm.

A queue is encrypted with SQS-managed keys (the `encrypted` field), long-polls,
and after `max_receives` failed deliveries moves a message to its dead-letter
queue (FIFO when the queue is FIFO; kept the SQS maximum of 14 days), whose
redrive allow policy admits that queue only. SQS
has no length limit, so `max_depth` cannot refuse a producer the way
RabbitMQ's `reject-publish` does on docker: it becomes a CloudWatch alarm on
ApproximateNumberOfMessagesVisible that producers must honour (the queue's
depth is readable with sqs:GetQueueAttributes, which producers are granted,
and `max_depth` is a stack output). Consumers (the queue's `consumers` and
services that list it in `consumes`) may receive, delete and extend
visibility; other services that reference the queue may send; nobody else
gets a grant. With a hot DR site the grants cover both regions' queues (one
task role serves both sites). `build_at` makes the queue at one site;
recovery.py calls it for the hot DR site's copy.
"""

from __future__ import annotations

from typing import Any

from topoform.dsl.models import Queue
from topoform.providers import facts as common
from topoform.providers.plan import Availability, ref

from .. import stores
from ..context import AwsContext
from ..iam import policy_document
from ..sites import DR, PRIMARY, site_name
from ..store_catalog import physical_id, snapshot_name

SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
SQS_REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

DLQ_RETENTION = 14 * 86400  # the SQS maximum: failed messages wait as long as possible for a look
LONG_POLL_SECONDS = 20  # a receive waits up to 20s for a message: fewer empty receives, lower cost
SQS_NAME_LIMIT = 80
QUEUE_RECEIVE = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                 "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
QUEUE_SEND = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
SQS_PORT = 443


def build(ctx: AwsContext, queue: Queue) -> None:
    build_at(ctx, queue, PRIMARY)
    _grants(ctx, queue)
    ctx.export(queue, ("url", "host", "port", "name"))
    if queue.max_depth is not None:
        ctx.plan.outputs[f"{queue.ref}.max_depth"] = queue.max_depth


def queue_names(ctx: AwsContext, queue: Queue, site: str) -> tuple[str, str | None]:
    """Resource names of the queue and its dead-letter queue (None without `max_receives`)."""
    base = site_name(ctx.prefix(queue), site)
    return base, (f"{base}-dlq" if queue.max_receives is not None else None)


def _sqs_name(ctx: AwsContext, queue: Queue, site: str, dead_letter: bool = False) -> str:
    """`{blueprint}-{stack}[-dr]-{queue}[-dlq][.fifo]`; SQS allows 80 characters, `.fifo` included."""
    suffix = ".fifo" if queue.fifo else ""
    parts = [ctx.bp.blueprint, ctx.stack] + (["dr"] if site != PRIMARY else []) + [queue.name]
    text = snapshot_name(*parts, *(["dlq"] if dead_letter else []))
    limit = SQS_NAME_LIMIT - len(suffix)
    if len(text) > limit:
        text = physical_id(text, limit + 8, ctx.bp.blueprint, ctx.stack) or text
    return text + suffix


def build_at(ctx: AwsContext, queue: Queue, site: str) -> None:
    """The queue, its dead-letter queue, TLS-only policies and alarms on `site`."""
    name, dlq = queue_names(ctx, queue, site)
    region = ctx.sites.region(site)
    fifo: dict[str, Any] = {"fifo_queue": True, "content_based_deduplication": True} if queue.fifo else {}
    props: dict[str, Any] = {
        "name": _sqs_name(ctx, queue, site),
        **fifo,
        "visibility_timeout_seconds": int(queue.visibility_timeout),
        "message_retention_seconds": int(queue.retention),
        "receive_wait_time_seconds": LONG_POLL_SECONDS,
        "sqs_managed_sse_enabled": queue.encrypted,
        "region": region,
        "tags": ctx.tags(),
    }
    if dlq is not None:
        ctx.add(SQS_QUEUE, dlq, {
            "name": _sqs_name(ctx, queue, site, dead_letter=True),
            **fifo,  # a FIFO queue's dead letters must go to a FIFO queue
            "message_retention_seconds": DLQ_RETENTION,
            "sqs_managed_sse_enabled": queue.encrypted,
            "region": region,
            "tags": ctx.tags(),
        }, protect=queue.protect)
        props["redrive_policy"] = {"$json": {"deadLetterTargetArn": ref(dlq, "arn"),
                                             "maxReceiveCount": queue.max_receives}}
    ctx.add(SQS_QUEUE, name, props, protect=queue.protect)
    if dlq is not None:
        # Only this queue may dead-letter into its DLQ (and be the redrive target).
        # A resource of its own: on the DLQ itself the policy would name the
        # source's ARN while the source names the DLQ's, a cycle.
        ctx.add(SQS_REDRIVE_ALLOW, f"{dlq}-redrive-allow", {
            "queue_url": ref(dlq, "url"),
            "redrive_allow_policy": {"$json": {"redrivePermission": "byQueue", "sourceQueueArns": [ref(name, "arn")]}},
            "region": region,
        })
    for each in (name, dlq):
        if each is None:
            continue
        # Messages may carry personal data: refuse any request not made over TLS.
        ctx.add(SQS_QUEUE_POLICY, f"{each}-tls-only", {
            "queue_url": ref(each, "url"),
            "policy": policy_document([{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                "Resource": ref(each, "arn"), "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
            "region": region,
        })
    if queue.max_depth is not None:
        _alarm(ctx, f"{name}-depth", name, queue.max_depth,
               f"{queue.ref} holds {queue.max_depth} or more messages: producers must back off",
               region)
    if dlq is not None:
        _alarm(ctx, f"{dlq}-messages", dlq, 1,
               f"{queue.ref}: a message failed {queue.max_receives} times and was dead-lettered",
               region)


def _alarm(ctx: AwsContext, alarm: str, queue_resource: str, threshold: int, description: str, region: str) -> None:
    ctx.add(METRIC_ALARM, alarm, {
        "name": snapshot_name(ctx.bp.blueprint, ctx.stack, alarm),
        "alarm_description": description,
        "namespace": "AWS/SQS",
        "metric_name": "ApproximateNumberOfMessagesVisible",
        "dimensions": {"QueueName": ref(queue_resource, "name")},
        "statistic": "Maximum",
        "period": 60,
        "evaluation_periods": 1,
        "threshold": threshold,
        "comparison_operator": "GreaterThanOrEqualToThreshold",
        "treat_missing_data": "notBreaching",
        "region": region,
        "tags": ctx.tags(),
    })


def _grants(ctx: AwsContext, queue: Queue) -> None:
    """Consumers may receive and delete; other services that reference the queue may send."""
    sites = [PRIMARY, DR] if ctx.sites.hot_copies else [PRIMARY]
    queues = [queue_names(ctx, queue, site)[0] for site in sites]
    arns = [ref(q, "arn") for q in queues]
    readers = ctx.access.consumers_of(queue.ref)
    for service in readers:
        ctx.iam.grant_task_role(f"{queues[0]}-consume-{ctx.prefix(ctx.bp.component(service))}", service, [{
            "Sid": "Consume", "Effect": "Allow", "Action": QUEUE_RECEIVE, "Resource": arns}], queue.ref)
    for service in ctx.access.users(queue.ref):
        if service in readers:
            continue
        statements = [{"Sid": "Produce", "Effect": "Allow", "Action": QUEUE_SEND, "Resource": arns}]
        if queue.max_depth is not None:
            # Producers honour back pressure by reading the depth alarm (or the depth itself).
            statements.append({"Sid": "ReadBackPressure", "Effect": "Allow",
                               "Action": ["cloudwatch:DescribeAlarms"],
                               "Resource": [ref(f"{q}-depth", "arn") for q in queues]})
        ctx.iam.grant_task_role(f"{queues[0]}-send-{ctx.prefix(ctx.bp.component(service))}", service, statements,
                                queue.ref)


def attribute(ctx: AwsContext, queue: Queue, attr: str) -> str:
    """`${queues.x.url}` and friends at the asking site (the DR copy with a hot DR site)."""
    return stores.attribute(ctx, queue, attr, values)


def values(ctx: AwsContext, queue: Queue, site: str) -> dict[str, str]:
    name = queue_names(ctx, queue, site)[0]
    return {"url": ref(name, "url"), "host": f"sqs.{ctx.sites.region(site)}.amazonaws.com",
            "port": str(SQS_PORT), "name": ref(name, "name")}


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.9, "Amazon SQS SLA", "SQS SLA")
facts = common.queues
