"""CDNs on CloudFront: a pull CDN fronts a balancer, a push CDN serves a private S3 bucket.

Pull → a distribution with a custom origin (the layer 7 balancer the origin
leads to), a cache policy carrying the blueprint's TTLs, viewers redirected
to HTTPS. Push → a private, encrypted S3 bucket read only by its
distribution through Origin Access Control, with the content directory
uploaded as objects. The shared CloudFront and S3 pieces are in edge.py.
"""

from __future__ import annotations

import os

from topoform.dsl.models import Cdn

from .. import edge
from ..context import AwsContext


def build(ctx: AwsContext, cdn: Cdn) -> None:
    if cdn.mode == "pull":
        origin_component = ctx.bp.component(cdn.origin)
        lb = edge.origin_balancer(ctx, origin_component, ("cdns", cdn.name, "origin"))
        policy = edge.cache_policy(ctx, cdn, cdn.ttl.default, cdn.ttl.min, cdn.ttl.max, cdn.compress, dynamic=True)
        origin = edge.custom_origin(ctx, lb)
        edge.distribution(ctx, cdn, [origin], edge.behavior(
            origin["origin_id"], policy, https_only=cdn.https_only, compress=cdn.compress, dynamic=True))
    else:
        _push(ctx, cdn)
    ctx.export(cdn, ("url",))


def _push(ctx: AwsContext, cdn: Cdn) -> None:
    policy = edge.cache_policy(ctx, cdn, cdn.ttl.default, cdn.ttl.min, cdn.ttl.max, cdn.compress, dynamic=False)
    directory = os.path.join(ctx.bp.base_dir, cdn.content)
    origin, bucket = edge.private_bucket(ctx, cdn, directory, "content")
    name = edge.distribution(ctx, cdn, [origin], edge.behavior(
        origin["origin_id"], policy, https_only=cdn.https_only, compress=cdn.compress, dynamic=False),
        root_object="index.html" if os.path.isfile(os.path.join(directory, "index.html")) else None)
    edge.bucket_policy(ctx, cdn, bucket, [name])


def attribute(ctx: AwsContext, cdn: Cdn, attr: str) -> str:
    return edge.distribution_attribute(ctx, cdn, attr)
