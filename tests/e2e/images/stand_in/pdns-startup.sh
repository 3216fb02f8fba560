#!/bin/sh
# Stand-in for the pdns-auth image's default start-up (tini runs it): the official one templates
# pdns.conf from PDNS_AUTH_* variables first; Topoform overrides the entrypoint with pdns_server,
# so the stand-in only starts the server in the foreground with the packaged /etc/powerdns.
exec pdns_server --daemon=no --guardian=no --disable-syslog=yes --write-pid=no "$@"
