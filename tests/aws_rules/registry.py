"""The rule registry: AWS constraints written as checks over a compiled Plan.

Each rule is one small function from a Plan to the violations it finds,
registered with an id, the AWS (or provider) documentation page it comes
from and the sentence of that page it relies on, paraphrased. Where a
maintained library already encodes the constraint (botocore's service
models, cfn-lint's schema extensions, the pulumi_aws SDK), the rule reads
it from there and names it in `source`, rather than copying a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from topoform.providers.plan import Plan


@dataclass(frozen=True)
class Violation:
    resource: str
    property: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.property}: {self.message}"


Check = Callable[[Plan], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    id: str
    doc: str  # the page the constraint is documented on
    says: str  # what that page says, paraphrased
    check: Check
    source: str = "the AWS documentation above"  # where the data the rule reads comes from

    def violations(self, plan: Plan) -> list[Violation]:
        return list(self.check(plan))


RULES: dict[str, Rule] = {}


def rule(id: str, doc: str, says: str, source: str | None = None) -> Callable[[Check], Check]:
    """Register the decorated check under `id` (ids are unique)."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"two AWS rules named {id!r}")
        RULES[id] = Rule(id, doc, says, check, *([source] if source else []))
        return check

    return register


def all_rules() -> Iterator[Rule]:
    """Every rule, with every rule module imported (each registers on import)."""
    from . import rules_data, rules_edge, rules_fis, rules_gateway, rules_network, rules_nosql, rules_ops  # noqa: F401

    yield from RULES.values()


def each(token: str, prop: str, bad: Callable[[Plan, Any], bool], message: str | Callable[[Any], str]) -> Check:
    """The check of a one-resource, one-property rule: every resource of type
    `token` for which `bad(plan, resource)` holds violates it at `prop`."""

    def check(plan: Plan) -> Iterator[Violation]:
        for resource in plan.of_type(token):
            if bad(plan, resource):
                yield Violation(resource.name, prop, message(resource) if callable(message) else message)

    return check
