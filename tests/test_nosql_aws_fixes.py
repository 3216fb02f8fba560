"""Defects of the aws NoSQL stores found after they were built, each pinned by a test.

- a service reading a DocumentDB store got no password: the master password
  DocumentDB manages in Secrets Manager must reach the task as an ECS secret;
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


def test_a_documentdb_client_gets_the_managed_password_as_an_ecs_secret():
    plan = plan_of(DOCS)
    secrets = container(plan, "api")["secrets"]
    # The `password` key of the JSON secret DocumentDB manages (ECS: ARN:json-key:version-stage:version-id).
    assert {"name": "CATALOG_PASSWORD",
            "valueFrom": "${nsql-catalog.master_user_secrets[0].secret_arn}:password::"} in secrets
    assert not any("PASSWORD" in item["name"] for item in container(plan, "api")["environment"])
    # The execution role reads the secret itself (IAM names the secret, not the key).
    policy = plan.get("svc-api-execution-secrets").properties["policy"]["$json"]
    assert policy["Statement"][0]["Resource"] == ["${nsql-catalog.master_user_secrets[0].secret_arn}"]
    # A service that does not read the store gets nothing.
    assert container(plan, "other")["secrets"] == []


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
