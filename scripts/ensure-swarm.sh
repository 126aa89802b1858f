#!/usr/bin/env bash
# Makes sure the local Docker engine is a swarm manager. If it is in no swarm,
# initialises a single-node swarm and says so; if it is a worker, says what to
# do and fails. Idempotent.
set -euo pipefail

if ! docker info >/dev/null 2>&1; then
	echo "ensure-swarm: cannot reach the Docker engine; start it (e.g. 'sudo systemctl start docker')" >&2
	exit 1
fi
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
manager=$(docker info --format '{{.Swarm.ControlAvailable}}')
case $state in
active)
	if [ "$manager" != true ]; then
		echo "ensure-swarm: this engine is a swarm worker; run oneshot against a manager (DOCKER_HOST)" >&2
		exit 1
	fi
	;;
inactive)
	echo "ensure-swarm: the local engine is in no swarm; initialising a single-node swarm (undo with 'docker swarm leave --force')"
	# The default advertise address fails on hosts with several addresses;
	# loopback then does for a single node.
	docker swarm init >/dev/null 2>&1 || docker swarm init --advertise-addr 127.0.0.1 >/dev/null
	;;
*)
	echo "ensure-swarm: the local engine's swarm state is '$state'; wait for it to settle or run 'docker swarm leave --force'" >&2
	exit 1
	;;
esac
