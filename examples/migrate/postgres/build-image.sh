#!/usr/bin/env bash
# Builds oneshot-postgres:15, the example's database server, offline from
# Debian's postgresql-15 package. Idempotent: skipped when an image of the
# same recipe exists.
set -euo pipefail
cd "$(dirname "$0")"
source ../../../scripts/lib/debian-image.sh

image=oneshot-postgres:15
recipe=$(recipe_of "$(basename "$0")" entrypoint.sh ../../../scripts/lib/debian-image.sh)
image_is_current "$image" "$recipe" && exit 0

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
debian_rootfs "$rootfs" postgresql-15
# The package's own cluster is not used: the entry point makes one in PGDATA.
rm -rf "$rootfs"/var/lib/postgresql/15 "$rootfs"/etc/postgresql/15
install -m 0755 entrypoint.sh "$rootfs/usr/local/bin/postgres-entrypoint"
import_rootfs "$rootfs" "$image" "$recipe" \
	--change 'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]' \
	--change 'EXPOSE 5432'
