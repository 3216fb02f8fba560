"""The edge: CloudFront for CDNs and reverse-proxy caching, WAF for rate limits and deny lists.

Pull CDN → a distribution with a custom origin (the balancer), a cache policy
carrying the blueprint's TTLs, viewers redirected to HTTPS. Push CDN → a
private, encrypted S3 bucket read only by its distribution through Origin
Access Control (the bucket policy names the distribution), with the content
directory uploaded as objects. A reverse proxy has no server of its own on
AWS: its TLS and redirect live on the balancer, its rate limit and deny list
in a WAFv2 web ACL attached to that balancer, and its compression, cache and
static files in a CloudFront distribution in front of it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re

from topoform.dsl.models import Cdn, LoadBalancer, ReverseProxy
from topoform.providers.plan import ref

from .network import PRIMARY

# AWS managed policies (fixed IDs in every account).
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # origin request policy
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # response headers policy
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # cache policy, for dynamic paths
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
READ_METHODS = ["GET", "HEAD"]
CACHED_METHODS = ["GET", "HEAD"]
WAF_WINDOW = 60  # seconds: the shortest evaluation window, closest to a per-second limit
WAF_MIN_LIMIT = 10


def metric_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:128]


def object_slug(key: str, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:48] or "root"
    if slug in taken:
        slug = f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    taken.add(slug)
    return slug


class EdgeMixin:
    """CloudFront, S3 origins and WAF (see compiler.py for the walk)."""

    def index_aliases(self) -> None:
        """Record names that point at each CDN or reverse proxy: the distribution must list them."""
        self._aliases: dict[str, list[str]] = {}
        if self.bp.dns is None:
            return
        for record in self.bp.dns.records:
            for endpoint in record.endpoints:
                if endpoint.target and endpoint.target.split(".")[0] in ("cdns", "reverse_proxies"):
                    names = self._aliases.setdefault(endpoint.target, [])
                    fqdn = self.record_fqdn(record.name)
                    if fqdn not in names:
                        names.append(fqdn)

    def distribution_name(self, component: Cdn | ReverseProxy) -> str:
        return f"{self.prefix(component)}-distribution"

    def has_distribution(self, component) -> bool:
        if component.section == "cdns":
            return True
        if component.section == "reverse_proxies":
            return bool(component.compression or component.cache or component.static)
        return False

    # ---------------------------------------------------------------- origins

    def origin_balancer(self, component, path: tuple) -> LoadBalancer:
        """The layer 7 balancer behind a CDN origin or proxy upstream (through proxies)."""
        seen = set()
        while component.section == "reverse_proxies" and self.ref_of(component) not in seen:
            seen.add(self.ref_of(component))
            component = self.bp.component(component.upstream)
        if component.section != "load_balancers":
            raise self.unsupported(
                f"on aws a CDN origin or proxy upstream must be a load balancer, not {self.ref_of(component)}",
                "put a `layer: 7` load balancer in front of the service and point at it", *path)
        if component.internal:
            raise self.unsupported(f"{self.ref_of(component)} is internal, so CloudFront cannot reach it",
                                   "remove `internal: true` from the balancer", *path)
        return component

    def custom_origin(self, lb: LoadBalancer) -> dict:
        """A CloudFront origin for an ALB: HTTPS to a name its certificate covers where there is one."""
        domain = ref(self.balancer_name(lb, PRIMARY), "dns_name")
        if self.balancer_has_tls(lb):
            if self.bp.dns is not None:
                domain = self.origin_record(lb)
            elif self.bp.aws.certificate_arn:
                self.warn(f"CloudFront reaches {self.ref_of(lb)} by its AWS name over HTTPS; the certificate "
                          "`aws.certificate_arn` must cover that name", "add a `dns.zone` so Topoform gives the "
                          "balancer an origin name the certificate covers", "load_balancers", lb.name)
            policy, port = "https-only", self.balancer_port(lb)
        else:
            policy, port = "http-only", self.balancer_port(lb)
        config = {"http_port": port if policy == "http-only" else 80,
                  "https_port": port if policy == "https-only" else 443,
                  "origin_protocol_policy": policy, "origin_ssl_protocols": ["TLSv1.2"],
                  "origin_read_timeout": 30, "origin_keepalive_timeout": 5}
        return {"domain_name": domain, "origin_id": self.ref_of(lb), "custom_origin_config": config}

    def origin_record(self, lb: LoadBalancer) -> str:
        """`{lb}-origin.{zone}` aliased to the balancer, so CloudFront can verify its certificate."""
        fqdn = f"{lb.name}-origin.{self.zone_name()}"
        name = f"{self.prefix(lb)}-origin-record"
        if name not in self.plan:
            balancer = self.balancer_name(lb, PRIMARY)
            with self.owning(self.ref_of(lb)):
                self.add("aws:route53/record:Record", name, {
                    "zone_id": ref(self.zone(), "zone_id"), "name": fqdn, "type": "A",
                    "aliases": [{"name": ref(balancer, "dns_name"), "zone_id": ref(balancer, "zone_id"),
                                 "evaluate_target_health": True}],
                })
        return fqdn

    # ---------------------------------------------------------------- distributions

    def viewer_certificate(self, component) -> tuple[list[str], dict]:
        aliases = self._aliases.get(self.ref_of(component), [])
        if not aliases:
            return [], {"cloudfront_default_certificate": True, "minimum_protocol_version": "TLSv1.2_2021"}
        return aliases, {"acm_certificate_arn": self.cloudfront_certificate(), "ssl_support_method": "sni-only",
                         "minimum_protocol_version": "TLSv1.2_2021"}

    def cache_policy(self, component, default: float, minimum: float, maximum: float, compress: bool,
                     dynamic: bool) -> str:
        name = f"{self.prefix(component)}-cache-policy"
        self.add("aws:cloudfront/cachePolicy:CachePolicy", name, {
            "comment": f"TTLs of {self.ref_of(component)}",
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

    def distribution(self, component, origins: list[dict], default_behavior: dict,
                     ordered: list[dict] | None = None, root_object: str | None = None,
                     depends_on: list[str] | None = None) -> str:
        aliases, certificate = self.viewer_certificate(component)
        props = {
            "enabled": True, "is_ipv6_enabled": True, "http_version": "http2and3",
            "price_class": "PriceClass_All", "comment": f"Topoform {self.bp.blueprint} {self.ref_of(component)}",
            "aliases": aliases, "origins": origins, "default_cache_behavior": default_behavior,
            "ordered_cache_behaviors": ordered or [],
            "restrictions": {"geo_restriction": {"restriction_type": "none", "locations": []}},
            "viewer_certificate": certificate, "wait_for_deployment": False, "tags": self.tags(),
        }
        if root_object:
            props["default_root_object"] = root_object
        return self.add("aws:cloudfront/distribution:Distribution", self.distribution_name(component), props,
                        depends_on=depends_on).name

    def behavior(self, origin_id: str, policy: str, *, https_only: bool, compress: bool, dynamic: bool,
                 path: str | None = None) -> dict:
        behavior = {
            "target_origin_id": origin_id,
            "viewer_protocol_policy": "redirect-to-https" if https_only else "allow-all",
            "allowed_methods": ALL_METHODS if dynamic else READ_METHODS, "cached_methods": CACHED_METHODS,
            "cache_policy_id": ref(policy, "id") if not policy.startswith("$managed:") else policy[9:],
            "response_headers_policy_id": SECURITY_HEADERS, "compress": compress,
        }
        if dynamic:
            behavior["origin_request_policy_id"] = ALL_VIEWER_EXCEPT_HOST
        if path:
            behavior["path_pattern"] = path
        return behavior

    # ---------------------------------------------------------------- CDNs

    def build_cdn(self, cdn: Cdn) -> None:
        if cdn.mode == "pull":
            origin_component = self.bp.component(cdn.origin)
            lb = self.origin_balancer(origin_component, ("cdns", cdn.name, "origin"))
            policy = self.cache_policy(cdn, cdn.ttl.default, cdn.ttl.min, cdn.ttl.max, cdn.compress, dynamic=True)
            origin = self.custom_origin(lb)
            self.distribution(cdn, [origin], self.behavior(
                origin["origin_id"], policy, https_only=cdn.https_only, compress=cdn.compress, dynamic=True))
            return
        policy = self.cache_policy(cdn, cdn.ttl.default, cdn.ttl.min, cdn.ttl.max, cdn.compress, dynamic=False)
        directory = os.path.join(self.bp.base_dir, cdn.content)
        origin, bucket = self.private_bucket(cdn, directory, "content")
        name = self.distribution(cdn, [origin], self.behavior(
            origin["origin_id"], policy, https_only=cdn.https_only, compress=cdn.compress, dynamic=False),
            root_object="index.html" if os.path.isfile(os.path.join(directory, "index.html")) else None)
        self.bucket_policy(cdn, bucket, [name])

    def private_bucket(self, component, directory: str, what: str, key_prefix: str = "") -> tuple[dict, str]:
        """An encrypted, versioned, non-public bucket with `directory` uploaded; (origin, bucket name)."""
        prefix = self.prefix(component)
        where = {"region": self.site_region(PRIMARY)}
        bucket = self.add("aws:s3/bucket:Bucket", f"{prefix}-bucket", {
            "force_destroy": False, **where, "tags": self.tags(),
        }).name
        self.add("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{prefix}-bucket-ownership", {
            "bucket": ref(bucket, "id"), "rule": {"object_ownership": "BucketOwnerEnforced"}, **where})
        self.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{prefix}-bucket-private", {
            "bucket": ref(bucket, "id"), "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True, **where})
        self.add("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 f"{prefix}-bucket-encryption", {
                     "bucket": ref(bucket, "id"),
                     "rules": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                                "bucket_key_enabled": True}], **where})
        self.add("aws:s3/bucketVersioning:BucketVersioning", f"{prefix}-bucket-versioning", {
            "bucket": ref(bucket, "id"), "versioning_configuration": {"status": "Enabled"}, **where})
        taken: set[str] = set()
        for path in sorted(self.files_under(directory)):
            key = key_prefix + os.path.relpath(path, directory).replace(os.sep, "/")
            with open(path, "rb") as handle:
                digest = hashlib.md5(handle.read()).hexdigest()
            self.add("aws:s3/bucketObjectv2:BucketObjectv2", f"{prefix}-file-{object_slug(key, taken)}", {
                "bucket": ref(bucket, "id"), "key": key, "source": {"$asset": os.path.abspath(path)},
                "source_hash": digest,
                "content_type": mimetypes.guess_type(path)[0] or "application/octet-stream",
                "server_side_encryption": "AES256", **where, "tags": self.tags(),
            })
        oac = self.add("aws:cloudfront/originAccessControl:OriginAccessControl", f"{prefix}-origin-access", {
            "name": f"{self.bp.blueprint}-{self.stack}-{prefix}"[:64],
            "description": f"CloudFront reads the {what} of {self.ref_of(component)}",
            "origin_access_control_origin_type": "s3", "signing_behavior": "always", "signing_protocol": "sigv4",
        })
        origin = {"domain_name": ref(bucket, "bucket_regional_domain_name"), "origin_id": f"{self.ref_of(component)}/s3",
                  "origin_access_control_id": ref(oac, "id")}
        return origin, bucket

    def bucket_policy(self, component, bucket: str, distributions: list[str]) -> None:
        self.add("aws:s3/bucketPolicy:BucketPolicy", f"{self.prefix(component)}-bucket-policy", {
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
            "region": self.site_region(PRIMARY),
        }, depends_on=[f"{self.prefix(component)}-bucket-private"])

    @staticmethod
    def files_under(directory: str) -> list[str]:
        found = []
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith("."))
        return found

    # ---------------------------------------------------------------- reverse proxies

    def build_reverse_proxy(self, proxy: ReverseProxy) -> None:
        lb = self.origin_balancer(self.bp.component(proxy.upstream), ("reverse_proxies", proxy.name, "upstream"))
        if lb.layer != 7:
            raise self.unsupported(f"on aws a reverse proxy works at layer 7, but {self.ref_of(lb)} is layer 4",
                                   "set `layer: 7` on the balancer", "reverse_proxies", proxy.name, "upstream")
        if proxy.tls and not self.has_distribution(proxy) and not self.balancer_has_tls(lb):
            raise self.unsupported(f"`tls: true` on aws terminates TLS at {self.ref_of(lb)}, which has no TLS listener",
                                   "add `{port: 443, tls: true}` to the balancer's listeners",
                                   "reverse_proxies", proxy.name, "tls")
        if proxy.rate_limit or proxy.deny or proxy.allow:
            for site in self.sites():
                self.web_acl(proxy, lb, site)
        if self.has_distribution(proxy):
            self.proxy_distribution(proxy, lb)

    def web_acl(self, proxy: ReverseProxy, lb: LoadBalancer, site: str) -> None:
        from .network import site_name

        owner = self._web_acls.setdefault((self.ref_of(lb), site), self.ref_of(proxy))
        if owner != self.ref_of(proxy):
            raise self.unsupported(f"{self.ref_of(lb)} already has the web ACL of {owner}; a balancer takes one",
                                   "merge the rate limits and deny lists into one reverse proxy",
                                   "reverse_proxies", proxy.name)
        where = {"region": self.site_region(site), "scope": "REGIONAL"}
        prefix = site_name(self.prefix(proxy), site)
        label = metric_name(f"{self.bp.blueprint}-{self.stack}-{prefix}")
        visibility = lambda suffix: {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True,  # noqa: E731
                                     "metric_name": f"{label}-{suffix}"}
        rules: list[dict] = []

        def ip_rule(addresses: list[str], what: str, action: str) -> None:
            for version in ("IPV4", "IPV6"):
                chosen = sorted(a for a in addresses if (":" in a) == (version == "IPV6"))
                if not chosen:
                    continue
                ip_set = self.add("aws:wafv2/ipSet:IpSet", f"{prefix}-{what}-{version.lower()}", {
                    "addresses": chosen, "ip_address_version": version,
                    "description": f"{what} list of {self.ref_of(proxy)}", **where, "tags": self.tags(),
                })
                rules.append({"name": f"{what}-{version.lower()}", "priority": len(rules),
                              "action": {action: {}},
                              "statement": {"ip_set_reference_statement": {"arn": ref(ip_set, "arn")}},
                              "visibility_config": visibility(f"{what}-{version.lower()}")})

        if proxy.deny:
            ip_rule(proxy.deny, "deny", "block")
        if proxy.rate_limit:
            per_window = max(proxy.rate_limit.requests_per_second * WAF_WINDOW, WAF_MIN_LIMIT)
            rules.append({"name": "rate-limit", "priority": len(rules), "action": {"block": {}},
                          "statement": {"rate_based_statement": {
                              "limit": per_window, "aggregate_key_type": "IP", "evaluation_window_sec": WAF_WINDOW}},
                          "visibility_config": visibility("rate-limit")})
        if proxy.allow:
            ip_rule(proxy.allow, "allow", "allow")
        acl = self.add("aws:wafv2/webAcl:WebAcl", f"{prefix}-web-acl", {
            "description": f"rate limit and address rules of {self.ref_of(proxy)}",
            "default_action": {"block": {}} if proxy.allow else {"allow": {}},
            "rules": rules, "visibility_config": visibility("acl"), **where, "tags": self.tags(),
        })
        self.add("aws:wafv2/webAclAssociation:WebAclAssociation", f"{prefix}-web-acl-link", {
            "resource_arn": ref(self.balancer_name(lb, site), "arn"), "web_acl_arn": ref(acl, "arn"),
            "region": self.site_region(site),
        })

    def proxy_distribution(self, proxy: ReverseProxy, lb: LoadBalancer) -> None:
        origin = self.custom_origin(lb)
        origins = [origin]
        compress = proxy.compression
        if proxy.cache:
            policy = self.cache_policy(proxy, proxy.cache.ttl, 0, max(proxy.cache.ttl, 86400), compress, dynamic=True)
        else:
            policy = "$managed:" + CACHING_DISABLED
        default = self.behavior(origin["origin_id"], policy, https_only=True, compress=compress, dynamic=True)
        ordered, bucket = [], None
        if proxy.static:
            directory = os.path.join(self.bp.base_dir, proxy.static.directory)
            if not os.path.isdir(directory):
                raise self.unsupported(f"static directory '{proxy.static.directory}' does not exist",
                                       f"create it (relative to the blueprint file: {directory})",
                                       "reverse_proxies", proxy.name, "static", "directory")
            path = proxy.static.path if proxy.static.path.endswith("/") else proxy.static.path + "/"
            static_origin, bucket = self.private_bucket(proxy, directory, "static files", key_prefix=path.lstrip("/"))
            origins.append(static_origin)
            static_policy = self.cache_policy_static(proxy, compress)
            ordered.append(self.behavior(static_origin["origin_id"], static_policy, https_only=True,
                                         compress=compress, dynamic=False, path=path + "*"))
        name = self.distribution(proxy, origins, default, ordered)
        if bucket:
            self.bucket_policy(proxy, bucket, [name])

    def cache_policy_static(self, proxy: ReverseProxy, compress: bool) -> str:
        ttl = proxy.cache.ttl if proxy.cache else 86400
        name = f"{self.prefix(proxy)}-static-cache-policy"
        self.add("aws:cloudfront/cachePolicy:CachePolicy", name, {
            "comment": f"static files of {self.ref_of(proxy)}", "default_ttl": int(ttl), "min_ttl": 0,
            "max_ttl": int(max(ttl, 86400)),
            "parameters_in_cache_key_and_forwarded_to_origin": {
                "cookies_config": {"cookie_behavior": "none"}, "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "none"},
                "enable_accept_encoding_gzip": compress, "enable_accept_encoding_brotli": compress},
        })
        return name
