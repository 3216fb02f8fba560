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


CACHED = """
blueprint: shop
aws: {region: eu-west-1}
services:
  web: {image: web:1, port: 8080, env: {CACHE_URL: "${caches.sessions.url}", MC: "${caches.pages.host}"}}
caches:
  sessions: {engine: redis, memory: 512MiB, replicas: 1}
  pages: {engine: memcached, memory: 512MiB}
"""


def test_redis_requires_an_auth_token_its_clients_receive():
    plan = plan_of(CACHED)
    group = props(plan, "cache-sessions")
    assert group["transit_encryption_enabled"] is True
    assert group["auth_token"] == "${cache-sessions-auth-token.result}"
    assert "auth_token" in plan.get("cache-sessions").secret_outputs
    token = plan.get("cache-sessions-auth-token")
    assert token.type == "random:index/randomPassword:RandomPassword" and token.properties["special"] is False
    assert props(plan, "cache-sessions-auth-value")["secret_string"] == "${cache-sessions-auth-token.result}"
    container = props(plan, "svc-web-task")["container_definitions"]["$json"][0]
    assert {"name": "CACHE_PASSWORD", "valueFrom": "${cache-sessions-auth.arn}"} in container["secrets"]
    assert not any("auth-token" in json.dumps(e) for e in container["environment"])  # never plain text
    policy = props(plan, "svc-web-execution-secrets")["policy"]["$json"]["Statement"][0]
    assert "${cache-sessions-auth.arn}" in policy["Resource"]
    # memcached on ElastiCache has no AUTH: nothing to inject for it.
    assert not any(s["name"] == "MC_PASSWORD" for s in container["secrets"])


NO_CACHE_CDN = """
blueprint: shop
aws: {region: us-east-1, certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc"}
services:
  web: {image: web:1, port: 8080}
load_balancers:
  edge:
    listeners: [{port: 443, tls: true}]
    routes: [{path: /*, target: services.web}]
cdns:
  live: {mode: pull, origin: load_balancers.edge, ttl: {default: 0s, max: 0s, min: 0s}, compress: true}
  files: {mode: push, content: ./static, ttl: {default: 0s, max: 0s}}
"""


def test_caching_disabled_uses_the_managed_policy():
    """All TTLs 0 with gzip/brotli or query strings in the key: CloudFront refuses the policy."""
    plan = plan_of(NO_CACHE_CDN)
    assert not of_type(plan, "aws:cloudfront/cachePolicy:CachePolicy")
    for name in ("cdn-live-distribution", "cdn-files-distribution"):
        behavior = props(plan, name)["default_cache_behavior"]
        assert behavior["cache_policy_id"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled


# Every field whose `${kind.name.attr}` the compilers interpolate: what a service
# reads (dsl/topology.py `Read`: an env value, or an argument of the command).
INTERPOLATED = """
blueprint: jobs
aws: {region: eu-west-1}
services:
  settler:
    image: worker:1
    env: {QUEUE: "${queues.work.url}", PEER: "at ${services.api.url}/x"}
    command: ["settle", "--queue", "${queues.work.url}", "--peer=at ${services.api.url}/x", "$${HOME}"]
  api: {image: api:1, port: 8080}
queues:
  work: {}
"""


@pytest.mark.parametrize("target", ["aws", "docker"])
def test_every_interpolated_field_gets_the_targets_values(target):
    """`${…}` in `command` is interpolated like `env`; a raw one read as a reference to a resource 'queues'."""
    plan = plan_of(INTERPOLATED, target)
    sections = {"services", "queues", "load_balancers", "databases", "caches", "cdns", "reverse_proxies"}
    for resource in plan.resources:
        assert not resource.references() & sections, f"{resource.name} names a section as a resource"
    if target == "aws":
        (container,) = props(plan, "svc-settler-task")["container_definitions"]["$json"]
        env = {e["name"]: e["value"] for e in container["environment"]}
        command = container["command"]
    else:
        (container,) = [r for r in plan.resources if r.type == "docker:index/container:Container"
                        and r.name.startswith("svc-settler")]
        env = dict(item.split("=", 1) for item in container.properties["envs"])
        command = container.properties["command"]
    assert command[2] == env["QUEUE"] and "${" in env["QUEUE"]  # a reference to the target's queue resource
    assert command[3] == "--peer=" + env["PEER"] and env["PEER"].startswith("at ") and env["PEER"].endswith("/x")
    assert command[4] == "$${HOME}"  # a literal `${`, escaped in the Plan


def test_interpolated_command_synthesizes_and_ejects(tmp_path):
    from topoform.providers.eject import write_project
    from topoform.testing import synth

    bp = load(INTERPOLATED)
    write_project(compile_plan(bp, "aws"), str(tmp_path), blueprint_file="test.yaml")
    program = (tmp_path / "__main__.py").read_text()
    compile(program, "__main__.py", "exec")
    assert '"--queue",\n                    queue_work.url,' in program and '"${HOME}"' in program
    stack = synth(bp, target="aws")
    (container,) = json.loads(stack.named("svc-settler-task").inputs["containerDefinitions"])
    assert container["command"][2] == stack.named("queue-work").outputs["url"]
    assert container["command"][4] == "${HOME}"


LAYER4 = """
blueprint: udp
aws: {region: eu-west-1}
services:
  dns: {image: dns:1, port: 8053}
  dns2: {image: dns:1, port: 8053}
  client: {image: c:1, env: {DNS: "${load_balancers.l4.url}"}}
load_balancers:
  l4:
    layer: 4
    listeners: [{port: 53, protocol: udp}, {port: 5300, protocol: tcp}, {port: 7777, protocol: udp}]
    targets: [{target: services.dns, port: 5353}, {target: services.dns2, port: 5353}]
"""


def test_layer4_udp_protocol_and_port_end_to_end():
    """listener → target group → ECS registration → container port mapping → security-group rules."""
    plan = plan_of(LAYER4)
    listeners = {(r.properties["port"], r.properties["protocol"]): r for r in of_type(plan, "aws:lb/listener:Listener")}
    assert set(listeners) == {(53, "UDP"), (5300, "TCP"), (7777, "UDP")}
    group_of = {key: plan.get(l.properties["default_actions"][0]["target_group_arn"][2:].split(".")[0])
                for key, l in listeners.items()}
    assert group_of[(53, "UDP")].properties["protocol"] == "UDP" and group_of[(5300, "TCP")].properties["protocol"] == "TCP"
    for group in group_of.values():
        check = group.properties["health_check"]
        assert check["protocol"] == "TCP"  # never UDP, never HTTP on an NLB without a path asked for
        if group.properties["protocol"] == "UDP":
            assert check["port"] == "8053"  # the service's TCP port: nothing answers TCP on the UDP one
    ingress = of_type(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    egress = of_type(plan, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    for svc, port in (("dns", 5353), ("dns2", 5353)):
        service = props(plan, f"svc-{svc}")
        (container,) = props(plan, f"svc-{svc}-task")["container_definitions"]["$json"]
        mapped = {(m["containerPort"], m["protocol"]) for m in container["portMappings"]}
        assert len({m["name"] for m in container["portMappings"]}) == len(mapped)
        for entry in service["load_balancers"]:
            group = plan.get(entry["target_group_arn"][2:].split(".")[0])
            want = group.properties["protocol"].lower()
            assert entry["container_port"] == port and (port, want) in mapped, (svc, group.name)
            assert any(r.properties["security_group_id"] == f"${{svc-{svc}-sg.id}}" and r.properties["ip_protocol"] == want
                       and r.properties["from_port"] == port and "lb-l4-sg" in r.properties["referenced_security_group_id"]
                       for r in ingress), (svc, want)
            assert any(r.properties["security_group_id"] == "${lb-l4-sg.id}" and r.properties["ip_protocol"] == want
                       and r.properties["from_port"] == port for r in egress), (svc, want)
    # Clients of the balancer reach each listener with its own protocol.
    assert {(r.properties["from_port"], r.properties["ip_protocol"]) for r in ingress
            if r.properties["security_group_id"] == "${lb-l4-sg.id}"} >= {(53, "udp"), (5300, "tcp"), (7777, "udp")}
    # ... and the health checker reaches the TCP port it probes.
    assert any(r.properties["security_group_id"] == "${svc-dns-sg.id}" and r.properties["from_port"] == 8053
               and r.properties["ip_protocol"] == "tcp" for r in ingress)


def test_udp_without_a_tcp_port_to_probe_is_refused():
    text = """
    blueprint: udp
    aws: {region: eu-west-1}
    services:
      game: {image: game:1, port: 7000}
    load_balancers:
      l4: {layer: 4, listeners: [{port: 7000, protocol: udp}], targets: [{target: services.game}]}
    """
    with pytest.raises(UnsupportedError, match="NLB health checks are TCP"):
        plan_of(text)
    mixed = text.replace("port: 7000}", "port: 7000}\n      chat: {image: chat:1, port: 7001}").replace(
        "targets: [{target: services.game}]", "targets: [{target: services.game, port: 9000}, {target: services.chat, port: 9000}]")
    with pytest.raises(UnsupportedError, match="different health-check ports"):
        plan_of(mixed)
    plan = plan_of(text.replace("targets:", "health_check: {port: 8080}, targets:"))
    assert props(plan, "lb-l4-tg-7000")["health_check"]["port"] == "8080"


def every_section_plan():
    from topoform.dsl import load_blueprint

    bp = load_blueprint(os.path.join(BLUEPRINTS, "two-region-hot-dr.yaml"), target="aws")
    bp.dns.delegated = True  # its second stage: providers/aws/certificates.py stages a new zone
    return compile_plan(bp, "aws")


def test_a_distribution_no_record_names_gets_its_own_name_and_certificate():
    """rp-front (caching proxy) had no alias and no record: its cache, WAF and compression were on no request path."""
    plan = every_section_plan()
    dist = props(plan, "rp-front-distribution")
    assert dist["aliases"] == ["front.shop.example.com"]
    assert dist["viewer_certificate"]["acm_certificate_arn"] == "${acm-us-east-1-validation.certificate_arn}"
    assert dist["viewer_certificate"]["minimum_protocol_version"] == "TLSv1.2_2021"
    record = props(plan, "rp-front-record")
    assert record["name"] == "front.shop.example.com"
    assert record["aliases"][0]["name"] == "${rp-front-distribution.domain_name}"
    assert record["aliases"][0]["zone_id"] == "${rp-front-distribution.hosted_zone_id}"
    assert plan.outputs["reverse_proxies.front.url"] == "https://front.shop.example.com"
    assert any("rp-front" in w.message or "reverse_proxies.front" in w.message for w in plan.warnings)


def test_default_certificate_says_tlsv1_and_warns():
    """AWS serves TLSv1 with the *.cloudfront.net certificate whatever minimum_protocol_version says."""
    plan = plan_of(NO_CACHE_CDN)
    for name in ("cdn-live-distribution", "cdn-files-distribution"):
        cert = props(plan, name)["viewer_certificate"]
        assert cert == {"cloudfront_default_certificate": True, "minimum_protocol_version": "TLSv1"}
    assert sum("accepts viewers from TLSv1" in w.message for w in plan.warnings) == 2


def test_an_origin_without_tls_is_fetched_over_http_with_a_warning():
    plan = plan_of(NO_CACHE_CDN.replace("listeners: [{port: 443, tls: true}]", "listeners: [{port: 80}]"))
    (origin,) = props(plan, "cdn-live-distribution")["origins"]
    assert origin["custom_origin_config"]["origin_protocol_policy"] == "http-only"
    assert any("over plain HTTP" in w.message for w in plan.warnings)


APP_CDN = """
blueprint: shop
aws: {region: us-east-1}
services:
  web: {image: web:1, port: 8080}
  api: {image: api:1, port: 9000}
load_balancers:
  edge:
    listeners: [{port: 443, tls: true}]
    routes: [{path: /api/*, target: services.api}, {path: /admin/*, host: admin.shop.example.com, target: services.web},
             {path: /*, target: services.web}]
cdns:
  app: {mode: pull, origin: load_balancers.edge}
dns:
  zone: shop.example.com
  delegated: true  # the second stage (providers/aws/certificates.py)
  records: [{name: www, endpoints: [{target: cdns.app}]}]
"""


def test_pull_cdn_caches_only_what_is_marked_cacheable():
    """/api/* was cached for an hour with no cookie or header in the key: one user's answer served to all."""
    plan = plan_of(APP_CDN)
    policy = props(plan, "cdn-app-cache-policy")
    assert (policy["min_ttl"], policy["default_ttl"]) == (0, 0) and policy["max_ttl"] > 0  # the origin decides
    dist = props(plan, "cdn-app-distribution")
    assert dist["default_cache_behavior"]["cache_policy_id"] == "${cdn-app-cache-policy.id}"
    (api,) = dist["ordered_cache_behaviors"]  # the host rule cannot be matched by CloudFront: default behaviour
    assert api["path_pattern"] == "/api/*"
    assert api["cache_policy_id"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    assert api["origin_request_policy_id"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
    assert "POST" in api["allowed_methods"]
    assert not any("shares it with every viewer" in w.message for w in plan.warnings)


def test_pull_cdn_with_a_long_default_ttl_warns():
    plan = plan_of(APP_CDN.replace("origin: load_balancers.edge}", "origin: load_balancers.edge, ttl: {default: 1h}}"))
    assert props(plan, "cdn-app-cache-policy")["default_ttl"] == 3600  # the blueprint asked for it
    assert any("shares it with every viewer" in w.message for w in plan.warnings)


HEALTH_CHECKED = """
blueprint: shop
aws: {region: eu-west-1}
services:
  api: {image: api:1, port: 8080}
load_balancers:
  edge:
    listeners: [{port: 80, redirect_to_https: true}, {port: 443, tls: true}]
    routes: [{path: /v1/*, target: services.api}, {path: /healthz, host: api.shop.example.com, target: services.api}]
dns:
  zone: shop.example.com
  records:
    - name: api
      routing: failover
      health_check: {path: /healthz}
      endpoints: [{target: load_balancers.edge, role: primary}, {value: 192.0.2.10, role: secondary}]
"""


@pytest.mark.parametrize("target", ["aws", "docker"])
def test_a_health_check_path_no_route_takes_is_refused(target):
    """Only /v1/* is forwarded (the host rule does not see the checker's Host): /healthz gets the 404, for ever."""
    text = HEALTH_CHECKED if target == "aws" else HEALTH_CHECKED.replace(
        ", {path: /healthz, host: api.shop.example.com, target: services.api}", "")
    with pytest.raises(UnsupportedError) as refused:
        plan_of(text, target)
    (diagnostic,) = [d for d in refused.value.diagnostics if "health check probes" in d.message]
    assert "/healthz" in diagnostic.message and "load_balancers.edge" in diagnostic.message
    assert diagnostic.hint.startswith("add a route `{path: /healthz, target: services.api}`")
    assert diagnostic.line == 15  # the health check's path
    plan_of(text.replace("{path: /v1/*, target: services.api}",
                         "{path: /v1/*, target: services.api}, {path: /healthz, target: services.api}"), target)


def test_route_patterns_read_as_on_the_balancers():
    from topoform.providers.routing import pattern_matches

    assert pattern_matches("/v1/*", "/v1/health") and not pattern_matches("/v1/*", "/healthz")
    assert pattern_matches("/", "/anything") and pattern_matches("/*", "/")
    assert pattern_matches("/h?alth", "/health") and not pattern_matches("/a.b", "/axb")
    assert not pattern_matches("/API/*", "/api/x")  # case-sensitive


def test_nlb_target_groups_probe_tcp_by_default():
    plan = plan_of("""
    blueprint: tls
    aws: {region: eu-west-1, certificate_arn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}
    services:
      db: {image: pg:1, port: 5432}
    load_balancers:
      l4: {layer: 4, listeners: [{port: 5432, protocol: tls}], targets: [{target: services.db}]}
    """)
    group = props(plan, "lb-l4-tg-5432")
    assert group["protocol"] == "TCP" and group["health_check"]["protocol"] == "TCP"
    assert "path" not in group["health_check"]  # not HTTP `/` on a port that speaks TLS


BEHIND_CLOUDFRONT = """
blueprint: shop
aws: {region: eu-west-1}
services:
  web: {image: web:1, port: 8080}
load_balancers:
  edge:
    listeners: [{port: 80, redirect_to_https: true}, {port: 443, tls: true}]
    routes: [{path: /api/*, target: services.web}, {path: /*, target: services.web}]
reverse_proxies:
  front: {upstream: load_balancers.edge, tls: true, compression: true, rate_limit: {requests_per_second: 20},
          deny: [198.51.100.0/24]}
dns:
  zone: shop.example.com
  delegated: true  # the second stage (providers/aws/certificates.py)
  records: [{name: www, endpoints: [{target: reverse_proxies.front}]}]
"""
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_a_balancer_only_cloudfront_reaches_admits_only_cloudfront_with_the_origin_secret():
    """Open to 0.0.0.0/0, the ALB let clients skip CloudFront and its WAF."""
    plan = plan_of(BEHIND_CLOUDFRONT)
    lb_rules = [r.properties for r in of_type(plan, INGRESS) if r.properties["security_group_id"] == "${lb-edge-sg.id}"]
    assert lb_rules and not any("cidr_ipv4" in r or "cidr_ipv6" in r for r in lb_rules)
    assert {r["from_port"] for r in lb_rules} == {80, 443}
    for rule in lb_rules:
        assert rule["prefix_list_id"] == {"$lookup": {
            "function": "aws:ec2/getManagedPrefixList:getManagedPrefixList",
            "args": {"name": "com.amazonaws.global.cloudfront.origin-facing", "region": "eu-west-1"}, "attr": "id"}}
    secret = "${lb-edge-origin-secret.result}"
    assert plan.get("lb-edge-origin-secret").type == "random:index/randomPassword:RandomPassword"
    (origin,) = props(plan, "rp-front-distribution")["origins"]
    assert origin["custom_headers"] == [{"name": "X-Origin-Verify", "value": secret}]
    listener = props(plan, "lb-edge-listener-443")
    assert listener["default_actions"][0]["fixed_response"]["status_code"] == "403"
    rules = sorted((r.properties for r in of_type(plan, "aws:lb/listenerRule:ListenerRule")
                    if r.properties["listener_arn"] == "${lb-edge-listener-443.arn}"), key=lambda r: r["priority"])
    assert [r["conditions"][0]["path_pattern"]["values"] for r in rules] == [["/api/*"], ["/*"]]  # catch-all last
    for rule in rules:
        assert {"http_header": {"http_header_name": "X-Origin-Verify", "values": [secret]}} in rule["conditions"]


def test_the_proxy_web_acl_is_on_its_distribution():
    """A REGIONAL ACL behind CloudFront saw edge addresses: the deny list never matched, the rate limit hit edges."""
    plan = plan_of(BEHIND_CLOUDFRONT)
    acl = props(plan, "rp-front-web-acl")
    assert (acl["scope"], acl["region"]) == ("CLOUDFRONT", "us-east-1")
    assert props(plan, "rp-front-deny-ipv4")["scope"] == "CLOUDFRONT"
    assert props(plan, "rp-front-distribution")["web_acl_id"] == "${rp-front-web-acl.arn}"
    assert not of_type(plan, "aws:wafv2/webAclAssociation:WebAclAssociation")


def test_a_balancer_also_reached_directly_stays_open_with_a_warning():
    plan = plan_of(BEHIND_CLOUDFRONT.replace("[{target: reverse_proxies.front}]}]",
                                             "[{target: reverse_proxies.front}]}, {name: api, endpoints: [{target: load_balancers.edge}]}]"))
    assert any(r.properties.get("cidr_ipv4") == "0.0.0.0/0" for r in of_type(plan, INGRESS)
               if r.properties["security_group_id"] == "${lb-edge-sg.id}")
    assert "custom_headers" not in props(plan, "rp-front-distribution")["origins"][0]
    assert any("can be bypassed" in w.message and "dns record api" in w.message for w in plan.warnings)


def test_the_prefix_list_lookup_runs_in_the_program_and_in_eject(tmp_path):
    from topoform.providers.eject import write_project
    from topoform.testing import synth

    bp = load(BEHIND_CLOUDFRONT)
    stack = synth(bp, target="aws")
    ids = {stack.named(r.name).inputs["prefixListId"] for r in stack.of_type(INGRESS)
           if r.name.startswith("lb-edge-sg-from-cloudfront")}
    assert len(ids) == 1 and next(iter(ids)).startswith("pl-")
    write_project(compile_plan(bp, "aws"), str(tmp_path), blueprint_file="test.yaml")
    program = (tmp_path / "__main__.py").read_text()
    compile(program, "__main__.py", "exec")
    assert ('prefix_list_id=aws.ec2.get_managed_prefix_list_output(\n        name="com.amazonaws.global.cloudfront.'
            'origin-facing",\n        region="eu-west-1",\n    ).id,') in program
