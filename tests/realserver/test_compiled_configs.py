"""The files the Docker compiler puts in Plans, loaded and run by the real servers.

Every blueprint in blueprints/ and tests/golden/valid/ is compiled for
docker; every container's uploads (config files, scripts), envs and command
are taken from the Plan (see compiled.py), their deploy-time references
filled with test values, Docker names and ports rewritten to 127.0.0.1 and
free ports, and then:

1. each distinct file goes through the real program's checker or a real
   start: ``haproxy -c``, ``nginx -t``, redis-server / memcached start and
   answer, ``pdnsutil check-zone`` + pdns_server answering, ``sh -n`` /
   ``bash -n``, a RabbitMQ broker booted from the compiled files;
2. the behaviour the blueprint asks for is observed on loopback: balancing by
   algorithm and a killed backend dropped, cache HIT and 429, eviction,
   streaming replication, back pressure and dead-lettering, weighted and
   failover DNS answers.

Test-only changes to compiled text are few, explicit and listed where they
happen: addresses/ports/paths (always), redis ``maxmemory`` lowered to 2 MiB
(filling 512 MiB would take minutes), haproxy check ``inter`` and pdns
``lua-health-checks-interval`` shortened (rise/fall kept) so a dead backend
is noticed within a test's time, and the image's ``docker-entrypoint.sh``
replaced by a stand-in that runs the Debian server binary.
"""

from __future__ import annotations

import collections
import concurrent.futures
import gzip
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from .compiled import (
    BLUEPRINTS, EVERY_SECTION, ROOT, DeployValues, containers, distinct_files, find, haproxy_for_loopback,
    nginx_for_loopback, redis_for_loopback, short, sub_required,
)
from .harness import (
    PG_BIN, free_port, http_get, port_open, require, shared_tmpdir, start_identity_server, wait_for,
)

real_server = pytest.mark.real_server


@pytest.fixture(scope="session")
def values(tls_cert) -> DeployValues:
    """Deploy-time values: the test certificate stands in for every pulumi_tls output."""
    return DeployValues(tls_cert["cert"].read_text(), tls_cert["key"].read_text())


def ids(pairs) -> list[str]:
    return [f"{c.id}:{Path(u.file).name}" for c, u in pairs]


def body_name(resp) -> str:
    return resp.text.split()[0]


# ==========================================================================
# `topoform plan` succeeds for docker on every example
# ==========================================================================

@pytest.mark.parametrize("blueprint", BLUEPRINTS, ids=short)
def test_topoform_plan_succeeds_for_docker(blueprint):
    from topoform.cli.main import cli

    result = CliRunner().invoke(cli, ["plan", str(blueprint), "--target", "docker", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert any(r["type"] == "docker:index/container:Container" for r in plan["resources"])


def test_the_every_section_blueprint_really_uses_every_section():
    import yaml

    sections = set(yaml.safe_load(EVERY_SECTION.read_text()))
    assert {"services", "load_balancers", "reverse_proxies", "cdns", "dns", "databases", "caches", "queues",
            "disaster_recovery", "slos", "variables"} <= sections


# ==========================================================================
# 1. every distinct compiled file passes the real program's check
# ==========================================================================

HAPROXY = distinct_files("haproxy.cfg")
# API gateways proxy to upstream blocks nginx resolves at start, not through a
# resolver: tests/realserver/test_api_gateway.py runs them with live backends.
NGINX = [(c, u) for c, u in distinct_files("nginx.conf")
         if c.plan.get(c.name).component.partition(".")[0] != "api_gateways"]
SCRIPTS = [(c, u) for c, u in distinct_files("") if u.executable or u.file.endswith(".sh")]
REDIS = distinct_files("cache.conf")
ZONES = distinct_files(".zone")
MEMCACHED = [c for c in containers() if c.image.startswith("memcached")]


@real_server
@pytest.mark.parametrize("container, upload", HAPROXY, ids=ids(HAPROXY))
def test_haproxy_accepts_compiled_config(container, upload, values, tmp_path):
    haproxy = require("haproxy", "haproxy")
    container.write_files(tmp_path, values)
    text = haproxy_for_loopback(upload.text(container, values), tmp_path, binds=lambda port: free_port(),
                                servers=lambda name: ("127.0.0.1", 9), nameserver=f"127.0.0.1:{free_port()}")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    check = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Configuration file is valid" in check.stdout + check.stderr


def nginx_files(container, upload, values, root: Path, *, ports, upstream) -> tuple[Path, Path]:
    """Write the container's files under ``root`` and its nginx.conf rewritten; returns (conf, prefix)."""
    prefix = root / "prefix"
    (prefix / "cache").mkdir(parents=True)  # the image's /var/cache/nginx
    container.write_files(root, values)
    text = upload.text(container, values)
    conf = root / "nginx.conf"
    conf.write_text(nginx_for_loopback(text, root, prefix, ports=ports, upstream=upstream if "$origin" in text else None,
                                       resolver=f"127.0.0.1:{free_port()}"))
    return conf, prefix


@real_server
@pytest.mark.parametrize("container, upload", NGINX, ids=ids(NGINX))
def test_nginx_accepts_compiled_config(container, upload, values, tmp_path):
    nginx = require("nginx", "nginx")
    conf, prefix = nginx_files(container, upload, values, tmp_path, ports={80: free_port(), 443: free_port()},
                               upstream=("127.0.0.1", 9))
    check = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr


@pytest.mark.parametrize("container, upload", SCRIPTS, ids=ids(SCRIPTS))
def test_shell_scripts_parse(container, upload, tmp_path):
    script = tmp_path / Path(upload.file).name
    script.write_text(upload.text(container))
    first = script.read_text().splitlines()[0]
    assert first == "#!/bin/sh", f"{upload.file}: images run it with /bin/sh (busybox ash or dash), not {first}"
    for shell in ("sh", "bash"):
        binary = require(shell, shell)
        check = subprocess.run([binary, "-n", str(script)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"{shell} -n {upload.file}: {check.stderr}"


def test_every_kind_of_compiled_file_is_covered():
    """The checks above are not vacuous: the blueprints produce every kind of file."""
    counts = {"haproxy": len(HAPROXY), "nginx": len(NGINX), "scripts": len(SCRIPTS), "redis": len(REDIS),
              "zones": len(ZONES), "memcached": len(MEMCACHED), "rabbitmq": len(RABBIT_BROKERS)}
    assert all(counts.values()), counts
    assert len(HAPROXY) >= 8 and len(NGINX) >= 4 and len(SCRIPTS) >= 8, counts


def redis_cli(port: int, *args: str, password: str | None = None, stdin: str | None = None) -> str:
    binary = require("redis-cli", "redis-tools")
    auth = ["--no-auth-warning", "-a", password] if password else []
    out = subprocess.run([binary, "-h", "127.0.0.1", "-p", str(port), *auth, *args], input=stdin,
                         capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def start_compiled_redis(launcher, container, values, name: str, **rewrite) -> tuple[int, str]:
    """redis-server on the container's compiled cache.conf (valkey reads the same file); (port, password)."""
    server = require("redis-server", "redis-server")
    assert container.command[-1] == "/etc/topoform/cache.conf" and container.command[0] in ("redis-server",
                                                                                             "valkey-server")
    data = launcher.workdir / name
    data.mkdir()
    port = free_port()
    conf = launcher.workdir / f"{name}.conf"
    conf.write_text(redis_for_loopback(container.upload("cache.conf").text(container, values), data, port, **rewrite))
    launcher.start(name, [server, str(conf)], wait_port=port)
    return port, container.env(values)["CACHE_PASSWORD"]


@real_server
@pytest.mark.parametrize("container, upload", REDIS, ids=ids(REDIS))
def test_redis_starts_with_compiled_config(container, upload, values, launcher):
    policy = re.search(r"^maxmemory-policy (\S+)$", upload.content, re.M).group(1)
    replica = re.search(r"^replicaof ", upload.content, re.M) is not None
    port, password = start_compiled_redis(launcher, container, values, "redis",
                                          replicaof=("127.0.0.1", free_port()) if replica else None)
    # The password the container's healthcheck and clients use is the one redis requires.
    assert "NOAUTH" in redis_cli(port, "GET", "k")
    assert redis_cli(port, "PING", password=password).strip() == "PONG"
    assert redis_cli(port, "CONFIG", "GET", "maxmemory-policy", password=password).split()[1] == policy
    assert redis_cli(port, "ROLE", password=password).split()[0] == ("slave" if replica else "master")


@real_server
@pytest.mark.parametrize("container", MEMCACHED, ids=[c.id for c in MEMCACHED])
def test_memcached_starts_with_compiled_arguments(container, launcher):
    import socket

    memcached = require("memcached", "memcached")
    args = list(container.command)
    port = free_port()
    args[args.index("-p") + 1] = str(port)
    # As root memcached needs -u; -l keeps it on loopback.
    launcher.start("memcached", [memcached, "-u", "root", "-l", "127.0.0.1", *args], wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            data += sock.recv(65536)
    stats = dict(line.split()[1:3] for line in data.decode().splitlines() if line.startswith("STAT "))
    assert stats["limit_maxbytes"] == str(int(args[args.index("-m") + 1]) * 1024 * 1024)


# ---------------------------------------------------------------- PowerDNS


def pdns_files(container, values, root: Path, port: int, addresses: dict[str, str],
               health_interval: int | None = None, check_ports: dict[int, int] | None = None) -> list[str]:
    """Write pdns.conf / named.conf / zone for loopback; returns pdns_server's argv (the compiled command)."""
    container.write_files(root, values)
    etc = root / "etc" / "powerdns"
    conf = (etc / "pdns.conf").read_text().replace("/etc/powerdns", str(etc))
    conf = sub_required(r"^local-address=.*$", "local-address=127.0.0.1", conf, "local-address")
    conf = sub_required(r"^local-port=.*$", f"local-port={port}", conf, "local-port")
    conf = sub_required(r"^socket-dir=.*$", f"socket-dir={root}", conf, "socket-dir")
    if health_interval is not None:
        conf = sub_required(r"^lua-health-checks-interval=.*$", f"lua-health-checks-interval={health_interval}",
                            conf, "health check interval")
    (etc / "pdns.conf").write_text(conf)
    named = etc / "named.conf"
    named.write_text(sub_required(r'file "/etc/powerdns', f'file "{etc}', named.read_text(), "zone file path"))
    for zone in (etc / "zones").iterdir():
        text = zone.read_text()
        for compiled, loopback in addresses.items():
            text = re.sub(rf"(?<![\d.]){re.escape(compiled)}(?![\d.])", loopback, text)
        for compiled_port, loopback_port in (check_ports or {}).items():  # health-checked URLs
            text = sub_required(rf"(ifurlup\('[^']*):{compiled_port}/", rf"\g<1>:{loopback_port}/", text,
                                "health-checked URL")
        zone.write_text(text)
    assert container.entrypoints == ("pdns_server",)
    return [require("pdns_server", "pdns-server pdns-backend-bind"),
            *(arg.replace("/etc/powerdns", str(etc)) for arg in container.command)]


def zone_addresses(container) -> dict[str, str]:
    """Every IPv4 address in the container's zone files → a distinct 127.0.1.N (loopback answers everything)."""
    found = []
    for upload in container.uploads:
        if upload.file.endswith(".zone"):
            found += re.findall(r"(?<![\d.])(\d+\.\d+\.\d+\.\d+)(?![\d.])", upload.content)
    return {address: f"127.0.1.{i + 1}" for i, address in enumerate(dict.fromkeys(found))}


def dig(port: int, zone: str, *names: str, rtype: str = "A") -> list[str]:
    binary = require("dig", "dnsutils")
    args = [binary, "@127.0.0.1", "-p", str(port), "+short", "+tries=1", "+time=2"]
    for name in names:
        args += [zone if name == "@" else f"{name}.{zone}", rtype]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def start_compiled_pdns(launcher, container, values, **kw) -> tuple[int, str, dict[str, str]]:
    """pdns_server as compiled on loopback; (port, zone, compiled address → loopback address)."""
    zone_upload = next(u for u in container.uploads if u.file.endswith(".zone"))
    zone = Path(zone_upload.file).name.removesuffix(".zone")
    addresses = zone_addresses(container)
    port = free_port()
    argv = pdns_files(container, values, launcher.workdir, port, addresses, **kw)
    launcher.start("pdns", argv, wait_port=port)
    wait_for(lambda: dig(port, zone, "@", rtype="SOA"), 10, "pdns to answer the SOA")
    return port, zone, addresses


@real_server
@pytest.mark.parametrize("container, upload", ZONES, ids=ids(ZONES))
def test_pdns_checks_and_serves_compiled_zone(container, upload, values, launcher):
    pdnsutil = require("pdnsutil", "pdns-server")
    port, zone, addresses = start_compiled_pdns(launcher, container, values)
    etc = launcher.workdir / "etc" / "powerdns"
    check = subprocess.run([pdnsutil, f"--config-dir={etc}", "check-zone", zone], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0 and "0 errors" in check.stdout + check.stderr, check.stdout + check.stderr
    # Every simple A record of the compiled zone is answered as written.
    for name, address in re.findall(r"^(\S+)\s+(?:\d+\s+)?IN A (\S+)$", upload.content, re.M):
        assert addresses[address] in dig(port, zone, name), (name, address)


# ---------------------------------------------------------------- RabbitMQ


RABBIT = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the real script; /usr/sbin's wrapper su's to rabbitmq
RABBIT_BROKERS = [c for c in containers() if c.has("definitions.template.json") and not c.name.endswith("-dr")]


def queue_definitions(container) -> dict:
    doc = json.loads(container.upload("definitions.template.json").content)
    assert {"users", "vhosts", "permissions", "exchanges", "queues", "bindings"} <= set(doc)
    return doc


@pytest.fixture(scope="module")
def brokers(module_launcher, values):
    """One broker per compiled queue container, booted in parallel through the compiled wrapper entrypoint.

    The wrapper hashes the password with the real ``erl`` and writes the
    definitions; a stand-in ``docker-entrypoint.sh`` then execs Debian's
    rabbitmq-server. Yields {container id: (pika parameters, container)}.
    """
    require(RABBIT, "rabbitmq-server")
    epmd = require("epmd", "erlang-base")
    import pika  # the test extra installs it; a missing client must fail, not skip
    work = module_launcher.workdir
    epmd_port = free_port()
    module_launcher.start("epmd", [epmd, "-port", str(epmd_port)], wait_port=epmd_port)
    bin_dir = work / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "docker-entrypoint.sh"
    stand_in.write_text(f'#!/bin/sh\n[ "$1" = rabbitmq-server ] || exit 64\nshift\nexec {RABBIT} "$@"\n')
    stand_in.chmod(0o755)
    started = {}
    for n, container in enumerate(RABBIT_BROKERS):
        root = work / f"broker-{n}"
        container.write_files(root, values)
        etc = root / "etc" / "rabbitmq"
        amqp, dist = free_port(), free_port()
        conf = etc / "rabbitmq.conf"
        text = sub_required(r"^listeners\.tcp\.default = \d+$", f"listeners.tcp.default = 127.0.0.1:{amqp}",
                            conf.read_text(), "AMQP listener")
        conf.write_text(sub_required(r"^load_definitions = /etc/rabbitmq/", f"load_definitions = {etc}/", text,
                                     "definitions path"))
        wrapper = root / container.entrypoints[0].lstrip("/")
        wrapper.write_text(wrapper.read_text().replace("/etc/rabbitmq/", f"{etc}/"))
        (root / "enabled_plugins").write_text("[].\n")
        for sub in ("mnesia", "log"):
            (root / sub).mkdir()
        env = {**container.env(values), "PATH": f"{bin_dir}:{os.environ['PATH']}",
               "HOME": str(root), "ERL_EPMD_PORT": str(epmd_port),
               "RABBITMQ_NODENAME": f"rabbit-e2e-{amqp}@localhost", "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
               "RABBITMQ_NODE_PORT": str(amqp), "RABBITMQ_DIST_PORT": str(dist),
               "RABBITMQ_CONFIG_FILE": str(conf), "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
               "RABBITMQ_MNESIA_BASE": str(root / "mnesia"), "RABBITMQ_LOG_BASE": str(root / "log"),
               "RABBITMQ_CONF_ENV_FILE": str(root / "rabbitmq-env.conf"),
               "RABBITMQ_ADVANCED_CONFIG_FILE": str(root / "advanced.config")}
        proc = module_launcher.start(f"rabbitmq-{n}", ["sh", str(wrapper), *container.command], env=env)
        params = pika.ConnectionParameters("127.0.0.1", amqp, "/",
                                           pika.PlainCredentials("app", env["RABBITMQ_PASSWORD"]),
                                           blocked_connection_timeout=10, socket_timeout=10)
        started[container.id] = (params, container, proc, amqp)
    for params, container, proc, amqp in started.values():
        def ready(proc=proc, amqp=amqp):
            assert proc.alive(), f"{container.id} broker exited:\n{proc.output()[-3000:]}"
            return port_open(amqp)
        wait_for(ready, 90, f"{container.id} broker on port {amqp}", interval=0.2)
        wait_for(lambda params=params: pika.BlockingConnection(params).close() or True, 30,
                 f"AMQP login to {container.id} as the compiled user", 0.5)
    yield {key: (params, container) for key, (params, container, _, _) in started.items()}
    for _, _, proc, _ in started.values():
        proc.stop(timeout=20)


@real_server
@pytest.mark.parametrize("container", RABBIT_BROKERS, ids=[c.id for c in RABBIT_BROKERS])
def test_rabbitmq_boots_with_compiled_definitions(container, brokers):
    import pika

    params, _ = brokers[container.id]
    conn = pika.BlockingConnection(params)
    try:
        ch = conn.channel()
        for queue in queue_definitions(container)["queues"]:
            # Re-declaring with identical arguments succeeds only if the broker
            # holds exactly the compiled ones (a mismatch closes the channel).
            ch.queue_declare(queue["name"], durable=True, arguments=queue["arguments"])
    finally:
        conn.close()


def queues_with(key: str) -> list[tuple]:
    found = []
    for container in RABBIT_BROKERS:
        for queue in queue_definitions(container)["queues"]:
            if key in queue["arguments"]:
                found.append((container, queue))
    return found


@real_server
@pytest.mark.parametrize("container, queue", queues_with("x-max-length"),
                         ids=[f"{c.id}:{q['name']}" for c, q in queues_with("x-max-length")])
def test_rabbitmq_nacks_publishes_beyond_max_depth(container, queue, brokers):
    import pika

    params, _ = brokers[container.id]
    bp_queue = next(q for q in plan_queues(container) if q.name == queue["name"])
    depth = bp_queue.max_depth
    conn = pika.BlockingConnection(params)
    try:
        fill = conn.channel()
        # Fast fill without confirms up to one below the limit (10,000 confirmed
        # publishes one by one would take minutes), then confirmed publishes.
        for i in range(depth - 1):
            fill.basic_publish("", queue["name"], b"m")
        wait_for(lambda: fill.queue_declare(queue["name"], passive=True).method.message_count == depth - 1, 30,
                 f"{depth - 1} messages in {queue['name']}", interval=0.1)
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish("", queue["name"], b"last one that fits", pika.BasicProperties(delivery_mode=2))
        with pytest.raises(pika.exceptions.NackError):
            ch.basic_publish("", queue["name"], b"one too many", pika.BasicProperties(delivery_mode=2))
        assert ch.queue_declare(queue["name"], passive=True).method.message_count == depth
        ch.queue_purge(queue["name"])
    finally:
        conn.close()


def plan_queues(container):
    """The blueprint's queue models behind a compiled broker (max_depth, max_receives as the user wrote them)."""
    from topoform.dsl import validate_file

    bp = validate_file(str(container.blueprint), target="docker").blueprint
    return list(bp.queues.values())


@real_server
# Queues with max_receives (a dead-letter target). The others say x-delivery-limit -1, RabbitMQ
# 4's "unlimited"; Debian's 3.10 reads -1 as a limit of 0, so they are not exercised here.
@pytest.mark.parametrize("container, queue", queues_with("x-dead-letter-routing-key"),
                         ids=[f"{c.id}:{q['name']}" for c, q in queues_with("x-dead-letter-routing-key")])
def test_rabbitmq_dead_letters_after_max_receives(container, queue, brokers):
    import pika

    params, _ = brokers[container.id]
    max_receives = next(q for q in plan_queues(container) if q.name == queue["name"]).max_receives
    conn = pika.BlockingConnection(params)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish("", queue["name"], b"poison", pika.BasicProperties(delivery_mode=2))
        # A consumer, not basic.get: FIFO queues (single active consumer) refuse basic.get.
        receives = 0
        deadline = time.monotonic() + 20
        for method, _, body in ch.consume(queue["name"], auto_ack=False, inactivity_timeout=1.0):
            if method is None or time.monotonic() > deadline:
                break  # a second without a delivery: the message has left the queue
            assert body == b"poison"
            receives += 1
            ch.basic_nack(method.delivery_tag, requeue=True)  # the consumer fails
        ch.cancel()
        assert receives == max_receives  # SQS maxReceiveCount: received that often, then dead-lettered
        dlq = queue["arguments"]["x-dead-letter-routing-key"]

        def dead_lettered():
            method, _, body = ch.basic_get(dlq, auto_ack=True)
            return method is not None and body
        assert wait_for(dead_lettered, 10, f"the message in {dlq}") == b"poison"
    finally:
        conn.close()


# ==========================================================================
# 2. behaviour of the compiled configs
# ==========================================================================

# ---------------------------------------------------------------- haproxy


def start_compiled_haproxy(launcher, container, values, backends: dict[str, int], *, check_interval=None,
                           name="haproxy") -> dict[int, int]:
    """haproxy on the compiled config with servers → identity backends; returns container port → loopback port."""
    haproxy = require("haproxy", "haproxy")
    root = launcher.workdir / name
    container.write_files(root, values)
    ports: dict[int, int] = {}

    def bind(port: int) -> int:
        return ports.setdefault(port, free_port())
    text = haproxy_for_loopback(container.upload("haproxy.cfg").text(container, values), root, binds=bind,
                                servers=lambda server: ("127.0.0.1", backends[server]),
                                nameserver=f"127.0.0.1:{free_port()}", check_interval=check_interval)
    cfg = root / "haproxy.cfg"
    cfg.write_text(text)
    check = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    launcher.start(name, [haproxy, "-db", "-f", str(cfg)], wait_port=max(ports.values()))
    return ports


def server_names(container) -> list[str]:
    return re.findall(r"^\s*server (\S+) ", container.upload("haproxy.cfg").content, re.M)


# (blueprint, balancer container, scheme, listener port, expectation)
BALANCERS = [
    (EVERY_SECTION, "lb-edge-0", "https", 443, "rotation"),  # round_robin, TLS, application cookie
    (ROOT / "blueprints" / "minimal-web.yaml", "lb-edge-0", "http", 80, "even"),  # least_connections
    (ROOT / "blueprints" / "data-tier.yaml", "lb-api-0", "http", 8080, "one"),  # layer 4 source_hash
]


@real_server
@pytest.mark.parametrize("blueprint, name, scheme, port, expectation", BALANCERS,
                         ids=[f"{short(b)}:{n}:{e}" for b, n, _, _, e in BALANCERS])
def test_compiled_balancer_spreads_by_algorithm_and_drops_a_killed_backend(blueprint, name, scheme, port,
                                                                          expectation, values, launcher):
    container = find(blueprint, name)
    names = server_names(container)
    backends = {server: start_identity_server(launcher, server) for server in names}
    checked = " check" in container.upload("haproxy.cfg").content
    ports = start_compiled_haproxy(launcher, container, values, {s: p for s, (_, p) in backends.items()},
                                   check_interval="200ms" if checked else None)
    url = f"{scheme}://127.0.0.1:{ports[port]}/"
    seen = [body_name(http_get(url)) for _ in range(3 * len(names))]
    if expectation == "rotation":  # round robin: a fixed cycle over every server
        assert sorted(seen[:len(names)]) == sorted(names) and seen == seen[:len(names)] * 3, seen
    elif expectation == "even":  # least connections, one request at a time: everyone gets a fair share
        assert collections.Counter(seen) == {server: 3 for server in names}, seen
    else:  # source hash: one client address, one server
        assert len(set(seen)) == 1, seen

    victim = seen[0]
    backends[victim][0].kill()
    if checked:
        stats = ports[8404]

        def victim_down():
            csv = http_get(f"http://127.0.0.1:{stats}/stats;csv").text
            return re.search(rf"^\w+,{re.escape(victim)},.*?,DOWN", csv, re.M)
        wait_for(victim_down, 10, f"haproxy to mark {victim} DOWN")
    answers = [http_get(url) for _ in range(4 * len(names))]
    assert all(r.status == 200 for r in answers), [r.status for r in answers]
    after = collections.Counter(body_name(r) for r in answers)
    assert victim not in after and set(after) <= set(names) - {victim}, after
    if expectation != "one":
        assert set(after) == set(names) - {victim}, after


COOKIE_APP = '''
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
NAME = sys.argv[2]
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = f"{NAME} cookie={self.headers.get('Cookie', '')}".encode()
        self.send_response(200)
        if self.path == "/login":
            self.send_header("Set-Cookie", f"SID=session-from-{NAME}; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''


@real_server
def test_application_session_cookie_reaches_the_app_and_pins_the_client(values, launcher):
    """`sticky_sessions.cookie` names the application's cookie (AWS: app_cookie stickiness).

    The app must see its own cookie and the client must get the app's
    Set-Cookie; once the app has set it, the client stays on that server.
    """
    container = find(EVERY_SECTION, "lb-edge-0")
    app = launcher.workdir / "cookie_app.py"
    app.write_text(COOKIE_APP)
    backends = {}
    for server in server_names(container):
        port = free_port()
        launcher.start(f"app-{server}", [sys.executable, str(app), str(port), server], wait_port=port)
        backends[server] = port
    ports = start_compiled_haproxy(launcher, container, values, backends)
    base = f"https://127.0.0.1:{ports[443]}"
    login = http_get(f"{base}/login")
    server = body_name(login)
    # The client gets the application's cookie (haproxy may prefix its value with a server id).
    set_cookie = login.headers.get("set-cookie", "")
    match = re.match(r"SID=([^;]*)", set_cookie)
    assert match and match.group(1).endswith(f"session-from-{server}"), login.headers
    cookie = {"Cookie": f"SID={match.group(1)}"}
    pinned = [http_get(f"{base}/cart", cookie) for _ in range(6)]
    assert {body_name(r) for r in pinned} == {server}, [r.text for r in pinned]
    assert all(r.text.endswith(f"cookie=SID=session-from-{server}") for r in pinned), [r.text for r in pinned]
    # A client without the cookie is balanced as usual.
    assert {body_name(http_get(f"{base}/")) for _ in range(6)} == set(backends)


# ---------------------------------------------------------------- nginx


@pytest.fixture
def edge(values, launcher):
    """The every-section blueprint's compiled haproxy over three identity backends: its TLS port."""
    container = find(EVERY_SECTION, "lb-edge-0")
    backends = {server: start_identity_server(launcher, server)[1] for server in server_names(container)}
    return start_compiled_haproxy(launcher, container, values, backends, name="edge")[443]


def start_compiled_nginx(launcher, name: str, values, upstream_port: int | None) -> dict[int, int]:
    """nginx on a compiled nginx.conf of the every-section blueprint; returns container port → loopback port."""
    nginx = require("nginx", "nginx")
    container = find(EVERY_SECTION, name)
    ports = {80: free_port(), 443: free_port()}
    conf, prefix = nginx_files(container, container.upload("nginx.conf"), values, launcher.workdir / name,
                               ports=ports, upstream=("127.0.0.1", upstream_port))
    err = str(prefix / "error.log")
    check = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(conf), "-e", err], capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    launcher.start(name, [nginx, "-p", str(prefix), "-c", str(conf), "-e", err, "-g", "daemon off;"],
                   wait_port=ports[443])
    return ports


@real_server
def test_compiled_reverse_proxy_caches_serves_static_and_redirects(values, launcher, edge):
    ports = start_compiled_nginx(launcher, "rp-front", values, edge)
    redirect = http_get(f"http://127.0.0.1:{ports[80]}/product/1")
    assert redirect.status == 301 and redirect.headers["location"].startswith("https://"), redirect.headers
    url = f"https://127.0.0.1:{ports[443]}/product/1"
    first, second = http_get(url), http_get(url)
    assert first.status == 200 and first.headers["x-cache-status"] == "MISS", (first.status, first.headers)
    assert second.headers["x-cache-status"] == "HIT", second.headers
    assert second.body == first.body  # the backend's counter did not move
    static = http_get(f"https://127.0.0.1:{ports[443]}/static/index.html")
    assert static.status == 200 and static.body == (ROOT / "blueprints" / "static" / "index.html").read_bytes()
    zipped = http_get(f"https://127.0.0.1:{ports[443]}/big", {"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip", zipped.headers


@real_server
def test_compiled_reverse_proxy_answers_429_past_the_rate_limit(values, launcher, edge):
    from topoform.dsl import validate_file

    limit = validate_file(str(EVERY_SECTION)).blueprint.reverse_proxies["front"].rate_limit
    ports = start_compiled_nginx(launcher, "rp-front", values, edge)
    url_path = "/product/rate"
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    total = 4 * (limit.burst + limit.requests_per_second)

    def worker(count: int) -> list[int]:
        # One keep-alive connection per worker: the limit is per client address, not per connection.
        conn = http.client.HTTPSConnection("127.0.0.1", ports[443], timeout=10, context=ctx)
        statuses = []
        try:
            for _ in range(count):
                conn.request("GET", url_path)
                resp = conn.getresponse()
                resp.read()
                statuses.append(resp.status)
        finally:
            conn.close()
        return statuses
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = [s for part in pool.map(worker, [total // 8] * 8) for s in part]
    elapsed = time.monotonic() - started
    counts = collections.Counter(statuses)
    assert set(counts) <= {200, 429}, counts
    assert counts[429] > 0, counts
    # burst + 1 pass at once, then the sustained rate (plus slack for timing).
    allowed = limit.burst + 1 + limit.requests_per_second * elapsed
    assert limit.burst <= counts[200] <= allowed + 10, (counts, elapsed)


@real_server
def test_compiled_pull_cdn_caches_and_push_cdn_serves_content(values, launcher, edge):
    pull = start_compiled_nginx(launcher, "cdn-assets", values, edge)
    url = f"https://127.0.0.1:{pull[443]}/logo.png"
    assert [http_get(url).headers["x-cache-status"] for _ in range(2)] == ["MISS", "HIT"]
    push = start_compiled_nginx(launcher, "cdn-media", values, None)
    page = http_get(f"https://127.0.0.1:{push[443]}/index.html")
    assert page.status == 200 and page.body == (ROOT / "blueprints" / "static" / "index.html").read_bytes()
    assert "max-age=86400" in page.headers["cache-control"], page.headers
    assert http_get(f"http://127.0.0.1:{push[80]}/index.html").status == 301  # https_only


# ---------------------------------------------------------------- redis


REDIS_PRIMARIES = [(c, u) for c, u in REDIS if "\nreplicaof " not in u.content]


@real_server
@pytest.mark.parametrize("container, upload", REDIS_PRIMARIES, ids=ids(REDIS_PRIMARIES))
def test_compiled_redis_evicts_by_its_policy_under_maxmemory(container, upload, values, launcher):
    policy = re.search(r"^maxmemory-policy (\S+)$", upload.content, re.M).group(1)
    # Lowered from the blueprint's size (hundreds of MiB) so 5,000 keys fill it.
    port, password = start_compiled_redis(launcher, container, values, "redis", maxmemory=2 * 1024 * 1024)
    volatile = policy.startswith("volatile-")  # volatile-* evicts keys with a TTL only
    assert redis_cli(port, "SET", "pinned", "no ttl", password=password).strip() == "OK"
    expire = " EX 3600" if volatile else ""
    out = redis_cli(port, password=password,
                    stdin="".join(f"SET key:{i} {'x' * 1024}{expire}\n" for i in range(5000)))
    evicted = int(re.search(r"evicted_keys:(\d+)", redis_cli(port, "INFO", "stats", password=password)).group(1))
    size = int(redis_cli(port, "DBSIZE", password=password).strip())
    if policy == "noeviction":
        assert "OOM command not allowed" in out and evicted == 0
    else:
        assert "OOM" not in out and evicted > 0 and size < 5000, (evicted, size)
        if volatile:
            assert redis_cli(port, "GET", "pinned", password=password).strip() == "no ttl"


@real_server
def test_compiled_redis_replica_follows_its_primary(values, launcher):
    primary = find(EVERY_SECTION, "cache-sessions")
    replica = find(EVERY_SECTION, "cache-sessions-replica-0")
    port, password = start_compiled_redis(launcher, primary, values, "primary")
    replica_port, replica_password = start_compiled_redis(launcher, replica, values, "replica",
                                                          replicaof=("127.0.0.1", port))
    assert replica_password == password
    assert redis_cli(port, "SET", "cart:1", "3 items", password=password).strip() == "OK"
    wait_for(lambda: redis_cli(replica_port, "GET", "cart:1", password=password).strip() == "3 items", 15,
             "the replica to receive the write (masterauth = requirepass)")
    assert "READONLY" in redis_cli(replica_port, "SET", "x", "y", password=password)


# ---------------------------------------------------------------- postgres


def as_postgres(argv, env=None, timeout=60):
    import pwd

    pw = pwd.getpwnam("postgres")
    out = subprocess.run(argv, env={**os.environ, "HOME": "/tmp", **(env or {})}, user=pw.pw_uid, group=pw.pw_gid,
                         extra_groups=[], capture_output=True, text=True, timeout=timeout, cwd="/tmp")
    assert out.returncode == 0, f"{argv} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


@real_server
def test_compiled_postgres_replicas_stream_from_the_compiled_primary(values, launcher):
    """The compiled init script prepares the primary the way the image runs it; the compiled
    replica entrypoint (main site replica and DR site copy) clones it and streams."""
    require(str(PG_BIN / "initdb"), "postgresql-15")
    primary = find(EVERY_SECTION, "db-users")
    replicas = [find(EVERY_SECTION, "db-users-replica-0"), find(EVERY_SECTION, "db-users-dr")]
    env = primary.env(values)
    root = shared_tmpdir("topoform-e2e-pg-", owner="postgres")
    try:
        sockets, data = root / "sockets", root / "primary"
        as_postgres(["mkdir", "-m", "700", str(sockets)])
        port = free_port()
        # The image: initdb with POSTGRES_USER/PASSWORD, its pg_hba, POSTGRES_DB, then initdb.d scripts.
        (root / "pw").write_text(env["POSTGRES_PASSWORD"])
        shutil.chown(root / "pw", "postgres", "postgres")
        as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", env["POSTGRES_USER"], f"--pwfile={root / 'pw'}",
                     "-E", "UTF8"])
        (data / "pg_hba.conf").write_text("local all all trust\nhost all all all scram-sha-256\n")
        init = root / "init.sh"
        init.write_text(primary.upload("10-topoform-replication.sh").text(primary, values))
        init.chmod(0o755)
        assert primary.upload("10-topoform-replication.sh").executable
        temp = f"-c listen_addresses= -k {sockets} -p {port}"
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", temp, "-w", "-t", "30", "-l",
                     str(root / "temp.log"), "start"])
        try:
            if env["POSTGRES_DB"] != "postgres":  # the image creates POSTGRES_DB unless it is the default
                as_postgres([str(PG_BIN / "createdb"), "-h", str(sockets), "-p", str(port), "-U",
                             env["POSTGRES_USER"], env["POSTGRES_DB"]])
            run_env = {**env, "PGHOST": str(sockets), "PGPORT": str(port), "PGDATA": str(data),
                       "PATH": f"{PG_BIN}:{os.environ['PATH']}"}
            as_postgres([str(init)], env=run_env)  # executable: the image runs it, not sources it
        finally:
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        launcher.start("primary", [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-c",
                                   "listen_addresses=127.0.0.1", "-k", str(sockets)], user="postgres",
                       wait_port=port, timeout=30)

        def psql(on: int, sql: str) -> str:
            out = subprocess.run([str(PG_BIN / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(sockets),
                                  "-p", str(on), "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-c", sql],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            return out.stdout.strip()

        # A stand-in for the image's docker-entrypoint.sh: run the server it is given on loopback.
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "docker-entrypoint.sh").write_text(
            f'#!/bin/sh\n[ "$1" = postgres ] || exit 64\nshift\n'
            f'exec {PG_BIN}/postgres -c listen_addresses=127.0.0.1 -k {sockets} "$@"\n')
        (bin_dir / "docker-entrypoint.sh").chmod(0o755)
        replica_ports = []
        for n, replica in enumerate(replicas):
            assert replica.command == ("docker-entrypoint.sh", "postgres"), replica.command
            upload = replica.upload("topoform-replica.sh")
            script = root / f"replica-{n}.sh"
            text = sub_required(r'PRIMARY_HOST:-[^}]+}', "PRIMARY_HOST:-127.0.0.1}", upload.text(replica, values),
                                "primary host")
            script.write_text(sub_required(r"PRIMARY_PORT:-\d+}", f"PRIMARY_PORT:-{port}}}", text, "primary port"))
            script.chmod(0o755)
            replica_data = root / f"replica-{n}"
            as_postgres(["mkdir", "-m", "700", str(replica_data)])
            replica_port = free_port()
            launcher.start(f"replica-{n}", [str(script), *replica.command], user="postgres", env={
                **replica.env(values), "PGDATA": str(replica_data), "PGPORT": str(replica_port),
                "PATH": f"{bin_dir}:{PG_BIN}:{os.environ['PATH']}"})
            replica_ports.append(replica_port)
        for replica_port in replica_ports:
            wait_for(lambda: port_open(replica_port), 60, "a replica to clone the primary and start", interval=0.3)
        psql(port, "CREATE TABLE orders (id int primary key, item text); INSERT INTO orders VALUES (1, 'book')")
        for replica_port in replica_ports:
            wait_for(lambda: psql(replica_port, "SELECT item FROM orders WHERE id = 1") == "book", 30,
                     "the row to reach the replica", interval=0.2)
            assert psql(replica_port, "SELECT pg_is_in_recovery()") == "t"
        assert psql(port, "SELECT count(*) FROM pg_stat_replication") == str(len(replicas))
        slots = psql(port, "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots")
        assert slots == "db_users_dr,db_users_replica_0", slots

        # The backup sidecar's compiled script and password dump the compiled primary.
        backup = find(EVERY_SECTION, "db-users-backup")
        assert backup.entrypoints == ("/bin/sh", "/usr/local/bin/topoform-backup.sh")
        script = root / "backup.sh"
        text = sub_required(r'DB_HOST:-[^}]+}', "DB_HOST:-127.0.0.1}", backup.upload("topoform-backup.sh").text(backup),
                            "database host")
        script.write_text(sub_required(r"DB_PORT:-\d+}", f"DB_PORT:-{port}}}", text, "database port"))
        dumps = root / "backups"
        result = subprocess.run(["sh", str(script), "--once"], capture_output=True, text=True, timeout=60, env={
            **os.environ, **backup.env(values), "BACKUP_DIR": str(dumps), "PATH": f"{PG_BIN}:{os.environ['PATH']}"})
        assert result.returncode == 0, result.stderr
        [dump] = dumps.glob("*.sql.gz")
        assert b"INSERT INTO public.orders" in gzip.decompress(dump.read_bytes()) or \
            b"COPY public.orders" in gzip.decompress(dump.read_bytes())
    finally:
        launcher.stop_all()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- PowerDNS routing


@real_server
def test_compiled_dns_weighted_proportions_and_failover(values, launcher):
    container = find(EVERY_SECTION, "dns-server")
    zone_text = container.upload(".zone").content
    url, primary, secondary = re.search(r"^api .*ifurlup\('([^']+)', \{\{'([\d.]+)'\},\{'([\d.]+)'\}\}",
                                        zone_text, re.M).groups()
    # The URL's port (the balancers' monitor) becomes a free port, served on the two loopback addresses.
    live_port = free_port()
    # Shorter health-check interval than the compiled 10s (one server-wide setting), so failover is seen quickly.
    port, zone, addresses = start_compiled_pdns(launcher, container, values, health_interval=1,
                                                check_ports={int(re.search(r":(\d+)/", url).group(1)): live_port})
    weighted = re.search(r"^www .*pickwrandom\(\{(.*)\}\)", zone_text, re.M).group(1)
    weights = {addresses[a]: int(w) for w, a in re.findall(r"\{(\d+),'([\d.]+)'\}", weighted)}
    answers = collections.Counter(dig(port, zone, *["www"] * 1000))
    assert set(answers) == set(weights) and sum(answers.values()) == 1000, answers
    total = sum(weights.values())
    for address, weight in weights.items():
        expected = 1000 * weight / total
        assert abs(answers[address] - expected) <= 4 * (1000 * (weight / total) * (1 - weight / total)) ** 0.5 + 5, \
            (answers, weights)

    up, _ = start_identity_server(launcher, "primary", port=live_port, host=addresses[primary])
    start_identity_server(launcher, "secondary", port=live_port, host=addresses[secondary])
    wait_for(lambda: set(dig(port, zone, *["api"] * 5)) == {addresses[primary]}, 20, "the healthy primary answer")
    up.kill()
    wait_for(lambda: dig(port, zone, "api") == [addresses[secondary]], 20, "failover to the DR site", interval=0.2)
    assert collections.Counter(dig(port, zone, *["api"] * 20)) == {addresses[secondary]: 20}
