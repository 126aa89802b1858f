# Functions to build images offline from Debian's packages (source this file):
# debootstrap of a Debian suite (bookworm unless told otherwise) from the
# mirror apt already uses, then `docker import`. The project's DinD node
# images (bookworm and trixie) and Postgres image are built this way.

# image_is_current IMAGE RECIPE: IMAGE exists, built from RECIPE (a hash of
# the files that define it, kept in the label oneshot.recipe).
image_is_current() {
	[ "$(docker image inspect --format '{{index .Config.Labels "oneshot.recipe"}}' "$1" 2>/dev/null)" = "$2" ]
}

# recipe_of FILE...: the hash that names a recipe.
recipe_of() {
	cat "$@" | sha256sum | cut -c1-16
}

# debian_rootfs DIR PACKAGES [SUITE]: a trimmed minbase root file system of
# Debian SUITE (default bookworm) in DIR with the comma-separated PACKAGES.
# A suite newer than the host's debootstrap knows is bootstrapped with sid's
# script, as debootstrap itself does for every suite since buster.
debian_rootfs() {
	local dir=$1 packages=$2 suite=${3:-bookworm} mirror scripts script=()
	command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
	mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
		awk '/^deb / { print $2; exit }' /etc/apt/sources.list)
	if [ -z "$mirror" ]; then
		echo "debian-image: no Debian mirror found in apt's sources" >&2
		return 1
	fi
	scripts=${DEBOOTSTRAP_DIR:-/usr/share/debootstrap}/scripts
	[ -e "$scripts/$suite" ] || script=("$scripts/sid")
	echo "debian-image: debootstrap $suite with $packages from $mirror (a minute or two)"
	if ! debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" "${script[@]}" >"$dir.log" 2>&1; then
		tail -20 "$dir.log" >&2
		return 1
	fi
	rm -rf "$dir.log" "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*
}

# import_rootfs DIR IMAGE RECIPE [--change INSTRUCTION]...: DIR imported as
# IMAGE, labelled with RECIPE.
import_rootfs() {
	local dir=$1 image=$2 recipe=$3
	shift 3
	tar -C "$dir" -c . | docker import "$@" --change "LABEL oneshot.recipe=$recipe" - "$image" >/dev/null
	echo "debian-image: built $image"
}
