"""Docker data stores: databases, caches and queues (see compiler.py for the contract).

- Postgres: a primary with an init script for streaming replication and
  replicas that clone it with `pg_basebackup` before starting.
- MariaDB: the image's own replication variables; multi-primary is Galera
  (3+ nodes, the first bootstraps the cluster). MySQL: GTID replication set
  up by init scripts (the Oracle image has no replication variables).
- Shards are independent primaries `…-shard-N` with their own replicas; the
  shard map (providers/sharding.py, shared with AWS) is a stack output.
- Every primary (each shard's, Galera's first node) has a backup sidecar:
  the engine's own image running a dump loop into a backup volume.
- Redis/Valkey with maxmemory, eviction policy, password and `replicaof`
  replicas; memcached nodes with `-m`.
- RabbitMQ per queue: quorum queue, dead-letter exchange after
  `max_receives`, `x-max-length` + `reject-publish` for `max_depth`,
  single active consumer for FIFO. Passwords are hashed at container start
  (scripts.py) because they exist only at deploy time.

Credentials are RandomPasswords referenced by URL (`${…password.result}`),
never values in the Plan.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from topoform.dsl.models import Cache, Component, Database, Queue
from topoform.providers.plan import ref
from topoform.providers.sharding import shard_map

from . import configs, images, scripts

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import Endpoint

DB_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}
CACHE_PORTS = {"redis": 6379, "valkey": 6379, "memcached": 11211}
AMQP_PORT = 5672
# size → (memory MB, CPUs) of each database container: RDS t4g.small/large/xlarge-ish.
DB_SIZES = {"small": (1024, 0.5), "medium": (4096, 1.0), "large": (8192, 2.0)}
APP_USER = "app"
REPLICATION_USER = "repl"
DATA_DIRS = {"postgres": "/var/lib/postgresql/data", "mysql": "/var/lib/mysql", "mariadb": "/var/lib/mysql"}
BACKUP_SCRIPT = "/usr/local/bin/topoform-backup.sh"
REPLICA_SCRIPT = "/usr/local/bin/topoform-replica.sh"
RABBITMQ_ENTRYPOINT = "/usr/local/bin/topoform-rabbitmq.sh"
RABBITMQ_DEFINITIONS = "/etc/rabbitmq/definitions.json"
CACHE_CONF = "/etc/topoform/cache.conf"
# Placeholders replaced by `${password.result}` references after escaping (see compiler.upload).
SECRET = "@@TOPOFORM_SECRET@@"
SST_SECRET = "@@TOPOFORM_SST_SECRET@@"

_redis_conf = lru_cache(maxsize=4096)(configs.render_redis_conf)
_pg_primary = lru_cache(maxsize=256)(configs.render_postgres_primary_init)
_pg_replica = lru_cache(maxsize=4096)(configs.render_postgres_replica_entrypoint)
_backup = lru_cache(maxsize=4096)(configs.render_backup_script)


class DataMixin:
    """compile_databases / caches / queues for DockerCompiler."""

    # ---------------------------------------------------------------- names and attributes

    def db_host(self, db: Database, shard: int | None = None) -> str:
        host = self.host(db)
        return host if shard is None else f"{host}-shard-{shard}"

    def db_reader_host(self, db: Database, shard: int | None = None) -> str:
        host = self.db_host(db, shard)
        return f"{host}-reader" if db.replica_count else host

    def _shards(self, db: Database) -> list[int | None]:
        return list(range(db.shard_count)) if db.sharding is not None and db.sharding.shards else [None]

    def db_url(self, db: Database, host: str) -> str:
        scheme = "postgres" if db.engine == "postgres" else "mysql"
        password = ref(f"{self.prefix(db)}-password", "result")
        return f"{scheme}://{APP_USER}:{password}@{host}:{DB_PORTS[db.engine]}/{db.database_name}"

    def database_attribute(self, db: Database, attr: str) -> str | None:
        shards = self._shards(db)
        if attr == "reader_url":
            return self.db_url(db, self.db_reader_host(db, shards[0]))
        if attr == "shard_urls":
            return ",".join(self.db_url(db, self.db_host(db, shard)) for shard in shards)
        return None

    def data_endpoint(self, component: Component) -> "Endpoint":
        from .compiler import Endpoint

        if isinstance(component, Database):
            # A sharded database's own host is shard 0's; `shard_urls` names them all.
            return Endpoint("postgres" if component.engine == "postgres" else "mysql",
                            self.db_host(component, self._shards(component)[0]), DB_PORTS[component.engine])
        if isinstance(component, Cache):
            scheme = "memcached" if component.engine == "memcached" else "redis"
            return Endpoint(scheme, self.host(component), CACHE_PORTS[component.engine])
        return Endpoint("amqp", self.host(component), AMQP_PORT)

    def data_url(self, component: Component) -> str:
        endpoint = self.data_endpoint(component)
        if isinstance(component, Database):
            return self.db_url(component, endpoint.host)
        password = ref(f"{self.prefix(component)}-password", "result")
        if isinstance(component, Cache):
            if component.engine == "memcached":
                nodes = [f"{endpoint.host}-{i}:{endpoint.port}" for i in range(1 + component.replicas)]
                return "memcached://" + ",".join(nodes)
            return f"redis://:{password}@{endpoint.address}/0"
        return f"amqp://{APP_USER}:{password}@{endpoint.address}/%2F"

    # ---------------------------------------------------------------- databases

    def compile_databases(self, db: Database) -> None:
        from .compiler import DR, PRIMARY

        path = ("databases", db.name)
        multi = db.replication.mode == "multi-primary"
        if multi and db.engine != "mariadb":
            # Validation refuses this for docker; keep the compiler honest if called directly.
            raise self.unsupported(f"multi-primary {db.engine} is not supported on the docker target",
                                   "use `engine: mariadb` (Galera)", *path, "replication", "mode")
        if db.multi_az and not db.replica_count and not multi:
            self.warn("multi_az has no docker equivalent (one engine has no zones): this database runs as a "
                      "single copy here", "add `replication: {mode: primary-replica}` for a second copy",
                      *path, "multi_az")
        if db.backup.point_in_time:
            self.warn("point_in_time recovery is not built on docker (no WAL/binlog archive): dumps every "
                      "backup interval are the recovery points", None, *path, "backup", "point_in_time")
        prefix = self.prefix(db)
        dr = self.bp.disaster_recovery
        hot = dr is not None and dr.strategy == "hot"
        replicated = multi or db.replica_count > 0 or hot
        secrets = {"app": self.password(f"{prefix}-password", db.protect)}
        if db.engine != "postgres":
            secrets["root"] = self.password(f"{prefix}-root-password", db.protect)
        if replicated:
            secrets["replication"] = self.password(f"{prefix}-replication-password", db.protect)
        if multi:
            secrets["sst"] = self.password(f"{prefix}-sst-password", db.protect)
        hosts, backups = [], []
        for shard in self._shards(db):
            base = prefix if shard is None else f"{prefix}-shard-{shard}"
            host = self.db_host(db, shard)
            hosts.append(host)
            if multi:
                primary = self._galera(db, base, host, secrets, hot)
            else:
                primary = self._db_server(db, base, host, [host], secrets, server_id=1, source=None)
                for i in range(db.replica_count):
                    self._db_server(db, f"{base}-replica-{i}", host, [f"{host}-reader"], secrets,
                                    server_id=i + 2, source=primary)
            if hot:
                # The DR site's copy answers the same aliases there; it streams from
                # the primary by container name over the primary network.
                self._db_server(db, f"{base}-dr", host, [host, f"{host}-reader"], secrets, server_id=100,
                                source=primary, site=DR, bridge=PRIMARY)
            backups.append(self._backup(db, base, primary, secrets))
            if dr is not None and dr.strategy == "cold":
                self.volume(f"{base}-dr-data", db.protect)  # the cold site's empty disk, ready to restore into
        endpoint = self.data_endpoint(db)
        self.export("host", endpoint.host)
        self.export("port", endpoint.port)
        self.export("url", self.db_url(db, endpoint.host))
        self.export("engine", f"{db.engine} {db.version}")
        if db.replica_count or multi:
            self.export("reader_url", self.database_attribute(db, "reader_url"))
        self.export("backup_volumes", backups)
        if db.sharding is not None and db.sharding.shards:
            # The ring is built from names that do not depend on the target or
            # on host naming, so docker and AWS route a key to the same shard.
            names = [f"{db.name}-shard-{i}" for i in range(db.shard_count)]
            self.export("shard_urls", self.database_attribute(db, "shard_urls"))
            self.export("shards", {name: f"{host}:{endpoint.port}" for name, host in zip(names, hosts)})
            self.export("shard_map", shard_map(db.sharding.strategy, names, db.sharding.virtual_nodes,
                                               db.sharding.boundaries))

    def _db_server(self, db: Database, name: str, host: str, aliases: list[str], secrets: dict[str, str], *,
                   server_id: int, source: str | None, site: str = "primary", bridge: str | None = None) -> str:
        """A primary (`source` None) or a replica of the container named `source`; returns the container name."""
        replica = source is not None
        envs: dict[str, str] = {}
        uploads: list[dict[str, Any]] = []
        entrypoints = command = None
        volume = self.volume(f"{name}-data", db.protect)
        if db.engine == "postgres":
            envs = {"POSTGRES_USER": APP_USER, "POSTGRES_PASSWORD": secrets["app"], "POSTGRES_DB": db.database_name}
            if "replication" in secrets:
                envs["REPLICATION_PASSWORD"] = secrets["replication"]
            if replica:
                envs["PGDATA"] = DATA_DIRS["postgres"]
                slot = f"{name}".replace("-", "_")[-63:]
                uploads.append(self.upload(REPLICA_SCRIPT, _pg_replica(configs.PostgresReplicaContext(
                    primary_host=source, replication_user=REPLICATION_USER, slot=slot)), executable=True))
                entrypoints, command = [REPLICA_SCRIPT], ["docker-entrypoint.sh", "postgres"]
            elif "replication" in secrets:
                spare = db.replica_count + 4
                uploads.append(self.upload("/docker-entrypoint-initdb.d/10-topoform-replication.sh", _pg_primary(
                    configs.PostgresReplicationContext(replication_user=REPLICATION_USER, max_wal_senders=spare,
                                                       max_replication_slots=spare)), executable=True))
            check = f"pg_isready -h 127.0.0.1 -U {APP_USER} -d {db.database_name}"
        elif db.engine == "mariadb":
            envs = {"MARIADB_ROOT_PASSWORD": secrets["root"]}
            if not replica:
                envs |= {"MARIADB_USER": APP_USER, "MARIADB_PASSWORD": secrets["app"],
                         "MARIADB_DATABASE": db.database_name}
            if "replication" in secrets:
                env = configs.mariadb_replication_env("replica" if replica else "primary",
                                                      primary_host=source or host, user=REPLICATION_USER)
                env["MARIADB_REPLICATION_PASSWORD"] = secrets["replication"]
                envs |= env
                uploads.append(self.upload("/etc/mysql/conf.d/topoform-replication.cnf", configs.render_mariadb_cnf(
                    configs.MariadbReplicationContext(server_id, "replica" if replica else "primary"))))
            check = "healthcheck.sh --connect --innodb_initialized"
        else:
            envs = {"MYSQL_ROOT_PASSWORD": secrets["root"]}
            if not replica:
                envs |= {"MYSQL_USER": APP_USER, "MYSQL_PASSWORD": secrets["app"], "MYSQL_DATABASE": db.database_name}
            if "replication" in secrets:
                envs["REPLICATION_PASSWORD"] = secrets["replication"]
                uploads.append(self.upload("/etc/mysql/conf.d/topoform-replication.cnf",
                                           scripts.mysql_replication_cnf(server_id, replica)))
                init = (scripts.mysql_replica_init(source, user=REPLICATION_USER) if replica
                        else scripts.mysql_primary_init(REPLICATION_USER))
                uploads.append(self.upload("/docker-entrypoint-initdb.d/10-topoform-replication.sh", init,
                                           executable=True))
            check = 'mysqladmin ping -h 127.0.0.1 -uroot -p"$MYSQL_ROOT_PASSWORD" --silent'
        memory, cpus = DB_SIZES[db.size]
        extra = [self.network_attachment(bridge)] if bridge else None
        ports = [self.publish(DB_PORTS[db.engine])] if db.public and site == "primary" and not replica else []
        return self.container(
            name, image=images.database_image(db), site=site, aliases=aliases, envs=envs, uploads=uploads,
            entrypoints=entrypoints, command=command, volumes=[(volume, DATA_DIRS[db.engine])], ports=ports,
            healthcheck=self.health(check, 10.0, 5.0, 5, 60.0), memory_mb=memory, cpus=cpus,
            extra_networks=extra, depends_on=[self._resource_of(source)] if source else None,
        )

    def _resource_of(self, physical_name: str) -> str:
        """The Plan resource name of a container from its physical name."""
        return physical_name[len(self.physical("")):]

    def _galera(self, db: Database, base: str, host: str, secrets: dict[str, str], hot: bool) -> str:
        """A Galera cluster of replicas + 1 nodes; returns the bootstrap node's container name."""
        nodes = db.replication.replicas + 1
        if nodes < 3:
            raise self.unsupported(
                f"a Galera cluster needs at least 3 nodes for quorum, but replicas: {db.replication.replicas} "
                f"makes {nodes}", "set `replication.replicas: 2` or more",
                "databases", db.name, "replication", "replicas")
        names = [self.physical(f"{base}-{i}") for i in range(nodes)]
        memory, cpus = DB_SIZES[db.size]
        first = None
        for i in range(nodes):
            cnf = configs.render_galera_cnf(configs.GaleraContext(
                cluster_name=self.physical(base), nodes=tuple(names), node_name=names[i], node_address=names[i],
                sst_password=SST_SECRET))
            uploads = [self.upload("/etc/mysql/conf.d/galera.cnf", cnf, {SST_SECRET: secrets["sst"]})]
            if hot:
                # Binary logs on every node feed the DR site's asynchronous replica.
                uploads.append(self.upload("/etc/mysql/conf.d/topoform-replication.cnf", configs.render_mariadb_cnf(
                    configs.MariadbReplicationContext(i + 1, "primary", gtid_strict_mode=False))))
            envs = {"MARIADB_ROOT_PASSWORD": secrets["root"], "MARIADB_MARIABACKUP_USER": "mariabackup",
                    "MARIADB_MARIABACKUP_PASSWORD": secrets["sst"]}
            if i == 0:
                envs |= {"MARIADB_USER": APP_USER, "MARIADB_PASSWORD": secrets["app"],
                         "MARIADB_DATABASE": db.database_name}
                if hot:
                    envs |= {"MARIADB_REPLICATION_USER": REPLICATION_USER,
                             "MARIADB_REPLICATION_PASSWORD": secrets["replication"]}
            volume = self.volume(f"{base}-{i}-data", db.protect)
            name = self.container(
                f"{base}-{i}", image=images.database_image(db), aliases=[host, f"{host}-{i}"], envs=envs,
                uploads=uploads, command=["--wsrep-new-cluster"] if i == 0 else None,
                volumes=[(volume, DATA_DIRS["mariadb"])], memory_mb=memory, cpus=cpus,
                healthcheck=self.health("healthcheck.sh --connect --innodb_initialized", 10.0, 5.0, 5, 120.0),
                depends_on=[f"{base}-0"] if i else None)
            first = first or name
        return first

    def _backup(self, db: Database, base: str, primary: str, secrets: dict[str, str]) -> str:
        """A sidecar dumping the primary every `backup.interval` into a backup volume, pruned after `retention`.

        With a cold DR site the volume is the DR site's: the copies are what survives.
        """
        dr = self.bp.disaster_recovery
        volume_name = f"{base}-dr-backups" if dr is not None and dr.strategy == "cold" else f"{base}-backups"
        volume = self.volume(volume_name, db.protect)
        postgres = db.engine == "postgres"
        script = _backup(configs.BackupContext(
            engine=db.engine, host=primary, database=db.database_name, port=DB_PORTS[db.engine],
            user=APP_USER if postgres else "root", password_env="DB_PASSWORD",
            interval=db.backup.interval, retention=db.backup.retention, directory="/backup"))
        self.container(
            f"{base}-backup", image=images.database_image(db), envs={
                "DB_PASSWORD": secrets["app"] if postgres else secrets["root"]},
            entrypoints=["/bin/sh", BACKUP_SCRIPT], uploads=[self.upload(BACKUP_SCRIPT, script, executable=True)],
            volumes=[(volume, "/backup")], memory_mb=256, cpus=0.25, depends_on=[self._resource_of(primary)])
        return ref(volume_name, "name")

    # ---------------------------------------------------------------- caches

    def compile_caches(self, cache: Cache) -> None:
        prefix, host = self.prefix(cache), self.host(cache)
        port = CACHE_PORTS[cache.engine]
        image = images.cache_image(cache)
        if cache.engine == "memcached":
            args = configs.memcached_args(configs.MemcachedContext(memory=cache.memory, port=port))
            memory = cache.memory // 1024**2 + 64
            for site in self.running_sites():
                for i in range(1 + cache.replicas):
                    ports = [self.publish(port)] if cache.public and site == "primary" else []
                    self.container(
                        f"{prefix}{self.site_suffix(site)}-{i}", image=image, site=site,
                        aliases=[host, f"{host}-{i}"], command=args, ports=ports, memory_mb=memory, cpus=0.5,
                        healthcheck=self.health(f"printf 'version\\r\\n' | nc -w 2 127.0.0.1 {port} | grep -q VERSION"))
        else:
            password = self.password(f"{prefix}-password", cache.protect)
            cli = "valkey-cli" if cache.engine == "valkey" else "redis-cli"
            server = "valkey-server" if cache.engine == "valkey" else "redis-server"
            memory = int(cache.memory // 1024**2 * 1.25) + 32  # room for fragmentation and replication buffers
            check = self.health(f'{cli} -a "$CACHE_PASSWORD" --no-auth-warning ping | grep -q PONG')
            for site in self.running_sites():
                suffix = self.site_suffix(site)
                for i in range(1 + cache.replicas):
                    replica = i > 0
                    conf = _redis_conf(configs.RedisContext(
                        port=port, maxmemory=cache.memory, maxmemory_policy=cache.eviction,
                        appendonly=cache.persistence, requirepass=SECRET,
                        masterauth=SECRET if replica else None, replicaof=(host, port) if replica else None))
                    name = f"{prefix}{suffix}" + (f"-replica-{i - 1}" if replica else "")
                    volumes = [(self.volume(f"{name}-data", cache.protect), "/data")] if cache.persistence else None
                    ports = [self.publish(port)] if cache.public and site == "primary" and not replica else []
                    self.container(
                        name, image=image, site=site, aliases=[f"{host}-reader"] if replica else [host],
                        envs={"CACHE_PASSWORD": password}, command=[server, CACHE_CONF],
                        uploads=[self.upload(CACHE_CONF, conf, {SECRET: password})], volumes=volumes, ports=ports,
                        memory_mb=memory, cpus=0.5, healthcheck=check,
                        depends_on=[prefix + suffix] if replica else None)
        endpoint = self.data_endpoint(cache)
        self.export("host", endpoint.host)
        self.export("port", endpoint.port)
        self.export("url", self.data_url(cache))
        self.export("engine", cache.engine)

    # ---------------------------------------------------------------- queues

    def compile_queues(self, queue: Queue) -> None:
        prefix, host = self.prefix(queue), self.host(queue)
        password = self.password(f"{prefix}-password", queue.protect)
        context = configs.RabbitmqContext(
            port=AMQP_PORT, definitions_path=RABBITMQ_DEFINITIONS,
            users=(configs.RabbitmqUser(APP_USER, "unused: hashed at container start", tags=("administrator",)),),
            queues=(configs.RabbitmqQueue(queue.name, max_depth=queue.max_depth, max_receives=queue.max_receives,
                                          retention=queue.retention, fifo=queue.fifo),),
            consumer_timeout=queue.visibility_timeout if queue.visibility_timeout >= 1 else None,
            salt=b"\0\0\0\0")
        definitions = scripts.rabbitmq_definitions_template(configs.render_rabbitmq_definitions(context), APP_USER)
        uploads = [
            self.upload("/etc/rabbitmq/rabbitmq.conf", configs.render_rabbitmq_conf(context)),
            self.upload(scripts.RABBITMQ_DEFINITIONS_TEMPLATE, definitions),
            self.upload(RABBITMQ_ENTRYPOINT, scripts.rabbitmq_entrypoint(RABBITMQ_DEFINITIONS), executable=True),
        ]
        for site in self.running_sites():
            name = f"{prefix}{self.site_suffix(site)}"
            volume = self.volume(f"{name}-data", queue.protect)
            ports = [self.publish(AMQP_PORT)] if queue.public and site == "primary" else []
            self.container(
                name, image=images.RABBITMQ, site=site, aliases=[host], envs={"RABBITMQ_PASSWORD": password},
                entrypoints=[RABBITMQ_ENTRYPOINT], command=["rabbitmq-server"], uploads=uploads,
                volumes=[(volume, "/var/lib/rabbitmq")], ports=ports, memory_mb=512, cpus=0.5,
                healthcheck=self.health("rabbitmq-diagnostics -q ping", 30.0, 10.0, 3, 60.0),
                hostname=host)
        endpoint = self.data_endpoint(queue)
        self.export("host", endpoint.host)
        self.export("port", endpoint.port)
        self.export("url", self.data_url(queue))
        self.export("queue", queue.name)
        if queue.max_receives is not None:
            self.export("dead_letter_queue", context.queues[0].dead_letter_queue)
