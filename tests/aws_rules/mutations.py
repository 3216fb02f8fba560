"""For every rule, one change to a real Plan that the rule must notice.

A rule that passes on every Plan could be vacuous: each entry here edits a
copy of a compiled Plan the way a provider bug would (or, for a rule that
fails today, the way a fix would) and the test asserts the rule's findings
change. Targets are a resource name, or a type token for its first resource.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from topoform.providers.plan import Plan, Resource

Mutation = Callable[[Plan], None]

HOT_DR, THREE_TIER, LAYER4, MINIMAL = ("blueprints/two-region-hot-dr", "blueprints/three-tier",
                                       "valid/layer4-and-queues", "blueprints/minimal-web")
DRILLS = "drills-hot-dr"  # a matrix variant (tests/aws_rules/matrix.py EXTRA)
GATEWAY, GATEWAY_DOMAIN = "blueprints/api-and-nosql", "valid/api-gateway-domain"
NOSQL = "blueprints/api-and-nosql"


def _find(plan: Plan, where: str) -> Resource:
    return plan.get(where) if ":" not in where else plan.of_type(where)[0]


def setp(where: str, **values: Any) -> Mutation:
    """Set properties (a `__`-separated path reaches into dicts and lists: rules__0__schedule)."""

    def mutate(plan: Plan) -> None:
        for path, value in values.items():
            holder: Any = _find(plan, where).properties
            *steps, last = [int(s) if s.isdigit() else s for s in path.split("__")]
            for step in steps:
                holder = holder[step]
            holder[last] = value

    return mutate


def clone(where: str) -> Mutation:
    """Add a copy of a resource under a new name (one more of whatever it violates)."""

    def mutate(plan: Plan) -> None:
        original = _find(plan, where)
        plan.add(Resource(original.type, original.name + "-copy", original.component,
                          copy.deepcopy(original.properties), list(original.depends_on)))

    return mutate


def drop(where: str) -> Mutation:
    def mutate(plan: Plan) -> None:
        resource = _find(plan, where)
        plan.resources.remove(resource)
        del plan._index[resource.name]

    return mutate


def policy(*actions: str, **statement: Any) -> dict:
    return {"$json": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": ["*"], **statement}]}}


def add(token: str, name: str, component: str, **properties: Any) -> Mutation:
    """Add a resource (one the compiler no longer builds, as the bug it had would)."""

    def mutate(plan: Plan) -> None:
        plan.add(Resource(token, name, component, properties))

    return mutate


def no_region(plan: Plan) -> None:
    """The Plan as if it named no region anywhere (what `topoform up` would then have to go on)."""
    import dataclasses

    for resource in plan.resources:
        resource.properties.pop("region", None)
    platform = plan.components["platform"]
    platform.facts = dataclasses.replace(platform.facts, region=None)


def both(*mutations: Mutation) -> Mutation:
    def mutate(plan: Plan) -> None:
        for mutation in mutations:
            mutation(plan)

    return mutate


def unwarned(plan: Plan) -> None:
    """The Plan without its warnings: a deliberate choice the compiler no longer tells the user about."""
    plan.warnings = []


def provider(region: str) -> Mutation:
    def mutate(plan: Plan) -> None:
        plan.add(Resource("pulumi:providers:aws", "aws-provider", "platform", {"region": region}))

    return mutate


RDS, TG, LISTENER = "aws:rds/instance:Instance", "aws:lb/targetGroup:TargetGroup", "aws:lb/listener:Listener"
QUEUE, CACHE, POLICY = "aws:sqs/queue:Queue", "aws:elasticache/replicationGroup:ReplicationGroup", "aws:iam/rolePolicy:RolePolicy"
CACHE_POLICY, DIST, VPC = "aws:cloudfront/cachePolicy:CachePolicy", "aws:cloudfront/distribution:Distribution", "aws:ec2/vpc:Vpc"
NOT_FOUND = [{"type": "fixed-response", "fixed_response": {"content_type": "text/plain", "status_code": "404"}}]

BREAKS: dict[str, tuple[str, Mutation]] = {
    "rds-replica-of-managed-password": (THREE_TIER, setp("db-catalog", manage_master_user_password=True)),
    "rds-engine-version-offered": (THREE_TIER, setp(RDS, engine_version="9.4")),
    "rds-parameter-group-family": (THREE_TIER, setp("db-catalog-params", family="postgres9")),
    "rds-backup-window-overlaps-maintenance": (THREE_TIER, setp("db-catalog", backup_window="02:45-03:15")),
    "rds-encrypted-and-protected": (THREE_TIER, setp("db-catalog", storage_encrypted=False)),
    "elasticache-engine-version-offered": (THREE_TIER, setp(CACHE, engine_version="3.2")),
    "elasticache-parameter-group-family": (THREE_TIER, setp("cache-pages-params", family="redis6")),
    "elasticache-auth-with-tls": (THREE_TIER, setp(CACHE, auth_token=None)),
    "elasticache-encrypted": (THREE_TIER, setp(CACHE, at_rest_encryption_enabled=False)),
    "sqs-queue-attributes": (LAYER4, setp(QUEUE, visibility_timeout_seconds=50000)),
    "sqs-dead-letter-queue-type": (LAYER4, setp("queue-jobs-dlq", fifo_queue=False)),
    "sqs-dead-letter-queue-redrive-allow": (LAYER4, setp(
        "queue-events", redrive_policy={"$json": {"deadLetterTargetArn": "${queue-jobs.arn}", "maxReceiveCount": 3}})),
    "sqs-tls-only": (LAYER4, setp(QUEUE, sqs_managed_sse_enabled=False)),
    "s3-content-bucket-force-destroy": (HOT_DR, setp("rp-front-bucket", force_destroy=True)),
    "s3-private-and-encrypted": (HOT_DR, drop("aws:s3/bucketVersioning:BucketVersioning")),
    "backup-rule-schedule": (THREE_TIER, setp("backup-plan-db-catalog", rules__0__schedule="rate(1 hour)")),
    "elbv2-listener-protocol": (MINIMAL, setp(LISTENER, protocol="TCP")),
    "elbv2-ssl-policy": (HOT_DR + "+delegated", setp("lb-edge-listener-443", ssl_policy="ELBSecurityPolicy-None")),
    "elbv2-listener-target-group-protocol": (LAYER4, setp(TG, protocol="UDP")),
    "elbv2-target-registration": (LAYER4, setp("svc-primary", load_balancers__0__container_port=9999)),
    "nlb-health-check-reachable": (LAYER4, setp(TG, health_check__protocol="UDP")),
    "security-groups-match-listeners": (LAYER4, setp("lb-pg-sg-from-internet-tcp-5432", ip_protocol="udp")),
    "lb-egress-matches-targets": (LAYER4, setp("lb-pg-sg-to-vpc-5432", from_port=1, to_port=2)),
    "fargate-cpu-memory": (MINIMAL, setp("svc-web-task", memory="100")),
    "ecs-wait-for-steady-state": (MINIMAL, setp("svc-web", wait_for_steady_state=False)),
    "regional-resources-name-region": (MINIMAL, setp(VPC, region=None)),
    "tags-on-taggable-resources": (MINIMAL, setp(VPC, tags={})),
    "cloudfront-cache-policy-caching-disabled": (HOT_DR + "+delegated", setp(CACHE_POLICY, default_ttl=0, max_ttl=0)),
    "cloudfront-cache-policy-ttls": (HOT_DR + "+delegated", setp(CACHE_POLICY, min_ttl=100000)),
    "cloudfront-default-certificate-protocol": (HOT_DR + "+delegated", setp("cdn-media-distribution",
                                                             viewer_certificate={"cloudfront_default_certificate": True,
                                                                                 "minimum_protocol_version": "TLSv1.2_2021"})),
    "cloudfront-distribution-values": (HOT_DR + "+delegated", setp(DIST, http_version="http9")),
    "cloudfront-dynamic-content-shared": (HOT_DR + "+delegated", unwarned),
    "cloudfront-hot-dr-origin-group": (HOT_DR + "+delegated", drop("dr-lb-edge-origin-record")),
    "cloudfront-origin-resolves": (HOT_DR + "+delegated", setp(DIST, origins__0__domain_name="nowhere.example.net")),
    "waf-regional-acl-behind-cloudfront": (HOT_DR + "+delegated", both(
        setp("rp-front-web-acl", scope="REGIONAL"),
        add("aws:wafv2/webAclAssociation:WebAclAssociation", "rp-front-web-acl-link", "reverse_proxies.front",
            resource_arn="${lb-edge.arn}", web_acl_arn="${rp-front-web-acl.arn}"))),
    "alb-behind-cloudfront-open": (HOT_DR + "+delegated", unwarned),
    "waf-rule-limits": (HOT_DR + "+delegated", setp("rp-front-web-acl", rules__1__statement__rate_based_statement__limit=1)),
    "acm-validation-in-undelegated-zone": (HOT_DR, add(
        "aws:acm/certificateValidation:CertificateValidation", "acm-us-east-1-validation", "dns",
        certificate_arn="${acm-us-east-1.arn}", validation_record_fqdns=["${acm-us-east-1-validation-0.fqdn}"])),
    "route53-record-shape": (HOT_DR + "+delegated", setp("dns-www-0", ttl=60)),
    "route53-health-check-values": (HOT_DR + "+delegated", setp("dns-api-0-health", request_interval=15)),
    "route53-health-check-routed": (HOT_DR + "+delegated", setp("lb-edge-listener-443", default_actions=NOT_FOUND)),
    "route53-failover-pair": (HOT_DR + "+delegated", drop("dns-api-1")),
    "provider-region-configured": (MINIMAL, no_region),
    "sns-aws-managed-key-for-alarms": (MINIMAL, setp("slo-alerts", kms_master_key_id="alias/aws/sns")),
    "sns-topic-has-subscription": (MINIMAL, unwarned),
    "iam-policy-document-valid": (MINIMAL, setp("svc-web-execution-policy", policy={"$json": {"Statement": []}})),
    "iam-no-wildcard-data-actions": (MINIMAL, setp("svc-web-execution-policy", policy=policy("s3:*"))),
    "kms-key-policy": (HOT_DR, setp("dr-kms-key", deletion_window_in_days=3)),
    "dr-site-independent-of-primary": (HOT_DR, setp("dr-svc-web-task", task_role_arn="${db-users-password-secret.arn}")),
    "store-ingress-matches-port": (THREE_TIER, setp("db-catalog", port=6000)),
    "stores-private": (THREE_TIER, setp("db-catalog", publicly_accessible=True)),
    "alarm-actions-same-region": (HOT_DR, setp("dr-slo-error-rate", alarm_actions=["${slo-alerts.arn}"])),
    "fis-action-known": (DRILLS, setp("drill-db-users-reboot", actions__0__action_id="aws:rds:reboot-db-instance")),
    "fis-target-selection": (DRILLS, setp("drill-svc-web-one-copy", targets__0__selection_mode="ONE")),
    "fis-duration-iso8601": (DRILLS, setp("drill-site", actions__0__parameters__0__value="5m")),
    "fis-stop-conditions": (DRILLS, setp("drill-site", stop_conditions=[
        {"source": "aws:cloudwatch:alarm", "value": "${dr-slo-error-rate.arn}"}])),
    "fis-role-trusts-fis": (DRILLS, setp("drill-role", assume_role_policy={"$json": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}})),
    "fis-role-least-privilege": (DRILLS, setp("drill-role-policy", policy=policy("ecs:StopTask", "ecs:*"))),
    "apigw-route-keys": (GATEWAY, setp("apigw-public-route-0-any-v1-orders-proxy", route_key="ANY /{proxy+}/v1")),
    "apigw-jwt-authorizer": (GATEWAY, setp("apigw-public-jwt", jwt_configuration__audiences=[])),
    "apigw-private-integration": (GATEWAY, setp("apigw-public-to-users", payload_format_version="2.0")),
    "apigw-stage-throttling": (GATEWAY, setp("apigw-public-stage", route_settings__0__route_key="POST /v9/orders")),
    "apigw-access-log-format": (GATEWAY, setp("apigw-public-stage", access_log_settings__format='{"ip":"$context.identity.sourceIp"}')),
    "apigw-custom-domain-certificate": (GATEWAY_DOMAIN, setp("acm-us-east-1", subject_alternative_names=["*.shop.example.com"])),
    "apigw-custom-domain-routing": (GATEWAY_DOMAIN, setp("apigw-public-domain-record", name="api.shop.example.com")),
    "apigw-http-api-metrics": (GATEWAY, setp("apigw-public-5xx", metric_name="5XXError")),
    # rules_nosql.py
    "memorydb-tls-with-acl": (NOSQL, setp("nsql-sessions", tls_enabled=False)),
    "memorydb-user-valid": (NOSQL, setp("nsql-sessions-auth-token", length=12)),
    "memorydb-cluster-layout": (NOSQL, setp("nsql-sessions", snapshot_window="05:00-06:00")),
    "memorydb-multi-region": (NOSQL, both(
        add("aws:memorydb/multiRegionCluster:MultiRegionCluster", "nsql-sessions-multi-region", "nosql.sessions",
            multi_region_cluster_name_suffix="s", node_type="db.t4g.small", engine="redis", num_shards=1),
        setp("nsql-sessions", multi_region_cluster_name="${nsql-sessions-multi-region.multi_region_cluster_name}"))),
    "dynamodb-global-table-streams": (NOSQL, setp("nsql-orders", replicas=[{"region_name": "us-west-2"}],
                                                  stream_view_type="NEW_IMAGE")),
    "dynamodb-billing-mode-capacity": (NOSQL, setp("nsql-orders", read_capacity=5)),
    "docdb-cluster-values": (NOSQL, setp("nsql-catalog-params", family="docdb4.0")),
    "global-cluster-instance-classes": (NOSQL, both(
        add("aws:docdb/globalCluster:GlobalCluster", "nsql-catalog-global", "nosql.catalog",
            global_cluster_identifier="g", engine="docdb"),
        setp("nsql-catalog", global_cluster_identifier="${nsql-catalog-global.id}"))),
    "neptune-iam-resource-names-account": (NOSQL, setp(
        "nsql-social-connect-svc-users", policy=policy("neptune-db:*", Resource=["arn:aws:neptune-db:us-east-1:*:c/*"]))),
    "ecs-secrets-readable": (NOSQL, drop("svc-users-execution-secrets")),
}


def mutated(plan: Plan, mutation: Mutation) -> Plan:
    changed = copy.deepcopy(plan)
    for resource in changed.resources:
        resource._references = None  # properties change: references are found again
    mutation(changed)
    for resource in changed.resources:
        resource._references = None
    return changed


