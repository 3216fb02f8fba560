"""The web edge on a real engine (tests/e2e/blueprints/edge.yaml): balancer, reverse proxy, CDN.

Only nginx, haproxy and python stand-ins, so it deploys in seconds; the same
generated configurations serve three-tier and two-region-hot-dr.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from pathlib import Path

import pytest

from topoform.dsl import load_blueprint
from topoform.providers import compile_plan

from .applier import Applier
from .deployment import Deployment, image_tags, leftovers, logs_of, not_settled, unique_stack, wait_settled
from .probes import burst, exec_in, http, local_url, peer_certificate, wait_http

BLUEPRINT = Path(__file__).resolve().parent / "blueprints" / "edge.yaml"
SETTLE_TIMEOUT = 90


@pytest.fixture(scope="module")
def edge(docker_client, stand_in_images):
    plan = compile_plan(load_blueprint(str(BLUEPRINT)), "docker", unique_stack())
    stand_in_images(image_tags(plan))
    applier = Applier(docker_client, plan)
    try:
        applied = applier.apply()
    except BaseException:
        applier.destroy(remove_protected=True)
        raise
    deployment = Deployment("edge", plan, applier, applied, 0.0)
    _name_every_replica(deployment)
    yield deployment
    applier.destroy(remove_protected=True)


def _name_every_replica(edge: Deployment) -> None:
    """Each replica serves /whoami.txt and /split/whoami.txt naming itself (nginx root, python's cwd)."""
    for name in edge.containers_of("services.blue"):
        code, out = exec_in(edge.container(name), ["sh", "-c", f"cd /usr/share/nginx/html && mkdir -p split && "
                                                               f"echo {name} | tee whoami.txt > split/whoami.txt"])
        assert code == 0, out
    for name in edge.containers_of("services.green"):
        code, out = exec_in(edge.container(name), ["sh", "-c", f"mkdir -p split && echo {name} | tee whoami.txt "
                                                               "> split/whoami.txt"])
        assert code == 0, out


def _lb_tls(edge: Deployment) -> int:
    return edge.applied.port("lb-app-0", 443)


def _rp_tls(edge: Deployment) -> int:
    return edge.applied.port("rp-front", 443)


def test_every_container_runs_and_is_healthy(edge):
    bad = not_settled(wait_settled(edge, SETTLE_TIMEOUT))
    assert not bad, f"{bad}\n{logs_of(edge, bad)}"


def test_tls_terminates_at_the_balancer_with_the_plans_certificate(edge):
    from cryptography import x509
    wait_http(_lb_tls(edge), "/", tls=True, timeout=30)
    cert = x509.load_der_x509_certificate(peer_certificate(_lb_tls(edge)))
    expected = x509.load_pem_x509_certificate(edge.applied.resources["lb-app-tls-cert"]["cert_pem"].encode())
    assert cert.serial_number == expected.serial_number
    assert http(_lb_tls(edge), "/whoami.txt", tls=True).status == 200


def test_round_robin_visits_every_replica(edge):
    seen = Counter(http(_lb_tls(edge), "/whoami.txt", tls=True).body.decode().strip() for _ in range(10))
    assert set(seen) == set(edge.containers_of("services.blue")), seen
    assert max(seen.values()) - min(seen.values()) <= 1, f"round robin is uneven: {seen}"


def test_weighted_routes_hold_their_share(edge):
    draws = 200
    seen = Counter(http(_lb_tls(edge), "/split/whoami.txt", tls=True).body.decode().strip() for _ in range(draws))
    blue = sum(n for name, n in seen.items() if name.startswith("svc-blue-"))
    # weights 3:1 → 150 of 200 expected; ±25 is four standard deviations
    assert 125 <= blue <= 175, f"blue got {blue} of {draws} (weight 3 of 4): {seen}"


def test_sticky_cookie_pins_a_client(edge):
    first = http(_lb_tls(edge), "/whoami.txt", tls=True)
    cookie = next(c.split(";")[0] for c in first.cookies if c.startswith("SERVERID="))
    pinned = {http(_lb_tls(edge), "/whoami.txt", tls=True, headers={"Cookie": cookie}).body for _ in range(8)}
    assert pinned == {first.body}, f"cookie {cookie} reached {pinned}"


@pytest.mark.parametrize("component", ["lb-app-0", "rp-front"])
def test_http_redirect_leads_to_a_url_that_answers(edge, component):
    """Defect: the redirect keeps the plain-http port (haproxy) or drops the port (nginx)."""
    port = edge.applied.port(component, 80)
    reply = http(port, "/whoami.txt")
    assert reply.status in (301, 302, 307, 308), reply.status
    scheme, target_port, path = local_url(reply.header("location"))
    assert scheme == "https"
    try:
        answered = http(target_port, path, tls=True, timeout=5)
    except OSError as error:  # nothing listens there, or it is not TLS
        raise AssertionError(f"{component} redirects http://127.0.0.1:{port}/whoami.txt to "
                             f"{reply.header('location')}, which does not answer over https: {error!r}") from None
    assert answered.status == 200, f"{reply.header('location')} answered {answered.status}"


def test_proxy_serves_static_files(edge):
    reply = http(_rp_tls(edge), "/static/hello.html", tls=True)
    assert reply.status == 200 and b"static file from the edge test" in reply.body


def test_proxy_compresses(edge):
    reply = http(_rp_tls(edge), "/static/hello.html", tls=True, headers={"Accept-Encoding": "gzip"})
    # gzip_min_length is 256 bytes: ask for a page above that (the blue replicas' nginx index)
    big = http(_rp_tls(edge), "/", tls=True, headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200 and big.status == 200
    if len(gzip.compress(big.body)) and big.header("content-encoding") != "gzip":
        assert len(big.body) < 256, f"a {len(big.body)}-byte page came back uncompressed: {big.headers}"


def test_cdn_caches_for_a_client_without_the_sticky_cookie(edge):
    """The CDN drops cookies both ways (as CloudFront does), so a response that sets the balancer's
    sticky cookie is still cached: MISS, then HIT, for clients that carry no cookie."""
    port = edge.applied.port("cdn-assets", 443)
    statuses = [http(port, "/whoami.txt?probe=cdn", tls=True).header("x-cache-status") for _ in range(3)]
    assert statuses[0] == "MISS" and statuses[-1] == "HIT", f"X-Cache-Status {statuses}"


def test_proxy_caches_for_a_client_holding_the_sticky_cookie(edge):
    """nginx never caches a response that sets a cookie, and the balancer sets its sticky cookie on a
    client's first request: `plan` warns, and the proxy caches once the client has the cookie."""
    assert any("nginx does not cache a response that sets a cookie" in w.message for w in edge.plan.warnings)
    port = edge.applied.port("rp-front", 443)
    time.sleep(1.5)  # the proxy's rate limit (5 r/s, burst 5): out of what the tests before used
    first = http(port, "/whoami.txt?probe=rp", tls=True)
    cookie = "; ".join(c.split(";", 1)[0] for c in first.cookies)
    assert first.header("x-cache-status") == "MISS" and cookie, (first.headers, first.cookies)
    replies = [http(port, "/whoami.txt?probe=rp", tls=True, headers={"Cookie": cookie}) for _ in range(3)]
    statuses = [(r.status, r.header("x-cache-status")) for r in replies]
    assert statuses[-1] == (200, "HIT"), f"status and X-Cache-Status with the sticky cookie: {statuses}"


def test_proxy_rate_limit_answers_429(edge):
    time.sleep(1.5)  # a full burst again: the tests before spent some of it
    statuses, elapsed = burst(_rp_tls(edge), "/static/hello.html", connections=4, per_connection=15, tls=True)
    allowed = 5 + 5 * (elapsed + 1)  # 5 r/s with a burst of 5 (the tests before may have used some of it)
    assert statuses[429] > 0 and 1 <= statuses[200] <= allowed, f"{statuses} in {elapsed:.1f}s"


def test_teardown_leaves_nothing(edge, docker_client):
    edge.applier.destroy()
    assert leftovers(docker_client, edge.stack) == {"containers": [], "networks": [], "volumes": []}
