#!/bin/bash
# Stand-in entrypoint for the mariadb image (MARIADB_*, falling back to MYSQL_*).
FLAVOUR=mariadb
SERVER=mariadbd
# shellcheck source=mysql-family.sh
. /usr/local/lib/topoform-stand-in/mysql-family.sh
