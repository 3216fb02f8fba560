#!/bin/sh
# Shared body of the redis and valkey stand-in entrypoints (contract: tests/e2e/images/contracts.py).
# The wrapper sets SERVER (redis-server or valkey-server) and SERVER_USER, then sources this.
# An option or a *.conf file as first argument means the server; the server started as root takes
# ownership of the working directory (/data) and drops to its user.
set -e
case "$1" in
    -*|*.conf) set -- "$SERVER" "$@" ;;
esac
if [ "$1" = "$SERVER" ] && [ "$(id -u)" = 0 ]; then
    find . ! -user "$SERVER_USER" -exec chown "$SERVER_USER" '{}' +
    exec gosu "$SERVER_USER" "$0" "$@"
fi
[ "$(umask)" = 0022 ] && umask 0077
