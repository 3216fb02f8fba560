"""AWS network, compute and edge: the Plan per component, and the program under mocks.

Plan tests compile small blueprints and assert what an architect checks
(subnets per AZ, listeners and TLS policy, routing policies, DR placement);
synth tests run the real Pulumi program under mocks for every example
blueprint and assert the inputs the engine receives.
"""

from __future__ import annotations

import glob
import json
import os
import textwrap

import pytest
from click.testing import CliRunner

from topoform.dsl import validate_text
from topoform.providers import compile_plan
from topoform.providers.aws.kinds.services import fargate_size
from topoform.providers.aws.network import next_block, subnet_blocks
from topoform.providers.base import UnsupportedError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLUEPRINTS = os.path.join(ROOT, "blueprints")
EVERY_SECTION = os.path.join(BLUEPRINTS, "two-region-hot-dr.yaml")
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENER = "aws:lb/listener:Listener"
RECORD = "aws:route53/record:Record"

WEB = """
blueprint: shop
aws: {region: eu-west-1, vpc_cidr: 10.20.0.0/16, availability_zones: 3}
services:
  web: {image: nginx:1.27, port: 8080, replicas: 3, cpu: 512, memory: 1GiB,
        env: {MODE: prod, API_TOKEN: s3cr3t-token-value}}
  api: {image: api:1, port: 9000, env: {WEB: "${services.web.url}"}}
load_balancers:
  edge:
    algorithm: least_connections
    listeners: [{port: 80, redirect_to_https: true}, {port: 443, tls: true}]
    routes:
      - {path: /api/*, target: services.api, weight: 75}
      - {path: /api/*, target: services.web, weight: 25}
      - {path: /*, target: services.web}
    sticky_sessions: {cookie: SID, duration: 1h}
    health_check: {path: /healthz, interval: 15s, timeout: 3s}
dns:
  zone: shop.example.com
  delegated: true  # the second stage: certificates validate through the new zone
  records:
    - {name: www, endpoints: [{target: load_balancers.edge}]}
"""


def load(text: str, target: str = "aws"):
    result = validate_text(textwrap.dedent(text), file="test.yaml", base_dir=BLUEPRINTS, target=target)
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return result.blueprint


def compile_aws(text: str, stack: str = "test"):
    return compile_plan(load(text), "aws", stack)


def props(plan, name: str) -> dict:
    return plan.get(name).properties


def containers(plan, task: str) -> list[dict]:
    return props(plan, task)["container_definitions"]["$json"]


@pytest.fixture(scope="module")
def web():
    return compile_aws(WEB)


@pytest.fixture(scope="module")
def full():
    from topoform.dsl import load_blueprint

    return compile_plan(delegated(load_blueprint(EVERY_SECTION, target="aws")), "aws", "dev")


def delegated(bp):
    """The blueprint at its second stage: `dns.delegated: true` (certificates.py stages a new zone)."""
    if bp.dns is not None:
        bp.dns.delegated = True
    return bp


# ---------------------------------------------------------------- network


def test_subnet_blocks_split_the_vpc_without_overlap():
    public, private = subnet_blocks("10.0.0.0/16", 3)
    assert public == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
    assert private == ["10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"]
    assert next_block("10.0.0.0/16") == "10.1.0.0/16"
    with pytest.raises(ValueError):
        subnet_blocks("10.0.0.0/30", 2)


def test_vpc_has_public_and_private_subnets_in_each_zone(web):
    vpc = props(web, "net-vpc")
    assert vpc["cidr_block"] == "10.20.0.0/16" and vpc["enable_dns_hostnames"] and vpc["region"] == "eu-west-1"
    subnets = web.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 6
    zones = sorted(s.properties["availability_zone"] for s in subnets if s.name.startswith("net-private"))
    assert zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert not any(s.properties["map_public_ip_on_launch"] for s in subnets)


def test_private_subnets_leave_through_a_nat_gateway_in_their_own_zone(web):
    assert len(web.of_type("aws:ec2/natGateway:NatGateway")) == 3
    for i in range(3):
        assert props(web, f"net-nat-{i}")["subnet_id"] == f"${{net-public-{i}.id}}"
        routes = props(web, f"net-private-{i}-rt")["routes"]
        assert routes == [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": f"${{net-nat-{i}.id}}"}]
    assert props(web, "net-public-rt")["routes"] == [{"cidr_block": "0.0.0.0/0", "gateway_id": "${net-igw.id}"}]


def test_a_stateless_blueprint_without_compute_has_no_nat():
    plan = compile_aws("""
        blueprint: s
        cdns: {media: {mode: push, content: ./static}}
    """)
    assert not plan.of_type("aws:ec2/natGateway:NatGateway")
    assert not plan.of_type("aws:ec2/vpc:Vpc")


# ---------------------------------------------------------------- services


def test_task_definition_is_fargate_with_secrets_out_of_the_environment(web):
    task = props(web, "svc-web-task")
    assert (task["cpu"], task["memory"], task["network_mode"]) == ("512", "1024", "awsvpc")
    assert task["requires_compatibilities"] == ["FARGATE"]
    assert task["execution_role_arn"] == "${svc-web-execution-role.arn}"
    (container,) = containers(web, "svc-web-task")
    assert container["environment"] == [{"name": "MODE", "value": "prod"}]
    assert container["secrets"] == [{"name": "API_TOKEN", "valueFrom": "${svc-web-env-api-token.arn}"}]
    assert "s3cr3t-token-value" not in json.dumps(container)
    assert props(web, "svc-web-env-api-token-value")["secret_string"] == {"$secret": "s3cr3t-token-value"}
    assert container["logConfiguration"]["options"]["awslogs-group"] == "${svc-web-logs.name}"
    policy = props(web, "svc-web-execution-secrets")["policy"]["$json"]
    assert policy["Statement"][0]["Resource"] == ["${svc-web-env-api-token.arn}"]


def test_service_runs_privately_with_circuit_breaker_behind_its_target_group(web):
    service = props(web, "svc-web")
    assert service["desired_count"] == 3 and service["launch_type"] == "FARGATE"
    assert service["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    network = service["network_configuration"]
    assert network["assign_public_ip"] is False
    assert network["subnets"] == ["${net-private-0.id}", "${net-private-1.id}", "${net-private-2.id}"]
    assert service["load_balancers"] == [
        {"target_group_arn": "${lb-edge-tg-web.arn}", "container_name": "web", "container_port": 8080}]
    assert web.get("svc-web").depends_on == ["lb-edge-listener-443"]
    assert service["service_registries"] == {"registry_arn": "${svc-web-discovery.arn}"}


def test_cloud_map_names_services_in_the_blueprint_namespace(web):
    assert props(web, "ecs-namespace")["name"] == "shop.local"
    assert props(web, "svc-web-discovery")["name"] == "web"
    (api,) = containers(web, "svc-api-task")
    assert {"name": "WEB", "value": "http://web.shop.local:8080"} in api["environment"]
    # api reads web: web's group admits api on web's port
    rule = props(web, "svc-web-sg-from-svc-api-8080")
    assert rule["referenced_security_group_id"] == "${svc-api-sg.id}" and rule["from_port"] == 8080


def test_fargate_sizes_round_up_and_refuse_the_impossible():
    assert fargate_size(256, 256) == (256, 512)
    assert fargate_size(256, 3000) == (512, 3072)
    assert fargate_size(300, 512) == (512, 1024)
    assert fargate_size(16384, 200_000) is None
    with pytest.raises(UnsupportedError, match="16384 cpu units"):
        compile_aws("""
            blueprint: s
            services: {web: {image: x, cpu: 16384, memory: 200GiB}}
        """)


def test_queue_consumer_may_receive_from_its_queue(full):
    grants = [r for r in full.of_type("aws:iam/rolePolicy:RolePolicy")
              if r.properties["role"] in ("${svc-worker-task-role.id}", "${svc-worker-task-role.name}")]
    actions = {a for g in grants for s in g.properties["policy"]["$json"]["Statement"] for a in s["Action"]}
    assert "sqs:ReceiveMessage" in actions and "sqs:DeleteMessage" in actions


# ---------------------------------------------------------------- load balancers


def test_alb_is_public_drops_bad_headers_and_admits_only_its_listener_ports(web):
    alb = props(web, "lb-edge")
    assert alb["load_balancer_type"] == "application" and alb["internal"] is False
    assert alb["drop_invalid_header_fields"] is True
    assert alb["subnets"] == ["${net-public-0.id}", "${net-public-1.id}", "${net-public-2.id}"]
    public = [r.properties for r in web.of_type(INGRESS) if r.properties.get("cidr_ipv4") == "0.0.0.0/0"]
    assert sorted((p["security_group_id"], p["from_port"]) for p in public) == [
        ("${lb-edge-sg.id}", 80), ("${lb-edge-sg.id}", 443)]


def test_http_redirects_and_https_uses_the_certificate_and_a_tls_policy(web):
    http = props(web, "lb-edge-listener-80")
    assert http["protocol"] == "HTTP"
    assert http["default_actions"] == [{"type": "redirect", "redirect": {
        "port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}]
    https = props(web, "lb-edge-listener-443")
    assert https["protocol"] == "HTTPS"
    assert https["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificate_arn"] == "${acm-eu-west-1-validation.certificate_arn}"
    assert https["default_actions"][0]["target_group_arn"] == "${lb-edge-tg-web.arn}"


def test_path_rules_weigh_their_targets(web):
    rule = props(web, "lb-edge-listener-443-rule-1")
    assert rule["conditions"] == [{"path_pattern": {"values": ["/api/*"]}}]
    assert rule["priority"] == 10
    (action,) = rule["actions"]
    assert action["forward"]["target_groups"] == [
        {"arn": "${lb-edge-tg-api.arn}", "weight": 75}, {"arn": "${lb-edge-tg-web.arn}", "weight": 25}]
    assert action["forward"]["stickiness"] == {"enabled": True, "duration": 3600}
    assert not any(r.name.startswith("lb-edge-listener-80-rule") for r in web.resources)


def test_target_group_carries_algorithm_health_check_and_stickiness(web):
    group = props(web, "lb-edge-tg-web")
    assert group["target_type"] == "ip" and group["port"] == 8080 and group["protocol"] == "HTTP"
    assert group["load_balancing_algorithm_type"] == "least_outstanding_requests"
    assert group["stickiness"] == {"type": "app_cookie", "cookie_name": "SID", "cookie_duration": 3600,
                                   "enabled": True}
    health = group["health_check"]
    assert (health["path"], health["interval"], health["timeout"]) == ("/healthz", 15, 3)


def test_balancer_reaches_only_its_services_on_their_ports(web):
    rule = props(web, "svc-web-sg-from-lb-edge-8080")
    assert rule["security_group_id"] == "${svc-web-sg.id}"
    assert rule["referenced_security_group_id"] == "${lb-edge-sg.id}"
    egress = [r.properties for r in web.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
              if r.component == "load_balancers.edge"]
    assert sorted((e["cidr_ipv4"], e["from_port"]) for e in egress) == [("10.20.0.0/16", 8080), ("10.20.0.0/16", 9000)]


def test_layer_4_is_an_nlb_with_source_ip_stickiness():
    plan = compile_aws("""
        blueprint: s
        services: {db-proxy: {image: x, port: 6432, replicas: 2}}
        load_balancers:
          tcp:
            layer: 4
            algorithm: source_hash
            listeners: [{port: 5432}]
            targets: [{target: services.db-proxy}]
    """)
    assert props(plan, "lb-tcp")["load_balancer_type"] == "network"
    listener = props(plan, "lb-tcp-listener-5432")
    assert listener["protocol"] == "TCP" and "certificate_arn" not in listener
    group = props(plan, "lb-tcp-tg-5432")
    assert group["protocol"] == "TCP" and group["port"] == 6432
    assert group["stickiness"] == {"type": "source_ip", "enabled": True}
    assert props(plan, "svc-db-proxy")["load_balancers"][0]["target_group_arn"] == "${lb-tcp-tg-5432.arn}"


# ---------------------------------------------------------------- certificates


def test_a_given_certificate_is_used_as_is():
    plan = compile_aws("""
        blueprint: s
        aws: {certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc"}
        services: {web: {image: x, port: 80}}
        load_balancers: {edge: {listeners: [{port: 443, tls: true}], routes: [{target: services.web}]}}
    """)
    assert props(plan, "lb-edge-listener-443")["certificate_arn"] == "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    assert not plan.of_type("aws:acm/certificate:Certificate")


def test_a_certificate_of_another_region_cannot_serve_the_dr_site():
    with pytest.raises(UnsupportedError, match="ACM certificate in us-west-2"):
        compile_aws("""
            blueprint: s
            aws: {certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc"}
            services: {web: {image: x, port: 80}}
            load_balancers: {edge: {listeners: [{port: 443, tls: true}], routes: [{target: services.web}]}}
            disaster_recovery: {strategy: hot, region: us-west-2}
        """)


def test_without_certificate_or_zone_tls_is_a_validation_error():
    result = validate_text(textwrap.dedent("""
        blueprint: s
        services: {web: {image: x, port: 80}}
        load_balancers: {edge: {listeners: [{port: 443, tls: true}], routes: [{target: services.web}]}}
    """), file="t.yaml", base_dir=BLUEPRINTS, target="aws")
    assert not result.ok
    assert any("needs a certificate" in d.message for d in result.diagnostics)


def test_issued_certificates_cover_each_region_and_cloudfront(full):
    certs = {r.properties["region"]: r.properties for r in full.of_type("aws:acm/certificate:Certificate")}
    assert sorted(certs) == ["us-east-1", "us-west-2"]  # primary (also CloudFront's) and DR
    assert certs["us-west-2"]["domain_name"] == "shop.example.com"
    assert certs["us-west-2"]["subject_alternative_names"] == ["*.shop.example.com"]
    assert certs["us-west-2"]["validation_method"] == "DNS"
    validation = props(full, "acm-us-west-2-validation-0")
    assert validation["zone_id"] == "${dns-zone.zone_id}"
    assert validation["name"] == "${acm-us-west-2.domain_validation_options[0].resource_record_name}"
    assert props(full, "dr-lb-edge-listener-443")["certificate_arn"] == "${acm-us-west-2-validation.certificate_arn}"
    assert props(full, "dr-lb-edge-listener-443")["region"] == "us-west-2"


def test_cloudfront_gets_a_us_east_1_certificate_when_the_primary_is_elsewhere(web):
    plan = compile_aws(WEB.replace("records:", "records:\n    - {name: cdn, endpoints: [{target: cdns.site}]}")
                       + "cdns: {site: {mode: pull, origin: load_balancers.edge}}\n")
    certs = sorted(r.properties["region"] for r in plan.of_type("aws:acm/certificate:Certificate"))
    assert certs == ["eu-west-1", "us-east-1"]
    viewer = props(plan, "cdn-site-distribution")["viewer_certificate"]
    assert viewer["acm_certificate_arn"] == "${acm-us-east-1-validation.certificate_arn}"
    assert props(plan, "cdn-site-distribution")["aliases"] == ["cdn.shop.example.com"]


# ---------------------------------------------------------------- reverse proxy and CDNs


def test_reverse_proxy_rate_limit_and_deny_list_are_a_web_acl_where_viewers_connect(full):
    """front is a distribution: its ACL is CLOUDFRONT-scope (us-east-1) on it, where viewer addresses are seen."""
    acl = props(full, "rp-front-web-acl")
    assert (acl["scope"], acl["region"]) == ("CLOUDFRONT", "us-east-1") and acl["default_action"] == {"allow": {}}
    deny, rate = acl["rules"]
    assert deny["action"] == {"block": {}}
    assert deny["statement"] == {"ip_set_reference_statement": {"arn": "${rp-front-deny-ipv4.arn}"}}
    ip_set = props(full, "rp-front-deny-ipv4")
    assert ip_set["addresses"] == ["203.0.113.0/24"] and ip_set["scope"] == "CLOUDFRONT"
    assert rate["statement"]["rate_based_statement"] == {
        "limit": 3000, "aggregate_key_type": "IP", "evaluation_window_sec": 60}
    assert props(full, "rp-front-distribution")["web_acl_id"] == "${rp-front-web-acl.arn}"
    assert not full.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")  # no REGIONAL ACL on the ALBs


def test_a_plain_reverse_proxy_web_acl_is_regional_on_the_alb_at_every_site():
    bp = load(WEB + """
reverse_proxies:
  guard: {upstream: load_balancers.edge, tls: true, rate_limit: {requests_per_second: 20}}
""")
    plan = compile_plan(bp, "aws")
    assert props(plan, "rp-guard-web-acl")["scope"] == "REGIONAL"
    link = props(plan, "rp-guard-web-acl-link")
    assert link["resource_arn"] == "${lb-edge.arn}" and link["web_acl_arn"] == "${rp-guard-web-acl.arn}"


def test_reverse_proxy_compression_cache_and_static_files_are_cloudfront(full):
    dist = props(full, "rp-front-distribution")
    default = dist["default_cache_behavior"]
    assert default["compress"] is True and default["viewer_protocol_policy"] == "redirect-to-https"
    assert props(full, "rp-front-cache-policy")["default_ttl"] == 60
    (static,) = dist["ordered_cache_behaviors"]
    assert static["path_pattern"] == "/static/*" and static["target_origin_id"] == "reverse_proxies.front/s3"
    keys = [r.properties["key"] for r in full.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
            if r.component == "reverse_proxies.front"]
    assert keys == ["static/index.html"]


def test_pull_cdn_fetches_over_https_from_a_name_the_certificate_covers(full):
    dist = props(full, "cdn-assets-distribution")
    (origin,) = dist["origins"]
    assert origin["domain_name"] == "edge-origin.shop.example.com"
    assert origin["custom_origin_config"]["origin_protocol_policy"] == "https-only"
    assert origin["custom_origin_config"]["origin_ssl_protocols"] == ["TLSv1.2"]
    assert props(full, "lb-edge-origin-record")["aliases"][0]["name"] == "${lb-edge.dns_name}"
    behavior = dist["default_cache_behavior"]
    assert behavior["viewer_protocol_policy"] == "redirect-to-https"
    assert behavior["cache_policy_id"] == "${cdn-assets-cache-policy.id}"
    policy = props(full, "cdn-assets-cache-policy")
    assert (policy["min_ttl"], policy["default_ttl"], policy["max_ttl"]) == (0, 3600, 86400)
    assert dist["aliases"] == ["www.shop.example.com"]
    assert dist["viewer_certificate"]["minimum_protocol_version"] == "TLSv1.2_2021"


def test_push_cdn_is_a_private_bucket_read_through_origin_access_control(full):
    block = props(full, "cdn-media-bucket-private")
    assert all(block[k] for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                  "restrict_public_buckets"))
    oac = props(full, "cdn-media-origin-access")
    assert (oac["origin_access_control_origin_type"], oac["signing_behavior"], oac["signing_protocol"]) == \
        ("s3", "always", "sigv4")
    (origin,) = props(full, "cdn-media-distribution")["origins"]
    assert origin["origin_access_control_id"] == "${cdn-media-origin-access.id}" and "s3_origin_config" not in origin
    allow = props(full, "cdn-media-bucket-policy")["policy"]["$json"]["Statement"][0]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"] == ["${cdn-media-distribution.arn}"]
    (obj,) = [r.properties for r in full.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if r.component == "cdns.media"]
    assert obj["key"] == "index.html" and obj["content_type"] == "text/html"
    assert obj["source"] == {"$asset": os.path.join(BLUEPRINTS, "static", "index.html")}
    assert props(full, "cdn-media-distribution")["default_root_object"] == "index.html"


def test_cdn_origin_must_be_a_balancer():
    with pytest.raises(UnsupportedError, match="must be a load balancer"):
        compile_aws("""
            blueprint: s
            services: {web: {image: x, port: 80}}
            cdns: {c: {mode: pull, origin: services.web}}
        """)


# ---------------------------------------------------------------- DNS


def test_weighted_records_alias_the_cdn_and_the_alb(full):
    cdn, alb = props(full, "dns-www-0"), props(full, "dns-www-1")
    assert cdn["weighted_routing_policies"] == [{"weight": 90}]
    assert alb["weighted_routing_policies"] == [{"weight": 10}]
    assert cdn["aliases"] == [{"name": "${cdn-assets-distribution.domain_name}",
                               "zone_id": "${cdn-assets-distribution.hosted_zone_id}", "evaluate_target_health": False}]
    assert alb["aliases"][0]["name"] == "${lb-edge.dns_name}"
    assert cdn["set_identifier"] != alb["set_identifier"]


def test_failover_sends_primary_health_checked_and_secondary_to_the_dr_alb(full):
    primary, secondary = props(full, "dns-api-0"), props(full, "dns-api-1")
    assert primary["failover_routing_policies"] == [{"type": "PRIMARY"}]
    assert primary["aliases"][0]["name"] == "${lb-edge.dns_name}"
    assert primary["health_check_id"] == "${dns-api-0-health.id}"
    assert secondary["failover_routing_policies"] == [{"type": "SECONDARY"}]
    assert secondary["aliases"][0]["name"] == "${dr-lb-edge.dns_name}"
    check = props(full, "dns-api-0-health")
    # port 80 only redirects, so the check probes the TLS listener
    assert (check["type"], check["port"], check["resource_path"]) == ("HTTPS", 443, "/")
    assert (check["request_interval"], check["failure_threshold"]) == (10, 3)
    assert check["fqdn"] == "${lb-edge.dns_name}"


def test_geolocation_has_a_default_record_and_latency_names_regions(full):
    assert props(full, "dns-eu-0")["geolocation_routing_policies"] == [{"continent": "EU"}]
    assert props(full, "dns-eu-1")["geolocation_routing_policies"] == [{"country": "*"}]
    assert props(full, "dns-fast-0")["latency_routing_policies"] == [{"region": "us-east-1"}]


def test_site_dr_needs_a_hot_site():
    with pytest.raises(UnsupportedError, match="runs no balancers"):
        compile_aws("""
            blueprint: s
            services: {web: {image: x, port: 80}}
            load_balancers: {edge: {routes: [{target: services.web}]}}
            dns:
              zone: s.example.com
              records:
                - name: api
                  routing: failover
                  endpoints:
                    - {target: load_balancers.edge, role: primary}
                    - {target: load_balancers.edge, role: secondary, site: dr}
            disaster_recovery: {strategy: cold, region: us-west-2}
        """)


# ---------------------------------------------------------------- hot DR and SLOs


def test_hot_dr_duplicates_the_stateless_tier_in_the_dr_region(full):
    dr_vpc = props(full, "dr-net-vpc")
    assert dr_vpc["region"] == "us-west-2" and dr_vpc["cidr_block"] == "10.1.0.0/16"
    for name in ("dr-svc-web", "dr-svc-worker", "dr-lb-edge", "dr-ecs-cluster", "dr-lb-edge-tg-web"):
        assert props(full, name)["region"] == "us-west-2", name
    assert props(full, "dr-svc-web")["network_configuration"]["subnets"][0] == "${dr-net-private-0.id}"
    zones = sorted(r.properties["availability_zone"] for r in full.of_type("aws:ec2/subnet:Subnet")
                   if r.name.startswith("dr-net-private"))
    assert zones == ["us-west-2a", "us-west-2b"]


def test_slo_alarms_watch_each_alb_and_compose_per_slo(full):
    errors = props(full, "lb-edge-slo-error-rate")
    assert errors["threshold"] == 0.1 and errors["comparison_operator"] == "GreaterThanThreshold"
    expression = [q for q in errors["metric_queries"] if "expression" in q][0]
    assert expression["expression"] == "100 * (FILL(targets, 0) + FILL(balancer, 0)) / requests"
    latency = props(full, "lb-edge-slo-latency-p99")
    assert (latency["extended_statistic"], latency["threshold"], latency["metric_name"]) == \
        ("p99", 0.3, "TargetResponseTime")
    assert latency["dimensions"] == {"LoadBalancer": "${lb-edge.arn_suffix}"}
    assert props(full, "lb-edge-slo-availability")["threshold"] == pytest.approx(0.05)
    composite = props(full, "slo-latency-p99")
    assert composite["alarm_name"] == "shop-dev-slo-latency-p99"
    assert composite["alarm_rule"] == 'ALARM("${lb-edge-slo-latency-p99.name}")'
    assert props(full, "dr-slo-latency-p99")["alarm_rule"] == 'ALARM("${dr-lb-edge-slo-latency-p99.name}")'
    assert props(full, "dr-slo-latency-p99")["region"] == "us-west-2"


def test_attributes_of_edge_components(full):
    assert full.outputs["load_balancers.edge.url"] == "https://${lb-edge.dns_name}"
    assert full.outputs["services.web.url"] == "http://web.shop.local"
    assert full.outputs["cdns.assets.url"] == "https://www.shop.example.com"
    # No record names the push CDN: with a zone it gets its own name, record and certificate.
    assert full.outputs["cdns.media.url"] == "https://media.shop.example.com"


def test_compiling_is_deterministic():
    from topoform.dsl import load_blueprint

    bp = load_blueprint(EVERY_SECTION, target="aws")
    assert compile_plan(bp, "aws", "dev").to_json() == compile_plan(bp, "aws", "dev").to_json()


# ---------------------------------------------------------------- the program under mocks


def example_blueprints() -> list[str]:
    return sorted(glob.glob(os.path.join(BLUEPRINTS, "*.yaml")))


def literal(value) -> bool:
    """True if a Plan value has no references or markers (so the program passes it unchanged)."""
    if isinstance(value, str):
        return "${" not in value
    if isinstance(value, list):
        return all(literal(v) for v in value)
    if isinstance(value, dict):
        return not any(k.startswith("$") for k in value) and all(literal(v) for v in value.values())
    return True


@pytest.fixture(scope="module")
def synthesized():
    from topoform.testing import synth

    return {path: synth(path, target="aws", stack="dev") for path in example_blueprints()}


@pytest.mark.parametrize("path", example_blueprints(), ids=os.path.basename)
def test_plan_json_equals_what_synth_registers(path, synthesized):
    from topoform.cli.main import cli

    result = CliRunner().invoke(cli, ["plan", path, "--target", "aws", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    stack = synthesized[path]
    assert [(r["type"], r["name"]) for r in plan["resources"]] == \
        sorted(((r.type, r.name) for r in stack.resources), key=[(r["type"], r["name"]) for r in plan["resources"]].index)
    # Both sides in snake_case: a map's own camelCase keys (FIS `parameters`) reach the engine as written,
    # so only a spelling applied to both compares typed arguments and maps alike.
    from topoform.testing import _normalise

    for resource in plan["resources"]:
        inputs = stack.named(resource["name"]).inputs.snake()
        for key, value in resource["properties"].items():
            if literal(value):
                assert inputs.get(key) == _normalise(value, keys=True), f"{resource['name']}.{key}"
    assert set(plan["outputs"]) == set(stack.outputs)


def test_synth_of_the_every_section_blueprint():
    from topoform.dsl import load_blueprint
    from topoform.testing import synth

    stack = synth(delegated(load_blueprint(EVERY_SECTION, target="aws")), target="aws", stack="dev")
    stack.has_resource_properties("aws:lb/loadBalancer:LoadBalancer", {"load_balancer_type": "application",
                                                                       "region": "us-west-2"})
    stack.has_resource_properties(RECORD, {"failover_routing_policies": [{"type": "SECONDARY"}],
                                           "aliases": [{"evaluate_target_health": True}]})
    secondary = stack.named("dns-api-1").inputs.snake()
    assert secondary["aliases"][0]["name"] == stack.named("dr-lb-edge").outputs["dnsName"]
    assert ".us-west-2.elb.amazonaws.com" in secondary["aliases"][0]["name"]
    listener = stack.named("lb-edge-listener-443").inputs.snake()
    assert listener["certificate_arn"].startswith("arn:aws:acm:us-east-1:")
    validation = stack.named("acm-us-east-1-validation-0").inputs.snake()
    assert validation["name"].endswith("shop.example.com.") and validation["type"] == "CNAME"
    task = json.loads(stack.named("svc-web-task").inputs["containerDefinitions"])
    env = {e["name"]: e["value"] for e in task[0]["environment"]}
    assert env["QUEUE_URL"].startswith("https://sqs.us-east-1.amazonaws.com/")
    dr_task = json.loads(stack.named("dr-svc-web-task").inputs["containerDefinitions"])
    assert "us-west-2" in {e["name"]: e["value"] for e in dr_task[0]["environment"]}["QUEUE_URL"]
    composite = stack.named("slo-error-rate").inputs.snake()
    assert composite["alarm_rule"] == 'ALARM("shop-dev-lb-edge-slo-error-rate")'
    policy = json.loads(stack.named("cdn-media-bucket-policy").inputs["policy"])
    assert policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"][0].startswith(
        "arn:aws:cloudfront::123456789012:distribution/")
