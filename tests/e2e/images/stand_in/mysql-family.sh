#!/bin/bash
# Shared body of the mysql and mariadb stand-in entrypoints (contract: tests/e2e/images/contracts.py).
# The wrapper sets FLAVOUR (mysql or mariadb) and SERVER (mysqld or mariadbd), then sources this.
#
# For the server command (or an option, which means the server):
#  - as root: the datadir and socket directory are made mysql's, then the entrypoint runs again as mysql;
#  - an empty datadir is initialised: root@localhost and root@'%' get the root password, the database
#    and user are created, /docker-entrypoint-initdb.d/ runs, all through a temporary server that
#    does not listen on the network; then the real server starts.
# mariadb also creates the replication user (primary) or points the replica at its primary, and the
# healthcheck users that /usr/local/bin/healthcheck.sh logs in with.
set -Eeuo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

# The image's variable NAME: MARIADB_NAME, falling back to MYSQL_NAME, for mariadb; MYSQL_NAME for mysql.
setting() {
    local mysql_name="MYSQL_$1" mariadb_name="MARIADB_$1"
    if [ "$FLAVOUR" = mariadb ] && [ -n "${!mariadb_name:-}" ]; then
        printf '%s' "${!mariadb_name}"
    else
        printf '%s' "${!mysql_name:-${2:-}}"
    fi
}

# A value for a single-quoted SQL string literal.
sql_quote() {
    local value="${1//\\/\\\\}"
    printf '%s' "${value//\'/\\\'}"
}

if [ "${1:0:1}" = '-' ]; then
    set -- "$SERVER" "$@"
fi
if [ "$1" != mysqld ] && [ "$1" != mariadbd ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATADIR" "${SOCKET%/*}"
    find "$DATADIR" "${SOCKET%/*}" ! -user mysql -exec chown mysql: '{}' +
    exec gosu mysql "$0" "$@"
fi

temp_server_start() {
    "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --skip-slave-start &
    TEMP_PID=$!
    local i
    for i in $(seq 60); do
        if mariadb-admin --no-defaults --socket="$SOCKET" --user=root ping >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$TEMP_PID" 2>/dev/null || { echo "error: the temporary server exited" >&2; exit 1; }
        sleep 1
    done
    echo "error: the temporary server did not start within 60s" >&2
    exit 1
}

temp_server_stop() {
    kill "$TEMP_PID"
    wait "$TEMP_PID" || true
}

init_database() {
    local root_password database user password root_host
    root_password="$(setting ROOT_PASSWORD)"
    database="$(setting DATABASE)"
    user="$(setting USER)"
    password="$(setting PASSWORD)"
    root_host="$(setting ROOT_HOST %)"
    if [ -z "$root_password" ] && [ -z "$(setting ALLOW_EMPTY_PASSWORD)$(setting ALLOW_EMPTY_ROOT_PASSWORD)" ]; then
        echo "error: the database is uninitialized and the root password is not set" >&2
        echo "       (set ${FLAVOUR^^}_ROOT_PASSWORD)" >&2
        exit 1
    fi

    mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal --skip-test-db \
        --skip-log-bin --default-time-zone=SYSTEM >/dev/null
    temp_server_start "$@"

    local rp system="" rest=""
    rp="$(sql_quote "$root_password")"
    system+="DROP USER IF EXISTS root@'127.0.0.1', root@'::1', ''@localhost;"
    system+="EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS \'\'@\'', @@hostname, '\'');"
    system+="EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');"
    system+="SET PASSWORD FOR root@localhost = PASSWORD('$rp');"
    if [ -n "$root_host" ] && [ "$root_host" != localhost ]; then
        system+="CREATE USER root@'$root_host' IDENTIFIED BY '$rp';"
        system+="GRANT ALL ON *.* TO root@'$root_host' WITH GRANT OPTION;"
        system+="GRANT PROXY ON ''@'%' TO root@'$root_host' WITH GRANT OPTION;"
    fi
    if [ "$FLAVOUR" = mariadb ]; then
        local check_password host
        check_password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
        for host in 127.0.0.1 ::1 localhost; do
            system+="CREATE USER IF NOT EXISTS healthcheck@'$host' IDENTIFIED BY '$check_password';"
            system+="GRANT USAGE ON *.* TO healthcheck@'$host';"
        done
        (umask 0077; printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' \
            "$SOCKET" "$check_password" > "$DATADIR/.my-healthcheck.cnf")
    fi
    if [ -n "$database" ]; then
        rest+="CREATE DATABASE IF NOT EXISTS \`$database\`;"
    fi
    if [ -n "$user" ] && [ -n "$password" ]; then
        rest+="CREATE USER '$user'@'%' IDENTIFIED BY '$(sql_quote "$password")';"
        if [ -n "$database" ]; then
            rest+="GRANT ALL ON \`${database//_/\\_}\`.* TO '$user'@'%';"
        fi
    fi
    if [ "$FLAVOUR" = mariadb ]; then
        local repl_user repl_password master_host
        repl_user="$(setting REPLICATION_USER)"
        repl_password="$(setting REPLICATION_PASSWORD)"
        master_host="$(setting MASTER_HOST)"
        if [ -n "$master_host" ] && { [ -z "$repl_user" ] || [ -z "$repl_password" ]; }; then
            echo "error: a replica needs MARIADB_REPLICATION_USER and MARIADB_REPLICATION_PASSWORD" >&2
            exit 1
        fi
        if [ -n "$repl_user" ] && [ -z "$master_host" ]; then
            rest+="CREATE USER '$repl_user'@'%' IDENTIFIED BY '$(sql_quote "$repl_password")';"
            rest+="GRANT REPLICATION SLAVE ON *.* TO '$repl_user'@'%';"
        elif [ -n "$master_host" ]; then
            rest+="CHANGE MASTER TO MASTER_HOST='$master_host', MASTER_USER='$repl_user', "
            rest+="MASTER_PASSWORD='$(sql_quote "$repl_password")', MASTER_PORT=$(setting MASTER_PORT 3306), "
            rest+="MASTER_CONNECT_RETRY=10;"
        fi
    fi
    # System users are not replicated (sql_log_bin=0); the database and users are, as in the images.
    mariadb --no-defaults --protocol=socket --socket="$SOCKET" --user=root --database=mysql --binary-mode <<SQL
SET @orig_sql_log_bin = @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN = 0;
$system
SET @@SESSION.SQL_LOG_BIN = @orig_sql_log_bin;
$rest
SQL

    export MYSQL_PWD="$root_password"
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
            *.sql) mariadb --no-defaults --socket="$SOCKET" --user=root ${database:+--database="$database"} < "$f" ;;
            *.sql.gz) gunzip -c "$f" | mariadb --no-defaults --socket="$SOCKET" --user=root ${database:+--database="$database"} ;;
            */\*) ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
    unset MYSQL_PWD
    temp_server_stop
    echo "$0: initialisation complete; starting the server"
}

if [ ! -d "$DATADIR/mysql" ]; then
    init_database "$@"
fi
exec "$@"
