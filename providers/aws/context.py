"""`AwsContext`: the state of one AWS compile, held by named collaborators.

Every builder (the kind modules under kinds/, and the dns, recovery and
alarms passes) receives the context and reaches shared resources only
through these, each the sole keeper of its state:

- `sites` (sites.py): the regions of the primary and DR sites, and which run what;
- `networks` (network.py): each site's VPC, each component's security group
  per site, and `allow`/`allow_cidr`/`allow_egress` rules (each made once);
- `iam` (iam.py): the ECS roles of each service and grants on its task role;
- `certificates` (certificates.py): the Route53 zone, ACM certificates per
  region, and the record names aliasing each distribution;
- `access` (dsl/topology.py, built once during validation): what each
  service reads (store grants, security-group rules, store passwords) and
  each queue's consumers;
- `attachments` (attachments.py): which services sit behind which balancer;
- `web_acl_owners`: the reverse proxy whose WAF web ACL each balancer at each
  site carries (a balancer takes one).

`${kind.name.attr}` answers depend on the site asking: a service's DR copy
reads the DR balancer and stores. `at(site)` returns a view of this context
whose answers are `site`'s; the context itself always answers for the
primary site, so an answer never depends on what was built before it.
This module imports only those collaborators, never a builder, so builders
can import it without a cycle.
"""

from __future__ import annotations

import copy
from typing import Any

from topoform.dsl.models import Blueprint, Component
from topoform.dsl.topology import Topology, topology
from topoform.providers.base import BuildContext

from .attachments import Attachments
from .certificates import Certificates
from .iam import Iam
from .names import Names
from .network import Networks
from .sites import PRIMARY, Sites


class AwsContext(BuildContext):
    target = "aws"
    site = PRIMARY  # the site whose `${...}` answers this context gives (see `at`)

    def __init__(self, bp: Blueprint, stack: str = "dev", kinds=None):
        super().__init__(bp, stack, kinds)
        self.names = Names()
        self.sites = Sites(self)
        self.networks = Networks(self, self.sites, self.names)
        self.iam = Iam(self, self.names)
        self.certificates = Certificates(self, self.sites)
        self.access: Topology = topology(bp)
        self.attachments = Attachments(bp, self.names)
        self.web_acl_owners: dict[tuple[str, str], str] = {}
        # What a kind module derives from the whole blueprint once per compile (shared with the site views).
        self.indexes: dict[str, Any] = {}
        self._views: dict[str, AwsContext] = {PRIMARY: self}

    def at(self, site: str) -> "AwsContext":
        """This context answering `${...}` for `site`; it shares everything else (plan, collaborators)."""
        view = self._views.get(site)
        if view is None:
            view = self._views[site] = copy.copy(self)
            view.site = site
        return view

    # ---------------------------------------------------------------- names

    def prefix(self, component: Component) -> str:  # type: ignore[override] — cached, same answer
        return self.names.prefix(component)

    def ref_of(self, component: Component | str) -> str:
        return self.names.ref(component)

    @property
    def namespace(self) -> str:
        """Cloud Map private DNS name: `web.{blueprint}.local` reaches service `web`."""
        return f"{self.bp.blueprint}.local"

    # ---------------------------------------------------------------- outputs

    def export(self, component: Component, attrs: tuple[str, ...]) -> None:
        """Attributes of `component` (primary site) on its ComponentResource and as stack outputs."""
        ref = self.ref_of(component)
        info = self.plan.components[ref]
        for attr in attrs:
            value = self.attribute(component, attr)
            info.outputs[attr] = value
            self.plan.outputs[f"{ref}.{attr}"] = value
