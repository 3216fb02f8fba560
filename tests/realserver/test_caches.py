"""redis-server 7.0 and memcached run the rendered redis.conf / command line."""

from __future__ import annotations

import socket
import subprocess

import pytest

from topoform.providers.docker.configs import MemcachedContext, RedisContext, memcached_args, render_redis_conf

from .harness import free_port, require, wait_for

pytestmark = pytest.mark.real_server


def start_redis(launcher, name: str, ctx: RedisContext):
    server = require("redis-server", "redis-server")
    data = launcher.workdir / name
    data.mkdir()
    conf = launcher.workdir / f"{name}.conf"
    conf.write_text(render_redis_conf(ctx))
    return launcher.start(name, [server, str(conf)], wait_port=ctx.port)


def redis_ctx(launcher, name, **kw) -> RedisContext:
    base = dict(port=free_port(), bind="127.0.0.1", dir=str(launcher.workdir / name))
    base.update(kw)
    return RedisContext(**base)


def cli(port: int, *args: str, stdin: str | None = None, password: str | None = None) -> str:
    redis_cli = require("redis-cli", "redis-tools")
    auth = ["--no-auth-warning", "-a", password] if password else []
    out = subprocess.run([redis_cli, "-h", "127.0.0.1", "-p", str(port), *auth, *args], input=stdin,
                         capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def fill(port: int, count: int, size: int = 1024) -> str:
    """SET ``count`` keys of ``size`` bytes through one redis-cli (commands on stdin)."""
    value = "x" * size
    return cli(port, stdin="".join(f"SET key:{i} {value}\n" for i in range(count)))


def info_field(port: int, section: str, name: str) -> str:
    for line in cli(port, "INFO", section).splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in INFO {section}")


def test_allkeys_lru_evicts_under_maxmemory(launcher):
    ctx = redis_ctx(launcher, "lru", maxmemory="2MiB", maxmemory_policy="allkeys-lru")
    start_redis(launcher, "lru", ctx)
    assert cli(ctx.port, "CONFIG", "GET", "maxmemory").split()[1] == str(2 * 1024 * 1024)
    fill(ctx.port, 5000)
    assert int(info_field(ctx.port, "stats", "evicted_keys")) > 0
    assert int(cli(ctx.port, "DBSIZE").strip()) < 5000


def test_noeviction_refuses_writes_when_full(launcher):
    ctx = redis_ctx(launcher, "noev", maxmemory="2MiB", maxmemory_policy="noeviction")
    start_redis(launcher, "noev", ctx)
    out = fill(ctx.port, 5000)
    assert "OOM command not allowed" in out
    assert int(info_field(ctx.port, "stats", "evicted_keys")) == 0


def test_bad_policy_is_rejected_at_start_up(launcher):
    server = require("redis-server", "redis-server")
    ctx = redis_ctx(launcher, "bad", maxmemory="2MiB", maxmemory_policy="most-recently-loved")
    conf = launcher.workdir / "bad.conf"
    conf.write_text(render_redis_conf(ctx))
    out = subprocess.run([server, str(conf)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "FATAL CONFIG FILE ERROR" in out.stdout + out.stderr


def test_replica_reads_a_write_and_password_and_aof(launcher):
    primary = redis_ctx(launcher, "primary", requirepass="s3cret pass", appendonly=True)
    start_redis(launcher, "primary", primary)
    replica = redis_ctx(launcher, "replica", replicaof=("127.0.0.1", primary.port),
                        masterauth="s3cret pass", requirepass="s3cret pass")
    start_redis(launcher, "replica", replica)
    assert "NOAUTH" in cli(primary.port, "SET", "k", "v")
    assert cli(primary.port, "SET", "cart:1", "3 items", password="s3cret pass").strip() == "OK"
    wait_for(lambda: cli(replica.port, "GET", "cart:1", password="s3cret pass").strip() == "3 items",
             15, "the replica to receive the write")
    assert "READONLY" in cli(replica.port, "SET", "x", "y", password="s3cret pass")
    assert (launcher.workdir / "primary" / "appendonlydir").is_dir()


def memcached_stats(port: int, command: bytes) -> dict[str, str]:
    """A memcached text-protocol ``stats`` command as a dict."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command + b"\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return dict(line.split()[1:3] for line in data.decode().splitlines() if line.startswith("STAT "))


def test_memcached_respects_memory_limit(launcher):
    memcached = require("memcached", "memcached")
    ctx = MemcachedContext(memory="48MiB", port=free_port(), max_connections=64, listen="127.0.0.1", threads=2)
    # memcached refuses to run as root without -u.
    launcher.start("memcached", [memcached, "-u", "root", *memcached_args(ctx)], wait_port=ctx.port)
    stats = memcached_stats(ctx.port, b"stats")
    assert stats["limit_maxbytes"] == str(48 * 1024 * 1024)
    settings = memcached_stats(ctx.port, b"stats settings")
    assert settings["maxconns"] == "64"
    assert settings["tcpport"] == str(ctx.port)
