"""AWS Plans that deploy on the first `pulumi up`: edge, balancers, services, caches and queues.

Each test compiles a small blueprint (or an example) and asserts the property
AWS needs for the resource to be accepted and to work — the defects these
guard against passed `plan` and failed (or silently misbehaved) at `up`.
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from topoform.dsl import validate_text
from topoform.providers import compile_plan
from topoform.providers.base import UnsupportedError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLUEPRINTS = os.path.join(ROOT, "blueprints")


def load(text: str, target: str = "aws"):
    result = validate_text(textwrap.dedent(text), file="test.yaml", base_dir=BLUEPRINTS, target=target)
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return result.blueprint


def plan_of(text: str, target: str = "aws"):
    return compile_plan(load(text, target), target)


def of_type(plan, token: str) -> list:
    return [r for r in plan.resources if r.type == token]


def props(plan, name: str) -> dict:
    return plan.get(name).properties


SERVICE_AND_QUEUE = """
blueprint: jobs
aws: {region: eu-west-1}
services:
  api: {image: api:1, port: 8080, env: {QUEUE_URL: "${queues.work.url}"}}
queues:
  work: {max_receives: 3}
"""


def test_ecs_services_wait_for_steady_state():
    """`up` must not report success while the tasks crash-loop."""
    plan = plan_of(SERVICE_AND_QUEUE)
    services = of_type(plan, "aws:ecs/service:Service")
    assert services and all(s.properties["wait_for_steady_state"] is True for s in services)
    assert all(s.properties["deployment_circuit_breaker"] == {"enable": True, "rollback": True} for s in services)


def test_dead_letter_queue_admits_only_its_source_queue():
    plan = plan_of(SERVICE_AND_QUEUE)
    allow = props(plan, "queue-work-dlq-redrive-allow")
    assert allow["queue_url"] == "${queue-work-dlq.url}"
    assert allow["redrive_allow_policy"] == {"$json": {"redrivePermission": "byQueue",
                                                       "sourceQueueArns": ["${queue-work.arn}"]}}
    # No cycle: the DLQ does not name its source, the source names the DLQ.
    assert "queue-work" not in plan.get("queue-work-dlq").references()
