"""nginx 1.22 runs the rendered nginx.conf (reverse proxy, pull and push CDN) in a temp prefix."""

from __future__ import annotations

import gzip
import subprocess

import pytest

from topoform.providers.docker.configs import (
    NginxCache, NginxContext, NginxRateLimit, NginxRuntime, NginxStatic, NginxTls, NginxUpstream,
    render_nginx_conf,
)

from .harness import free_port, http_get, require, start_identity_server

pytestmark = pytest.mark.real_server


@pytest.fixture(scope="module")
def origin(module_launcher):
    """One HTTP origin shared by the module's tests: its port."""
    return start_identity_server(module_launcher, "origin")[1]


def runtime(prefix, resolver="127.0.0.11") -> NginxRuntime:
    # As root with no `user` line, workers would run as nobody and could not
    # write the temp prefix; root workers keep the test self-contained.
    return NginxRuntime(user="root", worker_processes="1", pid=f"{prefix}/nginx.pid",
                        error_log=f"{prefix}/error.log", access_log=f"{prefix}/access.log",
                        temp_dir=f"{prefix}/tmp", resolver=resolver)


def start_nginx(launcher, ctx: NginxContext, port: int):
    nginx = require("nginx", "nginx")
    prefix = launcher.workdir
    (prefix / "tmp").mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render_nginx_conf(ctx))
    err = str(prefix / "error.log")
    check = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(conf), "-e", err],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    return launcher.start("nginx", [nginx, "-p", str(prefix), "-c", str(conf), "-e", err, "-g", "daemon off;"],
                          wait_port=port)


def proxy_ctx(launcher, origin, **kw) -> NginxContext:
    port = kw.pop("port", None) or free_port()
    base = dict(name="front", port=port, upstream=NginxUpstream("127.0.0.1", origin),
                runtime=runtime(launcher.workdir))
    base.update(kw)
    return NginxContext(**base)


def test_second_request_is_a_cache_hit(launcher, origin):
    ctx = proxy_ctx(launcher, origin, cache=NginxCache(default_ttl="1m", path=str(launcher.workdir / "cache")))
    start_nginx(launcher, ctx, ctx.port)
    url = f"http://127.0.0.1:{ctx.port}/product/1"
    first, second = http_get(url), http_get(url)
    assert first.headers["x-cache-status"] == "MISS"
    assert second.headers["x-cache-status"] == "HIT"
    assert second.body == first.body  # the origin's counter did not move
    # Origin said no-store and min TTL is 0: the origin is obeyed.
    nostore = [http_get(f"http://127.0.0.1:{ctx.port}/nostore") for _ in range(2)]
    assert [r.headers["x-cache-status"] for r in nostore] == ["MISS", "MISS"]


def test_min_ttl_overrides_origin_no_store(launcher, origin):
    ctx = proxy_ctx(launcher, origin, cache=NginxCache(default_ttl="30s", min_ttl="10s", max_ttl="1h",
                                                        path=str(launcher.workdir / "cache")))
    start_nginx(launcher, ctx, ctx.port)
    url = f"http://127.0.0.1:{ctx.port}/nostore/x"
    assert [http_get(url).headers["x-cache-status"] for _ in range(2)] == ["MISS", "HIT"]


def test_rate_limit_answers_429_past_the_burst(launcher, origin):
    ctx = proxy_ctx(launcher, origin, rate_limit=NginxRateLimit(requests_per_second=1, burst=2))
    start_nginx(launcher, ctx, ctx.port)
    statuses = [http_get(f"http://127.0.0.1:{ctx.port}/").status for _ in range(8)]
    # 1 r/s + burst 2 (nodelay): the first three pass at once, the rest are refused.
    assert statuses[:3] == [200, 200, 200], statuses
    assert statuses[-1] == 429 and statuses.count(429) >= 4, statuses


def test_denied_cidr_gets_403(launcher, origin):
    ctx = proxy_ctx(launcher, origin, deny=("127.0.0.0/8",))
    start_nginx(launcher, ctx, ctx.port)
    assert http_get(f"http://127.0.0.1:{ctx.port}/").status == 403


def test_allow_list_admits_loopback_only(launcher, origin):
    ctx = proxy_ctx(launcher, origin, allow=("127.0.0.0/8",), deny=("203.0.113.0/24",))
    start_nginx(launcher, ctx, ctx.port)
    assert http_get(f"http://127.0.0.1:{ctx.port}/").status == 200


def test_gzip_when_client_accepts_it(launcher, origin):
    ctx = proxy_ctx(launcher, origin, compression=True)
    start_nginx(launcher, ctx, ctx.port)
    zipped = http_get(f"http://127.0.0.1:{ctx.port}/big", {"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert gzip.decompress(zipped.body).startswith(b"origin lorem ipsum")
    plain = http_get(f"http://127.0.0.1:{ctx.port}/big")
    assert "content-encoding" not in plain.headers


def test_static_files_and_tls_with_redirect(launcher, origin, tls_cert):
    static = launcher.workdir / "static"
    static.mkdir()
    (static / "hello.txt").write_text("hello static\n")
    tls_port = free_port()
    ctx = proxy_ctx(launcher, origin, static=NginxStatic("/static/", str(static), ttl="1h"),
                    tls=NginxTls(tls_port, str(tls_cert["cert"]), str(tls_cert["key"])),
                    runtime=runtime(launcher.workdir, resolver=None))  # static `upstream {}` variant
    start_nginx(launcher, ctx, tls_port)
    redirect = http_get(f"http://127.0.0.1:{ctx.port}/static/hello.txt")
    assert redirect.status == 301
    assert redirect.headers["location"] == f"https://127.0.0.1:{tls_port}/static/hello.txt"
    page = http_get(f"https://127.0.0.1:{tls_port}/static/hello.txt")
    assert page.status == 200 and page.text == "hello static\n"
    assert page.headers["cache-control"] == "max-age=3600"
    proxied = http_get(f"https://127.0.0.1:{tls_port}/")
    assert proxied.status == 200 and proxied.text.startswith("origin ")


def test_push_cdn_serves_directory_with_ttl(launcher):
    content = launcher.workdir / "content"
    content.mkdir()
    (content / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    port = free_port()
    ctx = NginxContext(name="media", port=port, root=str(content), root_ttl="1d", compression=True,
                       runtime=runtime(launcher.workdir))
    start_nginx(launcher, ctx, port)
    resp = http_get(f"http://127.0.0.1:{port}/logo.svg")
    assert resp.status == 200 and resp.headers["content-type"] == "image/svg+xml"
    assert "max-age=86400" in resp.headers["cache-control"] and "public" in resp.headers["cache-control"]
    assert "expires" in resp.headers
    assert http_get(f"http://127.0.0.1:{port}/missing").status == 404
