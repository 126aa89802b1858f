#!/usr/bin/env bash
# Serves the pages of examples/crawl/site on the local swarm, for trying crawl
# without the internet: an attachable overlay network NAME, one swarm config
# per page, and a web server service NAME (oneshot-jobkit:dev `serve`, built by
# images.sh) with endpoint mode dnsrr, so that jobs attached to NAME reach the
# site at http://NAME/.
#
#   examples/crawl/site.sh up [NAME]     create them (default NAME: crawl-demo)
#   examples/crawl/site.sh urls [NAME]   print the URL of each page
#   examples/crawl/site.sh down [NAME]   remove them
set -euo pipefail
cd "$(dirname "$0")/site"
cmd=${1:-} name=${2:-crawl-demo}
label="oneshot-crawl-site=$name"

# pages prints the path of each page under site/.
pages() { find . -name '*.html' | sed 's#^\./##' | sort; }

# up creates the network, the configs and the service (each unless it exists),
# and waits until the service's task is running.
up() {
	docker network inspect "$name" >/dev/null 2>&1 ||
		docker network create --driver overlay --attachable --label "$label" "$name" >/dev/null
	local args=() page cfg
	for page in $(pages); do
		cfg="$name-${page//\//-}"
		docker config inspect "$cfg" >/dev/null 2>&1 || docker config create --label "$label" "$cfg" "$page" >/dev/null
		args+=(--config "source=$cfg,target=/site/$page,mode=0444")
	done
	local out # a local image makes the engine warn that it has no digest: say only errors
	docker service inspect "$name" >/dev/null 2>&1 ||
		out=$(docker service create --detach --quiet --name "$name" --label "$label" --network "$name" \
			--endpoint-mode dnsrr "${args[@]}" oneshot-jobkit:dev serve :80 /site 2>&1) || { echo "$out" >&2; return 1; }
	until docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$name" | grep -q '^Running'; do
		sleep 0.2
	done
	echo "serving site/ at http://$name/ on network $name"
}

# down removes what up created. The swarm releases the network a moment
# after the service's task is gone, and a removed network stays visible a
# moment longer: down returns once it is gone, so that an up right after
# it creates a new one.
down() {
	docker service rm "$name" >/dev/null 2>&1 || true
	local ids
	ids=$(docker config ls --quiet --filter "label=$label")
	for _ in $(seq 50); do
		if [ -n "$ids" ] && docker config rm $ids >/dev/null 2>&1; then
			ids=
		fi
		docker network rm "$name" >/dev/null 2>&1 || true
		if [ -z "$ids" ] && ! docker network inspect "$name" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	echo "site.sh: could not remove the configs or network $name" >&2
	return 1
}

case $cmd in
up) up ;;
urls) pages | sed "s#^#http://$name/#" ;;
down) down ;;
*)
	sed -n '2,10p' "$0" >&2
	exit 64
	;;
esac
