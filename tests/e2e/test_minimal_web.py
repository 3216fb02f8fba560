"""blueprints/minimal-web.yaml on a real engine: two nginx replicas behind two haproxy copies.

One deployment for the module (module fixture); the tests run in file order
and the last one tears the stack down and checks nothing is left.
"""

from __future__ import annotations

import time

import pytest

from .deployment import (Deployment, assert_settled, assert_teardown_keeps_only_protected_volumes,
                         module_deployment, wait_settled)
from .probes import exec_in, http, wait_http

SETTLE_TIMEOUT = 120  # s: health checks every 10s, two passes to be healthy, slow 2-core CI


@pytest.fixture(scope="module")
def web(docker_client, stand_in_images):
    yield from module_deployment(docker_client, stand_in_images, "minimal-web", SETTLE_TIMEOUT)


def _balancer_ports(web: Deployment) -> list[int]:
    return [web.applied.port(name, 80) for name in web.containers_of("load_balancers.edge")]


def test_every_container_runs_and_is_healthy(web):
    assert_settled(web)


def test_limits_labels_and_health_checks_reach_the_engine(web):
    for name in web.containers_of("services.web") + web.containers_of("load_balancers.edge"):
        props = web.plan.get(name).properties
        attrs = web.container(name).attrs
        assert attrs["HostConfig"]["Memory"] == props["memory"] * 1024 * 1024
        assert attrs["HostConfig"]["NanoCpus"] == int(float(props["cpus"]) * 1e9)
        assert attrs["HostConfig"]["RestartPolicy"]["Name"] == props["restart"]
        assert attrs["Config"]["Labels"]["topoform.stack"] == web.stack
        assert attrs["Config"]["Healthcheck"]["Test"] == props["healthcheck"]["tests"]
        aliases = attrs["NetworkSettings"]["Networks"][web.applied.outputs["platform.networks.primary"]]["Aliases"]
        assert set(props["networks_advanced"][0]["aliases"]) <= set(aliases)


def test_each_balancer_copy_answers_on_its_local_url(web):
    urls = web.applied.outputs["load_balancers.edge.local_urls"]
    assert len(urls) == len(web.containers_of("load_balancers.edge")) == 2
    for url in urls:
        assert url.startswith("http://127.0.0.1:"), url  # the address the port is bound to, not `localhost`
        port = int(url.rsplit(":", 1)[1])
        assert wait_http(port, "/", timeout=30).status == 200, url


def test_requests_reach_every_replica(web):
    replicas = web.containers_of("services.web")
    for name in replicas:  # each replica serves a page naming itself
        code, out = exec_in(web.container(name), ["sh", "-c", f"echo {name} > /usr/share/nginx/html/whoami.txt"])
        assert code == 0, out
    for port in _balancer_ports(web):
        seen = {http(port, "/whoami.txt").body.decode().strip() for _ in range(12)}
        assert seen == set(replicas), f"balancer on {port} reached {seen}, not every replica of {replicas}"


def test_killing_a_replica_loses_no_request_beyond_the_health_window(web):
    port = _balancer_ports(web)[0]
    # haproxy marks a server down after `fall` failed checks `inter` apart (3 × 10s in the plan).
    window = 3 * 10 + 5
    victim = web.container(web.containers_of("services.web")[0])
    victim.kill()
    started = time.monotonic()
    late_failures, early, total, slowest = [], 0, 0, 0.0
    try:
        while time.monotonic() - started < window + 8:
            sent = time.monotonic()
            total += 1
            try:
                ok = http(port, "/", timeout=15).status == 200
            except OSError:
                ok = False
            slowest = max(slowest, time.monotonic() - sent)
            if not ok and sent - started > window:
                late_failures.append(round(sent - started, 1))
            early += not ok and sent - started <= window
            time.sleep(0.2)
    finally:
        victim.start()
    print(f"replica killed: {early} failed within the {window}s window, slowest answer {slowest:.1f}s, {total} sent")
    assert not late_failures, f"requests failed after the health window, at {late_failures} s"


def test_published_ports_listen_on_loopback_only(web):
    """Defect: the plan publishes balancer ports on every interface (0.0.0.0), reachable from the network."""
    for name in web.containers_of("load_balancers.edge"):
        container = web.container(name)
        container.reload()
        bindings = [b for bs in container.attrs["NetworkSettings"]["Ports"].values() if bs for b in bs]
        assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings), f"{name}: {bindings}"


def test_balancer_health_follows_its_backends(web):
    """Defect: haproxy's health check asks a `monitor-uri`, which answers 200 with every backend down."""
    wait_settled(web, SETTLE_TIMEOUT)
    replicas = [web.container(n) for n in web.containers_of("services.web")]
    balancer = web.container(web.containers_of("load_balancers.edge")[0])
    for replica in replicas:
        replica.stop(timeout=2)
    try:
        deadline, health = time.monotonic() + 60, None  # fall 3 × 10s, then three failed checks × 10s
        while time.monotonic() < deadline:
            balancer.reload()
            health = balancer.attrs["State"]["Health"]["Status"]
            if health == "unhealthy":
                break
            time.sleep(2)
        assert health == "unhealthy", "a balancer with no live backend still reports healthy"
    finally:
        for replica in replicas:
            replica.start()


def test_teardown_leaves_nothing(web, docker_client):
    assert_teardown_keeps_only_protected_volumes(web, docker_client)
