"""Debian's redis-server runs the durable key-value store the Docker Plan renders
(blueprints/api-and-nosql.yaml, `nosql.sessions`: valkey reads the same redis.conf).

What the Plan promises and these prove: an acknowledged write survives a hard kill
(SIGKILL) of the server, read back from the append-only file after a restart from
the same directory; nothing is served without user `app`'s password; the replica
follows its primary and refuses writes; a full store refuses writes instead of
dropping data. A control run with the append-only file turned off loses the writes,
so the crash test can fail.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from . import compiled
from .harness import free_port, require, wait_for

pytestmark = pytest.mark.real_server

EXAMPLE = compiled.ROOT / "blueprints" / "api-and-nosql.yaml"
CONF = "/etc/topoform/store.conf"


class Client:
    """A minimal RESP client (one connection, one command at a time): each reply is read before the
    next command is sent, so a reply received is an acknowledged write."""

    def __init__(self, port: int, user: str | None = None, password: str | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        if password is not None:
            reply = self.call("AUTH", user or "default", password)
            assert reply == "OK", reply

    def call(self, *args: str):
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:].decode()
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            return RedisError(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buffer) < size + 2:
                self.buffer += self.sock.recv(65536)
            data, self.buffer = self.buffer[:size], self.buffer[size + 2:]
            return data.decode()
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise AssertionError(f"unexpected reply {line!r}")

    def close(self) -> None:
        self.sock.close()


class RedisError(str):
    """An error reply (`-NOAUTH …`), as text."""


def rendered(name: str) -> tuple[str, str]:
    """(store.conf, the password) of container `name` as the Plan renders them, references resolved."""
    container = compiled.find(EXAMPLE, name)
    assert container.command == ("valkey-server", CONF), container.command
    return container.upload("store.conf").text(container), container.env()["STORE_PASSWORD"]


def for_loopback(text: str, directory: Path, port: int, replicaof: int | None = None) -> str:
    text = compiled.sub_required(r"^bind \S+$", "bind 127.0.0.1", text, "bind line")
    text = compiled.sub_required(r"^port 6379$", f"port {port}", text, "port line")
    text = compiled.sub_required(r"^dir /data$", f"dir {directory}", text, "dir line")
    if replicaof is not None:
        text = compiled.sub_required(r"^replicaof sessions 6379$", f"replicaof 127.0.0.1 {replicaof}", text,
                                     "replicaof line")
    return text


def start(launcher, name: str, text: str, port: int, directory: Path):
    """redis-server on `text` (written once per name: a restart reads the same file and directory)."""
    server = require("redis-server", "redis-server")
    directory.mkdir(exist_ok=True)
    conf = launcher.workdir / f"{name}.conf"
    conf.write_text(text)
    return launcher.start(f"{name}-{time.monotonic_ns()}", [server, str(conf)], wait_port=port, timeout=20)


def primary(launcher, edit=lambda text: text):
    port, directory = free_port(), launcher.workdir / "primary-data"
    text, password = rendered("nsql-sessions")
    conf = edit(for_loopback(text, directory, port))
    return start(launcher, "primary", conf, port, directory), port, password, conf, directory


def write_until_killed(port: int, password: str, proc, after: int = 300) -> dict[str, str]:
    """SET key:N from one connection until the server dies; a SIGKILL lands after `after` acknowledgements
    while writes are in flight. Returns every acknowledged key and value."""
    acked: dict[str, str] = {}
    client = Client(port, "app", password)
    killer = threading.Thread(target=lambda: (wait_for(lambda: len(acked) >= after, 30, "writes"), proc.kill()))
    killer.start()
    try:
        for i in range(1_000_000):
            key, value = f"key:{i}", f"value-{i}-" + "x" * 64
            try:
                reply = client.call("SET", key, value)
            except (ConnectionError, OSError):
                break
            assert reply == "OK", reply
            acked[key] = value
    finally:
        killer.join(30)
        client.close()
    assert not proc.alive()
    return acked


def missing_after_restart(launcher, port: int, password: str, conf: str, directory: Path,
                          acked: dict[str, str]) -> list[str]:
    start(launcher, "primary", conf, port, directory)
    client = Client(port, "app", password)
    try:
        wait_for(lambda: client.call("PING") == "PONG", 20, "the restarted server to load its data")
        keys = list(acked)
        missing = []
        for i in range(0, len(keys), 500):
            batch = keys[i:i + 500]
            values = client.call("MGET", *batch)
            missing += [k for k, v in zip(batch, values) if v != acked[k]]
        return missing
    finally:
        client.close()


def test_every_acknowledged_write_survives_a_hard_kill(launcher):
    proc, port, password, conf, directory = primary(launcher)
    assert {"appendonly yes", "appendfsync always"} <= set(conf.splitlines())
    acked = write_until_killed(port, password, proc)
    assert len(acked) >= 300
    print(f"{len(acked)} writes acknowledged before the SIGKILL")
    assert (directory / "appendonlydir").is_dir()
    missing = missing_after_restart(launcher, port, password, conf, directory, acked)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost, e.g. {missing[:5]}"


def test_without_the_append_only_file_the_same_crash_loses_the_writes(launcher):
    """The control: the rendered config with `appendonly no` keeps nothing (save "" takes no snapshot)."""
    off = lambda text: compiled.sub_required(r"^appendonly yes$", "appendonly no", text, "appendonly line")  # noqa: E731
    proc, port, password, conf, directory = primary(launcher, off)
    acked = write_until_killed(port, password, proc)
    assert len(missing_after_restart(launcher, port, password, conf, directory, acked)) == len(acked)


def test_nothing_is_served_without_the_apps_password(launcher):
    _, port, password, _, _ = primary(launcher)
    anonymous = Client(port)
    try:
        assert anonymous.call("GET", "k").startswith("NOAUTH")
        assert anonymous.call("AUTH", "app", "not-the-password").startswith("WRONGPASS")
        assert anonymous.call("AUTH", "default", "").startswith("WRONGPASS")  # the default user is off
        assert anonymous.call("AUTH", "app", password) == "OK"
        assert anonymous.call("SET", "k", "v") == "OK" and anonymous.call("GET", "k") == "v"
    finally:
        anonymous.close()


def test_the_replica_follows_its_primary_and_refuses_writes(launcher):
    _, port, password, _, _ = primary(launcher)
    replica_port, replica_dir = free_port(), launcher.workdir / "replica-data"
    text, replica_password = rendered("nsql-sessions-replica-0")
    assert replica_password == password  # one login for the whole store
    start(launcher, "replica", for_loopback(text, replica_dir, replica_port, replicaof=port), replica_port,
          replica_dir)
    writer, reader = Client(port, "app", password), Client(replica_port, "app", password)
    try:
        for i in range(100):
            assert writer.call("SET", f"cart:{i}", f"{i} items") == "OK"
        wait_for(lambda: reader.call("GET", "cart:99") == "99 items", 20, "the replica to receive the writes")
        assert reader.call("MGET", *(f"cart:{i}" for i in range(100))) == [f"{i} items" for i in range(100)]
        assert reader.call("SET", "x", "y").startswith("READONLY")
        role = reader.call("ROLE")
        assert role[0] == "slave" and role[3] == "connected", role
        assert (replica_dir / "appendonlydir").is_dir()  # the replica keeps its own append-only file
    finally:
        writer.close()
        reader.close()


def test_a_full_store_refuses_writes_and_keeps_its_data(launcher):
    small = lambda text: compiled.sub_required(r"^maxmemory \d+$", f"maxmemory {2 * 1024 * 1024}", text,  # noqa: E731
                                               "maxmemory line")
    _, port, password, _, _ = primary(launcher, small)
    client = Client(port, "app", password)
    try:
        refused, stored = None, 0
        for i in range(20000):
            reply = client.call("SET", f"blob:{i}", "x" * 1024)
            if reply != "OK":
                refused = reply
                break
            stored += 1
        assert refused is not None and refused.startswith("OOM"), refused
        assert int(client.call("DBSIZE")) == stored and client.call("GET", "blob:0") == "x" * 1024
    finally:
        client.close()
