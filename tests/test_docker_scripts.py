"""The every-start scripts the Docker target uploads, run in a shell against a fake image entrypoint.

Only 127.0.0.1 is ever contacted (a listening socket of the test stands in for a peer).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from topoform.providers.docker import scripts


def _run_galera(tmp_path: Path, *, candidate: bool, grastate: str | None, fresh: bool, port: int) -> list[str]:
    datadir = tmp_path / "data"
    datadir.mkdir()
    if grastate is not None:
        (datadir / "grastate.dat").write_text(grastate)
    if not fresh:
        (datadir / "mysql").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker-entrypoint.sh"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "galera.sh"
    script.write_text(scripts.galera_entrypoint(["127.0.0.1"], candidate, port=port, wait_seconds=0))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SST_PASSWORD": "s3cret", "REPLICATION_PASSWORD": "r3pl",
           "GALERA_DATADIR": str(datadir), "GALERA_INIT_FILE": str(tmp_path / "init.sql")}
    done = subprocess.run(["bash", str(script), "mariadbd"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    init = (tmp_path / "init.sql").read_text()
    assert "CREATE USER IF NOT EXISTS 'mariabackup'@'localhost' IDENTIFIED BY 's3cret'" in init
    assert "SET SESSION wsrep_on = OFF" in init
    assert "CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'r3pl'" in init
    return done.stdout.split()


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_galera_node_0_bootstraps_a_new_cluster_when_no_peer_answers(tmp_path, closed_port):
    args = _run_galera(tmp_path, candidate=True, grastate=None, fresh=True, port=closed_port)
    assert args[0] == "mariadbd" and "--wsrep-new-cluster" in args
    assert any(a.startswith("--init-file=") for a in args)


def test_galera_other_nodes_never_bootstrap_a_new_datadir(tmp_path, closed_port):
    assert "--wsrep-new-cluster" not in _run_galera(tmp_path, candidate=False, grastate=None, fresh=True,
                                                    port=closed_port)


@pytest.mark.parametrize("safe, expected", [(0, False), (1, True)])
def test_galera_restart_bootstraps_only_when_grastate_says_safe(tmp_path, closed_port, safe, expected):
    grastate = f"# GALERA saved state\nversion: 2.1\nseqno: 7\nsafe_to_bootstrap: {safe}\n"
    args = _run_galera(tmp_path, candidate=True, grastate=grastate, fresh=False, port=closed_port)
    assert ("--wsrep-new-cluster" in args) is expected


def test_galera_joins_when_a_peer_answers(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        args = _run_galera(tmp_path, candidate=True, grastate="safe_to_bootstrap: 1\n", fresh=False,
                           port=listener.getsockname()[1])
    assert "--wsrep-new-cluster" not in args


@pytest.mark.parametrize("engine", ["mysql", "mariadb"])
def test_replication_script_configures_a_replica_then_makes_it_read_only(engine):
    text = scripts.mysql_family_entrypoint(engine, "db-main")
    change = text.index("CHANGE MASTER TO" if engine == "mariadb" else "CHANGE REPLICATION SOURCE TO")
    assert change < text.index("START REPLICA;") < text.index("read_only = ON;")
    assert text.rstrip().endswith('exec docker-entrypoint.sh "$@"')
    subprocess.run(["sh", "-n"], input=text, text=True, check=True)


def test_replication_script_of_a_primary_creates_the_user_unlogged():
    text = scripts.mysql_family_entrypoint("mysql", None)
    assert text.index("SET SESSION sql_log_bin = 0;") < text.index("CREATE USER IF NOT EXISTS 'repl'@'%'")
    subprocess.run(["sh", "-n"], input=text, text=True, check=True)


def test_postgres_primary_entrypoint_is_valid_shell_with_the_heredocs_at_column_0():
    from topoform.providers.docker import configs
    text = configs.render_postgres_primary_entrypoint(configs.PostgresReplicationContext())
    subprocess.run(["sh", "-n"], input=text, text=True, check=True)
    assert "\nCONF\n" in text and "\nSQL\n" in text


def test_backup_loop_waits_for_the_server_dumps_at_once_and_stops_on_sigterm(tmp_path):
    """The first dump follows the server coming up (not an hour later); `docker stop` ends it at once."""
    import time
    from topoform.providers.docker import configs
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    up = tmp_path / "server-up"
    fakes = {
        "pg_isready": f'#!/bin/sh\n[ -e "{up}" ]\n',
        # pg_dump ... -f FILE DB: write FILE
        "pg_dump": '#!/bin/sh\nwhile [ "$#" -gt 1 ]; do [ "$1" = -f ] && out="$2"; shift; done\necho dump > "$out"\n',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    script = tmp_path / "backup.sh"
    script.write_text(configs.render_backup_script(configs.BackupContext(
        engine="postgres", host="db", database="app", interval="1h", retention="7d")))
    backups = tmp_path / "backups"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "BACKUP_DIR": str(backups), "DB_PASSWORD": "pw"}
    proc = subprocess.Popen(["sh", str(script)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        assert not list(backups.glob("*.sql.gz")), "dumped before the server was up"
        up.touch()
        deadline = time.monotonic() + 15
        while not list(backups.glob("app-*.sql.gz")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(backups.glob("app-*.sql.gz")), "no dump soon after the server came up"
        started = time.monotonic()
        proc.terminate()
        assert proc.wait(timeout=5) == 0 and time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
