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

# ONESHOT_DIND_SSHD=1: also run an ssh server on port 22 that lets root in
# with the public key $ONESHOT_DIND_SSH_KEY (one authorized_keys line), so
# that the engine is reachable as ssh://root@NODE (docker system dial-stdio).
# Each node makes its own host key.
if [ "${ONESHOT_DIND_SSHD:-}" = 1 ]; then
	mkdir -p /run/sshd /root/.ssh
	chmod 700 /root/.ssh
	printf '%s\n' "${ONESHOT_DIND_SSH_KEY:?ONESHOT_DIND_SSHD=1 needs ONESHOT_DIND_SSH_KEY}" >/root/.ssh/authorized_keys
	chmod 600 /root/.ssh/authorized_keys
	[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
	# OpenSSH 9.8 and later (trixie's) refuse, for 15 s and more, every
	# connection from an address whose logins failed (PerSourcePenalties);
	# the tests fail a login on purpose, from the address of all the others.
	# Older sshd (bookworm's) know no such option.
	penalties=
	if /usr/sbin/sshd -t -o PerSourcePenalties=no -h /etc/ssh/ssh_host_ed25519_key 2>/dev/null; then
		penalties="-o PerSourcePenalties=no"
	fi
	# shellcheck disable=SC2086 # penalties is empty or one option
	/usr/sbin/sshd -e -o UsePAM=no $penalties -h /etc/ssh/ssh_host_ed25519_key
fi

# The API on TCP: plain on 2375 (--tls=false: without it dockerd waits ~15 s
# before serving plain TCP), or, with ONESHOT_DIND_TLS_DIR=DIR holding
# ca.pem, cert.pem and key.pem, on 2376 with TLS, accepting only clients
# whose certificate ca.pem signed (dockerd's TLS settings cover all its TCP
# sockets, so the node then has no plain one).
tcp="--host=tcp://0.0.0.0:2375 --tls=false"
if [ -n "${ONESHOT_DIND_TLS_DIR:-}" ]; then
	d=$ONESHOT_DIND_TLS_DIR
	tcp="--host=tcp://0.0.0.0:2376 --tlsverify --tlscacert=$d/ca.pem --tlscert=$d/cert.pem --tlskey=$d/key.pem"
fi
# shellcheck disable=SC2086 # tcp and DOCKERD_FLAGS are lists of flags
exec dockerd --host=unix:///var/run/docker.sock $tcp ${DOCKERD_FLAGS:-} "$@"
