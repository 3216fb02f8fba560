"""The Docker gateway's Plan beyond its nginx.conf: the DNS watch that follows moved containers,
and the answer when the JWT verifier cannot be reached.

Both run for real: tests/e2e/test_api_gateway.py (a replica back at a new address, a stopped
verifier) and tests/realserver/test_api_gateway.py (Debian's nginx and the verifier on loopback).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from topoform.dsl import validate_text
from topoform.providers import compile_plan
from topoform.providers.docker.kinds import api_gateways

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "blueprints", "api-and-nosql.yaml")


def _plan(text: str | None = None):
    source = open(EXAMPLE).read() if text is None else textwrap.dedent(text)
    result = validate_text(source, file=EXAMPLE, base_dir=os.path.dirname(EXAMPLE), target="docker")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return compile_plan(result.blueprint, "docker")


def _uploads(plan, name: str) -> dict[str, dict]:
    return {u["file"]: u for u in plan.get(name).properties["uploads"]}


API_KEYS = """
blueprint: keys
services:
  api: {image: python:3.12-slim, port: 8080, replicas: 2}
api_gateways:
  partners:
    routes: [{path: /orders, target: services.api}]
    auth: {api_keys: [key-one-123456]}
"""


def test_the_gateway_watches_every_name_it_proxies_to():
    watch = _uploads(_plan(), "apigw-public")[api_gateways.WATCH_SCRIPT]
    assert watch["executable"] is True
    assert watch["file"].startswith("/docker-entrypoint.d/")  # the image's entrypoint runs it before nginx
    assert 'hosts="orders-v1 orders-v2 users public-verifier"' in watch["content"]
    assert "nginx -s reload" in watch["content"]
    keys = _uploads(_plan(API_KEYS), "apigw-partners")[api_gateways.WATCH_SCRIPT]["content"]
    assert 'hosts="api"' in keys


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_the_watch_is_a_valid_shell_script(tmp_path):
    script = tmp_path / "watch.sh"
    script.write_text(_uploads(_plan(), "apigw-public")[api_gateways.WATCH_SCRIPT]["content"])
    check = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_an_unreachable_verifier_is_a_503_on_every_route_that_needs_a_token():
    conf = _uploads(_plan(), "apigw-public")["/etc/nginx/nginx.conf"]["content"]
    guarded = conf.count("auth_request /_topoform_auth;")
    assert guarded == 3 and conf.count("error_page 500 = @public_auth_unavailable;") == guarded
    assert "return 503 '{\"message\":\"the token could not be checked\"}';" in conf
    auth_location = conf.split("location = /_topoform_auth {", 1)[1].split("}", 1)[0]
    assert "proxy_connect_timeout 2s;" in auth_location and "proxy_read_timeout 5s;" in auth_location


def test_api_keys_need_no_verifier_fallback():
    conf = _uploads(_plan(API_KEYS), "apigw-partners")["/etc/nginx/nginx.conf"]["content"]
    assert "auth_unavailable" not in conf and "recursive_error_pages" not in conf


RS256 = """
blueprint: keys
services:
  api: {image: python:3.12-slim, port: 8080}
api_gateways:
  public:
    routes: [{path: /orders, target: services.api}]
    auth: {jwt: {issuer: https://id.example.com/, audience: shop, algorithm: RS256, key: KEY}}
"""


@pytest.mark.parametrize("key", ["a-shared-secret-not-a-key", "'-----BEGIN PUBLIC KEY-----\\nbm90IGEga2V5\\n-----END PUBLIC KEY-----\\n'"])
def test_an_rs256_key_the_verifier_cannot_read_is_refused(key):
    from topoform.providers.base import UnsupportedError

    with pytest.raises(UnsupportedError, match="is not an RSA public key in PEM"):
        _plan(RS256.replace("KEY", key))


def test_the_examples_rs256_key_is_read():
    conf = _uploads(_plan(), "apigw-public-verifier")[api_gateways.VERIFIER_CONFIG]["content"]
    assert api_gateways.rs256_key_readable(json.loads(conf)["key"])
