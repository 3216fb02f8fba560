"""PostgreSQL 15: the rendered primary init script, replica entrypoint and backup script.

The primary is prepared the way the official image does it: initdb, a
socket-only temporary server that runs the init script, then the real
server on TCP. The replica is the rendered entrypoint itself, pointed at
127.0.0.1, whose final ``exec`` starts postgres on another port.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from topoform.providers.docker.configs import (
    BackupContext, PostgresReplicaContext, PostgresReplicationContext, render_backup_script,
    render_postgres_primary_init, render_postgres_replica_entrypoint,
)

from .harness import PG_BIN, free_port, port_open, require, shared_tmpdir, wait_for

pytestmark = pytest.mark.real_server

REPL_PASSWORD = "r3pl 'quoted' pass"
SUPER_PASSWORD = "postgres-pw"


def as_postgres(argv, env=None, timeout=60, check=True):
    import pwd
    pw = pwd.getpwnam("postgres")
    out = subprocess.run(argv, env={**os.environ, "HOME": "/tmp", **(env or {})}, user=pw.pw_uid, group=pw.pw_gid,
                         extra_groups=[], capture_output=True, text=True, timeout=timeout, cwd="/tmp")
    if check and out.returncode != 0:
        raise AssertionError(f"{argv} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


@dataclass
class Cluster:
    root: Path
    sockets: Path
    primary_port: int
    primary_data: Path | None = None

    def start_primary(self, launcher) -> None:
        """initdb + init script (once), then the real server on TCP (if not running)."""
        if self.primary_data is None:
            self.primary_data = prepare_primary(self)
        if not port_open(self.primary_port):
            launcher.start("primary", [str(PG_BIN / "postgres"), "-D", str(self.primary_data), "-p",
                                       str(self.primary_port), "-c", "listen_addresses=127.0.0.1", "-k",
                                       str(self.sockets)],
                           user="postgres", wait_port=self.primary_port, timeout=30)
        # The port opens before recovery ends ("the database system is starting up"):
        # wait until the server answers a query, or a loaded machine makes tests flaky.
        wait_for(lambda: self.psql(self.primary_port, "SELECT 1") == "1", 30,
                 "the primary to accept connections", interval=0.2)

    def psql(self, port: int, sql: str, db: str = "postgres") -> str:
        out = subprocess.run([str(PG_BIN / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.sockets),
                              "-p", str(port), "-U", "postgres", "-d", db, "-c", sql],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(out.stderr)
        return out.stdout.strip()


@pytest.fixture(scope="module")
def cluster(module_launcher):
    require(str(PG_BIN / "initdb"), "postgresql-15")
    root = shared_tmpdir("topoform-pg-", owner="postgres")
    try:
        sockets = root / "sockets"
        as_postgres(["mkdir", "-m", "700", str(sockets)])
        yield Cluster(root, sockets, free_port())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def prepare_primary(cluster: Cluster) -> Path:
    """initdb + the rendered init script, the image's way; returns PGDATA."""
    data = cluster.root / "primary"
    as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                 "--auth-host=scram-sha-256", "-E", "UTF8"])
    # The image's pg_hba: local trust + password auth for every *database*;
    # replication connections match none of that until our line is added.
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all all scram-sha-256\n")
    init = cluster.root / "10-replication.sh"
    init.write_text(render_postgres_primary_init(PostgresReplicationContext(max_wal_senders=5)))
    temp = ["-c", "listen_addresses=", "-k", str(cluster.sockets), "-p", str(cluster.primary_port)]
    as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", " ".join(temp), "-w", "-t", "30",
                 "-l", str(cluster.root / "temp-server.log"), "start"])
    try:
        env = {"PGHOST": str(cluster.sockets), "PGPORT": str(cluster.primary_port), "PGDATA": str(data),
               "POSTGRES_USER": "postgres", "POSTGRES_DB": "postgres", "REPLICATION_PASSWORD": REPL_PASSWORD,
               "PATH": f"{PG_BIN}:{os.environ['PATH']}"}
        as_postgres(["sh", str(init)], env=env)
        as_postgres(["sh", str(init)], env=env)  # idempotent: a re-run changes nothing
    finally:
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    return data


def test_streaming_replica_follows_primary(cluster, module_launcher):
    if cluster.primary_data is None:
        cluster.primary_data = prepare_primary(cluster)
    primary_data = cluster.primary_data
    hba = (primary_data / "pg_hba.conf").read_text()
    assert hba.count("host replication repl all scram-sha-256") == 1
    assert "wal_level = replica" in (primary_data / "topoform-replication.conf").read_text()

    replica_data = cluster.root / "replica"
    as_postgres(["mkdir", "-m", "700", str(replica_data)])
    script = cluster.root / "replica.sh"
    script.write_text(render_postgres_replica_entrypoint(PostgresReplicaContext(slot="replica_1", retries=30,
                                                                                 retry_delay=1)))
    replica_port = free_port()
    # The replica starts first: its loop must wait for the primary.
    module_launcher.start("replica", ["sh", str(script), str(PG_BIN / "postgres"), "-D", str(replica_data),
                                      "-p", str(replica_port), "-c", "listen_addresses=127.0.0.1",
                                      "-k", str(cluster.sockets)],
                          user="postgres", env={"PRIMARY_HOST": "127.0.0.1", "PRIMARY_PORT": str(cluster.primary_port),
                                                "PGDATA": str(replica_data), "REPLICATION_PASSWORD": REPL_PASSWORD,
                                                "PATH": f"{PG_BIN}:{os.environ['PATH']}"})
    time.sleep(1.5)
    cluster.start_primary(module_launcher)
    assert cluster.psql(cluster.primary_port, "SHOW wal_level") == "replica"
    assert cluster.psql(cluster.primary_port, "SHOW max_wal_senders") == "5"
    wait_for(lambda: port_open(replica_port), 60, "the replica to clone the primary and start", interval=0.3)

    cluster.psql(cluster.primary_port, "CREATE TABLE orders (id int primary key, item text);"
                                       "INSERT INTO orders VALUES (1, 'book')")
    wait_for(lambda: cluster.psql(replica_port, "SELECT item FROM orders WHERE id = 1") == "book",
             30, "the row to reach the replica", interval=0.2)
    assert cluster.psql(replica_port, "SELECT pg_is_in_recovery()") == "t"
    assert cluster.psql(cluster.primary_port,
                        "SELECT active FROM pg_replication_slots WHERE slot_name = 'replica_1'") == "t"
    assert cluster.psql(cluster.primary_port, "SELECT count(*) FROM pg_stat_replication") == "1"


def test_backup_script_dumps_prunes_and_restores(cluster, module_launcher):
    cluster.start_primary(module_launcher)
    cluster.psql(cluster.primary_port, f"ALTER USER postgres PASSWORD '{SUPER_PASSWORD}'")
    cluster.psql(cluster.primary_port, "CREATE TABLE IF NOT EXISTS ledger (n int); INSERT INTO ledger "
                                       "SELECT generate_series(1, 100)")
    backups = cluster.root / "backups"
    backups.mkdir()
    old = backups / "postgres-20000101T000000Z.sql.gz"
    old.write_bytes(gzip.compress(b"-- stale"))
    os.utime(old, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    script = cluster.root / "backup.sh"
    script.write_text(render_backup_script(BackupContext(
        engine="postgres", host="127.0.0.1", port=cluster.primary_port, database="postgres", user="postgres",
        password_env="DB_PASSWORD", interval="1h", retention="2d", directory=str(backups))))
    out = subprocess.run(["sh", str(script), "--once"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "DB_PASSWORD": SUPER_PASSWORD, "PATH": f"{PG_BIN}:{os.environ['PATH']}"})
    assert out.returncode == 0, out.stderr
    dumps = sorted(backups.glob("postgres-*.sql.gz"))
    assert len(dumps) == 1 and not old.exists(), (dumps, out.stderr)
    assert not list(backups.glob(".*"))  # no partial file left behind

    cluster.psql(cluster.primary_port, "CREATE DATABASE restored")
    restore = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(cluster.sockets),
                              "-p", str(cluster.primary_port), "-U", "postgres", "-d", "restored"],
                             input=gzip.decompress(dumps[0].read_bytes()), capture_output=True, timeout=60)
    assert restore.returncode == 0, restore.stderr
    assert cluster.psql(cluster.primary_port, "SELECT count(*) FROM ledger", db="restored") == "100"

    # A wrong password fails loudly and leaves no file.
    bad = subprocess.run(["sh", str(script), "--once"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "DB_PASSWORD": "wrong", "PATH": f"{PG_BIN}:{os.environ['PATH']}"})
    assert bad.returncode != 0
    assert len(list(backups.iterdir())) == 1
