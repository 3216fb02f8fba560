"""The API gateway of the Docker target, for real: Debian's nginx 1.22 runs the config compiled
from blueprints/api-and-nosql.yaml, and the JWT verifier (templates/jwt-verifier.py) checks tokens.

Only the addresses change (loopback ports instead of Docker aliases, a temp
prefix instead of the image's paths): the routes, versions, auth, limits and
CORS are the compiled ones.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import http.client
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from topoform.dsl.validate import validate_file
from topoform.providers.docker import TARGET
from topoform.providers.docker.configs.gateway import GatewayUpstream, render_gateway_conf
from topoform.providers.docker.kinds import api_gateways

from .harness import free_port, require, start_identity_server
from .test_nginx import runtime

pytestmark = pytest.mark.real_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "blueprints" / "api-and-nosql.yaml"
ISSUER, AUDIENCE = "https://auth.example.com/", "shop-api"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sign, alg: str = "RS256", **claims) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "sub": "alice", **claims}
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64url(json.dumps(body).encode())
    return head + "." + b64url(sign(head.encode()))


def openssl_signer(key: Path):
    def sign(data: bytes) -> bytes:
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key)], input=data,
                              capture_output=True, check=True, timeout=30).stdout
    return sign


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    require("openssl", "openssl")
    where = tmp_path_factory.mktemp("keys")
    for name in ("good", "other"):
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", str(where / f"{name}.key")], check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "pkey", "-in", str(where / f"{name}.key"), "-pubout", "-out",
                        str(where / f"{name}.pub")], check=True, capture_output=True, timeout=30)
    return where


def request(port: int, path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def start_gateway(launcher, keys, jwt_key: str | None = None, algorithm: str = "RS256", blueprint: Path = EXAMPLE,
                  **changes):
    """The example's gateway (or `blueprint`'s `public` one): backends, verifier and nginx on loopback
    ports; returns nginx's port."""
    nginx = require("nginx", "nginx")
    bp = validate_file(str(blueprint)).blueprint
    gateway = bp.api_gateways["public"]
    if jwt_key is not None:
        gateway.auth.jwt.key = jwt_key
    if gateway.auth is not None:
        gateway.auth.jwt.algorithm = algorithm
    ctx = TARGET.context(bp, "dev")
    verifier_port = free_port()
    compiled = api_gateways.context(ctx, gateway, f"127.0.0.1:{verifier_port}" if gateway.auth else None)
    upstreams = []
    for upstream in compiled.upstreams:
        name = upstream.name.split("_", 1)[1]  # services_orders_v1 → orders_v1
        upstreams.append(GatewayUpstream(upstream.name, "127.0.0.1", start_identity_server(launcher, name)[1]))
    if gateway.auth is not None:
        config = launcher.workdir / "jwt.json"
        config.write_text(api_gateways.verifier_config(gateway))
        launcher.start("verifier", [sys.executable, str(api_gateways.VERIFIER_SOURCE), str(config),
                                    str(verifier_port), "127.0.0.1"], wait_port=verifier_port)
    port = free_port()
    (launcher.workdir / "tmp").mkdir(exist_ok=True)
    conf_ctx = dataclasses.replace(compiled, port=port, upstreams=tuple(upstreams), runtime=runtime(
        launcher.workdir, resolver=None), cache_path=str(launcher.workdir / "cache"), **changes)
    conf = launcher.workdir / "nginx.conf"
    conf.write_text(render_gateway_conf(conf_ctx))
    err = str(launcher.workdir / "error.log")
    check = subprocess.run([nginx, "-t", "-p", str(launcher.workdir), "-c", str(conf), "-e", err],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    launcher.start("nginx", [nginx, "-p", str(launcher.workdir), "-c", str(conf), "-e", err, "-g", "daemon off;"],
                   wait_port=port)
    return port


def test_routes_by_version_and_refuses_requests_without_a_valid_token(launcher, keys):
    port = start_gateway(launcher, keys, jwt_key=(keys / "good.pub").read_text())
    good = {"Authorization": "Bearer " + token(openssl_signer(keys / "good.key"))}
    status, _, body = request(port, "/v1/orders/42", headers=good)
    assert (status, body.split()[0]) == (200, "orders_v1")
    status, _, body = request(port, "/v2/orders/42", headers=good)
    assert (status, body.split()[0]) == (200, "orders_v2")
    assert request(port, "/v1/orders/42")[0] == 401
    forged = {"Authorization": "Bearer " + token(openssl_signer(keys / "other.key"))}
    assert request(port, "/v1/orders/42", headers=forged)[0] == 401
    stale = {"Authorization": "Bearer " + token(openssl_signer(keys / "good.key"), exp=int(time.time()) - 3600)}
    assert request(port, "/v1/orders/42", headers=stale)[0] == 401
    elsewhere = {"Authorization": "Bearer " + token(openssl_signer(keys / "good.key"), aud="another-api")}
    assert request(port, "/v1/orders/42", headers=elsewhere)[0] == 401
    # GET /users is public (auth: false); POST is not routed there at all.
    status, _, body = request(port, "/users")
    assert (status, body.split()[0]) == (200, "users")
    assert request(port, "/users", method="POST")[0] == 405
    assert request(port, "/nowhere", headers=good)[0] == 404


def test_answers_429_past_the_per_client_limit(launcher, keys):
    port = start_gateway(launcher, keys, jwt_key=(keys / "good.pub").read_text())
    # 60 requests at once from one client: 20 r/s with a burst of 10 lets about 10 through.
    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(lambda _: request(port, "/users")[0], range(60)))
    assert set(statuses) == {200, 429}
    assert statuses.count(200) < 40


def test_cors_preflight_and_origin(launcher, keys):
    port = start_gateway(launcher, keys, jwt_key=(keys / "good.pub").read_text())
    status, headers, _ = request(port, "/v1/orders", method="OPTIONS",
                                 headers={"Origin": "https://shop.example.com"})
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "POST" in headers["access-control-allow-methods"]
    status, headers, _ = request(port, "/users", headers={"Origin": "https://evil.example.net"})
    assert status == 200 and "access-control-allow-origin" not in headers


def test_hs256_tokens_and_cached_get_routes(launcher, keys):
    secret = "a-shared-secret-of-thirty-two-bytes!"
    cached = tuple(dataclasses.replace(route, cache_ttl=60.0) if route.path == "/users" else route
                   for route in _example_routes())
    port = start_gateway(launcher, keys, jwt_key=secret, algorithm="HS256", routes=cached)
    signed = token(lambda data: hmac.new(secret.encode(), data, hashlib.sha256).digest(), alg="HS256")
    assert request(port, "/v1/orders/1", headers={"Authorization": "Bearer " + signed})[0] == 200
    wrong = token(lambda data: hmac.new(b"not-the-secret", data, hashlib.sha256).digest(), alg="HS256")
    assert request(port, "/v1/orders/1", headers={"Authorization": "Bearer " + wrong})[0] == 401
    first, second = request(port, "/users/7"), request(port, "/users/7")
    assert first[1]["x-cache-status"] == "MISS" and second[1]["x-cache-status"] == "HIT"
    assert first[2] == second[2]  # the identity server's counter did not move: served from the cache


def _example_routes():
    bp = validate_file(str(EXAMPLE)).blueprint
    ctx = TARGET.context(bp, "dev")
    return api_gateways.context(ctx, bp.api_gateways["public"], "127.0.0.1:1").routes


def test_a_verifier_that_is_down_gets_503_and_never_the_service(launcher, keys):
    port = start_gateway(launcher, keys, jwt_key=(keys / "good.pub").read_text())
    good = {"Authorization": "Bearer " + token(openssl_signer(keys / "good.key"))}
    assert request(port, "/v1/orders/42", headers=good)[0] == 200
    next(proc for proc in launcher.procs if proc.name == "verifier").stop()
    for headers in (good, {}):
        status, _, body = request(port, "/v1/orders/42", headers=headers)
        assert (status, json.loads(body)) == (503, {"message": "the token could not be checked"})
    # a route without auth does not ask the verifier
    assert request(port, "/users")[0] == 200


ROOT_AND_PREFIXES = """
blueprint: prefixes
services:
  home: {image: python:3.12-slim, port: 8080}
  orders: {image: python:3.12-slim, port: 8080}
api_gateways:
  public:
    routes:
      - {path: /, target: services.home}
      - {path: /orders, target: services.orders}
      - {version: v2, path: /, methods: [GET], target: services.orders}
"""


def test_a_route_is_its_path_and_below_and_a_root_route_takes_the_rest(launcher, keys, tmp_path):
    """/orders serves /orders and /orders/…, not /ordersx (as API Gateway's /orders and /orders/{proxy+});
    a route on / replaces the gateway's own 404 (two `location /` would fail nginx -t)."""
    blueprint = tmp_path / "prefixes.yaml"
    blueprint.write_text(ROOT_AND_PREFIXES)
    port = start_gateway(launcher, keys, blueprint=blueprint)
    answers = {path: (lambda r: (r[0], r[2].split()[0] if r[0] == 200 else None))(request(port, path))
               for path in ("/orders", "/orders/42", "/ordersx", "/", "/anything", "/v2", "/v2/7", "/v2x")}
    assert answers == {"/orders": (200, "orders"), "/orders/42": (200, "orders"), "/ordersx": (200, "home"),
                       "/": (200, "home"), "/anything": (200, "home"), "/v2": (200, "orders"),
                       "/v2/7": (200, "orders"), "/v2x": (200, "home")}, answers
