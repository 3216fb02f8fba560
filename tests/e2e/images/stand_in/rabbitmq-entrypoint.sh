#!/bin/bash
# Stand-in entrypoint for the rabbitmq image (contract: tests/e2e/images/contracts.py).
# rabbitmq* commands started as root run as user rabbitmq; rabbitmq-server first takes ownership
# of /var/lib/rabbitmq. A long hostname (with dots) makes the node use long names.
set -euo pipefail
if [[ "$1" == rabbitmq* ]] && [ "$(id -u)" = 0 ]; then
    if [ "$1" = rabbitmq-server ]; then
        find /var/lib/rabbitmq ! -user rabbitmq -exec chown rabbitmq '{}' +
    fi
    exec gosu rabbitmq "$BASH_SOURCE" "$@"
fi
if [ -z "${RABBITMQ_USE_LONGNAME:-}" ] && [ "$(hostname)" != "$(hostname -s)" ]; then
    export RABBITMQ_USE_LONGNAME=true
fi
exec "$@"
