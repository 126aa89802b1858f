#!/usr/bin/env bash
# Builds the image of the Docker-in-Docker nodes of the test swarm, offline,
# from Debian's packages (docker.io and what dockerd needs, and openssh-server
# for the nodes reached through ssh://): debootstrap of a Debian suite from
# the mirror apt already uses, then `docker import`. /var/lib/docker is a
# volume (dockerd's overlay2 cannot sit on the container's own overlay).
#
#   build-node-image.sh            bookworm: Docker 20.10 (API 1.41), oneshot-dind:dev
#   build-node-image.sh trixie     trixie: Docker 26.1 (API 1.45), oneshot-dind:trixie
#
# The test swarm runs the first unless ONESHOT_DIND_ENGINE=trixie.
# Idempotent: skipped when an image of the same recipe (these files and the
# suite) exists. The image is labelled with its suite (oneshot.debian-suite)
# and the docker.io package's version (oneshot.docker-version). The image
# name is $ONESHOT_DIND_IMAGE (default: the suite's, above); point it at an
# image that exists (e.g. docker:dind where a registry is reachable) and
# this script builds nothing.
set -euo pipefail
cd "$(dirname "$0")"
source ../../scripts/lib/debian-image.sh

suite=${1:-bookworm}
case $suite in
bookworm) suite_image=oneshot-dind:dev ;;
trixie) suite_image=oneshot-dind:trixie ;;
*)
	echo "build-node-image: unknown suite $suite (bookworm or trixie)" >&2
	exit 2
	;;
esac
image=${ONESHOT_DIND_IMAGE:-$suite_image}
if [ "$image" != "$suite_image" ]; then
	docker image inspect "$image" >/dev/null 2>&1 || { echo "build-node-image: $image is not on this engine" >&2; exit 1; }
	exit 0
fi
recipe=$(recipe_of <(echo "$suite") "$(basename "$0")" entrypoint.sh ../../scripts/lib/debian-image.sh)
image_is_current "$image" "$recipe" && exit 0

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
# Since trixie the docker CLI is a package of its own (docker.io only
# recommends it): the ssh nodes need it for `docker system dial-stdio`.
packages=docker.io,iptables,iproute2,procps,ca-certificates,openssh-server
[ "$suite" = bookworm ] || packages=$packages,docker-cli
debian_rootfs "$rootfs" "$packages" "$suite"
# sshd (started by the entry point with ONESHOT_DIND_SSHD=1) lets root in
# with a key: root's password must be unset, not locked ("!"), and every
# node makes its own host key.
sed -i 's/^root:[^:]*:/root:*:/' "$rootfs/etc/shadow"
rm -f "$rootfs"/etc/ssh/ssh_host_*
install -m 0755 entrypoint.sh "$rootfs/usr/local/bin/dind-entrypoint"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
docker_version=$(chroot "$rootfs" dpkg-query -W -f '${Version}' docker.io)
import_rootfs "$rootfs" "$image" "$recipe" \
	--change 'ENTRYPOINT ["/usr/local/bin/dind-entrypoint"]' \
	--change 'VOLUME /var/lib/docker' \
	--change "LABEL oneshot.debian-suite=$suite oneshot.docker-version=$docker_version"
