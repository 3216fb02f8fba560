"""Which services sit behind which balancer, on which port and protocol: one pass over the
blueprint, before any build.

A leaf module. Services are built before balancers, but a service's ECS
service must name the target groups it registers in and the listeners that
forward to them; those names are functions of the balancer and the
`group_key` recorded here (see kinds/load_balancers.py), so the service can
name them before the balancer exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from topoform.dsl.models import Blueprint

from .names import Names


@dataclass(frozen=True)
class Attachment:
    """A service behind a balancer: the target group it registers in, on which port."""

    balancer: str  # load balancer ref
    group_key: str  # service name (layer 7) or listener port (layer 4)
    port: int
    protocol: str = "tcp"  # the transport the target receives: udp behind a UDP listener


def transport(listener_protocol: str | None) -> str:
    """The IP protocol a layer 4 listener carries to its targets (TLS ends at the NLB: tcp)."""
    return "udp" if listener_protocol == "udp" else "tcp"


class Attachments:
    def __init__(self, bp: Blueprint, names: Names):
        self._by_service: dict[str, list[Attachment]] = {}
        for lb in bp.load_balancers.values():
            seen: set = set()
            if lb.layer == 7:
                for route in lb.routes or ():
                    svc = bp.component(route.target)
                    if svc is not None and names.ref(svc) not in seen and svc.port:
                        seen.add(names.ref(svc))
                        self._add(names.ref(svc), Attachment(names.ref(lb), svc.name, svc.port))
            else:
                for listener in lb.listeners:
                    for target in lb.targets or ():
                        svc = bp.component(target.target)
                        port = target.port or (svc.port if svc else None)
                        key = (target.target, listener.port)
                        if svc is not None and port and key not in seen:
                            seen.add(key)
                            self._add(names.ref(svc), Attachment(names.ref(lb), str(listener.port), port,
                                                                 transport(listener.protocol)))

    def _add(self, service: str, attachment: Attachment) -> None:
        self._by_service.setdefault(service, []).append(attachment)

    def of(self, service: str) -> list[Attachment]:
        """The balancers in front of `service`, in blueprint order."""
        return self._by_service.get(service, [])
