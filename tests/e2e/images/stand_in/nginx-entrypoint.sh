#!/bin/sh
# Stand-in entrypoint for the nginx image (contract: tests/e2e/images/contracts.py).
# When the command is nginx, executable /docker-entrypoint.d/*.sh run (and *.envsh are sourced)
# in version order before it starts; the stand-in ships none of the official ones.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    for f in $(find /docker-entrypoint.d/ -follow -type f 2>/dev/null | sort -V); do
        [ -x "$f" ] || continue
        case "$f" in
            *.envsh) . "$f" ;;
            *.sh) "$f" ;;
        esac
    done
fi
exec "$@"
