#!/bin/sh
# Stand-in entrypoint for the memcached image (contract: tests/e2e/images/contracts.py).
# An option as first argument means memcached (the image already runs as user memcache).
set -e
case "$1" in
    -*) set -- memcached "$@" ;;
esac
exec "$@"
