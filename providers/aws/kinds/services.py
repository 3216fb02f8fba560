"""Services on ECS Fargate: cluster, roles, task definitions, services, Cloud Map.

Each service gets its own execution role (pull the image, write logs, read
only its own secrets) and task role (what the application may call; the data
stores attach their grants to it — receive from a consumed queue, send to
another). Environment values whose names say SECRET/PASSWORD/TOKEN/KEY go to
Secrets Manager, and store passwords come from the RDS-managed secret; both
reach the container through `secrets`, never as plain `environment`, so they
show in neither the task definition nor the Plan; a redis cache's AUTH token
reaches its clients the same way (kinds/caches.py `secrets`). Tasks run in private
subnets with no public address (a `public` service: public subnets and an
address, its port open to the internet); a deployment that fails to
stabilise rolls back (circuit breaker).

`build` makes the service at every site (`ctx.sites.all`); the DR copy reads
the DR site's balancers and stores (its strings are interpolated through
`ctx.at(site)`). Security-group rules from a service to the services and
balancers it names wait for `grant_access`, run once everything is built
(the target may come later in the walk); stores admit their users
themselves (kinds/databases.py, caches.py, queues.py).
"""

from __future__ import annotations

import re

from topoform.dsl.models import Component, Service
from topoform.providers import facts as common
from topoform.providers.base import PLATFORM
from topoform.providers.plan import Availability, ref

from ..attachments import transport
from ..context import AwsContext
from ..endpoints import endpoint_attribute
from ..sites import PRIMARY, site_name
from . import caches, databases, load_balancers, nosql

# Fargate's valid task sizes: CPU units → (min, max, step) of memory in MiB.
FARGATE_MEMORY = {
    256: (512, 2048, None), 512: (1024, 4096, 1024), 1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024), 4096: (8192, 30720, 1024), 8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
FARGATE_256_MEMORY = (512, 1024, 2048)
SECRET_NAME_RE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.I)


def fargate_size(cpu: int, memory_mib: int) -> tuple[int, int] | None:
    """The smallest valid Fargate task size holding `cpu` units and `memory_mib`, or None if none does."""
    for task_cpu, (low, high, step) in FARGATE_MEMORY.items():
        if task_cpu < cpu:
            continue
        choices = FARGATE_256_MEMORY if task_cpu == 256 else range(low, high + 1, step)
        for memory in choices:
            if memory >= memory_mib:
                return task_cpu, memory
    return None


def build(ctx: AwsContext, svc: Service) -> None:
    for site in ctx.sites.all:
        # Each site's tasks read the store passwords from secrets in their own region.
        build_at(ctx, svc, site, databases.secrets(ctx.at(site), svc))
    ctx.export(svc, ("url",))


def attribute(ctx: AwsContext, svc: Service, attr: str) -> str:
    """Services are reached by their Cloud Map name, the same at every site."""
    return endpoint_attribute(ctx, svc, attr, f"{svc.name}.{ctx.namespace}", svc.port, "http")


def cluster(ctx: AwsContext, site: str) -> str:
    """The ECS cluster and Cloud Map namespace of `site`, created once (platform)."""
    name = site_name("ecs-cluster", site)
    if name not in ctx.plan:
        net = ctx.networks.network(site)
        with ctx.owning(PLATFORM, ()):
            ctx.add("aws:ecs/cluster:Cluster", name, {
                "settings": [{"name": "containerInsights", "value": "enabled"}],
                "region": net.region, "tags": ctx.tags(),
            })
            ctx.add("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace", site_name("ecs-namespace", site), {
                "name": ctx.namespace, "vpc": ref(net.vpc, "id"),
                "description": f"service discovery for {ctx.bp.blueprint} ({site} site)",
                "region": net.region, "tags": ctx.tags(),
            })
    return name


def build_at(ctx: AwsContext, svc: Service, site: str, store_secrets: list[dict[str, str]]) -> None:
    store_secrets = store_secrets + caches.secrets(ctx, svc, site) + nosql.secrets(ctx, svc, site)
    memory_mib = max(int(svc.memory // 1024**2), 1)
    size = fargate_size(svc.cpu, memory_mib)
    if size is None:
        raise ctx.unsupported(f"Fargate tasks hold at most 16384 cpu units and 120GiB; {svc.cpu} and "
                              f"{memory_mib}MiB were asked", "lower `cpu` or `memory`", "services", svc.name)
    task_cpu, task_memory = size
    if (task_cpu, task_memory) != (svc.cpu, memory_mib) and site == PRIMARY:
        # The container keeps exactly its limits; only the task (the billing unit) rounds up.
        ctx.warn(f"{ctx.ref_of(svc)}: Fargate has no task of cpu {svc.cpu} and {memory_mib}MiB; the task gets "
                 f"cpu {task_cpu} and {task_memory}MiB, the container keeps its limits",
                 None, "services", svc.name)
    net = ctx.networks.network(site)
    ecs_cluster = cluster(ctx, site)
    prefix = ctx.prefix(svc)
    n = lambda name: site_name(name, site)  # noqa: E731
    where = {"region": net.region}
    execution, task_role = ctx.iam.service_roles(svc)
    sg = ctx.networks.security_group(svc, site)
    # Tasks pull images and call AWS APIs through the NAT gateway.
    ctx.networks.allow_egress(svc, site, why="image pulls, AWS APIs and the stores this service uses")
    if svc.public and svc.port:
        ctx.networks.allow_cidr(svc, svc.port, "0.0.0.0/0", site, why=f"{ctx.ref_of(svc)} is public")

    logs = ctx.add("aws:cloudwatch/logGroup:LogGroup", n(f"{prefix}-logs"), {
        "name": f"/topoform/{ctx.bp.blueprint}/{ctx.stack}/{svc.name}",
        "retention_in_days": 30, **where, "tags": ctx.tags(),
    })
    here = ctx.at(site)
    environment, secrets = [], []
    for key, value in svc.env.items():
        text = here.interpolate(value)
        if SECRET_NAME_RE.search(key):
            # The key names a secret. Store URLs carry no password on aws: the
            # RDS-managed password reaches the container through `store_secrets`.
            secret = ctx.add("aws:secretsmanager/secret:Secret", n(f"{prefix}-env-{key.lower().replace('_', '-')}"), {
                "description": f"{key} of {ctx.ref_of(svc)}", "recovery_window_in_days": 7, **where, "tags": ctx.tags(),
            })
            ctx.add("aws:secretsmanager/secretVersion:SecretVersion", f"{secret.name}-value", {
                "secret_id": ref(secret, "id"), "secret_string": {"$secret": text}, **where,
            })
            secrets.append({"name": key, "valueFrom": ref(secret, "arn")})
        else:
            environment.append({"name": key, "value": text})
    readable = [s["valueFrom"] for s in secrets]
    # Store passwords (RDS-managed secrets) reach the container the same way.
    secrets += [dict(s) for s in store_secrets if s["name"] not in svc.env]
    readable += databases.secret_arns(store_secrets)
    if readable:
        ctx.add("aws:iam/rolePolicy:RolePolicy", n(f"{prefix}-execution-secrets"), {
            "role": ref(execution, "id"),
            "policy": {"$json": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                "Resource": sorted(set(readable))}]}},
        })
    container: dict = {
        "name": svc.name, "image": svc.image, "essential": True,
        "cpu": svc.cpu, "memory": memory_mib,
        "environment": environment, "secrets": secrets,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": ref(logs, "name"), "awslogs-region": net.region,
            "awslogs-stream-prefix": svc.name}},
        "linuxParameters": {"initProcessEnabled": True},
    }
    attachments = load_balancers.attachments_of(ctx, svc, site)
    mappings = [(svc.port, "tcp")] if svc.port else []
    # A balancer registers the container on the port and protocol it forwards (udp behind
    # a UDP listener, a target's own `port`): ECS needs a mapping for each.
    mappings += [(port, protocol) for _, port, protocol, _ in attachments if (port, protocol) not in mappings]
    if mappings:
        container["portMappings"] = [
            {"containerPort": port, "protocol": protocol,
             "name": "main" if (port, protocol) == (svc.port, "tcp") else f"{protocol}-{port}"}
            for port, protocol in dict.fromkeys(mappings)]
    if svc.command:
        # `${...}` in the command reads the same values as in env (the site's copies).
        container["command"] = [here.interpolate(arg) for arg in svc.command]
    task = ctx.add("aws:ecs/taskDefinition:TaskDefinition", n(f"{prefix}-task"), {
        "family": f"{ctx.bp.blueprint}-{ctx.stack}-{site_name(svc.name, site)}",
        "cpu": str(task_cpu), "memory": str(task_memory),
        "network_mode": "awsvpc", "requires_compatibilities": ["FARGATE"],
        "runtime_platform": {"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
        "execution_role_arn": ref(execution, "arn"), "task_role_arn": ref(task_role, "arn"),
        "container_definitions": {"$json": [container]}, **where, "tags": ctx.tags(),
    })
    props: dict = {
        "cluster": ref(ecs_cluster, "arn"), "task_definition": ref(task, "arn"),
        "desired_count": svc.replicas, "launch_type": "FARGATE", "platform_version": "LATEST",
        "network_configuration": {
            "subnets": ctx.networks.subnet_ids(site, public=svc.public), "security_groups": [ref(sg, "id")],
            "assign_public_ip": bool(svc.public)},
        "deployment_circuit_breaker": {"enable": True, "rollback": True},
        "deployment_minimum_healthy_percent": 100, "deployment_maximum_percent": 200,
        "enable_ecs_managed_tags": True, "propagate_tags": "SERVICE",
        # `up` waits until the tasks run and pass their health checks (the provider's
        # 20-minute create/update timeout); a task that crash-loops trips the circuit
        # breaker, which rolls back and fails the deployment instead of reporting success.
        "wait_for_steady_state": True, **where, "tags": ctx.tags(),
    }
    if svc.port:
        discovery = ctx.add("aws:servicediscovery/service:Service", n(f"{prefix}-discovery"), {
            "name": svc.name,
            "dns_config": {"namespace_id": ref(site_name("ecs-namespace", site), "id"),
                           "dns_records": [{"ttl": 10, "type": "A"}], "routing_policy": "MULTIVALUE"},
            "health_check_custom_config": {"failure_threshold": 1},
            "force_destroy": True, **where, "tags": ctx.tags(),
        })
        props["service_registries"] = {"registry_arn": ref(discovery, "arn")}
    depends_on = []
    if attachments:
        props["load_balancers"] = [
            {"target_group_arn": ref(tg, "arn"), "container_name": svc.name, "container_port": port}
            for tg, port, _, _ in attachments]
        props["health_check_grace_period_seconds"] = 60
        # A target group must be attached to a listener before a service registers in it.
        depends_on = sorted({listener for _, _, _, listeners in attachments for listener in listeners})
    ctx.add("aws:ecs/service:Service", n(prefix), props, depends_on=depends_on)


# ---------------------------------------------------------------- finish: rules needing every component


def grant_access(ctx: AwsContext) -> None:
    """Security-group ingress from each service to the services and balancers its env names.

    Run once every component is built; a rule is only added where the target
    has a security group at that site.
    """
    for svc in ctx.bp.services.values():
        svc_ref = ctx.ref_of(svc)
        named = dict.fromkeys(read.target for read in ctx.access.reads_of(svc_ref) if read.env is not None)
        for site in ctx.sites.all:
            for target_ref in named:
                target = ctx.bp.component(target_ref)
                if target is None or target_ref == svc_ref or target.section not in ("services", "load_balancers"):
                    continue
                if ctx.networks.has_security_group(target, site):
                    for port, protocol in ports_of(target):
                        ctx.networks.allow(svc, target, port, site, protocol)


def ports_of(component: Component) -> list[tuple[int, str]]:
    """(port, protocol) a client opens on a service or balancer (for security-group rules)."""
    if component.section == "services":
        return [(component.port, "tcp")] if component.port else []
    return sorted({(listener.port, transport(listener.protocol)) for listener in component.listeners})


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.5, "Amazon Compute SLA, instance level (one ECS Fargate task)",
                            "Compute SLA, one task")
facts = common.services
