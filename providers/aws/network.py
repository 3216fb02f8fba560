"""AWS network of one site: VPC, subnets per AZ, internet and NAT gateways, routes,
and one security group per component with ingress only from those that use it.

Private by default: compute and data sit in private subnets whose only way out
is a NAT gateway per AZ (so losing one AZ does not cut the others off); only
balancers and NAT gateways live in public subnets. Security groups start
empty — AWS's allow-all egress rule is removed by the provider — and every
rule is added for a reason: `allow(source, target, port)` references the
source's group, never an address range, so nothing but the named component
reaches a database, cache or balancer port.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from topoform.dsl.models import Component
from topoform.providers.base import PLATFORM, Compiler
from topoform.providers.plan import ref

if TYPE_CHECKING:
    from .compiler import Network

PRIMARY, DR = "primary", "dr"
# Regions whose AZ letters do not start at `a` for every account (the rest do).
AZ_LETTERS = {"us-west-1": "bc", "ap-northeast-1": "acd", "sa-east-1": "abc", "ca-central-1": "abd"}
DEFAULT_AZ_LETTERS = "abcdef"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def site_name(name: str, site: str) -> str:
    """Resource name of `name` at `site`: the DR copy is prefixed `dr-`."""
    return name if site == PRIMARY else f"dr-{name}"


def subnet_blocks(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(public, private) CIDRs: the VPC split in 16 equal blocks, public first.

    Equal blocks keep the arithmetic obvious in the console (a /16 gives /20s:
    4,091 addresses per subnet, plenty for Fargate tasks, one ENI each).
    """
    network = ipaddress.ip_network(cidr, strict=False)
    new_prefix = min(network.prefixlen + 4, 28)
    blocks = list(network.subnets(new_prefix=new_prefix)) if new_prefix > network.prefixlen else []
    if len(blocks) < 2 * zones:
        raise ValueError(f"{cidr} is too small for {zones} public and {zones} private subnets")
    return [str(b) for b in blocks[:zones]], [str(b) for b in blocks[zones:2 * zones]]


def next_block(cidr: str) -> str:
    """The block of the same size right after `cidr` (the DR VPC: no overlap, so it can peer)."""
    network = ipaddress.ip_network(cidr, strict=False)
    following = ipaddress.ip_network((int(network.network_address) + network.num_addresses, network.prefixlen))
    return str(following)


def zone_names(region: str, count: int) -> list[str]:
    letters = AZ_LETTERS.get(region, DEFAULT_AZ_LETTERS)
    return [f"{region}{letter}" for letter in letters[:count]]


class NetworkMixin:
    """`network(site)`, `security_group(component, site)`, `allow(...)` (the contract in compiler.py)."""

    _networks: dict[str, "Network"]
    _security_groups: dict[tuple[str, str], str]
    _rules: set[tuple]
    _refs: dict[int, str]
    _prefixes: dict[int, str]

    # ---------------------------------------------------------------- sites

    def site_region(self, site: str = PRIMARY) -> str:
        if site == PRIMARY:
            return self.bp.aws.region
        dr = self.bp.disaster_recovery
        if dr is None or not dr.region:
            raise self.unsupported("a DR site on aws needs `disaster_recovery.region`", "e.g. `region: us-west-2`",
                                   "disaster_recovery")
        return dr.region

    def regional(self, site: str = PRIMARY) -> dict[str, str]:
        """The `region=` argument every regional resource of `site` takes (pinned, not ambient)."""
        return {"region": self.site_region(site)}

    def site_runs_compute(self, site: str) -> bool:
        if not (self.bp.services or self.bp.reverse_proxies):
            return False
        return site == PRIMARY or self.hot_dr

    @property
    def hot_dr(self) -> bool:
        dr = self.bp.disaster_recovery
        return dr is not None and dr.strategy == "hot"

    def sites(self) -> list[str]:
        """Sites that run the stateless tier: the primary, and the DR region when DR is hot."""
        return [PRIMARY, DR] if self.hot_dr else [PRIMARY]

    # ---------------------------------------------------------------- network

    def network(self, site: str = PRIMARY) -> "Network":
        """The VPC of `site`, created on first use (owned by the platform component)."""
        found = self._networks.get(site)
        if found is None:
            with self.owning(PLATFORM, ()):
                found = self._networks[site] = self._build_network(site)
        return found

    def _build_network(self, site: str) -> "Network":
        from .compiler import Network

        aws = self.bp.aws
        region = self.site_region(site)
        cidr = aws.vpc_cidr if site == PRIMARY else next_block(aws.vpc_cidr)
        try:
            public_cidrs, private_cidrs = subnet_blocks(cidr, aws.availability_zones)
        except ValueError as exc:
            raise self.unsupported(str(exc), "use a /24 or larger `aws.vpc_cidr`", "aws", "vpc_cidr") from None
        zones = zone_names(region, aws.availability_zones)
        if len(zones) < aws.availability_zones:
            raise self.unsupported(
                f"{region} has {len(zones)} availability zones for every account, but {aws.availability_zones} were asked",
                f"set `aws.availability_zones: {len(zones)}`", "aws", "availability_zones")
        n = lambda name: site_name(name, site)  # noqa: E731 — a local naming shorthand
        where = {"region": region}
        vpc = self.add("aws:ec2/vpc:Vpc", n("net-vpc"), {
            "cidr_block": cidr, "enable_dns_support": True, "enable_dns_hostnames": True,
            **where, "tags": self.named_tags(n("net-vpc")),
        })
        net = Network(site=site, region=region, vpc=vpc.name, cidr=cidr, zones=zones)
        igw = self.add("aws:ec2/internetGateway:InternetGateway", n("net-igw"), {
            "vpc_id": ref(vpc, "id"), **where, "tags": self.named_tags(n("net-igw")),
        })
        public_rt = self.add("aws:ec2/routeTable:RouteTable", n("net-public-rt"), {
            "vpc_id": ref(vpc, "id"),
            "routes": [{"cidr_block": "0.0.0.0/0", "gateway_id": ref(igw, "id")}],
            **where, "tags": self.named_tags(n("net-public-rt")),
        })
        nat_per_zone = self.site_runs_compute(site)
        for i, (zone, public_cidr, private_cidr) in enumerate(zip(zones, public_cidrs, private_cidrs)):
            public = self.add("aws:ec2/subnet:Subnet", n(f"net-public-{i}"), {
                "vpc_id": ref(vpc, "id"), "cidr_block": public_cidr, "availability_zone": zone,
                # Balancers get their own addresses; nothing else is placed here.
                "map_public_ip_on_launch": False, **where,
                "tags": self.named_tags(n(f"net-public-{i}"), {"topoform:tier": "public"}),
            })
            self.add("aws:ec2/routeTableAssociation:RouteTableAssociation", n(f"net-public-{i}-rt"), {
                "subnet_id": ref(public, "id"), "route_table_id": ref(public_rt, "id"), **where,
            })
            private = self.add("aws:ec2/subnet:Subnet", n(f"net-private-{i}"), {
                "vpc_id": ref(vpc, "id"), "cidr_block": private_cidr, "availability_zone": zone,
                "map_public_ip_on_launch": False, **where,
                "tags": self.named_tags(n(f"net-private-{i}"), {"topoform:tier": "private"}),
            })
            routes = []
            if nat_per_zone:
                eip = self.add("aws:ec2/eip:Eip", n(f"net-nat-{i}-ip"), {
                    "domain": "vpc", **where, "tags": self.named_tags(n(f"net-nat-{i}-ip")),
                })
                nat = self.add("aws:ec2/natGateway:NatGateway", n(f"net-nat-{i}"), {
                    "allocation_id": ref(eip, "id"), "subnet_id": ref(public, "id"),
                    "connectivity_type": "public", **where, "tags": self.named_tags(n(f"net-nat-{i}")),
                }, depends_on=[igw.name])
                routes = [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": ref(nat, "id")}]
            private_rt = self.add("aws:ec2/routeTable:RouteTable", n(f"net-private-{i}-rt"), {
                "vpc_id": ref(vpc, "id"), "routes": routes, **where,
                "tags": self.named_tags(n(f"net-private-{i}-rt")),
            })
            self.add("aws:ec2/routeTableAssociation:RouteTableAssociation", n(f"net-private-{i}-rt-link"), {
                "subnet_id": ref(private, "id"), "route_table_id": ref(private_rt, "id"), **where,
            })
            net.public_subnets.append(public.name)
            net.private_subnets.append(private.name)
        return net

    def subnet_ids(self, site: str, public: bool = False) -> list[str]:
        net = self.network(site)
        return [ref(name, "id") for name in (net.public_subnets if public else net.private_subnets)]

    def named_tags(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """`self.tags()` plus a console `Name` (the blueprint, stack and resource)."""
        return {**self.tags(), "Name": f"{self.bp.blueprint}-{self.stack}-{name}", **(extra or {})}

    # ---------------------------------------------------------------- security groups

    def component_of(self, component: Component | str) -> Component:
        if isinstance(component, Component):
            return component
        found = self.bp.component(component)
        if found is None:
            raise ValueError(f"no component {component!r} in the blueprint (a provider bug)")
        return found

    def ref_of(self, component: Component | str) -> str:
        """`kind.name` of a component; cached, since pydantic private attributes are slow to read."""
        if isinstance(component, str):
            return component
        found = self._refs.get(id(component))
        if found is None:
            found = self._refs[id(component)] = component.ref
        return found

    def prefix(self, component: Component) -> str:
        """The base class's resource-name prefix (`svc-web`), cached for the same reason."""
        found = self._prefixes.get(id(component))
        if found is None:
            found = self._prefixes[id(component)] = Compiler.prefix(component)
        return found

    def security_group(self, component: Component | str, site: str = PRIMARY) -> str:
        """Resource name of the component's security group at `site`, created empty on first use."""
        key = (self.ref_of(component), site)
        found = self._security_groups.get(key)
        if found is None:
            comp = self.component_of(component)
            net = self.network(site)
            name = site_name(f"{self.prefix(comp)}-sg", site)
            with self.owning(key[0]):
                self.add(SG, name, {
                    "description": f"Topoform {key[0]} ({site} site): ingress only from the components that use it",
                    "vpc_id": ref(net.vpc, "id"), "revoke_rules_on_delete": True,
                    "region": net.region, "tags": self.named_tags(name),
                })
            found = self._security_groups[key] = name
        return found

    def has_security_group(self, component: Component | str, site: str = PRIMARY) -> bool:
        return (self.ref_of(component), site) in self._security_groups

    def allow(self, source: Component | str, target: Component | str, port: int, site: str = PRIMARY) -> str | None:
        """An ingress rule on the target's group from the source's group only (idempotent)."""
        src_ref, dst_ref = self.ref_of(source), self.ref_of(target)
        key = ("sg", src_ref, dst_ref, port, site)
        if key in self._rules:
            return None
        self._rules.add(key)
        src = self.component_of(source)
        target_sg = self.security_group(target, site)
        source_sg = self.security_group(src, site)
        name = f"{target_sg}-from-{self.prefix(src)}-{port}"
        with self.owning(dst_ref):
            self.add(INGRESS, name, {
                "security_group_id": ref(target_sg, "id"), "referenced_security_group_id": ref(source_sg, "id"),
                "ip_protocol": "tcp", "from_port": port, "to_port": port,
                "description": f"{src_ref} to {dst_ref} on {port}",
                "region": self.site_region(site), "tags": self.tags(dst_ref),
            })
        return name

    def allow_cidr(self, target: Component | str, port: int, cidr: str, site: str = PRIMARY,
                   protocol: str = "tcp", why: str = "") -> str | None:
        """Ingress to `target` from an address range (the internet for a public balancer, the VPC)."""
        dst_ref = self.ref_of(target)
        key = ("cidr", dst_ref, port, cidr, protocol, site)
        if key in self._rules:
            return None
        self._rules.add(key)
        target_sg = self.security_group(target, site)
        label = {"0.0.0.0/0": "internet", "::/0": "internet6"}.get(cidr) or "cidr-" + cidr.replace("/", "-").replace(".", "-").replace(":", "")
        name = f"{target_sg}-from-{label}-{protocol}-{port}"
        family = "cidr_ipv6" if ":" in cidr else "cidr_ipv4"
        with self.owning(dst_ref):
            self.add(INGRESS, name, {
                "security_group_id": ref(target_sg, "id"), family: cidr, "ip_protocol": protocol,
                "from_port": port, "to_port": port, "description": why or f"{cidr} to {dst_ref} on {port}",
                "region": self.site_region(site), "tags": self.tags(dst_ref),
            })
        return name

    def allow_egress(self, source: Component | str, site: str = PRIMARY, *, cidr: str = "0.0.0.0/0",
                     port: int | None = None, why: str = "") -> str | None:
        """Egress from `source` to `cidr` (all protocols when no port)."""
        src_ref = self.ref_of(source)
        key = ("egress", src_ref, cidr, port, site)
        if key in self._rules:
            return None
        self._rules.add(key)
        sg = self.security_group(source, site)
        label = "anywhere" if cidr == "0.0.0.0/0" else ("vpc" if cidr == self.network(site).cidr else
                                                        "cidr-" + cidr.replace("/", "-").replace(".", "-"))
        name = f"{sg}-to-{label}" + (f"-{port}" if port else "")
        props = {"security_group_id": ref(sg, "id"), "cidr_ipv4": cidr,
                 "description": why or f"{src_ref} out to {cidr}", "region": self.site_region(site),
                 "tags": self.tags(src_ref)}
        if port is None:
            props["ip_protocol"] = "-1"
        else:
            props.update(ip_protocol="tcp", from_port=port, to_port=port)
        with self.owning(src_ref):
            self.add(EGRESS, name, props)
        return name
