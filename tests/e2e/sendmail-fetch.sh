#!/bin/sh
# Fetch a private Sendmail for the end-to-end tests, once, into
# tests/e2e/cache/sendmail/ (gitignored).  Debian's sendmail packages
# conflict with postfix as installed packages, so they are downloaded and
# unpacked (apt-get download, dpkg-deb -x), never installed; their runtime
# libraries and m4 are installed with apt-get when missing.  Needs root.
set -e
CACHE=$(cd "$(dirname "$0")" && pwd)/cache/sendmail
BIN=$CACHE/root/usr/libexec/sendmail/sendmail
RUNTIME="m4 libdb5.3 liblockfile1 libnsl2 libsasl2-2 libwrap0"

missing=""
for p in $RUNTIME; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "sendmail-fetch: installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; }
fi
[ -x "$BIN" ] && [ -d "$CACHE/root/usr/share/sendmail/cf/m4" ] && exit 0

echo "sendmail-fetch: downloading sendmail-bin sendmail-base sendmail-cf into $CACHE"
rm -rf "$CACHE"
mkdir -p "$CACHE/debs"
chmod 0777 "$CACHE/debs"	# apt's download user must be able to write here
(cd "$CACHE/debs" && { apt-get download sendmail-bin sendmail-base sendmail-cf ||
	{ apt-get update -qq && apt-get download sendmail-bin sendmail-base sendmail-cf; }; })
for deb in "$CACHE"/debs/*.deb; do
	dpkg-deb -x "$deb" "$CACHE/root"
done
[ -x "$BIN" ] || { echo "sendmail-fetch: no $BIN in the packages" >&2; exit 1; }
