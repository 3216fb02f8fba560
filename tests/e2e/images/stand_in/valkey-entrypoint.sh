#!/bin/sh
# Stand-in entrypoint for the valkey/valkey image (contract: tests/e2e/images/contracts.py).
# Same rules as redis under Valkey's names: valkey-server started as root owns /data, runs as valkey.
set -e
case "$1" in
    -*|*.conf) set -- valkey-server "$@" ;;
esac
if [ "$1" = valkey-server ] && [ "$(id -u)" = 0 ]; then
    find . ! -user valkey -exec chown valkey '{}' +
    exec gosu valkey "$0" "$@"
fi
[ "$(umask)" = 0022 ] && umask 0077
# shellcheck disable=SC2086 # extra flags are words, as in the official image
exec "$@" ${VALKEY_EXTRA_FLAGS:-}
