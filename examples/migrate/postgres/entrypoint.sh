#!/bin/sh
# Entry point of the example Postgres image: initialises the data directory
# on first start, with the superuser's password read from a file (a swarm
# secret), and serves on every address with password authentication.
set -eu

PGBIN=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
PASSWORD_FILE=${POSTGRES_PASSWORD_FILE:-/run/secrets/postgres-password}

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	[ -r "$PASSWORD_FILE" ] || { echo "postgres: no password file at $PASSWORD_FILE" >&2; exit 1; }
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres --pwfile="$PASSWORD_FILE" \
		--auth-local=peer --auth-host=scram-sha-256 >/dev/null
	echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
	echo "postgres: initialised $PGDATA"
fi
exec runuser -u postgres -- "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses='*'
