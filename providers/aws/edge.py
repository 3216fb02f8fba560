"""CloudFront and its S3 origins: what CDNs and caching reverse proxies share.

A distribution is named for its component (`distribution_name`) and lists
the record names aliasing it (`ctx.certificates.aliases`), with a viewer
certificate from us-east-1 covering them. Its origin is the primary site's
layer 7 balancer (`origin_balancer` follows proxies to it), reached over
HTTPS by a name its certificate covers where there is one, or a private,
encrypted, versioned S3 bucket read only through Origin Access Control (the
bucket policy names the distribution). CloudFront is global: a component's
distribution is one, whatever the sites.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re

from topoform.dsl.models import Cdn, LoadBalancer, ReverseProxy
from topoform.providers.plan import ref

from .context import AwsContext
from .endpoints import endpoint_attribute
from .kinds import load_balancers
from .sites import PRIMARY

# AWS managed policies (fixed IDs in every account).
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # origin request policy
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # response headers policy
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # cache policy, for dynamic paths
SHARED_RESPONSE_TTL = 60  # seconds: past this a shared answer of an application is worth a warning
MANAGED = "$managed:"  # a cache policy given by its AWS id, not a resource of the Plan
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
READ_METHODS = ["GET", "HEAD"]
CACHED_METHODS = ["GET", "HEAD"]


def object_slug(key: str, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:48] or "root"
    if slug in taken:
        slug = f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    taken.add(slug)
    return slug


def distribution_attribute(ctx: AwsContext, component: Cdn | ReverseProxy, attr: str) -> str:
    """The first record name aliasing the distribution, else its CloudFront name; always HTTPS."""
    aliases = distribution_aliases(ctx, component)
    host = aliases[0] if aliases else ref(distribution_name(ctx, component), "domain_name")
    return endpoint_attribute(ctx, component, attr, host, 443, "https")


def distribution_aliases(ctx: AwsContext, component: Cdn | ReverseProxy) -> list[str]:
    """The names viewers reach a distribution by: the records that name it, else `NAME.zone`.

    A distribution no record names would be on nobody's request path (its WAF,
    cache and compression never apply) and could only use the *.cloudfront.net
    certificate, which accepts TLSv1; with a `dns.zone` it gets a name of its
    own (`own_record` creates the record), unless a record already takes that name.
    """
    named = ctx.certificates.aliases.get(ctx.ref_of(component))
    if named or ctx.bp.dns is None or component.name in {r.name for r in ctx.bp.dns.records}:
        return list(named or [])
    return [ctx.certificates.record_fqdn(component.name)]


def distribution_name(ctx: AwsContext, component: Cdn | ReverseProxy) -> str:
    return f"{ctx.prefix(component)}-distribution"


has_distribution = load_balancers.has_distribution


# ---------------------------------------------------------------- origins


def origin_balancer(ctx: AwsContext, component, path: tuple) -> LoadBalancer:
    """The layer 7 balancer behind a CDN origin or proxy upstream (through proxies)."""
    seen = set()
    while component.section == "reverse_proxies" and ctx.ref_of(component) not in seen:
        seen.add(ctx.ref_of(component))
        component = ctx.bp.component(component.upstream)
    if component.section != "load_balancers":
        raise ctx.unsupported(
            f"on aws a CDN origin or proxy upstream must be a load balancer, not {ctx.ref_of(component)}",
            "put a `layer: 7` load balancer in front of the service and point at it", *path)
    if component.internal:
        raise ctx.unsupported(f"{ctx.ref_of(component)} is internal, so CloudFront cannot reach it",
                              "remove `internal: true` from the balancer", *path)
    return component


def custom_origin(ctx: AwsContext, lb: LoadBalancer) -> dict:
    """A CloudFront origin for an ALB: HTTPS to a name its certificate covers where there is one."""
    domain = ref(load_balancers.balancer_name(ctx, lb, PRIMARY), "dns_name")
    if load_balancers.has_tls(lb):
        if ctx.bp.dns is not None:
            domain = origin_record(ctx, lb)
        elif ctx.bp.aws.certificate_arn:
            ctx.warn(f"CloudFront reaches {ctx.ref_of(lb)} by its AWS name over HTTPS; the certificate "
                     "`aws.certificate_arn` must cover that name", "add a `dns.zone` so Topoform gives the "
                     "balancer an origin name the certificate covers", "load_balancers", lb.name)
        policy, port = "https-only", load_balancers.port_of(lb)
    else:
        ctx.warn(f"CloudFront reaches {ctx.ref_of(lb)} over plain HTTP: it has no TLS listener",
                 "add `{port: 443, tls: true}` to its listeners so the origin is fetched over TLS 1.2",
                 "load_balancers", lb.name, "listeners")
        policy, port = "http-only", load_balancers.port_of(lb)
    config = {"http_port": port if policy == "http-only" else 80,
              "https_port": port if policy == "https-only" else 443,
              "origin_protocol_policy": policy, "origin_ssl_protocols": ["TLSv1.2"],
              "origin_read_timeout": 30, "origin_keepalive_timeout": 5}
    origin = {"domain_name": domain, "origin_id": ctx.ref_of(lb), "custom_origin_config": config}
    headers = load_balancers.origin_headers(ctx, lb)
    if headers:
        origin["custom_headers"] = headers
    return origin


def origin_record(ctx: AwsContext, lb: LoadBalancer) -> str:
    """`{lb}-origin.{zone}` aliased to the balancer, so CloudFront can verify its certificate."""
    fqdn = f"{lb.name}-origin.{ctx.certificates.zone_name()}"
    name = f"{ctx.prefix(lb)}-origin-record"
    if name not in ctx.plan:
        balancer = load_balancers.balancer_name(ctx, lb, PRIMARY)
        with ctx.owning(ctx.ref_of(lb)):
            ctx.add("aws:route53/record:Record", name, {
                "zone_id": ctx.certificates.zone_id(), "name": fqdn, "type": "A",
                "aliases": [{"name": ref(balancer, "dns_name"), "zone_id": ref(balancer, "zone_id"),
                             "evaluate_target_health": True}],
            })
    return fqdn


# ---------------------------------------------------------------- distributions


def viewer_certificate(ctx: AwsContext, component) -> tuple[list[str], dict]:
    """(aliases, viewer certificate): an ACM certificate for the aliases with TLS 1.2 at least, or
    CloudFront's default certificate, with which AWS always allows TLSv1 (so the Plan says so)."""
    aliases = distribution_aliases(ctx, component)
    if not aliases:
        what = ctx.ref_of(component)
        ctx.warn(f"{what}: CloudFront's default *.cloudfront.net certificate accepts viewers from TLSv1 on "
                 "(AWS ignores a higher minimum with it)", "add a `dns.zone` so Topoform names the distribution "
                 "and issues it a certificate with TLS 1.2 as the minimum", *component_path(component))
        return [], {"cloudfront_default_certificate": True, "minimum_protocol_version": "TLSv1"}
    return aliases, {"acm_certificate_arn": ctx.certificates.cloudfront_certificate(), "ssl_support_method": "sni-only",
                     "minimum_protocol_version": "TLSv1.2_2021"}


def component_path(component) -> tuple[str, str]:
    return component.section, component.name


def own_record(ctx: AwsContext, component) -> None:
    """The alias record of a distribution's own name (`distribution_aliases`), where no record names it."""
    if ctx.certificates.aliases.get(ctx.ref_of(component)) or not distribution_aliases(ctx, component):
        return
    fqdn = distribution_aliases(ctx, component)[0]
    name = distribution_name(ctx, component)
    ctx.warn(f"{ctx.ref_of(component)}: no DNS record names this distribution, so Topoform names it {fqdn}; "
             "its features apply only to requests sent there", "add a `dns.records` entry targeting "
             f"{ctx.ref_of(component)} to choose the name", *component_path(component))
    ctx.add("aws:route53/record:Record", f"{ctx.prefix(component)}-record", {
        "zone_id": ctx.certificates.zone_id(), "name": fqdn, "type": "A",
        "aliases": [{"name": ref(name, "domain_name"), "zone_id": ref(name, "hosted_zone_id"),
                     "evaluate_target_health": False}],
    })


def cache_policy(ctx: AwsContext, component, default: float, minimum: float, maximum: float, compress: bool,
                 dynamic: bool) -> str:
    """A cache policy carrying these TTLs, or AWS's CachingDisabled where they are all 0.

    With every TTL 0 CloudFront refuses a policy that normalises Accept-Encoding
    or keys on anything, so the managed policy (which does neither) stands in.
    """
    if int(default) == int(minimum) == int(maximum) == 0:
        return MANAGED + CACHING_DISABLED
    name = f"{ctx.prefix(component)}-cache-policy"
    ctx.add("aws:cloudfront/cachePolicy:CachePolicy", name, {
        "comment": f"TTLs of {ctx.ref_of(component)}",
        "default_ttl": int(default), "min_ttl": int(minimum), "max_ttl": int(maximum),
        "parameters_in_cache_key_and_forwarded_to_origin": {
            "cookies_config": {"cookie_behavior": "none"},
            "headers_config": {"header_behavior": "none"},
            # A dynamic origin may answer differently per query; static files do not.
            "query_strings_config": {"query_string_behavior": "all" if dynamic else "none"},
            "enable_accept_encoding_gzip": compress, "enable_accept_encoding_brotli": compress,
        },
    })
    return name


def distribution(ctx: AwsContext, component, origins: list[dict], default_behavior: dict,
                 ordered: list[dict] | None = None, root_object: str | None = None,
                 depends_on: list[str] | None = None, web_acl: str | None = None) -> str:
    aliases, certificate = viewer_certificate(ctx, component)
    props = {
        "enabled": True, "is_ipv6_enabled": True, "http_version": "http2and3",
        "price_class": "PriceClass_All", "comment": f"Topoform {ctx.bp.blueprint} {ctx.ref_of(component)}",
        "aliases": aliases, "origins": origins, "default_cache_behavior": default_behavior,
        "ordered_cache_behaviors": ordered or [],
        "restrictions": {"geo_restriction": {"restriction_type": "none", "locations": []}},
        "viewer_certificate": certificate, "wait_for_deployment": False, "tags": ctx.tags(),
    }
    if root_object:
        props["default_root_object"] = root_object
    if web_acl:
        props["web_acl_id"] = ref(web_acl, "arn")  # WAFv2: the ACL's ARN
    name = ctx.add("aws:cloudfront/distribution:Distribution", distribution_name(ctx, component), props,
                   depends_on=depends_on).name
    own_record(ctx, component)
    return name


def dynamic_paths(lb: LoadBalancer) -> list[str]:
    """Path patterns the balancer routes to services by a rule of their own (not its catch-all).

    CloudFront matches paths only, so host rules stay with the default behaviour;
    the patterns read the same on both (`*` any characters, case-sensitive).
    """
    paths = [route.path for route in lb.routes or () if route.host is None and route.path not in load_balancers.CATCH_ALL]
    return list(dict.fromkeys(paths))


def behavior(origin_id: str, policy: str, *, https_only: bool, compress: bool, dynamic: bool,
             path: str | None = None) -> dict:
    behavior = {
        "target_origin_id": origin_id,
        "viewer_protocol_policy": "redirect-to-https" if https_only else "allow-all",
        "allowed_methods": ALL_METHODS if dynamic else READ_METHODS, "cached_methods": CACHED_METHODS,
        "cache_policy_id": policy.removeprefix(MANAGED) if policy.startswith(MANAGED) else ref(policy, "id"),
        "response_headers_policy_id": SECURITY_HEADERS, "compress": compress,
    }
    if dynamic:
        behavior["origin_request_policy_id"] = ALL_VIEWER_EXCEPT_HOST
    if path:
        behavior["path_pattern"] = path
    return behavior


def private_bucket(ctx: AwsContext, component, directory: str, what: str, key_prefix: str = "") -> tuple[dict, str]:
    """An encrypted, versioned, non-public bucket with `directory` uploaded; (origin, bucket name)."""
    prefix = ctx.prefix(component)
    where = {"region": ctx.sites.region(PRIMARY)}
    bucket = ctx.add("aws:s3/bucket:Bucket", f"{prefix}-bucket", {
        "force_destroy": False, **where, "tags": ctx.tags(),
    }).name
    ctx.add("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{prefix}-bucket-ownership", {
        "bucket": ref(bucket, "id"), "rule": {"object_ownership": "BucketOwnerEnforced"}, **where})
    ctx.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{prefix}-bucket-private", {
        "bucket": ref(bucket, "id"), "block_public_acls": True, "block_public_policy": True,
        "ignore_public_acls": True, "restrict_public_buckets": True, **where})
    ctx.add("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{prefix}-bucket-encryption", {
                 "bucket": ref(bucket, "id"),
                 "rules": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                            "bucket_key_enabled": True}], **where})
    ctx.add("aws:s3/bucketVersioning:BucketVersioning", f"{prefix}-bucket-versioning", {
        "bucket": ref(bucket, "id"), "versioning_configuration": {"status": "Enabled"}, **where})
    taken: set[str] = set()
    for path in sorted(files_under(directory)):
        key = key_prefix + os.path.relpath(path, directory).replace(os.sep, "/")
        with open(path, "rb") as handle:
            digest = hashlib.md5(handle.read()).hexdigest()
        ctx.add("aws:s3/bucketObjectv2:BucketObjectv2", f"{prefix}-file-{object_slug(key, taken)}", {
            "bucket": ref(bucket, "id"), "key": key, "source": {"$asset": os.path.abspath(path)},
            "source_hash": digest,
            "content_type": mimetypes.guess_type(path)[0] or "application/octet-stream",
            "server_side_encryption": "AES256", **where, "tags": ctx.tags(),
        })
    oac = ctx.add("aws:cloudfront/originAccessControl:OriginAccessControl", f"{prefix}-origin-access", {
        "name": f"{ctx.bp.blueprint}-{ctx.stack}-{prefix}"[:64],
        "description": f"CloudFront reads the {what} of {ctx.ref_of(component)}",
        "origin_access_control_origin_type": "s3", "signing_behavior": "always", "signing_protocol": "sigv4",
    })
    origin = {"domain_name": ref(bucket, "bucket_regional_domain_name"), "origin_id": f"{ctx.ref_of(component)}/s3",
              "origin_access_control_id": ref(oac, "id")}
    return origin, bucket


def bucket_policy(ctx: AwsContext, component, bucket: str, distributions: list[str]) -> None:
    ctx.add("aws:s3/bucketPolicy:BucketPolicy", f"{ctx.prefix(component)}-bucket-policy", {
        "bucket": ref(bucket, "id"),
        "policy": {"$json": {"Version": "2012-10-17", "Statement": [
            {"Sid": "CloudFrontReadsThroughOriginAccessControl", "Effect": "Allow",
             "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
             "Resource": ref(bucket, "arn") + "/*",
             "Condition": {"StringEquals": {"AWS:SourceArn": [ref(d, "arn") for d in distributions]}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [ref(bucket, "arn"), ref(bucket, "arn") + "/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ]}},
        "region": ctx.sites.region(PRIMARY),
    }, depends_on=[f"{ctx.prefix(component)}-bucket-private"])


def files_under(directory: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith("."))
    return found
