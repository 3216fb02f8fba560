"""What Topoform relies on in each image its Docker target pins, and how the stand-in provides it.

No image registry is reachable from the test machines, so the end-to-end
tests run stand-ins: Debian bookworm packages plus small entrypoint scripts of
our own, tagged with exactly the names the compiled Plan pins (the Plan runs
unchanged). Each :class:`Contract` records, for one official image, what the
compiled Plans use (binaries on PATH, users, paths, environment variables,
entrypoint behaviour), where the official image defines it, and what the
stand-in cannot prove. docs/IMAGES.md is the same table for maintainers.

A contract is also the recipe: ``builder.py`` turns its ``user``, ``env``,
``entrypoint``, ``cmd``, ``workdir``, ``volumes``, ``stopsignal`` and ``files``
into the tag's Dockerfile, on top of one shared base image (every package
below installed once, so tags share layers).

Sources were read to learn behaviour (never copied): the official images'
Dockerfiles and entrypoints on GitHub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"  # the mirror this machine's apt sources name

# Everything any stand-in needs, installed once into the shared base (one debootstrap).
PACKAGES: tuple[str, ...] = tuple(sorted({
    "ca-certificates", "curl", "gosu", "netcat-openbsd", "procps", "tini", "wget",
    "haproxy",
    "nginx",
    "pdns-server", "pdns-backend-bind", "pdns-backend-lua2",
    "rabbitmq-server",
    "memcached",
    "redis-server",  # also the valkey stand-in: bookworm has no valkey
    "postgresql-15", "postgresql-client-15",  # stand-in for every postgres tag
    "mariadb-server", "mariadb-client",  # stand-in for mysql and mariadb tags: bookworm has no mysql-server
    "python3",
}))

PG_STAND_IN_MAJOR = "15"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Contract:
    """One official image (a tag pattern), what Topoform relies on in it, and its stand-in recipe."""

    key: str
    image: str  # repository as the Plan names it
    tag_pattern: str  # regex over the whole "repo:tag"; groups are not used
    known_tags: tuple[str, ...]  # tags the example and golden Plans pin (prebuilt by default)
    stand_in: str  # which Debian program stands in
    relies_on: tuple[str, ...]
    sources: tuple[str, ...]
    cannot_prove: str
    # The recipe (the official image's runtime settings, as far as Topoform relies on them):
    user: str | None = None
    workdir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stopsignal: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # image path -> file under stand_in/ (mode 0755)
    hide: tuple[str, ...] = ()  # base programs the official image lacks, removed from this tag

    def matches(self, tag: str) -> bool:
        return re.fullmatch(self.tag_pattern, tag) is not None


ENTRYPOINT = "/usr/local/bin/docker-entrypoint.sh"

CONTRACTS: tuple[Contract, ...] = (
    Contract(
        key="haproxy",
        image="haproxy",
        tag_pattern=r"haproxy:(2\.9|3\.[0-9]+)(-alpine)?",
        known_tags=("haproxy:3.2-alpine", "haproxy:2.9"),
        stand_in="Debian haproxy 2.6",
        relies_on=(
            "`haproxy` on PATH; the default command `haproxy -f /usr/local/etc/haproxy/haproxy.cfg`, "
            "which the entrypoint runs as `haproxy -W -db -f …` (master-worker, foreground)",
            "the Plan uploads /usr/local/etc/haproxy/haproxy.cfg (and certs/cert.pem for TLS frontends)",
            "runs as user `haproxy` (uid 99), so ports below 1024 need the Plan's "
            "sysctl net.ipv4.ip_unprivileged_port_start=0",
            "health check `wget -q -O /dev/null http://127.0.0.1:8404/healthz`: busybox wget in the alpine "
            "variant (the Debian variant `haproxy:2.9` has no wget; the Plans use it only as a plain service)",
            "Docker's embedded DNS at 127.0.0.11 (the config's `resolvers docker`)",
        ),
        sources=(
            "https://github.com/docker-library/haproxy (2.9/alpine/Dockerfile, docker-entrypoint.sh)",
        ),
        cannot_prove="haproxy 2.9 syntax or behaviour newer than Debian's 2.6; musl/busybox differences of alpine",
        user="haproxy",
        workdir="/var/lib/haproxy",
        entrypoint=(ENTRYPOINT,),
        cmd=("haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"),
        stopsignal="SIGUSR1",
        files={ENTRYPOINT: "haproxy-entrypoint.sh"},
    ),
    Contract(
        key="nginx",
        image="nginx",
        tag_pattern=r"nginx:1\.27(-alpine)?",
        known_tags=("nginx:1.27-alpine", "nginx:1.27"),
        stand_in="Debian nginx 1.22",
        relies_on=(
            "`nginx` on PATH; default command `nginx -g 'daemon off;'` through /docker-entrypoint.sh "
            "(runs /docker-entrypoint.d/ scripts only when the command is nginx)",
            "user `nginx` (the generated nginx.conf says `user nginx;`); /etc/nginx/mime.types; "
            "/var/cache/nginx writable for the temp and cache paths",
            "the stock config: /etc/nginx/nginx.conf including /etc/nginx/conf.d/*.conf, whose default.conf "
            "serves /usr/share/nginx/html (index.html) on port 80 — services with no uploads are health-checked "
            "with GET / on :80",
            "the Plan uploads /etc/nginx/nginx.conf, /etc/nginx/certs/{cert,key}.pem and pages under "
            "/usr/share/nginx/<site>/; the health check reads /var/run/nginx.pid",
            "busybox `wget` in the alpine variant for `wget … || curl … || python3 …` health checks",
            "API gateways: the Plan uploads /docker-entrypoint.d/90-topoform-gateway-watch.sh, which the "
            "entrypoint runs before nginx; it needs `getent` (musl-utils in alpine), `sort`, `sleep` and "
            "`nginx -s reload`",
            "runs as root (the master), workers as nginx; STOPSIGNAL SIGQUIT",
        ),
        sources=(
            "https://github.com/nginxinc/docker-nginx (mainline/alpine-slim/Dockerfile, entrypoint/docker-entrypoint.sh)",
        ),
        cannot_prove="nginx 1.27 directives newer than Debian's 1.22; the official 10-/15-/20-/30- entrypoint.d "
                     "scripts (ipv6 listen, envsubst templates, worker tuning) are not reproduced; the gateway watch runs "
                     "glibc's getent, not musl's",
        entrypoint=("/docker-entrypoint.sh",),
        cmd=("nginx", "-g", "daemon off;"),
        stopsignal="SIGQUIT",
        files={"/docker-entrypoint.sh": "nginx-entrypoint.sh"},
    ),
    Contract(
        key="pdns-auth",
        image="powerdns/pdns-auth-49",
        tag_pattern=r"powerdns/pdns-auth-49:4\.9\.\d+",
        known_tags=("powerdns/pdns-auth-49:4.9.4",),
        stand_in="Debian pdns-server 4.7 with pdns-backend-bind (and -lua2)",
        relies_on=(
            "the Plan overrides the entrypoint with `pdns_server` (on PATH) and passes "
            "--config-dir=/etc/powerdns --daemon=no --guardian=no --disable-syslog=yes --write-pid=no",
            "the bind backend and LUA records built in; the Plan uploads /etc/powerdns/pdns.conf, named.conf "
            "and zones/*.zone",
            "runs as user `pdns` (uid 953): port 53 works through the Plan's sysctl "
            "net.ipv4.ip_unprivileged_port_start=0 (the official binary also has cap_net_bind_service)",
            "health check `pdns_control --config-dir=/etc/powerdns rping` (socket-dir=/tmp from pdns.conf)",
        ),
        sources=(
            "https://github.com/PowerDNS/pdns (Dockerfile-auth, dockerdata/startup.py)",
        ),
        cannot_prove="PowerDNS 4.9 behaviour newer than Debian's 4.7 (LUA record functions added since); the "
                     "official default entrypoint (tini + a templating startup script) is reduced to exec "
                     "pdns_server, which the Plan overrides anyway",
        user="pdns",
        entrypoint=("/usr/bin/tini", "--", "/usr/local/sbin/pdns_server-startup"),
        files={"/usr/local/sbin/pdns_server-startup": "pdns-startup.sh"},
    ),
    Contract(
        key="rabbitmq",
        image="rabbitmq",
        tag_pattern=r"rabbitmq:(3\.13|4\.[0-9]+)(-alpine)?",
        known_tags=("rabbitmq:4.2-alpine",),
        stand_in="Debian rabbitmq-server 3.10 on Erlang 25",
        relies_on=(
            "`erl`, `rabbitmq-server`, `rabbitmq-diagnostics` on PATH; `docker-entrypoint.sh` on PATH "
            "(the Plan's /usr/local/bin/topoform-rabbitmq.sh execs it after writing definitions.json), which "
            "runs rabbitmq* commands as user rabbitmq and chowns /var/lib/rabbitmq for rabbitmq-server",
            "HOME=/var/lib/rabbitmq (the Erlang cookie is found by root's `docker exec` health check "
            "`rabbitmq-diagnostics -q ping`)",
            "/etc/rabbitmq writable (mode 1777): the wrapper writes /etc/rabbitmq/definitions.json as root; "
            "rabbitmq.conf (uploaded) loads it with load_definitions",
            "/etc/rabbitmq/conf.d/10-defaults.conf from the image (loopback_users.guest = false, "
            "log.console = true), read after rabbitmq.conf",
            "the node name comes from the container hostname the Plan sets; data in /var/lib/rabbitmq",
        ),
        sources=(
            "https://github.com/docker-library/rabbitmq (3.13/alpine/Dockerfile, docker-entrypoint.sh, "
            "conf.d/10-defaults.conf)",
        ),
        cannot_prove="RabbitMQ 3.13 / Erlang 26 behaviour newer than Debian's 3.10 / 25 (quorum-queue and "
                     "definitions details); alpine busybox",
        env={
            "HOME": "/var/lib/rabbitmq",
            "PATH": f"/usr/lib/rabbitmq/bin:{BASE_PATH}",  # the real scripts, not Debian's su wrappers
            "LANG": "C.UTF-8", "LANGUAGE": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "RUNNING_UNDER_SYSTEMD": "true",  # rabbitmq-server execs erl instead of forking it
        },
        entrypoint=("docker-entrypoint.sh",),
        cmd=("rabbitmq-server",),
        volumes=("/var/lib/rabbitmq",),
        files={ENTRYPOINT: "rabbitmq-entrypoint.sh"},
    ),
    Contract(
        key="memcached",
        image="memcached",
        tag_pattern=r"memcached:[0-9.]+-alpine",
        known_tags=("memcached:1.6-alpine",),
        stand_in="Debian memcached 1.6",
        relies_on=(
            "the entrypoint prepends `memcached` when the first argument is an option (the Plan's command is "
            "`-m 512 -p 11211 -c 1024 -t 4`)",
            "runs as user `memcache` (uid 11211)",
            "health check `printf 'version\\r\\n' | nc -w 2 127.0.0.1 11211 | grep -q VERSION`: busybox nc",
        ),
        sources=("https://github.com/docker-library/memcached (1/alpine/Dockerfile, docker-entrypoint.sh)",),
        cannot_prove="busybox nc versus the stand-in's OpenBSD nc (both accept `-w 2`)",
        user="memcache",
        entrypoint=("docker-entrypoint.sh",),
        cmd=("memcached",),
        files={ENTRYPOINT: "memcached-entrypoint.sh"},
    ),
    Contract(
        key="redis",
        image="redis",
        tag_pattern=r"redis:[0-9.]+-alpine",
        known_tags=("redis:7.2-alpine",),
        stand_in="Debian redis-server 7.0",
        relies_on=(
            "command `redis-server /etc/topoform/cache.conf` (uploaded); the entrypoint chowns the working "
            "directory /data and runs redis-server as user `redis`",
            "WORKDIR and VOLUME /data (the config says `dir /data`, appendonly)",
            "health check `redis-cli -a \"$CACHE_PASSWORD\" --no-auth-warning ping`",
            "a `nosql` key-value store: command `redis-server /etc/topoform/store.conf` (ACL user `app`, the "
            "default user off, `appendfsync always`), health check `redis-cli --user app -a \"$STORE_PASSWORD\" "
            "--no-auth-warning ping`",
        ),
        sources=("https://github.com/docker-library/redis (7.2/alpine/Dockerfile, docker-entrypoint.sh)",),
        cannot_prove="Redis 7.2 behaviour newer than Debian's 7.0",
        workdir="/data",
        entrypoint=("docker-entrypoint.sh",),
        cmd=("redis-server",),
        volumes=("/data",),
        files={ENTRYPOINT: "redis-entrypoint.sh"},
    ),
    Contract(
        key="valkey",
        image="valkey/valkey",
        tag_pattern=r"valkey/valkey:[0-9.]+-alpine",
        known_tags=("valkey/valkey:8-alpine",),
        stand_in="Debian redis-server 7.0 under the names valkey-server and valkey-cli",
        relies_on=(
            "command `valkey-server /etc/topoform/cache.conf` (redis.conf format); the entrypoint chowns /data "
            "and runs valkey-server as user `valkey`",
            "WORKDIR and VOLUME /data",
            "health check `valkey-cli -a \"$CACHE_PASSWORD\" --no-auth-warning ping`",
            "a `nosql` key-value store: `valkey-server /etc/topoform/store.conf`, health check "
            "`valkey-cli --user app -a \"$STORE_PASSWORD\" --no-auth-warning ping`",
        ),
        sources=("https://github.com/valkey-io/valkey-container (8.0/alpine/Dockerfile, docker-entrypoint.sh)",),
        cannot_prove="anything Valkey-specific: it is Redis 7.0 under Valkey's names",
        workdir="/data",
        entrypoint=("docker-entrypoint.sh",),
        cmd=("valkey-server",),
        volumes=("/data",),
        files={ENTRYPOINT: "valkey-entrypoint.sh"},
    ),
    Contract(
        key="postgres",
        image="postgres",
        tag_pattern=r"postgres:[0-9.]+-bookworm",
        known_tags=("postgres:16-bookworm",),
        stand_in=f"Debian postgresql-{PG_STAND_IN_MAJOR} for every postgres tag",
        relies_on=(
            "PGDATA=/var/lib/postgresql/data (the Plan mounts its volume there); "
            "/usr/lib/postgresql/<major>/bin on PATH: postgres, initdb, pg_ctl, pg_basebackup, pg_dump, "
            "psql, pg_isready; gzip, find, mktemp, GNU grep",
            "`docker-entrypoint.sh` on PATH: an option as first argument means postgres; for `postgres` as root "
            "it owns PGDATA (and chowns a replica's pg_basebackup clone) and re-runs as user postgres",
            "an empty PGDATA is initialised from POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, with "
            "`host all all all scram-sha-256` appended to pg_hba.conf and listen_addresses='*'",
            "/docker-entrypoint-initdb.d/: executable *.sh run (others sourced), *.sql through psql, once, "
            "against a temporary server on the unix socket only; PGDATA, POSTGRES_USER, POSTGRES_DB exported; "
            "then the server restarts so the scripts' settings apply",
            "health check `pg_isready -h 127.0.0.1 -U app -d app` (TCP: false during initialisation)",
            "backups: entrypoint overridden with /bin/sh /usr/local/bin/topoform-backup.sh (pg_dump, gzip, find)",
        ),
        sources=(
            "https://github.com/docker-library/postgres (16/bookworm/Dockerfile, docker-entrypoint.sh)",
        ),
        cannot_prove=f"any PostgreSQL {PG_STAND_IN_MAJOR}+ difference: every postgres tag runs "
                     f"PostgreSQL {PG_STAND_IN_MAJOR}; the locale is C.UTF-8 (official: en_US.utf8)",
        env={
            "PG_MAJOR": PG_STAND_IN_MAJOR,
            "PATH": f"{BASE_PATH}:/usr/lib/postgresql/{PG_STAND_IN_MAJOR}/bin",
            "PGDATA": "/var/lib/postgresql/data",
            "LANG": "C.UTF-8",
        },
        entrypoint=("docker-entrypoint.sh",),
        cmd=("postgres",),
        volumes=("/var/lib/postgresql/data",),
        stopsignal="SIGINT",
        files={ENTRYPOINT: "postgres-entrypoint.sh"},
    ),
    Contract(
        key="mysql",
        image="mysql",
        tag_pattern=r"mysql:[0-9.]+",
        known_tags=("mysql:8.4",),
        stand_in="Debian mariadb-server 10.11 (bookworm has no mysql-server)",
        relies_on=(
            "datadir /var/lib/mysql (the Plan mounts its volume there); config drop-ins in /etc/mysql/conf.d",
            "`docker-entrypoint.sh`: an empty datadir is initialised from MYSQL_ROOT_PASSWORD, "
            "MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD with root@'%' (MYSQL_ROOT_HOST default), "
            "through a temporary server without networking; then mysqld runs as user mysql",
            "health check `mysqladmin ping -h 127.0.0.1 -uroot -p\"$MYSQL_ROOT_PASSWORD\" --silent` (TCP: false "
            "during initialisation)",
            "backups: /bin/sh /usr/local/bin/topoform-backup.sh with `mysqldump --single-transaction --routines "
            "--triggers`, gzip, find (the official 8.4 image is Oracle Linux with findutils and gzip added)",
        ),
        sources=(
            "https://github.com/docker-library/mysql (8.4/Dockerfile.oracle, 8.4/docker-entrypoint.sh)",
        ),
        cannot_prove="anything MySQL-specific: it is MariaDB 10.11 (SQL dialect, authentication plugins such "
                     "as caching_sha2_password, replication and mysqldump options all differ); passing here says "
                     "the Plan's wiring works, not that MySQL accepts it",
        env={"LANG": "C.UTF-8"},
        entrypoint=("docker-entrypoint.sh",),
        cmd=("mysqld",),
        volumes=("/var/lib/mysql",),
        files={ENTRYPOINT: "mysql-entrypoint.sh"},
    ),
    Contract(
        key="mariadb",
        image="mariadb",
        tag_pattern=r"mariadb:[0-9.]+",
        known_tags=("mariadb:10.11",),
        stand_in="Debian mariadb-server 10.11",
        relies_on=(
            "datadir /var/lib/mysql; /etc/mysql/conf.d read after the packaged mariadb.conf.d (the Plan uploads "
            "conf.d/topoform-replication.cnf: server_id, log_bin, gtid_strict_mode, read_only on replicas); "
            "bind-address commented out",
            "`docker-entrypoint.sh`: an empty datadir is initialised from MARIADB_ROOT_PASSWORD, "
            "MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD (root@'%'); with MARIADB_REPLICATION_USER/PASSWORD "
            "a primary creates the replication user, and with MARIADB_MASTER_HOST/PORT a replica runs "
            "CHANGE MASTER TO … and starts replicating",
            "health check `healthcheck.sh --connect --innodb_initialized` (/usr/local/bin) with the healthcheck "
            "users and $DATADIR/.my-healthcheck.cnf the entrypoint creates; --connect is false while the "
            "temporary server (skip-networking) runs",
            "backups: /bin/sh /usr/local/bin/topoform-backup.sh with `mariadb-dump`, gzip, find",
        ),
        sources=(
            "https://github.com/MariaDB/mariadb-docker (10.11/Dockerfile, 10.11/docker-entrypoint.sh, "
            "10.11/healthcheck.sh)",
        ),
        cannot_prove="other MariaDB versions (every tag runs 10.11); healthcheck.sh options beyond "
                     "--connect and --innodb_initialized",
        env={"LANG": "C.UTF-8"},
        entrypoint=("docker-entrypoint.sh",),
        cmd=("mariadbd",),
        volumes=("/var/lib/mysql",),
        files={ENTRYPOINT: "mariadb-entrypoint.sh", "/usr/local/bin/healthcheck.sh": "mariadb-healthcheck.sh"},
    ),
    Contract(
        key="python",
        image="python",
        tag_pattern=r"python:3\.12-slim",
        known_tags=("python:3.12-slim",),
        stand_in="Debian python3 3.11",
        relies_on=(
            "`python` and `python3` on PATH (/usr/local/bin first): the blueprints' service commands "
            "`python -m http.server 8080` and `python -m worker`",
            "no wget or curl: `wget … || curl … || python3 -c …` health checks reach the python3 fallback",
            "no entrypoint; default command python3",
        ),
        sources=("https://github.com/docker-library/python (3.12/slim-bookworm/Dockerfile)",),
        cannot_prove="Python 3.12 behaviour (it is 3.11)",
        env={"PATH": BASE_PATH, "LANG": "C.UTF-8"},
        cmd=("python3",),
        hide=("/usr/bin/wget", "/usr/bin/curl"),  # the slim image has neither: health checks fall through
    ),
)


class UnknownImage(KeyError):
    """A tag with no stand-in recipe."""


def contract_for(tag: str) -> Contract:
    """The contract whose pattern matches `tag` exactly."""
    for contract in CONTRACTS:
        if contract.matches(tag):
            return contract
    known = ", ".join(c.tag_pattern for c in CONTRACTS)
    raise UnknownImage(f"no stand-in recipe for image {tag!r}; recipes exist for (tests/e2e/images/contracts.py): {known}")
