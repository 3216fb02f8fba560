#!/bin/sh
# Stand-in entrypoint for the haproxy image (contract: tests/e2e/images/contracts.py).
# An option as first argument means haproxy; haproxy runs in master-worker mode in the foreground.
set -e
case "$1" in
    -*) set -- haproxy "$@" ;;
esac
if [ "$1" = haproxy ]; then
    shift
    set -- haproxy -W -db "$@"
fi
exec "$@"
