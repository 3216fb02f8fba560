"""IAM: each service's two ECS roles, inline grants on them, and policy documents.

IAM is global, so one pair of roles serves a service at both sites: the
execution role (ECS pulls the image, writes logs, reads the service's
secrets) and the task role (what the application may call). Stores that a
service uses attach their grants to its task role (`grant_task_role`); the
role's name is a function of the service's name (`task_role_name`), and a
grant refuses to name a role the compile has not made.
"""

from __future__ import annotations

from typing import Any

from topoform.dsl.models import Service
from topoform.providers.base import BuildContext
from topoform.providers.plan import ref

from .names import Names

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def policy_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """An IAM policy document as a Plan value (JSON-encoded by the program)."""
    return {"$json": {"Version": "2012-10-17", "Statement": statements}}


def assume(service: str) -> dict[str, Any]:
    """The trust policy letting an AWS service (`ecs-tasks.amazonaws.com`) assume a role."""
    return policy_document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def task_role_name(service_ref: str) -> str:
    """The ECS task role of a service (`services.worker` → `svc-worker-task-role`)."""
    return f"svc-{service_ref.partition('.')[2]}-task-role"


class Iam:
    def __init__(self, ctx: BuildContext, names: Names):
        self._ctx = ctx
        self._names = names

    def service_roles(self, svc: Service) -> tuple[str, str]:
        """(execution role, task role) names of the service, created with the service's first site."""
        ctx = self._ctx
        prefix = self._names.prefix(svc)
        execution, task = f"{prefix}-execution-role", task_role_name(self._names.ref(svc))
        if execution not in ctx.plan:
            ctx.add(ROLE, execution, {
                "assume_role_policy": assume("ecs-tasks.amazonaws.com"),
                "description": f"ECS pulls the image, writes logs and reads the secrets of {self._names.ref(svc)}",
                "tags": ctx.tags(),
            })
            ctx.add(ATTACHMENT, f"{prefix}-execution-policy", {
                "role": ref(execution, "name"), "policy_arn": EXECUTION_POLICY,
            })
            ctx.add(ROLE, task, {
                "assume_role_policy": assume("ecs-tasks.amazonaws.com"),
                "description": f"what {self._names.ref(svc)} may call",
                "tags": ctx.tags(),
            })
        return execution, task

    def grant_task_role(self, name: str, service_ref: str, statements: list[dict[str, Any]], store: str) -> None:
        """An inline policy `name` on the service's task role, granting it access to `store`."""
        role = task_role_name(service_ref)
        if role not in self._ctx.plan:
            raise self._ctx.unsupported(
                f"{service_ref} has no task role {role!r} to grant access to {store} (a provider bug)", None)
        self._ctx.add(ROLE_POLICY, name, {"role": ref(role, "name"), "policy": policy_document(statements)})
