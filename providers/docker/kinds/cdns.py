"""CDNs: one nginx per running site, always answering https (like CloudFront).

- pull: a proxy cache in front of `origin`, with CloudFront-like
  default/min/max TTLs (see `configs.cdn_ttl_directives`) and CloudFront's
  default for cookies: not forwarded, Set-Cookie removed.
- push: the blueprint's `content` directory uploaded and served as files.
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.models import Cdn
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts

from .. import configs, nginx
from ..context import DockerContext
from ..facts import estimate

CONTENT_DIR = "/usr/share/nginx/cdn"

endpoint = nginx.endpoint
attribute = nginx.attribute


def build(ctx: DockerContext, cdn: Cdn) -> None:
    tls = configs.NginxTls(nginx.HTTPS_PORT, nginx.NGINX_CERT, nginx.NGINX_KEY, redirect_http=cdn.https_only)
    uploads: list[dict[str, Any]] = []
    if cdn.mode == "pull":
        cache = configs.NginxCache(default_ttl=cdn.ttl.default, min_ttl=cdn.ttl.min, max_ttl=cdn.ttl.max,
                                   max_size="1GiB", forward_cookies=False)
        context = configs.NginxContext(name=ctx.names.host(cdn), upstream=nginx.upstream(ctx, cdn.origin),
                                       tls=tls, compression=cdn.compress, cache=cache)
    else:
        context = configs.NginxContext(name=ctx.names.host(cdn), root=CONTENT_DIR, root_ttl=cdn.ttl.default,
                                       tls=tls, compression=cdn.compress)
        uploads = nginx.directory_uploads(ctx, cdn.content, CONTENT_DIR, ("cdns", cdn.name, "content"))
        ctx.export("files", len(uploads))
    nginx.containers(ctx, cdn, context, uploads, 1)
    ctx.export("mode", cdn.mode)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("nginx cache")


def facts(ctx: Any, cdn: Cdn, table: Mapping[str, Availability]) -> Facts:
    # One nginx per running site (`build`): a hot DR site runs its own copy, unlike CloudFront.
    return common.same_at_both_sites(ctx, cdn, table, 1, "one distribution", dr_copy=topology(ctx.bp).hot_dr)
