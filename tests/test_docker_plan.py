"""The Docker target's Plan, component by component (fast: no Pulumi, no Docker).

Each test compiles a small blueprint and asserts what a user relies on: the
resources, their properties, the references between them, warnings and
errors. Generated config files are checked for the lines that carry the
blueprint's intent; the servers themselves are exercised in tests/realserver.
"""

from __future__ import annotations

import json
import os
import re
import textwrap

import pytest

from topoform.dsl import validate_text
from topoform.dsl.kinds import SECTIONS
from topoform.providers import compile_plan
from topoform.providers.docker import TARGET
from topoform.providers.docker.ports import block_start
from topoform.providers.base import UnsupportedError
from topoform.providers.plan import REFERENCE_RE, unescape

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
PASSWORD = "random:index/randomPassword:RandomPassword"


def compile_text(text: str, base_dir: str = ".", stack: str = "dev"):
    result = validate_text(textwrap.dedent(text), "bp.yaml", base_dir, target="docker")
    errors = [d.render() for d in result.diagnostics if d.severity == "error"]
    assert not errors, errors
    return compile_plan(result.blueprint, "docker", stack)


def props(plan, name: str) -> dict:
    return plan.get(name).properties


def upload(plan, container: str, path: str) -> str:
    for item in props(plan, container).get("uploads", []):
        if item["file"] == path:
            return item.get("content", "")
    raise AssertionError(f"{container} uploads no {path}; has {[u['file'] for u in props(plan, container).get('uploads', [])]}")


def envs(plan, container: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in props(plan, container).get("envs", []))


def names(plan, token: str) -> list[str]:
    return [r.name for r in plan.of_type(token)]


WEB = """
blueprint: shop
services:
  web:
    image: nginx:1.27-alpine
    port: 80
    replicas: 3
    cpu: 512
    memory: 256MiB
    health: {path: /health, interval: 5s, timeout: 2s, unhealthy: 4}
    env:
      DATABASE_URL: ${databases.users.url}
      READER_URL: ${databases.users.reader_url}
      LITERAL: "cost $${price}"
databases:
  users:
    engine: postgres
    version: "16"
    replication: {mode: primary-replica, replicas: 2}
"""


# ---------------------------------------------------------------- platform and services


def test_the_docker_target_builds_every_kind_with_one_module_each():
    assert list(TARGET.kinds) == list(SECTIONS)
    for section, builder in TARGET.kinds.items():
        for function in ("build", "attribute", "endpoint"):
            assert callable(getattr(builder, function, None)), f"{section}: no {function}"
    assert TARGET.platform and TARGET.dns and TARGET.disaster_recovery and TARGET.slos


def test_services_run_one_container_per_replica_sharing_an_alias():
    plan = compile_text(WEB)
    assert names(plan, "docker:index/network:Network") == ["net-primary"]
    assert props(plan, "net-primary")["name"] == "shop-dev-primary"
    web = [r for r in plan.of_type(CONTAINER) if r.component == "services.web"]
    assert [r.name for r in web] == ["svc-web-0", "svc-web-1", "svc-web-2"]
    for i, resource in enumerate(web):
        p = resource.properties
        assert p["name"] == f"shop-dev-svc-web-{i}"
        assert p["networks_advanced"] == [{"name": "${net-primary.name}", "aliases": ["web"]}]
        assert p["image"] == "${image-nginx-1-27-alpine.image_id}"
        assert p["memory"] == 256 and p["cpus"] == "0.5"
        assert p["restart"] == "unless-stopped"
        assert "privileged" not in p and "ports" not in p  # not public: nothing published
        assert {"label": "topoform.component", "value": "services.web"} in p["labels"]
        assert p["healthcheck"]["interval"] == "5s" and p["healthcheck"]["retries"] == 4
        assert "http://127.0.0.1:80/health" in p["healthcheck"]["tests"][1]


def test_service_env_reads_other_components_through_aliases_and_password_references():
    plan = compile_text(WEB)
    env = envs(plan, "svc-web-0")
    assert env["DATABASE_URL"] == "postgres://app:${db-users-password.result}@users:5432/app"
    assert env["READER_URL"] == "postgres://app:${db-users-password.result}@users-reader:5432/app"
    assert env["LITERAL"] == "cost $${price}"  # the escape survives to the program, which unescapes it
    assert "db-users-password" in plan.dependencies(plan.get("svc-web-0"))


def test_one_image_resource_per_distinct_image():
    plan = compile_text(WEB)
    images = {props(plan, n)["name"] for n in names(plan, "docker:index/remoteImage:RemoteImage")}
    assert images == {"nginx:1.27-alpine", "postgres:16-bookworm"}
    assert all(props(plan, n)["keep_locally"] for n in names(plan, "docker:index/remoteImage:RemoteImage"))


def test_public_service_publishes_its_port_and_exports_a_local_url():
    plan = compile_text("""
        blueprint: api
        services:
          api: {image: "python:3.12-slim", port: 8080, replicas: 2, public: true}
    """)
    base = block_start("api", "dev")
    # public: true is "reachable from the internet": every interface, with a warning.
    assert props(plan, "svc-api-0")["ports"] == [{"internal": 8080, "external": base, "ip": "0.0.0.0",
                                                  "protocol": "tcp"}]
    assert props(plan, "svc-api-1")["ports"] == [{"internal": 8080, "external": base + 1, "ip": "0.0.0.0",
                                                  "protocol": "tcp"}]
    assert plan.outputs["services.api.local_urls"] == [f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"]
    assert [w.message for w in plan.warnings if "0.0.0.0" in w.message and "services.api is public" in w.message]


def test_same_name_in_two_sections_gets_distinct_aliases():
    plan = compile_text("""
        blueprint: shop
        services:
          orders: {image: "app:1", port: 80, env: {Q: "${queues.orders.url}"}}
        queues:
          orders: {}
    """)
    assert props(plan, "svc-orders-0")["networks_advanced"][0]["aliases"] == ["svc-orders"]
    assert props(plan, "queue-orders")["networks_advanced"][0]["aliases"] == ["queue-orders"]
    assert envs(plan, "svc-orders-0")["Q"] == "amqp://app:${queue-orders-password.result}@queue-orders:5672/%2F"


# ---------------------------------------------------------------- databases


def test_postgres_primary_and_streaming_replicas():
    plan = compile_text(WEB)
    primary = props(plan, "db-users")
    assert primary["networks_advanced"][0]["aliases"] == ["users"]
    env = envs(plan, "db-users")
    assert env["POSTGRES_USER"] == "app" and env["POSTGRES_DB"] == "app"
    assert env["POSTGRES_PASSWORD"] == "${db-users-password.result}"
    assert env["REPLICATION_PASSWORD"] == "${db-users-replication-password.result}"
    init = unescape(upload(plan, "db-users", "/docker-entrypoint-initdb.d/10-topoform-replication.sh"))
    assert "REPLICATION LOGIN" in init and "host replication repl" in init
    assert primary["volumes"] == [{"volume_name": "${db-users-data.name}", "container_path": "/var/lib/postgresql/data"}]
    for i in range(2):
        name = f"db-users-replica-{i}"
        replica = props(plan, name)
        assert replica["networks_advanced"][0]["aliases"] == ["users-reader"]
        assert replica["entrypoints"] == ["/usr/local/bin/topoform-replica.sh"]
        assert replica["command"] == ["docker-entrypoint.sh", "postgres"]
        script = unescape(upload(plan, name, "/usr/local/bin/topoform-replica.sh"))
        assert 'PRIMARY_HOST="${PRIMARY_HOST:-shop-dev-db-users}"' in script
        assert f"db_users_replica_{i}" in script  # one replication slot per replica
        assert plan.get(name).depends_on == ["db-users"]


def test_script_text_is_escaped_so_shell_variables_are_not_references():
    plan = compile_text(WEB)
    text = upload(plan, "db-users-replica-0", "/usr/local/bin/topoform-replica.sh")
    refs = [m.group(1) for m in REFERENCE_RE.finditer(text) if m.group(1)]
    assert refs == []  # `${PGDATA}` etc. are `$${…}` in the Plan
    assert "$${PGDATA" in text


def test_protect_covers_data_volumes_and_passwords_not_containers():
    plan = compile_text(WEB)
    assert all(r.protect for r in plan.of_type(VOLUME))
    assert all(r.protect for r in plan.of_type(PASSWORD))
    assert not any(r.protect for r in plan.of_type(CONTAINER))
    unprotected = compile_text(WEB.replace('version: "16"', 'version: "16"\n    protect: false'))
    assert not any(r.protect for r in unprotected.of_type(VOLUME))


def test_passwords_are_generated_and_secret():
    plan = compile_text(WEB)
    password = plan.get("db-users-password")
    assert password.properties == {"length": 32, "special": False}
    assert password.secret_outputs == ["result"]
    # No value in the Plan: every password variable of every container is a reference.
    for container in plan.of_type(CONTAINER):
        for key, value in envs(plan, container.name).items():
            if key.endswith("PASSWORD"):
                assert re.fullmatch(r"\$\{[a-z0-9-]+-password\.result\}", value), (container.name, key, value)


def test_sharded_database_is_independent_primaries_with_replicas_and_a_shard_map():
    plan = compile_text("""
        blueprint: shop
        services:
          web: {image: "app:1", port: 80, env: {SHARDS: "${databases.orders.shard_urls}"}}
        databases:
          orders:
            replication: {mode: primary-replica, replicas: 1}
            sharding: {shards: 3, key: user_id, virtual_nodes: 8}
    """)
    primaries = [f"db-orders-shard-{i}" for i in range(3)]
    for i, name in enumerate(primaries):
        assert props(plan, name)["networks_advanced"][0]["aliases"] == [f"orders-shard-{i}"]
        assert props(plan, f"{name}-replica-0")["networks_advanced"][0]["aliases"] == [f"orders-shard-{i}-reader"]
        assert f"{name}-data" in plan and f"{name}-backup" in plan
    urls = envs(plan, "svc-web-0")["SHARDS"].split(",")
    assert [u.rsplit("@", 1)[1] for u in urls] == [f"orders-shard-{i}:5432/app" for i in range(3)]
    ring = plan.outputs["databases.orders.shard_map"]
    assert ring["strategy"] == "consistent_hash" and len(ring["ring"]) == 3 * 8
    assert {shard for _, shard in ring["ring"]} == {"orders-shard-0", "orders-shard-1", "orders-shard-2"}
    assert plan.outputs["databases.orders.shards"]["orders-shard-2"] == "orders-shard-2:5432"
    assert plan.components["databases.orders"].outputs["shard_map"] == ring


def test_mariadb_replicas_use_the_image_replication_variables():
    plan = compile_text("""
        blueprint: shop
        databases:
          search: {engine: mariadb, version: "10.11", replication: {mode: primary-replica, replicas: 1}}
    """)
    assert props(plan, "db-search")["image"] == "${image-mariadb-10-11.image_id}"
    primary, replica = envs(plan, "db-search"), envs(plan, "db-search-replica-0")
    assert primary["MARIADB_REPLICATION_USER"] == "repl"
    assert primary["MARIADB_REPLICATION_PASSWORD"] == "${db-search-replication-password.result}"
    assert replica["MARIADB_MASTER_HOST"] == "shop-dev-db-search"
    assert "MARIADB_USER" not in replica  # users replicate from the primary
    assert "server_id = 2" in upload(plan, "db-search-replica-0", "/etc/mysql/conf.d/topoform-replication.cnf")
    # read_only comes from the every-start script once the server is up, not conf.d (it would be
    # live during the image's first-start initialisation).
    assert "read_only" not in upload(plan, "db-search-replica-0", "/etc/mysql/conf.d/topoform-replication.cnf")
    script = unescape(upload(plan, "db-search-replica-0", "/usr/local/bin/topoform-replication.sh"))
    assert "MASTER_HOST='shop-dev-db-search'" in script and "SET GLOBAL read_only = ON;" in script
    assert props(plan, "db-search-replica-0")["entrypoints"] == ["/usr/local/bin/topoform-replication.sh"]
    assert "SHOW REPLICA STATUS" in props(plan, "db-search-replica-0")["healthcheck"]["tests"][1]


def test_mysql_replicas_are_set_up_on_every_start_with_gtids():
    plan = compile_text("""
        blueprint: shop
        databases:
          billing: {engine: mysql, version: "8.0", replication: {mode: primary-replica, replicas: 1}}
    """)
    assert "gtid_mode = ON" in upload(plan, "db-billing", "/etc/mysql/conf.d/topoform-replication.cnf")
    replica = unescape(upload(plan, "db-billing-replica-0", "/usr/local/bin/topoform-replication.sh"))
    assert "SOURCE_HOST='shop-dev-db-billing'" in replica and "SOURCE_AUTO_POSITION=1" in replica
    assert "${REPLICATION_PASSWORD}" in replica  # from the environment at run time, not the Plan
    assert "SET GLOBAL super_read_only = ON;" in replica
    assert "super_read_only" not in upload(plan, "db-billing-replica-0", "/etc/mysql/conf.d/topoform-replication.cnf")
    primary = unescape(upload(plan, "db-billing", "/usr/local/bin/topoform-replication.sh"))
    assert "CREATE USER IF NOT EXISTS 'repl'@'%'" in primary
    for name in ("db-billing", "db-billing-replica-0"):
        assert props(plan, name)["entrypoints"] == ["/usr/local/bin/topoform-replication.sh"]
        assert props(plan, name)["command"] == ["mysqld"]
        assert "mysqladmin ping" not in props(plan, name)["healthcheck"]["tests"][1]
    assert "_(IO|SQL)_Running: Yes" in props(plan, "db-billing-replica-0")["healthcheck"]["tests"][1]


def test_mariadb_multi_primary_is_a_galera_cluster_bootstrapped_by_node_0():
    plan = compile_text("""
        blueprint: shop
        databases:
          ledger: {engine: mariadb, replication: {mode: multi-primary, replicas: 2}}
    """)
    nodes = [f"db-ledger-{i}" for i in range(3)]
    # Bootstrapping is decided at each start by the node's own script, never fixed in the Plan.
    for node in nodes:
        assert props(plan, node)["command"] == ["mariadbd"]
        assert props(plan, node)["entrypoints"] == ["/usr/local/bin/topoform-galera.sh"]
        assert not [e for e in props(plan, node)["envs"] if e.startswith("MARIADB_MARIABACKUP")]
    script = unescape(upload(plan, nodes[0], "/usr/local/bin/topoform-galera.sh"))
    assert "CREATE USER IF NOT EXISTS 'mariabackup'@'localhost'" in script
    assert 'for peer in shop-dev-db-ledger-1 shop-dev-db-ledger-2; do' in script
    assert plan.get(nodes[2]).depends_on == ["db-ledger-0"]
    cnf = upload(plan, nodes[1], "/etc/mysql/conf.d/galera.cnf")
    assert "gcomm://shop-dev-db-ledger-0,shop-dev-db-ledger-1,shop-dev-db-ledger-2" in cnf
    assert "wsrep_sst_auth = mariabackup:${db-ledger-sst-password.result}" in cnf
    assert all("ledger" in props(plan, n)["networks_advanced"][0]["aliases"] for n in nodes)


def test_galera_with_two_nodes_is_refused_with_a_hint():
    result = validate_text(textwrap.dedent("""
        blueprint: shop
        databases:
          ledger: {engine: mariadb, replication: {mode: multi-primary, replicas: 1}}
    """), "bp.yaml", target="docker")
    with pytest.raises(UnsupportedError) as caught:
        compile_plan(result.blueprint, "docker")
    assert "at least 3 nodes" in caught.value.diagnostic.message
    assert caught.value.diagnostic.line == 4


def test_backup_sidecar_dumps_every_interval_into_a_protected_volume():
    plan = compile_text("""
        blueprint: shop
        databases:
          users: {backup: {interval: 30m, retention: 2d}}
    """)
    backup = props(plan, "db-users-backup")
    assert backup["entrypoints"] == ["/bin/sh", "/usr/local/bin/topoform-backup.sh"]
    assert backup["volumes"] == [{"volume_name": "${db-users-backups.name}", "container_path": "/backup"}]
    script = unescape(upload(plan, "db-users-backup", "/usr/local/bin/topoform-backup.sh"))
    assert 'INTERVAL="${BACKUP_INTERVAL:-1800}"' in script
    assert 'RETENTION_MINUTES="${BACKUP_RETENTION_MINUTES:-2880}"' in script
    assert 'DB_HOST="${DB_HOST:-shop-dev-db-users}"' in script
    assert plan.get("db-users-backups").protect


def test_data_stores_are_published_only_when_public():
    private = compile_text("blueprint: s\ndatabases:\n  users: {}\ncaches:\n  c: {}\nqueues:\n  q: {}\n")
    assert not any("ports" in r.properties for r in private.of_type(CONTAINER))
    public = compile_text("blueprint: s\ndatabases:\n  users: {public: true}\n")
    assert props(public, "db-users")["ports"] == [{"internal": 5432, "external": block_start("s", "dev"),
                                                   "ip": "0.0.0.0", "protocol": "tcp"}]


# ---------------------------------------------------------------- caches and queues


def test_redis_cache_with_maxmemory_policy_password_and_replicas():
    plan = compile_text("""
        blueprint: shop
        caches:
          sessions: {engine: redis, memory: 512MiB, eviction: allkeys-lru, replicas: 1}
    """)
    conf = upload(plan, "cache-sessions", "/etc/topoform/cache.conf")
    assert "maxmemory 536870912" in conf and "maxmemory-policy allkeys-lru" in conf
    assert 'requirepass "${cache-sessions-password.result}"' in conf
    replica = upload(plan, "cache-sessions-replica-0", "/etc/topoform/cache.conf")
    assert "replicaof sessions 6379" in replica and 'masterauth "${cache-sessions-password.result}"' in replica
    assert props(plan, "cache-sessions")["command"] == ["redis-server", "/etc/topoform/cache.conf"]
    assert props(plan, "cache-sessions")["memory"] == 672
    assert plan.outputs["caches.sessions.url"] == "redis://:${cache-sessions-password.result}@sessions:6379/0"


def test_valkey_persistence_gets_a_volume_and_memcached_gets_its_memory_flag():
    plan = compile_text("""
        blueprint: shop
        caches:
          hot: {engine: valkey, memory: 1GiB, persistence: true}
          lookups: {engine: memcached, memory: 64MiB, replicas: 1}
    """)
    assert props(plan, "cache-hot")["command"][0] == "valkey-server"
    assert props(plan, "cache-hot")["volumes"] == [{"volume_name": "${cache-hot-data.name}", "container_path": "/data"}]
    assert "appendonly yes" in upload(plan, "cache-hot", "/etc/topoform/cache.conf")
    assert props(plan, "cache-lookups-0")["command"][:2] == ["-m", "64"]
    assert plan.outputs["caches.lookups.url"] == "memcached://lookups-0:11211,lookups-1:11211"


def test_rabbitmq_queue_definitions_dead_letters_back_pressure_and_fifo():
    plan = compile_text("""
        blueprint: shop
        queues:
          orders: {fifo: true, max_receives: 5, max_depth: 100, visibility_timeout: 45s, retention: 1d}
    """)
    definitions = json.loads(unescape(upload(plan, "queue-orders", "/etc/rabbitmq/definitions.template.json")))
    queue = next(q for q in definitions["queues"] if q["name"] == "orders")
    # A quorum queue refuses only once *over* x-max-length, so the renderer sets max_depth - 1.
    assert queue["arguments"]["x-max-length"] == 99 and queue["arguments"]["x-overflow"] == "reject-publish"
    assert queue["arguments"]["x-single-active-consumer"] is True
    assert queue["arguments"]["x-dead-letter-exchange"] == "orders.dlx"
    assert any(q["name"] == "orders.dlq" for q in definitions["queues"])
    assert definitions["users"][0]["password_hash"] == "@@TOPOFORM_PASSWORD_HASH@@"  # hashed at container start
    assert "consumer_timeout = 45000" in upload(plan, "queue-orders", "/etc/rabbitmq/rabbitmq.conf")
    wrapper = unescape(upload(plan, "queue-orders", "/usr/local/bin/topoform-rabbitmq.sh"))
    assert "crypto:hash(sha256" in wrapper and 'exec docker-entrypoint.sh "$@"' in wrapper
    p = props(plan, "queue-orders")
    assert p["entrypoints"] == ["/usr/local/bin/topoform-rabbitmq.sh"] and p["hostname"] == "orders"
    assert envs(plan, "queue-orders")["RABBITMQ_PASSWORD"] == "${queue-orders-password.result}"
    assert plan.outputs["queues.orders.dead_letter_queue"] == "orders.dlq"


# ---------------------------------------------------------------- edge

EDGE = """
blueprint: shop
services:
  web: {image: "nginx:1.27-alpine", port: 80, replicas: 2}
  api: {image: "app:1", port: 8080}
load_balancers:
  edge:
    algorithm: least_connections
    listeners:
      - {port: 80, redirect_to_https: true}
      - {port: 443, tls: true}
    routes:
      - {path: /api/*, target: services.api}
      - {path: /*, target: services.web}
    sticky_sessions: {cookie: SID, duration: 1h}
    health_check: {path: /health, interval: 5s, timeout: 2s}
    redundancy: active-active
"""


def test_haproxy_balancer_two_copies_routes_tls_and_published_ports():
    plan = compile_text(EDGE)
    copies = [r for r in plan.of_type(CONTAINER) if r.component == "load_balancers.edge"]
    assert [r.name for r in copies] == ["lb-edge-0", "lb-edge-1"]
    base = block_start(plan.blueprint, "dev")
    assert props(plan, "lb-edge-0")["ports"] == [
        {"internal": 80, "external": base, "ip": "127.0.0.1", "protocol": "tcp"},
        {"internal": 443, "external": base + 1, "ip": "127.0.0.1", "protocol": "tcp"}]
    assert props(plan, "lb-edge-1")["ports"][0]["external"] == base + 2
    assert props(plan, "lb-edge-0")["sysctls"] == {"net.ipv4.ip_unprivileged_port_start": "0"}
    cfg = upload(plan, "lb-edge-0", "/usr/local/etc/haproxy/haproxy.cfg")
    assert "balance leastconn" in cfg
    assert "use_backend api if route_0" in cfg and "default_backend web" in cfg
    assert "server web-1 shop-dev-svc-web-1:80 check" in cfg
    # `cookie: SID` is the application's cookie: prefixed, never replaced (see configs.HaproxyStickiness).
    assert "cookie SID prefix" in cfg and "insert" not in cfg
    assert "uri /health" in cfg and "http-request redirect scheme https" in cfg
    assert upload(plan, "lb-edge-0", "/usr/local/etc/haproxy/certs/cert.pem") == \
        "${lb-edge-tls-cert.cert_pem}${lb-edge-tls-key.private_key_pem}"
    cert = props(plan, "lb-edge-tls-cert")
    assert cert["private_key_pem"] == "${lb-edge-tls-key.private_key_pem}"
    assert "localhost" in cert["dns_names"] and "server_auth" in cert["allowed_uses"]
    assert plan.outputs["load_balancers.edge.url"] == "https://edge:443"
    assert plan.outputs["load_balancers.edge.local_url"] == f"https://127.0.0.1:{base + 1}"


def test_active_passive_warns_that_docker_has_no_floating_address():
    plan = compile_text(EDGE.replace("active-active", "active-passive"))
    assert len([r for r in plan.of_type(CONTAINER) if r.component == "load_balancers.edge"]) == 2
    assert any("floating address" in w.message and w.line == 17 for w in plan.warnings)


def test_layer4_balancer_weights_every_target_replica():
    plan = compile_text("""
        blueprint: shop
        services:
          a: {image: "app:1", port: 9000, replicas: 2}
          b: {image: "app:1", port: 9000}
        load_balancers:
          tcp:
            layer: 4
            algorithm: weighted
            listeners: [{port: 9000}]
            targets: [{target: services.a, weight: 3}, {target: services.b, weight: 1}]
    """)
    cfg = upload(plan, "lb-tcp-0", "/usr/local/etc/haproxy/haproxy.cfg")
    assert "mode tcp" in cfg
    assert "server a-1 shop-dev-svc-a-1:9000" in cfg and "weight 3" in cfg
    assert "server b-0 shop-dev-svc-b-0:9000" in cfg and "weight 1" in cfg
    assert plan.outputs["load_balancers.tcp.url"] == "tcp://tcp:9000"


def test_internal_balancer_publishes_nothing():
    plan = compile_text(EDGE.replace("redundancy: active-active", "internal: true"))
    assert "ports" not in props(plan, "lb-edge-0")


def test_reverse_proxy_with_tls_cache_rate_limit_static_files_and_deny(tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "b.css").write_text("body{}")
    (tmp_path / "static" / "a.png").write_bytes(b"\x89PNG\x00\xff")
    plan = compile_text(EDGE + """
reverse_proxies:
  front:
    upstream: load_balancers.edge
    tls: true
    compression: true
    cache: {ttl: 1m, max_size: 64MiB}
    static: {path: /static/, directory: ./static}
    rate_limit: {requests_per_second: 50, burst: 100}
    deny: [203.0.113.0/24]
""", base_dir=str(tmp_path))
    conf = upload(plan, "rp-front", "/etc/nginx/nginx.conf")
    for line in ("listen 443 ssl", "set $origin https://edge:443;", "deny 203.0.113.0/24;", "gzip on;",
                 "rate=50r/s", "burst=100 nodelay", "max_size=64m", "alias /usr/share/nginx/static/;"):
        assert line in conf, line
    files = [u["file"] for u in props(plan, "rp-front")["uploads"]]
    assert files[-2:] == ["/usr/share/nginx/static/a.png", "/usr/share/nginx/static/b.css"]  # sorted
    png = next(u for u in props(plan, "rp-front")["uploads"] if u["file"].endswith("a.png"))
    assert "content_base64" in png  # binary files travel base64-encoded
    assert upload(plan, "rp-front", "/etc/nginx/certs/key.pem") == "${rp-front-tls-key.private_key_pem}"


def test_static_directory_removed_after_validation_is_a_user_facing_error(tmp_path):
    (tmp_path / "gone").mkdir()
    result = validate_text(textwrap.dedent(EDGE + """
reverse_proxies:
  front: {upstream: load_balancers.edge, static: {path: /s/, directory: ./gone}}
"""), "bp.yaml", str(tmp_path), target="docker")
    (tmp_path / "gone").rmdir()
    with pytest.raises(UnsupportedError, match="does not exist"):
        compile_plan(result.blueprint, "docker")


def test_a_refused_component_is_not_reported_again_by_the_dns_answering_it(tmp_path):
    # The proxy's build stops at its missing directory, so it has no address;
    # DNS says nothing more about it, but still reports its own refusal.
    (tmp_path / "gone").mkdir()
    result = validate_text(textwrap.dedent(EDGE + """
reverse_proxies:
  front: {upstream: load_balancers.edge, static: {path: /s/, directory: ./gone}}
dns:
  zone: shop.example.com
  records:
    - {name: www, endpoints: [{target: reverse_proxies.front}]}
    - name: api
      routing: failover
      health_check: {protocol: tcp}
      endpoints: [{target: load_balancers.edge, role: primary}, {value: 192.0.2.1, role: secondary}]
"""), "bp.yaml", str(tmp_path), target="docker")
    (tmp_path / "gone").rmdir()
    with pytest.raises(UnsupportedError) as caught:
        compile_plan(result.blueprint, "docker")
    messages = [d.message for d in caught.value.diagnostics]
    assert len(messages) == 2, messages
    assert "does not exist" in messages[0] and "over HTTP(S) only" in messages[1]


def test_pull_and_push_cdns(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<p>${not a reference}</p>")
    plan = compile_text(EDGE + """
cdns:
  assets: {mode: pull, origin: load_balancers.edge, ttl: {default: 1h, max: 1d, min: 1m}}
  media: {mode: push, content: ./site, ttl: {default: 1d, max: 7d}, https_only: false}
""", base_dir=str(tmp_path))
    pull = upload(plan, "cdn-assets", "/etc/nginx/nginx.conf")
    assert "proxy_cache_valid 200 206 301 302 1h;" in pull and "proxy_ignore_headers Cache-Control Expires;" in pull
    assert "return 301 https://" in pull  # https_only by default
    push = upload(plan, "cdn-media", "/etc/nginx/nginx.conf")
    assert "root /usr/share/nginx/cdn;" in push and "expires 1d;" in push and "return 301" not in push
    assert upload(plan, "cdn-media", "/usr/share/nginx/cdn/index.html") == "<p>$${not a reference}</p>"
    assert plan.outputs["cdns.media.files"] == 1


# ---------------------------------------------------------------- DNS and disaster recovery

HOT = EDGE + """
databases:
  users: {replication: {mode: primary-replica, replicas: 1}}
caches:
  sessions: {}
dns:
  zone: shop.example.com
  records:
    - name: www
      routing: weighted
      endpoints: [{target: load_balancers.edge, weight: 90}, {value: 192.0.2.10, weight: 10}]
    - name: api
      routing: failover
      health_check: {interval: 10s, failure_threshold: 1}
      endpoints:
        - {target: load_balancers.edge, role: primary}
        - {target: load_balancers.edge, role: secondary, site: dr}
    - name: eu
      routing: geolocation
      endpoints: [{target: load_balancers.edge, continent: EU}, {value: 192.0.2.20, default: true}]
disaster_recovery: {strategy: hot, region: us-west-2}
"""


def test_hot_dr_duplicates_the_stateless_tier_and_replicates_databases():
    plan = compile_text(HOT)
    assert names(plan, "docker:index/network:Network") == ["net-primary", "net-dr"]
    for name in ("svc-web-dr-0", "svc-web-dr-1", "lb-edge-dr-0", "lb-edge-dr-1", "cache-sessions-dr"):
        assert props(plan, name)["networks_advanced"][0]["name"] == "${net-dr.name}", name
    dr = props(plan, "db-users-dr")
    assert dr["networks_advanced"][0]["aliases"] == ["users", "users-reader"]
    assert dr["networks_advanced"][1]["name"] == "${net-primary.name}"  # streams from the primary site
    assert "shop-dev-db-users" in unescape(upload(plan, "db-users-dr", "/usr/local/bin/topoform-replica.sh"))
    cfg = upload(plan, "lb-edge-dr-0", "/usr/local/etc/haproxy/haproxy.cfg")
    assert "shop-dev-svc-web-dr-0:80" in cfg and "shop-dev-svc-web-0:80" not in cfg


def test_dns_answers_fixed_addresses_with_each_routing_policy():
    plan = compile_text(HOT)
    primary_net = props(plan, "net-primary")["ipam_configs"][0]
    lb0 = props(plan, "lb-edge-0")["networks_advanced"][0]["ipv4_address"]
    lb_dr = props(plan, "lb-edge-dr-0")["networks_advanced"][0]["ipv4_address"]
    import ipaddress
    assert ipaddress.ip_address(lb0) in ipaddress.ip_network(primary_net["subnet"])
    assert ipaddress.ip_address(lb0) not in ipaddress.ip_network(primary_net["ip_range"])  # outside Docker's pool
    zone = upload(plan, "dns-server", "/etc/powerdns/zones/shop.example.com.zone")
    assert f"pickwrandom({{{{90,'{lb0}'}},{{10,'192.0.2.10'}}}})" in zone
    assert f"ifurlup('http://api.shop.example.com:8404/healthz', {{{{'{lb0}'}},{{'{lb_dr}'}}}}" in zone
    assert re.search(r"^eu\s+IN A 192\.0\.2\.20$", zone, re.M)
    assert any("geolocation routing needs a GeoIP database" in w.message for w in plan.warnings)
    dns = props(plan, "dns-server")
    assert [n["name"] for n in dns["networks_advanced"]] == ["${net-primary.name}", "${net-dr.name}"]
    first = block_start(plan.blueprint, "dev")
    udp = dns["ports"][0]["external"]
    assert first <= udp < first + 100
    assert dns["ports"] == [{"internal": 53, "external": udp, "ip": "127.0.0.1", "protocol": "udp"},
                            {"internal": 53, "external": dns["ports"][1]["external"], "ip": "127.0.0.1",
                             "protocol": "tcp"}]
    assert plan.outputs["dns.nameserver"] == f"127.0.0.1:{udp}"


def test_dr_endpoint_without_a_hot_site_is_refused():
    text = HOT.replace("strategy: hot", "strategy: backup")
    result = validate_text(textwrap.dedent(text), "bp.yaml", target="docker")
    with pytest.raises(UnsupportedError, match="strategy: hot"):
        compile_plan(result.blueprint, "docker")


def test_every_refusal_of_one_blueprint_comes_out_in_one_run():
    # Three things the docker target cannot build, in three different passes:
    # a balancer's host route, a Galera cluster without quorum, a DR-site DNS
    # answer under cold DR (nothing runs there). One compile names all three.
    result = validate_text(textwrap.dedent("""
        blueprint: shop
        services:
          web: {image: nginx:1.27-alpine, port: 80}
        load_balancers:
          edge:
            routes: [{path: /*, host: shop.example.com, target: services.web}]
        databases:
          ledger: {engine: mariadb, replication: {mode: multi-primary, replicas: 1}}
        dns:
          zone: shop.example.com
          records:
            - name: www
              routing: failover
              endpoints: [{target: load_balancers.edge, role: primary},
                          {target: load_balancers.edge, role: secondary, site: dr}]
        disaster_recovery: {strategy: cold}
    """), "bp.yaml", target="docker")
    assert result.blueprint is not None, [d.render() for d in result.diagnostics]
    with pytest.raises(UnsupportedError) as caught:
        compile_plan(result.blueprint, "docker")
    found = [(d.line, d.message) for d in caught.value.diagnostics]
    assert len(found) == 3, found
    assert "host-based routes" in found[0][1] and found[0][0] == 7
    assert "at least 3 nodes" in found[1][1] and found[1][0] == 9
    assert "does not run on the dr site" in found[2][1] and found[2][0] == 16  # the second endpoint


def test_cold_dr_keeps_backups_and_empty_volumes_on_the_dr_site_and_runs_nothing_there():
    plan = compile_text("""
        blueprint: shop
        services:
          web: {image: "app:1", port: 80}
        databases:
          users: {backup: {interval: 1h}}
        disaster_recovery: {strategy: cold, region: eu-west-1}
    """)
    assert "net-dr" in plan
    assert not any("-dr" in r.name for r in plan.of_type(CONTAINER))
    assert {"db-users-dr-data", "db-users-dr-backups"} <= set(names(plan, VOLUME))
    assert props(plan, "db-users-backup")["volumes"][0]["volume_name"] == "${db-users-dr-backups.name}"
    assert plan.outputs["disaster_recovery.strategy"] == "cold"


# ---------------------------------------------------------------- whole plan


def test_same_blueprint_gives_byte_identical_plans():
    assert compile_text(HOT).to_json() == compile_text(HOT).to_json()


def test_plan_json_names_pulumi_types_and_every_reference_resolves():
    plan = compile_text(HOT)
    data = json.loads(plan.to_json())
    for resource in data["resources"]:
        assert resource["type"].count(":") == 2
        for dep in resource["depends_on"]:
            assert dep in plan, (resource["name"], dep)
    assert len(list(plan.ordered())) == len(plan.resources)  # no cycle


def test_stack_name_is_part_of_every_physical_name():
    plan = compile_text(WEB, stack="prod")
    assert props(plan, "svc-web-0")["name"] == "shop-prod-svc-web-0"
    assert props(plan, "db-users-data")["name"] == "shop-prod-db-users-data"


def test_compiling_many_components_stays_fast():
    import time

    count = 600
    services = "".join(f"  s{i}: {{image: 'app:1', port: 80, replicas: 2, env: {{D: '${{databases.d{i}.url}}'}}}}\n"
                       for i in range(count))
    dbs = "".join(f"  d{i}: {{replication: {{mode: primary-replica, replicas: 1}}}}\n" for i in range(count))
    caches = "".join(f"  c{i}: {{replicas: 1}}\n" for i in range(count))
    result = validate_text(f"blueprint: big\nservices:\n{services}databases:\n{dbs}caches:\n{caches}", "big.yaml",
                           target="docker")
    start = time.perf_counter()
    plan = compile_plan(result.blueprint, "docker")
    elapsed = time.perf_counter() - start
    assert len(plan.of_type(CONTAINER)) == count * (2 + 3 + 2)
    assert elapsed < 3.0, f"{elapsed:.2f}s for {count * 3} components"


# ---------------------------------------------------------------- the generated files, run by real programs


def _tool(name: str) -> str:
    import shutil

    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not path:
        pytest.skip(f"{name} is not installed")
    return path


def test_compiled_haproxy_configs_pass_haproxy_check(tmp_path):
    import subprocess

    haproxy = _tool("haproxy")
    plain = EDGE.replace("      - {port: 80, redirect_to_https: true}\n      - {port: 443, tls: true}\n",
                         "      - {port: 8080}\n")
    layer4 = """
        blueprint: shop
        services:
          a: {image: "app:1", port: 9000, replicas: 2}
        load_balancers:
          tcp: {layer: 4, algorithm: source_hash, listeners: [{port: 9000}], targets: [{target: services.a}]}
    """
    for text, name in ((plain, "lb-edge-0"), (layer4, "lb-tcp-0")):
        cfg = tmp_path / f"{name}.cfg"
        cfg.write_text(unescape(upload(compile_text(text), name, "/usr/local/etc/haproxy/haproxy.cfg")))
        result = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr


def test_rabbitmq_wrapper_writes_a_hash_rabbitmq_accepts(tmp_path):
    """Run the uploaded wrapper with the real `erl`: the hash it writes verifies the password."""
    import base64
    import hashlib
    import subprocess

    _tool("erl")
    plan = compile_text("blueprint: s\nqueues:\n  q: {max_receives: 2}\n")
    wrapper = unescape(upload(plan, "queue-q", "/usr/local/bin/topoform-rabbitmq.sh"))
    template = unescape(upload(plan, "queue-q", "/etc/rabbitmq/definitions.template.json"))
    (tmp_path / "template.json").write_text(template)
    (tmp_path / "docker-entrypoint.sh").write_text('#!/bin/sh\necho "started $*"\n')
    (tmp_path / "docker-entrypoint.sh").chmod(0o755)
    script = (wrapper.replace("/etc/rabbitmq/definitions.template.json", str(tmp_path / "template.json"))
              .replace("/etc/rabbitmq/definitions.json", str(tmp_path / "definitions.json")))
    (tmp_path / "wrapper.sh").write_text(script)
    env = {**os.environ, "RABBITMQ_PASSWORD": "s3cretPassw0rd", "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run(["sh", str(tmp_path / "wrapper.sh"), "rabbitmq-server"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started rabbitmq-server"
    user = json.loads((tmp_path / "definitions.json").read_text())["users"][0]
    raw = base64.b64decode(user["password_hash"])
    assert hashlib.sha256(raw[:4] + b"s3cretPassw0rd").digest() == raw[4:]


def test_host_ports_are_a_block_per_stack_on_loopback():
    """Two stacks (and two blueprints) on one engine publish different host ports, on 127.0.0.1 only."""
    def host_ports(stack):
        plan = compile_text(EDGE, stack=stack)
        return plan, [p for r in plan.of_type(CONTAINER) for p in r.properties.get("ports", [])]
    dev, dev_ports = host_ports("dev")
    staging, staging_ports = host_ports("staging")
    assert dev_ports and all(p["ip"] == "127.0.0.1" for p in dev_ports + staging_ports)
    assert not {p["external"] for p in dev_ports} & {p["external"] for p in staging_ports}
    first = block_start(dev.blueprint, "dev")
    assert 20000 <= first and first + 99 <= 32767 and first == block_start(dev.blueprint, "dev")  # below ephemeral ports
    assert all(first <= p["external"] < first + 100 for p in dev_ports)
    assert dev.outputs["platform.host_ports"] == f"127.0.0.1:{first}-{first + 99}"
    assert not [w for w in dev.warnings if "127.0.0.1" in w.message]  # an output, not noise on every plan


def test_more_published_ports_than_the_block_holds_is_refused():
    services = "".join(f"  s{i}: {{image: app:1, port: 80, replicas: 10, public: true}}\n" for i in range(11))
    with pytest.raises(UnsupportedError, match="more than 100 tcp host ports"):
        compile_text(f"blueprint: many\nservices:\n{services}")


def test_rate_limit_and_deny_warn_that_host_clients_share_the_gateway_address():
    plan = compile_text("""
        blueprint: edge
        services:
          api: {image: "app:1", port: 8080}
        reverse_proxies:
          front: {upstream: services.api, rate_limit: {requests_per_second: 5}, deny: ["10.0.0.0/8"]}
    """)
    assert any("bridge gateway" in w.message and "rate-limit bucket" in w.message for w in plan.warnings)


@pytest.mark.parametrize("version, mount, pgdata", [
    ("16", "/var/lib/postgresql/data", "/var/lib/postgresql/data"),
    ("17.2", "/var/lib/postgresql/data", "/var/lib/postgresql/data"),
    ("18", "/var/lib/postgresql", "/var/lib/postgresql/18/docker"),
])
def test_postgres_volume_and_pgdata_follow_the_images_layout(version, mount, pgdata):
    """18+ images keep PGDATA under /var/lib/postgresql/<major>/docker and refuse a mount at …/data."""
    plan = compile_text(f"""
        blueprint: shop
        databases:
          users: {{engine: postgres, version: "{version}", replication: {{mode: primary-replica, replicas: 1}}}}
    """)
    for name in ("db-users", "db-users-replica-0"):
        assert [v["container_path"] for v in props(plan, name)["volumes"]] == [mount]
        assert envs(plan, name)["PGDATA"] == pgdata


def test_postgres_primary_sets_up_replication_on_every_start():
    """A replica added to a live primary: its data exists, so initdb scripts never run again."""
    plan = compile_text("""
        blueprint: shop
        databases:
          users: {engine: postgres, replication: {mode: primary-replica, replicas: 2}}
    """)
    primary = props(plan, "db-users")
    assert primary["entrypoints"] == ["/usr/local/bin/topoform-primary.sh"] and primary["command"] == ["postgres"]
    script = unescape(upload(plan, "db-users", "/usr/local/bin/topoform-primary.sh"))
    existing = script.index('if [ -s "$PGDATA/PG_VERSION" ]; then')
    assert existing < script.index("host replication repl all scram-sha-256") < script.index("ensure_role &")
    assert "max_wal_senders = 8" in script  # two per cloning replica, four spare
    assert script.rstrip().endswith('exec docker-entrypoint.sh "$@"')
    replica_check = props(plan, "db-users-replica-0")["healthcheck"]["tests"][1]
    assert "pg_stat_wal_receiver" in replica_check and "streaming" in replica_check


def test_pinned_server_images_are_supported_releases():
    """End-of-life branches get no security fixes: haproxy 2.9, rabbitmq 3.13 were pinned before."""
    from topoform.providers.docker import images
    assert images.HAPROXY == "haproxy:3.2-alpine" and images.RABBITMQ.startswith("rabbitmq:4.")
    plan = compile_text('blueprint: s\ndatabases:\n  users: {engine: mysql, version: "8.0"}\n')
    assert any("MySQL 8.0 reached end of life" in w.message for w in plan.warnings)
    plan = compile_text('blueprint: s\ndatabases:\n  users: {engine: mysql, version: "8.4"}\n')
    assert not any("end of life" in w.message for w in plan.warnings)
    # The default is a supported release too: a blueprint that names no version gets no warning for it.
    plan = compile_text('blueprint: s\ndatabases:\n  users: {engine: mysql}\n')
    assert not any("end of life" in w.message for w in plan.warnings)
    assert any(r.properties.get("name") == "mysql:8.4" for r in plan.resources)


def test_dns_server_without_a_free_fixed_address_is_a_diagnostic_not_a_traceback():
    """The records' containers take every fixed address: the DNS server's own is then refused cleanly."""
    services = "".join(f"  s{i}: {{image: app:1, port: 80, replicas: {n}}}\n"
                       for i, n in enumerate((1000, 1000, 46)))
    records = "".join(f"    - {{name: s{i}, routing: simple, endpoints: [{{target: services.s{i}}}]}}\n"
                      for i in range(3))
    with pytest.raises(UnsupportedError) as caught:
        compile_text(f"blueprint: full\nservices:\n{services}dns:\n  zone: full.example.com\n  records:\n{records}")
    assert "too many DNS-answered containers on the primary site network" in caught.value.diagnostic.message


def test_http_redirects_lead_to_each_copys_published_https_port():
    """From the host the plain port is Docker's published one: the redirect must name the published https port."""
    plan = compile_text(EDGE)
    for copy in ("lb-edge-0", "lb-edge-1"):
        ports = {p["internal"]: p["external"] for p in props(plan, copy)["ports"]}
        cfg = upload(plan, copy, "/usr/local/etc/haproxy/haproxy.cfg")
        assert (f"http-request redirect code 301 prefix https://%[req.hdr(host),field(1,:)]:{ports[443]} "
                f"if {{ req.hdr(host),field(2,:) -m str {ports[80]} }}") in cfg
    proxy = compile_text("""
        blueprint: edge
        services:
          api: {image: "app:1", port: 8080}
        reverse_proxies:
          front: {upstream: services.api, tls: true}
    """)
    ports = {p["internal"]: p["external"] for p in props(proxy, "rp-front")["ports"]}
    conf = upload(proxy, "rp-front", "/etc/nginx/nginx.conf")
    assert f'if ($http_host ~ ":{ports[80]}$") {{\n                return 301 https://$host:{ports[443]}$request_uri;' in conf


def test_cdn_drops_cookies_like_cloudfront_and_a_caching_proxy_warns_about_a_sticky_balancer():
    """A sticky balancer sets a cookie on every first response; nginx never caches those."""
    plan = compile_text("""
        blueprint: edge
        services:
          web: {image: "nginx:1.27-alpine", port: 80}
        load_balancers:
          app:
            listeners: [{port: 80}]
            routes: [{path: /*, target: services.web}]
            sticky_sessions: {duration: 30m}
        reverse_proxies:
          front: {upstream: load_balancers.app, cache: {ttl: 30s}}
        cdns:
          assets: {mode: pull, origin: load_balancers.app}
    """)
    cdn = upload(plan, "cdn-assets", "/etc/nginx/nginx.conf")
    assert "proxy_ignore_headers Set-Cookie;" in cdn and "proxy_hide_header Set-Cookie;" in cdn
    assert 'proxy_set_header Cookie "";' in cdn
    proxy = upload(plan, "rp-front", "/etc/nginx/nginx.conf")
    assert "Set-Cookie" not in proxy  # the application's cookies still pass through the proxy
    assert any("sticky-session cookie" in w.message for w in plan.warnings)
