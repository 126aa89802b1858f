#!/usr/bin/env bash
# Builds the image of the test swarm's registries, offline, from Debian's
# docker-registry package: FROM scratch plus the registry binary and the C
# library it links (from Debian's libc6), about 25 MB. Both registries of
# the test swarm run it (the open one, and the basic-auth one with an
# htpasswd file and a config the test writes into the container).
# Idempotent: skipped when an image of the same recipe exists.
#
# The image name is $ONESHOT_REGISTRY_IMAGE (default oneshot-registry:dev).
# Point it at an image that exists (e.g. registry:2 where a registry is
# reachable: its entry point takes a config file path as its command, as
# this one does) and this script builds nothing.
set -euo pipefail
cd "$(dirname "$0")"
source ../../scripts/lib/debian-image.sh

image=${ONESHOT_REGISTRY_IMAGE:-oneshot-registry:dev}
if [ "$image" != oneshot-registry:dev ]; then
	docker image inspect "$image" >/dev/null 2>&1 || { echo "build-registry-image: $image is not on this engine" >&2; exit 1; }
	exit 0
fi
recipe=$(recipe_of "$(basename "$0")" ../../scripts/lib/debian-image.sh)
image_is_current "$image" "$recipe" && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # apt's sandbox user downloads into it
mkdir "$work/debs" "$work/rootfs"
# The packages come from the mirror apt already uses, as the host's other
# Debian packages do.
if ! (cd "$work/debs" && apt-get download -q docker-registry libc6 >"$work/apt.log" 2>&1); then
	apt-get update -qq
	(cd "$work/debs" && apt-get download -q docker-registry libc6 >"$work/apt.log" 2>&1) || { cat "$work/apt.log" >&2; exit 1; }
fi
for deb in "$work"/debs/*.deb; do
	dpkg-deb -x "$deb" "$work/rootfs"
done
root=$work/rootfs
# Keep the binary, the dynamic loader and the libraries; drop the rest of
# the packages (docs, locales, init scripts, Debian's config that asks for
# an htpasswd file).
rm -rf "$root"/usr/share "$root"/etc/* "$root"/lib/systemd "$root"/usr/lib/*/gconv "$root"/usr/lib/*/audit \
	"$root"/usr/libexec "$root"/usr/sbin "$root"/sbin "$root"/var
mkdir -p "$root"/etc/docker/registry "$root"/var/lib/docker-registry "$root"/tmp
chmod 1777 "$root"/tmp
cat >"$root"/etc/docker/registry/config.yml <<'YAML'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: :5000
YAML
# The binary must start in the rootfs as it is (it links only the C library).
chroot "$root" /usr/bin/docker-registry --version >/dev/null ||
	{ echo "build-registry-image: docker-registry does not start in the image's root file system" >&2; exit 1; }

import_rootfs "$root" "$image" "$recipe" \
	--change 'ENTRYPOINT ["/usr/bin/docker-registry", "serve"]' \
	--change 'CMD ["/etc/docker/registry/config.yml"]' \
	--change 'EXPOSE 5000' \
	--change 'VOLUME /var/lib/docker-registry'
