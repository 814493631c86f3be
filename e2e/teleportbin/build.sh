#!/usr/bin/env bash
# build.sh builds Teleport's `teleport` and `tctl` binaries at the version
# pinned in go.mod (next to this script), or reuses them from the cache.
# `build.sh pagerduty` builds instead the reference PagerDuty plugin,
# `teleport-pagerduty`: Teleport's integrations/access/pagerduty at the same
# version, run by the wrapper in ./teleport-pagerduty.
#
# The binaries are cached by pseudo-version under
#   ${PAGERGATE_TELEPORT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pagergate}/teleport-<pseudo>/
#   (or teleport-pagerduty-<hash of the wrapper>-<pseudo>/)
# The last line on stdout is that directory; everything else goes to stderr.
#
# Requirements: network access to the Go module proxy (for the first build and
# for the go1.21.5 toolchain), gcc (cgo is required by lib/pam), ~6 GB of disk
# for the module and build caches on a cold run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module=github.com/gravitational/teleport
pseudo=$(awk -v m="$module" '$1 == "require" && $2 == m { print $3; exit }' "$here/go.mod")
if [[ -z "$pseudo" ]]; then
	echo "build.sh: no 'require $module' line in $here/go.mod" >&2
	exit 1
fi
toolchain=$(awk '$1 == "toolchain" { print $2; exit }' "$here/go.mod")

case "${1:-teleport}" in
teleport)
	name=teleport
	pkgs=("$module/tool/teleport" "$module/tool/tctl")
	bins=(teleport tctl)
	;;
pagerduty)
	# The wrapper's source is part of the key: editing it rebuilds.
	name=teleport-pagerduty-$(cat "$here"/teleport-pagerduty/*.go "$here/go.sum" | sha256sum | cut -c1-12)
	pkgs=(./teleport-pagerduty)
	bins=(teleport-pagerduty)
	;;
*)
	echo "usage: build.sh [teleport|pagerduty]" >&2
	exit 2
	;;
esac

base=${PAGERGATE_TELEPORT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pagergate}
dir=$base/$name-$pseudo

cached=1
for b in "${bins[@]}"; do
	[[ -x "$dir/$b" ]] || cached=0
done
if [[ $cached == 1 && -f "$dir/.complete" ]]; then
	echo "$name $pseudo: cached in $dir" >&2
	echo "$dir"
	exit 0
fi

mkdir -p "$base"
tmp=$(mktemp -d "$base/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "$name $pseudo: building with $toolchain into $dir (cold: several minutes)" >&2
start=$(date +%s)
(
	cd "$here"
	# The machine may preset GOTOOLCHAIN=local; Teleport's linker needs its
	# own Go (newer Go fails to link segmentio/parquet-go), so force it.
	# GOWORK=off keeps any workspace of the enclosing tree out of this build.
	env GOTOOLCHAIN="$toolchain" GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=1 \
		nice -n "${PAGERGATE_BUILD_NICE:-10}" \
		go build -trimpath -o "$tmp/" "${pkgs[@]}"
)
end=$(date +%s)
"$tmp/${bins[0]}" version >&2
touch "$tmp/.complete"
# Replace a partial or stale directory in one step.
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$name $pseudo: built in $((end - start))s" >&2
echo "$dir"
