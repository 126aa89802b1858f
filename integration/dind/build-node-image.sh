#!/usr/bin/env bash
# Builds the image of the Docker-in-Docker nodes of the test swarm, offline,
# from Debian's packages (docker.io and what dockerd needs, and openssh-server
# for the nodes reached through ssh://): debootstrap of
# bookworm from the mirror apt already uses, then `docker import`. /var/lib/docker
# is a volume (dockerd's overlay2 cannot sit on the container's own overlay).
# Idempotent: skipped when an image of the same recipe exists. The image name
# is $ONESHOT_DIND_IMAGE (default oneshot-dind:dev); point it at an image
# that exists (e.g. docker:dind where a registry is reachable) and this
# script builds nothing.
set -euo pipefail
cd "$(dirname "$0")"
source ../../scripts/lib/debian-image.sh

image=${ONESHOT_DIND_IMAGE:-oneshot-dind:dev}
if [ "$image" != oneshot-dind:dev ]; then
	docker image inspect "$image" >/dev/null 2>&1 || { echo "build-node-image: $image is not on this engine" >&2; exit 1; }
	exit 0
fi
recipe=$(recipe_of "$(basename "$0")" entrypoint.sh ../../scripts/lib/debian-image.sh)
image_is_current "$image" "$recipe" && exit 0

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
debian_rootfs "$rootfs" docker.io,iptables,iproute2,procps,ca-certificates,openssh-server
# sshd (started by the entry point with ONESHOT_DIND_SSHD=1) lets root in
# with a key: root's password must be unset, not locked ("!"), and every
# node makes its own host key.
sed -i 's/^root:[^:]*:/root:*:/' "$rootfs/etc/shadow"
rm -f "$rootfs"/etc/ssh/ssh_host_*
install -m 0755 entrypoint.sh "$rootfs/usr/local/bin/dind-entrypoint"
import_rootfs "$rootfs" "$image" "$recipe" \
	--change 'ENTRYPOINT ["/usr/local/bin/dind-entrypoint"]' \
	--change 'VOLUME /var/lib/docker'
