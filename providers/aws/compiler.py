"""The AWS target: a blueprint as pulumi_aws resources an architect would sign off.

Split by concern: this module holds the walk and the attributes; `network.py`
the VPC and security groups; `compute.py` ECS Fargate; `balancers.py` ALB/NLB;
`certificates.py` ACM; `edge.py` CloudFront, S3 origins and WAF; `dns.py`
Route53; `alarms.py` SLO alarms; `data.py` the stores (RDS, Aurora DSQL,
ElastiCache, SQS); `recovery.py` the DR site and backups.

Contract between the modules (the shared state of one compile):
- `self.network(site)` → `Network` for site "primary" or "dr": resource names
  of the VPC, private and public subnets, and the region (DR resources pass
  `region=` — pulumi_aws v7 takes it on every regional resource; primary
  ones pass it too, so placement never depends on ambient configuration).
- `self.security_group(component, site)` → the resource name of the
  component's security group (created on first use, with no rules).
- `self.allow(source_component, target_component, port, site)` → an ingress
  rule on the target's group from the source's group only (idempotent).
- `self.site` → the site being compiled ("primary", or "dr" while the hot
  DR copy of a service or balancer is built), so `data_attribute` can point
  a DR copy at the DR site's stores.
- `self.data_attribute(component, attr, site)` (DataMixin) → `${...}` values
  of databases, caches and queues; `data_secrets(service)` /
  `data_secret_arns(service)` → the ECS `secrets` entries of store passwords.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from topoform.dsl.models import Cdn, Component, LoadBalancer, ReverseProxy, Service
from topoform.providers.base import Compiler
from topoform.providers.plan import ref

from .alarms import AlarmMixin
from .balancers import BalancerMixin
from .certificates import CertificateMixin
from .compute import ComputeMixin
from .data import DataMixin
from .dns import DnsMixin
from .edge import EdgeMixin
from .network import DR, PRIMARY, NetworkMixin
from .recovery import RecoveryMixin


@dataclass
class Network:
    site: str
    region: str
    vpc: str  # resource name of the aws:ec2/vpc:Vpc
    private_subnets: list[str] = field(default_factory=list)
    public_subnets: list[str] = field(default_factory=list)
    cidr: str = ""  # the VPC's address block
    zones: list[str] = field(default_factory=list)  # availability zone names, one subnet pair each


class NotYetOnAws:
    """Last in the MRO: a section no mixin compiles is a clear error, never a silent gap."""

    def _missing(self, component: Component) -> None:
        raise self.unsupported(f"{self.ref_of(component)}: {component.section} are not supported on the aws target yet",
                               "deploy with --target docker", component.section, component.name)

    compile_databases = compile_caches = compile_queues = _missing

    def data_attribute(self, component: Component, attr: str, site: str = "primary") -> str:
        raise self.unsupported(f"{self.ref_of(component)}.{attr}: {component.section} are not supported on aws yet",
                               "deploy with --target docker", component.section, component.name)

    def compile_disaster_recovery(self, dr) -> None:
        raise self.unsupported("disaster_recovery is not supported on the aws target yet",
                               "deploy with --target docker", "disaster_recovery")


class AwsCompiler(NetworkMixin, ComputeMixin, BalancerMixin, CertificateMixin, EdgeMixin, DnsMixin, AlarmMixin,
                  DataMixin, RecoveryMixin, NotYetOnAws, Compiler):
    target = "aws"

    def __init__(self, bp, stack: str = "dev"):
        super().__init__(bp, stack)
        self._networks: dict[str, Network] = {}
        self._security_groups: dict[tuple[str, str], str] = {}
        self._rules: set[tuple] = set()
        self._service_uses: dict[tuple[str, str], dict[str, None]] = {}
        self._web_acls: dict[tuple[str, str], str] = {}
        self._refs: dict[int, str] = {}
        self._prefixes: dict[int, str] = {}
        self.site = PRIMARY

    @contextmanager
    def at(self, site: str) -> Iterator[None]:
        previous, self.site = self.site, site
        try:
            yield
        finally:
            self.site = previous

    # ---------------------------------------------------------------- the walk

    def compile_platform(self) -> None:
        self.index_balancers()
        self.index_aliases()
        bp = self.bp
        # The networks first, so the Plan reads top-down: VPC, then what runs in it.
        if bp.services or bp.load_balancers or bp.databases or bp.caches:
            self.network(PRIMARY)
        if self.hot_dr and (bp.services or bp.load_balancers):
            self.network(DR)

    def compile_services(self, svc: Service) -> None:
        for site in self.sites():
            with self.at(site):
                self.build_service(svc, site)
        self.component_outputs(svc)

    def compile_load_balancers(self, lb: LoadBalancer) -> None:
        for site in self.sites():
            with self.at(site):
                self.build_balancer(lb, site)
        self.component_outputs(lb)

    def compile_reverse_proxies(self, proxy: ReverseProxy) -> None:
        self.build_reverse_proxy(proxy)
        self.component_outputs(proxy)

    def compile_cdns(self, cdn: Cdn) -> None:
        self.build_cdn(cdn)
        self.component_outputs(cdn)

    def finish(self) -> None:
        self.grant_service_access()
        parent_finish = getattr(super(), "finish", None)
        if parent_finish is not None:
            parent_finish()

    def component_outputs(self, component: Component) -> None:
        """`url` of the component on its ComponentResource and as a stack output."""
        url = self.attribute(component, "url")
        self.plan.components[self.ref_of(component)].outputs["url"] = url
        self.plan.outputs[f"{self.ref_of(component)}.url"] = url

    # ---------------------------------------------------------------- attributes

    def attribute(self, component: Component, attr: str) -> str:
        section = component.section
        if section in ("databases", "caches", "queues"):
            return self.data_attribute(component, attr, site=self.site)
        if attr == "name":
            return component.name
        if section == "services":
            host, port, scheme = f"{component.name}.{self.namespace}", component.port, "http"
        elif section == "load_balancers":
            host = ref(self.balancer_name(component, self.site), "dns_name")
            port = self.balancer_port(component)
            scheme = ("https" if self.balancer_has_tls(component) else "http") if component.layer == 7 else "tcp"
        elif section in ("cdns", "reverse_proxies") and self.has_distribution(component):
            aliases = self._aliases.get(self.ref_of(component))
            host = aliases[0] if aliases else ref(self.distribution_name(component), "domain_name")
            port, scheme = 443, "https"
        elif section == "reverse_proxies":
            return self.attribute(self.origin_balancer(component, (section, component.name)), attr)
        else:
            raise self.unsupported(f"{self.ref_of(component)} has no attribute {attr!r} on aws", None, section, component.name)
        if attr == "host":
            return host
        if attr == "port":
            if port is None:
                raise self.unsupported(f"{self.ref_of(component)} has no port", f"give {self.ref_of(component)} a `port`",
                                       section, component.name)
            return str(port)
        if attr == "url":
            default = {"http": 80, "https": 443}.get(scheme)
            return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")
        raise self.unsupported(f"{self.ref_of(component)} has no attribute {attr!r}", "use url, host, port or name",
                               section, component.name)
