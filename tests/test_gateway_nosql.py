"""API gateways and NoSQL stores: validation, both targets' Plans, refusals, facts, report and graph.

The gateway's nginx config runs for real in tests/realserver/test_api_gateway.py;
here the Plans are read the way an architect checks them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import textwrap
import time

import pytest

from topoform.dsl import validate_text
from topoform.providers import analysed_plan, compile_plan
from topoform.providers.base import UnsupportedError
from topoform.providers.docker.configs.gateway import render_gateway_conf
from topoform.providers.docker.kinds import api_gateways as docker_gateways

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "blueprints", "api-and-nosql.yaml")

BASE = """
blueprint: shop
services:
  api:
    image: python:3.12-slim
    port: 8080
    env:
      TABLE: ${nosql.orders.table}
      ENDPOINT: ${nosql.orders.endpoint}
  other:
    image: python:3.12-slim
    port: 8080
load_balancers:
  inner:
    internal: true
    routes:
      - {path: "/*", target: services.api}
"""


def validated(text: str, target: str = "docker"):
    return validate_text(textwrap.dedent(text), file="test.yaml", target=target)


def errors(text: str, target: str = "docker") -> str:
    result = validated(text, target)
    assert not result.ok
    return "\n".join(d.render() for d in result.diagnostics)


def plan_of(text: str, target: str):
    result = validated(text, target)
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return compile_plan(result.blueprint, target)


def gateway(body: str) -> str:
    return BASE + "api_gateways:\n  public:\n" + textwrap.indent(textwrap.dedent(body), "    ") + NOSQL


NOSQL = """
nosql:
  orders:
    model: key-value
    partition_key: {name: id}
"""


def by_type(plan, token: str) -> list:
    return [r for r in plan.resources if r.type == token]


# ---------------------------------------------------------------- validation


def test_two_routes_for_one_version_path_and_method_are_refused():
    text = gateway("""
        routes:
          - {version: v1, path: /orders, methods: [GET, POST], target: services.api}
          - {version: v1, path: /orders, methods: [GET], target: services.other}
    """)
    assert "routes 0 and 1 both serve GET /v1/orders" in errors(text)
    text = gateway("""
        routes:
          - {version: v1, path: /orders, target: services.api}
          - {version: v1, path: /orders, target: services.other}
    """)
    assert "both serve ANY /v1/orders" in errors(text)


def test_a_route_with_methods_wins_over_one_without_on_docker_as_on_aws():
    text = gateway("""
        routes:
          - {path: /orders, target: services.api}
          - {path: /orders, methods: [GET], target: services.other}
    """)
    plan = plan_of(text, "docker")
    conf = next(u["content"] for r in plan.resources if r.name == "apigw-public" for u in r.properties["uploads"])
    block = conf[conf.index("location = /orders {"):]
    assert block.index("^(GET|HEAD)$") < block.index("return 520;")


def test_the_same_path_under_two_versions_is_fine():
    text = gateway("""
        routes:
          - {version: v1, path: /orders, target: services.api}
          - {version: v2, path: /orders, target: services.other}
    """)
    assert validated(text).ok


def test_a_route_must_target_a_service():
    text = gateway("""
        routes:
          - {path: /orders, target: load_balancers.inner}
    """)
    assert "this field takes a service" in errors(text)


def test_a_route_to_a_missing_service_is_refused():
    text = gateway("""
        routes:
          - {path: /orders, target: services.nope}
    """)
    assert "services.nope" in errors(text)


def test_jwt_settings_must_be_complete():
    text = gateway("""
        routes: [{path: /orders, target: services.api}]
        auth: {jwt: {issuer: https://id.example.com/}}
    """)
    assert "audience" in errors(text)


def test_auth_takes_one_scheme():
    text = gateway("""
        routes: [{path: /orders, target: services.api}]
        auth: {jwt: {issuer: i, audience: a, key: k}, api_keys: [abcdefgh12]}
    """)
    assert "exactly one of" in errors(text)


def test_a_route_asking_for_auth_needs_the_gateways_auth():
    text = gateway("""
        routes: [{path: /orders, target: services.api, auth: true}]
    """)
    assert "has no `auth`" in errors(text)


def test_a_route_to_a_worker_without_port_is_refused_at_compile():
    text = gateway("""
        routes: [{path: /jobs, target: services.worker}]
    """)
    text = text.replace("services:\n", "services:\n  worker:\n    image: python:3.12-slim\n", 1)
    with pytest.raises(UnsupportedError, match="has no port"):
        plan_of(text, "docker")


@pytest.mark.parametrize("body, message", [
    ("model: key-value", "needs a `partition_key`"),
    ("model: document\n    partition_key: {name: id}", "for key-value and wide-column"),
    ("model: document\n    ttl_attribute: exp", "key-value (DynamoDB) settings"),
    ("model: key-value\n    partition_key: {name: id}\n    capacity: provisioned", "read_capacity and write"),
    ("model: key-value\n    partition_key: {name: id}\n    read_capacity: 5", "need capacity: provisioned"),
    ("model: columnar", "key-value"),
])
def test_nosql_settings_are_checked(body, message):
    assert message in errors(BASE.replace("    env:\n      TABLE: ${nosql.orders.table}\n"
                                          "      ENDPOINT: ${nosql.orders.endpoint}\n", "")
                             + f"nosql:\n  orders:\n    {body}\n")


def test_an_unknown_nosql_attribute_is_refused():
    text = BASE.replace("${nosql.orders.table}", "${nosql.orders.shards}") + NOSQL
    assert "shards" in errors(text)


# ---------------------------------------------------------------- docker


def test_docker_gateway_has_a_verifier_and_a_valid_config():
    result = validate_text(open(EXAMPLE).read(), file=EXAMPLE, base_dir=os.path.dirname(EXAMPLE))
    plan = compile_plan(result.blueprint, "docker")
    containers = {r.name: r for r in by_type(plan, "docker:index/container:Container")}
    verifier = containers["apigw-public-verifier"]
    assert verifier.properties["command"][:2] == ["python", docker_gateways.VERIFIER_CODE]
    files = {u["file"]: u["content"] for u in verifier.properties["uploads"]}
    config = json.loads(files[docker_gateways.VERIFIER_CONFIG])
    assert (config["algorithm"], config["audience"]) == ("RS256", "shop-api")
    assert "def rs256_valid" in files[docker_gateways.VERIFIER_CODE]
    gateway_container = containers["apigw-public"]
    assert gateway_container.depends_on == ["svc-orders-v1-0", "svc-orders-v1-1", "svc-orders-v2-0",
                                            "svc-orders-v2-1", "svc-users-0", "svc-users-1", "apigw-public-verifier"]
    conf = next(u["content"] for u in gateway_container.properties["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    assert "auth_request /_topoform_auth;" in conf
    assert "location = /v1/orders {" in conf and "location /v2/orders/ {" in conf
    assert "server orders-v1:8080 max_fails=5 fail_timeout=30s;" in conf
    assert "limit_req zone=public_client burst=10 nodelay;" in conf
    assert "client_max_body_size 1024k;" in conf
    images = {r.properties["name"] for r in by_type(plan, "docker:index/remoteImage:RemoteImage")}
    assert {"python:3.12-slim", "amazon/dynamodb-local:2.5.2", "mongo:7.0", "cassandra:4.1",
            "neo4j:5.20-community"} <= images


def test_docker_nosql_attributes_reach_the_services():
    plan = plan_of(BASE + NOSQL, "docker")
    api = next(r for r in plan.resources if r.name == "svc-api-0")
    assert "TABLE=orders" in api.properties["envs"]
    assert "ENDPOINT=http://orders:8000" in api.properties["envs"]


def test_api_keys_become_a_map_on_docker():
    text = gateway("""
        routes: [{path: /orders, target: services.api}]
        auth: {api_keys: [key-one-123456, key-two-123456]}
    """)
    plan = plan_of(text, "docker")
    conf = next(u["content"] for r in plan.resources if r.name == "apigw-public"
                for u in r.properties["uploads"])
    assert '"key-one-123456" 1;' in conf and "return 401" in conf
    assert not [r for r in plan.resources if r.name.endswith("-verifier")]


def test_a_jwt_without_key_is_refused_on_docker():
    text = gateway("""
        routes: [{path: /orders, target: services.api}]
        auth: {jwt: {issuer: https://id.example.com/, audience: shop}}
    """)
    with pytest.raises(UnsupportedError, match="needs `key`"):
        plan_of(text, "docker")


def test_unsafe_values_never_reach_the_nginx_config():
    bp = validated(gateway("""
        routes: [{path: /orders, target: services.api}]
        cors: {origins: ["https://a.example.com\\"; evil"]}
    """)).blueprint
    from topoform.providers.docker import TARGET

    ctx = TARGET.context(bp, "dev")
    with pytest.raises(ValueError, match="unsafe character"):
        render_gateway_conf(docker_gateways.context(ctx, bp.api_gateways["public"], None))


def _verifier():
    spec = importlib.util.spec_from_file_location("jwt_verifier", docker_gateways.VERIFIER_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_verifier_checks_signature_issuer_audience_and_expiry():
    import base64
    import hashlib
    import hmac

    verifier = _verifier()
    config = {"algorithm": "HS256", "issuer": "iss", "audience": "aud"}

    def make(key=b"secret", **claims):
        enc = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
        head = enc({"alg": "HS256"}) + "." + enc({"iss": "iss", "aud": "aud", "exp": time.time() + 60, **claims})
        sig = base64.urlsafe_b64encode(hmac.new(key, head.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
        return head + "." + sig

    assert verifier.verify(make(), config, b"secret") is None
    assert verifier.verify(make(key=b"other"), config, b"secret") == "bad signature"
    assert verifier.verify(make(iss="x"), config, b"secret") == "wrong issuer"
    assert verifier.verify(make(aud=["x", "aud"]), config, b"secret") is None
    assert verifier.verify(make(aud="x"), config, b"secret") == "wrong audience"
    assert verifier.verify(make(exp=time.time() - 3600), config, b"secret") == "expired"
    assert verifier.verify("not.a.token", config, b"secret") == "malformed token"


# ---------------------------------------------------------------- aws


@pytest.mark.parametrize("body, message", [
    ("auth: {api_keys: [abcdefgh12]}", "API keys need a REST API"),
    ("auth: {jwt: {issuer: i, audience: a, algorithm: HS256, key: k}}", "verify RS256 tokens"),
    ("deny: [10.0.0.0/8]", "needs AWS WAF"),
    ("max_body_size: 20MB", "up to 10MB"),
    ("timeout: 60s", "at most 30s"),
])
def test_aws_refuses_what_an_http_api_cannot_do(body, message):
    text = gateway("routes: [{path: /orders, target: services.api}]\n" + body + "\n")
    with pytest.raises(UnsupportedError, match=message):
        plan_of(text, "aws")


def test_aws_refuses_caching_and_services_without_an_internal_balancer():
    text = gateway("routes: [{path: /orders, target: services.api, cache: 30s}]\n")
    with pytest.raises(UnsupportedError, match="stage cache"):
        plan_of(text, "aws")
    text = gateway("routes: [{path: /other, target: services.other}]\n")
    with pytest.raises(UnsupportedError, match="no internal load balancer"):
        plan_of(text, "aws")


def test_aws_gateway_reaches_the_private_balancer_through_a_vpc_link():
    text = gateway("""
        routes:
          - {version: v1, path: /orders, methods: [GET], target: services.api,
             rate_limit: {requests_per_second: 5, burst: 2}}
        auth: {jwt: {issuer: https://id.example.com/, audience: shop}}
    """)
    plan = plan_of(text, "aws")
    [integration] = by_type(plan, "aws:apigatewayv2/integration:Integration")
    assert integration.properties["connection_type"] == "VPC_LINK"
    assert integration.properties["integration_uri"] == "${lb-inner-listener-80.arn}"
    routes = {r.properties["route_key"]: r for r in by_type(plan, "aws:apigatewayv2/route:Route")}
    assert set(routes) == {"GET /v1/orders", "GET /v1/orders/{proxy+}"}
    assert all(r.properties["authorization_type"] == "JWT" for r in routes.values())
    [authorizer] = by_type(plan, "aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer.properties["jwt_configuration"] == {"issuer": "https://id.example.com/",
                                                          "audiences": ["shop"]}
    [stage] = by_type(plan, "aws:apigatewayv2/stage:Stage")
    assert stage.properties["route_settings"] == [
        {"route_key": key, "throttling_rate_limit": 5, "throttling_burst_limit": 2}
        for key in ("GET /v1/orders", "GET /v1/orders/{proxy+}")]
    assert "destination_arn" in stage.properties["access_log_settings"]
    lb_sg_rules = [r for r in plan.resources if r.name.startswith("lb-inner-sg-from-apigw-public")]
    assert lb_sg_rules, "the balancer admits the VPC link"
    alarms = {r.properties["metric_name"] for r in by_type(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")
              if r.component == "api_gateways.public"}
    assert alarms == {"5xx", "Latency"}


def test_dynamodb_is_encrypted_with_its_own_key_and_granted_on_its_arn_only():
    text = BASE + """
nosql:
  orders:
    model: key-value
    partition_key: {name: id}
    sort_key: {name: at, type: number}
    ttl_attribute: expires
    streams: true
"""
    plan = plan_of(text, "aws")
    [table] = by_type(plan, "aws:dynamodb/table:Table")
    props = table.properties
    assert props["server_side_encryption"] == {"enabled": True, "kms_key_arn": "${nsql-orders-key.arn}"}
    assert props["point_in_time_recovery"] == {"enabled": True}
    assert props["ttl"] == {"attribute_name": "expires", "enabled": True}
    assert props["attributes"] == [{"name": "id", "type": "S"}, {"name": "at", "type": "N"}]
    assert (props["hash_key"], props["range_key"], props["billing_mode"]) == ("id", "at", "PAY_PER_REQUEST")
    assert table.protect and props["deletion_protection_enabled"]
    [grant] = [r for r in plan.resources if r.name == "nsql-orders-items-svc-api"]
    statements = grant.properties["policy"]["$json"]["Statement"]
    assert statements[0]["Resource"] == ["${nsql-orders.arn}", "${nsql-orders.arn}/index/*"]
    assert all(not a.endswith("*") for s in statements for a in s["Action"])
    assert not [r for r in plan.resources if r.name.startswith("nsql-orders-items-svc-other")]


def test_dynamodb_gets_a_global_table_replica_with_hot_dr():
    text = BASE + NOSQL + "disaster_recovery: {strategy: hot, region: us-west-2}\n"
    plan = plan_of(text, "aws")
    [table] = by_type(plan, "aws:dynamodb/table:Table")
    assert table.properties["replicas"][0]["region_name"] == "us-west-2"
    assert table.properties["stream_enabled"] is True
    facts = analysed_plan(validated(text, "aws").blueprint, "aws").components["nosql.orders"].facts
    assert facts.dr_copy and facts.replication[0].role == "global-table-replica"


def test_documentdb_and_neptune_are_private_clusters_across_zones():
    text = BASE + """
nosql:
  orders: {model: key-value, partition_key: {name: id}}
  docs: {model: document, replicas: 2}
  graph: {model: graph, replicas: 1}
"""
    plan = plan_of(text, "aws")
    [docdb] = by_type(plan, "aws:docdb/cluster:Cluster")
    assert docdb.properties["storage_encrypted"]
    assert docdb.properties["master_password"] == {"$secret": "${nsql-docs-auth-token.result}"}
    assert docdb.properties["kms_key_id"] == "${nsql-docs-key.arn}"
    [params] = by_type(plan, "aws:docdb/clusterParameterGroup:ClusterParameterGroup")
    assert params.properties["parameters"] == [{"name": "tls", "value": "enabled"}]
    assert len(by_type(plan, "aws:docdb/clusterInstance:ClusterInstance")) == 3
    [neptune] = by_type(plan, "aws:neptune/cluster:Cluster")
    assert neptune.properties["iam_database_authentication_enabled"]
    assert len(by_type(plan, "aws:neptune/clusterInstance:ClusterInstance")) == 2
    # Nobody references them, so no security-group rule admits anyone.
    assert not [r for r in plan.resources if r.name.startswith(("nsql-docs-sg-from", "nsql-graph-sg-from"))]


def test_keyspaces_table_has_partition_and_clustering_keys():
    text = BASE + """
nosql:
  orders: {model: key-value, partition_key: {name: id}}
  events: {model: wide-column, partition_key: {name: device}, sort_key: {name: at, type: number}}
"""
    plan = plan_of(text, "aws")
    [table] = by_type(plan, "aws:keyspaces/table:Table")
    schema = table.properties["schema_definition"]
    assert schema["partition_keys"] == [{"name": "device"}]
    assert schema["clustering_keys"] == [{"name": "at", "order_by": "ASC"}]
    assert table.properties["encryption_specification"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"


# ---------------------------------------------------------------- analyses


def _example(target: str):
    return validate_text(open(EXAMPLE).read(), file=EXAMPLE, base_dir=os.path.dirname(EXAMPLE),
                         target=target).blueprint


def test_the_gateway_counts_on_the_request_path_with_its_sla():
    from topoform.providers.insight.report import build_report

    report = build_report(_example("aws"), "aws")
    text = json.dumps(report)
    assert "Amazon API Gateway SLA" in text and "Amazon DynamoDB SLA" in text
    paths = report["availability"]["paths"]
    assert any(path["entry"] == "api_gateways.public" for path in paths)


def test_graph_draws_the_gateway_in_front_of_the_services():
    from topoform.providers.insight import diagram

    text = diagram.to_mermaid(diagram.architecture(_example("docker"), "docker"))
    assert 'api_gateways_public -->|"ANY /v1/orders"| services_orders_v1' in text
    assert "API gateway · JWT · rate limit" in text and "key-value · customer_id" in text


def test_a_custom_domain_gets_an_acm_certificate_and_an_alias_record():
    text = gateway("""
        routes: [{path: /orders, target: services.api}]
        domain: api.shop.example.com
    """) + "dns: {zone: shop.example.com, delegated: true}\n"
    plan = plan_of(text, "aws")
    [domain] = by_type(plan, "aws:apigatewayv2/domainName:DomainName")
    config = domain.properties["domain_name_configuration"]
    assert config["certificate_arn"] == "${acm-us-east-1-validation.certificate_arn}"
    assert (config["endpoint_type"], config["security_policy"]) == ("REGIONAL", "TLS_1_2")
    [mapping] = by_type(plan, "aws:apigatewayv2/apiMapping:ApiMapping")
    assert mapping.properties["stage"] == "${apigw-public-stage.id}"
    [record] = [r for r in plan.resources if r.name == "apigw-public-domain-record"]
    assert record.properties["aliases"][0]["name"] == \
        "${apigw-public-domain.domain_name_configuration.target_domain_name}"
    assert plan.outputs["api_gateways.public.url"] == "https://api.shop.example.com"


def test_a_custom_domain_without_certificate_or_zone_is_refused():
    text = gateway("""
        routes: [{path: /orders, target: services.api}]
        domain: api.shop.example.com
    """)
    with pytest.raises(UnsupportedError, match="needs a certificate"):
        plan_of(text, "aws")


def test_hot_dr_copies_every_nosql_model_to_the_dr_region():
    text = BASE.replace("      ENDPOINT: ${nosql.orders.endpoint}\n",
                        "      ENDPOINT: ${nosql.orders.endpoint}\n      DOCS: ${nosql.docs.url}\n") + """
nosql:
  orders: {model: key-value, partition_key: {name: id}}
  docs: {model: document, replicas: 1}
  graph: {model: graph}
  events: {model: wide-column, partition_key: {name: device}}
disaster_recovery: {strategy: hot, region: us-west-2}
"""
    plan = plan_of(text, "aws")
    names = {r.name: r for r in plan.resources}
    assert names["nsql-docs"].properties["global_cluster_identifier"] == "${nsql-docs-global.id}"
    secondary = names["dr-nsql-docs"].properties
    assert secondary["region"] == "us-west-2" and "master_username" not in secondary
    assert secondary["kms_key_id"] == "${dr-nsql-docs-key.arn}"
    assert names["dr-nsql-docs-0"].properties["instance_class"] == "db.r6g.large"
    assert "dr-nsql-graph" in names and "nsql-graph-global" in names
    assert names["nsql-events-keyspace"].properties["replication_specification"] == {
        "replication_strategy": "MULTI_REGION", "region_list": ["us-east-1", "us-west-2"]}
    # The DR copy of the service reads the DR copy of the document store, and may reach it.
    dr_task = names["dr-svc-api-task"].properties["container_definitions"]["$json"][0]
    env = {e["name"]: e["value"] for e in dr_task["environment"]}
    assert "${dr-nsql-docs.endpoint}" in env["DOCS"]
    assert "dr-nsql-docs-sg-from-svc-api-27017" in names
    facts = analysed_plan(validated(text, "aws").blueprint, "aws").components["nosql.docs"].facts
    assert facts.dr_copy and facts.replication[-1].role == "global-cluster-secondary"
