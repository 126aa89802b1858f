#!/usr/bin/env bash
# Checks what a fresh machine needs for `make test` and installs what is
# missing from Debian's packages. Idempotent: a machine that has everything
# is left alone.
set -euo pipefail

need_apt=()
command -v docker >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
# ssh:// engines are reached through the ssh client (the remote-engine tests).
command -v ssh >/dev/null || need_apt+=(openssh-client)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "setup: installing ${need_apt[*]} from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
	echo "setup: starting the Docker engine"
	# systemd is absent on some machines, and the init script fails where
	# ulimit may not be raised; dockerd started by hand works on both.
	if ! (systemctl start docker || service docker start) >/dev/null 2>&1; then
		echo "setup: no service manager could start it; starting dockerd directly"
		setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
	fi
	for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
	docker info >/dev/null 2>&1 || { echo "setup: the Docker engine did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi
command -v go >/dev/null || { echo "setup: Go is missing; install Go 1.24 or later" >&2; exit 1; }
echo "setup: ok ($(go version | cut -d' ' -f3), Docker $(docker version --format '{{.Server.Version}}'))"
