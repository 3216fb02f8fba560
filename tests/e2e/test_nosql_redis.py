"""tests/e2e/blueprints/nosql.yaml on a real engine: a redis key-value store (`nosql`, engine redis)
keeps every acknowledged write through a SIGKILL of its container and a restart, and through the
container being replaced (its volume stays); its replica follows; the service reaches it with the
URL it is given. Everything goes through `docker exec`.

One deployment for the module; teardown last.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .deployment import (Deployment, assert_settled, assert_teardown_keeps_only_protected_volumes, module_deployment,
                         until)
from .probes import exec_in

BLUEPRINT = Path(__file__).resolve().parent / "blueprints" / "nosql.yaml"
SETTLE_TIMEOUT = 120  # s: health checks every 10s
KEYS = 2000
CLI = 'redis-cli --user app -a "$STORE_PASSWORD" --no-auth-warning'


@pytest.fixture(scope="module")
def kv(docker_client, stand_in_images):
    yield from module_deployment(docker_client, stand_in_images, str(BLUEPRINT), SETTLE_TIMEOUT)


def cli(kv: Deployment, name: str, command: str, stdin: str | None = None) -> tuple[int, str]:
    script = f"{CLI} {command}" if stdin is None else f"printf '%b' '{stdin}' | {CLI}"
    return exec_in(kv.container(name), ["sh", "-c", script])


def healthy(kv: Deployment, name: str) -> bool:
    container = kv.container(name)
    container.reload()
    return (container.attrs["State"].get("Health") or {}).get("Status") == "healthy"


def all_keys_back(kv: Deployment, name: str) -> list[str]:
    """The keys of 0..KEYS-1 that `name` does not hold with their value."""
    code, out = cli(kv, name, "--raw MGET " + " ".join(f"k:{i}" for i in range(KEYS)))
    assert code == 0, out
    values = out.splitlines()
    return [f"k:{i}" for i in range(KEYS) if i >= len(values) or values[i] != f"v{i}"]


def test_every_container_runs_and_is_healthy(kv):
    assert_settled(kv)


def test_the_store_runs_durably_with_a_login(kv):
    code, out = cli(kv, "nsql-sessions", "CONFIG GET appendfsync")
    assert out.split() == ["appendfsync", "always"], out
    code, out = exec_in(kv.container("nsql-sessions"), ["redis-cli", "GET", "k"])
    assert "NOAUTH" in out, out


def test_the_service_reaches_the_store_with_its_url(kv):
    probe = ("import os, socket, urllib.parse\n"
             "u = urllib.parse.urlsplit(os.environ['SESSIONS_URL'])\n"
             "s = socket.create_connection((u.hostname, u.port), timeout=5)\n"
             "s.sendall(f'AUTH {u.username} {u.password}\\r\\nPING\\r\\n'.encode())\n"
             "print(s.recv(100).decode().split())\n")
    code, out = exec_in(kv.container("svc-api-0"), ["python3", "-c", probe])
    assert code == 0 and "['+OK', '+PONG']" in out, out


def test_acknowledged_writes_survive_a_kill_and_a_restart(kv):
    commands = "".join(f"SET k:{i} v{i}\\n" for i in range(KEYS))
    code, out = cli(kv, "nsql-sessions", "", stdin=commands)
    assert code == 0 and out.split().count("OK") == KEYS, out[-500:]
    primary = kv.container("nsql-sessions")
    primary.kill()  # SIGKILL: no shutdown save, only what the append-only file holds
    primary.reload()
    assert primary.attrs["State"]["Status"] == "exited"
    primary.start()
    assert until(lambda: healthy(kv, "nsql-sessions"), 60, 2), "the primary never came back healthy"
    assert all_keys_back(kv, "nsql-sessions") == []


def test_the_replica_follows_across_the_restart(kv):
    assert cli(kv, "nsql-sessions", "SET after-restart yes")[1].strip() == "OK"
    assert until(lambda: cli(kv, "nsql-sessions-replica-0", "GET after-restart")[1].strip() == "yes", 60, 2)
    assert all_keys_back(kv, "nsql-sessions-replica-0") == []
    assert "READONLY" in cli(kv, "nsql-sessions-replica-0", "SET x y")[1]


def test_a_replaced_container_reads_its_data_from_the_volume(kv):
    kv.applier.replace("nsql-sessions")  # stop, remove, create again: only the volume carries the data
    assert until(lambda: healthy(kv, "nsql-sessions"), 60, 2), "the new primary never became healthy"
    assert all_keys_back(kv, "nsql-sessions") == []


def test_teardown_leaves_only_protected_volumes(kv, docker_client):
    assert_teardown_keeps_only_protected_volumes(kv, docker_client)
