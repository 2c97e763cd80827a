#!/bin/sh
# debian/make-deb.sh DIR: make deb.  Copies the source tree (what git
# tracks, and new files it does not ignore) to DIR/milter-policy-VERSION,
# installs the missing build dependencies (apt-get build-dep, as root) and
# runs dpkg-buildpackage -us -uc -b there: the .deb, .buildinfo and
# .changes land in DIR, and the tree itself is not touched.
set -eu
cd "$(dirname "$0")/.."
dir=${1:?usage: debian/make-deb.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
ver=$(dpkg-parsechangelog -SVersion)
src=$dir/milter-policy-$ver

rm -rf "$src"
mkdir -p "$src"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z -co --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\n" "$f"; done' sh |
		tar -cf - -T - | tar -C "$src" -xf -
else
	tar -cf - --exclude=./build --exclude=./run --exclude='./tests/e2e/work*' . |
		tar -C "$src" -xf -
fi

cd "$src"
if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		dpkg-checkbuilddeps || true
		echo "make deb: build dependencies are missing; installing them needs root" >&2
		exit 1
	fi
	echo "make deb: installing the build dependencies"
	export DEBIAN_FRONTEND=noninteractive
	# stale package lists: update them once and try again
	apt-get -o DPkg::Lock::Timeout=600 build-dep -y -qq ./ >"$dir/build-dep.log" 2>&1 || {
		apt-get -o DPkg::Lock::Timeout=600 update -qq &&
		apt-get -o DPkg::Lock::Timeout=600 build-dep -y -qq ./
	} >>"$dir/build-dep.log" 2>&1 || {
		tail -n 20 "$dir/build-dep.log" >&2
		echo "make deb: apt-get build-dep failed (log: $dir/build-dep.log)" >&2
		exit 1
	}
fi
dpkg-buildpackage -us -uc -b >"$dir/build.log" 2>&1 || {
	tail -n 40 "$dir/build.log" >&2
	echo "make deb: dpkg-buildpackage failed (log: $dir/build.log)" >&2
	exit 1
}
ls "$dir"/milter-policy_"$ver"_*.deb
