"""What a real engine would show, read off the docker Plan itself (no engine needed).

Each test states the behaviour the deployment needs and checks the Plan
gives the engine what produces it; the engine modules check the same
behaviours live where the stand-in images allow.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from topoform.dsl import load_blueprint
from topoform.providers import compile_plan
from topoform.providers.plan import Plan, Resource

from .deployment import CONTAINER, compile_example

HERE = Path(__file__).resolve().parent
EXAMPLES = ["minimal-web", "three-tier", "data-tier", "two-region-hot-dr"]


def _databases_plan(stack: str = "checks") -> Plan:
    return compile_plan(load_blueprint(str(HERE / "blueprints" / "databases.yaml")), "docker", stack)


def _containers(plan: Plan) -> list[Resource]:
    return plan.of_type(CONTAINER)


def _upload(resource: Resource, path: str) -> str | None:
    return next((u["content"] for u in resource.properties.get("uploads", []) if u["file"] == path), None)


@pytest.mark.parametrize("example", EXAMPLES)
def test_published_ports_listen_on_loopback_only(example):
    """A laptop's published ports must not be reachable from its network: bind them to 127.0.0.1."""
    plan = compile_example(example, "checks")
    published = [(r.name, p) for r in _containers(plan) for p in r.properties.get("ports", [])]
    assert published
    wide = [(name, p) for name, p in published if p.get("ip", "0.0.0.0") != "127.0.0.1"]
    assert not wide, f"{len(wide)} ports published on every interface (no ip: the provider binds 0.0.0.0): {wide[:3]}"


@pytest.mark.parametrize("example", ["minimal-web", "three-tier"])
def test_two_stacks_of_one_blueprint_can_share_an_engine(example):
    """Stacks (dev, test, one per branch) run side by side: their host ports must differ."""
    def host_ports(stack: str) -> set[tuple[int, str]]:
        return {(p["external"], p.get("protocol", "tcp")) for r in _containers(compile_example(example, stack))
                for p in r.properties.get("ports", []) if p.get("external") is not None}
    clash = host_ports("dev") & host_ports("staging")
    assert not clash, f"stacks dev and staging both publish host ports {sorted(clash)[:5]}"


def test_max_wal_senders_covers_every_replica_cloning_at_once():
    """`pg_basebackup -X stream` holds two walsender connections per replica while it clones."""
    plan = _databases_plan()
    primary = plan.get("db-wide")
    script = _upload(primary, "/docker-entrypoint-initdb.d/10-topoform-replication.sh")
    senders = int(re.search(r"max_wal_senders = (\d+)", script).group(1))
    replicas = [r for r in _containers(plan) if r.name.startswith("db-wide-replica-")]
    assert len(replicas) == 5
    assert senders >= 2 * len(replicas), f"max_wal_senders {senders} < 2 × {len(replicas)} cloning replicas"


def test_postgres_18_data_lands_in_the_volume():
    """postgres 18+ images keep PGDATA at /var/lib/postgresql/18/docker (volume /var/lib/postgresql)."""
    plan = _databases_plan()
    db = plan.get("db-newest")
    mounts = [v["container_path"] for v in db.properties.get("volumes", [])]
    env = dict(e.split("=", 1) for e in db.properties.get("envs", []))
    pgdata = env.get("PGDATA", "/var/lib/postgresql/18/docker")
    assert any(pgdata == m or pgdata.startswith(m.rstrip("/") + "/") for m in mounts), \
        f"PGDATA {pgdata} is outside every volume {mounts}: the data is lost with the container"


def test_executable_uploads_can_be_run_by_the_images_own_user():
    """postgres and mysql run /docker-entrypoint-initdb.d as their own user: a root-owned 0744 script
    is not executable for it, so the entrypoint *sources* it (its `set -eu` and `exit` hit the entrypoint)."""
    plan = compile_example("three-tier", "checks")
    bad = [(r.name, u["file"], u.get("permissions", "0744"))
           for r in _containers(plan) for u in r.properties.get("uploads", [])
           if u.get("executable") and u["file"].startswith("/docker-entrypoint-initdb.d/")
           and not int(str(u.get("permissions", "0744")), 8) & 0o001]
    assert not bad, f"executable uploads not executable by a non-root user: {bad[:3]}"


def test_galera_creates_the_sst_user_it_names():
    """wsrep_sst_auth names a user that must exist on the donor: the official mariadb image does not
    read MARIADB_MARIABACKUP_USER/PASSWORD, so something the image runs must create it."""
    plan = _databases_plan()
    node = plan.get("db-galera-0")
    conf = _upload(node, "/etc/mysql/conf.d/galera.cnf")
    user = re.search(r"wsrep_sst_auth = ([^:]+):", conf).group(1)
    init = "".join(u["content"] for u in node.properties.get("uploads", [])
                   if u["file"].startswith("/docker-entrypoint-initdb.d/"))
    assert re.search(rf"CREATE USER[^;]*'{user}'", init, re.I), \
        f"nothing creates the SST user {user!r} (env only: {[e.split('=')[0] for e in node.properties['envs']]})"


def test_galera_bootstraps_only_a_new_cluster():
    """`--wsrep-new-cluster` on every start of node 0 splits the cluster when node 0 restarts."""
    node = _databases_plan().get("db-galera-0")
    assert "--wsrep-new-cluster" not in (node.properties.get("command") or []), \
        "node 0 always starts with --wsrep-new-cluster"


def test_mysql_replica_init_runs_before_read_only():
    """`super_read_only` in conf.d is live during the entrypoint's first-start init (users, initdb scripts)."""
    replica = _databases_plan().get("db-mirror-replica-0")
    conf = _upload(replica, "/etc/mysql/conf.d/topoform-replication.cnf")
    assert not re.search(r"^\s*super_read_only\s*=\s*ON", conf, re.M | re.I), \
        "super_read_only is on from the first start, so the image's init cannot write"


def test_mysql_health_check_fails_when_it_cannot_log_in():
    """`mysqladmin ping` exits 0 on "Access denied": a replica that never initialised reports healthy."""
    replica = _databases_plan().get("db-mirror-replica-0")
    test = " ".join(replica.properties["healthcheck"]["tests"][1:])
    assert "mysqladmin ping" not in test or "SELECT" in test.upper(), f"health check: {test}"


@pytest.mark.parametrize("example", ["three-tier", "data-tier"])
def test_first_backup_retries_soon_when_the_database_is_not_up(example):
    """The backup loop dumps at once, and on failure sleeps a whole interval (an hour) before trying again."""
    plan = compile_example(example, "checks")
    for backup in (r for r in _containers(plan) if r.name.endswith("-backup")):
        script = _upload(backup, "/usr/local/bin/topoform-backup.sh")
        loop = script[script.index("while :; do"):]
        assert "backup_once || true\n    sleep \"$INTERVAL\"" not in loop, \
            f"{backup.name}: a failed first dump waits a full interval"


@pytest.mark.parametrize("example", ["three-tier", "two-region-hot-dr"])
def test_sticky_cookie_leaves_responses_cacheable(example):
    """`cookie … nocache` marks every response that sets the cookie uncacheable, so the proxy and the CDN
    in front of the balancer never get a HIT."""
    plan = compile_example(example, "checks")
    for lb in (r for r in _containers(plan) if r.name.startswith("lb-")):
        cfg = _upload(lb, "/usr/local/etc/haproxy/haproxy.cfg")
        assert not re.search(r"^\s*cookie \S+ insert[^\n]*\bnocache\b", cfg, re.M), f"{lb.name}: cookie … nocache"


@pytest.mark.parametrize("example", ["three-tier", "data-tier", "two-region-hot-dr"])
def test_stateful_containers_stop_gracefully(example):
    """Without destroy_grace_seconds the provider stops with timeout 0: SIGKILL right after SIGTERM,
    so databases and queues are killed mid-write on every replacement or destroy."""
    plan = compile_example(example, "checks")
    stateful = [r for r in _containers(plan) if r.properties.get("volumes")]
    abrupt = [r.name for r in stateful if int(r.properties.get("destroy_grace_seconds") or 0) < 10]
    assert stateful and not abrupt, f"stopped with SIGKILL at once: {abrupt[:5]}"
