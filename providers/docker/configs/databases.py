"""Relational databases: PostgreSQL streaming replication, MariaDB/MySQL binlog replication, Galera, backup sidecars."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .rendering import check_name, render, to_seconds


#: Seconds before a failed dump is tried again (at most the interval).
BACKUP_RETRY_SECONDS = 30
_SLOT = re.compile(r"^[a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class PostgresReplicationContext:
    """Primary side of streaming replication.

    replication_user: role created with REPLICATION LOGIN.
    password_env: environment variable holding that role's password (never
        written into the file).
    hba_address: client address column of the ``host replication`` line.
    max_wal_senders / max_replication_slots: at least replicas + spare.
    wal_keep_size: WAL kept for a lagging replica (MB), on top of slots.
    synchronous_standby_names: e.g. ``ANY 1 (*)`` for a synchronous replica; "" async.
    """

    replication_user: str = "repl"
    password_env: str = "REPLICATION_PASSWORD"
    hba_address: str = "all"
    max_wal_senders: int = 10
    max_replication_slots: int = 10
    wal_keep_size: int = 256
    synchronous_standby_names: str = ""


def _pg_ident(value: str) -> str:
    if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", value):
        raise ValueError(f"invalid PostgreSQL identifier {value!r}")
    return value


def render_postgres_replication_conf(ctx: PostgresReplicationContext) -> str:
    """postgresql.conf lines for a primary (an ``include`` file or ``-c`` pairs)."""
    return render("postgres-replication.conf.j2", ctx=ctx)


def render_postgres_primary_init(ctx: PostgresReplicationContext) -> str:
    """/docker-entrypoint-initdb.d/ script: replication role, pg_hba line, settings.

    The official image runs it once, after initdb, against a socket-only
    server; it restarts the server afterwards, so settings take effect.
    """
    _pg_ident(ctx.replication_user)
    if not re.match(r"^[A-Z_][A-Z0-9_]*$", ctx.password_env):
        raise ValueError(f"invalid environment variable name {ctx.password_env!r}")
    return render(
        "postgres-primary-init.sh.j2",
        ctx=ctx,
        settings=render_postgres_replication_conf(ctx),
    )


def render_postgres_primary_entrypoint(ctx: PostgresReplicationContext) -> str:
    """Every-start entrypoint of a primary: settings on an existing cluster, the role once up, then ``exec "$@"``."""
    render_postgres_primary_init(ctx)  # the same checks
    return render("postgres-primary-entrypoint.sh.j2", ctx=ctx, settings=render_postgres_replication_conf(ctx))


@dataclass(frozen=True)
class PostgresReplicaContext:
    """A streaming replica's entrypoint.

    primary_host / primary_port: defaults for ``$PRIMARY_HOST``/``$PRIMARY_PORT``.
    replication_user: role on the primary.
    password_env: environment variable holding its password.
    slot: physical replication slot (created with ``-C`` on first copy).
    retries / retry_delay: bounded wait for the primary to accept connections.
    """

    primary_host: str = "primary"
    primary_port: int = 5432
    replication_user: str = "repl"
    password_env: str = "REPLICATION_PASSWORD"
    slot: str = "replica_1"
    retries: int = 60
    retry_delay: int = 2


def render_postgres_replica_entrypoint(ctx: PostgresReplicaContext) -> str:
    """Shell entrypoint: ``pg_basebackup -R -X stream -C -S slot`` until it works, then ``exec "$@"``.

    The final command is the script's arguments (default ``postgres``) so
    Docker passes ``docker-entrypoint.sh postgres`` and tests pass a port.
    An already initialised ``$PGDATA`` (container restart) skips the copy.
    """
    if not _SLOT.match(ctx.slot):
        raise ValueError(f"replication slot names are [a-z0-9_]{{1,63}}, but {ctx.slot!r} was provided")
    _pg_ident(ctx.replication_user)
    check_name("primary host", ctx.primary_host)
    return render("postgres-replica-entrypoint.sh.j2", ctx=ctx)


@dataclass(frozen=True)
class MariadbReplicationContext:
    """MariaDB/MySQL binlog replication, ``my.cnf`` side.

    server_id: unique per node (primary 1, replicas 2..).
    role: ``primary`` or ``replica``.
    log_bin: binlog base name.
    binlog_format: ROW is the safe default.
    gtid_strict_mode: MariaDB GTID strictness.
    read_only: replicas refuse writes from non-replication clients.
    """

    server_id: int
    role: str = "primary"
    log_bin: str = "mysql-bin"
    binlog_format: str = "ROW"
    gtid_strict_mode: bool = True
    read_only: bool | None = None


def render_mariadb_cnf(ctx: MariadbReplicationContext) -> str:
    """A ``/etc/mysql/conf.d/*.cnf`` with server-id and binlog for replication."""
    if ctx.role not in ("primary", "replica"):
        raise ValueError(f"role must be primary or replica, not {ctx.role!r}")
    if ctx.server_id < 1:
        raise ValueError("server_id must be >= 1")
    read_only = ctx.read_only if ctx.read_only is not None else ctx.role == "replica"
    return render("mariadb-replication.cnf.j2", ctx=ctx, read_only=read_only)


def mariadb_replication_env(
    role: str, *, primary_host: str = "primary", primary_port: int = 3306,
    user: str = "repl", password_env: str = "REPLICATION_PASSWORD",
) -> dict[str, str]:
    """Environment of the official mariadb image (10.11+/11.x) for replication.

    The image itself creates the replication user on the primary
    (``MARIADB_REPLICATION_USER``/``_PASSWORD``) and, on a replica, runs
    ``CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`` + ``START REPLICA``
    when ``MARIADB_MASTER_HOST`` is set. The password value is taken from
    ``$password_env`` as a ``${...}`` reference for the caller to resolve.
    """
    env = {"MARIADB_REPLICATION_USER": user, "MARIADB_REPLICATION_PASSWORD": f"${{{password_env}}}"}
    if role == "replica":
        env |= {"MARIADB_MASTER_HOST": primary_host, "MARIADB_MASTER_PORT": str(primary_port)}
    elif role != "primary":
        raise ValueError(f"role must be primary or replica, not {role!r}")
    return env


@dataclass(frozen=True)
class GaleraContext:
    """Galera (multi-primary MariaDB) ``wsrep`` settings for one node.

    cluster_name: ``wsrep_cluster_name``.
    nodes: host names of all members (``gcomm://a,b,c``).
    node_name / node_address: this node.
    provider: path of libgalera in the image.
    sst_method: state transfer; ``mariabackup`` authenticates as
        ``sst_user``:``sst_password`` (the provider writes this file from a
        secret; ``None`` leaves ``wsrep_sst_auth`` out).
    """

    cluster_name: str
    nodes: tuple[str, ...]
    node_name: str
    node_address: str
    provider: str = "/usr/lib/galera/libgalera_smm.so"
    sst_method: str = "mariabackup"
    sst_user: str = "mariabackup"
    sst_password: str | None = None


def render_galera_cnf(ctx: GaleraContext) -> str:
    """``[galera]`` section; the first node bootstraps with ``--wsrep-new-cluster``."""
    if len(ctx.nodes) < 3:
        # Two nodes lose quorum when one fails, which defeats multi-primary.
        raise ValueError(f"Galera needs at least 3 nodes for quorum, but {len(ctx.nodes)} were provided")
    for n in (*ctx.nodes, ctx.node_name, ctx.node_address):
        check_name("galera node", n)
    return render("galera.cnf.j2", ctx=ctx)


@dataclass(frozen=True)
class BackupContext:
    """A backup sidecar (DR strategy ``backup``): dump, compress, prune, sleep.

    engine: ``postgres``, ``mysql`` or ``mariadb``.
    host / port / user / database: what to dump (port and user default to
        the engine's: 5432/postgres, 3306/root).
    password_env: variable holding the password (exported as PGPASSWORD /
        MYSQL_PWD for the dump tool).
    interval: between dumps.
    retention: dumps older than this are deleted.
    directory: where dumps go (a volume).
    """

    engine: str
    host: str
    database: str
    port: int | None = None
    user: str | None = None
    password_env: str = "DB_PASSWORD"
    interval: str | float = "1h"
    retention: str | float = "7d"
    directory: str = "/backup"


def render_backup_script(ctx: BackupContext) -> str:
    """POSIX sh loop; ``--once`` (or ``BACKUP_ONCE=1``) runs one dump and exits."""
    if ctx.engine not in ("postgres", "mysql", "mariadb"):
        raise ValueError(f"engine must be postgres, mysql or mariadb, not {ctx.engine!r}")
    check_name("database host", ctx.host)
    check_name("database name", ctx.database)
    port = ctx.port or (5432 if ctx.engine == "postgres" else 3306)
    user = ctx.user or ("postgres" if ctx.engine == "postgres" else "root")
    retention_minutes = max(1, int(math.ceil(to_seconds(ctx.retention) / 60)))
    interval = max(1, int(math.ceil(to_seconds(ctx.interval))))
    return render(
        "backup.sh.j2", ctx=ctx, port=port, user=user, interval=interval,
        retention_minutes=retention_minutes, retry=min(interval, BACKUP_RETRY_SECONDS),
    )
