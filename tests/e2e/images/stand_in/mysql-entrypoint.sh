#!/bin/bash
# Stand-in entrypoint for the mysql image: MariaDB under MySQL's variable names (MYSQL_*).
FLAVOUR=mysql
SERVER=mysqld
# shellcheck source=mysql-family.sh
. /usr/local/lib/topoform-stand-in/mysql-family.sh
