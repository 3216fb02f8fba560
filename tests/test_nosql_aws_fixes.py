"""Defects of the aws NoSQL stores found after they were built, each pinned by a test.

- a service reading a DocumentDB store got no password (the master password
  DocumentDB managed reached only the task role): it now reaches the task as an
  ECS secret, from a secret in the task's own region;
- the Neptune grant named every account (`*`) in its resource ARN.
"""

from __future__ import annotations

import json

from test_gateway_nosql import plan_of as gateway_plan

DOCS = """
blueprint: shop
services:
  api:
    image: python:3.12-slim
    port: 8080
    env:
      CATALOG_URL: ${nosql.catalog.url}
      SOCIAL_URL: ${nosql.social.url}
  other:
    image: python:3.12-slim
    port: 8080
nosql:
  catalog: {model: document, replicas: 1}
  social: {model: graph, replicas: 1}
"""


def plan_of(text: str):
    return gateway_plan(text, "aws")


def container(plan, service: str) -> dict:
    task = plan.get(f"svc-{service}-task")
    return task.properties["container_definitions"]["$json"][0]


def test_a_documentdb_client_gets_the_master_password_as_an_ecs_secret():
    plan = plan_of(DOCS)
    secrets = container(plan, "api")["secrets"]
    assert {"name": "CATALOG_PASSWORD", "valueFrom": "${nsql-catalog-auth.arn}"} in secrets
    assert not any("PASSWORD" in item["name"] for item in container(plan, "api")["environment"])
    # The one generated password is the cluster's master password and the secret's whole string.
    assert plan.get("nsql-catalog").properties["master_password"] == {"$secret": "${nsql-catalog-auth-token.result}"}
    assert plan.get("nsql-catalog-auth-value").properties["secret_string"] == "${nsql-catalog-auth-token.result}"
    # The execution role reads that secret; a service that does not read the store gets nothing.
    policy = plan.get("svc-api-execution-secrets").properties["policy"]["$json"]
    assert policy["Statement"][0]["Resource"] == ["${nsql-catalog-auth.arn}"]
    assert container(plan, "other")["secrets"] == []


def test_dr_tasks_read_the_documentdb_password_in_their_own_region():
    """DocumentDB's own managed secret lives in the primary region only: a DR task could not start without it."""
    plan = plan_of(DOCS + "disaster_recovery: {strategy: hot, region: us-west-2}\n")
    assert plan.get("dr-nsql-catalog-auth").properties["region"] == "us-west-2"
    dr = plan.get("dr-svc-api-task").properties["container_definitions"]["$json"][0]
    assert {"name": "CATALOG_PASSWORD", "valueFrom": "${dr-nsql-catalog-auth.arn}"} in dr["secrets"]
    assert "master_password" not in plan.get("dr-nsql-catalog").properties  # a global secondary takes the primary's


def test_a_password_the_user_sets_is_not_overridden():
    plan = plan_of(DOCS.replace("      SOCIAL_URL:", "      CATALOG_PASSWORD: set-by-hand\n      SOCIAL_URL:"))
    names = [item["name"] for item in container(plan, "api")["secrets"]]
    assert names.count("CATALOG_PASSWORD") == 1  # the user's own (a secret of its own), not a second entry


def test_the_neptune_grant_names_the_real_account():
    plan = plan_of(DOCS)
    policy = plan.get("nsql-social-connect-svc-api").properties["policy"]["$json"]
    [arn] = policy["Statement"][0]["Resource"]
    assert arn == "arn:aws:neptune-db:us-east-1:${net-vpc.owner_id}:${nsql-social.cluster_resource_id}/*"
    assert ":*:" not in json.dumps(policy)


def test_the_neptune_grant_names_the_account_in_both_regions_with_hot_dr():
    plan = plan_of(DOCS + "disaster_recovery: {strategy: hot, region: us-west-2}\n")
    policy = plan.get("nsql-social-connect-svc-api").properties["policy"]["$json"]
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:neptune-db:us-east-1:${net-vpc.owner_id}:${nsql-social.cluster_resource_id}/*",
        "arn:aws:neptune-db:us-west-2:${dr-net-vpc.owner_id}:${dr-nsql-social.cluster_resource_id}/*"]


def test_every_aws_rule_holds_on_every_nosql_store_with_hot_dr():
    """No example has NoSQL stores with a hot DR region: the rules run over such a Plan here (the DR
    tasks read passwords in their own region; global clusters and Multi-Region are replication links)."""
    from aws_rules import all_rules

    text = DOCS.replace("      SOCIAL_URL:", "      SESSIONS_URL: ${nosql.sessions.url}\n      SOCIAL_URL:") + """
  sessions: {model: key-value, engine: valkey, shards: 2}
  orders: {model: key-value, partition_key: {name: id}}
  events: {model: wide-column, partition_key: {name: device}}
disaster_recovery: {strategy: hot, region: us-west-2}
"""
    plan = plan_of(text)
    found = {rule.id: [str(v) for v in rule.violations(plan)] for rule in all_rules()}
    assert {rule: violations for rule, violations in found.items() if violations} == {}
