"""Caches: Redis/Valkey with a password and `replicaof` replicas, or memcached nodes.

- Redis/Valkey: `maxmemory`, the eviction policy, an append-only file on a
  volume with `persistence`, replicas answering `{alias}-reader`.
- memcached: `1 + replicas` independent nodes `{alias}-N` sized with `-m`;
  the URL lists them all (clients shard over them).
Every running site gets its own copies; only the primary site's publishes.
"""

from __future__ import annotations


from topoform.dsl.models import Cache
from topoform.providers import facts as common

from .. import configs, images
from ..containers import health, password_ref, upload
from ..context import DockerContext
from ..endpoint import Endpoint, endpoint_attribute
from ..facts import estimate
from ..sites import PRIMARY, site_suffix

PORTS = {"redis": 6379, "valkey": 6379, "memcached": 11211}
CONF = "/etc/topoform/cache.conf"
# Replaced by the `${password.result}` reference after escaping (see containers.upload).
SECRET = "@@TOPOFORM_SECRET@@"

# Identical contexts render once; `configs.cached` imports the server's module on first use.
_redis_conf = configs.cached("render_redis_conf", maxsize=4096)


def endpoint(ctx: DockerContext, cache: Cache) -> Endpoint:
    scheme = "memcached" if cache.engine == "memcached" else "redis"
    return Endpoint(scheme, ctx.names.host(cache), PORTS[cache.engine])


def url(ctx: DockerContext, cache: Cache) -> str:
    where = endpoint(ctx, cache)
    if cache.engine == "memcached":
        nodes = [f"{where.host}-{i}:{where.port}" for i in range(1 + cache.replicas)]
        return "memcached://" + ",".join(nodes)
    return f"redis://:{password_ref(cache)}@{where.address}/0"


def attribute(ctx: DockerContext, cache: Cache, attr: str) -> str:
    return endpoint_attribute(ctx, cache, endpoint(ctx, cache), attr, url(ctx, cache) if attr == "url" else None)


def build(ctx: DockerContext, cache: Cache) -> None:
    if cache.engine == "memcached":
        _memcached(ctx, cache)
    else:
        _redis(ctx, cache)
    ctx.export_endpoint(endpoint(ctx, cache), url(ctx, cache))
    ctx.export("engine", cache.engine)


def _memcached(ctx: DockerContext, cache: Cache) -> None:
    prefix, host, port = ctx.prefix(cache), ctx.names.host(cache), PORTS[cache.engine]
    args = configs.memcached_args(configs.MemcachedContext(memory=cache.memory, port=port))
    memory = cache.memory // 1024**2 + 64
    for site in ctx.sites.running:
        for i in range(1 + cache.replicas):
            ports = [ctx.publish_public(cache, port)] if cache.public and site == PRIMARY else []
            ctx.containers.container(
                f"{prefix}{site_suffix(site)}-{i}", image=images.cache_image(cache), site=site,
                aliases=[host, f"{host}-{i}"], command=args, ports=ports, memory_mb=memory, cpus=0.5,
                healthcheck=health(f"printf 'version\\r\\n' | nc -w 2 127.0.0.1 {port} | grep -q VERSION"))


def _redis(ctx: DockerContext, cache: Cache) -> None:
    prefix, host, port = ctx.prefix(cache), ctx.names.host(cache), PORTS[cache.engine]
    password = ctx.containers.password(f"{prefix}-password", cache.protect)
    cli = "valkey-cli" if cache.engine == "valkey" else "redis-cli"
    server = "valkey-server" if cache.engine == "valkey" else "redis-server"
    memory = int(cache.memory // 1024**2 * 1.25) + 32  # room for fragmentation and replication buffers
    check = health(f'{cli} -a "$CACHE_PASSWORD" --no-auth-warning ping | grep -q PONG')
    for site in ctx.sites.running:
        suffix = site_suffix(site)
        for i in range(1 + cache.replicas):
            replica = i > 0
            conf = _redis_conf(configs.RedisContext(
                port=port, maxmemory=cache.memory, maxmemory_policy=cache.eviction,
                appendonly=cache.persistence, requirepass=SECRET,
                masterauth=SECRET if replica else None, replicaof=(host, port) if replica else None))
            name = f"{prefix}{suffix}" + (f"-replica-{i - 1}" if replica else "")
            volumes = ([(ctx.containers.volume(f"{name}-data", cache.protect), "/data")]
                       if cache.persistence else None)
            ports = [ctx.publish_public(cache, port)] if cache.public and site == PRIMARY and not replica else []
            ctx.containers.container(
                name, image=images.cache_image(cache), site=site, aliases=[f"{host}-reader"] if replica else [host],
                envs={"CACHE_PASSWORD": password}, command=[server, CONF],
                uploads=[upload(CONF, conf, {SECRET: password})], volumes=volumes, ports=ports,
                memory_mb=memory, cpus=0.5, healthcheck=check,
                depends_on=[prefix + suffix] if replica else None)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate()
facts = common.caches
