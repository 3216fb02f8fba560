#!/bin/bash
# Stand-in for the mariadb image's /usr/local/bin/healthcheck.sh: the checks Topoform uses.
#   --connect             the server answers over the network (not the skip-networking init server)
#   --innodb_initialized  InnoDB is available
# It logs in as the healthcheck user from $DATADIR/.my-healthcheck.cnf, written at initialisation.
set -uo pipefail
DATADIR=/var/lib/mysql
defaults=()
if [ -f "$DATADIR/.my-healthcheck.cnf" ]; then
    defaults=(--defaults-extra-file="$DATADIR/.my-healthcheck.cnf")
fi
query() {
    mariadb "${defaults[@]}" --skip-column-names --batch "$@"
}
[ $# -gt 0 ] || { echo "usage: healthcheck.sh [--connect] [--innodb_initialized]" >&2; exit 1; }
for check in "$@"; do
    case "$check" in
        --connect)
            [ "$(query --protocol=socket -e 'SELECT @@skip_networking' 2>/dev/null)" = 0 ] || exit 1
            query --protocol=tcp --host=127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1 || exit 1
            ;;
        --innodb_initialized)
            [ "$(query --protocol=socket -e "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'innodb' AND support IN ('YES', 'DEFAULT', 'ENABLED')" 2>/dev/null)" = 1 ] || exit 1
            ;;
        *) echo "healthcheck.sh: the stand-in does not implement $check" >&2; exit 1 ;;
    esac
done
exit 0
