"""Services on ECS Fargate: cluster, roles, task definitions, services, Cloud Map.

Each service gets its own execution role (pull the image, write logs, read
only its own secrets) and task role (what the application may call; the data
stores attach their grants to it — receive from a consumed queue, send to
another). Environment values whose names say SECRET/PASSWORD/TOKEN/KEY go to
Secrets Manager, and store passwords come from the RDS-managed secret; both
reach the container through `secrets`, never as plain `environment`, so they
show in neither the task definition nor the Plan. Tasks run in private subnets with
no public address; a deployment that fails to stabilise rolls back
(circuit breaker).
"""

from __future__ import annotations

import re
from typing import Iterator

from topoform.dsl.models import Service
from topoform.providers.base import PLATFORM
from topoform.providers.plan import ref

from .network import PRIMARY, site_name

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
TASK_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
# Fargate's valid task sizes: CPU units → (min, max, step) of memory in MiB.
FARGATE_MEMORY = {
    256: (512, 2048, None), 512: (1024, 4096, 1024), 1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024), 4096: (8192, 30720, 1024), 8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
FARGATE_256_MEMORY = (512, 1024, 2048)
SECRET_NAME_RE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.I)
INTERPOLATION_RE = re.compile(r"\$\{\s*(services|load_balancers|reverse_proxies|cdns|databases|caches|queues)"
                              r"\.([a-z][a-z0-9-]*)\.([a-z_]+)\s*\}")


def interpolations(text: str) -> Iterator[tuple[str, str, str]]:
    """(section, name, attr) of every `${kind.name.attr}` in `text`."""
    for match in INTERPOLATION_RE.finditer(text):
        yield match.group(1), match.group(2), match.group(3)


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


class ComputeMixin:
    """ECS Fargate services at each site (see compiler.py for the walk)."""

    def cluster(self, site: str) -> str:
        """The ECS cluster and Cloud Map namespace of `site`, created once (platform)."""
        name = site_name("ecs-cluster", site)
        if name not in self.plan:
            net = self.network(site)
            with self.owning(PLATFORM, ()):
                self.add("aws:ecs/cluster:Cluster", name, {
                    "settings": [{"name": "containerInsights", "value": "enabled"}],
                    "region": net.region, "tags": self.tags(),
                })
                self.add("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace", site_name("ecs-namespace", site), {
                    "name": self.namespace, "vpc": ref(net.vpc, "id"),
                    "description": f"service discovery for {self.bp.blueprint} ({site} site)",
                    "region": net.region, "tags": self.tags(),
                })
        return name

    @property
    def namespace(self) -> str:
        """Cloud Map private DNS name: `web.{blueprint}.local` reaches service `web`."""
        return f"{self.bp.blueprint}.local"

    # ---------------------------------------------------------------- per service

    def service_roles(self, svc: Service) -> tuple[str, str]:
        """(execution role, task role) names of the service; IAM is global, so one pair serves both sites."""
        prefix = self.prefix(svc)
        execution, task = f"{prefix}-execution-role", f"{prefix}-task-role"
        if execution not in self.plan:
            self.add("aws:iam/role:Role", execution, {
                "assume_role_policy": {"$json": TASK_TRUST},
                "description": f"ECS pulls the image, writes logs and reads the secrets of {self.ref_of(svc)}",
                "tags": self.tags(),
            })
            self.add("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{prefix}-execution-policy", {
                "role": ref(execution, "name"), "policy_arn": EXECUTION_POLICY,
            })
            self.add("aws:iam/role:Role", task, {
                "assume_role_policy": {"$json": TASK_TRUST},
                "description": f"what {self.ref_of(svc)} may call",
                "tags": self.tags(),
            })
        return execution, task

    def build_service(self, svc: Service, site: str) -> None:
        memory_mib = max(int(svc.memory // 1024**2), 1)
        size = fargate_size(svc.cpu, memory_mib)
        if size is None:
            raise self.unsupported(f"Fargate tasks hold at most 16384 cpu units and 120GiB; {svc.cpu} and "
                                   f"{memory_mib}MiB were asked", "lower `cpu` or `memory`", "services", svc.name)
        task_cpu, task_memory = size
        if (task_cpu, task_memory) != (svc.cpu, memory_mib) and site == PRIMARY:
            # The container keeps exactly its limits; only the task (the billing unit) rounds up.
            self.warn(f"{self.ref_of(svc)}: Fargate has no task of cpu {svc.cpu} and {memory_mib}MiB; the task gets "
                      f"cpu {task_cpu} and {task_memory}MiB, the container keeps its limits",
                      None, "services", svc.name)
        net = self.network(site)
        cluster = self.cluster(site)
        prefix = self.prefix(svc)
        n = lambda name: site_name(name, site)  # noqa: E731
        where = {"region": net.region}
        execution, task_role = self.service_roles(svc)
        sg = self.security_group(svc, site)
        # Tasks pull images and call AWS APIs through the NAT gateway.
        self.allow_egress(svc, site, why="image pulls, AWS APIs and the stores this service uses")
        if svc.public and svc.port:
            self.allow_cidr(svc, svc.port, "0.0.0.0/0", site, why=f"{self.ref_of(svc)} is public")

        logs = self.add("aws:cloudwatch/logGroup:LogGroup", n(f"{prefix}-logs"), {
            "name": f"/topoform/{self.bp.blueprint}/{self.stack}/{svc.name}",
            "retention_in_days": 30, **where, "tags": self.tags(),
        })
        environment, secrets = [], []
        for key, value in svc.env.items():
            text = self.interpolate(value)
            if self.carries_credentials(key, value):
                secret = self.add("aws:secretsmanager/secret:Secret", n(f"{prefix}-env-{key.lower().replace('_', '-')}"), {
                    "description": f"{key} of {self.ref_of(svc)}", "recovery_window_in_days": 7, **where, "tags": self.tags(),
                })
                self.add("aws:secretsmanager/secretVersion:SecretVersion", f"{secret.name}-value", {
                    "secret_id": ref(secret, "id"), "secret_string": {"$secret": text}, **where,
                })
                secrets.append({"name": key, "valueFrom": ref(secret, "arn")})
            else:
                environment.append({"name": key, "value": text})
            self.note_references(svc, value, site)
        readable = [s["valueFrom"] for s in secrets]
        # Store passwords (RDS-managed secrets) reach the container the same way.
        store_secrets = self.data_secrets(svc) if hasattr(self, "data_secrets") else []
        secrets += [s for s in store_secrets if s["name"] not in svc.env]
        readable += self.data_secret_arns(svc) if store_secrets else []
        if readable:
            self.add("aws:iam/rolePolicy:RolePolicy", n(f"{prefix}-execution-secrets"), {
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
        if svc.port:
            container["portMappings"] = [{"containerPort": svc.port, "protocol": "tcp", "name": "main"}]
        if svc.command:
            container["command"] = list(svc.command)
        task = self.add("aws:ecs/taskDefinition:TaskDefinition", n(f"{prefix}-task"), {
            "family": f"{self.bp.blueprint}-{self.stack}-{site_name(svc.name, site)}",
            "cpu": str(task_cpu), "memory": str(task_memory),
            "network_mode": "awsvpc", "requires_compatibilities": ["FARGATE"],
            "runtime_platform": {"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            "execution_role_arn": ref(execution, "arn"), "task_role_arn": ref(task_role, "arn"),
            "container_definitions": {"$json": [container]}, **where, "tags": self.tags(),
        })
        props: dict = {
            "cluster": ref(cluster, "arn"), "task_definition": ref(task, "arn"),
            "desired_count": svc.replicas, "launch_type": "FARGATE", "platform_version": "LATEST",
            "network_configuration": {
                "subnets": self.subnet_ids(site, public=svc.public), "security_groups": [ref(sg, "id")],
                "assign_public_ip": bool(svc.public)},
            "deployment_circuit_breaker": {"enable": True, "rollback": True},
            "deployment_minimum_healthy_percent": 100, "deployment_maximum_percent": 200,
            "enable_ecs_managed_tags": True, "propagate_tags": "SERVICE",
            "wait_for_steady_state": False, **where, "tags": self.tags(),
        }
        if svc.port:
            discovery = self.add("aws:servicediscovery/service:Service", n(f"{prefix}-discovery"), {
                "name": svc.name,
                "dns_config": {"namespace_id": ref(site_name("ecs-namespace", site), "id"),
                               "dns_records": [{"ttl": 10, "type": "A"}], "routing_policy": "MULTIVALUE"},
                "health_check_custom_config": {"failure_threshold": 1},
                "force_destroy": True, **where, "tags": self.tags(),
            })
            props["service_registries"] = {"registry_arn": ref(discovery, "arn")}
        attachments = self.balancer_attachments(svc, site)
        depends_on = []
        if attachments:
            props["load_balancers"] = [
                {"target_group_arn": ref(tg, "arn"), "container_name": svc.name, "container_port": port}
                for tg, port, _ in attachments]
            props["health_check_grace_period_seconds"] = 60
            # A target group must be attached to a listener before a service registers in it.
            depends_on = sorted({listener for _, _, listeners in attachments for listener in listeners})
        self.add("aws:ecs/service:Service", n(prefix), props, depends_on=depends_on)

    def carries_credentials(self, key: str, value: str) -> bool:
        """A value the blueprint names as secret. Store URLs carry no password on aws: DataMixin
        hands the RDS-managed password to the container through `data_secrets`."""
        return bool(SECRET_NAME_RE.search(key))

    def note_references(self, svc: Service, value: str, site: str) -> None:
        """Remember which components the service reads, for network rules and IAM (applied in `finish`)."""
        for kind, name, _ in interpolations(value):
            self._service_uses.setdefault((self.ref_of(svc), site), {})[f"{kind}.{name}"] = None

    # ---------------------------------------------------------------- finish: rules needing every component

    def grant_service_access(self) -> None:
        """Security-group ingress from each service to the services and balancers it reads.

        Run once every component is compiled. Data stores admit their users
        themselves (DataMixin), as do their IAM grants; a rule is only added
        where the target has a security group at that site.
        """
        for svc in self.bp.services.values():
            for site in self.sites():
                for target_ref in self._service_uses.get((self.ref_of(svc), site), {}):
                    target = self.bp.component(target_ref)
                    if target is None or target_ref == self.ref_of(svc) or target.section not in ("services", "load_balancers"):
                        continue
                    if self.has_security_group(target, site):
                        for port in self.ports_of(target):
                            self.allow(svc, target, port, site)

    def ports_of(self, component) -> list[int]:
        """Ports a client opens on `component` (for security-group rules)."""
        section = component.section
        if section == "services":
            return [component.port] if component.port else []
        if section == "load_balancers":
            return sorted({listener.port for listener in component.listeners})
        if section == "databases":
            return [3306 if component.engine in ("mysql", "mariadb") else 5432]
        if section == "caches":
            return [11211 if component.engine == "memcached" else 6379]
        return []
