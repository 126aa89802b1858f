#!/usr/bin/env bash
# Builds the local images that the demo, the tests and the benchmarks run.
# No registry is needed: each image is FROM scratch plus a static Go binary
# built here. Idempotent: an image whose inputs did not change is rebuilt from
# the build cache in well under a second.
#
#   scripts/build-images.sh            builds every image
#   scripts/build-images.sh jobkit     builds only oneshot-jobkit:dev (tests, demo, benchmarks)
#   scripts/build-images.sh hrefcounter  builds only oneshot-hrefcounter:dev (examples/crawl)
#   scripts/build-images.sh migrate    builds oneshot-migrate-job:dev and oneshot-postgres:15 (examples/migrate)
#   scripts/build-images.sh dind       builds oneshot-dind:dev and oneshot-registry:dev (the DinD test swarm)
set -euo pipefail
cd "$(dirname "$0")/.."

# build_scratch_image TAG PACKAGE BINARY: a FROM scratch image holding the
# static binary of PACKAGE as /BINARY, with /BINARY as its entrypoint.
build_scratch_image() {
	local tag=$1 pkg=$2 bin=$3 ctx
	ctx=$(mktemp -d)
	trap 'rm -rf "$ctx"' RETURN
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/$bin" "$pkg"
	mkdir -p "$ctx/tmp"
	cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY $bin /$bin
COPY tmp /tmp
ENTRYPOINT ["/$bin"]
DOCKERFILE
	docker build --quiet --tag "$tag" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; return 1; }
	echo "built $tag"
}

# --- The DinD test swarm (integration/dind) ---------------------------------
# build_dind_images: the nodes' image and the registries' image, offline from
# Debian's packages (debootstrap / apt-get download, then docker import);
# each is skipped when an image of the same recipe exists.
build_dind_images() {
	integration/dind/build-node-image.sh
	integration/dind/build-registry-image.sh
}
# ----------------------------------------------------------------------------

export DOCKER_BUILDKIT=0 # the legacy builder: no buildx plugin needed
want=${1:-all}
case $want in
all)
	build_scratch_image oneshot-jobkit:dev ./internal/jobkit jobkit
	examples/crawl/images.sh hrefcounter
	build_scratch_image oneshot-migrate-job:dev ./examples/migrate/job migrate-job
	examples/migrate/postgres/build-image.sh
	build_dind_images
	;;
jobkit) build_scratch_image oneshot-jobkit:dev ./internal/jobkit jobkit ;;
hrefcounter) examples/crawl/images.sh hrefcounter ;;
migrate)
	build_scratch_image oneshot-migrate-job:dev ./examples/migrate/job migrate-job
	examples/migrate/postgres/build-image.sh
	;;
dind) build_dind_images ;;
*)
	echo "build-images: unknown image $want" >&2
	exit 1
	;;
esac
