"""Reading a Plan the way the rules need: references, nested values, sites.

A Plan is plain data: `${name.attr}` strings stand for another resource's
output and `{"$json": value}` for a document the program serialises. The
rules look through both, so these helpers resolve them once, here.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from topoform.providers.plan import Plan, Resource

from .registry import Violation

REFERENCE = re.compile(r"(?<!\$)\$\{([a-z0-9][a-z0-9-]*)\.([^}]+)\}")


def references(value: Any) -> list[tuple[str, str]]:
    """(resource name, attribute) of every reference in `value`, in order."""
    return REFERENCE.findall(json.dumps(value))


def target(plan: Plan, value: Any) -> Resource | None:
    """The resource a whole-value reference (`${name.attr}`) points at."""
    if isinstance(value, str):
        match = REFERENCE.fullmatch(value)
        if match and match.group(1) in plan:
            return plan.get(match.group(1))
    return None


def document(value: Any) -> Any:
    """A `$json` document's value (or a JSON string parsed), else the value itself."""
    if isinstance(value, dict) and set(value) == {"$json"}:
        return value["$json"]
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        return json.loads(value)
    return value


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, scalar) for every scalar nested in `value`."""
    value = document(value) if isinstance(value, dict) else value
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from leaves(inner, f"{path}[{i}]")
    else:
        yield path, value


def policies(plan: Plan) -> Iterator[tuple[Resource, str, Any]]:
    """(resource, property, value) of every IAM or resource policy document in the Plan."""
    for resource in plan.resources:
        for prop in ("policy", "assume_role_policy"):
            if prop in resource.properties:
                yield resource, prop, resource.properties[prop]


def referrers(plan: Plan, resource: Resource, token: str | None = None) -> list[Resource]:
    """Resources (of `token`, if given) whose properties reference `resource`."""
    return [r for r in plan.resources if (token is None or r.type == token) and resource.name in r.references()]


def violation(resource: Resource, prop: str, message: str) -> Violation:
    return Violation(resource.name, prop, message)


def is_dr(resource: Resource) -> bool:
    """Part of the DR site: compilers name every DR-site resource `dr-…`."""
    return resource.name.startswith("dr-")


def regions(plan: Plan) -> tuple[str | None, str | None]:
    """(primary region, DR region) read from the site networks the Plan builds."""
    primary = dr = None
    for vpc in plan.of_type("aws:ec2/vpc:Vpc"):
        if is_dr(vpc):
            dr = vpc.properties.get("region")
        else:
            primary = vpc.properties.get("region")
    return primary, dr


def site_region(plan: Plan, resource: Resource) -> str | None:
    """The region a resource lives in: its own `region`, else its site's (IAM is global)."""
    primary, dr = regions(plan)
    return resource.properties.get("region") or (dr if is_dr(resource) else None)


def origins_of(plan: Plan) -> dict[str, list[Resource]]:
    """Balancer name → the CloudFront distributions that use it as an origin.

    Origins name their balancer by `origin_id` (the component ref, as
    `load_balancers.edge`); the balancer carries that component.
    """
    balancers = {lb.component: lb for lb in plan.of_type("aws:lb/loadBalancer:LoadBalancer") if not is_dr(lb)}
    found: dict[str, list[Resource]] = {}
    for dist in plan.of_type("aws:cloudfront/distribution:Distribution"):
        for origin in dist.properties.get("origins", []):
            lb = balancers.get(origin.get("origin_id"))
            if lb is not None:
                found.setdefault(lb.name, []).append(dist)
    return found


def ingress_rules(plan: Plan, security_group: str) -> list[Resource]:
    """The ingress rules attached to the security group named `security_group`."""
    return [r for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            if target(plan, r.properties.get("security_group_id")) is not None
            and target(plan, r.properties["security_group_id"]).name == security_group]


PREFIX_LIST_LOOKUP = "aws:ec2/getManagedPrefixList:getManagedPrefixList"
CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
OPEN = ("0.0.0.0/0", "::/0")


def lookup_of(value: Any) -> dict | None:
    """The call of a `{"$lookup": {function, args, attr}}` value (providers/values.py), else None."""
    if isinstance(value, dict) and set(value) == {"$lookup"}:
        return value["$lookup"]
    return None


def ingress_sources(plan: Plan, ingress: Resource) -> list[tuple[str, Any]]:
    """What a security-group rule admits, each as (kind, what): ("cidr", "0.0.0.0/0"),
    ("group", the referenced security group), ("prefix-list", its name when a `$lookup`
    of a managed prefix list gives the id, else the id)."""
    p = ingress.properties
    found: list[tuple[str, Any]] = [("cidr", p[k]) for k in ("cidr_ipv4", "cidr_ipv6") if p.get(k)]
    if p.get("referenced_security_group_id"):
        found.append(("group", target(plan, p["referenced_security_group_id"]) or p["referenced_security_group_id"]))
    if p.get("prefix_list_id"):
        call = lookup_of(p["prefix_list_id"])
        if call is not None and call.get("function") == PREFIX_LIST_LOOKUP and call.get("attr") == "id":
            found.append(("prefix-list", (call.get("args") or {}).get("name")))
        else:
            found.append(("prefix-list", p["prefix_list_id"]))
    return found


def warned(plan: Plan, start: str, *parts: str) -> bool:
    """Whether the Plan carries a warning starting with `start` and containing every one of `parts`."""
    return any(w.message.startswith(start) and all(part in w.message for part in parts)
               for w in getattr(plan, "warnings", []) if getattr(w, "severity", "warning") == "warning")
