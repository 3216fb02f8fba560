"""blueprints/data-tier.yaml on a real engine: shards, replicas, federation, valkey, memcached, layer 4.

One deployment for the module; teardown last.
"""

from __future__ import annotations

import time

import pytest

from .deployment import (Deployment, assert_settled, assert_teardown_keeps_only_protected_volumes,
                         module_deployment, until)
from .probes import exec_in, http

SETTLE_TIMEOUT = 420  # s: 13 postgres and 5 mariadb servers initialise on 2 cores


@pytest.fixture(scope="module")
def ledger(docker_client, stand_in_images):
    yield from module_deployment(docker_client, stand_in_images, "data-tier", SETTLE_TIMEOUT)


def _psql(ledger: Deployment, name: str, sql: str) -> str:
    return exec_in(ledger.container(name), ["psql", "-U", "app", "-d", "app", "-tAXc", sql])[1]


def _mariadb(ledger: Deployment, name: str, sql: str) -> tuple[int, str]:
    return exec_in(ledger.container(name), ["sh", "-c", 'mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" -N -e "$0"', sql])


def test_every_container_runs_and_is_healthy(ledger):
    assert_settled(ledger)


def test_layer4_source_hash_keeps_a_client_on_one_replica(ledger):
    for name in ledger.containers_of("services.api"):
        code, out = exec_in(ledger.container(name), ["sh", "-c", f"echo {name} > whoami.txt"])
        assert code == 0, out
    for lb in ledger.containers_of("load_balancers.api"):
        port = ledger.applied.port(lb, 8080)
        seen = {http(port, "/whoami.txt").body.decode().strip() for _ in range(8)}
        assert len(seen) == 1 and seen <= set(ledger.containers_of("services.api")), f"{lb}: {seen}"


def test_every_postgres_replica_reads_its_primarys_rows(ledger):
    pairs = [(f"db-users-shard-{i}", f"db-users-shard-{i}-replica-0") for i in range(4)]
    pairs += [("db-accounts", "db-accounts-replica-0"), ("db-accounts", "db-accounts-replica-1")]
    missing = []
    for primary, replica in pairs:
        _psql(ledger, primary, f"CREATE TABLE IF NOT EXISTS e2e (v text); INSERT INTO e2e VALUES ('{primary}')")
        if not until(lambda: primary in _psql(ledger, replica, "SELECT v FROM e2e"), 30):
            missing.append(replica)
    assert not missing, f"never replicated: {missing}"


def test_every_shard_is_its_own_database(ledger):
    for i in range(3):
        _psql(ledger, f"db-events-shard-{i}", f"CREATE TABLE IF NOT EXISTS e2e (v text); INSERT INTO e2e VALUES ('{i}')")
    assert [_psql(ledger, f"db-events-shard-{i}", "SELECT string_agg(v, ',') FROM e2e").strip()
            for i in range(3)] == ["0", "1", "2"]


def test_mariadb_replicas_read_the_primarys_rows(ledger):
    code, out = _mariadb(ledger, "db-search", "CREATE TABLE IF NOT EXISTS app.e2e (v varchar(40)); "
                                              "INSERT INTO app.e2e VALUES ('from the primary')")
    assert code == 0, out
    for replica in ("db-search-replica-0", "db-search-replica-1"):
        assert until(lambda: "from the primary" in _mariadb(ledger, replica, "SELECT v FROM app.e2e")[1], 30), \
            _mariadb(ledger, replica, "SHOW REPLICA STATUS\\G")[1][-1500:]


def test_valkey_replicas_see_a_write(ledger):
    code, out = exec_in(ledger.container("cache-sessions"),
                        ["sh", "-c", 'valkey-cli -a "$CACHE_PASSWORD" --no-auth-warning SET e2e seen'])
    assert code == 0 and "OK" in out, out
    for replica in ("cache-sessions-replica-0", "cache-sessions-replica-1"):
        assert until(lambda: "seen" in exec_in(ledger.container(replica), [
            "sh", "-c", 'valkey-cli -a "$CACHE_PASSWORD" --no-auth-warning GET e2e'])[1], 20), replica


def test_memcached_answers(ledger):
    code, out = exec_in(ledger.container("cache-lookups-0"),
                        ["sh", "-c", "printf 'version\\r\\nquit\\r\\n' | nc -w 2 127.0.0.1 11211"])
    assert "VERSION" in out, out


def test_every_database_has_a_backup_within_a_minute_of_being_healthy(ledger):
    """Defect: each first dump runs before its database is up, and the loop then sleeps an hour."""
    backups = [n for n in ledger.applied.containers if n.endswith("-backup")]
    remaining = max(0.0, 60 - (time.monotonic() - ledger.healthy_at))
    time.sleep(remaining)
    missing = [n for n in backups
               if exec_in(ledger.container(n), ["sh", "-c", "ls /backup/*.sql.gz 2>/dev/null"])[0] != 0]
    assert not missing, f"no backup a minute after the databases were healthy: {missing}"


def test_teardown_leaves_only_protected_volumes(ledger, docker_client):
    assert_teardown_keeps_only_protected_volumes(ledger, docker_client)
