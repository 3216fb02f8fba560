"""Who uses what: the components each service's strings reference, stores above all.

On AWS a store is private: its security group admits only the services that
read one of its attributes (`${databases.users.url}` in an env value or a
command), and IAM grants (queues, DSQL) go to the same services. A cache's
`in_front_of` is a design note, not a connection, so it grants nothing.
Computed once per compile in one pass over the services (linear in the size
of the blueprint). `references(text)` is the one reading of a string's
`${kind.name.attr}` the target has: services use it for the security-group
rules to the services and balancers they name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterator

from topoform.dsl.models import Blueprint, Service
from topoform.dsl.references import INTERPOLATION_RE

STORE_SECTIONS = ("databases", "caches", "queues")


@dataclass(frozen=True, slots=True)
class Use:
    """Service `service` reads attribute `attr` of store `store`, in env key `env` (None: elsewhere)."""

    service: str
    store: str
    attr: str
    env: str | None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def references(text: str) -> Iterator[tuple[str, str, str]]:
    """(section, name, attr) of each `${kind.name.attr}` in `text` (validation checked them all)."""
    if "${" not in text:
        return
    for match in INTERPOLATION_RE.finditer(text):
        if match.group(1) is None:
            continue  # `$${`: a literal
        parts = match.group(1).strip().split(".")
        if len(parts) == 3:
            yield parts[0], parts[1], parts[2]


def _store_references(text: str) -> Iterator[tuple[str, str]]:
    """(store ref, attr) for each `${kind.name.attr}` naming a data store in `text`."""
    for section, name, attr in references(text):
        if section in STORE_SECTIONS:
            yield f"{section}.{name}", attr


def service_uses(service: Service) -> list[Use]:
    uses: list[Use] = []
    for key, value in service.env.items():
        for store, attr in _store_references(value):
            uses.append(Use(service.ref, store, attr, key))
    for text in _strings(service.command or []):
        for store, attr in _store_references(text):
            uses.append(Use(service.ref, store, attr, None))
    return uses


@dataclass
class StoreAccess:
    """Every use of every store in one blueprint, indexed both ways, and each queue's consumers."""

    by_store: dict[str, list[Use]]
    by_service: dict[str, list[Use]]
    consumers: dict[str, list[str]]

    def users(self, store: str) -> list[str]:
        """Services that reference `store`, in blueprint order, each once."""
        return list(dict.fromkeys(use.service for use in self.by_store.get(store, ())))

    def uses_of(self, service: str) -> list[Use]:
        return self.by_service.get(service, [])

    def consumers_of(self, queue: str) -> list[str]:
        return self.consumers.get(queue, [])


def store_access(bp: Blueprint) -> StoreAccess:
    by_store: dict[str, list[Use]] = defaultdict(list)
    by_service: dict[str, list[Use]] = {}
    # A queue's consumers: its `consumers` list, then every service whose `consumes` names it.
    readers: dict[str, list[str]] = {queue.ref: list(queue.consumers) for queue in bp.queues.values()}
    for service in bp.services.values():
        uses = service_uses(service)
        by_service[service.ref] = uses
        for use in uses:
            by_store[use.store].append(use)
        for queue_ref in service.consumes:
            readers.setdefault(queue_ref, []).append(service.ref)
    consumers = {queue: list(dict.fromkeys(services)) for queue, services in readers.items()}
    return StoreAccess(dict(by_store), by_service, consumers)
