"""Cache servers: redis.conf (Valkey reads the same file) and memcached's command line."""

from __future__ import annotations

from dataclasses import dataclass

from .rendering import check_name, render, to_bytes


REDIS_POLICIES = (
    "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu",
    "volatile-random", "allkeys-random", "volatile-ttl", "noeviction",
)


@dataclass(frozen=True)
class RedisContext:
    """redis.conf (valkey reads the same file).

    port / bind: listening address (``0.0.0.0`` in Docker).
    maxmemory: bytes or a size ("512MiB"); ``None``: no limit.
    maxmemory_policy: eviction policy, passed through unchecked on purpose:
        redis itself rejects a bad one at start-up (tests rely on that).
    appendonly: AOF persistence.
    replicaof: (host, port) of the primary for a replica.
    requirepass: password clients must AUTH with (``None``: none).
    masterauth: password a replica uses towards its primary.
    dir: working directory (AOF/RDB files).
    save: RDB snapshot rules ("" disables snapshots).
    protected_mode: redis' protected mode (off in Docker, where bind is 0.0.0.0).
    """

    port: int = 6379
    bind: str = "0.0.0.0"
    maxmemory: str | int | None = None
    maxmemory_policy: str | None = None
    appendonly: bool = False
    replicaof: tuple[str, int] | None = None
    requirepass: str | None = None
    masterauth: str | None = None
    dir: str = "/data"
    save: str = ""
    protected_mode: bool = False


def _redis_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_redis_conf(ctx: RedisContext) -> str:
    """redis.conf: memory limit + policy, AOF, replication, password."""
    for label, secret in (("requirepass", ctx.requirepass), ("masterauth", ctx.masterauth)):
        if secret is not None and ("\n" in secret or "\r" in secret):
            raise ValueError(f"{label} must be one line")
    if ctx.replicaof is not None:
        check_name("replicaof host", ctx.replicaof[0])
    return render(
        "redis.conf.j2",
        ctx=ctx,
        maxmemory=to_bytes(ctx.maxmemory) if ctx.maxmemory is not None else None,
        quote=_redis_quote,
    )


@dataclass(frozen=True)
class MemcachedContext:
    """memcached command line.

    memory: item memory (bytes or "64MiB"); memcached's ``-m`` is in MiB.
    port: TCP port (``-p``).
    max_connections: ``-c``.
    listen: ``-l`` address (``None``: all).
    threads: ``-t``.
    """

    memory: str | int = "64MiB"
    port: int = 11211
    max_connections: int = 1024
    listen: str | None = None
    threads: int = 4


def memcached_args(ctx: MemcachedContext) -> list[str]:
    """Arguments after ``memcached`` (the image's entrypoint) for one cache node."""
    mib = max(1, to_bytes(ctx.memory) // (1024 * 1024))
    args = ["-m", str(mib), "-p", str(ctx.port), "-c", str(ctx.max_connections), "-t", str(ctx.threads)]
    if ctx.listen:
        args += ["-l", ctx.listen]
    return args
