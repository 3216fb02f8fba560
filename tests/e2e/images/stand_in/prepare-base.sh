#!/bin/sh
# Shapes the debootstrap tree into the shared base of every stand-in image: the users, directories,
# default configuration and program names the official images have (tests/e2e/images/contracts.py).
# Runs once, as a `docker build` step without network; per-tag settings live in each tag's Dockerfile.
set -eu

system_user() {  # name home: a system user and group the official image has and Debian lacks
    getent group "$1" >/dev/null || groupadd --system "$1"
    getent passwd "$1" >/dev/null || useradd --system --gid "$1" --home-dir "$2" --no-create-home \
        --shell /usr/sbin/nologin "$1"
}
system_user nginx /var/cache/nginx
system_user valkey /data

install -d -m 0755 /usr/local/lib/topoform-stand-in
install -m 0755 /tmp/stand-in/mysql-family.sh /tmp/stand-in/redis-family.sh /usr/local/lib/topoform-stand-in/

# haproxy: the configuration directory the Plan uploads into.
install -d /usr/local/etc/haproxy

# nginx: the stock layout of the official image (conf.d/default.conf serving /usr/share/nginx/html).
install -d -o nginx -g nginx /var/cache/nginx
install -d /docker-entrypoint.d /etc/nginx/conf.d /usr/share/nginx/html
rm -f /etc/nginx/sites-enabled/default
ln -sf /dev/stdout /var/log/nginx/access.log
ln -sf /dev/stderr /var/log/nginx/error.log
cat > /etc/nginx/nginx.conf <<'CONF'
# Stand-in default configuration (the official image's layout: conf.d/*.conf, user nginx).
user nginx;
worker_processes auto;
error_log /var/log/nginx/error.log notice;
pid /var/run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /var/log/nginx/access.log;
    sendfile on;
    keepalive_timeout 65;
    include /etc/nginx/conf.d/*.conf;
}
CONF
cat > /etc/nginx/conf.d/default.conf <<'CONF'
server {
    listen 80;
    server_name localhost;
    location / {
        root /usr/share/nginx/html;
        index index.html;
    }
}
CONF
printf '<!DOCTYPE html>\n<title>nginx stand-in</title>\n<p>nginx stand-in for the Topoform e2e tests.</p>\n' \
    > /usr/share/nginx/html/index.html

# PowerDNS: the run directory of the official image (the Plan's pdns.conf uses socket-dir=/tmp).
install -d -o pdns -g pdns /run/pdns

# RabbitMQ: writable /etc/rabbitmq, the image's conf.d defaults, root finds the cookie via HOME.
install -d /etc/rabbitmq/conf.d
chown rabbitmq:rabbitmq /etc/rabbitmq /etc/rabbitmq/conf.d /var/lib/rabbitmq /var/log/rabbitmq
chmod 1777 /etc/rabbitmq /etc/rabbitmq/conf.d /var/lib/rabbitmq /var/log/rabbitmq
rm -f /var/lib/rabbitmq/.erlang.cookie  # made at package install: each container makes its own
rm -rf /var/lib/rabbitmq/mnesia
ln -sf /var/lib/rabbitmq/.erlang.cookie /root/.erlang.cookie
cat > /etc/rabbitmq/conf.d/10-defaults.conf <<'CONF'
# Stand-in for the official image's defaults: guest may log in from other hosts; logs go to the console.
loopback_users.guest = false
log.console = true
CONF

# Redis and Valkey: /data, and Valkey's program names on Redis 7.0.
install -d /data
ln -sf /usr/bin/redis-server /usr/local/bin/valkey-server
ln -sf /usr/bin/redis-cli /usr/local/bin/valkey-cli

# PostgreSQL: no packaged cluster; initdb's sample config listens on all addresses.
rm -rf /var/lib/postgresql/15 /etc/postgresql/15
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" /usr/share/postgresql/15/postgresql.conf.sample
grep -q "^listen_addresses = '\*'" /usr/share/postgresql/15/postgresql.conf.sample
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
install -d -o postgres -g postgres -m 3777 /run/postgresql
install -d /docker-entrypoint-initdb.d

# MariaDB (mysql and mariadb tags): an empty datadir, listen on all addresses, no name lookups,
# and /etc/mysql/conf.d read last so the Plan's drop-in wins over the packaged mariadb.conf.d.
rm -rf /var/lib/mysql
install -d -o mysql -g mysql /var/lib/mysql
install -d -o mysql -g mysql -m 1777 /run/mysqld
find /etc/mysql/mariadb.conf.d -name '*.cnf' -exec sed -Ei 's/^(bind-address|log|user\s)/#&/' '{}' +
printf '[mariadb]\nhost-cache-size=0\nskip-name-resolve\n' > /etc/mysql/mariadb.conf.d/05-skipcache.cnf
sed -i '\#^!includedir /etc/mysql/conf.d/#d' /etc/mysql/mariadb.cnf
printf '!includedir /etc/mysql/conf.d/\n' >> /etc/mysql/mariadb.cnf

# Python: the official image's names in /usr/local/bin.
ln -sf /usr/bin/python3 /usr/local/bin/python3
ln -sf /usr/bin/python3 /usr/local/bin/python

rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /tmp/stand-in
