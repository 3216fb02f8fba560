"""Rules for balancers, security groups and ECS: what listens must be reachable and registered."""

from __future__ import annotations

from . import catalog
from .plan_view import document, ingress_rules, referrers, target, violation
from .registry import each, rule

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ECS_SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"

ALB_PROTOCOLS = {"HTTP", "HTTPS"}
NLB_PROTOCOLS = {"TCP", "TLS", "UDP", "TCP_UDP"}
# Target group protocols a listener protocol can forward to (ELB user guides,
# "Listeners" and "Target groups": a TLS listener forwards to TCP or TLS).
FORWARDS_TO = {"HTTP": {"HTTP", "HTTPS"}, "HTTPS": {"HTTP", "HTTPS"}, "TCP": {"TCP", "TCP_UDP"},
               "TLS": {"TCP", "TLS"}, "UDP": {"UDP", "TCP_UDP"}, "TCP_UDP": {"TCP_UDP"}}


def _ip_protocol(elb_protocol: str) -> str:
    return "udp" if elb_protocol == "UDP" else "tcp"


def _allows(rules, protocol, port):
    """Whether any of the security-group `rules` lets `protocol` traffic through on `port`."""
    return any(r.properties.get("ip_protocol") in (protocol, "-1") and
               r.properties.get("from_port", 0) <= port <= r.properties.get("to_port", 65535) for r in rules)


def _takes(resource, argument):
    """Whether the pulumi_aws class of `resource` accepts `argument` (other providers' resources: no)."""
    return resource.type.startswith("aws:") and argument in catalog.sdk_arguments(resource.type)


def _security_groups_of(plan, resource) -> list:
    """The security groups a balancer, an ECS service (awsvpc), an RDS instance or a cache is in."""
    if resource is None:
        return []
    refs = resource.properties.get("security_groups") or resource.properties.get("vpc_security_group_ids") or \
        resource.properties.get("security_group_ids") or \
        (resource.properties.get("network_configuration") or {}).get("security_groups", [])
    return [g for g in (target(plan, ref) for ref in refs) if g is not None]


def _listeners(plan):
    """(listener, its balancer) pairs."""
    for listener in plan.of_type(LISTENER):
        yield listener, target(plan, listener.properties.get("load_balancer_arn"))


def _forwards(plan, actions):
    """Target groups a list of listener actions forwards to."""
    for action in actions or []:
        if action.get("type") == "forward":
            names = [action.get("target_group_arn")] + [g.get("arn") for g in
                                                        (action.get("forward") or {}).get("target_groups", [])]
            yield from (tg for tg in (target(plan, n) for n in names if n) if tg is not None)


def _forwarded_groups(plan, listener):
    yield from _forwards(plan, listener.properties.get("default_actions"))
    for listener_rule in referrers(plan, listener, "aws:lb/listenerRule:ListenerRule"):
        yield from _forwards(plan, listener_rule.properties.get("actions"))


def _forwarding(plan):
    """(listener, its balancer, a target group it forwards to) for every forward."""
    for listener, lb in _listeners(plan):
        for group in _forwarded_groups(plan, listener):
            yield listener, lb, group


@rule("elbv2-listener-protocol", "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html",
      "Application Load Balancers support HTTP and HTTPS listeners; Network Load Balancers TCP, TLS, UDP and "
      "TCP_UDP. An HTTPS or TLS listener needs a certificate and a security policy.",
      source="botocore elbv2 ProtocolEnum")
def _listener_protocol(plan):
    allowed = catalog.enum("elbv2", "ProtocolEnum")
    for listener, lb in _listeners(plan):
        protocol = listener.properties.get("protocol")
        kind = (lb.properties.get("load_balancer_type") if lb else None) or "application"
        if protocol not in allowed or protocol not in (ALB_PROTOCOLS if kind == "application" else NLB_PROTOCOLS):
            yield violation(listener, "protocol", f"{protocol!r} on an {kind} load balancer")
        if protocol in ("HTTPS", "TLS") and not listener.properties.get("certificate_arn"):
            yield violation(listener, "certificate_arn", f"{protocol} listener without a certificate")


@rule("elbv2-ssl-policy", catalog.ELB_SSL_POLICIES_DOC,
      "An HTTPS or TLS listener's SslPolicy must be one of the predefined ELB security policies.")
def _ssl_policy(plan):
    for listener, _ in _listeners(plan):
        if listener.properties.get("protocol") in ("HTTPS", "TLS"):
            policy = listener.properties.get("ssl_policy")
            if policy not in catalog.ELB_SSL_POLICIES:
                yield violation(listener, "ssl_policy", f"{policy!r} is not a predefined ELB security policy")


@rule("elbv2-listener-target-group-protocol",
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html",
      "A listener forwards only to target groups of a compatible protocol (UDP to UDP or TCP_UDP, TLS to TLS "
      "or TCP, TCP to TCP or TCP_UDP, HTTP/HTTPS to HTTP/HTTPS), and a target group's port is the port its "
      "targets receive traffic on.",
      source="the same table as cfn-lint's aws_elasticloadbalancingv2_listenerrule/listener_rule_target_group_protocol.json")
def _target_group_protocol(plan):
    for listener, _, group in _forwarding(plan):
        protocol = listener.properties.get("protocol")
        if group.properties.get("protocol") not in FORWARDS_TO.get(protocol, set()):
            yield violation(listener, "default_actions",
                            f"{protocol} listener forwards to {group.name} ({group.properties.get('protocol')})")


def _registrations(plan, group):
    """(ECS service, load_balancers entry) registering targets in `group`."""
    for service in plan.of_type(ECS_SERVICE):
        for entry in service.properties.get("load_balancers", []):
            if target(plan, entry.get("target_group_arn")) is group:
                yield service, entry


def _port_mappings(plan, service, container_name):
    task = target(plan, service.properties.get("task_definition"))
    for container in document(task.properties.get("container_definitions")) if task else []:
        if container.get("name") == container_name:
            return container.get("portMappings", [])
    return []


@rule("elbv2-target-registration",
      "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb.html",
      "ECS registers the task's containerPort of the named container in the target group; the port must be "
      "one of that container's portMappings with the target group's transport protocol (udp for UDP), and a "
      "target group no service registers in has no healthy targets.",
      source="botocore ecs TransportProtocol")
def _registration(plan):
    for listener, _, group in _forwarding(plan):
        entries = list(_registrations(plan, group))
        if not entries:
            yield violation(group, "targets", f"forwarded to by {listener.name}, but nothing registers targets")
        want = _ip_protocol(group.properties.get("protocol", "TCP"))
        for service, entry in entries:
            mappings = _port_mappings(plan, service, entry.get("container_name"))
            for mapping in mappings:
                if mapping.get("protocol", "tcp") not in catalog.enum("ecs", "TransportProtocol"):
                    yield violation(service, "task_definition", f"port mapping protocol {mapping.get('protocol')!r}")
            if not any(m.get("containerPort") == entry.get("container_port")
                       and m.get("protocol", "tcp") in (want, "tcp_udp") for m in mappings):
                yield violation(service, "load_balancers", f"container {entry.get('container_name')} maps no "
                                f"{want} port {entry.get('container_port')} for {group.name}")


@rule("nlb-health-check-reachable",
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html",
      "Target group health checks use TCP, HTTP or HTTPS (never UDP); a UDP target group must name a TCP "
      "health-check port its targets listen on, and an HTTP check against a TLS listener port gets no HTTP answer.")
def _nlb_health(plan):
    for group in plan.of_type(TARGET_GROUP):
        protocol, check = group.properties.get("protocol"), group.properties.get("health_check") or {}
        check_protocol, port = check.get("protocol", "TCP"), check.get("port", "traffic-port")
        if check_protocol not in ("TCP", "HTTP", "HTTPS"):
            yield violation(group, "health_check.protocol", f"{check_protocol!r} cannot be a health-check protocol")
        if protocol == "UDP" and port == "traffic-port":
            yield violation(group, "health_check.port", "a TCP check of the UDP traffic port: nothing answers TCP there")
        if protocol == "TLS" and check_protocol == "HTTP" and port == "traffic-port":
            yield violation(group, "health_check.protocol", "plain HTTP to a port that speaks TLS")


@rule("security-groups-match-listeners",
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html",
      "A load balancer with security groups accepts only what their inbound rules allow (protocol and port: "
      "udp for a UDP listener), and targets accept the balancer's traffic only if their security group allows "
      "it on the target port and protocol.")
def _security_groups(plan):
    for listener, lb in _listeners(plan):
        groups = _security_groups_of(plan, lb)
        protocol, port = _ip_protocol(listener.properties.get("protocol", "TCP")), listener.properties.get("port")
        if groups and not any(_allows(ingress_rules(plan, g.name), protocol, port) for g in groups):
            yield violation(listener, "port", f"no inbound {protocol} {port} rule on {lb.name}'s security group")
    for _, _, group in _forwarding(plan):
        want = _ip_protocol(group.properties.get("protocol", "TCP"))
        for service, entry in _registrations(plan, group):
            service_groups = _security_groups_of(plan, service)
            if not any(_allows(ingress_rules(plan, g.name), want, entry["container_port"]) for g in service_groups):
                yield violation(service, "network_configuration.security_groups",
                                f"no inbound {want} {entry['container_port']} rule for {group.name}'s traffic")


@rule("fargate-cpu-memory", "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size",
      "A Fargate task's cpu and memory must be one of the supported combinations (256 with 512–2048 MiB, "
      "512 with 1–4 GiB, … 16384 with 32–120 GiB).", source="cfn-lint aws_ecs_taskdefinition/fargate_cpu_memory.json")
def _fargate(plan):
    yield from each(TASK, "memory", lambda plan, t: "FARGATE" in t.properties.get("requires_compatibilities", [])
                    and not catalog.fargate_pair_valid(str(t.properties.get("cpu")), str(t.properties.get("memory"))),
                    lambda t: f"cpu {t.properties.get('cpu')} with memory {t.properties.get('memory')} "
                    "is not a Fargate task size")(plan)


@rule("ecs-wait-for-steady-state", "https://www.pulumi.com/registry/packages/aws/api-docs/ecs/service/",
      "With wait_for_steady_state false the provider reports the service created as soon as ECS accepts it, "
      "before any task runs, so a deployment whose tasks never start is reported as a success.")
def _steady_state(plan):
    yield from each(ECS_SERVICE, "wait_for_steady_state",
                    lambda plan, s: s.properties.get("wait_for_steady_state") is not True,
                    "`up` succeeds before a single task is running")(plan)


@rule("regional-resources-name-region", "https://www.pulumi.com/registry/packages/aws/how-to-guides/multi-region/",
      "pulumi-aws 7 resources take a `region` argument that overrides the provider's; README's AWS section "
      "promises every regional resource sets it, and the SDK's own signature says which resources take one.",
      source="the pulumi_aws SDK: a resource class is regional when its __init__ takes `region`")
def _region_set(plan):
    for resource in plan.resources:
        if _takes(resource, "region") and not resource.properties.get("region"):
            yield violation(resource, "region", "regional resource without an explicit region")


@rule("tags-on-taggable-resources", "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html",
      "Tags identify what a resource belongs to; README promises every taggable resource carries "
      "topoform:blueprint, topoform:stack and topoform:component.",
      source="the pulumi_aws SDK: a resource class is taggable when its __init__ takes `tags`")
def _tags(plan):
    wanted = {"topoform:blueprint", "topoform:stack", "topoform:component"}
    for resource in plan.resources:
        if _takes(resource, "tags"):
            missing = wanted - set(resource.properties.get("tags") or {})
            if missing:
                yield violation(resource, "tags", f"missing {', '.join(sorted(missing))}")


@rule("lb-egress-matches-targets", "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-update-security-groups.html",
      "A load balancer's security group must allow outbound traffic to its targets on the listener and "
      "health-check ports, with the targets' protocol.")
def _egress(plan):
    for _, lb, group in _forwarding(plan):
        groups = _security_groups_of(plan, lb)
        egress = [r for r in plan.of_type(EGRESS) if target(plan, r.properties.get("security_group_id")) in groups]
        want = _ip_protocol(group.properties.get("protocol", "TCP"))
        for _, entry in _registrations(plan, group) if groups else []:
            if not _allows(egress, want, entry["container_port"]):
                yield violation(lb, "security_groups", f"no outbound {want} {entry['container_port']} "
                                f"to {group.name}'s targets")


STORES = {"aws:rds/instance:Instance": "port", "aws:elasticache/replicationGroup:ReplicationGroup": "port",
          "aws:elasticache/cluster:Cluster": "port"}
ENGINE_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}


@rule("store-ingress-matches-port", "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html",
      "A security group rule allows one protocol and port range; a store is reachable only on the port it "
      "listens on (RDS: `port`, by default 5432 for PostgreSQL and 3306 for MySQL/MariaDB; ElastiCache: `port`).")
def _store_ingress(plan):
    for token, prop in STORES.items():
        for store in plan.of_type(token):
            port = store.properties.get(prop) or ENGINE_PORTS.get(store.properties.get("engine"))
            for group in _security_groups_of(plan, store):
                for ingress in ingress_rules(plan, group.name):
                    if not _allows([ingress], "tcp", port):
                        yield violation(ingress, "from_port", f"{ingress.properties.get('ip_protocol')} "
                                        f"{ingress.properties.get('from_port')}–{ingress.properties.get('to_port')} "
                                        f"to {store.name}, which listens on tcp {port}")


@rule("stores-private", "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html",
      "A DB instance is reachable from the internet only when publicly_accessible is set and its security "
      "group admits the address; README's AWS network section promises store ingress names the security "
      "group of the component that uses it, never an address range.")
def _stores_private(plan):
    for token in STORES:
        for store in plan.of_type(token):
            if store.properties.get("publicly_accessible"):
                yield violation(store, "publicly_accessible", "a store with a public address")
            for group in _security_groups_of(plan, store):
                for ingress in ingress_rules(plan, group.name):
                    if not ingress.properties.get("referenced_security_group_id"):
                        yield violation(ingress, "cidr_ipv4", f"admits an address range to {store.name}")
