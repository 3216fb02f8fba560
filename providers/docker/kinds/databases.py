"""Databases: a primary per shard, its replicas, a backup sidecar, and the DR site's copy.

- Postgres: a primary with an init script for streaming replication and
  replicas that clone it with `pg_basebackup` before starting.
- MariaDB: the image's own replication variables; multi-primary is Galera
  (3+ nodes, the first bootstraps the cluster; fewer is refused). MySQL: GTID
  replication set up by init scripts (the Oracle image has no replication
  variables, `scripts.py`).
- Shards are independent primaries `…-shard-N` with their own replicas; the
  shard map (providers/sharding.py, shared with AWS) is a stack output.
- Every primary (each shard's, Galera's first node) has a backup sidecar: the
  engine's own image running a dump loop into a backup volume (the DR site's
  under cold DR, with an empty data volume there to restore into).
- Hot DR: the DR site runs a replica of every primary, streaming from the
  primary site by container name over the primary network.

Credentials are RandomPasswords referenced by URL (`${…password.result}`),
never values in the Plan.
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.models import Database
from topoform.dsl.topology import topology
from topoform.providers import facts as common
from topoform.providers.plan import Availability, Facts, Replica, ref
from topoform.providers.sharding import shard_map

from .. import configs, images, scripts
from ..containers import APP_USER, health, password_ref, upload
from ..context import DockerContext
from ..endpoint import Endpoint, endpoint_attribute
from ..facts import estimate
from ..sites import DR, PRIMARY

PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}
# size → (memory MB, CPUs) of each database container: RDS t4g.small/large/xlarge-ish.
SIZES = {"small": (1024, 0.5), "medium": (4096, 1.0), "large": (8192, 2.0)}
REPLICATION_USER = "repl"
DATA_DIRS = {"postgres": "/var/lib/postgresql/data", "mysql": "/var/lib/mysql", "mariadb": "/var/lib/mysql"}
#: From 18 the official postgres image keeps PGDATA in /var/lib/postgresql/<major>/docker and
#: refuses to start with a mount at /var/lib/postgresql/data (docker-library/postgres#1259).
POSTGRES_NEW_LAYOUT = 18


def data_paths(db: Database) -> tuple[str, str | None]:
    """(where the data volume is mounted, PGDATA or None) for `db`'s engine and version."""
    if db.engine != "postgres":
        return DATA_DIRS[db.engine], None
    major = int(str(db.version).split(".")[0])
    if major >= POSTGRES_NEW_LAYOUT:
        return "/var/lib/postgresql", f"/var/lib/postgresql/{major}/docker"
    return DATA_DIRS["postgres"], DATA_DIRS["postgres"]
BACKUP_SCRIPT = "/usr/local/bin/topoform-backup.sh"
REPLICA_SCRIPT = "/usr/local/bin/topoform-replica.sh"
SETUP_SCRIPT = "/usr/local/bin/topoform-replication.sh"
PRIMARY_SCRIPT = "/usr/local/bin/topoform-primary.sh"
GALERA_SCRIPT = "/usr/local/bin/topoform-galera.sh"
# Replaced by a `${password.result}` reference after escaping (see containers.upload).
SST_SECRET = "@@TOPOFORM_SST_SECRET@@"

# Identical contexts render once; `configs.cached` imports the server's module on first use.
_pg_primary = configs.cached("render_postgres_primary_init", maxsize=256)
_pg_primary_entrypoint = configs.cached("render_postgres_primary_entrypoint", maxsize=256)
_pg_replica = configs.cached("render_postgres_replica_entrypoint", maxsize=4096)
_backup = configs.cached("render_backup_script", maxsize=4096)


# ---------------------------------------------------------------- names and attributes

def host(ctx: DockerContext, db: Database, shard: int | None = None) -> str:
    alias = ctx.names.host(db)
    return alias if shard is None else f"{alias}-shard-{shard}"


def reader_host(ctx: DockerContext, db: Database, shard: int | None = None) -> str:
    alias = host(ctx, db, shard)
    return f"{alias}-reader" if db.replica_count else alias


def shards(db: Database) -> list[int | None]:
    return list(range(db.shard_count)) if db.sharding is not None and db.sharding.shards else [None]


def url(ctx: DockerContext, db: Database, at: str) -> str:
    scheme = "postgres" if db.engine == "postgres" else "mysql"
    return f"{scheme}://{APP_USER}:{password_ref(db)}@{at}:{PORTS[db.engine]}/{db.database_name}"


def endpoint(ctx: DockerContext, db: Database) -> Endpoint:
    # A sharded database's own host is shard 0's; `shard_urls` names them all.
    return Endpoint("postgres" if db.engine == "postgres" else "mysql", host(ctx, db, shards(db)[0]),
                    PORTS[db.engine])


def attribute(ctx: DockerContext, db: Database, attr: str) -> str:
    if attr == "reader_url":
        return url(ctx, db, reader_host(ctx, db, shards(db)[0]))
    if attr == "shard_urls":
        return ",".join(url(ctx, db, host(ctx, db, shard)) for shard in shards(db))
    where = endpoint(ctx, db)
    return endpoint_attribute(ctx, db, where, attr, url(ctx, db, where.host) if attr == "url" else None)


# ---------------------------------------------------------------- the build

def build(ctx: DockerContext, db: Database) -> None:
    path = ("databases", db.name)
    multi = db.replication.mode == "multi-primary"
    if multi and db.engine != "mariadb":
        # Validation refuses this for docker; keep the builder honest if called directly.
        raise ctx.unsupported(f"multi-primary {db.engine} is not supported on the docker target",
                              "use `engine: mariadb` (Galera)", *path, "replication", "mode")
    if db.multi_az and not db.replica_count and not multi:
        ctx.warn("multi_az has no docker equivalent (one engine has no zones): this database runs as a "
                 "single copy here", "add `replication: {mode: primary-replica}` for a second copy",
                 *path, "multi_az")
    if db.engine == "mysql" and str(db.version).split(".")[:2] == ["8", "0"]:
        ctx.warn("MySQL 8.0 reached end of life in April 2026 (no more security fixes)",
                 'set `version: "8.4"` (the LTS release)', *path, "version")
    if db.backup.point_in_time:
        ctx.warn("point_in_time recovery is not built on docker (no WAL/binlog archive): dumps every "
                 "backup interval are the recovery points", None, *path, "backup", "point_in_time")
    prefix = ctx.prefix(db)
    dr = ctx.bp.disaster_recovery
    hot = dr is not None and dr.strategy == "hot"
    replicated = multi or db.replica_count > 0 or hot
    password = ctx.containers.password
    secrets = {"app": password(f"{prefix}-password", db.protect)}
    if db.engine != "postgres":
        secrets["root"] = password(f"{prefix}-root-password", db.protect)
    if replicated:
        secrets["replication"] = password(f"{prefix}-replication-password", db.protect)
    if multi:
        secrets["sst"] = password(f"{prefix}-sst-password", db.protect)
    hosts, backups = [], []
    for shard in shards(db):
        base = prefix if shard is None else f"{prefix}-shard-{shard}"
        alias = host(ctx, db, shard)
        hosts.append(alias)
        if multi:
            primary = _galera(ctx, db, base, alias, secrets, hot)
        else:
            primary = _server(ctx, db, base, alias, [alias], secrets, server_id=1, source=None)
            for i in range(db.replica_count):
                _server(ctx, db, f"{base}-replica-{i}", alias, [f"{alias}-reader"], secrets,
                        server_id=i + 2, source=primary)
        if hot:
            # The DR site's copy answers the same aliases there; it streams from
            # the primary by container name over the primary network.
            _server(ctx, db, f"{base}-dr", alias, [alias, f"{alias}-reader"], secrets, server_id=100,
                    source=primary, site=DR, bridge=PRIMARY)
        backups.append(_backup_sidecar(ctx, db, base, primary, secrets))
        if dr is not None and dr.strategy == "cold":
            ctx.containers.volume(f"{base}-dr-data", db.protect)  # the cold site's empty disk, ready to restore into
    where = endpoint(ctx, db)
    ctx.export_endpoint(where, url(ctx, db, where.host))
    ctx.export("engine", f"{db.engine} {db.version}")
    if db.replica_count or multi:
        ctx.export("reader_url", attribute(ctx, db, "reader_url"))
    ctx.export("backup_volumes", backups)
    if db.sharding is not None and db.sharding.shards:
        # The ring is built from names that do not depend on the target or
        # on host naming, so docker and AWS route a key to the same shard.
        names = [f"{db.name}-shard-{i}" for i in range(db.shard_count)]
        ctx.export("shard_urls", attribute(ctx, db, "shard_urls"))
        ctx.export("shards", {name: f"{alias}:{where.port}" for name, alias in zip(names, hosts)})
        ctx.export("shard_map", shard_map(db.sharding.strategy, names, db.sharding.virtual_nodes,
                                          db.sharding.boundaries))


def _server(ctx: DockerContext, db: Database, name: str, alias: str, aliases: list[str], secrets: dict[str, str],
            *, server_id: int, source: str | None, site: str = PRIMARY, bridge: str | None = None) -> str:
    """A primary (`source` None) or a replica of the container named `source`; returns the container name."""
    replica = source is not None
    envs: dict[str, str] = {}
    uploads: list[dict[str, Any]] = []
    entrypoints = command = None
    volume = ctx.containers.volume(f"{name}-data", db.protect)
    mount, pgdata = data_paths(db)
    if db.engine == "postgres":
        envs = {"POSTGRES_USER": APP_USER, "POSTGRES_PASSWORD": secrets["app"], "POSTGRES_DB": db.database_name,
                "PGDATA": pgdata}
        if "replication" in secrets:
            envs["REPLICATION_PASSWORD"] = secrets["replication"]
        if replica:
            slot = f"{name}".replace("-", "_")[-63:]
            uploads.append(upload(REPLICA_SCRIPT, _pg_replica(configs.PostgresReplicaContext(
                primary_host=source, replication_user=REPLICATION_USER, slot=slot)), executable=True))
            entrypoints, command = [REPLICA_SCRIPT], ["docker-entrypoint.sh", "postgres"]
        elif "replication" in secrets:
            # `pg_basebackup -X stream` holds two walsenders per cloning replica
            # (the base backup and the WAL stream), one each once streaming.
            dr = ctx.bp.disaster_recovery
            copies = db.replica_count + (1 if dr is not None and dr.strategy == "hot" else 0)
            replication = configs.PostgresReplicationContext(
                replication_user=REPLICATION_USER, max_wal_senders=2 * copies + 4,
                max_replication_slots=copies + 4)
            # First start: the image's initdb hook; every later start: our entrypoint.
            uploads.append(upload("/docker-entrypoint-initdb.d/10-topoform-replication.sh",
                                  _pg_primary(replication), executable=True))
            uploads.append(upload(PRIMARY_SCRIPT, _pg_primary_entrypoint(replication), executable=True))
            entrypoints, command = [PRIMARY_SCRIPT], ["postgres"]
        check = f"pg_isready -h 127.0.0.1 -U {APP_USER} -d {db.database_name}"
        if replica:
            # Answering is not replicating: healthy only while the WAL receiver streams.
            check = (f'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U {APP_USER} -d {db.database_name} '
                     "--no-psqlrc -qAt -c 'SELECT status FROM pg_stat_wal_receiver' | grep -qx streaming")
    elif db.engine == "mariadb":
        envs = {"MARIADB_ROOT_PASSWORD": secrets["root"]}
        if not replica:
            envs |= {"MARIADB_USER": APP_USER, "MARIADB_PASSWORD": secrets["app"],
                     "MARIADB_DATABASE": db.database_name}
        if "replication" in secrets:
            env = configs.mariadb_replication_env("replica" if replica else "primary",
                                                  primary_host=source or alias, user=REPLICATION_USER)
            env["MARIADB_REPLICATION_PASSWORD"] = secrets["replication"]
            envs |= env | {"REPLICATION_PASSWORD": secrets["replication"]}
            uploads.append(upload("/etc/mysql/conf.d/topoform-replication.cnf", configs.render_mariadb_cnf(
                configs.MariadbReplicationContext(server_id, "replica" if replica else "primary",
                                                  read_only=False))))
            entrypoints, command = _every_start(db, source, uploads), ["mariadbd"]
        check = _replica_check(db) if replica else "healthcheck.sh --connect --innodb_initialized"
    else:
        # Replicas get the database and user too: the image creates them without
        # binary logging, so the primary's copies never replicate.
        envs = {"MYSQL_ROOT_PASSWORD": secrets["root"], "MYSQL_USER": APP_USER, "MYSQL_PASSWORD": secrets["app"],
                "MYSQL_DATABASE": db.database_name}
        if "replication" in secrets:
            envs["REPLICATION_PASSWORD"] = secrets["replication"]
            uploads.append(upload("/etc/mysql/conf.d/topoform-replication.cnf",
                                  scripts.mysql_replication_cnf(server_id, replica)))
            entrypoints, command = _every_start(db, source, uploads), ["mysqld"]
        # `mysqladmin ping` exits 0 on "Access denied": log in and ask.
        check = _replica_check(db) if replica else \
            'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql --protocol=tcp -h 127.0.0.1 -uroot -e "SELECT 1" >/dev/null'
    memory, cpus = SIZES[db.size]
    extra = [ctx.containers.attachment(bridge)] if bridge else None
    ports = [ctx.publish_public(db, PORTS[db.engine])] if db.public and site == PRIMARY and not replica else []
    return ctx.containers.container(
        name, image=images.database_image(db), site=site, aliases=aliases, envs=envs, uploads=uploads,
        entrypoints=entrypoints, command=command, volumes=[(volume, mount)], ports=ports,
        healthcheck=health(check, 10.0, 5.0, 5, 60.0), memory_mb=memory, cpus=cpus,
        extra_networks=extra, depends_on=[ctx.names.resource_of(source)] if source else None,
    )


def _every_start(db: Database, source: str | None, uploads: list[dict[str, Any]]) -> list[str]:
    """Upload the every-start replication entrypoint (`scripts.mysql_family_entrypoint`); its entrypoints."""
    uploads.append(upload(SETUP_SCRIPT, scripts.mysql_family_entrypoint(db.engine, source, user=REPLICATION_USER),
                          executable=True))
    return [SETUP_SCRIPT]


def _replica_check(db: Database) -> str:
    """Healthy only while both replication threads run (`SHOW REPLICA STATUS`), not merely while the server answers."""
    client, root = ("mariadb", "MARIADB_ROOT_PASSWORD") if db.engine == "mariadb" else ("mysql", "MYSQL_ROOT_PASSWORD")
    return (f'MYSQL_PWD="${root}" {client} --protocol=tcp -h 127.0.0.1 -uroot -e "SHOW REPLICA STATUS\\G" '
            "| grep -cE '_(IO|SQL)_Running: Yes$' | grep -qx 2")


def _galera(ctx: DockerContext, db: Database, base: str, alias: str, secrets: dict[str, str], hot: bool) -> str:
    """A Galera cluster of replicas + 1 nodes; returns the bootstrap node's container name."""
    nodes = db.replication.replicas + 1
    if nodes < 3:
        raise ctx.unsupported(
            f"a Galera cluster needs at least 3 nodes for quorum, but replicas: {db.replication.replicas} "
            f"makes {nodes}", "set `replication.replicas: 2` or more",
            "databases", db.name, "replication", "replicas")
    names = [ctx.names.physical(f"{base}-{i}") for i in range(nodes)]
    memory, cpus = SIZES[db.size]
    first = None
    for i in range(nodes):
        cnf = configs.render_galera_cnf(configs.GaleraContext(
            cluster_name=ctx.names.physical(base), nodes=tuple(names), node_name=names[i], node_address=names[i],
            sst_password=SST_SECRET))
        uploads = [upload("/etc/mysql/conf.d/galera.cnf", cnf, {SST_SECRET: secrets["sst"]})]
        if hot:
            # Binary logs on every node feed the DR site's asynchronous replica.
            uploads.append(upload("/etc/mysql/conf.d/topoform-replication.cnf", configs.render_mariadb_cnf(
                configs.MariadbReplicationContext(i + 1, "primary", gtid_strict_mode=False))))
        # The SST user and the bootstrap decision are the every-start script's
        # (`scripts.galera_entrypoint`): the image reads no variable for the former.
        envs = {"MARIADB_ROOT_PASSWORD": secrets["root"], "SST_PASSWORD": secrets["sst"]}
        uploads.append(upload(GALERA_SCRIPT, scripts.galera_entrypoint(
            [peer for peer in names if peer != names[i]], bootstrap_candidate=i == 0), executable=True))
        if i == 0:
            envs |= {"MARIADB_USER": APP_USER, "MARIADB_PASSWORD": secrets["app"],
                     "MARIADB_DATABASE": db.database_name}
            if hot:
                envs |= {"MARIADB_REPLICATION_USER": REPLICATION_USER,
                         "MARIADB_REPLICATION_PASSWORD": secrets["replication"]}
        if hot:
            envs["REPLICATION_PASSWORD"] = secrets["replication"]
        volume = ctx.containers.volume(f"{base}-{i}-data", db.protect)
        name = ctx.containers.container(
            f"{base}-{i}", image=images.database_image(db), aliases=[alias, f"{alias}-{i}"], envs=envs,
            uploads=uploads, entrypoints=[GALERA_SCRIPT], command=["mariadbd"],
            volumes=[(volume, DATA_DIRS["mariadb"])], memory_mb=memory, cpus=cpus,
            healthcheck=health("healthcheck.sh --connect --innodb_initialized", 10.0, 5.0, 5, 120.0),
            depends_on=[f"{base}-0"] if i else None)
        first = first or name
    return first


def _backup_sidecar(ctx: DockerContext, db: Database, base: str, primary: str, secrets: dict[str, str]) -> str:
    """A sidecar dumping the primary every `backup.interval` into a backup volume, pruned after `retention`.

    With a cold DR site the volume is the DR site's: the copies are what survives.
    """
    dr = ctx.bp.disaster_recovery
    volume_name = f"{base}-dr-backups" if dr is not None and dr.strategy == "cold" else f"{base}-backups"
    volume = ctx.containers.volume(volume_name, db.protect)
    postgres = db.engine == "postgres"
    script = _backup(configs.BackupContext(
        engine=db.engine, host=primary, database=db.database_name, port=PORTS[db.engine],
        user=APP_USER if postgres else "root", password_env="DB_PASSWORD",
        interval=db.backup.interval, retention=db.backup.retention, directory="/backup"))
    ctx.containers.container(
        f"{base}-backup", image=images.database_image(db), envs={
            "DB_PASSWORD": secrets["app"] if postgres else secrets["root"]},
        entrypoints=["/bin/sh", BACKUP_SCRIPT], uploads=[upload(BACKUP_SCRIPT, script, executable=True)],
        volumes=[(volume, "/backup")], memory_mb=256, cpus=0.25, depends_on=[ctx.names.resource_of(primary)])
    return ref(volume_name, "name")


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate()


def facts(ctx: Any, db: Database, table: Mapping[str, Availability]) -> Facts:
    hot = topology(ctx.bp).hot_dr
    replication = common.database_replicas(db, hot)
    if db.replication.mode == "multi-primary":
        n = 1 + db.replication.replicas
        copies, basis, implementation = n, f"{n} primaries", "galera"
        replication = (Replica("primary", PRIMARY, db.replication.replicas, "sync"),) + replication
        scaling = None
    else:
        copies = 1 + db.replica_count
        basis = f"a primary + {common.plural(db.replica_count, 'read replica')}" if db.replica_count \
            else "a primary alone"
        implementation = db.engine
        scaling = "read_replicas" if db.replica_count < 15 else None
        basis += common.per_shard(db)
    figure = common.per_copy(db, table, "databases")
    return Facts(copies={PRIMARY: copies, DR: 1}, basis={PRIMARY: basis, DR: common.DR_DATABASE_BASIS},
                 availability={PRIMARY: figure, DR: figure}, replication=replication, dr_copy=hot,
                 scaling=scaling, implementation=implementation)
