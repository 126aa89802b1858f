#!/bin/sh
# Entry point of a oneshot test swarm node: a Docker engine in a container.
# Its arguments (and $DOCKERD_FLAGS) are extra dockerd flags, as with the
# docker:dind image, e.g. --insecure-registry registry:5000.
# Works with --privileged and, as on machines that cannot grant it, without:
# then /sys and the cgroup mounts come read-only and are remounted writable
# (the container needs CAP_SYS_ADMIN and no masked or read-only paths).
set -eu

mount -o remount,rw /sys 2>/dev/null || true
awk '$2 ~ "^/sys/fs/cgroup" { print $2 }' /proc/mounts | while read -r m; do
	mount -o remount,bind,rw "$m" 2>/dev/null || true
done
# A fresh /run at every start: a stale containerd.pid left by `docker kill`
# would make dockerd exit after a restart.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock

# --tls=false: without it dockerd waits ~15 s before serving plain TCP.
# shellcheck disable=SC2086 # DOCKERD_FLAGS is a list of flags
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false ${DOCKERD_FLAGS:-} "$@"
