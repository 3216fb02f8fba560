#!/bin/sh
# Stand-in entrypoint for the valkey/valkey image: valkey-server as user valkey, plus $VALKEY_EXTRA_FLAGS.
SERVER=valkey-server SERVER_USER=valkey
. /usr/local/lib/topoform-stand-in/redis-family.sh
# shellcheck disable=SC2086 # extra flags are words, as in the official image
exec "$@" ${VALKEY_EXTRA_FLAGS:-}
