"""blueprints/three-tier.yaml on a real engine: the edge, postgres with a replica, redis, rabbitmq, DNS.

One deployment for the module; tests run in file order (the replacement and
teardown tests come last).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from .deployment import (Deployment, assert_settled, assert_teardown_keeps_only_protected_volumes,
                         module_deployment, until)
from .probes import burst, dig, exec_in, http, peer_certificate, run_probe

SETTLE_TIMEOUT = 300  # s: postgres init + clone, rabbitmq's 60s start period and 30s checks, on 2 cores


@pytest.fixture(scope="module")
def shop(docker_client, stand_in_images):
    yield from module_deployment(docker_client, stand_in_images, "three-tier", SETTLE_TIMEOUT)


def _psql(shop: Deployment, name: str, sql: str) -> tuple[int, str]:
    return exec_in(shop.container(name), ["psql", "-U", "app", "-d", "app", "-tAXc", sql])


def test_every_container_runs_and_is_healthy(shop):
    assert_settled(shop)


def test_worker_runs_its_job(shop):
    for name in shop.containers_of("services.worker"):
        logs = until(lambda: "orders queue reachable" in shop.container(name).logs().decode(errors="replace"), 40)
        assert logs, f"{name}: {shop.container(name).logs(tail=5)!r}"


def test_balancer_round_robin_and_sticky_cookie_over_tls(shop):
    replicas = shop.containers_of("services.api")
    for name in replicas:
        code, out = exec_in(shop.container(name), ["sh", "-c", f"mkdir -p api && echo {name} > api/whoami.txt"])
        assert code == 0, out
    port = shop.applied.port("lb-app-0", 443)
    from cryptography import x509
    served = x509.load_der_x509_certificate(peer_certificate(port))
    assert served.serial_number == x509.load_pem_x509_certificate(
        shop.applied.resources["lb-app-tls-cert"]["cert_pem"].encode()).serial_number
    seen = Counter(http(port, "/api/whoami.txt", tls=True).body.decode().strip() for _ in range(9))
    assert set(seen) == set(replicas), seen
    first = http(port, "/api/whoami.txt", tls=True)
    cookie = next(c.split(";")[0] for c in first.cookies if c.startswith("SERVERID="))
    pinned = {http(port, "/api/whoami.txt", tls=True, headers={"Cookie": cookie}).body for _ in range(6)}
    assert pinned == {first.body}


def test_reverse_proxy_compresses_and_limits_the_rate(shop):
    for name in shop.containers_of("services.storefront"):
        code, out = exec_in(shop.container(name), ["sh", "-c", "seq 1 2000 > /usr/share/nginx/html/big.txt"])
        assert code == 0, out
    port = shop.applied.port("rp-front-0", 443)
    reply = http(port, "/big.txt", tls=True, headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200 and reply.header("content-encoding") == "gzip", reply.headers
    statuses, elapsed = burst(port, "/big.txt", connections=16, per_connection=50, tls=True)
    rate, limit_burst = 100, 200  # the blueprint's rate_limit
    allowed = limit_burst + rate * (elapsed + 1)
    assert statuses[200] <= allowed, f"{statuses} in {elapsed:.1f}s: more than {allowed:.0f} let through"
    if sum(statuses.values()) > allowed:
        assert statuses[429] > 0, statuses


def test_reverse_proxy_cache_misses_then_hits(shop):
    """Defect: the balancer's `cookie … nocache` makes every response uncacheable for the proxy."""
    port = shop.applied.port("rp-front-0", 443)
    time.sleep(1.5)  # out of the rate limit's burst left by the test before
    statuses = [http(port, "/index.html?cache-probe", tls=True).header("x-cache-status") for _ in range(3)]
    assert statuses[0] == "MISS" and statuses[-1] == "HIT", statuses


def test_dns_answers_with_the_components_addresses(shop):
    port = shop.applied.port("dns-server", 53, "udp")
    zone = shop.applied.outputs["dns.zone"]
    addresses = shop.applied.outputs["dns.addresses"]
    network = shop.applied.outputs["platform.networks.primary"]

    def ips(component: str) -> set[str]:
        out = set()
        for name in shop.containers_of(component):
            c = shop.container(name)
            c.reload()
            out.add(c.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])
        return out

    www = set(dig(port, f"www.{zone}"))
    api = set(dig(port, f"api.{zone}"))
    assert www == set(addresses["reverse_proxies.front@primary"]) == ips("reverse_proxies.front")
    assert api == set(addresses["load_balancers.app@primary"]) == ips("load_balancers.app")


def test_a_row_written_on_the_primary_is_read_on_the_replica(shop):
    code, out = _psql(shop, "db-catalog", "CREATE TABLE IF NOT EXISTS e2e (id int PRIMARY KEY, v text);"
                                          "INSERT INTO e2e VALUES (1, 'written on the primary') ON CONFLICT DO NOTHING")
    assert code == 0, out
    read = until(lambda: "written on the primary" in _psql(shop, "db-catalog-replica-0",
                                                             "SELECT v FROM e2e WHERE id = 1")[1], 30)
    assert read, _psql(shop, "db-catalog-replica-0", "SELECT v FROM e2e WHERE id = 1")


def test_the_initdb_script_is_executable_by_the_user_that_runs_it(shop):
    """Defect: uploaded root:root 0744, the postgres user cannot execute it, so the entrypoint sources it."""
    script = "/docker-entrypoint-initdb.d/10-topoform-replication.sh"
    code, out = exec_in(shop.container("db-catalog"), ["sh", "-c", f"test -x {script} && echo executable"],
                        user="postgres")
    assert code == 0, f"{script} is not executable for postgres: {exec_in(shop.container('db-catalog'), ['ls', '-l', script])[1]}"


def test_the_first_backup_exists_within_a_minute_of_a_healthy_database(shop):
    """Defect: the first dump runs before postgres is up, fails, and the loop sleeps a whole hour."""
    backup = shop.container("db-catalog-backup")
    remaining = max(0.0, 60 - (time.monotonic() - shop.healthy_at))
    found = until(lambda: exec_in(backup, ["sh", "-c", "ls /backup/*.sql.gz 2>/dev/null"])[0] == 0, remaining, 3)
    assert found, f"no backup within a minute; backup logs:\n{backup.logs(tail=5).decode(errors='replace')}"


def test_the_redis_replica_sees_a_write(shop):
    code, out = exec_in(shop.container("cache-pages"),
                        ["sh", "-c", 'redis-cli -a "$CACHE_PASSWORD" --no-auth-warning SET e2e-key seen'])
    assert code == 0 and "OK" in out, out
    read = until(lambda: "seen" in exec_in(shop.container("cache-pages-replica-0"), [
        "sh", "-c", 'redis-cli -a "$CACHE_PASSWORD" --no-auth-warning GET e2e-key'])[1], 20)
    assert read


_QUEUE_SCRIPT = r'''
import sys, pika
params = pika.URLParameters(sys.argv[1] if len(sys.argv) > 1 else "{url}")
connection = pika.BlockingConnection(params)
channel = connection.channel()
channel.confirm_delivery()
accepted = 0
refused_at = None
for i in range({max_depth} + 1):
    try:
        channel.basic_publish("", "{queue}", b"order %d" % i, pika.BasicProperties(delivery_mode=2), mandatory=True)
        accepted += 1
    except (pika.exceptions.NackError, pika.exceptions.UnroutableError):
        refused_at = i + 1
        break
print("accepted", accepted, "refused_at", refused_at, flush=True)
channel.queue_purge("{queue}")
channel.basic_publish("", "{queue}", b"poison", pika.BasicProperties(delivery_mode=2))
receives = 0
channel.basic_qos(prefetch_count=1)
# quorum queues with a single active consumer refuse basic.get: consume, and hand every delivery back
for method, _, body in channel.consume("{queue}", inactivity_timeout=5):
    if method is None or receives >= 20:
        break
    receives += 1
    channel.basic_nack(method.delivery_tag, requeue=True)
channel.cancel()
import time
time.sleep(1)
dead = channel.queue_declare("{dlq}", passive=True).method.message_count
print("receives", receives, "dead", dead, flush=True)
'''


def test_the_queue_applies_back_pressure_and_dead_letters(shop, docker_client):
    outputs = shop.applied.outputs
    script = _QUEUE_SCRIPT.format(url=outputs["queues.orders.url"], queue=outputs["queues.orders.queue"],
                                  dlq=outputs["queues.orders.dead_letter_queue"], max_depth=5000)
    image = shop.plan.get("image-python-3-12-slim").properties["name"]
    code, out = run_probe(docker_client, image, outputs["platform.networks.primary"], script, ("pika",), 300)
    assert code == 0, out
    words = out.split()
    accepted, refused_at = int(words[words.index("accepted") + 1]), words[words.index("refused_at") + 1]
    receives, dead = int(words[words.index("receives") + 1]), int(words[words.index("dead") + 1])
    assert (accepted, refused_at) == (5000, "5001"), f"max_depth 5000: {out}"
    assert (receives, dead) == (5, 1), f"max_receives 5: {out}"


def test_a_protected_volume_survives_a_container_replacement(shop):
    _psql(shop, "db-catalog", "CREATE TABLE IF NOT EXISTS e2e (id int PRIMARY KEY, v text);"
                              "INSERT INTO e2e VALUES (2, 'before the replacement') ON CONFLICT DO NOTHING")
    shop.replaced = shop.applier.replace("db-catalog")
    healthy = until(lambda: (shop.replaced.reload() or True)
                     and (shop.replaced.attrs["State"].get("Health") or {}).get("Status") == "healthy", 120, 2)
    assert healthy, shop.replaced.logs(tail=20).decode(errors="replace")
    assert "before the replacement" in _psql(shop, "db-catalog", "SELECT v FROM e2e WHERE id = 2")[1]


def test_stop_is_graceful(shop):
    """Defect: no destroy_grace_seconds, so the provider stops postgres with SIGKILL at once."""
    logs = shop.replaced.logs().decode(errors="replace")
    assert "not properly shut down" not in logs and "automatic recovery" not in logs, logs[-2000:]


def test_teardown_keeps_only_protected_volumes(shop, docker_client):
    assert_teardown_keeps_only_protected_volumes(shop, docker_client)
