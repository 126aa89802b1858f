#!/usr/bin/env bash
# Builds the images examples/crawl needs, locally (no registry):
#   oneshot-hrefcounter:dev  the job: FROM scratch + the static hrefcounter
#                            binary + this machine's CA certificates (for https)
#   oneshot-jobkit:dev       the web server of site.sh and of the test (`jobkit serve`)
# Idempotent and fast: unchanged inputs are rebuilt from the build cache in
# about a second.
#
#   examples/crawl/images.sh              builds both
#   examples/crawl/images.sh hrefcounter  builds only the job image
set -euo pipefail
cd "$(dirname "$0")/../.."

# build_hrefcounter TAG: the FROM scratch image with /hrefcounter as entrypoint.
build_hrefcounter() {
	local tag=$1 ctx
	ctx=$(mktemp -d)
	trap 'rm -rf "$ctx"' RETURN
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/hrefcounter" ./examples/crawl/hrefcounter
	mkdir -p "$ctx/certs"
	# Without CA certificates, https pages fail with "x509: certificate signed
	# by unknown authority"; http pages need none.
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/certs/" 2>/dev/null ||
		echo "images.sh: no /etc/ssl/certs/ca-certificates.crt here: the job will fetch http pages only" >&2
	cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY certs /etc/ssl/certs
COPY hrefcounter /hrefcounter
ENTRYPOINT ["/hrefcounter"]
DOCKERFILE
	DOCKER_BUILDKIT=0 docker build --quiet --tag "$tag" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; return 1; }
	echo "built $tag"
}

build_hrefcounter oneshot-hrefcounter:dev
if [ "${1:-all}" != hrefcounter ]; then
	scripts/build-images.sh jobkit
fi
