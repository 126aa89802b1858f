#!/usr/bin/env bash
# Captures the service specs that fromservice_test.go maps, as the engine
# holds them: deploys compose.yaml as the stack "fx" (no replica runs),
# writes `docker service inspect` and the stack's networks as JSON, and
# removes the stack. Run it on a swarm manager when the fixtures must be
# captured again (another engine version, say).
set -euo pipefail
cd "$(dirname "$0")"
docker stack deploy -c compose.yaml fx >/dev/null
trap 'docker stack rm fx >/dev/null' EXIT
docker service inspect fx_app >app.json
docker service inspect fx_worker >worker.json
docker network inspect fx_backend fx_default >networks.json
echo "captured app.json, worker.json and networks.json from Docker $(docker version --format '{{.Server.Version}}')"
