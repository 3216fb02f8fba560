#!/bin/sh
# Stand-in entrypoint for the redis image (contract: tests/e2e/images/contracts.py).
# An option or a *.conf file as first argument means redis-server; redis-server started as root
# takes ownership of the working directory (/data) and drops to user redis.
set -e
case "$1" in
    -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . ! -user redis -exec chown redis '{}' +
    exec gosu redis "$0" "$@"
fi
[ "$(umask)" = 0022 ] && umask 0077
exec "$@"
