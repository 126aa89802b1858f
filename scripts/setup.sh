#!/usr/bin/env bash
# Checks what a fresh machine needs for `make test` and installs what is
# missing from Debian's packages. Idempotent: a machine that has everything
# is left alone.
set -euo pipefail

need_apt=()
command -v docker >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "setup: installing ${need_apt[*]} from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
	echo "setup: starting the Docker engine"
	(systemctl start docker 2>/dev/null || service docker start) >/dev/null
	for _ in $(seq 50); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
fi
command -v go >/dev/null || { echo "setup: Go is missing; install Go 1.24 or later" >&2; exit 1; }
echo "setup: ok ($(go version | cut -d' ' -f3), Docker $(docker version --format '{{.Server.Version}}'))"
