"""CDNs on CloudFront: a pull CDN fronts a balancer, a push CDN serves a private S3 bucket.

Pull → a distribution with a custom origin (the layer 7 balancer the origin
leads to), a cache policy honouring the origin's Cache-Control within the
blueprint's TTLs (`_pull`), no caching on the paths routed to services by
their own rule, viewers redirected to HTTPS. Push → a private, encrypted S3 bucket read only by its
distribution through Origin Access Control, with the content directory
uploaded as objects. The shared CloudFront and S3 pieces are in edge.py.
"""

from __future__ import annotations

import os

from topoform.dsl.models import Cdn
from topoform.providers import facts as common
from topoform.providers.plan import Availability

from .. import edge
from ..context import AwsContext


def build(ctx: AwsContext, cdn: Cdn) -> None:
    if cdn.mode == "pull":
        _pull(ctx, cdn)
    else:
        _push(ctx, cdn)
    ctx.export(cdn, ("url",))


def _pull(ctx: AwsContext, cdn: Cdn) -> None:
    """Cache only what the blueprint or the origin says is cacheable.

    An application answers per user (cookies, auth headers) and CloudFront
    keys on neither, so a response without Cache-Control must not be kept:
    the default TTL is 0 unless the blueprint sets `ttl.default`, and the
    origin's Cache-Control decides up to `ttl.max`. The paths the balancer
    routes to services by a rule of their own (`/api/*`) are dynamic: never
    cached, every viewer header, cookie and query string forwarded.
    """
    origin_component = ctx.bp.component(cdn.origin)
    lb = edge.origin_balancer(ctx, origin_component, ("cdns", cdn.name, "origin"))
    default_ttl = cdn.ttl.default if "default" in cdn.ttl.model_fields_set else 0
    if default_ttl > edge.SHARED_RESPONSE_TTL:
        ctx.warn(f"{ctx.ref_of(cdn)} keeps a response of {ctx.ref_of(lb)} without Cache-Control for "
                 f"{int(default_ttl)}s and shares it with every viewer (no cookie or header is in the cache key)",
                 "leave `ttl.default` out (0: only what the origin marks cacheable is kept), or make sure the "
                 "application sends Cache-Control: private on per-user answers", "cdns", cdn.name, "ttl")
    policy = edge.cache_policy(ctx, cdn, default_ttl, min(cdn.ttl.min, default_ttl), cdn.ttl.max, cdn.compress,
                               dynamic=True)
    origin = edge.custom_origin(ctx, lb)
    dynamic = [edge.behavior(origin["origin_id"], edge.MANAGED + edge.CACHING_DISABLED, https_only=cdn.https_only,
                             compress=cdn.compress, dynamic=True, path=path)
               for path in edge.dynamic_paths(lb)]
    edge.distribution(ctx, cdn, [origin], edge.behavior(
        origin["origin_id"], policy, https_only=cdn.https_only, compress=cdn.compress, dynamic=True), dynamic)


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


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = Availability(99.9, "Amazon CloudFront SLA", "CloudFront SLA")
facts = common.cdns
