"""AWS network of one site: VPC, subnets per AZ, internet and NAT gateways, routes,
and one security group per component with ingress only from those that use it.

Private by default: compute and data sit in private subnets whose only way out
is a NAT gateway per AZ (so losing one AZ does not cut the others off); only
balancers and NAT gateways live in public subnets. Security groups start
empty — AWS's allow-all egress rule is removed by the provider — and every
rule is added for a reason: `allow(source, target, port)` references the
source's group, never an address range, so nothing but the named component
reaches a database, cache or balancer port.

`Networks` holds what one compile has built of this: the `Network` of each
site (made on first use, owned by the `platform` component), every security
group (owned by its component) and every rule (each made once, whoever asks
first). Callers name sites and components; they never see the state.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from topoform.dsl.models import Component
from topoform.providers.base import PLATFORM, BuildContext
from topoform.providers.plan import ref

from .names import Names
from .sites import PRIMARY, Sites, site_name

# Regions whose AZ letters do not start at `a` for every account (the rest do).
AZ_LETTERS = {"us-west-1": "bc", "ap-northeast-1": "acd", "sa-east-1": "abc", "ca-central-1": "abd"}
DEFAULT_AZ_LETTERS = "abcdef"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


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


def protocol_suffix(protocol: str) -> str:
    """What a rule's name adds for its protocol: nothing for tcp (the names rules always had)."""
    return "" if protocol == "tcp" else f"-{protocol}"


@dataclass
class Network:
    """What one site's VPC offers its users: resource names, region and address plan."""

    site: str
    region: str
    vpc: str  # resource name of the aws:ec2/vpc:Vpc
    private_subnets: list[str] = field(default_factory=list)
    public_subnets: list[str] = field(default_factory=list)
    cidr: str = ""  # the VPC's address block
    zones: list[str] = field(default_factory=list)  # availability zone names, one subnet pair each


class Networks:
    """The VPC of each site, the security group of each component there, and their rules."""

    def __init__(self, ctx: BuildContext, sites: Sites, names: Names):
        self._ctx = ctx
        self._sites = sites
        self._names = names
        self._networks: dict[str, Network] = {}
        self._security_groups: dict[tuple[str, str], str] = {}
        self._rules: set[tuple] = set()

    # ---------------------------------------------------------------- network

    def network(self, site: str = PRIMARY) -> Network:
        """The VPC of `site`, created on first use (owned by the platform component)."""
        found = self._networks.get(site)
        if found is None:
            with self._ctx.owning(PLATFORM, ()):
                found = self._networks[site] = self._build_network(site)
        return found

    def _build_network(self, site: str) -> Network:
        ctx = self._ctx
        aws = ctx.bp.aws
        region = self._sites.region(site)
        cidr = aws.vpc_cidr if site == PRIMARY else next_block(aws.vpc_cidr)
        try:
            public_cidrs, private_cidrs = subnet_blocks(cidr, aws.availability_zones)
        except ValueError as exc:
            raise ctx.unsupported(str(exc), "use a /24 or larger `aws.vpc_cidr`", "aws", "vpc_cidr") from None
        zones = zone_names(region, aws.availability_zones)
        if len(zones) < aws.availability_zones:
            raise ctx.unsupported(
                f"{region} has {len(zones)} availability zones for every account, but {aws.availability_zones} were asked",
                f"set `aws.availability_zones: {len(zones)}`", "aws", "availability_zones")
        n = lambda name: site_name(name, site)  # noqa: E731 — a local naming shorthand
        where = {"region": region}
        vpc = ctx.add("aws:ec2/vpc:Vpc", n("net-vpc"), {
            "cidr_block": cidr, "enable_dns_support": True, "enable_dns_hostnames": True,
            **where, "tags": self.named_tags(n("net-vpc")),
        })
        net = Network(site=site, region=region, vpc=vpc.name, cidr=cidr, zones=zones)
        igw = ctx.add("aws:ec2/internetGateway:InternetGateway", n("net-igw"), {
            "vpc_id": ref(vpc, "id"), **where, "tags": self.named_tags(n("net-igw")),
        })
        public_rt = ctx.add("aws:ec2/routeTable:RouteTable", n("net-public-rt"), {
            "vpc_id": ref(vpc, "id"),
            "routes": [{"cidr_block": "0.0.0.0/0", "gateway_id": ref(igw, "id")}],
            **where, "tags": self.named_tags(n("net-public-rt")),
        })
        nat_per_zone = self._sites.runs_compute(site)
        for i, (zone, public_cidr, private_cidr) in enumerate(zip(zones, public_cidrs, private_cidrs)):
            public = ctx.add("aws:ec2/subnet:Subnet", n(f"net-public-{i}"), {
                "vpc_id": ref(vpc, "id"), "cidr_block": public_cidr, "availability_zone": zone,
                # Balancers get their own addresses; nothing else is placed here.
                "map_public_ip_on_launch": False, **where,
                "tags": self.named_tags(n(f"net-public-{i}"), {"topoform:tier": "public"}),
            })
            ctx.add("aws:ec2/routeTableAssociation:RouteTableAssociation", n(f"net-public-{i}-rt"), {
                "subnet_id": ref(public, "id"), "route_table_id": ref(public_rt, "id"), **where,
            })
            private = ctx.add("aws:ec2/subnet:Subnet", n(f"net-private-{i}"), {
                "vpc_id": ref(vpc, "id"), "cidr_block": private_cidr, "availability_zone": zone,
                "map_public_ip_on_launch": False, **where,
                "tags": self.named_tags(n(f"net-private-{i}"), {"topoform:tier": "private"}),
            })
            routes = []
            if nat_per_zone:
                eip = ctx.add("aws:ec2/eip:Eip", n(f"net-nat-{i}-ip"), {
                    "domain": "vpc", **where, "tags": self.named_tags(n(f"net-nat-{i}-ip")),
                })
                nat = ctx.add("aws:ec2/natGateway:NatGateway", n(f"net-nat-{i}"), {
                    "allocation_id": ref(eip, "id"), "subnet_id": ref(public, "id"),
                    "connectivity_type": "public", **where, "tags": self.named_tags(n(f"net-nat-{i}")),
                }, depends_on=[igw.name])
                routes = [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": ref(nat, "id")}]
            private_rt = ctx.add("aws:ec2/routeTable:RouteTable", n(f"net-private-{i}-rt"), {
                "vpc_id": ref(vpc, "id"), "routes": routes, **where,
                "tags": self.named_tags(n(f"net-private-{i}-rt")),
            })
            ctx.add("aws:ec2/routeTableAssociation:RouteTableAssociation", n(f"net-private-{i}-rt-link"), {
                "subnet_id": ref(private, "id"), "route_table_id": ref(private_rt, "id"), **where,
            })
            net.public_subnets.append(public.name)
            net.private_subnets.append(private.name)
        return net

    def subnet_ids(self, site: str, public: bool = False) -> list[str]:
        net = self.network(site)
        return [ref(name, "id") for name in (net.public_subnets if public else net.private_subnets)]

    def named_tags(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The context's tags plus a console `Name` (the blueprint, stack and resource)."""
        ctx = self._ctx
        return {**ctx.tags(), "Name": f"{ctx.bp.blueprint}-{ctx.stack}-{name}", **(extra or {})}

    # ---------------------------------------------------------------- security groups

    def component_of(self, component: Component | str) -> Component:
        if isinstance(component, Component):
            return component
        found = self._ctx.bp.component(component)
        if found is None:
            raise ValueError(f"no component {component!r} in the blueprint (a provider bug)")
        return found

    def security_group(self, component: Component | str, site: str = PRIMARY) -> str:
        """Resource name of the component's security group at `site`, created empty on first use."""
        key = (self._names.ref(component), site)
        found = self._security_groups.get(key)
        if found is None:
            comp = self.component_of(component)
            net = self.network(site)
            name = site_name(f"{self._names.prefix(comp)}-sg", site)
            with self._ctx.owning(key[0]):
                self._ctx.add(SG, name, {
                    "description": f"Topoform {key[0]} ({site} site): ingress only from the components that use it",
                    "vpc_id": ref(net.vpc, "id"), "revoke_rules_on_delete": True,
                    "region": net.region, "tags": self.named_tags(name),
                })
            found = self._security_groups[key] = name
        return found

    def has_security_group(self, component: Component | str, site: str = PRIMARY) -> bool:
        return (self._names.ref(component), site) in self._security_groups

    def allow(self, source: Component | str, target: Component | str, port: int, site: str = PRIMARY,
              protocol: str = "tcp") -> str | None:
        """An ingress rule on the target's group from the source's group only (idempotent)."""
        src_ref, dst_ref = self._names.ref(source), self._names.ref(target)
        key = ("sg", src_ref, dst_ref, port, protocol, site)
        if key in self._rules:
            return None
        self._rules.add(key)
        src = self.component_of(source)
        target_sg = self.security_group(target, site)
        source_sg = self.security_group(src, site)
        name = f"{target_sg}-from-{self._names.prefix(src)}-{port}" + protocol_suffix(protocol)
        with self._ctx.owning(dst_ref):
            self._ctx.add(INGRESS, name, {
                "security_group_id": ref(target_sg, "id"), "referenced_security_group_id": ref(source_sg, "id"),
                "ip_protocol": protocol, "from_port": port, "to_port": port,
                "description": f"{src_ref} to {dst_ref} on {port}" + (f"/{protocol}" if protocol != "tcp" else ""),
                "region": self._sites.region(site), "tags": self._ctx.tags(dst_ref),
            })
        return name

    def allow_cidr(self, target: Component | str, port: int, cidr: str, site: str = PRIMARY,
                   protocol: str = "tcp", why: str = "") -> str | None:
        """Ingress to `target` from an address range (the internet for a public balancer, the VPC)."""
        dst_ref = self._names.ref(target)
        key = ("cidr", dst_ref, port, cidr, protocol, site)
        if key in self._rules:
            return None
        self._rules.add(key)
        target_sg = self.security_group(target, site)
        label = {"0.0.0.0/0": "internet", "::/0": "internet6"}.get(cidr) or "cidr-" + cidr.replace("/", "-").replace(".", "-").replace(":", "")
        name = f"{target_sg}-from-{label}-{protocol}-{port}"
        family = "cidr_ipv6" if ":" in cidr else "cidr_ipv4"
        with self._ctx.owning(dst_ref):
            self._ctx.add(INGRESS, name, {
                "security_group_id": ref(target_sg, "id"), family: cidr, "ip_protocol": protocol,
                "from_port": port, "to_port": port, "description": why or f"{cidr} to {dst_ref} on {port}",
                "region": self._sites.region(site), "tags": self._ctx.tags(dst_ref),
            })
        return name

    def allow_prefix_list(self, target: Component | str, port: int, prefix_list: dict, label: str,
                          site: str = PRIMARY, why: str = "") -> str | None:
        """Ingress to `target` from an AWS-managed prefix list (`prefix_list` a value giving its id)."""
        dst_ref = self._names.ref(target)
        key = ("prefix-list", dst_ref, port, label, site)
        if key in self._rules:
            return None
        self._rules.add(key)
        target_sg = self.security_group(target, site)
        name = f"{target_sg}-from-{label}-{port}"
        with self._ctx.owning(dst_ref):
            self._ctx.add(INGRESS, name, {
                "security_group_id": ref(target_sg, "id"), "prefix_list_id": prefix_list, "ip_protocol": "tcp",
                "from_port": port, "to_port": port, "description": why or f"{label} to {dst_ref} on {port}",
                "region": self._sites.region(site), "tags": self._ctx.tags(dst_ref),
            })
        return name

    def allow_egress(self, source: Component | str, site: str = PRIMARY, *, cidr: str = "0.0.0.0/0",
                     port: int | None = None, protocol: str = "tcp", why: str = "") -> str | None:
        """Egress from `source` to `cidr` (all protocols when no port)."""
        src_ref = self._names.ref(source)
        key = ("egress", src_ref, cidr, port, protocol if port else None, site)
        if key in self._rules:
            return None
        self._rules.add(key)
        sg = self.security_group(source, site)
        label = "anywhere" if cidr == "0.0.0.0/0" else ("vpc" if cidr == self.network(site).cidr else
                                                        "cidr-" + cidr.replace("/", "-").replace(".", "-"))
        name = f"{sg}-to-{label}" + (f"-{port}" + protocol_suffix(protocol) if port else "")
        props = {"security_group_id": ref(sg, "id"), "cidr_ipv4": cidr,
                 "description": why or f"{src_ref} out to {cidr}", "region": self._sites.region(site),
                 "tags": self._ctx.tags(src_ref)}
        if port is None:
            props["ip_protocol"] = "-1"
        else:
            props.update(ip_protocol=protocol, from_port=port, to_port=port)
        with self._ctx.owning(src_ref):
            self._ctx.add(EGRESS, name, props)
        return name
