"""The API gateway on a real engine (tests/e2e/blueprints/gateway.yaml), in front of real services.

The compiled Plan runs unchanged: nginx gateways (the `public` one with its
JWT verifier container, the `partners` one with API keys) in front of three
python services. Every probe goes through a gateway's published 127.0.0.1
port; each service replica serves files naming itself, so a reply says which
container answered. Tokens are signed here with a key made for the module,
whose public half is the blueprint's `jwt_public_pem`.

The tests that stop a container start it again before they end; the order
of the module matters only in that teardown is last.
"""

from __future__ import annotations

import base64
import http.client as httpclient
import json
import time
from pathlib import Path

import pytest

from topoform.providers.docker.kinds.api_gateways import WATCH_INTERVAL

from .deployment import Deployment, deploy, leftovers, logs_of, not_settled, until, wait_settled
from .probes import Reply, exec_in, http, wait_http

BLUEPRINT = Path(__file__).resolve().parent / "blueprints" / "gateway.yaml"
SETTLE_TIMEOUT = 90
ISSUER, AUDIENCE = "https://issuer.e2e.test/", "e2e-api"
PARTNER_KEY = "e2e-partner-key-0001"
COOLDOWN = 5  # the blueprint's circuit_breaker.cooldown
WATCH = WATCH_INTERVAL  # seconds between the gateway's looks at Docker's DNS
SLOW = 20  # client timeout where the gateway waits for a route's 5s timeout (or a vanished address's ~3s)
ROUTED_PATHS = ("v1/items", "v2/items", "v1/limited", "catalog")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key) -> str:
    from cryptography.hazmat.primitives import serialization
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def token(key, **claims) -> str:
    """An RS256 JWT (RFC 7515 compact form) signed with `key`; claims override the valid defaults."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "sub": "e2e", **claims}
    signed = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(body).encode())
    return signed + "." + b64url(key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256()))


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


@pytest.fixture(scope="module")
def signing_key():
    return rsa_key()


@pytest.fixture(scope="module")
def gateway(docker_client, stand_in_images, signing_key):
    deployment = deploy(docker_client, stand_in_images, "gateway", {"jwt_public_pem": public_pem(signing_key)},
                        blueprint=BLUEPRINT)
    deployment.states = wait_settled(deployment, SETTLE_TIMEOUT)
    for service in ("services.items-v1", "services.items-v2", "services.catalog"):
        for name in deployment.containers_of(service):
            _name_replica(deployment, name)
    yield deployment
    deployment.applier.destroy(remove_protected=True)


def _name_replica(gateway: Deployment, name: str) -> None:
    """The replica serves whoami.txt naming itself under every routed path (python -m http.server's cwd)."""
    dirs = " ".join(ROUTED_PATHS)
    script = f"for d in {dirs}; do mkdir -p $d && echo {name} > $d/whoami.txt; done"
    code, out = exec_in(gateway.container(name), ["sh", "-c", script])
    assert code == 0, out


def _port(gateway: Deployment, component: str = "apigw-public") -> int:
    return gateway.applied.port(component, 80)


def _who(reply: Reply) -> str:
    return reply.body.decode(errors="replace").strip()


def _send(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One request with a body (probes.http sends none); the status."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Connection": "close", **headers})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _upstreams_logged(gateway: Deployment, since: int, path: str) -> list[str]:
    """The `upstream=` field of the gateway's access log lines for `path` since the unix time `since`."""
    logs = gateway.container("apigw-public").logs(since=since, stdout=True, stderr=False).decode(errors="replace")
    return [line.split("upstream=", 1)[1].split(" upstream_time=")[0]
            for line in logs.splitlines() if f" {path} " in line and "upstream=" in line]


def _stopped(gateway: Deployment, name: str):
    """Context: `name` is stopped inside, running again after (it keeps its address on the network)."""
    import contextlib

    @contextlib.contextmanager
    def stopped():
        container = gateway.container(name)
        container.stop(timeout=2)
        try:
            yield container
        finally:
            container.start()
            assert until(lambda: _healthy(container), 60), f"{name} did not come back:\n{logs_of(gateway, [name])}"
    return stopped()


def _address(container, network: str) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


def _healthy(container) -> bool:
    container.reload()
    state = container.attrs["State"]
    return state["Status"] == "running" and (state.get("Health") or {}).get("Status") in (None, "healthy")


def test_every_container_runs_and_is_healthy(gateway):
    bad = not_settled(gateway.states)
    print(f"gateway: {len(gateway.applied.containers)} containers, applied in {gateway.apply_seconds:.1f}s, "
          f"settled in {gateway.settle_seconds:.1f}s")
    assert not bad, f"{bad}\n{logs_of(gateway, bad)}"


def test_versions_reach_different_services(gateway, signing_key):
    port = _port(gateway)
    good = bearer(token(signing_key))
    wait_http(port, "/catalog/whoami.txt", timeout=30)
    v1 = {_who(http(port, "/v1/items/whoami.txt", headers=good)) for _ in range(6)}
    v2 = {_who(http(port, "/v2/items/whoami.txt", headers=good)) for _ in range(3)}
    assert v1 == set(gateway.containers_of("services.items-v1")), f"/v1/items answered by {v1}"
    assert v2 == set(gateway.containers_of("services.items-v2")), f"/v2/items answered by {v2}"
    assert http(port, "/v3/items/whoami.txt", headers=good).status == 404
    # a route is its path and below it, as on API Gateway: /v1/itemsx is no route of /v1/items
    assert http(port, "/v1/itemsx/whoami.txt", headers=good).status == 404


def test_a_token_is_required_and_checked(gateway, signing_key):
    port, path = _port(gateway), "/v1/items/whoami.txt"
    assert http(port, path).status == 401
    assert http(port, path, headers={"Authorization": "Basic ZTJlOmUyZQ=="}).status == 401
    refused = {
        "signed with another key": token(rsa_key()),
        "expired": token(signing_key, exp=int(time.time()) - 3600),
        "for another audience": token(signing_key, aud="another-api"),
        "from another issuer": token(signing_key, iss="https://elsewhere.e2e.test/"),
        "not a JWT": "not-a-token",
    }
    statuses = {why: http(port, path, headers=bearer(text)).status for why, text in refused.items()}
    assert statuses == {why: 401 for why in refused}, statuses
    reply = http(port, path, headers=bearer(token(signing_key)))
    assert reply.status == 200 and _who(reply).startswith("svc-items-v1-"), (reply.status, reply.body)


def test_api_keys_guard_the_partner_gateway(gateway):
    port, path = _port(gateway, "apigw-partners"), "/v1/items/whoami.txt"
    assert http(port, path).status == 401
    assert http(port, path, headers={"X-Api-Key": "e2e-partner-key-9999"}).status == 401
    reply = http(port, path, headers={"X-Api-Key": PARTNER_KEY})
    assert reply.status == 200 and _who(reply) in gateway.containers_of("services.items-v1"), reply


def test_the_route_limit_answers_429(gateway, signing_key):
    port, good = _port(gateway), bearer(token(signing_key))
    time.sleep(1.5)  # 2 r/s with a burst of 2: a full bucket
    started = time.monotonic()
    statuses = [http(port, "/v1/limited/whoami.txt", headers=good).status for _ in range(12)]
    elapsed = time.monotonic() - started
    allowed = 2 + 2 * (elapsed + 1)
    assert statuses.count(429) > 0 and 1 <= statuses.count(200) <= allowed, f"{statuses} in {elapsed:.1f}s"
    assert set(statuses) == {200, 429}, statuses
    # the limit is the route's: the gateway-wide one (200 r/s) still lets /v1/items through
    assert http(port, "/v1/items/whoami.txt", headers=good).status == 200


def test_a_body_over_the_limit_gets_413(gateway, signing_key):
    port, good = _port(gateway), bearer(token(signing_key))
    assert _send(port, "POST", "/v1/items/new", b"x" * 8192, good) == 413
    # under the 4KiB limit the request reaches the service (python's http.server has no POST: 501)
    assert _send(port, "POST", "/v1/items/new", b"x" * 1024, good) == 501


def test_cors_preflight_and_origin(gateway, signing_key):
    port = _port(gateway)
    preflight = http(port, "/v1/items/whoami.txt", method="OPTIONS",
                     headers={"Origin": "https://shop.e2e.test", "Access-Control-Request-Method": "GET"})
    assert preflight.status == 204, preflight
    assert preflight.header("access-control-allow-origin") == "https://shop.e2e.test"
    assert preflight.header("access-control-allow-methods") == "GET, POST"
    allowed = http(port, "/v1/items/whoami.txt", headers={"Origin": "https://shop.e2e.test", **bearer(token(signing_key))})
    assert allowed.status == 200 and allowed.header("access-control-allow-origin") == "https://shop.e2e.test"
    other = http(port, "/v1/items/whoami.txt", headers={"Origin": "https://evil.e2e.test", **bearer(token(signing_key))})
    assert other.status == 200 and not other.header("access-control-allow-origin"), other.headers


def test_a_cached_get_is_served_while_the_service_is_stopped(gateway):
    port, path = _port(gateway), "/catalog/whoami.txt?probe=cache"
    first = http(port, path)
    assert (first.status, first.header("x-cache-status")) == (200, "MISS"), first
    # nginx stores the entry once the response is complete, which may be just after the client has it
    hit = until(lambda: http(port, path).header("x-cache-status") == "HIT", 3, step=0.2)
    assert hit, "never a cache HIT"
    with _stopped(gateway, "svc-catalog-0"):
        cached = http(port, path)
        assert (cached.status, cached.header("x-cache-status"), cached.body) == (200, "HIT", first.body)
        # what the cache has not seen cannot be answered (its address answers no more: 502 or 504)
        assert http(port, "/catalog/whoami.txt?probe=uncached", timeout=SLOW).status in (502, 504)
    fresh = until(lambda: (r := http(port, "/catalog/whoami.txt?probe=after", timeout=SLOW)).status == 200 and r,
                  COOLDOWN + 10)
    assert fresh and _who(fresh) == "svc-catalog-0", fresh


def test_retries_and_the_circuit_breaker_move_to_the_other_replica(gateway, signing_key):
    """A paused replica accepts connections but never answers: each request that meets it waits the
    route's 5s timeout and is retried on the other replica; then the circuit is open and no request
    waits for it until the cooldown has passed."""
    port, good, path = _port(gateway), bearer(token(signing_key)), "/v1/items/whoami.txt?probe=retry"
    live, paused = gateway.containers_of("services.items-v1")
    code, cpus = exec_in(gateway.container("apigw-public"), ["nproc"])
    assert code == 0, cpus
    workers = int(cpus)  # worker_processes auto; each worker keeps its own failure counts
    since = int(time.time())
    gateway.container(paused).pause()
    try:
        started = time.monotonic()
        replies = [http(port, path, headers=good, timeout=SLOW) for _ in range(12)]
        elapsed = time.monotonic() - started
    finally:
        gateway.container(paused).unpause()
    assert [(r.status, _who(r)) for r in replies] == [(200, live)] * 12
    time.sleep(0.5)
    tried = _upstreams_logged(gateway, since, path)
    assert len(tried) == 12, tried
    retried = [t for t in tried if "," in t]  # "paused:8080, live:8080": timed out, then the live one
    assert 1 <= len(retried) <= workers, f"upstreams tried per request: {tried}"
    assert elapsed < 5 * workers + 5, f"12 requests took {elapsed:.1f}s: the open circuit should spare the waits"
    # the cooldown over, the replica is tried again and answers: the circuit closes
    seen = until(lambda: {_who(http(port, "/v1/items/whoami.txt", headers=good)) for _ in range(4)}
                 == {live, paused}, COOLDOWN + 15)
    assert seen, f"{paused} was never routed to again after it answered again"


def test_a_replica_back_at_a_new_address_is_found_there(gateway, signing_key):
    """A container that restarts after another took its address comes back elsewhere; the gateway
    must follow it (its watch reloads nginx), never send its requests to the new holder."""
    port, good = _port(gateway), bearer(token(signing_key))
    live, moved = gateway.containers_of("services.items-v1")
    network = gateway.applier.outputs["net-primary"]["name"]
    old = _address(gateway.container(moved), network)
    squatter = None
    try:
        with _stopped(gateway, moved):
            squatter = gateway.applier.client.containers.run(
                "python:3.12-slim", ["sh", "-c", f"mkdir -p v1/items && echo squatter > v1/items/whoami.txt && "
                                                 "exec python -m http.server 8080"],
                network=network, detach=True, labels={"topoform.stack": gateway.stack}, entrypoint=[])
            squatter.reload()
            assert _address(squatter, network) == old, (
                f"the engine gave the squatter {_address(squatter, network)}, not {moved}'s freed {old}: "
                "this test needs the address taken")
        assert _address(gateway.container(moved), network) != old
        _name_replica(gateway, moved)

        def both_and_only_replicas():
            seen = {_who(http(port, "/v1/items/whoami.txt", headers=good, timeout=SLOW)) for _ in range(4)}
            return seen if seen == {live, moved} else None
        seen = until(both_and_only_replicas, 3 * WATCH + COOLDOWN + 10)
        answers = {_who(http(port, "/v1/items/whoami.txt", headers=good, timeout=SLOW)) for _ in range(6)}
        assert seen and answers <= {live, moved}, f"after the move the gateway reached {answers}"
    finally:
        if squatter is not None:
            squatter.remove(force=True)


def test_a_stopped_verifier_refuses_rather_than_lets_requests_through(gateway, signing_key):
    port, good = _port(gateway), bearer(token(signing_key))
    with _stopped(gateway, "apigw-public-verifier"):
        started = time.monotonic()
        replies = [http(port, "/v1/items/whoami.txt", headers=good, timeout=SLOW) for _ in range(3)]
        replies.append(http(port, "/v1/items/whoami.txt", timeout=SLOW))
        elapsed = time.monotonic() - started
        assert {(r.status, r.body) for r in replies} == {(503, b'{"message":"the token could not be checked"}')}, \
            [(r.status, r.body[:80]) for r in replies]
        assert elapsed < 4 * 2 + 4, f"4 refusals took {elapsed:.1f}s (the verifier's connect timeout is 2s)"
        # routes without auth do not need it
        assert http(port, "/catalog/whoami.txt").status == 200
    assert until(lambda: http(port, "/v1/items/whoami.txt", headers=good).status == 200, 30)


def test_teardown_leaves_nothing(gateway, docker_client):
    gateway.applier.destroy()
    assert leftovers(docker_client, gateway.stack) == {"containers": [], "networks": [], "volumes": []}
