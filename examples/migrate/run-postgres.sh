#!/usr/bin/env bash
# Starts the example's database on the local swarm: an attachable overlay
# network, a swarm secret with a random password, and a Postgres service
# (endpoint mode dnsrr: this kernel has no IP_VS for virtual IPs) from the
# locally built oneshot-postgres:15 image.
#
#   examples/migrate/run-postgres.sh [NAME]     (default: oneshot-db)
#   docker service rm NAME; docker secret rm NAME-password; docker network rm NAME-net   to undo
#   (the secret and network are free a few seconds after the service is removed)
set -euo pipefail
name=${1:-oneshot-db}
"$(dirname "$0")"/postgres/build-image.sh
docker network inspect "$name-net" >/dev/null 2>&1 || docker network create -d overlay --attachable "$name-net" >/dev/null
docker secret inspect "$name-password" >/dev/null 2>&1 ||
	head -c 24 /dev/urandom | base64 | tr -d '/+=' | docker secret create "$name-password" - >/dev/null
docker service inspect "$name" >/dev/null 2>&1 || docker service create --quiet --detach --name "$name" \
	--network "$name-net" --endpoint-mode dnsrr \
	--secret source="$name-password",target=postgres-password \
	oneshot-postgres:15 >/dev/null
echo "database service $name on network $name-net, password in secret $name-password:"
echo "  go run ./examples/migrate up --network $name-net --db-service $name --password-secret $name-password --dir examples/migrate/sql"
