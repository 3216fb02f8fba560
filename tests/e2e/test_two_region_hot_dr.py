"""blueprints/two-region-hot-dr.yaml on a real engine: both sites, DNS policies and failover, DR copies.

The biggest example (~50 containers): deployed once for the module. The
failover test stops the primary site's balancers and starts them again, so
it runs after the read-only checks.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from .deployment import (Deployment, assert_settled, assert_teardown_keeps_only_protected_volumes,
                         module_deployment, until)
from .probes import dig, exec_in, http

SETTLE_TIMEOUT = 480  # s: ~15 postgres servers initialise and clone on 2 cores


@pytest.fixture(scope="module")
def site(docker_client, stand_in_images):
    yield from module_deployment(docker_client, stand_in_images, "two-region-hot-dr", SETTLE_TIMEOUT)


def _dns_port(site: Deployment) -> int:
    return site.applied.port("dns-server", 53, "udp")


def test_every_container_runs_and_is_healthy(site):
    assert_settled(site)


def test_weighted_dns_holds_its_shares(site):
    zone, addresses = site.applied.outputs["dns.zone"], site.applied.outputs["dns.addresses"]
    cdn, lb = set(addresses["cdns.assets@primary"]), set(addresses["load_balancers.edge@primary"])
    answers = Counter()
    for _ in range(200):
        for address in dig(_dns_port(site), f"www.{zone}"):
            answers["cdn" if address in cdn else "lb" if address in lb else address] += 1
    assert set(answers) <= {"cdn", "lb"}, answers
    assert 160 <= answers["cdn"] <= 198, f"weights 90/10 over 200 answers: {answers}"


@pytest.mark.parametrize("subnet", ["2.16.0.0/24", "8.8.8.0/24"])  # EDNS client subnet: a label, not a peer
def test_geolocation_and_latency_records_answer(site, subnet):
    zone, addresses = site.applied.outputs["dns.zone"], site.applied.outputs["dns.addresses"]
    lb = set(addresses["load_balancers.edge@primary"])
    assert set(dig(_dns_port(site), f"eu.{zone}", subnet=subnet)) <= lb
    assert dig(_dns_port(site), f"eu.{zone}", subnet=subnet)
    assert set(dig(_dns_port(site), f"fast.{zone}")) <= lb and dig(_dns_port(site), f"fast.{zone}")


def test_every_balancer_copy_and_the_static_and_push_cdn_content_answer(site):
    for url in site.applied.outputs["load_balancers.edge.local_urls"]:
        scheme, port = url.split("://")[0], int(url.rsplit(":", 1)[1])
        assert http(port, "/", tls=scheme == "https").status in (200, 301, 302), url
    rp = site.applied.port("rp-front", 443)
    assert http(rp, "/static/index.html", tls=True).status == 200
    media = site.applied.port("cdn-media", 443)
    assert http(media, "/index.html", tls=True).status == 200


def test_pull_cdn_misses_then_hits(site):
    """A pull CDN in front of the balancer serves a HIT once it has fetched a page."""
    port = site.applied.port("cdn-assets", 443)
    statuses = [http(port, "/index.html?cdn-probe", tls=True).header("x-cache-status") for _ in range(3)]
    assert statuses[0] == "MISS" and statuses[-1] == "HIT", statuses


def _primaries(site: Deployment) -> dict[str, list[str]]:
    """Each postgres primary → every container replicating it (replicas and DR copies)."""
    out: dict[str, list[str]] = {}
    for resource in site.plan.resources:
        if resource.name.startswith("db-") and "/docker-entrypoint-initdb.d/10-topoform-replication.sh" in {
                u["file"] for u in resource.properties.get("uploads", [])}:
            out[resource.name] = [name for name in site.applied.containers
                                  if name.startswith(resource.name + "-") and name[len(resource.name) + 1:]
                                  .split("-")[0] in ("replica", "dr")]
    return out


def test_a_row_on_every_primary_is_read_on_every_replica_and_dr_copy(site):
    primaries = _primaries(site)
    assert len(primaries) == 6 and all(primaries.values()), primaries
    missing = []
    for primary, copies in primaries.items():
        code, out = exec_in(site.container(primary), ["psql", "-U", "app", "-d", "app", "-tAXc",
                                                      "CREATE TABLE IF NOT EXISTS e2e (v text); "
                                                      f"INSERT INTO e2e VALUES ('from {primary}')"])
        assert code == 0, f"{primary}: {out}"
        for copy in copies:
            def seen(copy=copy, primary=primary):
                return f"from {primary}" in exec_in(site.container(copy), [
                    "psql", "-U", "app", "-d", "app", "-tAXc", "SELECT v FROM e2e"])[1]
            if not until(seen, 30):
                missing.append(f"{copy} (of {primary})")
    assert not missing, f"rows never reached {missing}"


def test_redis_replicas_see_a_write_on_both_sites(site):
    for primary, replica in [("cache-sessions", "cache-sessions-replica-0"),
                             ("cache-sessions-dr", "cache-sessions-dr-replica-0")]:
        code, out = exec_in(site.container(primary), [
            "sh", "-c", f'redis-cli -a "$CACHE_PASSWORD" --no-auth-warning SET e2e {primary}'])
        assert code == 0 and "OK" in out, out
        assert until(lambda: primary in exec_in(site.container(replica), [
            "sh", "-c", 'redis-cli -a "$CACHE_PASSWORD" --no-auth-warning GET e2e'])[1], 20), replica


def test_failover_moves_api_to_the_dr_site_and_back(site):
    zone, addresses = site.applied.outputs["dns.zone"], site.applied.outputs["dns.addresses"]
    primary, dr = set(addresses["load_balancers.edge@primary"]), set(addresses["load_balancers.edge@dr"])
    port = _dns_port(site)
    # The primary answers once its balancers' health checks have passed the DNS server's check; on a
    # loaded machine that can take a while after the deployment settles, so wait for it (bounded).
    settled = until(lambda: (a := set(dig(port, f"api.{zone}"))) and a <= primary, 120)
    assert settled, f"api answers {dig(port, f'api.{zone}')} before any fault, not the primary site {primary}"
    balancers = [site.container(n) for n in site.containers_of("load_balancers.edge") if "-dr-" not in n]
    for lb in balancers:
        lb.stop(timeout=5)
    stopped = time.monotonic()
    try:
        moved = until(lambda: (a := set(dig(port, f"api.{zone}"))) and a <= dr, 60)
        away = time.monotonic() - stopped
        assert moved, f"api still answers {dig(port, f'api.{zone}')} {away:.0f}s after the primary balancers stopped"
    finally:
        for lb in balancers:
            lb.start()
    restarted = time.monotonic()
    back = until(lambda: (a := set(dig(port, f"api.{zone}"))) and a <= primary, 60)
    home = time.monotonic() - restarted
    print(f"failover: api moved to DR in {away:.1f}s and back in {home:.1f}s")
    assert back, "api did not return to the primary site within 60s"


def test_teardown_leaves_only_protected_volumes(site, docker_client):
    assert_teardown_keeps_only_protected_volumes(site, docker_client)
