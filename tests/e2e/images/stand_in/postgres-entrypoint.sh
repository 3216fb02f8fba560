#!/bin/bash
# Stand-in entrypoint for the postgres image (contract: tests/e2e/images/contracts.py).
#
# For the command `postgres` (or an option, which means postgres):
#  - as root: PGDATA and /var/run/postgresql are made postgres's (a replica's clone made by root too),
#    then this script runs again as postgres;
#  - an empty PGDATA is initialised from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, remote
#    hosts authenticate with scram-sha-256, and /docker-entrypoint-initdb.d/ runs once against a
#    temporary server that listens on the unix socket only; then the real server starts.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    find "$PGDATA" /var/run/postgresql ! -user postgres -exec chown postgres '{}' +
    chmod 3775 /var/run/postgresql
    exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

run_init_files() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    echo "$0: running $f"
                    "$f"
                else
                    echo "$0: sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) echo "$0: running $f"; psql_init -f "$f" ;;
            *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql_init ;;
            */\*) ;;  # empty directory
            *) echo "$0: ignoring $f" ;;
        esac
    done
}

psql_init() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password --dbname "$POSTGRES_DB" "$@"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    export POSTGRES_USER="${POSTGRES_USER:-postgres}"
    export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
        echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        echo "       (set it, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
        exit 1
    fi
    chmod 700 "$PGDATA"
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
    else
        initdb --username="$POSTGRES_USER"
    fi
    printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

    export PGPASSWORD="${POSTGRES_PASSWORD:-}"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password --dbname postgres \
             --set db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')
\gexec
SQL
    fi
    run_init_files
    pg_ctl -D "$PGDATA" -m fast -w stop
    unset PGPASSWORD
    echo "$0: initialisation complete; starting the server"
fi

exec "$@"
