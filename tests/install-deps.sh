#!/bin/sh
# Install the Debian packages the build and the tests need, when missing.
# Runs as root (apt-get); a machine that has them all is left untouched.
set -e
PKGS="build-essential pkg-config libmilter-dev libconfig-dev check libsodium-dev
libpcre2-dev zlib1g-dev postfix swaks libhiredis-dev redis-server clang valgrind python3
libmicrohttpd-dev curl libc-ares-dev dnsmasq-base"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: these packages are missing and installing them needs root:$missing" >&2
		exit 1
	fi
	# Keep the system's own Postfix unconfigured and off port 25: the
	# tests run private instances.
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq $missing
fi
# Sendmail cannot be installed beside Postfix: a private, unpacked copy.
sh "$(dirname "$0")/e2e/sendmail-fetch.sh"
