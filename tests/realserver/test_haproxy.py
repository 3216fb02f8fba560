"""haproxy 2.6 runs the rendered haproxy.cfg against real HTTP backends on loopback."""

from __future__ import annotations

import collections
import re
import subprocess

import pytest

from topoform.providers.docker.configs import (
    HaproxyBackend, HaproxyContext, HaproxyHealthCheck, HaproxyListener, HaproxyRoute,
    HaproxyServer, HaproxyStickiness, render_haproxy_cfg,
)

from .harness import free_port, http_get, require, start_identity_server, wait_for

pytestmark = pytest.mark.real_server

FAST_CHECKS = HaproxyHealthCheck(path="/health", interval="200ms", healthy=1, unhealthy=2, timeout="500ms")


def start_backends(launcher, names):
    """{name: (proc, port)} of identity servers."""
    return {n: start_identity_server(launcher, n) for n in names}


def backend(name, servers, weights=None):
    return HaproxyBackend(name, servers=tuple(
        HaproxyServer(n, "127.0.0.1", port, weight=(weights or {}).get(n, 1)) for n, (_, port) in servers.items()))


def start_haproxy(launcher, ctx: HaproxyContext, wait_port: int):
    haproxy = require("haproxy", "haproxy")
    cfg = launcher.workdir / "haproxy.cfg"
    cfg.write_text(render_haproxy_cfg(ctx))
    check = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    return launcher.start("haproxy", [haproxy, "-db", "-f", str(cfg)], wait_port=wait_port)


def body_name(resp) -> str:
    return resp.text.split()[0]


def ctx_for(servers_backend, port, **kw):
    base = dict(name="edge", bind_address="127.0.0.1", listeners=(HaproxyListener(port),),
                backends=(servers_backend,), nameservers=(), stats_port=None, health_check=FAST_CHECKS)
    base.update(kw)
    return HaproxyContext(**base)


def test_round_robin_rotates_exactly(launcher):
    servers = start_backends(launcher, ["a", "b", "c"])
    port = free_port()
    start_haproxy(launcher, ctx_for(backend("web", servers), port), port)
    seen = [body_name(http_get(f"http://127.0.0.1:{port}/")) for _ in range(9)]
    assert sorted(seen[:3]) == ["a", "b", "c"]
    assert seen == seen[:3] * 3, seen


def test_weighted_splits_in_proportion(launcher):
    servers = start_backends(launcher, ["a", "b", "c"])
    port = free_port()
    ctx = ctx_for(backend("web", servers, {"a": 5, "b": 3, "c": 2}), port, algorithm="weighted")
    start_haproxy(launcher, ctx, port)
    counts = collections.Counter(body_name(http_get(f"http://127.0.0.1:{port}/")) for _ in range(100))
    # haproxy's weighted round robin is deterministic: 50/30/20 per 100.
    assert abs(counts["a"] - 50) <= 2 and abs(counts["b"] - 30) <= 2 and abs(counts["c"] - 20) <= 2, counts


def test_dead_backend_is_taken_out_by_health_checks(launcher):
    servers = start_backends(launcher, ["a", "b", "c"])
    port, stats = free_port(), free_port()
    ctx = ctx_for(backend("web", servers), port, stats_port=stats)
    start_haproxy(launcher, ctx, port)
    servers["b"][0].kill()

    def b_down():
        csv = http_get(f"http://127.0.0.1:{stats}/stats;csv").text
        return re.search(r"^web,b,.*?,DOWN", csv, re.M)
    wait_for(b_down, 10, "haproxy to mark backend b DOWN")
    answers = [http_get(f"http://127.0.0.1:{port}/") for _ in range(12)]
    assert all(r.status == 200 for r in answers)
    assert collections.Counter(body_name(r) for r in answers) == {"a": 6, "c": 6}
    assert http_get(f"http://127.0.0.1:{stats}/healthz").status == 200


def test_sticky_cookie_keeps_a_client_on_one_backend(launcher):
    servers = start_backends(launcher, ["a", "b", "c"])
    port = free_port()
    ctx = ctx_for(backend("web", servers), port, sticky=HaproxyStickiness(cookie="SID", duration="1h"))
    start_haproxy(launcher, ctx, port)
    first = http_get(f"http://127.0.0.1:{port}/")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("SID="), cookie
    pinned = {body_name(http_get(f"http://127.0.0.1:{port}/", {"Cookie": cookie.split(";")[0]})) for _ in range(8)}
    assert pinned == {body_name(first)}
    # Without the cookie the rotation goes on.
    free = {body_name(http_get(f"http://127.0.0.1:{port}/")) for _ in range(6)}
    assert free == {"a", "b", "c"}


def test_tls_listener_and_https_redirect(launcher, tls_cert):
    servers = start_backends(launcher, ["a"])
    http_port, https_port = free_port(), free_port()
    ctx = ctx_for(backend("web", servers), http_port, tls_cert=str(tls_cert["pem"]), listeners=(
        HaproxyListener(http_port, redirect_to_https=True), HaproxyListener(https_port, tls=True)))
    start_haproxy(launcher, ctx, https_port)
    redirect = http_get(f"http://127.0.0.1:{http_port}/shop?x=1")
    assert redirect.status == 301
    assert redirect.headers["location"] == f"https://127.0.0.1:{https_port}/shop?x=1"
    secure = http_get(f"https://127.0.0.1:{https_port}/")
    assert secure.status == 200 and body_name(secure) == "a"


def test_path_routes_and_weighted_split_between_services(launcher):
    servers = start_backends(launcher, ["api1", "web1", "canary1"])
    port = free_port()
    ctx = ctx_for(None, port, backends=(
        backend("api", {"api1": servers["api1"]}),
        backend("web", {"web1": servers["web1"]}),
        backend("canary", {"canary1": servers["canary1"]}),
    ), routes=(
        HaproxyRoute("/api/*", "api", weight=3),
        HaproxyRoute("/api/*", "canary", weight=1),
        HaproxyRoute("/*", "web"),
    ))
    start_haproxy(launcher, ctx, port)
    assert {body_name(http_get(f"http://127.0.0.1:{port}/index.html")) for _ in range(3)} == {"web1"}
    counts = collections.Counter(body_name(http_get(f"http://127.0.0.1:{port}/api/orders")) for _ in range(300))
    assert set(counts) == {"api1", "canary1"}
    # rand(4) per request: 3/4 api; 300 draws give sd ≈ 7.5, allow > 4 sd.
    assert abs(counts["api1"] - 225) <= 32, counts


def test_layer4_tcp_least_connections(launcher):
    servers = start_backends(launcher, ["a", "b"])
    port = free_port()
    ctx = ctx_for(backend("db", servers), port, layer=4, algorithm="least_connections",
                  health_check=HaproxyHealthCheck(path=None, interval="200ms", healthy=1, unhealthy=2),
                  sticky=HaproxyStickiness(duration="10m"))
    start_haproxy(launcher, ctx, port)
    # Source stickiness at layer 4: once the entry is stored (when the
    # readiness probe's connection is done), 127.0.0.1 always lands on one server.
    wait_for(lambda: http_get(f"http://127.0.0.1:{port}/").status == 200, 5, "first tcp round trip")
    names = {body_name(http_get(f"http://127.0.0.1:{port}/")) for _ in range(6)}
    assert len(names) == 1 and names <= {"a", "b"}
