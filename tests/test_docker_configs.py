"""Fast checks of the Docker config renderers: no server is started.

Where the real program has a config checker (``haproxy -c``, ``nginx -t``,
``pdnsutil check-zone``, ``sh -n``) every rendered variant goes through it;
the rest are assertions on the text. Servers are exercised in tests/realserver.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import itertools
import json
import shutil
import subprocess
from importlib import resources

import pytest

from topoform.dsl import units
from topoform.providers.docker import configs as C
from topoform.providers.docker.configs import haproxy as H
from topoform.providers.docker.configs import rendering as R

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed: apt-get install {package}")
    return path


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    openssl = tool("openssl", "openssl")
    d = tmp_path_factory.mktemp("cert")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")], check=True, capture_output=True,
                   timeout=60)
    (d / "both.pem").write_bytes((d / "cert.pem").read_bytes() + (d / "key.pem").read_bytes())
    return d


def haproxy_check(text: str, tmp_path) -> None:
    haproxy = tool("haproxy", "haproxy")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    out = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr + text
    assert "[ALERT]" not in out.stdout + out.stderr


def nginx_check(text: str, tmp_path) -> None:
    nginx = tool("nginx", "nginx")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    out = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr + text


def sh_check(text: str, tmp_path) -> None:
    script = tmp_path / "script.sh"
    script.write_text(text)
    for shell in ("sh", "bash"):
        out = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, f"{shell}: {out.stderr}"


# --------------------------------------------------------------------------
# packaging and environment
# --------------------------------------------------------------------------


def test_templates_ship_as_package_data():
    names = {p.name for p in resources.files("topoform.providers.docker").joinpath("templates").iterdir()}
    assert {"haproxy.cfg.j2", "nginx.conf.j2", "redis.conf.j2", "rabbitmq.conf.j2", "pdns-zone.j2",
            "postgres-replica-entrypoint.sh.j2", "backup.sh.j2"} <= names


def test_environment_is_strict_and_cached():
    env = R.environment()
    assert env is R.environment()
    assert env.undefined.__name__ == "StrictUndefined" and env.keep_trailing_newline and not env.autoescape


def test_durations_and_sizes_are_numbers_or_blueprint_spellings():
    assert R.to_seconds("500ms") == 0.5 and R.to_seconds("7d") == 604800 and R.to_seconds(3) == 3
    assert R.to_bytes("512MiB") == 512 * 2**20 and R.to_bytes("1GB") == 10**9 and R.to_bytes(2 * 2**20) == 2 * 2**20
    # One parser of units: a spelling means here what it means in a blueprint.
    for text in ("250ms", "1.5s", "90m", "12h"):
        assert R.to_seconds(text) == units.parse_duration(text)
    for text in ("64KiB", "1.5GiB", "500MB"):
        assert R.to_bytes(text) == units.parse_size(text)
    for bad in ("10", "5 years", True):
        with pytest.raises(ValueError):
            R.to_seconds(bad)
    for bad in ("512", "2mb", True):
        with pytest.raises(ValueError):
            R.to_bytes(bad)
    assert R.haproxy_time("1h") == "1h" and R.haproxy_time("200ms") == "200ms" and R.haproxy_time(90) == "90s"
    assert R.nginx_time("1d") == "1d" and R.nginx_time("90s") == "90s"


# --------------------------------------------------------------------------
# haproxy
# --------------------------------------------------------------------------

WEB = C.HaproxyBackend("web", servers=(C.HaproxyServer("web-0", "web-0", 80, 3), C.HaproxyServer("web-1", "web-1", 80, 1)))
API = C.HaproxyBackend("api", template=C.HaproxyServerTemplate("api", 3, "api", 8080))
# For `haproxy -c`: names that /etc/hosts answers, so the check never waits
# on (or sends) a DNS query for a Docker alias that only exists in Docker.
WEB_LOCAL = C.HaproxyBackend("web", servers=(C.HaproxyServer("web-0", "127.0.0.1", 80, 3),
                                             C.HaproxyServer("web-1", "localhost", 81, 1)))
API_LOCAL = C.HaproxyBackend("api", template=C.HaproxyServerTemplate("api", 3, "localhost", 8080))


@pytest.mark.parametrize("algorithm,layer,sticky,health,tls", list(itertools.product(
    sorted(C.HAPROXY_ALGORITHMS), (4, 7), (None, C.HaproxyStickiness("SID", "1h")),
    (None, C.HaproxyHealthCheck(), C.HaproxyHealthCheck(path=None)), (False, True))))
def test_every_haproxy_variant_passes_haproxy_c(algorithm, layer, sticky, health, tls, cert, tmp_path):
    listeners = (C.HaproxyListener(8080, redirect_to_https=tls and layer == 7), C.HaproxyListener(8443, tls=True)) \
        if tls else (C.HaproxyListener(8080),)
    routes = (C.HaproxyRoute("/api/*", "api", 90), C.HaproxyRoute("/api/*", "web", 10), C.HaproxyRoute("/*", "web")) \
        if layer == 7 else ()
    ctx = C.HaproxyContext(name="edge", layer=layer, algorithm=algorithm, listeners=listeners,
                           backends=(WEB_LOCAL, API_LOCAL), routes=routes, sticky=sticky, health_check=health, tls_cert=str(cert / "both.pem"))
    text = C.render_haproxy_cfg(ctx)
    haproxy_check(text, tmp_path)
    assert f"balance {C.HAPROXY_ALGORITHMS[algorithm]}" in text
    assert f"mode {'http' if layer == 7 else 'tcp'}" in text


def test_haproxy_docker_dns_and_content():
    text = C.render_haproxy_cfg(C.HaproxyContext(
        name="edge", algorithm="weighted", listeners=(C.HaproxyListener(80, redirect_to_https=True),
                                                      C.HaproxyListener(443, tls=True)),
        backends=(WEB, API), routes=(C.HaproxyRoute("/api/*", "api"), C.HaproxyRoute("/*", "web")),
        sticky=C.HaproxyStickiness("SID", "1h")))
    assert "resolvers docker\n    nameserver dns1 127.0.0.11:53" in text
    assert "default-server init-addr last,libc,none" in text
    assert "server web-0 web-0:80 check weight 3 cookie web-0 resolvers docker" in text
    assert "server-template api 3 api:8080 check resolvers docker init-addr none" in text
    assert "cookie SID insert indirect maxidle 1h maxlife 1h" in text and "nocache" not in text
    assert "monitor fail if { nbsrv(web) lt 1 }" in text and "monitor fail if { nbsrv(api) lt 1 }" in text
    assert "http-request redirect scheme https code 301 unless { ssl_fc }" in text
    assert "acl route_0 path_beg /api/\n    use_backend api if route_0" in text
    assert "default_backend web" in text
    assert "monitor-uri /healthz" in text


@pytest.mark.parametrize("path,acl", [("/api/*", ("path_beg", "/api/")), ("/*", None), ("/health", ("path", "/health")),
                                      ("/img/*.png", ("path_reg", "^/img/.*\\.png$"))])
def test_route_globs(path, acl):
    assert H._route_acl(path) == acl


@pytest.mark.parametrize("change,message", [
    (dict(layer=5), "layer must be 4 or 7"),
    (dict(algorithm="fastest"), "unknown algorithm"),
    (dict(backends=()), "at least one backend"),
    (dict(layer=4, routes=(C.HaproxyRoute("/*", "web"),)), "layer 7 only"),
    (dict(routes=(C.HaproxyRoute("/x", "nope"),)), "unknown backend"),
    (dict(routes=(C.HaproxyRoute("/x", "web", 0),)), "not all zero"),
    (dict(listeners=(C.HaproxyListener(80, redirect_to_https=True),)), "needs a TLS listener"),
    (dict(backends=(C.HaproxyBackend("web", servers=(C.HaproxyServer("a", "x y", 80),)),)), "invalid server address"),
    (dict(backends=(C.HaproxyBackend("web", servers=(C.HaproxyServer("a", "a", 80, 300),)),)), "0..256"),
])
def test_haproxy_rejects_bad_contexts(change, message):
    base = dict(name="edge", backends=(WEB,))
    with pytest.raises(ValueError, match=message):
        C.render_haproxy_cfg(C.HaproxyContext(**{**base, **change}))


# --------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------


def nginx_runtime(tmp_path, resolver="127.0.0.11"):
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return C.NginxRuntime(user=None, pid=str(tmp_path / "nginx.pid"), error_log=str(tmp_path / "error.log"),
                          access_log=str(tmp_path / "access.log"), temp_dir=str(tmp_path / "tmp"), resolver=resolver)


@pytest.mark.parametrize("tls,cache,extras,resolver", list(itertools.product(
    (False, True), (None, "plain", "min"), (False, True), ("127.0.0.11", None))))
def test_every_nginx_proxy_variant_passes_nginx_t(tls, cache, extras, resolver, cert, tmp_path):
    caches = {None: None, "plain": C.NginxCache(default_ttl="1h", path=str(tmp_path / "c")),
              "min": C.NginxCache(default_ttl="1h", min_ttl="5m", max_ttl="1d", path=str(tmp_path / "c"))}
    ctx = C.NginxContext(
        name="front", port=8080, upstream=C.NginxUpstream("127.0.0.1" if resolver is None else "edge", 80),
        tls=C.NginxTls(8443, str(cert / "cert.pem"), str(cert / "key.pem")) if tls else None,
        compression=extras, cache=caches[cache],
        static=C.NginxStatic("/static/", str(tmp_path), ttl="1d") if extras else None,
        rate_limit=C.NginxRateLimit(50, 100) if extras else None,
        deny=("203.0.113.0/24",) if extras else (), allow=("10.0.0.0/8",) if extras else (),
        runtime=nginx_runtime(tmp_path, resolver))
    text = C.render_nginx_conf(ctx)
    nginx_check(text, tmp_path)
    if tls:
        assert "listen 8443 ssl http2;" in text and "http2 on" not in text
    if cache:
        assert "add_header X-Cache-Status $upstream_cache_status always;" in text
    if resolver:
        assert "resolver 127.0.0.11" in text and "proxy_pass $origin;" in text
    if extras:
        assert "limit_req_status 429;" in text and "limit_req zone=front_rl burst=100 nodelay;" in text
        assert "deny 203.0.113.0/24;" in text and "deny all;" in text and "gzip on;" in text


def test_nginx_push_cdn_passes_nginx_t(tmp_path):
    ctx = C.NginxContext(name="media", root=str(tmp_path), root_ttl="1d", compression=True,
                         runtime=nginx_runtime(tmp_path))
    text = C.render_nginx_conf(ctx)
    nginx_check(text, tmp_path)
    assert "expires 1d;" in text and "proxy_pass" not in text


def test_cdn_ttl_mapping():
    assert C.cdn_ttl_directives(C.NginxCache(default_ttl="1h")) == ["proxy_cache_valid 200 206 301 302 1h;"]
    assert C.cdn_ttl_directives(C.NginxCache(default_ttl="10s", min_ttl="1m", max_ttl="1d")) == [
        "proxy_ignore_headers Cache-Control Expires;", "proxy_cache_valid 200 206 301 302 1m;"]
    assert C.cdn_ttl_directives(C.NginxCache(default_ttl="2d", min_ttl="1m", max_ttl="1d"))[-1].endswith(" 1d;")
    with pytest.raises(ValueError, match="below min"):
        C.cdn_ttl_directives(C.NginxCache(min_ttl="1h", max_ttl="1m"))


@pytest.mark.parametrize("kw,message", [
    (dict(), "exactly one of upstream"),
    (dict(upstream=C.NginxUpstream("a"), root="/srv"), "exactly one of upstream"),
    (dict(root="/srv", cache=C.NginxCache()), "needs an upstream"),
    (dict(upstream=C.NginxUpstream("a"), deny=("not-a-cidr",)), "does not appear to be"),
    (dict(upstream=C.NginxUpstream("a;b")), "invalid upstream host"),
    (dict(upstream=C.NginxUpstream("a"), static=C.NginxStatic("/static", "/x")), "must end with"),
])
def test_nginx_rejects_bad_contexts(kw, message):
    with pytest.raises(ValueError, match=message):
        C.render_nginx_conf(C.NginxContext(name="x", **kw))


# --------------------------------------------------------------------------
# caches
# --------------------------------------------------------------------------


def test_redis_conf_content():
    text = C.render_redis_conf(C.RedisContext(maxmemory="512MiB", maxmemory_policy="allkeys-lru", appendonly=True,
                                              replicaof=("sessions-primary", 6379), requirepass='p"w',
                                              masterauth='p"w'))
    lines = text.splitlines()
    assert "maxmemory 536870912" in lines and "maxmemory-policy allkeys-lru" in lines
    assert "appendonly yes" in lines and "replicaof sessions-primary 6379" in lines
    assert 'requirepass "p\\"w"' in lines
    plain = C.render_redis_conf(C.RedisContext())
    assert "maxmemory" not in plain and "replicaof" not in plain and "requirepass" not in plain


def test_memcached_args():
    assert C.memcached_args(C.MemcachedContext(memory="512MiB", port=11211, max_connections=2048)) == [
        "-m", "512", "-p", "11211", "-c", "2048", "-t", "4"]


# --------------------------------------------------------------------------
# databases
# --------------------------------------------------------------------------


def test_postgres_scripts_are_valid_shell(tmp_path):
    init = C.render_postgres_primary_init(C.PostgresReplicationContext())
    sh_check(init, tmp_path)
    assert "host replication repl all scram-sha-256" in init and "REPLICATION_PASSWORD" in init
    assert "wal_level = replica" in init and "max_wal_senders = 10" in init
    replica = C.render_postgres_replica_entrypoint(C.PostgresReplicaContext(slot="users_replica_1"))
    sh_check(replica, tmp_path)
    assert "-R -X stream $create_slot -S" in replica and 'exec "$@"' in replica
    with pytest.raises(ValueError, match="slot names"):
        C.render_postgres_replica_entrypoint(C.PostgresReplicaContext(slot="Bad-Slot"))


@pytest.mark.parametrize("engine", ["postgres", "mysql", "mariadb"])
def test_backup_script_is_valid_shell(engine, tmp_path):
    text = C.render_backup_script(C.BackupContext(engine=engine, host="users", database="users",
                                                  interval="1h", retention="7d"))
    sh_check(text, tmp_path)
    assert "-mmin +\"$RETENTION_MINUTES\"" in text and 'RETENTION_MINUTES="${BACKUP_RETENTION_MINUTES:-10080}"' in text
    assert {"postgres": "pg_dump", "mysql": "mysqldump", "mariadb": "mariadb-dump"}[engine] in text


def test_mariadb_and_galera_cnf_parse():
    for role in ("primary", "replica"):
        cp = configparser.ConfigParser(allow_no_value=True)
        cp.read_string(C.render_mariadb_cnf(C.MariadbReplicationContext(server_id=2, role=role)))
        assert cp["mariadb"]["server_id"] == "2" and cp["mariadb"]["log_bin"] == "mysql-bin"
        assert ("read_only" in cp["mariadb"]) == (role == "replica")
    assert C.mariadb_replication_env("replica", primary_host="users")["MARIADB_MASTER_HOST"] == "users"
    cp = configparser.ConfigParser()
    cp.read_string(C.render_galera_cnf(C.GaleraContext("users", ("db-0", "db-1", "db-2"), "db-0", "db-0")))
    assert cp["galera"]["wsrep_cluster_address"] == "gcomm://db-0,db-1,db-2"
    with pytest.raises(ValueError, match="at least 3"):
        C.render_galera_cnf(C.GaleraContext("users", ("a", "b"), "a", "a"))


# --------------------------------------------------------------------------
# rabbitmq
# --------------------------------------------------------------------------


def test_rabbitmq_password_hash_is_salted_sha256():
    h = base64.b64decode(C.rabbitmq_password_hash("secret", b"\x01\x02\x03\x04"))
    assert h[:4] == b"\x01\x02\x03\x04" and h[4:] == hashlib.sha256(b"\x01\x02\x03\x04secret").digest()
    assert C.rabbitmq_password_hash("x") != C.rabbitmq_password_hash("x")  # random salt


def test_rabbitmq_definitions():
    ctx = C.RabbitmqContext(users=(C.RabbitmqUser("app", "pw"),), vhost="shop", queues=(
        C.RabbitmqQueue("orders", max_depth=10000, max_receives=5, retention="4d", fifo=True),), salt=b"abcd")
    doc = json.loads(C.render_rabbitmq_definitions(ctx))
    assert doc["users"][0]["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    assert doc["permissions"] == [{"user": "app", "vhost": "shop", "configure": ".*", "write": ".*", "read": ".*"}]
    orders = next(q for q in doc["queues"] if q["name"] == "orders")
    assert orders["arguments"] == {
        "x-queue-type": "quorum", "x-max-length": 9999, "x-overflow": "reject-publish",
        "x-message-ttl": 4 * 86400 * 1000, "x-single-active-consumer": True, "x-delivery-limit": 4,
        "x-dead-letter-exchange": "orders.dlx", "x-dead-letter-routing-key": "orders.dlq"}
    assert {q["name"] for q in doc["queues"]} == {"orders", "orders.dlq"}
    # RabbitMQ 4 drops a quorum queue's message after 20 redeliveries by default: without
    # max_receives (and on the dead-letter queue) redelivery is unlimited, -1.
    dlq = next(q for q in doc["queues"] if q["name"] == "orders.dlq")
    assert dlq["arguments"]["x-delivery-limit"] == -1
    plain = json.loads(C.render_rabbitmq_definitions(C.RabbitmqContext(users=ctx.users, queues=(
        C.RabbitmqQueue("jobs"),))))["queues"][0]["arguments"]
    assert plain == {"x-queue-type": "quorum", "x-delivery-limit": -1}
    assert doc["bindings"][0]["source"] == "orders.dlx" and doc["bindings"][0]["destination"] == "orders.dlq"
    conf = C.render_rabbitmq_conf(ctx)
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf and "listeners.tcp.default = 5672" in conf
    with pytest.raises(ValueError, match="quorum"):
        C.render_rabbitmq_definitions(C.RabbitmqContext(users=ctx.users, queues=(
            C.RabbitmqQueue("q", max_receives=3, quorum=False),)))


# --------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------

RECORDS = (
    C.DnsRecord("www", "weighted", (C.DnsEndpoint("10.0.0.1", weight=90), C.DnsEndpoint("10.0.0.2", weight=10))),
    C.DnsRecord("api", "failover", (C.DnsEndpoint("10.0.0.1", role="primary"), C.DnsEndpoint("10.0.1.1", role="secondary")),
                health_check=C.DnsHealthCheck(path="/healthz", port=80)),
    C.DnsRecord("cdn", "simple", (C.DnsEndpoint("assets.internal"),)),
    C.DnsRecord("eu", "geolocation", (C.DnsEndpoint("10.0.0.3", continent="EU"), C.DnsEndpoint("10.0.0.4", default=True))),
    C.DnsRecord("fast", "latency", (C.DnsEndpoint("10.0.0.5", region="us-east-1"),)),
    C.DnsRecord("lb", "weighted", (C.DnsEndpoint("edge-a", weight=1), C.DnsEndpoint("edge-b", weight=3))),
)


def test_pdns_zone_records_and_warnings():
    zone = C.render_pdns_zone(C.DnsZoneContext(zone="shop.example.com", records=RECORDS))
    lines = zone.text.splitlines()
    assert """www  IN LUA A "pickwrandom({{90,'10.0.0.1'},{10,'10.0.0.2'}})\"""" in lines
    assert ("""api  IN LUA A "ifurlup('http://api.shop.example.com:80/healthz', """
            """{{'10.0.0.1'},{'10.0.1.1'}}, {timeout=2})\"""") in lines
    assert "cdn  IN CNAME assets.internal." in lines
    assert "eu  IN A 10.0.0.4" in lines and "fast  IN A 10.0.0.5" in lines
    assert """lb  IN LUA CNAME "pickwrandom({{1,'edge-a.'},{3,'edge-b.'}})\"""" in lines
    assert len(zone.warnings) == 3 and str(zone) == zone.text


def test_pdns_files_pass_pdnsutil(tmp_path):
    pdnsutil = tool("pdnsutil", "pdns-server")
    zone = C.render_pdns_zone(C.DnsZoneContext(zone="shop.example.com", records=RECORDS))
    (tmp_path / "z.zone").write_text(zone.text)
    ctx = C.PdnsContext(zones=(("shop.example.com", str(tmp_path / "z.zone")),), config_dir=str(tmp_path),
                        socket_dir=str(tmp_path))
    (tmp_path / "pdns.conf").write_text(C.render_pdns_conf(ctx))
    (tmp_path / "named.conf").write_text(C.render_pdns_named_conf(ctx))
    out = subprocess.run([pdnsutil, f"--config-dir={tmp_path}", "check-zone", "shop.example.com"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "0 errors" in out.stdout, out.stdout + out.stderr
    assert "enable-lua-records=yes" in C.render_pdns_conf(ctx) and "security-poll-suffix=" in C.render_pdns_conf(ctx)


@pytest.mark.parametrize("record,message", [
    (C.DnsRecord("a", "failover", (C.DnsEndpoint("10.0.0.1", role="primary"),)), "exactly one primary"),
    (C.DnsRecord("a", "weighted", (C.DnsEndpoint("10.0.0.1", weight=0),)), "not all zero"),
    (C.DnsRecord("a", "simple", (C.DnsEndpoint("10.0.0.1"), C.DnsEndpoint("host"))), "all IPv4"),
    (C.DnsRecord("a", "roundrobin", (C.DnsEndpoint("10.0.0.1"),)), "unknown routing"),
    (C.DnsRecord("a", "weighted", (C.DnsEndpoint("x'y"),)), "invalid DNS target"),
])
def test_pdns_rejects_bad_records(record, message):
    with pytest.raises(ValueError, match=message):
        C.render_pdns_zone(C.DnsZoneContext(zone="z.example", records=(record,)))
