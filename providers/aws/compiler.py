"""The AWS target: a blueprint as pulumi_aws resources an architect would sign off.

Split by concern: this module holds the network, compute and edge (VPC, ECS,
ALB/NLB, ACM, WAF, CloudFront, Route53, SLO alarms); `data.py` the stores
(RDS, Aurora DSQL, ElastiCache, SQS); `recovery.py` the DR site and backups.

Contract between the modules (the shared state of one compile):
- `self.network(site)` → `Network` for site "primary" or "dr": resource names
  of the VPC, private and public subnets, and the region (DR resources pass
  `region=` — pulumi_aws v7 takes it on every regional resource).
- `self.security_group(component, site)` → the resource name of the
  component's security group (created on first use).
- `self.allow(source_component, target_component, port, site)` → an ingress
  rule on the target's group from the source's group only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from topoform.providers.base import Compiler

from .data import DataMixin
from .recovery import RecoveryMixin


@dataclass
class Network:
    site: str
    region: str
    vpc: str  # resource name of the aws:ec2/vpc:Vpc
    private_subnets: list[str] = field(default_factory=list)
    public_subnets: list[str] = field(default_factory=list)


class AwsCompiler(DataMixin, RecoveryMixin, Compiler):
    target = "aws"
