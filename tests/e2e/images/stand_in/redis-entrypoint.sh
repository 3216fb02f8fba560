#!/bin/sh
# Stand-in entrypoint for the redis image: redis-server as user redis.
SERVER=redis-server SERVER_USER=redis
. /usr/local/lib/topoform-stand-in/redis-family.sh
exec "$@"
